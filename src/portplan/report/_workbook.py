"""An XLSX workbook of text sheets, written row by row through XlsxWriter.

XlsxWriter's ``constant_memory`` mode writes each row out as soon as the next one starts, so a
change request of 50,000 clients (about 45 million cells) never sits in memory.  Only what
portplan's workbooks hold is used: text cells (and numbers), a handful of fixed styles, column
widths, a frozen header with a filter, and a cover sheet.  Text is always written as text,
never read as a formula, a number or a link, whatever it starts with.  The bytes depend only on
the sheets: the document's date is fixed, and XlsxWriter gives every zip entry one fixed
time.
"""

from __future__ import annotations

import contextlib
import datetime
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import xlsxwriter

from portplan._errors import UsageError
from portplan._text import escaped
from portplan.report.text import FORMULA_STARTS, formula_like

__all__ = ["CELL_LIMIT", "PROGRESS_EVERY", "CoverLine", "Style", "TextSheet", "write_workbook"]

#: the most characters a spreadsheet cell holds (Excel's limit; XlsxWriter cuts longer text)
CELL_LIMIT = 32_767

#: the fixed creation date of every workbook (XlsxWriter fixes its zip entries' times itself)
_DOCUMENT_DATE = datetime.datetime(2000, 1, 1)


class Style:
    """The cell styles of :data:`_FORMATS`, by index."""

    PLAIN = 0
    HEADER = 1  #: bold white on dark blue, centred vertically
    WRAP = 2  #: wrapped text, at the top of the cell
    BOLD = 3
    TITLE = 4  #: bold, 14 points


#: XlsxWriter's format properties of each :class:`Style` (``None``: no format of its own)
_FORMATS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "valign": "vcenter"},
    {"text_wrap": True, "valign": "top"},
    {"bold": True},
    {"bold": True, "font_size": 14},
)


@dataclass(frozen=True, slots=True)
class TextSheet:
    """A sheet of rows under a styled, frozen, filtered header row.

    ``widths`` per column; ``wrapped`` the columns whose cells wrap (by index).  ``rows`` is
    iterated once: cells are text (``""`` is an empty cell) or numbers.
    """

    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[str | int | float]]
    count: int  #: how many rows ``rows`` yields (the filter's range)
    widths: Sequence[float]
    wrapped: frozenset[int] = frozenset()


#: a cover-sheet line: its cells (a count is a number, so that a spreadsheet can add it up),
#: each with its style
CoverLine = Sequence[tuple[str | int, int]]


#: rows written between two calls of a workbook's ``progress``
PROGRESS_EVERY = 2048


def _too_long(sheet: str, cell: str, value: str) -> UsageError:
    """The error of a text longer than a cell holds: a cut address list or port set would
    ask the firewall team to open less, or other, than the plan says."""
    return UsageError(
        f"the XLSX cannot hold {cell} on sheet '{escaped(sheet)}': its {len(value):,} "
        f"characters are more than the {CELL_LIMIT:,} a spreadsheet cell holds, and a cut "
        "text would name less than the plan; write --format csv or json, which keep it "
        "whole, or split what makes it long (a host of many addresses into several hosts)"
    )


class _Quoted:
    """Each cell format with Excel's quote prefix (``'`` typed before a text), made when first
    used: a text a spreadsheet would read as a formula is kept text even when a user edits its
    cell, as the CSV's leading ``'`` does (OWASP's CSV injection, ASVS 1.2.10)."""

    def __init__(self, book: Any) -> None:
        self._book = book
        self._made: dict[int, Any] = {}

    def __call__(self, style: int) -> Any:
        found = self._made.get(style)
        if found is None:
            found = self._made[style] = self._book.add_format(
                {**(_FORMATS[style] or {}), "quote_prefix": True}
            )
        return found


def _text_writer(worksheet: Any) -> Callable[..., object]:
    """``worksheet.write_string``, safe for every text.

    In ``constant_memory`` mode XlsxWriter takes a text that starts with ``<r>`` and ends with
    ``</r>`` for a rich string it built itself and writes it into the sheet's XML unescaped: a
    vendor's purpose of that shape could add a formula cell, or with a bare ``&`` make the whole
    workbook unreadable.  Such a text is written as a rich string of plain runs instead, whose
    runs XlsxWriter escapes; a spreadsheet shows them as the one text.
    """
    plain, rich = worksheet.write_string, worksheet.write_rich_string

    def write(row: int, column: int, value: str, style: Any = None) -> object:
        if value.startswith("<r>") and value.endswith("</r>"):
            first, second, third = value[:1], value[1:3], value[3:]  # the fewest runs it takes
            if style is None:
                return rich(row, column, first, second, third)
            # each run in the cell's font (a run of its own is in the default one)
            return rich(row, column, first, style, second, style, third, style)
        return plain(row, column, value, style)

    return write


def _rows(
    worksheet: Any,
    sheet: TextSheet,
    first: int,
    quoted: _Quoted,
    written: Callable[[int], None] | None = None,
) -> None:
    """Write the rows of ``sheet`` from row ``first`` on: text as text, numbers as numbers,
    ``""`` as no cell (a wrapped column's format comes from the column), a text a spreadsheet
    would read as a formula with the quote prefix (``quoted``); a text longer than
    a cell holds is refused, never cut; ``written`` is told of every :data:`PROGRESS_EVERY`
    rows, and of the last ones."""
    text, number = _text_writer(worksheet), worksheet.write_number
    index = first - 1
    for index, row in enumerate(sheet.rows, start=first):
        for column, value in enumerate(row):
            if isinstance(value, str):
                if len(value) > CELL_LIMIT:
                    where = f"the {escaped(sheet.columns[column])} of row {index + 1}"
                    raise _too_long(sheet.title, where, value)
                # (the first test alone for most cells: a change request holds millions)
                if value.startswith(FORMULA_STARTS) and formula_like(value):
                    # the prefix in a format of the cell's own: the column's wrapping kept
                    style = Style.WRAP if column in sheet.wrapped else Style.PLAIN
                    text(index, column, value, quoted(style))
                elif value:
                    text(index, column, value)
            else:
                number(index, column, value)
        if written is not None and (index - first + 1) % PROGRESS_EVERY == 0:
            written(PROGRESS_EVERY)
    if written is not None and (left := (index - first + 1) % PROGRESS_EVERY):
        written(left)


def write_workbook(
    out: IO[bytes],
    sheets: Sequence[TextSheet],
    *,
    cover: tuple[str, Sequence[CoverLine], Sequence[float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write the workbook of ``sheets``, after an optional cover sheet (its title, its lines,
    its column widths), into the seekable binary file ``out``; ``progress(rows written,
    rows in all)`` as the sheets' rows are written (every few thousand)."""
    written: Callable[[int], None] | None = None
    if progress is not None:
        total, done = sum(sheet.count for sheet in sheets), 0
        report = progress

        def written(count: int) -> None:
            nonlocal done
            done += count
            report(done, total)

    # XlsxWriter keeps each sheet's rows in a file of its own until the workbook is closed:
    # in a folder of portplan's, removed with them when the writing stops early (an error, a
    # Ctrl-C, a signal), so that no part of the plan stays behind in the temporary folder
    with tempfile.TemporaryDirectory(prefix="portplan-xlsx-") as spool:
        book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "tmpdir": spool,
                # text stays text: "=cmd|..." is no formula, "http://..." no link, "0443" no
                # number
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        try:
            _fill(book, sheets, cover, written)
        except BaseException:
            _abandon(book)
            raise
        book.close()


def _abandon(book: Any) -> None:
    """Close the row files of a workbook that will not be finished (its folder goes)."""
    for page in book.worksheets():
        handle = getattr(page, "row_data_fh", None)
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()


def _fill(
    book: Any,
    sheets: Sequence[TextSheet],
    cover: tuple[str, Sequence[CoverLine], Sequence[float]] | None,
    written: Callable[[int], None] | None,
) -> None:
    """Write the cover and the sheets into ``book``."""
    book.set_properties({"created": _DOCUMENT_DATE, "author": "portplan"})
    formats = [None if props is None else book.add_format(props) for props in _FORMATS]
    quoted = _Quoted(book)
    if cover is not None:
        title, lines, widths = cover
        page = book.add_worksheet(title)
        text = _text_writer(page)
        for column, width in enumerate(widths):
            page.set_column(column, column, width)
        for number, cells in enumerate(lines):
            for column, (value, style) in enumerate(cells):
                if isinstance(value, int):
                    page.write_number(number, column, value, formats[style])
                    continue
                if len(value) > CELL_LIMIT:
                    raise _too_long(title, f"cell {column + 1} of line {number + 1}", value)
                text(
                    number, column, value, quoted(style) if formula_like(value) else formats[style]
                )
    for sheet in sheets:
        page = book.add_worksheet(sheet.title)
        for column, width in enumerate(sheet.widths):
            wrap = formats[Style.WRAP] if column in sheet.wrapped else None
            page.set_column(column, column, width, wrap)
        page.freeze_panes(1, 0)
        page.autofilter(0, 0, sheet.count, max(0, len(sheet.columns) - 1))
        heading = _text_writer(page)
        for column, name in enumerate(sheet.columns):
            heading(0, column, name, formats[Style.HEADER])
        _rows(page, sheet, 1, quoted, written)
