"""The flow matrix as a firewall change request: table, CSV, JSON, Markdown and XLSX."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

from portplan.model._types import network_text
from portplan.model.ports import PortSet
from portplan.plan import Decision, Plan
from portplan.render.text import csv_text, json_text, markdown_table, rich_table_text

__all__ = ["MATRIX_COLUMNS", "explain_text", "matrix_bytes", "matrix_rows"]

#: Columns of the change request, in order.  ``flow`` is the stable id of the product row.
MATRIX_COLUMNS: tuple[str, ...] = (
    "flow",
    "source",
    "source_component",
    "source_address",
    "source_zone",
    "destination",
    "destination_component",
    "destination_address",
    "destination_zone",
    "protocol",
    "ports",
    "listen_ports",
    "service",
    "tls",
    "purpose",
    "condition",
    "configurable",
    "overrides",
    "interface",
    "reference",
    "zone_boundary",
    "host_firewall",
)
#: The narrower set shown in a terminal table.
TABLE_COLUMNS: tuple[str, ...] = (
    "flow",
    "source",
    "destination",
    "protocol",
    "ports",
    "service",
    "condition",
)
_WIDTHS = {"purpose": 60, "reference": 50, "overrides": 40}


def _address_text(nets: Sequence[Any]) -> str:
    return ", ".join(network_text(n) for n in nets)


def zone_boundary(source_zone: str | None, destination_zone: str | None) -> str:
    """``dmz -> internal``: the zone firewall a row crosses, or empty within one zone."""
    if source_zone and destination_zone and source_zone != destination_zone:
        return f"{source_zone} -> {destination_zone}"
    return ""


def matrix_rows(plan: Plan) -> list[tuple[str, ...]]:
    """One tuple of strings per matrix row, in the order of :data:`MATRIX_COLUMNS`."""
    # Rows share their hosts' address tuples and port sets: format each one once.
    addresses: dict[int, str] = {}
    ports: dict[int, str] = {}

    def address_text(nets: tuple[Any, ...]) -> str:
        text = addresses.get(id(nets))
        if text is None:
            text = addresses[id(nets)] = _address_text(nets)
        return text

    def ports_text(port_set: PortSet | None) -> str:
        if port_set is None:
            return ""
        text = ports.get(id(port_set))
        if text is None:
            text = ports[id(port_set)] = str(port_set)
        return text

    rows: list[tuple[str, ...]] = []
    for row in plan.rows:
        facts = row.facts
        rows.append(
            (
                facts.key,
                row.source,
                row.source_component,
                address_text(row.source_addresses),
                row.source_zone or "",
                row.destination,
                facts.destination_component,
                address_text(row.destination_addresses),
                row.destination_zone or "",
                facts.protocol.value,
                ports_text(row.ports),
                ports_text(row.listen_ports),
                facts.service or "",
                "yes" if facts.tls else "no",
                facts.purpose,
                facts.condition or "always",
                facts.configurable,
                "; ".join(facts.overrides),
                facts.interface or "",
                facts.reference,
                zone_boundary(row.source_zone, row.destination_zone),
                "" if facts.loopback else row.destination,
            )
        )
    return rows


def _excluded(plan: Plan) -> list[Decision]:
    return [d for d in plan.decisions if not d.included]


def _json(plan: Plan) -> str:
    # rows share their hosts' address tuples: list each one once
    listed: dict[int, list[str]] = {}

    def addresses(nets: tuple[Any, ...]) -> list[str]:
        found = listed.get(id(nets))
        if found is None:
            found = listed[id(nets)] = [network_text(n) for n in nets]
        return found

    flows = []
    for values, row in zip(matrix_rows(plan), plan.rows, strict=True):
        item: dict[str, Any] = dict(zip(MATRIX_COLUMNS, values, strict=True))
        item["source_address"] = addresses(row.source_addresses)
        item["destination_address"] = addresses(row.destination_addresses)
        item["ports"] = [[r.start, r.end] for r in row.ports.ranges]
        item["listen_ports"] = (
            [[r.start, r.end] for r in row.listen_ports.ranges] if row.listen_ports else None
        )
        item["app_protocol"] = row.app_protocol
        item["tls"] = row.tls
        item["loopback"] = row.loopback
        item["hop"] = row.hop.value
        item["condition"] = row.condition
        item["overrides"] = list(row.overrides)
        flows.append(item)
    return json_text(
        {
            "deployment": plan.deployment,
            "flows": flows,
            "not_in_plan": [
                {"flow": d.key, "reference": d.reference, "reasons": d.reasons}
                for d in _excluded(plan)
            ],
            "warnings": list(plan.warnings),
        }
    )


def _xlsx(plan: Plan) -> bytes:
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.create_sheet("Flows")
    workbook.remove(workbook.worksheets[0])
    rows = matrix_rows(plan)
    _fill_sheet(sheet, MATRIX_COLUMNS, rows)
    # one sheet per zone boundary: what each zone firewall's change request must open
    boundary = MATRIX_COLUMNS.index("zone_boundary")
    for name in sorted({r[boundary] for r in rows if r[boundary]}):
        title = ("FW " + name.replace(" -> ", " to "))[:31]
        _fill_sheet(
            workbook.create_sheet(title), MATRIX_COLUMNS, [r for r in rows if r[boundary] == name]
        )
    out = workbook.create_sheet("Not in plan")
    _fill_sheet(
        out,
        ("flow", "reference", "reasons"),
        [[d.key, d.reference, "\n".join(d.reasons)] for d in _excluded(plan)],
    )
    # fixed document dates so the same plan gives the same file
    fixed = datetime(2000, 1, 1)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.properties.creator = "portplan"
    buffer = io.BytesIO()
    # ExcelWriter, not workbook.save(): save() stamps `modified` with the current time
    from openpyxl.writer.excel import ExcelWriter

    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()
    return _normalise_zip(buffer.getvalue())


def _fill_sheet(sheet: Any, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
        cell.alignment = Alignment(vertical="center")
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{max(len(rows) + 1, 1)}"
    for index, column in enumerate(columns, start=1):
        longest = max([len(column), *(max(map(len, str(r[index - 1]).split("\n"))) for r in rows)])
        cap = _WIDTHS.get(column, 40)
        sheet.column_dimensions[get_column_letter(index)].width = min(longest + 2, cap)
        if longest > cap:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.alignment = Alignment(wrap_text=True, vertical="top")


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the XLSX container with fixed entry times (zip stores the write time)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, source.read(info.filename))
    return buffer.getvalue()


def matrix_bytes(plan: Plan, fmt: str, *, width: int = 120) -> bytes:
    """The matrix in ``fmt`` (table, csv, json, md, xlsx) as bytes ready to write."""
    if fmt == "xlsx":
        return _xlsx(plan)
    if fmt == "json":
        return _json(plan).encode()
    if fmt == "csv":
        return csv_text(MATRIX_COLUMNS, matrix_rows(plan)).encode()
    rows = matrix_rows(plan)
    if fmt == "md":
        head = f"# Flow matrix: {plan.deployment}\n\n"
        return (head + markdown_table(MATRIX_COLUMNS, rows)).encode()
    caption = f"{len(rows)} rows; {len(_excluded(plan))} product flows give no rows (--explain)"
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
                f"    {row.key}: {row.source} -> {row.destination} {row.protocol.value}/{row.ports}"
                + (f" (listens on {row.listen_ports})" if row.listen_ports else "")
            )
    return "\n".join(lines) + "\n"
