"""A reading of a vendor document as plain text: what the golden files of the corpus hold.

Each table with its section, title, notes and column mapping; each row with every mapped value
(port cells with their reading in canonical form, the assumptions made, the protocols they got);
then the unread list.  A reviewer reads it against the document to see what the import made of
each cell.
"""

from __future__ import annotations

from pathlib import Path

from portplan.importer import (
    Import,
    ImportedRow,
    TableReading,
    Value,
    format_direction,
    format_ports,
)


def _value(value: Value) -> list[str]:
    text = value.text.replace("\n", " / ")
    line = f"    {value.field.value} ({value.heading}): {text!r}"
    if value.cell.spanned:
        line += " [spanned]"
    lines = [line]
    if value.ports is not None:
        lines.append(f"      = {format_ports(value.ports) or '(nothing)'}")
        lines.extend(f"      assumed: {a}" for a in value.ports.assumptions)
    if value.protocols is not None:
        reading = value.protocols
        transports = "/".join(t.value for t in reading.transports) or "(none)"
        extra = f"; applications {', '.join(reading.applications)}" if reading.applications else ""
        extra += "; either" if reading.either else ""
        lines.append(f"      = {transports}{extra}")
        lines.extend(f"      assumed: {a}" for a in reading.assumptions)
    if value.direction is not None and value.direction.direction is not None:
        lines.append(f"      = {value.direction.direction.value}")
    return lines


def _row(row: ImportedRow, root: Path) -> list[str]:
    where = str(row.row.where).removeprefix(f"{root}/")
    head = f"  row {row.number} ({where})"
    if row.direction is not None:
        head += f": direction {format_direction(row.direction)}"
    lines = [head]
    for value in row.values:
        lines.extend(_value(value))
    return lines


def _table(reading: TableReading, root: Path) -> list[str]:
    table = reading.table
    lines = [f"table {table.number}: {table.title}"]
    if table.section:
        lines.append(f"  section: {' > '.join(table.section)}")
    if table.tab is not None:
        lines.append(f"  tab: {table.tab.value!r} of {table.tab.group!r}")
    lines.extend(f"  note: {note}" for note in table.notes)
    lines.extend(f"  note after: {note}" for note in table.notes_after)
    for heading, role in zip(table.columns, reading.roles, strict=True):
        mapped = "(unmapped)" if role is None else role.field.value
        if role is not None and role.protocol is not None:
            mapped += f" [{role.protocol.value}]"
        if role is not None and role.direction is not None:
            mapped += f" [{role.direction.value}]"
        lines.append(f"  column {heading!r}: {mapped}")
    if reading.direction is not None:
        lines.append(f"  title says: {reading.direction.value}")
    if reading.arrow is not None:
        arrow = reading.arrow
        lines.append(f"  title names: {arrow.left} {arrow.direction.value} {arrow.right}")
    for row in reading.rows:
        lines.extend(_row(row, root))
    return lines


def dump(result: Import, root: Path) -> str:
    """``result`` as text; file names relative to ``root``."""
    file = Path(result.document.file)
    lines = [f"# {file.relative_to(root)} ({result.document.format.value})", ""]
    for reading in result.tables:
        lines.extend(_table(reading, root))
        lines.append("")
    lines.append(f"unread: {len(result.unread)}")
    lines.extend(f"  {str(u).removeprefix(f'{root}/')}" for u in result.unread)
    return "\n".join(lines) + "\n"
