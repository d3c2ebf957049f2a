"""A reference expander of the flow matrix, written from docs/model.md alone.

It reads a product and a deployment as the dicts their YAML files give (the shapes that
``test_plan_reference`` generates) and returns the set of matrix rows the documentation
promises, or raises :class:`Refused` where the documentation says ``matrix`` fails.  It knows
nothing of ``portplan.plan``; each rule below quotes the page it comes from.

Covered: placement ("components → hosts": own entry, a group's members, the main component,
``[]``), ``from``/``to`` with groups and the implicit ``any`` (the host ``anywhere``),
sections' and flows' conditions over features (on/off and choices), parameters (default or
override; none needed and unset is refused), published ports (NAT-style ``listen_ports``, a
placed or unplaced ingress), dynamic ranges (host, deployment, platform; an unknown platform
is refused), same-host pairs, clusters and network hosts, loopback flows, ICMP types,
``management`` entries, and ``forbidden`` entries that forbid what a row needs (refused).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Ranges = tuple[tuple[int, int], ...]

ANYWHERE = "anywhere"


class Refused(Exception):
    """The documentation says the deployment is refused (``validate`` and ``matrix`` fail):
    ``problems`` names each cause (``parameter 'p1'``, ``host 'h2'``), as the messages do."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = frozenset(problems)
        super().__init__(", ".join(sorted(self.problems)))


@dataclass(frozen=True, order=True)
class Row:
    flow: str  #: product/flow-id[/ingress|/backend], or management/ID
    source: str
    destination: str
    protocol: str
    ports: Ranges
    listen_ports: Ranges
    icmp: tuple[str, ...]
    source_component: tuple[str, ...]
    destination_component: tuple[str, ...]
    loopback: bool = False


# -- ports ------------------------------------------------------------------------------------


def merge(items: Iterable[tuple[int, int]]) -> Ranges:
    """One merged, sorted set: overlapping and adjacent ranges joined."""
    out: list[list[int]] = []
    for start, end in sorted(items):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((a, b) for a, b in out)


def _one(item: Any) -> tuple[int, int]:
    if isinstance(item, int):
        return (item, item)
    start, _, end = str(item).partition("-")
    return (int(start), int(end or start))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def literal_ports(value: Any) -> Ranges:
    return merge(_one(item) for item in _as_list(value))


# -- conditions (parsed from the grammar of "Features and conditions") ------------------------


def evaluate(text: str | None, features: dict[str, Any]) -> bool:
    if text is None:
        return True
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def or_() -> bool:
        value = and_()
        while peek() == "or":
            take()
            value = and_() or value
        return value

    def and_() -> bool:
        value = unary()
        while peek() == "and":
            take()
            value = unary() and value
        return value

    def unary() -> bool:
        if peek() == "not":
            take()
            return not unary()
        return atom()

    def atom() -> bool:
        token = take()
        if token == "(":
            value = or_()
            assert take() == ")"
            return value
        if token in ("true", "false"):
            return token == "true"
        if peek() in ("==", "!="):
            op, choice = take(), take()
            return bool(features[token] == choice) == (op == "==")
        return bool(features[token])

    result = or_()
    assert pos == len(tokens), text
    return result


def joined(*conditions: str | None) -> str | None:
    parts = [f"({c})" for c in conditions if c is not None]
    return " and ".join(parts) if parts else None


# -- hosts ------------------------------------------------------------------------------------


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(host: dict[str, Any]) -> list[Network]:
    return [ipaddress.ip_network(a, strict=False) for a in _as_list(host.get("addresses"))]


def mesh(host: dict[str, Any]) -> bool:
    """A pair from a host to itself is a row ("Peers inside one cluster"): a cluster of more
    than one machine, or a network (a host whose addresses hold more than one machine)."""
    networks = _networks(host)
    if host.get("cluster"):
        return sum(n.num_addresses for n in networks) > 1
    return any(n.num_addresses > 1 for n in networks)


def one_machine_or_cluster(host: dict[str, Any]) -> bool:
    return bool(host.get("cluster", False)) or not any(n.num_addresses > 1 for n in _networks(host))


# -- the expander -----------------------------------------------------------------------------


class Expander:
    def __init__(self, product: dict[str, Any], deployment: dict[str, Any]) -> None:
        self.product = product
        self.pid = product["id"]
        self.hosts: dict[str, dict[str, Any]] = deployment["hosts"]
        entry = deployment["products"][self.pid]
        self.placement: dict[str, list[str]] = {
            c: _as_list(h) for c, h in entry.get("components", {}).items()
        }
        self.components: dict[str, dict[str, Any]] = dict(product["components"])
        self.features = {
            name: f.get("default", f["choices"][0] if "choices" in f else False)
            for name, f in product.get("features", {}).items()
        }
        self.features.update(entry.get("features", {}))
        self.parameters: dict[str, Any] = entry.get("parameters", {})
        self.deployment_ranges: dict[str, Any] = entry.get("dynamic_ranges", {})
        self.sections = {s["id"]: s for s in product.get("sections", [])}
        self.management = deployment.get("management", [])
        self.problems: list[str] = []

    # "components → hosts": own entry; else, for a group, its members' hosts; else the main
    # component's hosts.
    def hosts_of(self, component: str) -> list[str]:
        if component in self.placement:
            return self.placement[component]
        if component == "any":
            return [ANYWHERE]  # "Listener-only rows": unplaced, the rows come from anywhere
        spec = self.components[component]
        if spec.get("kind") == "group":
            found: dict[str, None] = {}
            for member in spec["members"]:
                found.update(dict.fromkeys(self.hosts_of(member)))
            return list(found)
        if "parent" in spec:
            return self.hosts_of(spec["parent"])
        return []

    def ports(self, value: Any) -> Ranges:
        items: list[tuple[int, int]] = []
        for item in _as_list(value):
            if isinstance(item, str) and item[0].isalpha():
                spec = self.product["parameters"][item]
                chosen = self.parameters.get(item, spec.get("default"))
                if chosen is None:  # "the deployment must set it"
                    self.problems.append(f"parameter '{item}'")
                else:
                    items += literal_ports(chosen)
            else:
                items.append(_one(item))
        return merge(items)

    def dynamic(self, name: str, host: str) -> Ranges:
        spec = self.hosts[host]
        if name in spec.get("dynamic_ranges", {}):
            return literal_ports(spec["dynamic_ranges"][name])
        if name in self.deployment_ranges:
            return literal_ports(self.deployment_ranges[name])
        for entry in self.product["dynamic_ranges"][name]["by_platform"]:
            if spec.get("platform") in entry["platforms"]:
                return literal_ports(entry["ports"])
        self.problems.append(f"host '{host}'")  # no platform, or an unlisted one
        return ()

    def pair_is_row(self, source: str, destination: str) -> bool:
        """ "Same-host pairs are skipped", but for a cluster or a network."""
        return source != destination or mesh(self.hosts.get(source, {}))

    def components_on(self, names: list[str], host: str) -> tuple[str, ...]:
        """The ``source_component``/``destination_component`` cell: the components on that
        host, a group opened up to its members there (named itself when none of them is)."""
        found: dict[str, None] = {}

        def add(name: str) -> bool:
            spec = self.components.get(name, {})
            if spec.get("kind") == "group":
                hit = [add(member) for member in spec["members"]]
                if any(hit):
                    return True
            if host in self.hosts_of(name):
                found[name] = None
                return True
            return False

        for name in names:
            add(name)
        return tuple(sorted(found))

    def flow_rows(self, flow: dict[str, Any]) -> list[Row]:
        section = self.sections.get(flow.get("section", ""), {})
        if not evaluate(joined(section.get("condition"), flow.get("condition")), self.features):
            return []
        from_ = _as_list(flow["from"]) if "from" in flow else ["any"]
        to = _as_list(flow["to"])
        sources = list(dict.fromkeys(h for c in from_ for h in self.hosts_of(c)))
        destinations = list(dict.fromkeys(h for c in to for h in self.hosts_of(c)))
        if not sources or not destinations:
            return []
        flow_id = f"{self.pid}/{flow['id']}"
        protocol = flow["protocol"]
        if protocol == "icmp":
            icmp = tuple(sorted(flow.get("icmp") or ["echo-request"]))
            return [
                self._row(flow_id, s, d, protocol, (), (), icmp, from_, to)
                for s in sources
                for d in destinations
                if self.pair_is_row(s, d)
            ]
        internal = self.ports(flow["ports"]) if "ports" in flow else ()
        published_spec = flow.get("published")
        published = self.ports(published_spec["ports"]) if published_spec else ()
        if flow.get("loopback"):  # only same-host rows, ends on one machine
            return [
                dataclasses.replace(
                    self._row(
                        flow_id,
                        h,
                        h,
                        protocol,
                        self._with_dynamic(flow, published or internal, h),
                        (),
                        (),
                        from_,
                        to,
                    ),
                    loopback=True,
                )
                for h in sources
                if h in destinations
            ]
        via = published_spec.get("via") if published_spec else None
        rows: list[Row] = []
        if via is not None and self.hosts_of(via):
            ingress = self.hosts_of(via)
            for source in sources:
                for gate in ingress:
                    if self.pair_is_row(source, gate):
                        rows.append(
                            self._row(
                                f"{flow_id}/ingress",
                                source,
                                gate,
                                protocol,
                                published,
                                (),
                                (),
                                from_,
                                [via],
                            )
                        )
            for gate in ingress:
                for destination in destinations:
                    if self.pair_is_row(gate, destination):
                        ports = self._with_dynamic(flow, internal, destination)
                        rows.append(
                            self._row(
                                f"{flow_id}/backend",
                                gate,
                                destination,
                                protocol,
                                ports,
                                (),
                                (),
                                [via],
                                to,
                            )
                        )
            return rows
        for source in sources:
            for destination in destinations:
                if not self.pair_is_row(source, destination):
                    continue
                ports = self._with_dynamic(flow, published or internal, destination)
                listen: Ranges = ()
                if published and internal and published != internal:
                    listen = self._with_dynamic(flow, internal, destination)
                rows.append(
                    self._row(flow_id, source, destination, protocol, ports, listen, (), from_, to)
                )
        return rows

    def _with_dynamic(self, flow: dict[str, Any], ports: Ranges, host: str) -> Ranges:
        if "dynamic" not in flow:
            return ports
        return merge([*ports, *self.dynamic(flow["dynamic"], host)])

    def _row(
        self,
        flow: str,
        source: str,
        destination: str,
        protocol: str,
        ports: Ranges,
        listen: Ranges,
        icmp: tuple[str, ...],
        from_: list[str],
        to: list[str],
    ) -> Row:
        return Row(
            flow,
            source,
            destination,
            protocol,
            ports,
            listen,
            icmp,
            self.components_on(from_, source),
            self.components_on(to, destination),
        )

    def management_rows(self) -> list[Row]:
        rows: list[Row] = []
        for entry in self.management:
            sources = _as_list(entry["from"])
            if "to" in entry:
                targets = _as_list(entry["to"])
            else:  # "default: every managed host that is one machine or a cluster"
                targets = [
                    name
                    for name, host in self.hosts.items()
                    if host.get("managed", True) and one_machine_or_cluster(host)
                ]
            protocol = entry.get("protocol", "tcp")
            icmp: tuple[str, ...] = ()
            ports: Ranges = ()
            if protocol == "icmp":
                icmp = tuple(sorted(entry.get("icmp") or ["echo-request"]))
            else:
                ports = literal_ports(entry["ports"])
            for source in sources:
                for target in targets:
                    if self.pair_is_row(source, target):
                        rows.append(
                            Row(
                                f"management/{entry['id']}",
                                source,
                                target,
                                protocol,
                                ports,
                                (),
                                icmp,
                                (),
                                (),
                            )
                        )
        return rows

    def addresses(self, host: str) -> list[Network]:
        if host == ANYWHERE:
            return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        return _networks(self.hosts[host])

    def meets(self, host: str, named: list[str]) -> bool:
        """``host`` is one of ``named`` or shares addresses with one of them."""
        held = [a for h in named for a in self.addresses(h)]
        return host in named or any(
            n.version == m.version and n.overlaps(m) for n in self.addresses(host) for m in held
        )

    def forbids(self, entry: dict[str, Any], row: Row) -> bool:
        """ "a deployment that forbids what one of its own flows needs is refused": the row's
        source and destination are the entry's hosts or share addresses with them ("and the
        hosts whose addresses they hold"; ``from`` is every host by default), and protocol
        and ports meet."""
        if row.loopback:
            return False  # "a local rule (...), not a network path"
        if entry.get("protocol", "tcp") != row.protocol:
            return False
        if not self.meets(row.destination, _as_list(entry["to"])):
            return False
        if "from" in entry and not self.meets(row.source, _as_list(entry["from"])):
            return False
        if row.protocol == "icmp":
            types = set(entry.get("icmp") or ["echo-request"])
            return "any" in types or "any" in row.icmp or bool(types & set(row.icmp))
        ports = literal_ports(entry["ports"])
        return any(a <= d and c <= b for a, b in ports for c, d in row.ports)

    def flows(self) -> set[Row]:
        return {row for flow in self.product["flows"] for row in self.flow_rows(flow)}


def expand(products: list[dict[str, Any]], deployment: dict[str, Any]) -> set[Row]:
    """The rows docs/model.md promises for these products bound to this deployment."""
    expanders = [Expander(product, deployment) for product in products]
    found = {row for expander in expanders for row in expander.flows()}
    found.update(expanders[0].management_rows())
    problems = [problem for expander in expanders for problem in expander.problems]
    for entry in deployment.get("forbidden", []):
        problems += [
            f"forbidden '{entry['id']}' {row.flow}"
            for row in found
            if expanders[0].forbids(entry, row)
        ]
    if problems:
        raise Refused(problems)
    return found
