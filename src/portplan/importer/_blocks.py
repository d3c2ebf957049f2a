"""Tables out of a grid of rows (CSV, spreadsheet sheets): blocks, title rows and notes.

A grid has no markup saying where a table starts, so the readers of CSV and XLSX share these
rules, which docs/import.md states for users:

* rows that are entirely empty separate blocks;
* the leading rows of a block that hold one written cell (a merged title counts as one), not
  spanning down into the rows below, are its title (the first) and notes (the others);
* the next row is the header, extended down over the rows a header cell's span covers;
* a block made only of such one-cell rows is text: before the first table its first line
  names the section of every table after it and the rest introduces the next table; between
  tables it introduces the next one; after the last table it is that table's ``notes_after``.
"""

from __future__ import annotations

from dataclasses import replace

from portplan.importer._tables import RawCell, Table, Where, build_table

__all__ = ["tables_from_grid"]


def _blocks(rows: list[list[RawCell]]) -> list[list[list[RawCell]]]:
    blocks: list[list[list[RawCell]]] = []
    current: list[list[RawCell]] = []
    for row in rows:
        if any(c.text for c in row):
            current.append(row)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _one_cell(row: list[RawCell]) -> str | None:
    """The text of a row holding exactly one written cell that does not span downwards."""
    written = [c for c in row if c.origin is None and c.text]
    if len(written) == 1 and written[0].span_down == 0:
        return written[0].text
    return None


def _header_rows(block: list[list[RawCell]], first: int) -> int:
    """How many rows from ``first`` make the header: one, or down to where the spans of its
    cells end."""
    bottom = first
    row = first
    while row <= bottom and row < len(block):
        for cell in block[row]:
            if cell.origin is None:
                bottom = max(bottom, row + cell.span_down)
        row += 1
    return min(bottom, len(block) - 1) - first + 1


def _width(header: list[list[RawCell]]) -> int:
    """The header's width: up to its last cell with text (cells further right are stray)."""
    return max((k + 1 for row in header for k, cell in enumerate(row) if cell.text), default=0)


def _deeper(section: tuple[str, ...], heading: str) -> tuple[str, ...]:
    """``section`` with ``heading`` under it (not twice when a sheet and its title agree)."""
    return section if section and section[-1] == heading else (*section, heading)


def tables_from_grid(
    rows: list[list[RawCell]], *, file: str, first_number: int, section: tuple[str, ...]
) -> list[Table]:
    """The tables of one grid (a CSV file, a sheet), numbered from ``first_number``."""
    tables: list[Table] = []
    pending: list[str] = []
    for block in _blocks(rows):
        lead = 0
        while lead < len(block) and _one_cell(block[lead]) is not None:
            lead += 1
        texts = [t for row in block[:lead] if (t := _one_cell(row)) is not None]
        if lead == len(block):
            if not tables and not pending and texts:
                section = _deeper(section, texts.pop(0))
            pending.extend(texts)
            continue
        title = texts[0] if texts else None
        header = _header_rows(block, lead)
        grid = block[lead:]
        tables.append(
            build_table(
                file=file,
                number=first_number + len(tables),
                title=title or (section[-1] if section else None),
                section=_deeper(section, title) if title else section,
                notes=(*pending, *texts[1:]),
                rows=grid,
                header_rows=header,
                width=_width(grid[:header]) or max(len(r) for r in grid),
                where=grid[0][0].where if grid[0] else Where(file=file),
            )
        )
        pending = []
    if pending and tables:
        tables[-1] = replace(tables[-1], notes_after=tuple(pending))
    return tables
