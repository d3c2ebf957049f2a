"""Product x deployment → the concrete flow matrix.  The one place that expands.

For every product of a deployment and every flow of that product, :func:`build_plan` decides
whether the flow applies (its conditions over the deployment's features, and whether its
components are placed), resolves its ports (parameter overrides, platform-dependent dynamic
ranges), resolves the ingress mapping, and emits one :class:`PlannedFlow` per
(source host, destination host, protocol).  Every decision is kept so ``--explain`` can say why
a flow is in or out.

Planning never reads files: it reports problems by their path in the model
(:class:`~portplan._errors.Problem`), and asks its input where a value was written only to
name an override's origin in the decision it explains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol as _Protocol

from portplan._errors import ModelPath, PlanError, Problem
from portplan._text import choice_hint, describe_ports
from portplan.model._types import ParamRef
from portplan.model.conditions import And, Condition
from portplan.model.deployment import Deployment, Host, ProductBinding
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import ComponentKind, Flow, Product
from portplan.plan._management import management_rows
from portplan.plan._placement import Placement
from portplan.plan._types import LOOPBACK, Decision, FlowFacts, Hop, Plan, PlannedFlow

__all__ = ["PlanInput", "build_plan", "reference"]


class PlanInput(_Protocol):
    """What :func:`build_plan` reads: a deployment, its products by id, and where its values
    were written (``portplan.load`` gives a ``Bundle`` that is one)."""

    @property
    def deployment(self) -> Deployment: ...

    @property
    def products(self) -> Mapping[str, Product]: ...

    def where(self, path: ModelPath) -> str | None:
        """``file:line`` of the value at ``path`` in the deployment, if it came from a file."""
        ...


def reference(product: Product, flow: Flow) -> str:
    """Where in the vendor document a flow's row is: ``<title> > <section> > row N``."""
    parts = [product.document.title]
    section = product.section(flow.section) if flow.section else None
    if section is not None:
        parts.append(section.title)
    row = f"row {flow.row}" + (f" (part {flow.part})" if flow.part else "")
    parts.append(row)
    return " > ".join(parts)


def build_plan(source: PlanInput) -> Plan:
    """Expand a deployment into its flow matrix; raise :class:`PlanError` if it cannot."""
    deployment = source.deployment
    rows: list[PlannedFlow] = []
    decisions: list[Decision] = []
    warnings: list[str] = []
    problems: list[Problem] = []
    for product_id, binding in deployment.products.items():
        expander = _Expander(source, source.products[product_id], binding)
        for flow in expander.product.flows:
            decision = expander.expand(flow, rows)
            decisions.append(decision)
        warnings.extend(expander.warnings)
        problems.extend(expander.problems)
    management_rows(deployment, rows, decisions)
    if problems:
        raise PlanError(dict.fromkeys(problems))
    return Plan(
        deployment=deployment.name,
        rows=tuple(rows),
        decisions=tuple(decisions),
        warnings=tuple(dict.fromkeys(warnings)),
        hosts=deployment.hosts,
        products={product_id: source.products[product_id] for product_id in deployment.products},
    )


class _Expander:
    def __init__(self, source: PlanInput, product: Product, binding: ProductBinding) -> None:
        self.source = source
        self.deployment: Deployment = source.deployment
        self.product = product
        self.binding = binding
        self.base = ("products", product.id)
        self.features: dict[str, bool] = {
            name: binding.features.get(name, feature.default)
            for name, feature in product.features.items()
        }
        self.warnings: list[str] = []
        self.problems: list[Problem] = []
        self.placement = Placement(product, binding)
        self.hosts_of = self.placement.hosts_of
        self._dynamic_cache: dict[tuple[str, str], tuple[tuple[PortRange, ...] | None, str]] = {}

    # -- ports ------------------------------------------------------------------------------

    def resolve(
        self,
        flow: Flow,
        items: Iterable[PortRange | ParamRef],
        decision: Decision,
        overrides: list[str],
        named: list[tuple[str, PortSet]],
    ) -> tuple[PortRange, ...] | None:
        """The ports of ``items``; the port parameters among them go to ``named`` with theirs."""
        ranges: list[PortRange] = []
        for item in items:
            if isinstance(item, PortRange):
                ranges.append(item)
                continue
            param = self.product.parameters[item.name]
            override = self.binding.parameters.get(item.name)
            value = override if override is not None else param.default
            if value is not None:
                named.append((item.name, PortSet.of(value)))
            if override is not None:
                written = self.source.where((*self.base, "parameters", item.name))
                where = f" ({written})" if written else ""
                vendor = describe_ports(param.default_ranges()) or "none"
                note = f"{item.name}={describe_ports(override)} (vendor default {vendor}){where}"
                if note not in overrides:
                    overrides.append(note)
                    decision.reasons.append(f"port parameter overridden: {note}")
                ranges.extend(override)
            elif param.default is not None:
                ranges.extend(param.default)
            else:
                self.problems.append(
                    Problem(
                        path=(*self.base, "parameters"),
                        message=f"flow {self.product.id}/{flow.id} needs port parameter "
                        f"{item.name!r}, which has no vendor default",
                        hint=f"set it under products.{self.product.id}.parameters.{item.name}: "
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
                Problem(
                    path=("hosts", host_name),
                    message=f"host {host_name!r} has no platform, but flow "
                    f"{self.product.id}/{flow.id} needs the {name} dynamic range, which "
                    "depends on it",
                    hint="set 'platform:' to one of "
                    + ", ".join(spec.platforms())
                    + f", {override}",
                    at_key=True,
                )
            )
            return None, ""
        result = spec.ports_for(host.platform)
        if result is None:
            self.problems.append(
                Problem(
                    path=("hosts", host_name, "platform"),
                    message=f"the {name} dynamic range is not known for platform "
                    f"{host.platform!r} (host {host_name!r}, flow {self.product.id}/{flow.id})",
                    hint=choice_hint(host.platform, spec.platforms(), "platforms")
                    + f", {override}",
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
        named_internal: list[tuple[str, PortSet]] = []
        named_published: list[tuple[str, PortSet]] = []
        internal = self.resolve(flow, flow.ports or (), decision, overrides, named_internal)
        published = self.resolve(
            flow,
            flow.published.ports if flow.published else (),
            decision,
            overrides,
            named_published,
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
            emit.named = tuple(dict.fromkeys(named_published))
            emit.rows(Hop.INGRESS, sources, flow.source, via_hosts, via, published, None, None)
            emit.named = tuple(dict.fromkeys(named_internal))
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
            emit.named = tuple(dict.fromkeys(named_published if published else named_internal))
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
            parameters=self.named,
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
                        source_component=only or components_on(src, source_components),
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
