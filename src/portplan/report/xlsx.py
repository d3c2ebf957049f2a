"""The flow matrix as an XLSX change request, byte for byte the same for one plan.

The workbook is written row by row (:mod:`portplan.report._workbook`): a change request of
50,000 clients holds about 45 million cells.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import IO

from portplan._text import one_line
from portplan.plan import Plan
from portplan.report._workbook import CoverLine, Style, TextSheet, write_workbook
from portplan.report.columns import (
    MATRIX_COLUMNS,
    WIDTHS,
    counts,
    excluded,
    matrix_rows,
    openings,
)

__all__ = [
    "CHANGE_BOARD_COLUMNS",
    "Sheet",
    "change_request",
    "workbook_bytes",
    "write_change_request",
    "zone_sheet_titles",
]

#: what a change board fills in per row; ``justification`` starts as the flow's purpose
CHANGE_BOARD_COLUMNS = ("requester", "justification", "ticket", "expiry")
_PURPOSE = MATRIX_COLUMNS.index("purpose")
_BOUNDARY = MATRIX_COLUMNS.index("zone_boundary")
#: a sheet: its title, its column headings, its rows
Sheet = tuple[str, Sequence[str], Sequence[Sequence[str]]]
#: the widths of the cover's columns
_COVER_WIDTHS = (24, 40, 40, 50, 50)


def change_request(plan: Plan) -> bytes:
    """The flow matrix as an XLSX change request: a cover sheet, every row with the change
    board's columns, a sheet per zone firewall, and the vendor rows this deployment does not
    need; the same plan gives the same bytes."""
    buffer = io.BytesIO()
    write_change_request(plan, buffer)
    return buffer.getvalue()


def write_change_request(
    plan: Plan, out: IO[bytes], *, progress: Callable[[int, int], None] | None = None
) -> None:
    """:func:`change_request` written into the seekable binary file ``out``;
    ``progress(rows written, rows in all)`` as the sheets' rows are written."""
    matrix = matrix_rows(plan)
    columns = (*MATRIX_COLUMNS, *CHANGE_BOARD_COLUMNS)
    sheets = [_flows_sheet("Flows", columns, matrix)]
    # one sheet per zone boundary: what each zone firewall's change request must open
    crossing: dict[str, list[tuple[str, ...]]] = {}
    for row in matrix:
        if row[_BOUNDARY]:
            crossing.setdefault(row[_BOUNDARY], []).append(row)
    titles = zone_sheet_titles(crossing, taken=("Change request", "Flows", "Not in plan"))
    for name in sorted(crossing):
        sheets.append(_flows_sheet(titles[name], columns, crossing[name]))
    not_needed = [[d.key, d.reference, "\n".join(d.reasons)] for d in excluded(plan)]
    sheets.append(_sheet("Not in plan", ("flow", "reference", "reasons"), not_needed))
    cover = ("Change request", _cover(plan, matrix, titles), _COVER_WIDTHS)
    write_workbook(out, sheets, cover=cover, progress=progress)


#: what Excel refuses in a sheet name
_NOT_IN_TITLES = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))
#: Excel's longest sheet name
_TITLE_LENGTH = 31


def zone_sheet_titles(boundaries: Iterable[str], *, taken: Iterable[str]) -> dict[str, str]:
    """The sheet title of each zone boundary (``clients -> servers``: ``FW clients to
    servers``), as Excel allows it: one line, no ``[]:*?/\\``, at most 31 characters, no
    ``'`` at either end, and unique with case ignored among themselves and ``taken`` (the
    later of two that meet gets ``~2``, ``~3``...; in the order of the names, so the same
    plan gives the same titles).  Every row of the sheet names its boundary in full."""
    used = {title.casefold() for title in taken}
    titles: dict[str, str] = {}
    for boundary in sorted(boundaries):
        text = one_line("FW " + boundary.replace(" -> ", " to ")).translate(_NOT_IN_TITLES)
        title = text[:_TITLE_LENGTH].rstrip(" '")
        number = 1
        while title.casefold() in used:
            number += 1
            suffix = f"~{number}"
            title = text[: _TITLE_LENGTH - len(suffix)].rstrip(" '") + suffix
        used.add(title.casefold())
        titles[boundary] = title
    return titles


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """Sheets (title, columns, rows) as an XLSX file, each with a styled, frozen, filtered
    header; the same sheets give the same bytes."""
    buffer = io.BytesIO()
    write_workbook(buffer, [_sheet(title, columns, rows) for title, columns, rows in sheets])
    return buffer.getvalue()


def _longest(values: Iterable[str]) -> int:
    """The longest line of any of ``values`` (distinct values, as text)."""
    longest = 0
    for value in values:
        if "\n" in value:
            longest = max(longest, *map(len, value.split("\n")))
        else:
            longest = max(longest, len(value))
    return longest


def _fit(columns: Sequence[str], longest: Sequence[int]) -> tuple[list[float], frozenset[int]]:
    """Each column as wide as its longest line plus 2, within its cap; wider ones wrap."""
    widths: list[float] = []
    wrapped = set()
    for index, (column, found) in enumerate(zip(columns, longest, strict=True)):
        length = max(found, len(column))
        cap = WIDTHS.get(column, 40)
        widths.append(min(length + 2, cap))
        if length > cap:
            wrapped.add(index)
    return widths, frozenset(wrapped)


def _sheet(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> TextSheet:
    longest = [_longest({str(v) for v in map(itemgetter(i), rows)}) for i in range(len(columns))]
    widths, wrapped = _fit(columns, longest)
    return TextSheet(title, columns, rows, len(rows), widths, wrapped)


def _flows_sheet(title: str, columns: Sequence[str], rows: Sequence[tuple[str, ...]]) -> TextSheet:
    """Matrix rows with the change board's columns, added as the rows are written."""
    longest = [_longest(set(map(itemgetter(i), rows))) for i in range(len(MATRIX_COLUMNS))]
    longest += [0, longest[_PURPOSE], 0, 0]
    widths, wrapped = _fit(columns, longest)
    extended = ((*r, "", r[_PURPOSE], "", "") for r in rows)
    return TextSheet(title, columns, extended, len(rows), widths, wrapped)


def _cover(plan: Plan, rows: Sequence[Sequence[str]], sheets: Mapping[str, str]) -> list[CoverLine]:
    """The first sheet: what the request is for, the vendor documents it rests on, and how
    many openings each firewall gets, with the title of each zone boundary's sheet (``sheets``:
    a title cut to 31 characters may not say which boundary it is)."""
    # a vendor row may be several flows (part 1, part 2), a flow through an ingress rows of
    # two legs (/ingress, /backend): each is counted once
    held = counts(plan)
    (rows_in, rows_all), (flows_in, flows_all) = held.vendor_rows, held.product_flows
    vendor_rows = f"{rows_in} of {rows_all} ({flows_in} of their {flows_all} flows)"

    def heading(*cells: str) -> CoverLine:
        return [(c, Style.HEADER) for c in cells]

    def fact(label: str, value: str | int) -> CoverLine:
        return [(label, Style.BOLD), (value, Style.PLAIN)]

    def plain(*cells: str | int) -> CoverLine:
        return [(c, Style.PLAIN) for c in cells]

    lines: list[CoverLine] = [
        [(f"Firewall change request: {plan.deployment}", Style.TITLE)],
        [],
        fact("Deployment", plan.deployment),
        fact("Rows (openings)", len(rows)),
        fact("Vendor rows in the plan", vendor_rows),
    ]
    entries_in, entries_all = held.management
    if entries_all:  # said only where the deployment declares some
        lines.append(
            fact("Management access in the plan", f"{entries_in} of {entries_all} entries")
        )
    lines += [
        [],
        heading("Product", "Version", "Vendor", "Vendor document", "Reference"),
    ]
    lines.extend(
        plain(p.name, p.version, p.vendor or "", p.document.title, p.document.source or "")
        for p in plan.products.values()
    )
    lines.extend([[], heading("Firewall", "Name", "Openings", "Sheet")])
    lines.extend(
        plain(kind, name, count, *([sheets[name]] if kind == "zone" else []))
        for kind, name, count in openings(rows)
    )
    lines.extend(
        [
            [],
            plain("Requester, justification, ticket and expiry are for the change board to fill "
                  "in on the Flows sheet; justification starts as the vendor's purpose of the "
                  "flow."),
        ]
    )  # fmt: skip
    return lines
