"""The flow matrix as a firewall change request: table, CSV, JSON, Markdown and XLSX."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from portplan.model._types import network_text
from portplan.model.icmp import icmp_text
from portplan.model.ports import PortSet
from portplan.plan import MANAGEMENT, Decision, Plan, SourceEnd, plan_legs
from portplan.report.columns import (
    MATRIX_COLUMNS,
    TABLE_COLUMNS,
    excluded,
    leg_cells,
    matrix_rows,
    name_only_text,
    zone_boundary,
)
from portplan.report.machine import document
from portplan.report.text import (
    CsvFields,
    json_nested,
    markdown_line,
    markdown_table,
    rich_table_text,
    terminal_text,
)

__all__ = ["MATRIX_COLUMNS", "explain_text", "matrix_bytes", "write_matrix"]


def _ranges(port_set: PortSet | None) -> list[list[int]] | None:
    return None if port_set is None else [[r.start, r.end] for r in port_set.ranges]


def _json_chunks(plan: Plan) -> Iterator[str]:
    """The matrix document, its flows written one at a time (the same text as
    ``document("matrix", ...)`` of the whole list)."""
    body = document(
        "matrix",
        {
            "deployment": plan.deployment,
            "flows": [],
            "not_in_plan": [
                {"flow": d.key, "reference": d.reference, "reasons": d.reasons}
                for d in excluded(plan)
            ],
            "warnings": list(plan.warnings),
        },
    )
    # the key at the document's first level: a value's line breaks are escaped
    head, _flows_key, tail = body.partition('\n  "flows": []')
    if not plan.rows:
        yield body
        return
    pending = [head + '\n  "flows": [']
    separator = "\n    "
    for flow in _flows(plan):
        pending.append(separator + json_nested(flow, 2))
        separator = ",\n    "
        if len(pending) >= _CHUNK:
            yield "".join(pending)
            pending.clear()
    pending.append("\n  ]" + tail)
    yield "".join(pending)


def _flows(plan: Plan) -> Iterator[dict[str, Any]]:
    # rows share their hosts' address tuples: list each one once
    listed: dict[int, list[str]] = {}

    def addresses(nets: tuple[Any, ...]) -> list[str]:
        found = listed.get(id(nets))
        if found is None:
            found = listed[id(nets)] = [network_text(n) for n in nets]
        return found

    for row in plan.rows:
        facts = row.facts
        yield {
            "flow": facts.key,
            "product": facts.product,
            "flow_id": facts.flow_id,
            "hop": facts.hop.value,
            "source": row.source,
            "source_component": row.source_component,
            "source_address": addresses(row.source_addresses),
            "source_zone": row.source_zone,
            "destination": row.destination,
            "destination_component": facts.destination_component,
            "destination_address": addresses(row.destination_addresses),
            "destination_zone": row.destination_zone,
            "protocol": facts.protocol.value,
            "ports": _ranges(row.ports),
            "listen_ports": _ranges(row.listen_ports),
            "dynamic_ports": _ranges(row.dynamic_ports),
            "icmp": list(facts.icmp) or None,
            "service": facts.service,
            "app_protocol": facts.app_protocol,
            "tls": facts.tls,
            "loopback": facts.loopback,
            "purpose": facts.purpose,
            "condition": facts.condition,
            "configurable": facts.configurable,
            "overrides": list(facts.overrides),
            "interface": facts.interface,
            "reference": facts.reference,
            "zone_boundary": zone_boundary(row.source_zone, row.destination_zone) or None,
            "host_firewall": None if facts.loopback else row.destination,
        }


#: rows rendered before their text is written out
_CHUNK = 4096


def _csv_chunks(plan: Plan) -> Iterator[str]:
    """The matrix as CSV, the same text as ``csv_text(MATRIX_COLUMNS, matrix_rows(plan))``
    (a test compares them), written leg by leg (:func:`~portplan.plan.plan_legs`): each
    distinct value quoted once, the columns a leg shares (``service`` to ``reference``) joined
    once per leg, a destination's once per leg and destination, a source's once per plan."""
    fields = CsvFields()
    by_id: dict[int, str] = {}  # address tuples and port sets: as CSV, once each

    def addresses(nets: tuple[Any, ...], host: str) -> str:
        text = by_id.get(id(nets))
        if text is not None:
            return text
        if not nets:  # a host known by name only (never cached: every empty tuple is one)
            return fields[name_only_text(plan, host)]
        text = by_id[id(nets)] = fields[", ".join(network_text(n) for n in nets)]
        return text

    def ports(port_set: PortSet | None) -> str:
        if port_set is None:
            return ""
        text = by_id.get(id(port_set))
        if text is None:
            text = by_id[id(port_set)] = fields[str(port_set)]
        return text

    # by identity: the plan's legs hold every source and list of sources while this runs
    source_text: dict[int, str] = {}  # a source's four columns

    def source_columns(source: SourceEnd) -> str:
        text = source_text.get(id(source))
        if text is None:
            name, component, nets, zone = source
            text = source_text[id(source)] = (
                f"{fields[name]},{fields[component]},{addresses(nets, name)},{fields[zone or '']}"
            )
        return text

    # the sources of many legs are one list (every client): its columns and zones, once
    lists: dict[int, tuple[list[str], list[str | None]]] = {}

    def sources_of(sources: tuple[SourceEnd, ...]) -> tuple[list[str], list[str | None]]:
        found = lists.get(id(sources))
        if found is None:
            found = lists[id(sources)] = (
                [source_columns(source) for source in sources],
                [source.zone for source in sources],
            )
        return found

    boundaries: dict[tuple[str | None, str | None], str] = {}

    def boundary(source_zone: str | None, destination_zone: str | None) -> str:
        zone_pair = (source_zone, destination_zone)
        text = boundaries.get(zone_pair)
        if text is None:
            text = boundaries[zone_pair] = fields[zone_boundary(*zone_pair)]
        return text

    pending = [",".join(fields[c] for c in MATRIX_COLUMNS) + "\r\n"]
    count = 0
    for leg in plan_legs(plan).legs:
        facts = leg.facts
        head = f"{fields.first(facts.key)},"
        component = fields[facts.destination_component]
        icmp = fields[icmp_text(facts.icmp)] if facts.icmp else None
        tail = ",".join(fields[value] for value in leg_cells(facts))
        for end in leg.ends:
            destination = fields[end.destination]
            middle = (
                f",{destination},{component},{addresses(end.addresses, end.destination)},"
                f"{fields[end.zone or '']},{facts.protocol.value},"
                f"{ports(end.ports) if icmp is None else icmp},{ports(end.listen_ports)},{tail},"
            )
            firewall = "" if facts.loopback else destination
            if len(end.sources) == 1:  # one line (each end of a loopback flow): made directly
                (source,) = end.sources
                pending.append(
                    f"{head}{source_columns(source)}{middle}"
                    f"{boundary(source.zone, end.zone)},{firewall}\r\n"
                )
                count += 1
                if count >= _CHUNK:
                    yield "".join(pending)
                    pending.clear()
                    count = 0
                continue
            texts, zones = sources_of(end.sources)
            # by the source's zone: boundary to line end
            endings = {
                zone: f"{middle}{boundary(zone, end.zone)},{firewall}\r\n"
                for zone in dict.fromkeys(zones)
            }
            one_ending = endings[zones[0]] if len(endings) == 1 else None
            # a few thousand lines at a time, even of a destination with 50,000 sources: a
            # chunk that stays in the processor's cache is made, encoded and written faster
            # than one of many megabytes
            for start in range(0, len(texts), _CHUNK):
                part = texts[start : start + _CHUNK]
                if one_ending is not None:  # the lines differ in the source only: one join
                    pending.append(head + (one_ending + head).join(part) + one_ending)
                else:
                    pending.extend(
                        head + text + endings[zone]
                        for text, zone in zip(part, zones[start : start + _CHUNK], strict=True)
                    )
                count += len(part)
                if count >= _CHUNK:
                    yield "".join(pending)
                    pending.clear()
                    count = 0
    yield "".join(pending)


def write_matrix(
    plan: Plan,
    fmt: str,
    out: IO[bytes],
    *,
    width: int = 120,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """The matrix in ``fmt`` (table, csv, json, md, xlsx) written into the binary file
    ``out`` (seekable for xlsx), the rows rendered a few thousand at a time; for xlsx, the
    slow one, ``progress(rows written, rows in all)`` as the workbook's rows are written."""
    if fmt == "xlsx":
        from portplan.report import xlsx  # noqa: PLC0415 - the XLSX writer only for xlsx

        xlsx.write_change_request(plan, out, progress=progress)
        return
    if fmt == "json":
        chunks: Iterable[str] = _json_chunks(plan)
    elif fmt == "csv":
        chunks = _csv_chunks(plan)
    else:
        chunks = [_text(plan, fmt, width)]
    for text in chunks:
        out.write(text.encode())


def matrix_bytes(plan: Plan, fmt: str, *, width: int = 120) -> bytes:
    """The matrix in ``fmt`` (table, csv, json, md, xlsx) as bytes ready to write."""
    buffer = io.BytesIO()
    write_matrix(plan, fmt, buffer, width=width)
    return buffer.getvalue()


def _text(plan: Plan, fmt: str, width: int) -> str:
    rows = matrix_rows(plan)
    if fmt == "md":
        head = f"# Flow matrix: {markdown_line(plan.deployment)}\n\n"
        return head + markdown_table(MATRIX_COLUMNS, rows)
    gone = excluded(plan)
    entries = sum(d.product == MANAGEMENT for d in gone)
    caption = f"{len(rows)} rows; {len(gone) - entries} product flows give no rows"
    if entries:  # said only where a management entry gives none
        caption += f", {entries} management access entries give none"
    caption += " (--explain)"
    shown = [MATRIX_COLUMNS.index(c) for c in TABLE_COLUMNS]
    return rich_table_text(
        f"Flow matrix: {plan.deployment}",
        TABLE_COLUMNS,
        [[r[i] for i in shown] for r in rows],
        width=width,
        caption=caption,
    )


def explain_text(plan: Plan, decision: Decision) -> str:
    """Why one product flow is in or out of the plan, and its rows, as a terminal shows it."""
    status = "IN" if decision.included else "OUT"
    lines = [f"{decision.key}: {status}", f"  vendor row: {decision.reference}"]
    lines.extend(f"  - {reason}" for reason in decision.reasons)
    rows = [r for r in plan.rows if r.product == decision.product and r.flow_id == decision.flow_id]
    if rows:
        lines.append(f"  rows ({len(rows)}):")
        for row in rows:
            lines.append(
                f"    {row.key}: {row.source} -> {row.destination} {row.opening}"
                + (f" (listens on {row.listen_ports})" if row.listen_ports else "")
            )
    # the vendor's titles and the operator's values reach a terminal: each line shows as
    # written, its control characters as symbols (no colour, no cleared screen, no line break)
    return "\n".join(terminal_text(line, newlines=False) for line in lines) + "\n"
