"""What a reader gives back: the tables of one vendor document, every cell with where it stands.

The four readers (Markdown, HTML, CSV, XLSX) produce the same shape, so the column mapping and
the parsers never ask which format a table came from.  Spans are already expanded: a cell the
vendor merged over three rows is three :class:`Cell` objects with the same text, the two
copies pointing back at the written one through :attr:`Cell.origin`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "Cell",
    "Format",
    "Hidden",
    "Outline",
    "RawCell",
    "Row",
    "SourceDocument",
    "Table",
    "Where",
    "build_table",
    "clean_text",
    "column_headings",
    "heading_parts",
]

_PLAIN_SHEET = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class Format(StrEnum):
    """The file formats the readers understand."""

    MARKDOWN = "markdown"
    HTML = "html"
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where something stands in a file, as precisely as the format allows.

    Text formats give a 1-based ``line`` and character ``column`` (``ports.md:14:23``); a
    spreadsheet gives its ``sheet`` and ``cell`` address (``ports.xlsx:'Open Ports'!C7``).
    """

    file: str
    line: int | None = None
    column: int | None = None
    sheet: str | None = None
    cell: str | None = None

    def __str__(self) -> str:
        if self.sheet is not None:
            sheet = self.sheet if _PLAIN_SHEET.match(self.sheet) else _quote_sheet(self.sheet)
            return f"{self.file}:{sheet}!{self.cell}"
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


def _quote_sheet(name: str) -> str:
    """A sheet name as spreadsheets write it in a reference: quoted, quotes doubled."""
    escaped = name.replace("'", "''")
    return f"'{escaped}'"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One cell of a table, after spans are expanded.

    ``text`` is the cell as written (entities decoded, ``<br>`` and paragraph breaks as line
    breaks, white space at the ends of each line removed).  ``row`` is the table row it sits in
    (0 for header rows, 1 for the first data row), ``column`` its 1-based column.
    """

    text: str
    where: Where
    row: int
    column: int
    origin: Where | None = None  #: the written cell this one copies, when it lies in a span

    @property
    def spanned(self) -> bool:
        """Whether this cell is a copy made by expanding a row or column span."""
        return self.origin is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """A data row: ``number`` counts from 1 within its table, as a vendor's row numbers do."""

    number: int
    cells: tuple[Cell, ...]
    where: Where


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """One table of a vendor document, with the context a reader of the document would use.

    ``section`` is the chain of headings above the table, outermost first (for a spreadsheet,
    the sheet name and any title above the table's block); ``title`` the table's own title (a
    caption, a title row, or else the nearest heading); ``notes`` the paragraphs between that
    heading and the table, ``notes_after`` the text after the last table of a document.
    ``columns`` holds one heading per column: the texts of the header rows above it, top
    first, joined with `` / `` (repeats from a span kept once).  ``stray`` are cells the
    document writes beyond the table's columns: the mapping reports each of them.  ``tab`` is
    the set of tabs and the tab the table stands in (a page's ``<Tabs>``, of which a reader
    picks one: the table holds only where that tab is the one that applies).
    """

    file: str
    number: int
    title: str | None
    section: tuple[str, ...]
    notes: tuple[str, ...]
    columns: tuple[str, ...]
    header: tuple[tuple[Cell, ...], ...]
    rows: tuple[Row, ...]
    where: Where
    notes_after: tuple[str, ...] = ()
    stray: tuple[Cell, ...] = ()
    tab: Tab | None = None

    def cells(self) -> tuple[Cell, ...]:
        """Every cell of the table: header rows, then data rows, then stray cells."""
        return (
            *(c for row in self.header for c in row),
            *(c for row in self.rows for c in row.cells),
            *self.stray,
        )


@dataclass(frozen=True, slots=True)
class Tab:
    """One tab of a set a page shows one at a time (``<Tabs groupId="cni">``, ``<TabItem
    value="canal">``): ``group`` names the set, ``value`` the tab."""

    group: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hidden:
    """A part of the document its author hid (a row, a column or a sheet of a workbook, an
    HTML table, row or cell): not read into any table, and reported.  ``message`` says what is
    hidden and how to have it read; ``text`` is what it holds."""

    where: Where
    text: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDocument:
    """A vendor document as read: its file, its format, its tables in document order, and the
    parts of it that are hidden (never read into a table)."""

    file: str
    format: Format
    tables: tuple[Table, ...]
    hidden: tuple[Hidden, ...] = ()


def heading_parts(header: tuple[tuple[Cell, ...], ...], index: int) -> tuple[str, ...]:
    """The distinct non-empty texts of the header rows over column ``index``, top first (a
    span repeats its text down or across; it counts once)."""
    parts: list[str] = []
    for row in header:
        text = " ".join(row[index].text.split()) if index < len(row) else ""
        if text and text not in parts:
            parts.append(text)
    return tuple(parts)


def column_headings(header: tuple[tuple[Cell, ...], ...], width: int) -> tuple[str, ...]:
    """One heading per column from the header rows: :func:`heading_parts` joined with
    `` / ``."""
    return tuple(" / ".join(heading_parts(header, index)) for index in range(width))


@dataclass(frozen=True, slots=True)
class RawCell:
    """A cell as a reader finds it, before the table numbers rows and columns."""

    text: str
    where: Where
    origin: Where | None = None
    span_down: int = 0  #: rows a written cell's span covers below its own (spreadsheets)


def clean_text(text: str) -> str:
    """Each line without white space at its ends; no blank lines at the start or the end."""
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _row_where(cells: tuple[Cell, ...], default: Where) -> Where:
    """Where a row stands: at its first cell the document writes in it (not a span's copy)."""
    written = [c.where for c in cells if c.origin is None and c.text]
    return written[0] if written else cells[0].where if cells else default


def build_table(
    *,
    file: str,
    number: int,
    title: str | None,
    section: tuple[str, ...],
    notes: tuple[str, ...],
    rows: list[list[RawCell]],
    header_rows: int,
    width: int,
    where: Where,
) -> Table:
    """A :class:`Table` from rows of raw cells: the first ``header_rows`` rows are the header,
    each row is cut or padded to ``width`` columns; written cells beyond it become ``stray``
    (empty ones carry nothing and are left out)."""
    stray: list[Cell] = []
    numbered: list[tuple[Cell, ...]] = []
    for index, raw in enumerate(rows):
        row_number = max(index - header_rows + 1, 0)
        cells = [
            Cell(text=c.text, where=c.where, row=row_number, column=k, origin=c.origin)
            for k, c in enumerate(raw[:width], start=1)
        ]
        written = [c.where for c in raw if c.origin is None]
        row_where = written[0] if written else raw[0].where if raw else where
        cells.extend(
            Cell(text="", where=row_where, row=row_number, column=k)
            for k in range(len(cells) + 1, width + 1)
        )
        stray.extend(
            Cell(text=c.text, where=c.where, row=row_number, column=k, origin=c.origin)
            for k, c in enumerate(raw[width:], start=width + 1)
            if c.text and c.origin is None
        )
        numbered.append(tuple(cells))
    header = tuple(numbered[:header_rows])
    body = tuple(
        Row(number=k, cells=cells, where=_row_where(cells, where))
        for k, cells in enumerate(numbered[header_rows:], start=1)
    )
    return Table(
        file=file,
        number=number,
        title=title,
        section=section,
        notes=notes,
        columns=column_headings(header, width),
        header=header,
        rows=body,
        where=where,
        stray=tuple(stray),
    )


class Outline:
    """What a reader of a flowing document (Markdown, HTML) keeps between tables: the chain of
    headings, the text not yet given to a table, and the tables so far.

    Text before a table is its note, even across a heading without a table of its own (an
    introduction is not lost); text after a table, up to the next heading or the end, is the
    table's ``notes_after``; text between two tables introduces the second.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.headings: list[tuple[int, str]] = []
        self.pending: list[str] = []
        self.tables: list[Table] = []
        self.after_table = False
        self.tab: Tab | None = None  #: the tab the text stands in, if any

    def text(self, paragraph: str) -> None:
        """A paragraph of text outside tables."""
        if paragraph:
            self.pending.append(paragraph)

    def heading(self, level: int, title: str) -> None:
        self.close()
        self.headings = [(lvl, t) for lvl, t in self.headings if lvl < level]
        self.headings.append((level, title))

    def table(
        self,
        *,
        rows: list[list[RawCell]],
        header_rows: int,
        width: int,
        where: Where,
        caption: str | None = None,
    ) -> None:
        """A table found here: its section, title and notes come from what came before."""
        section = tuple(t for _, t in self.headings)
        if self.tab is not None:
            section = (*section, self.tab.value)
        self.tables.append(
            build_table(
                file=self.file,
                number=len(self.tables) + 1,
                title=caption or (section[-1] if section else None),
                section=section,
                notes=tuple(self.pending),
                rows=rows,
                header_rows=header_rows,
                width=width,
                where=where,
            )
        )
        if self.tab is not None:
            self.tables[-1] = replace(self.tables[-1], tab=self.tab)
        self.pending = []
        self.after_table = True

    def close(self) -> None:
        """Give the text after the last table to it (at a heading, or at the end)."""
        if self.after_table and self.pending:
            last = self.tables[-1]
            self.tables[-1] = replace(last, notes_after=(*last.notes_after, *self.pending))
            self.pending = []
        self.after_table = False
