"""A row's protocol read from every protocol column it has: ``Protocol`` (``SSH``, ``LDAP``)
beside ``Transport`` (``TCP``, ``TCP/UDP``), as Microsoft's Defender for IoT writes them.

Every such cell with text is read (:func:`.read_protocols`), never only the first.  The row's
transports are those of the cell that names transports and no application (the transport
column), else of the first cell that names any; its applications and notes are every cell's.
A cell that names no transport (``LDAP``) is no fault when another cell of the row names them.
Where the cells disagree — a transport an application runs over (``SNMP``, UDP) that the
transport cell does not name (``TCP``), or two transport cells that name different transports
— the row is reported and no transport is read: the draft makes no flow of it, never taking
one column's word over the other's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from portplan.importer._lexer import one_version_icmp, tokens
from portplan.importer.ports import Fault, Transport
from portplan.importer.protocols import NAMES_NO_TRANSPORT, ProtocolReading, read_protocols

__all__ = ["RowProtocol", "row_protocol"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowProtocol:
    """The row's protocol: ``index`` the cell whose transports the row takes (its lines pair
    with the port cell's, its heading names them in messages), ``reading`` what every cell
    says together, ``faults`` what to report, each as (index of its cell, message)."""

    index: int
    reading: ProtocolReading
    faults: tuple[tuple[int, str], ...]


def _names(transports: Sequence[Transport]) -> str:
    return "/".join(t.value for t in transports)


def row_protocol(cells: Sequence[tuple[str, str]]) -> RowProtocol:
    """Read the row's protocol cells, ``(heading, text)`` each, all with text."""
    readings = [read_protocols(text) for _heading, text in cells]
    faults: list[tuple[int, str]] = []
    transporting = [i for i, r in enumerate(readings) if r.transports and not r.applications]
    given = [i for i, r in enumerate(readings) if r.transports]
    index = (transporting or given or [0])[0]
    source = readings[index]
    stated = source.transports
    disagree = []
    for other in given:
        said = readings[other].transports
        agrees = set(said) == set(stated) if other in transporting else set(said) <= set(stated)
        if other != index and not agrees:
            disagree.append(other)
    kept: list[Fault] = []
    for i, reading in enumerate(readings):
        for fault in reading.faults:
            if stated and not reading.transports and fault.message.endswith(NAMES_NO_TRANSPORT):
                continue  # LDAP beside TCP: the transport column names it
            kept.append(fault)
            faults.append((i, f"column {cells[i][0]!r}: {fault.message}"))
    for other in disagree:
        message = (
            f"column {cells[other][0]!r} says {cells[other][1]!r} "
            f"({_names(readings[other].transports)}) where column {cells[index][0]!r} says "
            f"{cells[index][1]!r} ({_names(stated)}): the row is drafted no flow; model it by "
            "hand with the transport the vendor means"
        )
        faults.append((other, message))
        kept.append(Fault(start=0, end=len(cells[other][1]), message=message))
    if disagree:
        stated = ()
    elif any(one_version_icmp(tokens(text)) for _heading, text in cells):
        stated = tuple(t for t in stated if t is not Transport.ICMP)  # ICMPv6 beside ICMP
    combined = replace(
        source,
        transports=stated,
        either=source.either and len(stated) > 1,
        applications=tuple(a for r in readings for a in r.applications),
        notes=tuple(n for r in readings for n in r.notes),
        faults=tuple(kept),
    )
    return RowProtocol(index=index, reading=combined, faults=tuple(faults))
