"""The report's sections of text and tables: the summary, the vendor tables, the flow matrix
with its overlays, the rows the deployment does not need, and findings that name no row."""

from __future__ import annotations

from collections.abc import Sequence

from portplan._text import counted
from portplan.plan import ANYWHERE, MANAGEMENT, Plan, PlannedFlow
from portplan.publish import Overlay, RowFindings, Status
from portplan.report.columns import counts, excluded, matrix_rows, openings
from portplan.report.html._markup import Cell, Row, data_table, el, filter_bar, text
from portplan.report.show import show_tables

__all__ = [
    "blocked_section",
    "matrix_section",
    "not_needed_section",
    "summary_section",
    "unmatched_section",
    "vendor_section",
]

_MARKS = {"failed": "✘", "warning": "!", "unchecked": "?", "passed": "✔"}


def flow_anchor(key: str) -> str:
    """The id of a flow's first row (``flow-shopping-6.1/website-https``)."""
    return f"flow-{key}"


def _first_port(row: PlannedFlow) -> int:
    return row.ports.ranges[0].start if row.ports.ranges else 0


def _rows_fact(plan: Plan, found: RowFindings) -> str:
    """What the overlays prove of the plan's rows, as the matrix shows them: the files'
    own counts are of probes, some of which verify no row (another plan, another host)."""
    counts = dict.fromkeys(Status, 0)
    for status in found.status.values():
        counts[status] += 1
    parts = [f"{counts[s]} {s.value}" for s in Status if counts[s] or s is not Status.WARNING]
    parts.append(f"{len(plan.rows) - len(found.status)} without results")
    text = f"of {len(plan.rows)} rows: " + ", ".join(parts)
    if found.unmatched:
        count = len(found.unmatched)
        text += f"; {counted(count, 'finding')} {'names' if count == 1 else 'name'} no row of "
        text += "this plan"
    return text


def summary_section(plan: Plan, overlays: Sequence[Overlay], found: RowFindings) -> str:
    rows = matrix_rows(plan)
    products: list[Row] = [
        (
            [
                text(p.name),
                text(p.version),
                text(p.vendor or ""),
                text(p.document.title),
                text(p.document.source or ""),
            ],
            {},
        )
        for p in plan.products.values()
    ]
    held = counts(plan)
    (flows_in, flows_all), (rows_in, rows_all) = held.product_flows, held.vendor_rows
    flows = f"{flows_in} flows of {flows_all} needed ({rows_in} of {rows_all} vendor rows)"
    entries_in, entries_all = held.management
    if entries_all:  # said only where the deployment declares some
        flows += f", and {entries_in} of {entries_all} management access entries"
    # the deployment's hosts: not the stand-in for a vendor's "any client" (said apart)
    with_flows = {h for r in plan.rows for h in (r.source, r.destination)}
    hosts = f"{len(plan.hosts.keys() - {ANYWHERE})} ({len(with_flows - {ANYWHERE})} with flows)"
    if ANYWHERE in with_flows:
        hosts += ", and flows from any address"
    opening = {(r.destination, r.protocol.value, str(r.ports), r.icmp) for r in plan.rows}
    facts = [
        ("Deployment", text(plan.deployment)),
        ("Hosts", hosts),
        (
            "Flows",
            f"{flows}, giving {len(plan.rows)} rows (source host, destination host, protocol)",
        ),
        ("Ports to open", f"{len(opening)} (destination host, protocol, ports) openings"),
    ]
    # a notice under a file's counts: of another plan (in the warning colour), or not saying
    notices = {
        id(o): el("div", text(n), class_="status warning" if o.plan_digest else None)
        for o, n in found.notices
    }
    facts.extend(
        (f"{o.title} ({text(o.origin)})", f"probes: {text(o.summary)}" + notices.get(id(o), ""))
        for o in overlays
    )
    if overlays:
        facts.append(("Rows verified", text(_rows_fact(plan, found))))
    firewall_rows: list[Row] = [
        ([text(kind), text(name), (str(count), {"data_sort": f"{count:09d}"})], {})
        for kind, name, count in openings(rows)
    ]
    warnings = "".join(el("li", text(w)) for w in plan.warnings)
    return el(
        "section",
        el("h2", "Summary", id="summary"),
        el("dl", "".join(el("dt", k) + el("dd", v) for k, v in facts), class_="facts"),
        data_table(
            "products",
            "Products and their vendor documents",
            ("product", "version", "vendor", "vendor document", "source"),
            products,
            kind="other",
            filtered=False,
        ),
        data_table(
            "firewalls",
            "Openings per firewall (a matrix row is one opening)",
            ("firewall", "name", "openings"),
            firewall_rows,
            kind="other",
            filtered=False,
            compact=True,
        ),
        el("h3", "Warnings") + el("ul", warnings) if warnings else "",
        aria_labelledby="summary",
    )


def vendor_section(plan: Plan) -> str:
    parts = [el("h2", "Vendor tables", id="vendor")]
    included = {d.key for d in plan.decisions if d.included}
    # a flow through an ingress has rows of two legs (/ingress, /backend): link the first
    first_key: dict[str, str] = {}
    for row in plan.rows:
        first_key.setdefault(f"{row.product}/{row.flow_id}", row.key)
    for product in plan.products.values():
        parts.append(el("h3", text(f"{product.document.title} ({product.id})")))
        parts.extend(el("p", text(note), class_="note") for note in product.document.notes)
        for number, table in enumerate(show_tables(product)):
            table_id = f"vendor-{product.id}-{number}"
            rows: list[Row] = []
            for cells, flow_ids in zip(
                table.rows, table.flows or [()] * len(table.rows), strict=True
            ):
                keys = [f"{product.id}/{f}" for f in flow_ids]
                links = ", ".join(
                    el("a", text(f), href=f"#{flow_anchor(first_key.get(k, k))}")
                    + ("" if k in included else " (not needed)")
                    for f, k in zip(flow_ids, keys, strict=True)
                )
                rows.append(([*(text(c) for c in cells), links], {"data_flows": " ".join(keys)}))
            parts.append(
                (el("p", text(table.note), class_="note") if table.note else "")
                + filter_bar(table_id, "Search this table")
                + data_table(table_id, table.title, (*table.columns, "Flows"), rows, kind="vendor")
            )
    return el("section", "".join(parts), aria_labelledby="vendor")


def _components(row: PlannedFlow) -> list[str]:
    if row.product == MANAGEMENT:
        return []
    return [f"{row.product}/{c}" for c in (*row.source_components, *row.destination_components)]


def _end(host: str, component: str, addresses: str, zone: str) -> str:
    sub = [component, addresses, f"zone {zone}" if zone else ""]
    return text(host) + "".join(el("span", text(s), class_="sub") for s in sub if s)


def _findings_cell(index: int, overlay: Overlay, found: RowFindings) -> Cell:
    mine = [f for o, f in found.findings.get(index, ()) if o is overlay]
    if not mine:
        return ("", {"data_sort": "~"})
    worst = min(mine, key=lambda f: list(_MARKS).index(f.status.value)).status.value
    outcomes = ", ".join(dict.fromkeys(f.outcome for f in mine))
    evidence = el(
        "details",
        el("summary", "evidence"),
        el("ul", "".join(el("li", text(f.evidence)) for f in mine)),
        class_="evidence",
    )
    return (
        el("span", f"{_MARKS[worst]} {text(worst)}", class_=f"status {worst}")
        + el("span", text(outcomes), class_="sub")
        + evidence,
        {"data_sort": f"{list(_MARKS).index(worst)} {outcomes}"},
    )


def matrix_section(plan: Plan, overlays: Sequence[Overlay], found: RowFindings) -> str:
    rows = matrix_rows(plan)
    columns = [
        "flow",
        "source",
        "destination",
        "protocol",
        "ports",
        "service",
        "condition",
        "purpose",
    ]
    # one column per results file (once per machine verify ran on): named by its file
    columns.extend(f"{o.title} ({o.origin})" for o in overlays)
    seen: set[str] = set()
    body: list[Row] = []
    hosts: dict[str, None] = {}
    zones: dict[str, None] = {}
    components: dict[str, None] = {}
    conditions: dict[str, None] = {}
    for index, (row, cells) in enumerate(zip(plan.rows, rows, strict=True)):
        (
            key,
            src,
            src_comp,
            src_addr,
            src_zone,
            dst,
            dst_comp,
            dst_addr,
            dst_zone,
            protocol,
            ports,
            listen,
            service,
            _tls,
            purpose,
            condition,
            _configurable,
            _overrides,
            _interface,
            reference,
            *_rest,
        ) = cells
        ports_html = text(ports) + (
            el("span", f"listens on {text(listen)}", class_="sub") if listen else ""
        )
        line: list[Cell] = [
            # the vendor row under the flow id, as the change request names it
            text(key) + el("span", text(reference), class_="sub"),
            _end(src, src_comp, src_addr, src_zone),
            _end(dst, dst_comp, dst_addr, dst_zone),
            text(protocol),
            # ICMP rows (no ports) sort before every port
            (ports_html, {"class_": "ports", "data_sort": f"{_first_port(row):05d}"}),
            text(service),
            text(condition),
            text(purpose),
        ]
        line.extend(_findings_cell(index, o, found) for o in overlays)
        status = found.status.get(index)
        own = _components(row)
        row_zones = [z for z in (src_zone, dst_zone) if z]
        attributes: dict[str, str | bool | None] = {
            "data_row": str(index),
            "data_flowid": f"{row.product}/{row.flow_id}",
            "data_ports": ",".join(str(r) for r in row.ports.ranges),
            "data_protocol": protocol,
            "data_hosts": f"{src}|{dst}",
            "data_zones": "|".join(row_zones),
            "data_components": "|".join(own),
            "data_condition": condition,
            "class_": f"st-{status.value}" if status else None,
            "id": None if key in seen else flow_anchor(key),
        }
        seen.add(key)
        hosts.update({src: None, dst: None})
        zones.update(dict.fromkeys(row_zones))
        components.update(dict.fromkeys(own))
        conditions[condition] = None
        body.append((line, attributes))
    selects = [
        ("components", "Component", sorted(components)),
        ("hosts", "Host", sorted(hosts)),
        ("zones", "Zone", sorted(zones)),
        ("protocol", "Protocol", sorted({r[9] for r in rows})),
        ("condition", "Condition", sorted(conditions)),
    ]
    return el(
        "section",
        el("h2", "Flow matrix", id="matrix-heading"),
        el(
            "p",
            "One row per flow, source host, destination host and protocol: what the firewalls "
            "must let the source open. Replies are not listed (firewalls are stateful).",
            class_="note",
        ),
        filter_bar("matrix", "Search", [s for s in selects if s[2]], port=True),
        data_table("matrix", f"Flow matrix of {plan.deployment}", columns, body, kind="matrix"),
        aria_labelledby="matrix-heading",
    )


def not_needed_section(plan: Plan) -> str:
    rows: list[Row] = [
        (
            [
                text(d.key),
                text(d.reference),
                el("ul", "".join(el("li", text(r)) for r in d.reasons)),
            ],
            {"id": flow_anchor(d.key)},
        )
        for d in excluded(plan)
    ]
    return el(
        "section",
        el("h2", "Rows this deployment does not need", id="not-needed"),
        filter_bar("not-needed-table", "Search"),
        data_table(
            "not-needed-table",
            "Flows not in the plan, with their vendor row and the reason",
            ("flow", "vendor row", "why not"),
            rows,
            kind="other",
            unit="flows",
        ),
        aria_labelledby="not-needed",
    )


def unmatched_section(found: RowFindings) -> str:
    if not found.unmatched:
        return ""
    rows: list[Row] = [
        (
            [
                text(o.title),
                text(o.origin),
                text(f.flow),
                text(f.source or "any"),
                text(f.destination or "any"),
                el("span", text(f.status.value), class_=f"status {f.status.value}"),
                text(f.evidence),
            ],
            {},
        )
        for o, f in found.unmatched
    ]
    return el(
        "section",
        el("h2", "Findings that name no row of this plan", id="unmatched"),
        el(
            "p",
            "These results name flows or hosts this deployment's plan does not have: were they "
            "made from another deployment, or before it changed?",
            class_="note",
        ),
        data_table(
            "unmatched-table",
            "Findings without a row",
            ("overlay", "file", "flow", "source", "destination", "status", "evidence"),
            rows,
            kind="other",
            filtered=False,
        ),
        aria_labelledby="unmatched",
    )


def blocked_section(found: RowFindings) -> str:
    """The probes of what must stay blocked (``verify --expect-blocked``): each names the
    planned row it is next to, or another source's, and verifies neither, so they are listed
    here rather than on a row."""
    if not found.blocked:
        return ""
    rows: list[Row] = []
    for o, f in found.blocked:
        status = "passed" if f.status is Status.PASSED else "failed"
        word = "blocked" if status == "passed" else "not proven blocked"
        # no probe: a part of a forbidden connection that was not probed was never sent
        if f.probe is None:
            sent = "not sent"
        else:
            sent = f.probe.source_address or "this machine (the kernel's address)"
        rows.append(
            (
                [
                    text(o.origin),
                    text(f.flow),
                    text(sent),
                    text(f.destination or ""),
                    (
                        el("span", f"{_MARKS[status]} {word}", class_=f"status {status}")
                        + el("span", text(f.outcome), class_="sub"),
                        {"data_sort": f"{list(_MARKS).index(status)} {f.outcome}"},
                    ),
                    text(f.evidence),
                ],
                {"class_": f"st-{status}"},
            )
        )
    return el(
        "section",
        el("h2", "What must stay blocked", id="blocked"),
        el(
            "p",
            "Probes of connections the plan does not hold (verify --expect-blocked): the ports "
            "beside a planned range, another source's planned ports, the deployment's "
            "forbidden connections. Each passes only when blocked; none of them verifies the "
            "planned row it names.",
            class_="note",
        ),
        data_table(
            "blocked-table",
            "Probes expected blocked",
            ("file", "next to flow", "sent from", "destination", "result", "evidence"),
            rows,
            kind="other",
            filtered=False,
        ),
        aria_labelledby="blocked",
    )
