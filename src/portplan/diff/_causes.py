"""Why a flow's rows changed between two deployments: the vendor row, a feature, a parameter,
a dynamic range, where a component runs, or a host's addresses, zone, name or pods."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from portplan.diff._own import pods_text
from portplan.model._types import ParamRef, network_text
from portplan.model.deployment import Deployment, Host, ProductBinding
from portplan.model.product import Flow, Product
from portplan.plan import MANAGEMENT, PlannedFlow

__all__ = ["Causes", "Side"]


class Side(Protocol):
    """One side of a diff, as loaded: a deployment and its products (a ``Bundle``)."""

    @property
    def deployment(self) -> Deployment: ...

    @property
    def products(self) -> Mapping[str, Product]: ...


_YES_NO = {True: "yes", False: "no"}


def _addresses(host: Host | None) -> str:
    if host is None:
        return "nothing"
    return ", ".join(network_text(n) for n in host.addresses) or "no addresses"


def _ports(items: tuple[object, ...] | None) -> str:
    return ",".join(str(i) for i in items) if items else "the vendor default"


class Causes:
    """Explains the changes of rows between an old and a new side."""

    def __init__(
        self, old: Side | None, new: Side | None, renamed: Mapping[str, str] | None = None
    ) -> None:
        self.old = old
        self.new = new
        #: new product id → the old one it stands for
        self.was = {new_id: old_id for old_id, new_id in (renamed or {}).items()}

    def _flow(self, side: Side | None, product: str, flow_id: str) -> Flow | None:
        if side is None or product not in side.products:
            return None
        return next((f for f in side.products[product].flows if f.id == flow_id), None)

    def _binding(self, side: Side | None, product: str) -> ProductBinding | None:
        if side is None:
            return None
        return side.deployment.products.get(product)

    def _host(self, side: Side | None, name: str) -> Host | None:
        return side.deployment.hosts.get(name) if side is not None else None

    def hosts(self, names: Iterable[str]) -> list[str]:
        """What changed of the hosts ``names`` (the ends of a row, or a host on no row)."""
        found: list[str] = []
        if self.old is None or self.new is None:
            return found
        for name in dict.fromkeys(names):  # (a row from a host to itself: once)
            before, after = self._host(self.old, name), self._host(self.new, name)
            if before is None or after is None:
                verb = "added" if before is None else "removed"
                found.append(f"host {name} {verb}")
            else:
                if set(before.addresses) != set(after.addresses):
                    # (the same addresses in another order are the same packets: no cause)
                    found.append(
                        f"host {name} re-addressed: {_addresses(before)} -> {_addresses(after)}"
                    )
                if before.zone != after.zone:
                    found.append(
                        f"host {name} zone: {before.zone or 'none'} -> {after.zone or 'none'}"
                    )
                if before.cluster != after.cluster:
                    # its members reach each other as machines of their own, or not at all
                    found.append(
                        f"host {name} cluster: {_YES_NO[before.cluster]} -> "
                        f"{_YES_NO[after.cluster]}"
                    )
                if before.managed != after.managed:
                    # its own rules (ruleset, security group) are portplan's, or no more
                    found.append(
                        f"host {name} managed: {_YES_NO[before.managed]} -> "
                        f"{_YES_NO[after.managed]}"
                    )
                if before.dns_name != after.dns_name:
                    found.append(
                        f"host {name} DNS name: {before.dns_name or 'none'} -> "
                        f"{after.dns_name or 'none'}"
                    )
                if before.kubernetes != after.kubernetes:
                    found.append(
                        f"host {name} pods: {pods_text(before.kubernetes)} -> "
                        f"{pods_text(after.kubernetes)}"
                    )
        return found

    def explain(self, row: PlannedFlow, source: str, destination: str) -> list[str]:
        """The causes, most specific first; none found when either side is not known."""
        if self.old is None or self.new is None:
            return []
        found = self.hosts((source, destination))
        product, flow_id = row.product, row.flow_id
        if product == MANAGEMENT:
            before_access = [m for m in self.old.deployment.management if m.id == flow_id]
            after_access = [m for m in self.new.deployment.management if m.id == flow_id]
            if before_access != after_access:
                verb = (
                    "added" if not before_access else "removed" if not after_access else "changed"
                )
                found.append(f"management access {flow_id} {verb}")
            return found
        if product in self.was.values() and product not in self.new.products:
            product = next(n for n, o in self.was.items() if o == product)  # an old row
        before_id = self.was.get(product, product)
        old_flow = self._flow(self.old, before_id, flow_id)
        new_flow = self._flow(self.new, product, flow_id)
        old_binding = self._binding(self.old, before_id)
        new_binding = self._binding(self.new, product)
        if old_binding is None or new_binding is None:
            found.append(f"product {product} {'added' if old_binding is None else 'removed'}")
            return found
        old_product, new_product = self.old.products[before_id], self.new.products[product]
        if old_flow != new_flow:
            reference = flow_id
            if old_product.version != new_product.version:
                found.append(
                    f"vendor row changed: {old_product.name} {old_product.version} -> "
                    f"{new_product.version}, flow {reference}"
                )
            else:
                found.append(f"vendor row changed: flow {reference} of {product}")
        flow = new_flow or old_flow
        if flow is None:
            return found
        found += _groups(old_product, new_product, product, flow)
        found += self._features(old_binding, new_binding, old_product, new_product, flow)
        found += self._parameters(old_binding, new_binding, flow)
        found += self._placement(old_binding, new_binding, old_product, flow)
        found += self._dynamic(old_binding, new_binding, flow, destination)
        return found

    def _features(
        self,
        old: ProductBinding,
        new: ProductBinding,
        old_product: Product,
        new_product: Product,
        flow: Flow,
    ) -> list[str]:
        names: set[str] = set()
        for product in (old_product, new_product):
            section = product.section(flow.section) if flow.section else None
            for condition in (flow.condition, section.condition if section else None):
                if condition is not None:
                    names |= set(condition.names())
        found = []
        for name in sorted(names):
            before = old.features.get(name, _default(old_product, name))
            after = new.features.get(name, _default(new_product, name))
            if before != after:
                found.append(f"feature {name} switched {'on' if after else 'off'}")
        return found

    def _parameters(self, old: ProductBinding, new: ProductBinding, flow: Flow) -> list[str]:
        items = [*(flow.ports or ()), *(flow.published.ports if flow.published else ())]
        found = []
        for item in items:
            if isinstance(item, ParamRef):
                before, after = old.parameters.get(item.name), new.parameters.get(item.name)
                if before != after:
                    found.append(
                        f"parameter {item.name} overridden: {_ports(before)} -> {_ports(after)}"
                    )
        return list(dict.fromkeys(found))

    def _placement(
        self, old: ProductBinding, new: ProductBinding, product: Product, flow: Flow
    ) -> list[str]:
        found = []
        names = [*flow.source, *flow.destination]
        if flow.published is not None and flow.published.via is not None:
            names.append(flow.published.via)
        for name in dict.fromkeys(names):
            component = product.components.get(name)
            related = [name, *(component.members if component else ())]
            if component is not None and component.parent:
                related.append(component.parent)
            for each in related:
                before, after = old.components.get(each, ()), new.components.get(each, ())
                if before != after:
                    found.append(
                        f"component {each} moved: {', '.join(before) or 'not placed'} -> "
                        f"{', '.join(after) or 'not placed'}"
                    )
        return list(dict.fromkeys(found))

    def _dynamic(
        self, old: ProductBinding, new: ProductBinding, flow: Flow, destination: str
    ) -> list[str]:
        if flow.dynamic is None:
            return []
        name = flow.dynamic
        found = []
        if old.dynamic_ranges.get(name) != new.dynamic_ranges.get(name):
            found.append(
                f"dynamic range {name} of the deployment: "
                f"{_ports(old.dynamic_ranges.get(name))} -> {_ports(new.dynamic_ranges.get(name))}"
            )
        before, after = self._host(self.old, destination), self._host(self.new, destination)
        if before is not None and after is not None:
            was, now = before.dynamic_ranges.get(name), after.dynamic_ranges.get(name)
            if was != now:
                platform = f"the range of platform {after.platform}"
                found.append(
                    f"dynamic range {name} of host {destination}: "
                    f"{_ports(was) if was else platform} -> {_ports(now) if now else platform}"
                )
            if before.platform != after.platform:
                found.append(
                    f"host {destination} platform: {before.platform} -> {after.platform} "
                    f"(dynamic range {name})"
                )
        return found


def _groups(old: Product, new: Product, product: str, flow: Flow) -> list[str]:
    """The groups among the flow's ends whose members changed: the flow reaches others."""
    found = []
    for name in dict.fromkeys([*flow.source, *flow.destination]):
        before, after = old.components.get(name), new.components.get(name)
        was = before.members if before is not None else ()
        now = after.members if after is not None else ()
        if was != now and (was or now):
            found.append(
                f"group {name} of {product}: members {', '.join(was) or 'none'} -> "
                f"{', '.join(now) or 'none'}"
            )
    return found


def _default(product: Product, feature: str) -> bool | str:
    found = product.features.get(feature)
    return found.default if found is not None else False
