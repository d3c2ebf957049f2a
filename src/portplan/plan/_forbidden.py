"""The connections a deployment declares must stay blocked, checked against its own rows."""

from __future__ import annotations

from collections.abc import Sequence

from portplan._errors import Problem
from portplan.model.deployment import Deployment
from portplan.model.ports import PortSet
from portplan.plan._types import ForbiddenFlow, PlannedFlow
from portplan.spaces import describe_box, flow_space

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
            if clash:
                problems.append(
                    Problem(
                        path=("forbidden", index),
                        message=f"forbidden connection {flow.id!r} forbids what flow "
                        f"{row.key} needs ({describe_box(clash.normalised().boxes[0])})",
                        hint="narrow the forbidden ports or hosts, or take the flow out",
                    )
                )
                break
    return tuple(found)
