"""XLSX: every sheet, merged cells filled from their top-left cell, one table per block of rows
between empty rows (rules in :mod:`._blocks`), the sheet name as the section.

openpyxl reads the workbook with cached formula results (``data_only``); numbers the vendor
typed as numbers come back as text without a decimal point when they are whole (``443``, not
``443.0``).  A run of a cell's text in superscript or subscript is written after a ``^``
(``443`` with a superscript ``1`` is ``443^1``): a footnote mark run into a number would
otherwise change the number.  Struck-through text (a run, or the whole cell: a port the vendor
withdrew) is written between ``~~``, as Markdown writes it, which no port or protocol reading
takes as live.  A workbook whose sheets' used ranges are larger than
:data:`MAX_CELLS`, or that would unpack to much more than its size, is refused before
openpyxl reads it (:mod:`._xlsxcheck`): it is not a port table, and openpyxl would fill the
memory with it.

What the vendor hid is not read: a hidden sheet, a hidden row (hidden by hand, by a filter or
in a collapsed outline) and a hidden column are left out of the grid, and each that holds text
is given back as :class:`~portplan.importer._tables.Hidden` (vendors hide the rows of ports
they no longer use).  A merged cell written in a hidden row or column is hidden with it, as a
spreadsheet program shows it: the slots it covers in visible rows stay empty.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.utils import get_column_letter

from portplan.importer._blocks import tables_from_grid
from portplan.importer._limits import MAX_CELLS
from portplan.importer._tables import Hidden, RawCell, Table, Where, clean_text
from portplan.importer._xlsxcheck import XlsxError, check_workbook

__all__ = ["MAX_CELLS", "XlsxError", "read_xlsx"]

#: What openpyxl raises for a workbook it cannot read (a shared string past the table, an
#: attribute of the wrong kind...): refused with its message rather than a traceback.
_UNREADABLE = (
    zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, IndexError,
    TypeError, AttributeError, ParseError, EOFError,
)  # fmt: skip


def _cell_text(cell: Any) -> str:
    """A cell's text, between ``~~`` when its font strikes it through."""
    text = _text(cell.value)
    return f"~~{text}~~" if text and cell.font is not None and cell.font.strike else text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, CellRichText):
        return clean_text("".join(_run(block) for block in value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return clean_text(str(value))


def _run(block: str | TextBlock) -> str:
    if isinstance(block, TextBlock):
        apart = block.font.vertAlign in ("superscript", "subscript")
        text = f"^{block.text}" if apart else block.text
        return f"~~{text}~~" if block.font.strike and text.strip() else text
    return block


def read_xlsx(data: bytes, file: str) -> tuple[list[Table], list[Hidden]]:
    """The tables of every visible sheet of a workbook, in sheet order, and the hidden parts
    that hold text; :class:`XlsxError` or :class:`~portplan.importer._limits.TooLarge`
    (checked first, :mod:`._xlsxcheck`)."""
    check_workbook(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=False, data_only=True, rich_text=True)
    except _UNREADABLE as exc:
        raise XlsxError(f"is not an XLSX workbook openpyxl can read ({exc})") from exc
    tables: list[Table] = []
    hidden: list[Hidden] = []
    for sheet in book.worksheets:
        rows, columns = sheet.max_row, sheet.max_column
        if rows * columns > MAX_CELLS:
            raise XlsxError(
                f"sheet {sheet.title!r} spans {rows} rows by {columns} columns, more than the "
                f"{MAX_CELLS} cells a port table can need"
            )
        if sheet.sheet_state != "visible":
            hidden.extend(_hidden_sheet(sheet, file))
            continue
        grid, hidden_parts = _grid(sheet, file)
        hidden.extend(hidden_parts)
        tables.extend(
            tables_from_grid(
                grid,
                file=file,
                first_number=len(tables) + 1,
                section=(sheet.title,),
            )
        )
    return tables, hidden


def _written(sheet: Any, file: str) -> list[list[RawCell]]:
    """Every row of the sheet as it stands in the file, hidden or not, merges not filled."""
    return [
        [
            RawCell(text=_cell_text(cell), where=_where(sheet, file, cell.row, cell.column))
            for cell in row
        ]
        for row in sheet.iter_rows(min_row=1, max_row=sheet.max_row, max_col=sheet.max_column)
    ]


def _where(sheet: Any, file: str, row: int, column: int) -> Where:
    return Where(file=file, sheet=sheet.title, cell=f"{get_column_letter(column)}{row}")


def _shown(cells: list[RawCell]) -> str:
    return " | ".join(c.text for c in cells if c.text)


def _hidden_sheet(sheet: Any, file: str) -> list[Hidden]:
    """A hidden sheet that holds text, reported once at its first written cell."""
    written = [c for row in _written(sheet, file) for c in row if c.text]
    if not written:
        return []
    state = "very hidden" if sheet.sheet_state == "veryHidden" else "hidden"
    how = "in the VBA editor" if state == "very hidden" else ""
    return [
        Hidden(
            where=written[0].where,
            text=_shown(written),
            message=(
                f"sheet {sheet.title!r} is {state}: none of its {len(written)} written cells "
                f"is read; unhide the sheet{(' ' + how) if how else ''} to import it"
            ),
        )
    ]


def _hidden_columns(sheet: Any) -> set[int]:
    """The numbers of the hidden columns (a column dimension covers ``min`` to ``max``)."""
    hidden: set[int] = set()
    for dimension in sheet.column_dimensions.values():
        if dimension.hidden and dimension.min and dimension.max:
            hidden.update(range(dimension.min, min(dimension.max, sheet.max_column) + 1))
    return hidden


def _grid(sheet: Any, file: str) -> tuple[list[list[RawCell]], list[Hidden]]:
    """The sheet's visible cells as rows of text, each merged range filled from its top-left
    cell, and the hidden rows and columns that hold text."""
    written = _written(sheet, file)
    hidden_rows = {r for r, d in sheet.row_dimensions.items() if d.hidden and r <= len(written)}
    hidden_columns = _hidden_columns(sheet)
    report: list[Hidden] = []
    for number in sorted(hidden_rows):
        cells = [c for c in written[number - 1] if c.text]
        if cells:
            report.append(
                Hidden(
                    where=cells[0].where,
                    text=_shown(cells),
                    message=f"row {number} is hidden: not read; unhide the row (or clear the "
                    f"filter that hides it) to import it: {_shown(cells)!r}",
                )
            )
    for number in sorted(hidden_columns):
        cells = [
            row[number - 1]
            for r, row in enumerate(written, start=1)
            if r not in hidden_rows and number <= len(row) and row[number - 1].text
        ]
        if cells:
            letter = get_column_letter(number)
            report.append(
                Hidden(
                    where=cells[0].where,
                    text=_shown(cells),
                    message=f"column {letter} is hidden: none of its {len(cells)} written "
                    f"cells is read; unhide the column to import them: {_shown(cells)!r}",
                )
            )
    grid = [list(row) for row in written]
    for merged in sheet.merged_cells.ranges:
        top, left = merged.min_row, merged.min_col
        if top > len(grid) or left > len(grid[top - 1]):
            continue
        origin = grid[top - 1][left - 1]
        hidden_origin = top in hidden_rows or left in hidden_columns
        below = [r for r in range(top + 1, merged.max_row + 1) if r not in hidden_rows]
        grid[top - 1][left - 1] = RawCell(
            text=origin.text, where=origin.where, span_down=len(below)
        )
        for r in range(top, min(merged.max_row, len(grid)) + 1):
            for c in range(left, min(merged.max_col, len(grid[r - 1])) + 1):
                if (r, c) != (top, left):
                    grid[r - 1][c - 1] = RawCell(
                        text="" if hidden_origin else origin.text,
                        where=_where(sheet, file, r, c),
                        origin=None if hidden_origin else origin.where,
                    )
    visible = [
        [cell for c, cell in enumerate(row, start=1) if c not in hidden_columns]
        for r, row in enumerate(grid, start=1)
        if r not in hidden_rows
    ]
    return visible, report
