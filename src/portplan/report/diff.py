"""A plan diff as a terminal table, JSON, a change-request delta (CSV, XLSX with Open and
Close sheets) and JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from portplan.diff import Change, PlanDiff
from portplan.report.audit import space_records
from portplan.report.junit import junit_xml
from portplan.report.machine import document
from portplan.report.text import csv_text, rich_table_text
from portplan.report.xlsx import workbook_bytes
from portplan.spaces import (
    ICMPS,
    PORTED,
    Box,
    Space,
    addresses_text,
    describe_box,
    icmp_types_text,
    ports_text,
    protocols_text,
)

__all__ = ["DELTA_COLUMNS", "diff_csv", "diff_json", "diff_junit", "diff_table", "diff_xlsx"]

#: the columns of the change-request delta (CSV; the XLSX sheets without ``action``)
DELTA_COLUMNS = (
    "action",
    "change",
    "flow",
    "source",
    "source_address",
    "destination",
    "destination_address",
    "protocol",
    "ports",
    "cause",
    "reference",
    # the zones of the line's rule (which zone-boundary firewall holds it): for a close, the
    # old side's; a change of kind moved is a close on the old boundary and an open on the new
    "source_zone",
    "destination_zone",
)


def _ends(change: Change, box: Box) -> tuple[str, str]:
    """The source and destination of ``box`` as a rule reads them: addresses, or the DNS name
    of an end known by name only."""
    return (
        change.source_name or addresses_text(box.sources, box.family),
        change.destination_name or addresses_text(box.destinations, box.family),
    )


def _box_text(change: Change, box: Box) -> str:
    text = describe_box(box)
    if change.source_name is None and change.destination_name is None:
        return text
    # describe_box's "PROTOCOLS SOURCES -> DESTINATIONS" with the names put in
    head = (
        f"{protocols_text(box.protocols)} {addresses_text(box.sources, box.family)} -> "
        f"{addresses_text(box.destinations, box.family)}"
    )
    source, destination = _ends(change, box)
    rest = text[len(head) :].removesuffix(f" (IPv{box.family})")
    return f"{protocols_text(box.protocols)} {source} -> {destination}{rest}"


def _zone_text(source: str | None, destination: str | None) -> str:
    return f"{source or 'no zone'} -> {destination or 'no zone'}"


def _moved(change: Change) -> str:
    """``users -> data, now users -> users2``: the zones, old and new."""
    return (
        f"{_zone_text(change.old_source_zone, change.old_destination_zone)}, now "
        f"{_zone_text(change.source_zone, change.destination_zone)}"
    )


def _ends_text(change: Change) -> str:
    """``clients -> app01``; the host alone for a host no row leaves or reaches."""
    return f"{change.source} -> {change.destination}" if change.flow else change.source


def _hosts(change: Change) -> str:
    """Source and destination; the zones, old and new, when they changed; what changes in the
    hosts' own rules, for a change no packet between zones shows."""
    text = _ends_text(change)
    if change.zone_moved:
        text += f" (zones {_moved(change)})"
    return text + f" ({change.detail})" if change.detail is not None else text


def _describe(change: Change, space: Space) -> str:
    return "; ".join(_box_text(change, b) for b in space.normalised().boxes)


def _cause(change: Change) -> str:
    return "; ".join(change.causes) or "-"


def _flow(change: Change) -> str:
    """The flow, and the other flows that change the same packets."""
    if not change.flow:
        return "-"  # (a host no row leaves or reaches)
    return change.flow + (f" (also {', '.join(change.also)})" if change.also else "")


def diff_table(diff: PlanDiff, *, width: int) -> str:
    rows = [
        (
            c.kind.value,
            _flow(c),
            _hosts(c),
            _describe(c, c.opened) if c.opened else "",
            _describe(c, c.closed) if c.closed else "",
            _cause(c),
        )
        for c in diff.changes
    ]
    out = []
    if rows:
        out.append(
            rich_table_text(
                f"Changes from {diff.old} to {diff.new}",
                ("change", "flow", "hosts", "open", "close", "cause"),
                rows,
                width=width,
            )
        )
    out.append(diff.summary() + "\n")
    return "\n".join(out)


def _record(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind.value,
        "flow": change.flow,
        "source": change.source,
        "destination": change.destination,
        "protocol": change.protocol,
        "reference": change.reference,
        "open": _records(change, change.opened),
        "close": _records(change, change.closed),
        "causes": list(change.causes),
        "also": list(change.also),
        "source_name": change.source_name,
        "destination_name": change.destination_name,
        "source_zone": change.source_zone,
        "destination_zone": change.destination_zone,
        "zone_moved": change.zone_moved,
        "old_source_zone": change.old_source_zone,
        "old_destination_zone": change.old_destination_zone,
        "detail": change.detail,
    }


def _records(change: Change, space: Space) -> list[dict[str, Any]]:
    """The boxes of ``space``; an end known by name only has no addresses (its name is the
    change's ``source_name`` or ``destination_name``)."""
    records = space_records(space)
    for record in records:
        if change.source_name is not None:
            record["sources"] = []
        if change.destination_name is not None:
            record["destinations"] = []
    return records


def diff_json(diff: PlanDiff) -> str:
    """Every change with its packets and causes (``portplan schema diff``)."""
    opened, closed, changed = diff.counts()
    return document(
        "diff",
        {
            "old": diff.old,
            "new": diff.new,
            "identical": diff.identical,
            "summary": {"open": opened, "close": closed, "change": changed},
            "rows_compared": diff.rows_compared,
            "changes": [_record(c) for c in diff.changes],
        },
    )


def _delta_rows(diff: PlanDiff) -> Iterator[list[str]]:
    # (a change only the hosts' own rules show, such as ``listen``, has no packet to open or
    # close on a zone firewall: no line)
    for change in diff.changes:
        for action, space in (("open", change.opened), ("close", change.closed)):
            for box in space.normalised().boxes:
                yield [action, *_cells(change, box), *_zones(change, action)]


def _zones(change: Change, action: str) -> list[str]:
    if action == "close" and change.zone_moved:
        return [change.old_source_zone or "", change.old_destination_zone or ""]
    return [change.source_zone or "", change.destination_zone or ""]


def _cells(change: Change, box: Box) -> list[str]:
    ported = box.protocols.issubset(PORTED)
    icmp = box.protocols.issubset(ICMPS)
    source, destination = _ends(change, box)
    return [
        change.kind.value,
        _flow(change),
        change.source,
        source,
        change.destination,
        destination,
        protocols_text(box.protocols),
        ports_text(box.ports) if ported else f"type {icmp_types_text(box.ports)}" if icmp else "",
        _cause(change),
        change.reference,
    ]


def diff_csv(diff: PlanDiff) -> str:
    """The change-request delta: a line per address range and port set to open or close."""
    return csv_text(DELTA_COLUMNS, list(_delta_rows(diff)))


def diff_xlsx(diff: PlanDiff) -> bytes:
    """The change-request delta as a workbook: an Open sheet and a Close sheet."""
    rows = list(_delta_rows(diff))
    columns = DELTA_COLUMNS[1:]
    return workbook_bytes(
        [
            ("Open", columns, [r[1:] for r in rows if r[0] == "open"]),
            ("Close", columns, [r[1:] for r in rows if r[0] == "close"]),
        ]
    )


def diff_junit(diff: PlanDiff) -> str:
    """One test case per change (a failure each), or one passing case when identical."""
    suite = ET.Element(
        "testsuite",
        name="portplan diff",
        tests=str(max(1, len(diff.changes))),
        failures=str(len(diff.changes)),
    )
    if diff.identical:
        ET.SubElement(suite, "testcase", classname="diff", name="identical")
    for change in diff.changes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=change.flow or "diff",  # (no flow: a host no row leaves or reaches)
            name=f"{change.kind.value} {_ends_text(change)}",
        )
        failure = ET.SubElement(case, "failure", message=change.kind.value)
        parts = []
        if change.opened:
            parts.append("open " + _describe(change, change.opened))
        if change.closed:
            parts.append("close " + _describe(change, change.closed))
        if change.zone_moved:
            parts.append(f"zones: {_moved(change)}")
        if change.detail is not None:
            parts.append(change.detail)
        failure.text = "\n".join([*parts, f"cause: {_cause(change)}"])
    return junit_xml(suite)
