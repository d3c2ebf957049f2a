"""The connections a deployment declares must stay blocked, checked against its own rows."""

from __future__ import annotations

from collections.abc import Sequence

from portplan._errors import Problem
from portplan.model._types import Network, Protocol
from portplan.model.deployment import Deployment
from portplan.model.ports import PortSet
from portplan.plan._types import ANYWHERE, ForbiddenFlow, PlannedFlow
from portplan.spaces import (
    describe_box,
    flow_space,
    icmp_space_ranges,
    networks_ranges,
    port_set_ranges,
    ports_text,
)

__all__ = ["forbidden_flows"]


def forbidden_flows(
    deployment: Deployment, rows: Sequence[PlannedFlow], problems: list[Problem]
) -> tuple[ForbiddenFlow, ...]:
    """The ``forbidden:`` entries; a problem for each that forbids what a row needs (a
    deployment cannot both need and forbid one connection)."""
    hosts = deployment.hosts
    found = []
    for index, entry in enumerate(deployment.forbidden):
        flow = ForbiddenFlow(
            id=entry.id,
            sources=tuple(entry.source or ()),
            destinations=tuple(entry.destination),
            protocol=entry.protocol,
            ports=PortSet.of(entry.ports or ()),
            purpose=entry.purpose,
            icmp=tuple(t.value for t in entry.icmp),
        )
        found.append(flow)
        sources = [n for h in (flow.sources or tuple(hosts)) for n in hosts[h].addresses]
        destinations = [n for h in flow.destinations for n in hosts[h].addresses]
        # a source known by name only is some machine of anywhere, whatever its name resolves to
        nameless = any(not hosts[h].addresses for h in (flow.sources or tuple(hosts)))
        space = flow_space(sources, destinations, flow.protocol, flow.ports, flow.icmp)
        for row in rows:
            if row.loopback or row.protocol is not flow.protocol:
                continue
            clash = space & flow_space(
                row.source_addresses,
                row.destination_addresses,
                row.protocol,
                row.ports,
                row.facts.icmp,
            )
            what = (
                describe_box(clash.normalised().boxes[0])
                if clash
                else _by_name(flow, row, sources, destinations, nameless)
            )
            if what:
                problems.append(
                    Problem(
                        path=("forbidden", index),
                        message=f"forbidden connection {flow.id!r} forbids what flow "
                        f"{row.key} needs ({what})",
                        hint="narrow the forbidden ports or hosts, or take the flow out",
                    )
                )
                break
    return tuple(found)


def _by_name(
    flow: ForbiddenFlow,
    row: PlannedFlow,
    sources: Sequence[Network],
    destinations: Sequence[Network],
    nameless: bool,
) -> str | None:
    """The connection both forbid and need where the row has an end known by name only (no
    address to compare): that end by its host's name (a forbidden entry names hosts), the
    other by its addresses (``sources``, ``destinations``: the entry's), on ports or
    messages they share; and where the entry names a source known by name only
    (``nameless``) and the row comes from anywhere, which holds that source's addresses."""
    from_anywhere = nameless and row.source == ANYWHERE
    if row.source_addresses and row.destination_addresses and not from_anywhere:
        return None
    if row.destination_addresses:
        to = _overlap(row.destination_addresses, destinations)
    else:
        to = row.destination in flow.destinations
    if row.source_addresses:
        fro = from_anywhere or _overlap(row.source_addresses, sources)
    else:
        fro = not flow.sources or row.source in flow.sources
    if not (to and fro):
        return None
    if flow.protocol is Protocol.ICMP:
        shared = any(
            icmp_space_ranges(flow.icmp, family) & icmp_space_ranges(row.icmp, family)
            for family in (4, 6)
        )
        opening = row.opening
    else:
        both = port_set_ranges(flow.ports) & port_set_ranges(row.ports)
        shared = bool(both)
        opening = f"{row.protocol.value}/{ports_text(both)}"
    return f"{row.source} -> {row.destination} {opening}" if shared else None


def _overlap(ours: Sequence[Network], theirs: Sequence[Network]) -> bool:
    return any(networks_ranges(ours, family) & networks_ranges(theirs, family) for family in (4, 6))
