"""The diagram of a deployment's plan: its components, hosts or zones, one edge per pair.

Every plan row lands on exactly one edge (or is counted in a note saying why it is not drawn:
management access has no component, and traffic within one zone crosses no zone firewall), so
a diagram never shows less than the plan without saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from portplan._text import counted
from portplan.model._types import Protocol, network_text
from portplan.model.icmp import icmp_text
from portplan.model.product import ComponentKind, Product
from portplan.plan import MANAGEMENT, Plan, PlannedFlow
from portplan.publish._hostgroups import host_groups
from portplan.publish._labels import EdgeData, PortLabel, ports_text, shown
from portplan.publish._model import Cluster, Diagram, Edge, Node, NodeKind, View
from portplan.publish._select import select_rows

__all__ = ["plan_diagram"]

#: a host's kind, from the kinds of the components it runs (the first that is there wins)
_KIND_ORDER = (
    ComponentKind.INGRESS,
    ComponentKind.COMPONENT,
    ComponentKind.EXTERNAL,
    ComponentKind.CLIENT,
    ComponentKind.GROUP,
)


class _Builder:
    """Collects nodes and edges in the order rows first name them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.edges: dict[tuple[str, str], EdgeData] = {}
        self.node_rows: dict[str, list[int]] = {}
        self._dynamic: dict[tuple[str, str], str | None] = {}

    def touch(self, node: str, index: int) -> None:
        rows = self.node_rows.setdefault(node, [])
        if not rows or rows[-1] != index:
            rows.append(index)

    def add(self, source: str, target: str, index: int) -> None:
        row = self.plan.rows[index]
        self.touch(source, index)
        self.touch(target, index)
        data = self.edges.get((source, target))
        if data is None:
            data = self.edges[(source, target)] = EdgeData()
        data.rows.append(index)
        self._label(data.label, row)
        service = f" ({row.service})" if row.service else ""
        protocol = row.protocol.value.upper()
        what = (
            icmp_text(row.icmp) if row.protocol is Protocol.ICMP else ports_text(row.ports.ranges)
        )
        line = f"{row.key}: {protocol} {what}{service}"
        data.add_flow(row.key, row.condition, line)

    def _dynamic_name(self, row: PlannedFlow) -> str | None:
        key = (row.product, row.flow_id)
        if key not in self._dynamic:
            product = self.plan.products.get(row.product)
            flow = (
                next((f for f in product.flows if f.id == row.flow_id), None) if product else None
            )
            self._dynamic[key] = flow.dynamic if flow is not None else None
        return self._dynamic[key]

    def _label(self, label: PortLabel, row: PlannedFlow) -> None:
        protocol = row.protocol
        if protocol is Protocol.ICMP:  # messages, not ports: "ICMP echo-request"
            label.add_other(protocol, icmp_text(row.icmp), 0)
            return
        if row.listen_ports is not None:
            text = f"{ports_text(row.ports.ranges)}→{ports_text(row.listen_ports.ranges)}"
            label.add_other(protocol, text, row.ports.ranges[0].start)
            return
        label.add_ports(protocol, row.ports.ranges)
        for name, ports in row.facts.parameters:
            label.add_named(protocol, name, ports)
        if row.dynamic_ports:
            label.add_named(protocol, self._dynamic_name(row) or "dynamic", row.dynamic_ports)

    def built_edges(self) -> tuple[Edge, ...]:
        return tuple(data.edge(source, target) for (source, target), data in self.edges.items())


def display_name(product: Product, component: str) -> str:
    """A component's name on a diagram: ``Identity Manager Operator``, but ``Shopping agent``
    rather than ``Shopping client Shopping agent`` (its name already says whose it is)."""
    comp = product.components[component]
    if comp.parent is not None:
        parent = product.components[comp.parent].name
        if comp.name.split()[0] == parent.split()[0]:
            return comp.name
    return product.full_name(component)


def _component_view(plan: Plan, rows: Sequence[int]) -> tuple[_Builder, list[str]]:
    builder = _Builder(plan)
    notes = []
    management = 0
    for index in rows:
        row = plan.rows[index]
        if row.product == MANAGEMENT or row.product not in plan.products:
            management += 1
            continue
        for component in row.source_components:
            for target in row.destination_components:
                builder.add(f"{row.product}/{component}", f"{row.product}/{target}", index)
    if management:
        notes.append(
            f"{counted(management, 'row')} of management access "
            f"{'is' if management == 1 else 'are'} drawn with --by host or --by zone, "
            "not between components"
        )
    return builder, notes


def _component_nodes(plan: Plan, builder: _Builder) -> tuple[list[Node], list[Cluster]]:
    nodes = []
    zones: dict[str, None] = {}
    for node_id, indexes in builder.node_rows.items():
        product_id, _, component = node_id.partition("/")
        product = plan.products[product_id]
        hosts: dict[str, None] = {}
        for index in indexes:
            row = plan.rows[index]
            if component in row.destination_components:
                hosts[row.destination] = None
            if component in row.source_components:
                hosts[row.source] = None
        host_zones = {plan.hosts[h].zone for h in hosts}
        zone = host_zones.pop() if len(host_zones) == 1 else None
        if zone is not None:
            zones[zone] = None
        kind = product.components[component].kind
        name = display_name(product, component)
        nodes.append(
            Node(
                id=node_id,
                label=(name, shown(list(hosts))),
                kind=NodeKind(kind.value),
                cluster=f"zone {zone}" if zone else None,
                tooltip=f"{name} ({kind.value} of {product.name} {product.version}); "
                f"on {', '.join(hosts)}",
                rows=tuple(indexes),
            )
        )
    return nodes, [Cluster(id=f"zone {z}", label=f"zone {z}") for z in zones]


def _host_kind(plan: Plan, host: str, indexes: Sequence[int]) -> NodeKind:
    kinds: set[ComponentKind] = set()
    for index in indexes:
        row = plan.rows[index]
        product: Product | None = plan.products.get(row.product)
        if product is None:
            continue
        names = list(row.source_components) if row.source == host else []
        if row.destination == host:
            names.extend(row.destination_components)
        kinds.update(product.components[n].kind for n in names if n in product.components)
    return next((NodeKind(k.value) for k in _KIND_ORDER if k in kinds), NodeKind.COMPONENT)


def _host_components(plan: Plan, host: str, indexes: Sequence[int]) -> list[str]:
    names: dict[str, None] = {}
    for index in indexes:
        row = plan.rows[index]
        product = plan.products.get(row.product)
        if product is None:
            continue
        if row.source == host:
            names.update((display_name(product, c), None) for c in row.source_components)
        if row.destination == host:
            names.update((display_name(product, c), None) for c in row.destination_components)
    return list(names)


def _address_text(plan: Plan, host: str) -> str:
    """A host's addresses, or the name it is known by when it has none."""
    spec = plan.hosts[host]
    return ", ".join(network_text(a) for a in spec.addresses) or (spec.dns_name or "")


def group_id(hosts: Sequence[str]) -> str:
    """The node id of equivalent hosts: the host, or ``ws01+33`` (no host name has a +)."""
    return hosts[0] if len(hosts) == 1 else f"{hosts[0]}+{len(hosts) - 1}"


def _host_nodes(
    plan: Plan, builder: _Builder, groups: Mapping[str, tuple[str, ...]]
) -> tuple[list[Node], list[Cluster]]:
    nodes = []
    zones: dict[str, None] = {}
    members = {group_id(hosts): hosts for hosts in groups.values()}
    for node_id, indexes in builder.node_rows.items():
        hosts = members[node_id]
        spec = plan.hosts[hosts[0]]
        components = _host_components(plan, hosts[0], indexes)
        if spec.zone:
            zones[spec.zone] = None
        if len(hosts) == 1:
            # a host known by name only: its name, as the matrix's address column has it
            addresses = [network_text(a) for a in spec.addresses] or [spec.dns_name or ""]
            label = [hosts[0], shown(addresses, 2)]
            where = f"{hosts[0]}: {', '.join(addresses)}"
        else:
            label = [f"{len(hosts)} hosts", shown(hosts)]
            where = (
                f"{len(hosts)} hosts alike: "
                + "; ".join(f"{h} {_address_text(plan, h)}" for h in hosts[:50])
                + (f"; +{len(hosts) - 50} more" if len(hosts) > 50 else "")
            )
        if components:
            label.append(shown(components, 2))
        nodes.append(
            Node(
                id=node_id,
                label=tuple(label),
                kind=_host_kind(plan, hosts[0], indexes),
                cluster=f"zone {spec.zone}" if spec.zone else None,
                tooltip=where
                + (f"; zone {spec.zone}" if spec.zone else "")
                + (f"; runs {', '.join(components)}" if components else ""),
                rows=tuple(indexes),
            )
        )
    return nodes, [Cluster(id=f"zone {z}", label=f"zone {z}") for z in zones]


def _zone_of(plan: Plan, host: str) -> str:
    zone = plan.hosts[host].zone
    return zone if zone is not None else f"{host} (no zone)"


def _zone_nodes(plan: Plan, builder: _Builder) -> list[Node]:
    nodes = []
    for zone, indexes in builder.node_rows.items():
        hosts = sorted(
            {
                h
                for i in indexes
                for h in (plan.rows[i].source, plan.rows[i].destination)
                if _zone_of(plan, h) == zone
            }
        )
        nodes.append(
            Node(
                id=zone,
                label=(zone, shown(hosts)),
                kind=NodeKind.ZONE,
                cluster=None,
                tooltip=f"{zone}: {', '.join(hosts)}",
                rows=tuple(indexes),
            )
        )
    return nodes


def plan_diagram(
    plan: Plan,
    view: View = View.COMPONENT,
    *,
    flows: Sequence[str] = (),
    components: Sequence[str] = (),
    group_hosts: bool = True,
) -> Diagram:
    """The diagram of ``plan`` by component, host or zone, of the rows of ``flows`` that touch
    ``components`` (all rows by default; an unknown name is a :class:`UsageError`).

    ``group_hosts``: by host, draw hosts that play the same part with the same flows as one
    box ("34 hosts"); otherwise one box per host.
    """
    rows = select_rows(plan, flows, components)
    notes: list[str] = []
    clusters: list[Cluster] = []
    if view is View.COMPONENT:
        builder, notes = _component_view(plan, rows)
        nodes, clusters = _component_nodes(plan, builder)
    else:
        builder = _Builder(plan)
        groups: Mapping[str, tuple[str, ...]] = (
            host_groups(plan, rows) if group_hosts else {h: (h,) for h in plan.hosts}
        )
        place: Callable[[str], str] = (
            (lambda host: group_id(groups[host]))
            if view is View.HOST
            else (lambda host: _zone_of(plan, host))
        )
        within = 0
        for index in rows:
            row = plan.rows[index]
            source, target = place(row.source), place(row.destination)
            if view is View.ZONE and source == target:
                within += 1
                continue
            builder.add(source, target, index)
        if within:
            notes.append(f"{within} rows within one zone cross no zone firewall: not drawn")
        if view is View.HOST:
            nodes, clusters = _host_nodes(plan, builder, groups)
        else:
            nodes = _zone_nodes(plan, builder)
    return Diagram(
        title=f"{plan.deployment}: flows by {view.value}",
        view=view,
        nodes=tuple(nodes),
        edges=builder.built_edges(),
        clusters=tuple(clusters),
        notes=tuple(notes),
    )
