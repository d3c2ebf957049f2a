"""Property: for generated deployments, the nftables rulesets accept exactly the plan.

Hypothesis builds small products (1-4 flows over TCP and UDP, single ports and ranges, some
published through an ingress, some loopback, some with a platform-dependent dynamic range) and
deployments (2-5 hosts with RFC 5737 addresses and networks, some 2001:db8:: IPv6, optional
management access).  Each host's ruleset is loaded with ``nft -f`` into a fresh namespace and
read back as the kernel holds it (``nft -j list ruleset``); the interpreter in ``nftjson``
(checked against real traffic in ``test_netns_nftables``) evaluates it for every new connection
of a finite universe: every address at and just outside the edge of every planned network,
loopback and outsiders, as sources and destinations; every planned port, the ports just
outside each range and the middle of each range; TCP and UDP; arriving on (or, with egress,
leaving through) ``eth0`` or ``lo``.  Addresses and ports that every rule and every plan row
treat alike are evaluated once, so the comparison is exact over the whole universe.

The accepted set must equal what :mod:`plancheck`'s oracle reads from the plan's rows.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import netns
from netns import Address
from nftjson import Member, Packet, Ruleset
from plancheck import LOOPBACK_ADDRESSES, contains, needs_rules
from portplan._errors import TargetError
from portplan.load.deployment import Bundle
from portplan.load.product import check_product
from portplan.load.yamlsrc import SourceMap
from portplan.model import Deployment, Product
from portplan.model.ports import MAX_PORT, MIN_PORT
from portplan.plan import Plan, PlannedFlow, build_plan
from portplan.targets import DefaultAction, RuleOptions, get_target

pytestmark = pytest.mark.netns

DOC4 = tuple(n for n in netns.DOCUMENTATION if n.version == 4)  #: RFC 5737 networks
PRODUCT = "gen-1"


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard("nft"):
        yield


# -- generated products and deployments -------------------------------------------------------


@st.composite
def v4_networks(draw: st.DrawFn, own: int | None = None) -> str:
    """A documentation network; with ``own`` (a host's number) inside that host's own /26."""
    if own is None:
        base = draw(st.sampled_from(DOC4))
        address = base[draw(st.integers(0, 255))]
        prefix = draw(st.one_of(st.just(32), st.integers(24, 32)))
    else:
        address = DOC4[own % 3][64 * (own // 3) + draw(st.integers(0, 63))]
        prefix = draw(st.one_of(st.just(32), st.integers(26, 32)))
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@st.composite
def v6_networks(draw: st.DrawFn, own: int | None = None) -> str:
    subnet = draw(st.integers(0, 3)) if own is None else own
    host = draw(st.integers(1, 0xFFFF))
    prefix = draw(st.sampled_from([128, 128, 124, 112, 64]))
    return str(ipaddress.ip_network(f"2001:db8:{subnet:x}::{host:x}/{prefix}", strict=False))


single_ports = st.one_of(
    st.integers(MIN_PORT, MAX_PORT), st.sampled_from([1, 2, 22, 443, 1024, 65534, 65535])
)


@st.composite
def port_ranges(draw: st.DrawFn) -> str:
    start = draw(single_ports)
    length = draw(st.one_of(st.integers(1, 12), st.sampled_from([100, 1000, 16383])))
    return f"{start}-{min(start + length, MAX_PORT)}" if start < MAX_PORT else str(start)


port_lists = st.lists(st.one_of(single_ports, port_ranges()), min_size=1, max_size=3)
purposes = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


@st.composite
def cases(draw: st.DrawFn, distinct: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """A product and a deployment that uses it, as the dicts a YAML file would give.

    ``distinct``: no two hosts' addresses overlap (each draws from a block of its own).
    """
    count = draw(st.integers(2, 4))
    components: dict[str, Any] = {
        f"c{i}": {
            "name": f"Component {i}",
            "kind": draw(st.sampled_from(["component", "client", "external"])),
        }
        for i in range(count)
    }
    ingress = draw(st.booleans())
    if ingress:
        components["gw"] = {"name": "Gateway", "kind": "ingress"}
    dynamic = draw(st.booleans())
    product: dict[str, Any] = {
        "id": PRODUCT,
        "name": "Generated",
        "version": "1",
        "document": {"title": "Generated ports"},
        "components": components,
        "flows": [],
    }
    if dynamic:
        product["dynamic_ranges"] = {
            "rpc": {
                "description": "dynamic range",
                "by_platform": [{"platforms": ["win"], "ports": [draw(port_ranges())]}],
            }
        }
    shapes = ["ports", "published", "loopback"] + ["via"] * ingress + ["dynamic"] * dynamic
    names = list(components)
    for j in range(draw(st.integers(1, 4))):
        flow: dict[str, Any] = {
            "id": f"f{j}",
            "row": j + 1,
            "from": draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)),
            "to": draw(st.sampled_from(names)),
            "protocol": draw(st.sampled_from(["tcp", "udp"])),
            "purpose": draw(purposes),
        }
        shape = draw(st.sampled_from(shapes))
        if shape != "published" or draw(st.booleans()):
            flow["ports"] = draw(port_lists)
        if shape in ("published", "via"):
            flow["published"] = {"ports": draw(port_lists)}
            if shape == "via":
                flow["published"]["via"] = "gw"
                flow.setdefault("ports", draw(port_lists))
        if shape == "loopback":
            flow["loopback"] = True
        if shape == "dynamic":
            flow["dynamic"] = "rpc"
        product["flows"].append(flow)

    hosts: dict[str, Any] = {}
    for i in range(draw(st.integers(2, 5))):
        own = i if distinct else None
        v4 = draw(st.lists(v4_networks(own), max_size=2, unique=distinct))
        v6 = draw(st.lists(v6_networks(own), max_size=1))
        if not v4 and not v6:
            v4 = [draw(v4_networks(own))]
        host: dict[str, Any] = {"addresses": v4 + v6, "platform": "win"}
        if dynamic and draw(st.booleans()):
            host["dynamic_ranges"] = {"rpc": [draw(port_ranges())]}
        hosts[f"h{i}"] = host
    host_names = list(hosts)
    placement = {}
    for component in components:
        # now and then a component is not placed at all
        least = 0 if draw(st.integers(0, 5)) == 0 else 1
        placed = draw(
            st.lists(st.sampled_from(host_names), min_size=least, max_size=2, unique=True)
        )
        if placed:
            placement[component] = placed
    deployment: dict[str, Any] = {
        "name": "generated",
        "hosts": hosts,
        "products": {PRODUCT: {"components": placement}},
    }
    if draw(st.booleans()):
        access: dict[str, Any] = {
            "id": "operators",
            "from": [draw(st.sampled_from(host_names))],
            "protocol": draw(st.sampled_from(["tcp", "udp"])),
            "ports": draw(port_lists),
            "purpose": "operator access",
        }
        if draw(st.booleans()):
            access["to"] = draw(st.lists(st.sampled_from(host_names), min_size=1, unique=True))
        deployment["management"] = [access]
    return product, deployment


options_strategy = st.builds(
    lambda egress, reject, loopback: RuleOptions(
        egress=egress,
        default=DefaultAction.REJECT if reject else DefaultAction.DROP,
        extra={"loopback": loopback},
    ),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["all", "planned"]),
)


def plan_of(product_data: dict[str, Any], deployment_data: dict[str, Any]) -> Plan:
    source = SourceMap(Path("gen.yaml"))
    product = Product.model_validate(product_data)
    assert check_product(product, source) == [], "the generator made an invalid product"
    deployment = Deployment.model_validate(deployment_data)
    return build_plan(Bundle(deployment=deployment, products={PRODUCT: product}, source=source))


# -- the universe of new connections ----------------------------------------------------------

OUTSIDERS = tuple(
    ipaddress.ip_address(a) for a in ("192.0.2.77", "203.0.113.200", "10.1.2.3", "2001:db8:ff::1")
)


def _edges(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterator[Address]:
    top = 2**network.max_prefixlen - 1
    for edge in (network.network_address, network.broadcast_address):
        yield edge
        for step in (-1, 1):
            if 0 <= int(edge) + step <= top:
                yield edge + step


def address_universe(plan: Plan) -> list[Address]:
    found: dict[Address, None] = dict.fromkeys((*LOOPBACK_ADDRESSES, *OUTSIDERS))
    networks = [n for host in plan.hosts.values() for n in host.addresses]
    networks += [
        n for row in plan.rows for n in (*row.source_addresses, *row.destination_addresses)
    ]
    for network in networks:
        found.update(dict.fromkeys(_edges(network)))
    return list(found)


def port_universe(plan: Plan) -> list[int]:
    found = {MIN_PORT, MAX_PORT}
    for row in plan.rows:
        for r in row.ports.ranges:
            found.update({r.start - 1, r.start, (r.start + r.end) // 2, r.end, r.end + 1})
    return sorted(p for p in found if MIN_PORT <= p <= MAX_PORT)


def representatives(values: Iterable[Any], tests: list[Member]) -> list[Any]:
    """One value per class of values that every test answers alike."""
    classes: dict[tuple[bool, ...], Any] = {}
    for value in values:
        classes.setdefault(tuple(bool(t(value)) for t in tests), value)
    return list(classes.values())


def _member(networks: tuple[Any, ...]) -> Member:
    return lambda a: contains(networks, a)


def _ports_of(row: PlannedFlow) -> Member:
    return lambda p: p in row.ports


def packets(plan: Plan, host: str, ruleset: Ruleset) -> Iterator[Packet]:
    """New connections that tell apart everything the ruleset and the host's rows tell apart."""
    rows = [r for r in plan.rows if host in (r.source, r.destination)]
    conditions = ruleset.conditions()
    address_tests: list[Member] = [lambda a: a.version]
    address_tests += [c.test for c in conditions if c.field in ("source", "destination")]
    for row in rows:
        address_tests += [_member(row.source_addresses), _member(row.destination_addresses)]
    port_tests = [c.test for c in conditions if c.field == "port"] + [_ports_of(r) for r in rows]
    addresses = representatives(address_universe(plan), address_tests)
    ports = representatives(port_universe(plan), port_tests)
    for source, destination in itertools.product(addresses, addresses):
        if source.version != destination.version:
            continue
        for protocol, port, interface in itertools.product(("tcp", "udp"), ports, ("eth0", "lo")):
            yield Packet(source, destination, protocol, port, interface)


# -- the oracle, per chain --------------------------------------------------------------------


def _admits(row: PlannedFlow, packet: Packet) -> bool:
    return (
        (packet.interface == "lo" or not row.loopback)
        and row.protocol.value == packet.protocol
        and packet.port in row.ports
        and contains(row.source_addresses, packet.source)
        and contains(row.destination_addresses, packet.destination)
    )


def planned(plan: Plan, host: str, hook: str, packet: Packet, loopback_all: bool) -> bool:
    """Whether the plan lets ``host`` accept (input) or send (output) this new connection."""
    if loopback_all and packet.interface == "lo":
        return True
    end: Callable[[PlannedFlow], str] = (
        (lambda r: r.destination) if hook == "input" else (lambda r: r.source)
    )
    return any(end(row) == host and _admits(row, packet) for row in plan.rows)


def differences(
    plan: Plan,
    host: str,
    ruleset: Ruleset,
    options: RuleOptions,
    meets: Callable[[Plan, str, str, Packet], bool] | None = None,
) -> list[str]:
    """Where the ruleset and the plan disagree for ``host`` (only on the packets that ``meets``
    says can reach the hook on that host, when given)."""
    hooks = ["input", "output"] if options.egress else ["input"]
    assert set(ruleset.chains) == set(hooks), f"{host}: base chains {sorted(ruleset.chains)}"
    loopback_all = options.extra.get("loopback", "all") == "all"
    found = []
    for packet in packets(plan, host, ruleset):
        for hook in hooks:
            if meets is not None and not meets(plan, host, hook, packet):
                continue
            actual = ruleset.chains[hook].verdict(packet) == "accept"
            if actual != planned(plan, host, hook, packet, loopback_all):
                found.append(
                    f"{host} {hook}: {packet.source} -> {packet.destination} "
                    f"{packet.protocol}/{packet.port} via {packet.interface}: "
                    f"{'accepted' if actual else 'blocked'}, but the plan says "
                    f"{'blocked' if actual else 'accepted'}"
                )
    return found


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases(), options=options_strategy)
def test_nftables_accepts_exactly_the_plan(
    case: tuple[dict[str, Any], dict[str, Any]], options: RuleOptions
) -> None:
    plan = plan_of(*case)
    files = get_target("nftables").render(plan, options)
    wanted = needs_rules(plan)
    assert set(files) == {f"{host}.nft" for host in wanted}
    problems: list[str] = []
    with netns.topology() as topo:
        node = topo.add_node("kernel")
        for host in sorted(wanted):
            text = files[f"{host}.nft"]
            try:
                topo.nft(node, text)
            except netns.NetnsError as exc:
                problems.append(f"{host}.nft does not load: {exc}\n{text}")
                continue
            ruleset = Ruleset.parse(topo.nft_json(node))
            found = differences(plan, host, ruleset, options)
            if found:
                problems.append("\n".join(found[:20]) + f"\n{host}.nft:\n{text}")
    assert problems == [], "\n\n".join(problems)


# -- one ruleset shared by every host (layout=shared) ------------------------------------------


def _overlapping_hosts(plan: Plan, hosts: Iterable[str]) -> bool:
    networks = [(host, n) for host in hosts for n in plan.host_addresses(host)]
    return any(
        a != b and n.version == m.version and n.overlaps(m)  # type: ignore[arg-type]
        for (a, n), (b, m) in itertools.combinations(networks, 2)
    )


def _on_host(plan: Plan, host: str, hook: str, packet: Packet) -> bool:
    """Whether ``packet`` can meet ``hook`` on ``host`` at all: what the host's own addresses
    (and loopback, on ``lo``) let through its input or output."""
    own = plan.host_addresses(host)
    if packet.interface == "lo":
        local = (*own, *LOOPBACK_NETS)
        return contains(local, packet.source) and contains(local, packet.destination)
    return contains(own, packet.destination if hook == "input" else packet.source)


LOOPBACK_NETS = tuple(ipaddress.ip_network(a) for a in ("127.0.0.0/8", "::1/128"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=st.one_of(cases(), cases(distinct=True)), options=options_strategy)
def test_shared_nftables_accepts_exactly_the_plan_on_every_host(
    case: tuple[dict[str, Any], dict[str, Any]], options: RuleOptions
) -> None:
    plan = plan_of(*case)
    shared = RuleOptions(
        egress=options.egress, default=options.default, extra={**options.extra, "layout": "shared"}
    )
    wanted = needs_rules(plan)
    try:
        files = get_target("nftables").render(plan, shared)
    except TargetError as exc:
        event("refused")
        # refused only for the two reasons it gives, and only when they hold
        if "overlapping addresses" in str(exc):
            assert _overlapping_hosts(plan, plan.hosts), exc
        else:
            assert "loopback flows" in str(exc), exc
            assert options.extra["loopback"] == "planned"
            assert any(row.loopback for row in plan.rows)
        return
    event("rendered")
    assert set(files) == {"shared.nft"}
    text = files["shared.nft"]
    problems: list[str] = []
    with netns.topology() as topo:
        node = topo.add_node("kernel")
        topo.nft(node, text)
        ruleset = Ruleset.parse(topo.nft_json(node))
        for host in sorted(wanted):  # the same ruleset, seen from each host in turn
            problems += differences(plan, host, ruleset, shared, meets=_on_host)
    assert problems == [], "\n".join(problems[:20]) + f"\nshared.nft:\n{text}"
