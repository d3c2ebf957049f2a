"""The rows of one flow leg, host pair by host pair: who reaches whom, on which port sets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from typing import Protocol as _Protocol

from portplan.model.deployment import Deployment, Host
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import Flow, Product
from portplan.plan._placement import Placement
from portplan.plan._types import LOOPBACK, Decision, FlowFacts, Hop, PlannedFlow

__all__ = ["RowFactory", "RowSource"]


def _row_builder() -> Callable[..., PlannedFlow]:
    """A function that makes a :class:`PlannedFlow` from its fields, in their order.

    The dataclass is frozen, so its ``__init__`` sets each of the 11 fields through a looked-up
    ``object.__setattr__`` (about 1.5 microseconds a row); a plan has hundreds of thousands of
    rows.  This sets them through the fields' own slot descriptors (about 0.5): the same
    object, equal to what ``PlannedFlow(...)`` gives, and as frozen afterwards.
    """
    names = [field.name for field in dataclasses.fields(PlannedFlow)]
    setters = [PlannedFlow.__dict__[name].__set__ for name in names]
    if len(setters) != 11:  # pragma: no cover - the function below names each field
        raise RuntimeError(f"PlannedFlow has {len(setters)} fields; _row_builder knows 11")
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10 = setters
    new = object.__new__

    def row(*values: Any) -> PlannedFlow:
        made: PlannedFlow = new(PlannedFlow)
        v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10 = values
        s0(made, v0)
        s1(made, v1)
        s2(made, v2)
        s3(made, v3)
        s4(made, v4)
        s5(made, v5)
        s6(made, v6)
        s7(made, v7)
        s8(made, v8)
        s9(made, v9)
        s10(made, v10)
        return made

    return row


#: ``PlannedFlow(...)`` of every field, positionally and fast (see :func:`_row_builder`)
_new_row = _row_builder()


class RowSource(_Protocol):
    """What the rows of a flow need from the expander of its product."""

    deployment: Deployment
    product: Product
    placement: Placement
    #: the deployment's hosts and the synthetic host anywhere
    hosts: Mapping[str, Host]

    def dynamic_for(
        self, flow: Flow, host_name: str, decision: Decision
    ) -> tuple[PortRange, ...] | None:
        """The flow's dynamic range on a host (None when it cannot be known)."""
        ...


class RowFactory:
    """Emits the rows of one flow, host pair by host pair."""

    def __init__(
        self,
        ex: RowSource,
        flow: Flow,
        key: str,
        condition: str | None,
        overrides: tuple[str, ...],
        decision: Decision,
        out: list[PlannedFlow],
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
        out = self.out
        before = len(out)
        local = 0
        mesh: list[str] = []
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
        source_set = frozenset(sources)
        leaves = self.ex.placement.leaves_of(source_components)
        only = leaves[0] if len(leaves) == 1 else None
        components_on = self.ex.placement.components_on
        dynamic = (
            dynamic_flow if dynamic_flow is not None and dynamic_flow.dynamic is not None else None
        )
        port_sets = _PortSets(ports, listen)
        for dst in destinations:
            if loopback:  # a loopback flow stays on each host that runs both ends
                pairs: Sequence[str] = (dst,) if dst in source_set else ()
            elif dst in source_set and hosts[dst].is_group:  # between the members: a mesh
                mesh.append(dst)
                pairs = sources
            elif dst in source_set:  # a host does not cross the network to reach itself
                local += 1
                pairs = [src for src in sources if src != dst]
            else:
                pairs = sources
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
            dst_addresses = LOOPBACK if loopback else dst_host.addresses
            dst_zone = dst_host.zone
            for src in pairs:
                src_host = hosts[src]
                out.append(
                    _new_row(  # the fields of PlannedFlow, in order
                        facts,
                        src,
                        only or components_on(src, source_components),
                        LOOPBACK if loopback else src_host.addresses,
                        src_host.zone,
                        dst,
                        dst_addresses,
                        dst_zone,
                        port_set,
                        listen_set,
                        dynamic_set,
                    )
                )
        self.decision.rows += len(out) - before
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


def _members(host: Host) -> str:
    if host.cluster:
        return f"cluster of {len(host.addresses)} machines"
    return "a network of machines"


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
