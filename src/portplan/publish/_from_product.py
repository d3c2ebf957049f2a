"""The diagram of a product on its own: its components as the vendor document names them.

Without a deployment there are no hosts: ports are shown as the product writes them
(configurable ones by parameter, with the vendor default), a flow published through an
ingress is drawn source → ingress → destination, and subcomponents sit in a box with their
main component.
"""

from __future__ import annotations

from collections.abc import Sequence

from portplan._errors import UsageError
from portplan._text import choice_hint
from portplan.model._types import ParamRef, Protocol
from portplan.model.icmp import icmp_text
from portplan.model.ports import PortRange, PortSet
from portplan.model.product import ComponentKind, Flow, Product
from portplan.publish._from_plan import display_name
from portplan.publish._labels import NO_PORT, EdgeData, PortLabel, item_text
from portplan.publish._model import Cluster, Diagram, Node, NodeKind, View
from portplan.publish._select import resolve_components, with_members

__all__ = ["product_diagram"]


def _condition(product: Product, flow: Flow) -> str | None:
    section = product.section(flow.section) if flow.section else None
    parts = [str(c) for c in (section.condition if section else None, flow.condition) if c]
    if not parts:
        return None
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


def _select(product: Product, flows: Sequence[str], components: Sequence[str]) -> list[Flow]:
    selected = list(product.flows)
    if flows:
        ids = {f.id for f in product.flows}
        wanted = set()
        for name in flows:
            flow_id = name.removeprefix(f"{product.id}/")
            if flow_id not in ids:
                choices = sorted(ids | {f"{product.id}/{i}" for i in ids})
                raise UsageError(
                    f"no flow {name!r} in {product.id}; " + choice_hint(name, choices, "flows")
                )
            wanted.add(flow_id)
        selected = [f for f in selected if f.id in wanted]
    if components:
        wanted_components = {c for _p, c in resolve_components({product.id: product}, components)}

        def touches(flow: Flow) -> bool:
            via = (flow.published.via,) if flow.published and flow.published.via else ()
            ends = [
                m for c in (*flow.source, *flow.destination, *via) for m in with_members(product, c)
            ]
            return any(
                c in wanted_components or product.main_component(c) in wanted_components
                for c in ends
            )

        selected = [f for f in selected if touches(f)]
    if not selected:
        asked = " ".join(
            [*(f"--flow {f}" for f in flows), *(f"--component {c}" for c in components)]
        )
        raise UsageError(f"no flow of {product.id} matches {asked}: nothing to draw")
    return selected


class _ProductEdges:
    def __init__(self, product: Product) -> None:
        self.product = product
        self.defaults: dict[str, PortSet | None] = {
            name: PortSet.of(p.default) if p.default else None
            for name, p in product.parameters.items()
        }
        self.edges: dict[tuple[str, str], EdgeData] = {}
        self.order: dict[str, None] = {}

    def add(
        self,
        source: str,
        target: str,
        flow: Flow,
        items: Items,
        mapped_to: Items = (),
        *,
        dynamic: bool = True,
    ) -> None:
        """A leg of ``flow`` from ``source`` to ``target`` on ``items``; ``mapped_to``: the
        ports the service listens on, when they differ from the published ``items``;
        ``dynamic``: whether the leg ends on the destination, whose dynamic range the plan
        adds to its ports (not the leg to an ingress proxy)."""
        self.order.update({source: None, target: None})
        data = self.edges.get((source, target))
        if data is None:
            data = self.edges[(source, target)] = EdgeData()
        text = item_text(items, self.defaults)
        # the range depends on the destination's platform: named, as the plan's rows add it
        extra = f", {flow.dynamic}" if dynamic and flow.dynamic else ""
        if flow.protocol is Protocol.ICMP:  # messages, not ports: "ICMP echo-request"
            text = icmp_text(flow.icmp)
            data.label.add_other(flow.protocol, text, 0)
        elif mapped_to:
            text += extra + "→" + item_text(mapped_to, self.defaults) + extra
            data.label.add_other(flow.protocol, text, _first_port(items))
        else:
            self._label(data.label, flow, items, dynamic=dynamic)
        service = f" ({flow.service})" if flow.service else ""
        key = f"{self.product.id}/{flow.id}"
        line = f"{key}: {flow.protocol.value.upper()} {text}{service}"
        data.add_flow(key, _condition(self.product, flow), line)

    def _label(self, label: PortLabel, flow: Flow, items: Items, *, dynamic: bool) -> None:
        for item in items:
            if isinstance(item, ParamRef):
                label.add_named(flow.protocol, item.name, self.defaults.get(item.name))
            else:
                label.add_ports(flow.protocol, (item,))
        if flow.dynamic and dynamic:
            label.add_named(flow.protocol, flow.dynamic, None)

    def flow(self, flow: Flow) -> None:
        published = flow.published
        internal = flow.ports or ()
        if published is not None and published.via is not None:
            for source in flow.source:
                self.add(source, published.via, flow, published.ports, dynamic=False)
            if internal:
                for destination in flow.destination:
                    self.add(published.via, destination, flow, internal)
            return
        differ = (
            published is not None
            and bool(internal)
            and item_text(published.ports, {}) != item_text(internal, {})
        )
        for source in flow.source:
            for destination in flow.destination:
                if published is None:
                    self.add(source, destination, flow, internal)
                else:
                    self.add(source, destination, flow, published.ports, internal if differ else ())


Items = Sequence[PortRange | ParamRef]


def _first_port(items: Items) -> int:
    return next((i.start for i in items if isinstance(i, PortRange)), NO_PORT)


def product_diagram(
    product: Product, *, flows: Sequence[str] = (), components: Sequence[str] = ()
) -> Diagram:
    """The components of ``product`` and the flows between them (those of ``flows`` that touch
    ``components``; all by default; an unknown name is a :class:`UsageError`)."""
    edges = _ProductEdges(product)
    for flow in _select(product, flows, components):
        edges.flow(flow)
    used = list(edges.order)
    parents = {product.main_component(c) for c in used if product.components[c].parent is not None}
    clusters = [
        Cluster(id=p, label=product.components[p].name)
        for p in dict.fromkeys(product.main_component(c) for c in used)
        if p in parents
    ]
    nodes = []
    for component in used:
        comp = product.components[component]
        main = product.main_component(component)
        label = [display_name(product, component)]
        if comp.kind is ComponentKind.GROUP:
            label.append("all of: " + ", ".join(product.components[m].name for m in comp.members))
        nodes.append(
            Node(
                id=f"{product.id}/{component}",
                label=tuple(label),
                kind=NodeKind(comp.kind.value),
                cluster=main if main in parents else None,
                tooltip=f"{display_name(product, component)} ({comp.kind.value})"
                + (f": {comp.description}" if comp.description else ""),
            )
        )
    return Diagram(
        title=f"{product.name} {product.version}: components",
        view=View.COMPONENT,
        nodes=tuple(nodes),
        edges=tuple(
            data.edge(f"{product.id}/{source}", f"{product.id}/{target}")
            for (source, target), data in edges.edges.items()
        ),
        clusters=tuple(clusters),
    )
