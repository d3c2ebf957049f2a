"""The rows of one flow leg, host pair by host pair: who reaches whom, on which port sets,
kept as a :class:`~portplan.plan._legs.Leg` (its destinations, each with its sources)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol as _Protocol

from portplan.model.deployment import Deployment, Host
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import Flow, Product
from portplan.plan._legs import Leg, LegEnd, SourceEnd
from portplan.plan._placement import Placement
from portplan.plan._types import LOOPBACK, Decision, FlowFacts, Hop

__all__ = ["RowFactory", "RowSource", "several_machines"]


class RowSource(_Protocol):
    """What the rows of a flow need from the expander of its product."""

    deployment: Deployment
    product: Product
    placement: Placement
    #: the deployment's hosts and the synthetic host anywhere
    hosts: Mapping[str, Host]
    #: the source columns of rows, made once per (host, component, loopback) for the plan
    source_ends: dict[tuple[str, str, bool], SourceEnd]
    #: the same for a whole list of sources, and its set of names (see RowFactory)
    source_lists: dict[
        tuple[tuple[str, ...], tuple[str, ...], bool], tuple[tuple[SourceEnd, ...], frozenset[str]]
    ]

    def dynamic_for(
        self, flow: Flow, host_name: str, decision: Decision
    ) -> tuple[PortRange, ...] | None:
        """The flow's dynamic range on a host (None when it cannot be known)."""
        ...


class RowFactory:
    """Emits the rows of one flow: a :class:`Leg` per call of :meth:`rows`."""

    def __init__(
        self,
        ex: RowSource,
        flow: Flow,
        key: str,
        condition: str | None,
        overrides: tuple[str, ...],
        decision: Decision,
        out: list[Leg],
    ) -> None:
        self.ex = ex
        self.flow = flow
        self.key = key
        self.condition = condition
        self.overrides = overrides
        self.decision = decision
        self.out = out
        self.reference = decision.reference
        #: the port parameters of the next leg's ports (see FlowFacts.parameters)
        self.named: tuple[tuple[str, PortSet], ...] = ()

    def rows(
        self,
        hop: Hop,
        sources: tuple[str, ...],
        source_components: tuple[str, ...],
        destinations: tuple[str, ...],
        destination_component: str,
        ports: tuple[PortRange, ...],
        listen: tuple[PortRange, ...] | None,
        dynamic_flow: Flow | None,
    ) -> None:
        hosts = self.ex.hosts
        flow = self.flow
        loopback = flow.loopback
        local = 0
        count = 0
        mesh: list[str] = []
        ends: list[LegEnd] = []
        facts = FlowFacts(
            key=self.key if hop is Hop.DIRECT else f"{self.key}/{hop.value}",
            product=self.ex.product.id,
            flow_id=flow.id,
            hop=hop,
            destination_component=destination_component,
            protocol=flow.protocol,
            loopback=loopback,
            service=flow.service,
            app_protocol=flow.app_protocol.value if flow.app_protocol else None,
            tls=flow.tls,
            purpose=flow.purpose,
            condition=self.condition,
            configurable=flow.configurable.kind.value,
            overrides=self.overrides,
            interface=flow.interface.value if flow.interface else None,
            reference=self.reference,
            parameters=self.named,
            icmp=tuple(t.value for t in flow.icmp),
        )
        everyone, source_set = self._source_ends(sources, source_components)
        dynamic = (
            dynamic_flow if dynamic_flow is not None and dynamic_flow.dynamic is not None else None
        )
        port_sets = _PortSets(ports, listen)
        by_name = {end.name: (end,) for end in everyone} if loopback else {}
        for dst in destinations:
            pairs: tuple[SourceEnd, ...]
            if loopback:  # a loopback flow stays on each host that runs both ends
                pairs = by_name.get(dst, ())
            elif dst in source_set and several_machines(hosts[dst]):  # between the members: a mesh
                mesh.append(dst)
                pairs = everyone
            elif dst in source_set:  # a host does not cross the network to reach itself
                local += 1
                pairs = tuple(s for s in everyone if s.name != dst)
            else:
                pairs = everyone
            if not pairs:
                continue
            extra: tuple[PortRange, ...] = ()
            if dynamic is not None:
                found = self.ex.dynamic_for(dynamic, dst, self.decision)
                if found is None:
                    continue
                extra = found
            port_set, listen_set, dynamic_set = port_sets.with_range(extra)
            dst_host = hosts[dst]
            ends.append(
                LegEnd(
                    dst,
                    LOOPBACK if loopback else dst_host.addresses,
                    dst_host.zone,
                    port_set,
                    listen_set,
                    dynamic_set,
                    pairs,
                )
            )
            count += len(pairs)
        if ends:
            self.out.append(Leg(facts, tuple(ends)))
        self.decision.rows += count
        if local:
            self.decision.reasons.append(
                f"{local} host pair(s) skipped: source and destination are the same host "
                "(local traffic, no network flow)"
            )
        for host in mesh:
            self.decision.reasons.append(
                f"between the members of {host} ({_members(hosts[host])}): one row from the "
                "host to itself, so each member reaches the others"
            )

    def _source_ends(
        self, sources: tuple[str, ...], components: tuple[str, ...]
    ) -> tuple[tuple[SourceEnd, ...], frozenset[str]]:
        """The source columns of ``sources`` for rows from ``components``, and the sources'
        names as a set: each column made once per plan, so that the rows of every leg share
        them, and the whole once per distinct list (the flows of the 50,000 clients of a
        deployment all come from the same list)."""
        loopback = self.flow.loopback
        found = self.ex.source_lists.get((sources, components, loopback))
        if found is not None:
            return found
        hosts, cache = self.ex.hosts, self.ex.source_ends
        placement = self.ex.placement
        leaves = placement.leaves_of(components)
        if len(leaves) == 1:
            on: Sequence[str] = [leaves[0]] * len(sources)
        else:
            on = placement.components_on(sources, components)
        ends: list[SourceEnd] = []
        for name, component in zip(sources, on, strict=True):
            end = cache.get((name, component, loopback))
            if end is None:
                host = hosts[name]
                end = cache[(name, component, loopback)] = SourceEnd(
                    name, component, LOOPBACK if loopback else host.addresses, host.zone
                )
            ends.append(end)
        found = self.ex.source_lists[(sources, components, loopback)] = (
            tuple(ends),
            frozenset(sources),
        )
        return found


def _machines(host: Host) -> int | None:
    """How many machines a host stands for: ``None`` for a network (too many to count)."""
    if any(address.num_addresses > 1 for address in host.addresses):
        return None
    return len(host.addresses) if host.cluster else 1


def several_machines(host: Host) -> bool:
    """Whether a host stands for several machines, which reach each other over the network (a
    cluster of one member is a single machine: its traffic to itself stays local)."""
    count = _machines(host)
    return count is None or count > 1


def _members(host: Host) -> str:
    count = _machines(host)
    if host.cluster and count is not None:
        return f"cluster of {count} machines"
    return "a cluster of networks" if host.cluster else "a network of machines"


_Sets = tuple[PortSet, PortSet | None, PortSet | None]  #: ports, listen ports, dynamic ports


class _PortSets:
    """The port sets of one leg's rows: the same for every destination but for its dynamic range.

    Computed once per range, found by the range tuple itself: the hosts of one platform share it.
    """

    def __init__(self, ports: tuple[PortRange, ...], listen: tuple[PortRange, ...] | None) -> None:
        self.ports = ports
        self.listen = listen
        self._by_range: dict[int, tuple[tuple[PortRange, ...], _Sets]] = {}

    def with_range(self, extra: tuple[PortRange, ...]) -> _Sets:
        """The sets with the dynamic range ``extra`` added (``()`` for a flow without one)."""
        found = self._by_range.get(id(extra))
        if found is not None and found[0] is extra:
            return found[1]
        sets = (
            PortSet.of((*self.ports, *extra)),
            PortSet.of((*self.listen, *extra)) if self.listen is not None else None,
            PortSet.of(extra) or None,
        )
        self._by_range[id(extra)] = (extra, sets)
        return sets
