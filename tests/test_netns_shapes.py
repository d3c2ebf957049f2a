"""A cluster's mesh and ICMP, with nftables and iptables rules in real network namespaces.

examples/search-cluster.yaml puts Example Search on host ``search``, a cluster of three
machines (``cluster: true``, three addresses).  Here each member is a namespace of its own and
loads the ruleset of ``search``; the dashboard loads its own; the monitoring service (not managed
by portplan), an administrator's workstation and an outsider whose addresses no host covers have
no firewall.  Every node probes every other on TCP and UDP ports in and around the planned ones
and with ICMP echo and timestamp requests (raw sockets: ``netns``), and what gets through must
be exactly what the plan names: the members reach each other on the transport port and by ping,
and on nothing else but what any client may reach; planned echo passes over IPv4 and IPv6
(neighbour discovery still works), an unplanned ICMP type or source is blocked.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import examples
import netns
import plancheck
from netns import Address, Node, Probe, Topology
from portplan.plan import Plan
from portplan.targets import RuleOptions, get_target

pytestmark = pytest.mark.netns

#: TCP and UDP ports probed: the planned ones and those just beside them
PORTS = (21, 22, 23, 443, 5600, 5601, 5602, 9199, 9200, 9201, 9299, 9300, 9301)
#: ICMP request types probed, per IP version: echo (planned), timestamp (never planned)
ICMP_TYPES = {4: (8, 13), 6: (128,)}
MEMBERS = ("192.0.2.11", "192.0.2.12", "192.0.2.13")


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    """Skip (with the reason) where namespaces cannot be built; never leak one."""
    with netns.guard("nft", "iptables-restore", "ip6tables-restore", "ipset"):
        yield


def _plan(tmp_path: Path, *, egress: bool) -> Plan:
    if not egress:
        return examples.example_plan("search-cluster")
    # egress towards the update service needs its address: it is known by name in the example
    data = examples.example_data("search-cluster")
    data["hosts"]["updates"]["addresses"] = ["203.0.113.80"]
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    return examples.plan_from_data(data, tmp_path, "search-cluster-addressed")


def _addresses(*texts: str) -> list[Address]:
    return [netns.ipaddress.ip_address(t) for t in texts]


def _lab(topo: Topology) -> dict[str, tuple[str | None, Node]]:
    """The nodes, each with the deployment host it is (None: no host of the deployment)."""
    nodes: dict[str, tuple[str | None, Node]] = {}
    for n, address in enumerate(MEMBERS, start=1):
        nodes[f"search-{n}"] = ("search", topo.add_node(f"search-{n}", _addresses(address)))
    nodes["dash01"] = (
        "dash01",
        topo.add_node("dash01", _addresses("198.51.100.20", "2001:db8:20::20")),
    )
    nodes["monitor"] = (
        "monitor",
        topo.add_node("monitor", _addresses("203.0.113.50", "2001:db8:50::50")),
    )
    nodes["admin"] = ("admin-net", topo.add_node("admin", _addresses("203.0.113.5")))
    nodes["updates"] = ("updates", topo.add_node("updates", _addresses("203.0.113.80")))
    nodes["outsider"] = (
        None,
        topo.add_node("outsider", _addresses("192.0.2.99", "2001:db8:ffff::99")),
    )
    for _host, node in nodes.values():
        topo.listen(
            node,
            [
                (proto, a, port)
                for a in node.addresses
                for port in PORTS
                for proto in ("tcp", "udp")
            ],
        )
    return nodes


def _expected(
    plan: Plan,
    firewalled: set[str],
    src: str | None,
    dst: str | None,
    probe: Probe,
    *,
    egress: bool,
) -> bool:
    """What the plan says of one probe between nodes of hosts ``src`` and ``dst``, where the
    hosts ``firewalled`` loaded their rulesets (the others let everything through)."""
    assert probe.source is not None
    args = (probe.source, probe.destination, probe.protocol, probe.port)
    if dst in firewalled and not plancheck.inbound(plan, dst, *args):
        return False
    return not (egress and src in firewalled and not plancheck.outbound(plan, src, *args))


def _probes(nodes: dict[str, tuple[str | None, Node]]) -> dict[str, list[tuple[str, Probe]]]:
    """From every address of every node to every address of every other node."""
    jobs: dict[str, list[tuple[str, Probe]]] = {}
    for name, (_host, node) in nodes.items():
        for other, (_other_host, target) in nodes.items():
            if other == name:
                continue
            for source in node.addresses:
                for destination in target.addresses:
                    if destination.version != source.version:
                        continue
                    probes = [
                        Probe(p, destination, port, source)
                        for port in PORTS
                        for p in ("tcp", "udp")
                    ]
                    probes += [
                        Probe("icmp", destination, kind, source)
                        for kind in ICMP_TYPES[destination.version]
                    ]
                    jobs.setdefault(name, []).extend((other, p) for p in probes)
    return jobs


def _outcome(
    topo: Topology,
    plan: Plan,
    nodes: dict[str, tuple[str | None, Node]],
    firewalled: set[str],
    *,
    egress: bool,
) -> tuple[list[str], dict[tuple[str, str, str, int], bool]]:
    """The probes that did not do what the plan says, and whether each (from node, to node,
    protocol, port) passed."""
    jobs = _probes(nodes)
    results = topo.probe({name: [p for _other, p in probes] for name, probes in jobs.items()})
    wrong: list[str] = []
    seen: dict[tuple[str, str, str, int], bool] = {}
    for name, probes in jobs.items():
        for (other, probe), result in zip(probes, results[name], strict=True):
            expected = _expected(
                plan, firewalled, nodes[name][0], nodes[other][0], probe, egress=egress
            )
            passed = result in netns.PASSED
            seen[name, other, probe.protocol, probe.port] = passed
            if passed != expected:
                wrong.append(
                    f"{name} {probe.source} -> {other} {probe.destination} {probe.protocol}/"
                    f"{probe.port}: {result}, plan says {'pass' if expected else 'blocked'}"
                )
    return wrong, seen


@pytest.mark.parametrize("target", ["nftables", "iptables"])
@pytest.mark.parametrize("egress", [False, True], ids=["ingress", "egress"])
def test_cluster_members_reach_each_other_on_the_plan_and_icmp_is_exact(
    target: str, egress: bool, tmp_path: Path
) -> None:
    plan = _plan(tmp_path, egress=egress)
    files = get_target(target).render(plan, RuleOptions(egress=egress))
    firewalled = {name.rpartition(".")[0] for name in files}
    assert firewalled == {"dash01", "search"}
    with netns.topology() as topo:
        nodes = _lab(topo)
        for host, node in nodes.values():
            if host in firewalled:  # each member of the cluster loads the cluster's ruleset
                topo.load(node, host, files)
        wrong, seen = _outcome(topo, plan, nodes, firewalled, egress=egress)
    assert wrong == []
    # the spots the issue names, whatever the oracle says
    members = [f"search-{n}" for n in (1, 2, 3)]
    for a in members:
        for b in members:
            if a != b:
                assert seen[a, b, "tcp", 9300], (a, b)  # the mesh: planned transport
                assert seen[a, b, "icmp", 8], (a, b)  # planned ping between members
                assert not seen[a, b, "tcp", 9301] and not seen[a, b, "udp", 9300]
                assert not seen[a, b, "tcp", 22] and not seen[a, b, "icmp", 13]
    assert not seen["outsider", "search-1", "tcp", 9300]
    assert not seen["dash01", "search-2", "tcp", 9300]
    assert seen["monitor", "dash01", "icmp", 8] and seen["monitor", "dash01", "icmp", 128]
    assert not seen["monitor", "dash01", "icmp", 13]  # an ICMP type the plan does not name
    assert not seen["outsider", "dash01", "icmp", 8]  # echo from a source it does not name
    # the control: without a firewall of its own the monitor answers what the plan names not
    assert seen["dash01", "monitor", "icmp", 13] is not egress
    assert seen["outsider", "dash01", "tcp", 5601]  # from anywhere
