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
from portplan.importer._tables import RawCell, Table, Where, clean_text
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


def read_xlsx(data: bytes, file: str) -> list[Table]:
    """The tables of every sheet of a workbook, in sheet order; :class:`XlsxError` or
    :class:`~portplan.importer._limits.TooLarge` (checked first, :mod:`._xlsxcheck`)."""
    check_workbook(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=False, data_only=True, rich_text=True)
    except _UNREADABLE as exc:
        raise XlsxError(f"is not an XLSX workbook openpyxl can read ({exc})") from exc
    tables: list[Table] = []
    for sheet in book.worksheets:
        rows, columns = sheet.max_row, sheet.max_column
        if rows * columns > MAX_CELLS:
            raise XlsxError(
                f"sheet {sheet.title!r} spans {rows} rows by {columns} columns, more than the "
                f"{MAX_CELLS} cells a port table can need"
            )
        tables.extend(
            tables_from_grid(
                _grid(sheet, file),
                file=file,
                first_number=len(tables) + 1,
                section=(sheet.title,),
            )
        )
    return tables


def _grid(sheet: Any, file: str) -> list[list[RawCell]]:
    """The sheet's cells as rows of text, each merged range filled from its top-left cell."""

    def where(row: int, column: int) -> Where:
        return Where(file=file, sheet=sheet.title, cell=f"{get_column_letter(column)}{row}")

    grid = [
        [RawCell(text=_cell_text(cell), where=where(cell.row, cell.column)) for cell in row]
        for row in sheet.iter_rows(min_row=1, max_row=sheet.max_row, max_col=sheet.max_column)
    ]
    for merged in sheet.merged_cells.ranges:
        top, left = merged.min_row, merged.min_col
        if top > len(grid) or left > len(grid[top - 1]):
            continue
        origin = grid[top - 1][left - 1]
        grid[top - 1][left - 1] = RawCell(
            text=origin.text, where=origin.where, span_down=merged.max_row - top
        )
        for r in range(top, min(merged.max_row, len(grid)) + 1):
            for c in range(left, min(merged.max_col, len(grid[r - 1])) + 1):
                if (r, c) != (top, left):
                    grid[r - 1][c - 1] = RawCell(
                        text=origin.text, where=where(r, c), origin=origin.where
                    )
    return grid
