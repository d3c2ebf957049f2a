"""The flow matrix against a running ruleset: each row of the hosts audited marked permitted
already (and by which rules), partly or not, with what is still to open."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portplan.audit._findings import describe_space
from portplan.audit.ruleset import Coverage
from portplan.plan import Plan
from portplan.report.columns import MATRIX_COLUMNS, TABLE_COLUMNS, matrix_rows
from portplan.report.machine import document
from portplan.report.matrix import matrix_bytes
from portplan.report.text import csv_text, markdown_line, markdown_table, rich_table_text

__all__ = ["AGAINST_COLUMNS", "against_bytes"]

#: the columns the matrix gains with ``--against``
AGAINST_COLUMNS = ("permitted", "permitted_by", "to_open")


#: the parts of what is still to open a terminal table shows (then "and N more"); the change
#: requests (CSV, Markdown, JSON) name every part: the firewall team opens what they read
_TABLE_PARTS = 8


def _cells(found: Coverage, limit: int | None) -> tuple[str, str, str]:
    to_open = describe_space(found.missing, limit=limit) if found.missing else ""
    return found.status, ", ".join(found.rules), to_open


def against_bytes(
    plan: Plan,
    coverage: Mapping[int, Coverage],
    fmt: str,
    *,
    width: int = 120,
    still_to_open: bool = False,
) -> bytes:
    """The rows ``coverage`` judges (those of the hosts audited), in ``fmt`` (table, csv,
    md, json); with ``still_to_open`` only those not permitted in full."""
    chosen = [
        (index, row)
        for index, row in enumerate(plan.rows)
        if id(row) in coverage and not (still_to_open and coverage[id(row)].status == "yes")
    ]
    if fmt == "json":
        data: dict[str, Any] = json.loads(matrix_bytes(plan, "json"))
        flows = []
        for index, row in chosen:
            found = coverage[id(row)]
            flows.append(
                {
                    **data["flows"][index],
                    "permitted": found.status,
                    "permitted_by": list(found.rules),
                    "to_open": describe_space(found.missing, limit=None) if found.missing else None,
                }
            )
        body = {k: v for k, v in data.items() if k not in ("format_version", "kind")}
        return document("matrix", {**body, "flows": flows}).encode()
    texts = matrix_rows(plan)
    limit = None if fmt in ("csv", "md") else _TABLE_PARTS
    rows = [(*texts[index], *_cells(coverage[id(row)], limit)) for index, row in chosen]
    columns = (*MATRIX_COLUMNS, *AGAINST_COLUMNS)
    if fmt == "csv":
        return csv_text(columns, rows).encode()
    if fmt == "md":
        head = f"# Flow matrix: {markdown_line(plan.deployment)}\n\n"
        return (head + markdown_table(columns, rows)).encode()
    shown = [columns.index(c) for c in (*TABLE_COLUMNS[:5], "permitted", "permitted_by", "to_open")]
    permitted = sum(coverage[id(row)].status == "yes" for _i, row in chosen)
    return rich_table_text(
        f"Flow matrix: {plan.deployment}, against the ruleset",
        [columns[i] for i in shown],
        [[r[i] for i in shown] for r in rows],
        width=width,
        caption=f"{len(rows)} rows; {permitted} permitted already",
    ).encode()
