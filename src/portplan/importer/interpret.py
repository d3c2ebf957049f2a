"""From read tables to mapped rows: every cell mapped to a field and read, or reported.

:func:`interpret` maps each table's columns (:mod:`.columns`), reads the cells whose field has
a grammar (ports, protocols, directions), fills the protocol of port terms that name none from
the row's protocol column or the column's own heading, pairs cells that hold one value per line
(``514 / 514 / 6514`` with ``TCP / UDP / SSL``), and reports as :class:`Unread` every cell
under an unmapped heading, every cell beyond a table's columns, and every part of a cell its
reader could not read.  A cell copied by a span is reported once, at the cell the vendor wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from portplan.importer._category import category
from portplan.importer._lexer import one_version_icmp, tokens
from portplan.importer._portcolumns import ends_of_ports
from portplan.importer._portread import read_ports
from portplan.importer._rowprotocol import row_protocol
from portplan.importer._tables import Cell, Row, SourceDocument, Table, Where, heading_parts
from portplan.importer.columns import ColumnMap, ColumnRole, Field
from portplan.importer.direction import (
    Arrow,
    Direction,
    DirectionReading,
    TitleEnd,
    read_direction,
    split_arrow,
    title_direction,
    title_end,
)
from portplan.importer.ports import Alternative, PortExpression, PortTerm, Transport
from portplan.importer.protocols import ProtocolReading, read_protocols

__all__ = [
    "Import",
    "ImportedRow",
    "TableReading",
    "Unread",
    "Value",
    "interpret",
    "port_directions",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Unread:
    """A cell, or part of one, the import could not read: ``file:line:column: what``."""

    where: Where
    column: str
    text: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Value:
    """One mapped cell of a row, and its reading where its field has a grammar: ``ports`` for
    port and published-port columns (protocols already filled from the row) and source-port
    columns (as written), ``protocols`` for
    protocol columns, ``direction`` for direction columns."""

    field: Field
    role: ColumnRole
    heading: str
    cell: Cell
    ports: PortExpression | None = None
    protocols: ProtocolReading | None = None
    direction: DirectionReading | None = None

    @property
    def text(self) -> str:
        return self.cell.text


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportedRow:
    """A data row with its mapped values in column order.  ``direction`` is the row's own
    direction cell, else what its peer column's heading says (``Incoming Ports``), else what
    the table's title says; ``None`` when nothing says."""

    row: Row
    values: tuple[Value, ...] = ()
    direction: DirectionReading | None = None
    #: a row of one cell spanning the table, the rest empty: a category heading, never a flow
    category: bool = False

    @property
    def number(self) -> int:
        return self.row.number

    def of(self, field: Field) -> tuple[Value, ...]:
        """The values of ``field``, in column order."""
        return tuple(v for v in self.values if v.field is field)

    def texts(self, field: Field) -> tuple[str, ...]:
        """The non-empty texts of ``field``, in column order."""
        return tuple(v.text for v in self.of(field) if v.text)


@dataclass(frozen=True, slots=True, kw_only=True)
class TableReading:
    """A table and how it was read: one role per column (``None``: unmapped), the direction
    its title states (``Incoming Ports``) and the pair its title names (``A --> B``)."""

    table: Table
    roles: tuple[ColumnRole | None, ...]
    rows: tuple[ImportedRow, ...]
    direction: Direction | None = None
    arrow: Arrow | None = None
    end: TitleEnd | None = None  #: the end its title names (``Connections from X``)


@dataclass(frozen=True, slots=True, kw_only=True)
class Import:
    """A vendor document as read and mapped: its tables and what could not be read."""

    document: SourceDocument
    tables: tuple[TableReading, ...]
    unread: tuple[Unread, ...]

    @property
    def complete(self) -> bool:
        """Whether every cell was mapped and read."""
        return not self.unread


class _Report:
    """The unread list, each written cell and message once."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Unread] = {}

    def add(self, cell: Cell, column: str, message: str) -> None:
        where = cell.origin or cell.where
        self.items.setdefault(
            (str(where), message),
            Unread(where=where, column=column, text=cell.text, message=message),
        )


#: what a cell of a matrix column says when its row applies (Tableau's "TYPE OF INSTALLATION");
#: not ``Yes``, which answers the question a heading asks (Microsoft 365's ``ER``: supported
#: over ExpressRoute) and says nothing of where the row applies
MARKS = frozenset({"x", "✓", "✔", "●", "•"})


def _marks(table: Table, index: int) -> ColumnRole | None:
    """A column the vocabulary does not know whose cells are all marks (``X``) or empty, one
    at least marked: a matrix column, whose heading names what its marked rows apply to (an
    installation type, a host role).  Its rows are conditional on it."""
    texts = [
        " ".join(row.cells[index].text.lower().split())
        for row in table.rows
        if index < len(row.cells)
    ]
    if any(texts) and all(t in MARKS for t in texts if t):
        return ColumnRole(field=Field.CONDITION, marks=True, origin="marks")
    return None


def _heading(table: Table, index: int) -> str:
    return table.columns[index] if index < len(table.columns) else ""


def interpret(document: SourceDocument, columns: ColumnMap | None = None) -> Import:
    """Map and read every table of ``document`` with ``columns`` (the built-in vocabulary by
    default)."""
    vocabulary = columns or ColumnMap.built_in()
    report = _Report()
    readings = []
    for table in document.tables:
        roles = tuple(
            (vocabulary.role(h, heading_parts(table.header, i)) or _marks(table, i)) if h else None
            for i, h in enumerate(table.columns)
        )
        roles = ends_of_ports(table.columns, roles)
        title = table.title or ""
        direction = title_direction(title) if title else None
        rows = tuple(_row(table, roles, row, direction, report) for row in table.rows)
        for cell in table.stray:
            report.add(
                cell, "", f"a cell beyond the table's {len(table.columns)} columns: {cell.text!r}"
            )
        readings.append(
            TableReading(
                table=table,
                roles=roles,
                rows=rows,
                direction=direction,
                arrow=split_arrow(title) if title else None,
                end=title_end(title) if title else None,
            )
        )
    for part in document.hidden:  # what the author hid is not read, and is said so
        report.items.setdefault(
            (str(part.where), part.message),
            Unread(where=part.where, column="", text=part.text, message=part.message),
        )
    return Import(document=document, tables=tuple(readings), unread=tuple(report.items.values()))


def _row(
    table: Table,
    roles: tuple[ColumnRole | None, ...],
    row: Row,
    title_direction: Direction | None,
    report: _Report,
) -> ImportedRow:
    grouping = category(row, roles)
    if grouping is not None:
        report.add(next(c for c in row.cells if c.text), "", grouping)
        return ImportedRow(row=row, category=True)
    values: list[Value] = []
    for index, (cell, role) in enumerate(zip(row.cells, roles, strict=False)):
        heading = _heading(table, index)
        if role is None:
            if cell.text:
                name = repr(heading) if heading else f"{index + 1} (no heading)"
                hint = f' ("{heading}: extra" keeps it as a free column)' if heading else ""
                report.add(
                    cell,
                    heading,
                    f"column {name} maps to no field; map it in a --map file{hint}",
                )
            continue
        values.append(Value(field=role.field, role=role, heading=heading, cell=cell))
    _unmarked(table, roles, values, report)
    protocol = _protocol_value(values, report)
    direction: DirectionReading | None = None
    done: list[Value] = []
    for value in values:
        read = value
        if value.field is Field.DIRECTION:
            reading = read_direction(value.text, yes_no=value.role.yes_no)
            for fault in reading.faults:
                report.add(value.cell, value.heading, f"column {value.heading!r}: {fault.message}")
            if direction is None and reading.direction is not None:
                direction = reading
            read = replace(value, direction=reading)
        elif value.field in (Field.PORT, Field.PUBLISHED_PORT):
            read = replace(value, ports=_ports(value, protocol, report))
        elif value.field is Field.SOURCE_PORT:
            read = replace(value, ports=_source_ports(value, report))
        elif value.field is Field.PROTOCOL and protocol is not None and value is protocol[0]:
            read = replace(value, protocols=protocol[1])
        done.append(read)
    if direction is None:
        for value in done:
            if value.field is Field.PEER and value.role.direction is not None:
                direction = DirectionReading(direction=value.role.direction, text=value.heading)
                break
    outbound = [v for v in done if v.field is Field.PORT and v.text and _outbound(v.role)]
    if direction is None and outbound and len(port_directions(done)) == 1:
        # Outbound Ports: the row's component connects out on them, never listens on them
        direction = DirectionReading(direction=Direction.OUTBOUND, text=outbound[0].heading)
    if direction is None and title_direction is not None:
        direction = DirectionReading(direction=title_direction, text=table.title or "")
    return ImportedRow(row=row, values=tuple(done), direction=direction)


def _outbound(role: ColumnRole) -> bool:
    return role.direction is Direction.OUTBOUND


def port_directions(values: Iterable[Value]) -> set[Direction]:
    """The directions the headings of a row's written port cells state (``Inbound Ports``,
    ``Outbound Ports``)."""
    return {
        v.role.direction
        for v in values
        if v.field is Field.PORT and v.text and v.role.direction is not None
    }


def _unmarked(
    table: Table, roles: tuple[ColumnRole | None, ...], values: list[Value], report: _Report
) -> None:
    """Report a row with ports that a matrix (:func:`_marks`) marks in none of its columns:
    drafted without a condition, it would apply everywhere, which the vendor did not say."""
    marks = [v for v in values if v.role.marks]
    ported = any(v.text for v in values if v.field is Field.PORT)
    if not marks or not ported or any(v.text for v in marks):
        return
    headings = ", ".join(
        repr(_heading(table, i)) for i, role in enumerate(roles) if role is not None and role.marks
    )
    report.add(
        marks[0].cell,
        marks[0].heading,
        f"column {marks[0].heading!r}: the row is marked in none of the columns {headings}: "
        "the draft applies it always; mark the column it belongs to, or give its flow a "
        "condition by hand",
    )


def _protocol_value(values: list[Value], report: _Report) -> tuple[Value, ProtocolReading] | None:
    """The row's protocol cell and what every protocol cell with text says (:mod:`._rowprotocol`:
    ``Protocol`` beside ``Transport``)."""
    written = [v for v in values if v.field is Field.PROTOCOL and v.text]
    if not written:
        return None
    read = row_protocol([(v.heading, v.text) for v in written])
    for index, message in read.faults:
        report.add(written[index].cell, written[index].heading, message)
    return written[read.index], read.reading


def _ports(
    value: Value, protocol: tuple[Value, ProtocolReading] | None, report: _Report
) -> PortExpression:
    """The port cell read, its terms given the row's protocols where they name none."""
    lines = [line for line in value.text.splitlines() if line.strip()]
    column_lines = (
        [line for line in protocol[0].text.splitlines() if line.strip()] if protocol else []
    )
    if protocol is not None and len(lines) > 1 and len(column_lines) > 1:
        if len(lines) != len(column_lines):
            report.add(
                value.cell,
                value.heading,
                f"the {len(lines)} lines of column {value.heading!r} and the "
                f"{len(column_lines)} lines of column {protocol[0].heading!r} do not pair up",
            )
            return PortExpression(text=value.text)
        return _paired(value, lines, [read_protocols(line) for line in column_lines], report)
    expression = read_ports(value.text)
    if protocol is not None and one_version_icmp(tokens(protocol[0].text)):
        # ICMP under ICMPv6: the protocol cell is reported, and ICMP is not ICMPv6 alone
        expression = replace(
            expression,
            alternatives=tuple(
                replace(a, terms=tuple(t for t in a.terms if not t.icmp))
                for a in expression.alternatives
                if any(not t.icmp for t in a.terms)
            ),
        )
    if value.role.protocol is not None:
        return _filled(value, expression, (value.role.protocol,), value.heading, False, report)
    if protocol is not None:
        column, reading = protocol
        return _filled(
            value, expression, reading.transports, column.heading, bool(reading.faults), report
        )
    return _filled(value, expression, (), "", False, report)


def _source_ports(value: Value, report: _Report) -> PortExpression:
    """A source port cell: ``TCP Any`` or ephemeral ports are what every flow allows; a port
    number or range is
    reported, since flows and the rules made from them name destination ports only (a rule
    that also matched on it would be narrower than the model, one that ignored it broader than
    the vendor asks)."""
    expression = read_ports(value.text)
    for fault in expression.faults:
        report.add(value.cell, value.heading, f"column {value.heading!r}: {fault.message}")
    given = [t for t in expression.terms if t.ports is not None or t.parameter is not None]
    if given:
        report.add(
            value.cell,
            value.heading,
            f"column {value.heading!r}: source port {value.text!r} is not modelled (flows name "
            "destination ports only); model it by hand if the firewall must match it",
        )
    return expression


def _described(term: PortTerm) -> str:
    """A term as a message names it: ``port 443``, ``ports 2500-3300``, ``'NAME'``."""
    if term.ports is not None:
        plural = "s" if term.ports.start != term.ports.end else ""
        return f"port{plural} {term.ports}"
    if term.parameter is not None:
        return f"the port {term.parameter.name or 'parameter'!r}"
    return "any port" if term.any_port else "the dynamic ports"


def _paired(
    value: Value, lines: list[str], protocols: list[ProtocolReading], report: _Report
) -> PortExpression:
    """One port line per protocol line: ``514 / 514 / 6514`` with ``TCP / UDP / SSL``."""
    terms: list[PortTerm] = []
    for line, reading in zip(lines, protocols, strict=True):
        expression = read_ports(line)
        if not expression.alternatives and expression.faults:  # 80/443: say why, not "or"
            for fault in expression.faults:
                report.add(value.cell, value.heading, f"column {value.heading!r}: {fault.message}")
            continue
        if len(expression.alternatives) != 1 or expression.alternatives[0].condition:
            report.add(
                value.cell, value.heading, f"{line!r} holds alternatives and cannot be paired"
            )
            continue
        filled = _filled(value, expression, reading.transports, "", bool(reading.faults), report)
        terms.extend(filled.terms)
    return PortExpression(
        alternatives=(Alternative(terms=tuple(terms)),) if terms else (),
        text=value.text,
        assumptions=("one port per line, paired with the protocol on the same line",),
    )


def _filled(
    value: Value,
    expression: PortExpression,
    stated: tuple[Transport, ...],
    stated_by: str,
    faulty_protocol: bool,
    report: _Report,
) -> PortExpression:
    """``expression`` with ``stated`` (what column ``stated_by`` says) given to its terms that
    name no protocol; a term that names another protocol, or none when nothing states one (and
    no protocol cell was already reported), is reported."""
    for fault in expression.faults:
        report.add(value.cell, value.heading, f"column {value.heading!r}: {fault.message}")
    if (
        not expression.alternatives
        and not expression.none
        and not expression.faults  # '8/0', '3/4' unread: a type the vendor wrote, not a ping
        and stated == (Transport.ICMP,)
    ):
        expression = read_ports("ICMP")  # a protocol column that says ICMP, no port
    named = {t.protocols for t in expression.terms if t.protocols and not t.icmp}
    if not stated and len(named) == 1 and any(not t.protocols for t in expression.terms):
        # "TCP 8080 or 8443", "8080 or 8443/tcp": the one transport the cell names is every
        # port's
        (stated,) = named
        expression = replace(
            expression,
            assumptions=(
                *expression.assumptions,
                f"{'/'.join(stated)}, the one transport the cell names, applies to all its ports",
            ),
        )
    alternatives = []
    for alternative in expression.alternatives:
        terms: list[PortTerm] = []
        for written in alternative.terms:
            term = written
            if term.protocols and stated and not set(term.protocols) <= set(stated):
                where = f"column {stated_by!r}" if stated_by else "its protocol line"
                report.add(
                    value.cell,
                    value.heading,
                    f"column {value.heading!r} says {'/'.join(term.protocols)} where "
                    f"{where} says {'/'.join(stated)}",
                )
            elif not term.protocols and stated:
                given: tuple[Transport, ...] = stated
                if Transport.ICMP in stated and (term.ports or term.any_port or term.dynamic):
                    # 53 under ICMP: ICMP has no port; the port is never dropped for a ping
                    where = f"column {stated_by!r}" if stated_by else "its protocol line"
                    report.add(
                        value.cell,
                        value.heading,
                        f"column {value.heading!r}: ICMP has no port: {_described(term)} where "
                        f"{where} says {'/'.join(stated)}",
                    )
                    given = tuple(t for t in stated if t is not Transport.ICMP)
                    if not given:
                        continue
                term = replace(term, protocols=given)
            elif not term.protocols and not faulty_protocol:
                described = _described(term)
                plural = described.startswith("ports ") or described == "the dynamic ports"
                has = "have" if plural else "has"
                key = "'" + value.heading.replace("'", "''") + "'"  # a YAML key as typed
                report.add(
                    value.cell,
                    value.heading,
                    f"column {value.heading!r}: {described} {has} no transport protocol "
                    "(tcp, udp or icmp): the cell names none, and no protocol column does (a map "
                    f"file gives a column of one transport its protocol: {key}: "
                    "{field: port, protocol: tcp}, or udp)",
                )
            terms.append(term)
        alternatives.append(replace(alternative, terms=tuple(terms)))
    return replace(expression, alternatives=tuple(alternatives))
