"""What each host does in ``portplan verify --inventory``: a source's probe requests, a
destination's listeners, and the inventory host that stands for each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portplan._errors import InventoryError, VerifyError
from portplan.load.inventory import InventoryHost, deployment_hosts
from portplan.plan import Plan
from portplan.probe.listen import listen_plan
from portplan.probe.local import single_address
from portplan.probe.planned import plan_checks
from portplan.probe.remote import request_of
from portplan.probe.verify import FlowCheck, Skipped

__all__ = ["DestinationWork", "Fanout", "SourceWork", "outside_limit", "plan_fanout"]


@dataclass(slots=True, kw_only=True)
class SourceWork:
    """One source host: the checks planned for it, and the requests that probe them there."""

    host: str  #: the deployment host
    inventory_host: InventoryHost
    checks: list[FlowCheck]
    requests: list[dict[str, Any]]


@dataclass(slots=True, kw_only=True)
class DestinationWork:
    """One destination host: the listeners it opens before the sources probe."""

    host: str
    inventory_host: InventoryHost
    listeners: list[dict[str, Any]]


@dataclass(slots=True, kw_only=True)
class Fanout:
    """Everything ``verify --inventory`` asks of the hosts, and the rows it cannot probe."""

    sources: dict[str, SourceWork]
    destinations: dict[str, DestinationWork] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    #: the source hosts with planned flows that ``--limit`` left out (their rows are in
    #: ``skipped``, with the reason)
    left_out: list[str] = field(default_factory=list)

    @property
    def probes(self) -> int:
        return sum(len(work.checks) for work in self.sources.values())


def _requests(plan: Plan, checks: Sequence[FlowCheck], own: Sequence[str]) -> list[dict[str, Any]]:
    """One request per (row, destination address), holding all its ports, in plan order."""
    rows = {id(row): row for row in plan.rows}
    grouped: dict[tuple[int, str], dict[str, Any]] = {}
    for check in checks:
        key = (id(check.row), check.probe.address)
        request = grouped.get(key)
        if request is None:
            row = rows[id(check.row)]
            planned = [str(r) for r in row.ports.ranges]
            grouped[key] = request_of(check, own, planned, loopback=row.loopback)
        elif check.probe.port is not None:  # (an ICMP request is one echo, no port)
            request["ports"].append(check.probe.port)
    return list(grouped.values())


def _own(plan: Plan, host: str) -> list[str]:
    return [a for a in (single_address(n) for n in plan.host_addresses(host)) if a]


def outside_limit(source: str, limit: str) -> str:
    """Why a row of ``source`` is not probed when ``--limit`` left its host out."""
    return (
        f"from {source}, which --limit {limit} leaves out: not verified in this run (widen "
        "--limit, or leave it out, to verify it)"
    )


def _outside(
    plan: Plan, skipped: list[Skipped], left_out: list[str], limit: str, flows: Sequence[str]
) -> list[Skipped]:
    """``skipped``, and every row (of ``flows``, if given) from a ``left_out`` source as not
    probed outside ``limit``, in plan order."""
    wanted = set(flows)
    outside = [
        Skipped(row=row, reason=outside_limit(row.source, limit))
        for row in plan.rows
        if row.source in left_out and (not wanted or {row.key, row.flow_id} & wanted)
    ]
    order = {id(row): i for i, row in enumerate(plan.rows)}
    return sorted([*skipped, *outside], key=lambda s: order[id(s.row)])


def plan_fanout(
    plan: Plan,
    inventory: dict[str, InventoryHost],
    *,
    where: str,
    flows: Sequence[str] = (),
    listeners: bool = False,
    limit: str | None = None,
) -> Fanout:
    """The work of every source host of ``plan`` that ``inventory`` can reach.

    Every source with planned flows must be in the inventory (by name or through
    ``portplan_host``), unless ``limit`` (the Ansible host pattern ``inventory`` was narrowed
    with): then only the sources it holds are verified, and every row from another managed
    source is reported as not probed, outside the limit (:attr:`Fanout.left_out` names those
    sources); with ``listeners``, so must every destination of their flows.
    :class:`InventoryError` lists each host it lacks.
    """
    sources = list(dict.fromkeys(row.source for row in plan.rows))
    left_out: list[str] = []
    if limit is not None:
        present = {host.stands_for for host in inventory.values()}
        if not any(s in present for s in sources):
            raise InventoryError(
                f"no source host of deployment {plan.deployment} is among the inventory hosts "
                f"--limit {limit} selects"
            )
        # a host portplan does not manage is never probed: its rows say why, limit or not
        left_out = [s for s in sources if s not in present and plan.hosts[s].managed]
        sources = [s for s in sources if s not in left_out]
    # each source host probes for itself: it picks its own addresses, and a member of a
    # cluster leaves itself out (see portplan.probe.remote)
    checks, skipped = plan_checks(plan, sources, flows=flows, local=set(), here=False)
    if not checks and not skipped:
        selected = "" if limit is None else f", the sources --limit {limit} selects"
        raise VerifyError(f"no planned flow starts on {', '.join(sources)}{selected}")
    if left_out and limit is not None:
        skipped = _outside(plan, skipped, left_out, limit, flows)
        left_out = list(dict.fromkeys(s.row.source for s in skipped if s.row.source in left_out))
    by_source: dict[str, list[FlowCheck]] = {}
    for check in checks:
        by_source.setdefault(check.row.source, []).append(check)
    destinations = (
        list(dict.fromkeys(c.row.destination for c in checks if c.row.source != c.row.destination))
        if listeners
        else []
    )
    loopback_listeners = (
        {row.source for row in plan.rows if row.loopback and row.source in by_source}
        if listeners
        else set()
    )
    # a host that is a source and a destination too is looked up (and named) once
    wanted = dict.fromkeys([*by_source, *destinations, *loopback_listeners])
    found, problems = deployment_hosts(inventory, wanted, where=where)
    if problems:
        raise InventoryError("; ".join(problems))
    fanout = Fanout(
        sources={
            host: SourceWork(
                host=host,
                inventory_host=found[host],
                checks=host_checks,
                requests=_requests(plan, host_checks, _own(plan, host)),
            )
            for host, host_checks in by_source.items()
        },
        skipped=skipped,
        left_out=left_out,
    )
    for host in dict.fromkeys([*destinations, *loopback_listeners]):
        bindings = listen_plan(plan, host, _own(plan, host)).bindings
        if bindings:
            fanout.destinations[host] = DestinationWork(
                host=host,
                inventory_host=found[host],
                listeners=[
                    {
                        "address": b.address,
                        "port": b.port,
                        "protocol": b.protocol.value,
                        "flows": list(b.flows),
                    }
                    for b in bindings
                ],
            )
    return fanout
