"""The flow matrix as a firewall change request: table, CSV, JSON, Markdown and XLSX."""

from __future__ import annotations

from typing import Any

from portplan.model._types import network_text
from portplan.model.ports import PortSet
from portplan.plan import Decision, Plan
from portplan.report.columns import (
    MATRIX_COLUMNS,
    TABLE_COLUMNS,
    excluded,
    matrix_rows,
    zone_boundary,
)
from portplan.report.machine import document
from portplan.report.text import csv_text, markdown_table, rich_table_text

__all__ = ["MATRIX_COLUMNS", "explain_text", "matrix_bytes"]


def _ranges(port_set: PortSet | None) -> list[list[int]] | None:
    return None if port_set is None else [[r.start, r.end] for r in port_set.ranges]


def _json(plan: Plan) -> str:
    # rows share their hosts' address tuples: list each one once
    listed: dict[int, list[str]] = {}

    def addresses(nets: tuple[Any, ...]) -> list[str]:
        found = listed.get(id(nets))
        if found is None:
            found = listed[id(nets)] = [network_text(n) for n in nets]
        return found

    flows = []
    for row in plan.rows:
        facts = row.facts
        flows.append(
            {
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
        )
    return document(
        "matrix",
        {
            "deployment": plan.deployment,
            "flows": flows,
            "not_in_plan": [
                {"flow": d.key, "reference": d.reference, "reasons": d.reasons}
                for d in excluded(plan)
            ],
            "warnings": list(plan.warnings),
        },
    )


def matrix_bytes(plan: Plan, fmt: str, *, width: int = 120) -> bytes:
    """The matrix in ``fmt`` (table, csv, json, md, xlsx) as bytes ready to write."""
    if fmt == "xlsx":
        from portplan.report import xlsx  # noqa: PLC0415 - openpyxl costs 0.2 s; only for xlsx

        return xlsx.change_request(plan)
    if fmt == "json":
        return _json(plan).encode()
    if fmt == "csv":
        return csv_text(MATRIX_COLUMNS, matrix_rows(plan)).encode()
    rows = matrix_rows(plan)
    if fmt == "md":
        head = f"# Flow matrix: {plan.deployment}\n\n"
        return (head + markdown_table(MATRIX_COLUMNS, rows)).encode()
    caption = f"{len(rows)} rows; {len(excluded(plan))} product flows give no rows (--explain)"
    shown = [MATRIX_COLUMNS.index(c) for c in TABLE_COLUMNS]
    return rich_table_text(
        f"Flow matrix: {plan.deployment}",
        TABLE_COLUMNS,
        [[r[i] for i in shown] for r in rows],
        width=width,
        caption=caption,
    ).encode()


def explain_text(plan: Plan, decision: Decision) -> str:
    """Why one product flow is in or out of the plan, and its rows."""
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
    return "\n".join(lines) + "\n"
