"""The rows of the flow matrix as a change request's text: its columns, one string each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from portplan.model._types import network_text
from portplan.model.icmp import icmp_text
from portplan.model.ports import PortSet
from portplan.plan import MANAGEMENT, Decision, FlowFacts, Plan

__all__ = [
    "MATRIX_COLUMNS",
    "TABLE_COLUMNS",
    "WIDTHS",
    "Counts",
    "counts",
    "excluded",
    "iter_matrix_rows",
    "leg_cells",
    "matrix_rows",
    "name_only_text",
    "openings",
    "zone_boundary",
]


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
WIDTHS = {"purpose": 60, "reference": 50, "overrides": 40}


def _address_text(nets: Sequence[Any]) -> str:
    return ", ".join(network_text(n) for n in nets)


def name_only_text(plan: Plan, host: str) -> str:
    """The address column of a host known by its DNS name only (no addresses): the name,
    which is what the firewall team must open towards."""
    found = plan.hosts.get(host)
    return (found.dns_name or "") if found is not None else ""


def zone_boundary(source_zone: str | None, destination_zone: str | None) -> str:
    """``dmz -> internal``: the zone firewall a row crosses, or empty within one zone."""
    if source_zone and destination_zone and source_zone != destination_zone:
        return f"{source_zone} -> {destination_zone}"
    return ""


def leg_cells(facts: FlowFacts) -> tuple[str, ...]:
    """The columns ``service`` to ``reference``: what every row of a flow leg shares."""
    return (
        facts.service or "",
        "yes" if facts.tls else "no",
        facts.purpose,
        facts.condition or "always",
        facts.configurable,
        "; ".join(facts.overrides),
        facts.interface or "",
        facts.reference,
    )


def matrix_rows(plan: Plan) -> list[tuple[str, ...]]:
    """One tuple of strings per matrix row, in the order of :data:`MATRIX_COLUMNS`."""
    return list(iter_matrix_rows(plan))


def iter_matrix_rows(plan: Plan) -> Iterator[tuple[str, ...]]:
    """:func:`matrix_rows` one at a time (a large matrix need not be held as text)."""
    # Rows share their hosts' address tuples and port sets: format each one once.
    addresses: dict[int, str] = {}
    ports: dict[int, str] = {}

    def address_text(nets: tuple[Any, ...]) -> str:
        text = addresses.get(id(nets))
        if text is None:
            text = addresses[id(nets)] = _address_text(nets)
        return text

    def address_or_name(nets: tuple[Any, ...], host: str) -> str:
        return address_text(nets) if nets else name_only_text(plan, host)

    def ports_text(port_set: PortSet | None) -> str:
        if port_set is None:
            return ""
        text = ports.get(id(port_set))
        if text is None:
            text = ports[id(port_set)] = str(port_set)
        return text

    legs: dict[int, tuple[str, ...]] = {}

    def leg(facts: FlowFacts) -> tuple[str, ...]:
        found = legs.get(id(facts))
        if found is None:
            found = legs[id(facts)] = leg_cells(facts)
        return found

    for row in plan.rows:
        facts = row.facts
        yield (
            facts.key,
            row.source,
            row.source_component,
            address_or_name(row.source_addresses, row.source),
            row.source_zone or "",
            row.destination,
            facts.destination_component,
            address_or_name(row.destination_addresses, row.destination),
            row.destination_zone or "",
            facts.protocol.value,
            icmp_text(facts.icmp) if facts.icmp else ports_text(row.ports),
            ports_text(row.listen_ports),
            *leg(facts),
            zone_boundary(row.source_zone, row.destination_zone),
            "" if facts.loopback else row.destination,
        )


def excluded(plan: Plan) -> list[Decision]:
    return [d for d in plan.decisions if not d.included]


class Counts(NamedTuple):
    """How much of what the products and the deployment ask for the plan holds: each pair is
    (in the plan, in all)."""

    vendor_rows: tuple[int, int]  #: a row split into flows (part 1, part 2) is one
    product_flows: tuple[int, int]
    management: tuple[int, int]  #: the deployment's ``management:`` entries


def counts(plan: Plan) -> Counts:
    """What the plan holds of the vendor rows, the product flows and the management entries:
    a flow or an entry is in the plan when it gives rows (the two legs of a flow through an
    ingress are one flow), a vendor row when one of its flows does."""
    planned = {(r.product, r.flow_id) for r in plan.rows}
    rows: dict[tuple[str, str | None, int], bool] = {}
    where = {
        (product.id, f.id): (product.id, f.section, f.row)
        for product in plan.products.values()
        for f in product.flows
    }
    flows = [0, 0]
    management = [0, 0]
    for decision in plan.decisions:
        held = (decision.product, decision.flow_id) in planned
        if decision.product == MANAGEMENT:
            management[0] += held
            management[1] += 1
            continue
        flows[0] += held
        flows[1] += 1
        # a flow of a product the plan does not carry is a row of its own
        key = where.get((decision.product, decision.flow_id), (decision.key, None, 0))
        rows[key] = rows.get(key, False) or held
    return Counts(
        vendor_rows=(sum(rows.values()), len(rows)),
        product_flows=(flows[0], flows[1]),
        management=(management[0], management[1]),
    )


def openings(rows: Sequence[Sequence[str]]) -> list[tuple[str, str, int]]:
    """How many matrix rows (openings) each firewall must carry: ``("host", "shop01", 12)``
    for each host firewall, then ``("zone", "clients -> servers", 30)`` for each zone
    firewall a row crosses; by name within each kind."""
    host = MATRIX_COLUMNS.index("host_firewall")
    zone = MATRIX_COLUMNS.index("zone_boundary")
    found: list[tuple[str, str, int]] = []
    for kind, column in (("host", host), ("zone", zone)):
        counts: dict[str, int] = {}
        for row in rows:
            if row[column]:
                counts[row[column]] = counts.get(row[column], 0) + 1
        found.extend((kind, name, counts[name]) for name in sorted(counts))
    return found
