"""Product x deployment → the concrete flow matrix.  The one place that expands.

For every product of a deployment and every flow of that product, :func:`build_plan` decides
whether the flow applies (its conditions over the deployment's features, and whether its
components are placed), resolves its ports (parameter overrides, platform-dependent dynamic
ranges), resolves the ingress mapping, and emits one :class:`PlannedFlow` per
(source host, destination host, protocol), kept as flow legs (:mod:`portplan.plan._legs`).
Every decision is kept so ``--explain`` can say why a flow is in or out.

Planning never reads files: it reports problems by their path in the model
(:class:`~portplan._errors.Problem`), and asks its input where a value was written only to
name an override's origin in the decision it explains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol as _Protocol

from portplan._errors import ModelPath, PlanError, Problem
from portplan._text import choice_hint, describe_ports
from portplan.model._types import ParamRef
from portplan.model.conditions import And, Condition
from portplan.model.deployment import Deployment, Host, ProductBinding
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import ANY, ComponentKind, Flow, Product
from portplan.plan._forbidden import forbidden_flows
from portplan.plan._legs import Leg, PlanRows, SourceEnd
from portplan.plan._management import management_rows
from portplan.plan._placement import Placement
from portplan.plan._rows import RowFactory
from portplan.plan._types import (
    ANYWHERE,
    ANYWHERE_HOST,
    Decision,
    Hop,
    Plan,
)

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
    legs: list[Leg] = []
    decisions: list[Decision] = []
    warnings: list[str] = []
    problems: list[Problem] = []
    source_ends: dict[tuple[str, str, bool], SourceEnd] = {}  # shared by every product's rows
    for product_id, binding in deployment.products.items():
        expander = _Expander(source, source.products[product_id], binding, source_ends)
        for flow in expander.product.flows:
            decision = expander.expand(flow, legs)
            decisions.append(decision)
        warnings.extend(expander.warnings)
        warnings.extend(expander.switched_off_placements())
        problems.extend(expander.problems)
        problems.extend(expander.missing_parameters())
    management_rows(deployment, legs, decisions)
    rows = PlanRows(legs)
    forbidden = forbidden_flows(deployment, rows, problems)
    if problems:
        raise PlanError(dict.fromkeys(problems))
    hosts: Mapping[str, Host] = deployment.hosts
    if any(key[0] == ANYWHERE for key in source_ends) and any(
        source.name == ANYWHERE for leg in legs for end in leg.ends for source in end.sources
    ):
        hosts = {**deployment.hosts, ANYWHERE: ANYWHERE_HOST}
    return Plan(
        deployment=deployment.name,
        rows=rows,
        decisions=tuple(decisions),
        warnings=tuple(dict.fromkeys(warnings)),
        hosts=hosts,
        products={product_id: source.products[product_id] for product_id in deployment.products},
        forbidden=forbidden,
    )


class _Expander:
    def __init__(
        self,
        source: PlanInput,
        product: Product,
        binding: ProductBinding,
        source_ends: dict[tuple[str, str, bool], SourceEnd],
    ) -> None:
        self.source = source
        self.source_ends = source_ends
        self.source_lists: dict[
            tuple[tuple[str, ...], tuple[str, ...], bool],
            tuple[tuple[SourceEnd, ...], frozenset[str]],
        ] = {}
        self.deployment: Deployment = source.deployment
        self.hosts: Mapping[str, Host] = {**source.deployment.hosts, ANYWHERE: ANYWHERE_HOST}
        self.product = product
        self.binding = binding
        self.base = ("products", product.id)
        self.features: dict[str, bool | str] = {
            name: binding.features.get(name, feature.default)
            for name, feature in product.features.items()
        }
        self.warnings: list[str] = []
        self.problems: list[Problem] = []
        #: flows left out because their condition is false, and why
        self.switched_off: dict[str, str] = {}
        #: port parameters with no value, and the flows that need them (reported once each)
        self.missing: dict[str, list[str]] = {}
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
                needing = self.missing.setdefault(item.name, [])
                if flow.id not in needing:
                    needing.append(flow.id)
                return None
        return tuple(ranges)

    def switched_off_placements(self) -> list[str]:
        """A warning for each component the deployment places on hosts whose every flow a
        false condition leaves out: placing it says it runs, yet nothing may reach it.  A
        flow's ends (its groups' members, the main component of a subcomponent placed nowhere)
        and its ingress take part in it through their placements."""
        taking_part: dict[str, list[Flow]] = {}
        for flow in self.product.flows:
            ends = (*flow.source, *flow.destination)
            if flow.published is not None and flow.published.via is not None:
                ends += (flow.published.via,)
            for placed in frozenset().union(*(self.placement.placed_for(e) for e in ends)):
                taking_part.setdefault(placed, []).append(flow)
        warnings = []
        for name, hosts in self.binding.components.items():
            flows = taking_part.get(name, [])
            if not hosts or not flows or any(f.id not in self.switched_off for f in flows):
                continue
            why = "; ".join(dict.fromkeys(self.switched_off[f.id] for f in flows))
            warnings.append(
                f"{self.product.id}: {name!r} is placed on {', '.join(hosts)}, but every flow "
                f"it takes part in is left out ({why}); set the feature under "
                f"products.{self.product.id}.features if it should talk, or remove the placement"
            )
        return warnings

    def missing_parameters(self) -> list[Problem]:
        """One problem per port parameter the deployment must give, naming every flow."""
        problems = []
        for name, flows in self.missing.items():
            param = self.product.parameters[name]
            which = (
                f"flow {self.product.id}/{flows[0]} needs"
                if len(flows) == 1
                else f"flows {', '.join(f'{self.product.id}/{f}' for f in flows)} need"
            )
            problems.append(
                Problem(
                    path=(*self.base, "parameters"),
                    message=f"{which} port parameter {name!r}, which has no vendor default "
                    "(the vendor leaves the port to the deployment)",
                    hint=f"set it under products.{self.product.id}.parameters.{name}: "
                    + param.description.rstrip("."),
                    at_key=True,
                )
            )
        return problems

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
            value = self.features[name]
            shown = value if isinstance(value, str) else ("true" if value else "false")
            states.append(f"{name}={shown}" + ("" if set_here else " (default)"))
        return ", ".join(states)

    def expand(self, flow: Flow, out: list[Leg]) -> Decision:
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
                self.switched_off[flow.id] = f"condition '{condition}' is false ({state})"
                return decision
            decision.reasons.append(f"condition '{condition}' holds ({state})")
        else:
            decision.reasons.append("no condition: always required")

        sources = tuple(dict.fromkeys(h for s in flow.source for h in self.sources_of(s)))
        destinations = tuple(dict.fromkeys(h for d in flow.destination for h in self.hosts_of(d)))
        ends = (*flow.source, *flow.destination)
        unplaced = [c for c in ends if not self.sources_of(c)]
        if ANY in flow.source and self.sources_of(ANY) == (ANYWHERE,):
            decision.reasons.append(
                f"from {ANY!r} (any client), not placed on hosts: from anywhere "
                "(0.0.0.0/0 and ::/0)"
            )
        decision.reasons.extend(self._emptied(unplaced))
        if not sources or not destinations:
            names = ", ".join(repr(c) for c in unplaced)
            decision.reasons.append(f"out: {names} not placed on any host in this deployment")
            placed = [c for c in ends if c != ANY and self.hosts_of(c)]
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
        emit = RowFactory(self, flow, key, condition_text, tuple(overrides), decision, out)
        by_component = self.by_component(destinations, flow.destination)

        if via and via_hosts:
            decision.reasons.append(
                f"published through ingress {via!r} on {', '.join(via_hosts)}: "
                f"{describe_ports(published)} on the ingress, then {describe_ports(internal)} "
                "on the destination"
            )
            emit.named = tuple(dict.fromkeys(named_published))
            emit.rows(Hop.INGRESS, sources, flow.source, via_hosts, via, published, None, None)
            emit.named = tuple(dict.fromkeys(named_internal))
            for component, hosts in by_component:
                emit.rows(Hop.BACKEND, via_hosts, (via,), hosts, component, internal, None, flow)
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
            for component, hosts in by_component:
                emit.rows(Hop.DIRECT, sources, flow.source, hosts, component, connect, listen, flow)
        decision.included = decision.rows > 0
        if not decision.included and flow.loopback:
            self._apart(flow, key, decision, sources, destinations)
        elif not decision.included:
            decision.reasons.append("out: every source is the destination host itself (local)")
        return decision

    def _apart(
        self,
        flow: Flow,
        key: str,
        decision: Decision,
        sources: tuple[str, ...],
        destinations: tuple[str, ...],
    ) -> None:
        """Why a loopback flow has no row: no host runs both of its ends (and a warning when
        the deployment placed them apart, which the vendor's loopback rules out)."""
        decision.reasons.append(
            "out: a loopback flow stays on one machine, and no host runs both a source "
            f"({', '.join(sources)}) and the destination ({', '.join(destinations)})"
        )
        if sources == (ANYWHERE,):  # 'any' not placed: no local client is named
            return
        ends = [repr(c) for c in dict.fromkeys((*flow.source, *flow.destination))]
        both = ", ".join(ends[:-1]) + " and " + ends[-1] if len(ends) > 1 else ends[0]
        self.warnings.append(
            f"{key}: {both} talk over loopback but are placed on different hosts "
            f"({', '.join(sources)}; {', '.join(destinations)}), so this required flow has no "
            f"rows; place them on one host under products.{self.product.id}.components"
        )

    def _emptied(self, components: list[str]) -> list[str]:
        """Why each of ``components`` placed on an empty list runs nowhere: written out, the
        list replaces the hosts of its main component (or its members), which leaving the
        key out would have used."""
        reasons = []
        for name in components:
            if self.binding.components.get(name) != ():
                continue
            comp = self.product.components[name]
            if name == ANY:
                instead = "standing for anywhere (0.0.0.0/0 and ::/0)"
            elif comp.parent is not None:
                instead = f"where its main component {comp.parent!r} runs"
            elif comp.members:
                instead = "on its members' hosts"
            else:
                continue
            reasons.append(
                f"{name!r} is placed on an empty list (products.{self.product.id}.components."
                f"{name}: []), so it runs on no host rather than {instead}; leave the key out "
                "for that"
            )
        return reasons

    def sources_of(self, component: str) -> tuple[str, ...]:
        """Hosts a flow comes from: ``any`` unplaced is the synthetic host anywhere (placed
        on an empty list, it runs on no host: the list says so, and is never read as the
        Internet)."""
        hosts = self.hosts_of(component)
        if not hosts and component == ANY and ANY not in self.binding.components:
            return (ANYWHERE,)
        return hosts

    def by_component(
        self, hosts: tuple[str, ...], components: tuple[str, ...]
    ) -> list[tuple[str, tuple[str, ...]]]:
        """Destination hosts grouped by the components (groups opened up) that run there."""
        if len(components) == 1 and not self.product.components[components[0]].members:
            return [(components[0], hosts)]
        grouped: dict[str, list[str]] = {}
        for host, on in zip(hosts, self.placement.components_on(hosts, components), strict=True):
            grouped.setdefault(on, []).append(host)
        return [(component, tuple(on)) for component, on in grouped.items()]
