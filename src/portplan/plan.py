"""Product x deployment → the concrete flow matrix.  The one place that expands.

For every product of a deployment and every flow of that product, :func:`build_plan` decides
whether the flow applies (its conditions over the deployment's features, and whether its
components are placed), resolves its ports (parameter overrides, platform-dependent dynamic
ranges), resolves the ingress mapping, and emits one :class:`PlannedFlow` per
(source host, destination host, protocol).  Every decision is kept so ``--explain`` can say why
a flow is in or out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from portplan.errors import Diagnostic, PlanError
from portplan.load.deployment import Bundle
from portplan.load.validate import choice_hint, describe_ports
from portplan.model._types import Network, ParamRef, Protocol
from portplan.model.conditions import And, Condition
from portplan.model.deployment import Deployment, Host, ProductBinding
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import ComponentKind, Flow, Product

__all__ = ["Decision", "Hop", "Plan", "PlannedFlow", "build_plan"]

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


class Hop(StrEnum):
    """Which leg of a flow a row is."""

    DIRECT = "direct"  #: source reaches the destination itself
    INGRESS = "ingress"  #: source reaches the ingress proxy in front of the destination
    BACKEND = "backend"  #: the ingress proxy reaches the destination's internal port


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowFacts:
    """What every row of one flow leg shares: its id, protocol, service, purpose, condition."""

    key: str  #: stable id: ``product/flow`` plus ``/ingress`` or ``/backend`` for proxied legs
    product: str
    flow_id: str
    hop: Hop
    destination_component: str
    protocol: Protocol
    loopback: bool
    service: str | None
    app_protocol: str | None
    tls: bool
    purpose: str
    condition: str | None
    configurable: str
    overrides: tuple[str, ...]
    interface: str | None
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedFlow:
    """One row of the flow matrix: a source host may open connections to a destination host.

    The facts shared by all rows of a flow live in :attr:`facts` (and read as attributes here).
    """

    facts: FlowFacts
    source: str
    source_component: str
    source_addresses: tuple[Network, ...]
    source_zone: str | None
    destination: str
    destination_addresses: tuple[Network, ...]
    destination_zone: str | None
    ports: PortSet
    listen_ports: PortSet | None  #: where the service listens, when it differs from ``ports``
    #: the part of ``ports`` that is the destination's dynamic range (Windows RPC), if any;
    #: per row, not in :class:`FlowFacts`, because it depends on the destination's platform
    dynamic_ports: PortSet | None = None

    @property
    def key(self) -> str:
        return self.facts.key

    @property
    def product(self) -> str:
        return self.facts.product

    @property
    def flow_id(self) -> str:
        return self.facts.flow_id

    @property
    def hop(self) -> Hop:
        return self.facts.hop

    @property
    def destination_component(self) -> str:
        return self.facts.destination_component

    @property
    def protocol(self) -> Protocol:
        return self.facts.protocol

    @property
    def loopback(self) -> bool:
        return self.facts.loopback

    @property
    def service(self) -> str | None:
        return self.facts.service

    @property
    def app_protocol(self) -> str | None:
        return self.facts.app_protocol

    @property
    def tls(self) -> bool:
        return self.facts.tls

    @property
    def purpose(self) -> str:
        return self.facts.purpose

    @property
    def condition(self) -> str | None:
        return self.facts.condition

    @property
    def configurable(self) -> str:
        return self.facts.configurable

    @property
    def overrides(self) -> tuple[str, ...]:
        return self.facts.overrides

    @property
    def interface(self) -> str | None:
        return self.facts.interface

    @property
    def reference(self) -> str:
        return self.facts.reference


@dataclass(slots=True, kw_only=True)
class Decision:
    """Why a product flow is in the plan or not, and what shaped its rows."""

    key: str
    product: str
    flow_id: str
    reference: str
    included: bool = False
    reasons: list[str] = field(default_factory=list)
    rows: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The concrete flow matrix of a deployment, with the decision behind every product flow."""

    deployment: str
    rows: tuple[PlannedFlow, ...]
    decisions: tuple[Decision, ...]
    warnings: tuple[str, ...]
    hosts: Mapping[str, Host]  #: the deployment's hosts, by name
    _by_host: dict[str, list[PlannedFlow]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def rows_of(self, host: str) -> list[PlannedFlow]:
        """The rows that start or end on ``host``, in plan order (indexed once per plan)."""
        if not self._by_host and self.rows:
            for row in self.rows:
                self._by_host.setdefault(row.destination, []).append(row)
                if row.source != row.destination:
                    self._by_host.setdefault(row.source, []).append(row)
        return self._by_host.get(host, [])

    def host_addresses(self, host: str) -> tuple[Network, ...]:
        """The addresses of a host of the deployment."""
        return self.hosts[host].addresses

    def decision(self, flow: str) -> Decision | None:
        """Find a decision by ``product/flow`` or by a flow id that only one product has."""
        exact = [d for d in self.decisions if d.key == flow]
        if exact:
            return exact[0]
        short = [d for d in self.decisions if d.flow_id == flow.split("/", maxsplit=1)[0]]
        return short[0] if len(short) == 1 else None


def reference(product: Product, flow: Flow) -> str:
    """Where in the vendor document a flow's row is: ``<title> > <section> > row N``."""
    parts = [product.document.title]
    section = product.section(flow.section) if flow.section else None
    if section is not None:
        parts.append(section.title)
    row = f"row {flow.row}" + (f" (part {flow.part})" if flow.part else "")
    parts.append(row)
    return " > ".join(parts)


def build_plan(bundle: Bundle) -> Plan:
    """Expand a loaded deployment into its flow matrix; raise :class:`PlanError` if it cannot."""
    rows: list[PlannedFlow] = []
    decisions: list[Decision] = []
    warnings: list[str] = []
    problems: list[Diagnostic] = []
    for product_id, binding in bundle.deployment.products.items():
        expander = _Expander(bundle, bundle.products[product_id], binding)
        for flow in expander.product.flows:
            decision = expander.expand(flow, rows)
            decisions.append(decision)
        warnings.extend(expander.warnings)
        problems.extend(expander.problems)
    _management(bundle.deployment, rows, decisions)
    if problems:
        raise PlanError(_unique(problems))
    return Plan(
        deployment=bundle.deployment.name,
        rows=tuple(rows),
        decisions=tuple(decisions),
        warnings=tuple(dict.fromkeys(warnings)),
        hosts=bundle.deployment.hosts,
    )


MANAGEMENT = "management"


def _management(deployment: Deployment, out: list[PlannedFlow], decisions: list[Decision]) -> None:
    """Rows for the operator access the deployment declares (``management:``)."""
    hosts = deployment.hosts
    for access in deployment.management:
        key = f"{MANAGEMENT}/{access.id}"
        decision = Decision(
            key=key, product=MANAGEMENT, flow_id=access.id, reference="deployment management access"
        )
        decision.reasons.append("management access declared by the deployment: always kept")
        targets = access.destination or tuple(
            name for name, host in hosts.items() if not host.is_group
        )
        facts = FlowFacts(
            key=key,
            product=MANAGEMENT,
            flow_id=access.id,
            hop=Hop.DIRECT,
            destination_component=MANAGEMENT,
            protocol=access.protocol,
            loopback=False,
            service=None,
            app_protocol=None,
            tls=False,
            purpose=access.purpose,
            condition=None,
            configurable="yes",
            overrides=(),
            interface=None,
            reference=decision.reference,
        )
        ports = PortSet.of(access.ports)
        for dst in targets:
            for src in access.source:
                if src == dst:
                    continue
                out.append(
                    PlannedFlow(
                        facts=facts,
                        source=src,
                        source_component=MANAGEMENT,
                        source_addresses=hosts[src].addresses,
                        source_zone=hosts[src].zone,
                        destination=dst,
                        destination_addresses=hosts[dst].addresses,
                        destination_zone=hosts[dst].zone,
                        ports=ports,
                        listen_ports=None,
                    )
                )
                decision.rows += 1
        decision.included = decision.rows > 0
        decisions.append(decision)


def _unique(problems: Iterable[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(problems))


class _Expander:
    def __init__(self, bundle: Bundle, product: Product, binding: ProductBinding) -> None:
        self.bundle = bundle
        self.deployment: Deployment = bundle.deployment
        self.product = product
        self.binding = binding
        self.base = ("products", product.id)
        self.features: dict[str, bool] = {
            name: binding.features.get(name, feature.default)
            for name, feature in product.features.items()
        }
        self.warnings: list[str] = []
        self.problems: list[Diagnostic] = []
        self._hosts_cache: dict[str, tuple[str, ...]] = {}
        self._host_set_cache: dict[str, frozenset[str]] = {}
        self._dynamic_cache: dict[tuple[str, str], tuple[tuple[PortRange, ...] | None, str]] = {}
        self._leaves_cache: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._components_cache: dict[tuple[str, tuple[str, ...]], str] = {}

    # -- placement ---------------------------------------------------------------------------

    def hosts_of(self, component: str) -> tuple[str, ...]:
        """Hosts of a component: its own placement, else its main component's, or its members'."""
        cached = self._hosts_cache.get(component)
        if cached is not None:
            return cached
        comp = self.product.components[component]
        hosts: tuple[str, ...]
        if component in self.binding.components:
            hosts = self.binding.components[component]
        elif comp.kind is ComponentKind.GROUP:
            hosts = tuple(dict.fromkeys(h for m in comp.members for h in self.hosts_of(m)))
        elif comp.parent is not None:
            hosts = self.hosts_of(comp.parent)
        else:
            hosts = ()
        self._hosts_cache[component] = hosts
        return hosts

    def host_set(self, component: str) -> frozenset[str]:
        """:meth:`hosts_of` as a set, for membership tests."""
        cached = self._host_set_cache.get(component)
        if cached is None:
            cached = self._host_set_cache[component] = frozenset(self.hosts_of(component))
        return cached

    def leaves_of(self, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The components ``candidates`` stand for, groups opened up, in order, once each."""
        leaves = self._leaves_cache.get(candidates)
        if leaves is None:
            leaves = self._leaves_cache[candidates] = tuple(dict.fromkeys(self._leaves(candidates)))
        return leaves

    def _leaves(self, candidates: tuple[str, ...]) -> list[str]:
        components = self.product.components
        leaves: list[str] = []
        for component in candidates:
            members = components[component].members
            leaves.extend(self._leaves(members) if members else (component,))
        return leaves

    def components_on(self, host: str, candidates: tuple[str, ...]) -> str:
        """The components among ``candidates`` (groups opened up) that run on ``host``.

        For candidates that stand for a single component, callers use that component directly.
        """
        key = (host, candidates)
        cached = self._components_cache.get(key)
        if cached is None:
            found = [c for c in self.leaves_of(candidates) if host in self.host_set(c)]
            cached = ", ".join(found) or candidates[0]
            self._components_cache[key] = cached
        return cached

    # -- ports ------------------------------------------------------------------------------

    def resolve(
        self,
        flow: Flow,
        items: Iterable[PortRange | ParamRef],
        decision: Decision,
        overrides: list[str],
    ) -> tuple[PortRange, ...] | None:
        ranges: list[PortRange] = []
        for item in items:
            if isinstance(item, PortRange):
                ranges.append(item)
                continue
            param = self.product.parameters[item.name]
            override = self.binding.parameters.get(item.name)
            if override is not None:
                span = self.bundle.source.value((*self.base, "parameters", item.name))
                where = f" ({self.bundle.file.name}:{span.line})" if span else ""
                vendor = describe_ports(param.default_ranges()) or "none"
                note = f"{item.name}={describe_ports(override)} (vendor default {vendor}){where}"
                if note not in overrides:
                    overrides.append(note)
                    decision.reasons.append(f"port parameter overridden: {note}")
                ranges.extend(override)
            elif param.default is not None:
                ranges.extend(param.default)
            else:
                parameters_key = (*self.base, "parameters")
                self.problems.append(
                    self.bundle.source.diagnostic(
                        parameters_key if self.bundle.source.has(parameters_key) else self.base,
                        f"flow {self.product.id}/{flow.id} needs port parameter {item.name!r}, "
                        "which has no vendor default",
                        f"set it under products.{self.product.id}.parameters.{item.name}: "
                        + param.description.rstrip("."),
                        at_key=True,
                    )
                )
                return None
        return tuple(ranges)

    def dynamic_for(
        self, flow: Flow, host_name: str, decision: Decision
    ) -> tuple[PortRange, ...] | None:
        if flow.dynamic is None:
            return ()
        key = (flow.dynamic, host_name)
        if key not in self._dynamic_cache:
            self._dynamic_cache[key] = self._dynamic_range(flow, flow.dynamic, host_name)
        result, origin = self._dynamic_cache[key]
        if result is not None:
            decision.reasons.append(
                f"dynamic range {flow.dynamic} on {host_name}: {describe_ports(result)} "
                f"(from {origin})"
            )
        return result

    def _dynamic_range(
        self, flow: Flow, name: str, host_name: str
    ) -> tuple[tuple[PortRange, ...] | None, str]:
        """The dynamic range on a host, and where it comes from (or a problem, and None)."""
        host = self.deployment.hosts[host_name]
        spec = self.product.dynamic_ranges[name]
        if name in host.dynamic_ranges:
            return host.dynamic_ranges[name], f"host {host_name}'s own dynamic_ranges"
        if name in self.binding.dynamic_ranges:
            return self.binding.dynamic_ranges[name], "the deployment's dynamic_ranges"
        override = f"or give the host 'dynamic_ranges: {{{name}: LOW-HIGH}}'"
        if host.platform is None:
            self.problems.append(
                self.bundle.source.diagnostic(
                    ("hosts", host_name),
                    f"host {host_name!r} has no platform, but flow {self.product.id}/{flow.id} "
                    f"needs the {name} dynamic range, which depends on it",
                    "set 'platform:' to one of " + ", ".join(spec.platforms()) + f", {override}",
                    at_key=True,
                )
            )
            return None, ""
        result = spec.ports_for(host.platform)
        if result is None:
            self.problems.append(
                self.bundle.source.diagnostic(
                    ("hosts", host_name, "platform"),
                    f"the {name} dynamic range is not known for platform {host.platform!r} "
                    f"(host {host_name!r}, flow {self.product.id}/{flow.id})",
                    choice_hint(host.platform, spec.platforms(), "platforms") + f", {override}",
                )
            )
        return result, f"platform {host.platform}"

    # -- one flow ---------------------------------------------------------------------------

    def condition_of(self, flow: Flow) -> Condition | None:
        section = self.product.section(flow.section) if flow.section else None
        parts = [
            c for c in (section.condition if section else None, flow.condition) if c is not None
        ]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _feature_state(self, names: Iterable[str]) -> str:
        states = []
        for name in sorted(names):
            set_here = name in self.binding.features
            states.append(
                f"{name}={'true' if self.features[name] else 'false'}"
                + ("" if set_here else " (default)")
            )
        return ", ".join(states)

    def expand(self, flow: Flow, out: list[PlannedFlow]) -> Decision:
        key = f"{self.product.id}/{flow.id}"
        decision = Decision(
            key=key,
            product=self.product.id,
            flow_id=flow.id,
            reference=reference(self.product, flow),
        )
        condition = self.condition_of(flow)
        if condition is not None:
            holds = condition.evaluate(self.features)
            state = self._feature_state(condition.names())
            if not holds:
                decision.reasons.append(f"out: condition '{condition}' is false ({state})")
                return decision
            decision.reasons.append(f"condition '{condition}' holds ({state})")
        else:
            decision.reasons.append("no condition: always required")

        sources = tuple(dict.fromkeys(h for s in flow.source for h in self.hosts_of(s)))
        destinations = self.hosts_of(flow.destination)
        unplaced = [c for c in (*flow.source, flow.destination) if not self.hosts_of(c)]
        if not sources or not destinations:
            names = ", ".join(repr(c) for c in unplaced)
            decision.reasons.append(f"out: {names} not placed on any host in this deployment")
            placed = [c for c in (*flow.source, flow.destination) if self.hosts_of(c)]
            own = [c for c in placed if self.product.components[c].kind is ComponentKind.COMPONENT]
            if own:
                self.warnings.append(
                    f"{key}: {', '.join(map(repr, own))} is placed but {names} is not, so this "
                    "required flow has no rows; place it under "
                    f"products.{self.product.id}.components"
                )
            return decision
        if unplaced:
            decision.reasons.append(
                f"{', '.join(map(repr, unplaced))} not placed on any host: no rows from it"
            )

        overrides: list[str] = []
        internal = self.resolve(flow, flow.ports or (), decision, overrides)
        published = self.resolve(
            flow, flow.published.ports if flow.published else (), decision, overrides
        )
        if internal is None or published is None:
            return decision
        via = flow.published.via if flow.published else None
        via_hosts = self.hosts_of(via) if via else ()
        condition_text = str(condition) if condition is not None else None
        emit = _RowFactory(self, flow, key, condition_text, tuple(overrides), decision, out)

        if via and via_hosts:
            decision.reasons.append(
                f"published through ingress {via!r} on {', '.join(via_hosts)}: "
                f"{describe_ports(published)} on the ingress, then {describe_ports(internal)} "
                "on the destination"
            )
            emit.rows(Hop.INGRESS, sources, flow.source, via_hosts, via, published, None, None)
            emit.rows(
                Hop.BACKEND, via_hosts, (via,), destinations, flow.destination, internal, None, flow
            )
        else:
            if via:
                decision.reasons.append(
                    f"ingress {via!r} is not placed on any host, so it is taken to run beside "
                    f"the destination, which publishes {describe_ports(published)}"
                )
            connect = published or internal
            listen = (
                internal
                if published and internal and PortSet.of(internal) != PortSet.of(published)
                else None
            )
            emit.rows(
                Hop.DIRECT,
                sources,
                flow.source,
                destinations,
                flow.destination,
                connect,
                listen,
                flow,
            )
        decision.included = decision.rows > 0
        if not decision.included:
            decision.reasons.append("out: every source is the destination host itself (local)")
        return decision


class _RowFactory:
    """Emits the rows of one flow, host pair by host pair."""

    def __init__(
        self,
        ex: _Expander,
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
        hosts: Mapping[str, Host] = self.ex.deployment.hosts
        flow = self.flow
        loopback = flow.loopback
        out = self.out
        before = len(out)
        local = 0
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
        )
        source_set = frozenset(sources)
        leaves = self.ex.leaves_of(source_components)
        only = leaves[0] if len(leaves) == 1 else None
        dynamic = (
            dynamic_flow if dynamic_flow is not None and dynamic_flow.dynamic is not None else None
        )
        port_sets = _PortSets(ports, listen)
        for dst in destinations:
            if loopback:  # a loopback flow stays on each host that runs both ends
                pairs: Sequence[str] = (dst,) if dst in source_set else ()
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
            for src in pairs:
                out.append(
                    PlannedFlow(
                        facts=facts,
                        source=src,
                        source_component=only or self.ex.components_on(src, source_components),
                        source_addresses=LOOPBACK if loopback else hosts[src].addresses,
                        source_zone=hosts[src].zone,
                        destination=dst,
                        destination_addresses=dst_addresses,
                        destination_zone=dst_host.zone,
                        ports=port_set,
                        listen_ports=listen_set,
                        dynamic_ports=dynamic_set,
                    )
                )
        self.decision.rows += len(out) - before
        if local:
            self.decision.reasons.append(
                f"{local} host pair(s) skipped: source and destination are the same host "
                "(local traffic, no network flow)"
            )


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
