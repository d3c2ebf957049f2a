"""The flow matrix as an XLSX change request (openpyxl), byte for byte the same for one plan."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from portplan.plan import Plan
from portplan.report.columns import MATRIX_COLUMNS, WIDTHS, excluded, matrix_rows, openings

__all__ = ["CHANGE_BOARD_COLUMNS", "change_request"]

#: what a change board fills in per row; ``justification`` starts as the flow's purpose
CHANGE_BOARD_COLUMNS = ("requester", "justification", "ticket", "expiry")
_PURPOSE = MATRIX_COLUMNS.index("purpose")
_BOLD = Font(bold=True)


def change_request(plan: Plan) -> bytes:
    """The flow matrix as an XLSX change request: every row, a sheet per zone firewall, and
    the vendor rows this deployment does not need; the same plan gives the same bytes."""
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])
    matrix = matrix_rows(plan)
    _cover(workbook.create_sheet("Change request"), plan, matrix)
    columns = (*MATRIX_COLUMNS, *CHANGE_BOARD_COLUMNS)
    rows = [(*r, "", r[_PURPOSE], "", "") for r in matrix]
    _fill_sheet(workbook.create_sheet("Flows"), columns, rows)
    # one sheet per zone boundary: what each zone firewall's change request must open
    boundary = MATRIX_COLUMNS.index("zone_boundary")
    for name in sorted({r[boundary] for r in rows if r[boundary]}):
        title = ("FW " + name.replace(" -> ", " to "))[:31]
        _fill_sheet(workbook.create_sheet(title), columns, [r for r in rows if r[boundary] == name])
    out = workbook.create_sheet("Not in plan")
    _fill_sheet(
        out,
        ("flow", "reference", "reasons"),
        [[d.key, d.reference, "\n".join(d.reasons)] for d in excluded(plan)],
    )
    # fixed document dates so the same plan gives the same file
    fixed = datetime(2000, 1, 1)
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.properties.creator = "portplan"
    buffer = io.BytesIO()
    # ExcelWriter, not workbook.save(): save() stamps `modified` with the current time
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()
    return _normalise_zip(buffer.getvalue())


def _cover(sheet: Any, plan: Plan, rows: Sequence[Sequence[str]]) -> None:
    """The first sheet: what the request is for, the vendor documents it rests on, and how
    many openings each firewall gets."""
    flows = {(r[0].split("/")[0], r[0]) for r in rows}
    lines: list[tuple[str, ...]] = [
        (f"Firewall change request: {plan.deployment}",),
        (),
        ("Deployment", plan.deployment),
        ("Rows (openings)", str(len(rows))),
        ("Flows", f"{len(flows)} of {len(plan.decisions)} vendor rows and management access"),
        (),
        ("Product", "Version", "Vendor", "Vendor document", "Reference"),
    ]
    lines.extend(
        (p.name, p.version, p.vendor or "", p.document.title, p.document.source or "")
        for p in plan.products.values()
    )
    lines.extend([(), ("Firewall", "Name", "Openings")])
    lines.extend((kind, name, str(count)) for kind, name, count in openings(rows))
    lines.extend(
        [
            (),
            ("Requester, justification, ticket and expiry are for the change board to fill in "
             "on the Flows sheet; justification starts as the vendor's purpose of the flow.",),
        ]
    )  # fmt: skip
    for line in lines:
        sheet.append(list(line))
        if line and line[0] in ("Product", "Firewall"):
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True, color="FFFFFF")
                cell.fill = PatternFill("solid", fgColor="1F4E78")
        elif len(line) == 2:
            sheet.cell(row=sheet.max_row, column=1).font = _BOLD
    sheet["A1"].font = Font(bold=True, size=14)
    for column, width in zip("ABCDE", (24, 40, 40, 50, 50), strict=True):
        sheet.column_dimensions[column].width = width


def _fill_sheet(sheet: Any, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
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
        cap = WIDTHS.get(column, 40)
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
