"""The ruleset audit against the kernel: what the audit says a ruleset permits is what real
packets meet.

Hypothesis generates products and deployments (``test_nft_property.cases``); one host's
nftables or iptables ruleset is rendered and then changed on purpose: a planned rule taken
out (a missing flow), an accept rule added for a port and source the plan does not name (an
extra one), and a drop rule put in front of a planned port (a partial or missing flow).  The
ruleset is loaded in a network namespace standing for the host and read back as the kernel
holds it (``nft -j list ruleset``, ``iptables-save``); the audit reads that.  Then real TCP
connections and UDP datagrams are sent from a second namespace, from sampled planned sources
and from outsiders, to sampled planned ports, the ports beside them and the added port: each
gets through exactly when the audit says the ruleset permits it, and the audit names the
rules added and the flow taken out.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import netns
from netns import PASSED, Address, NetnsError, Probe, outsider_addresses, pick_address
from plancheck import neighbours, sample
from portplan.audit import FindingKind, Ruleset, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.audit.nftables import read_nftables_json
from portplan.audit.ruleset import INFRASTRUCTURE, permitted
from portplan.plan import Plan, PlannedFlow
from portplan.spaces import PROTOCOL_NUMBERS, Packet
from portplan.targets import RuleOptions, get_target
from test_nft_property import cases, plan_of

pytestmark = pytest.mark.netns

MAX_SOURCES = 5
MAX_PORTS = 10


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard("nft", "iptables-restore", "ip6tables-restore", "iptables-save"):
        yield


def receiving_host(plan: Plan) -> str | None:
    """A single machine that network rows end on (the host whose firewall is audited)."""
    for row in plan.rows:
        host = plan.hosts[row.destination]
        if not row.loopback and row.source != row.destination and not host.is_group:
            return row.destination
    return None


class Change:
    """What the test did to the ruleset: the rule added, the flows taken out, the drop."""

    def __init__(self, rng: random.Random, plan: Plan, host: str, own: list[Address]) -> None:
        self.rows = [
            r for r in plan.rows if r.destination == host and not r.loopback and r.source != host
        ]
        self.own = own
        self.family = rng.choice(sorted({a.version for a in own}))
        self.protocol = rng.choice(("tcp", "udp"))
        in_use = [n for h in plan.hosts.values() for n in h.addresses]
        self.outsider = next(a for a in outsider_addresses(in_use, own) if a.version == self.family)
        self.port = rng.randint(1024, 65000)
        self.removed: PlannedFlow | None = None  # the flow whose rule was taken out
        self.blocked = rng.choice(self.rows)  # a row with a drop put in front of one port
        self.blocked_port = rng.choice(sorted(sample(self.blocked.ports)))


def _nft(text: str, change: Change, rng: random.Random) -> str:
    lines = text.splitlines()
    planned = [
        i
        for i, line in enumerate(lines)
        if "ct state new accept comment" in line and 'iif "lo"' not in line
    ]
    if len(planned) > 1:
        index = rng.choice(planned)
        comment = lines[index].rsplit('comment "', 1)[1].rstrip('"')
        change.removed = next(r for r in change.rows if comment.split(" +")[0] == r.key)
        del lines[index]
    ip = "ip" if change.family == 4 else "ip6"
    block = change.blocked
    after = next(i for i, line in enumerate(lines) if "neighbour discovery" in line)
    lines[after + 1 : after + 1] = [
        f"\t\t{ip} saddr {change.outsider} {change.protocol} dport {change.port} accept",
        f"\t\tmeta l4proto {block.protocol.value} th dport {change.blocked_port} drop",
    ]
    return "\n".join(lines) + "\n"


def _iptables(files: dict[str, str], host: str, change: Change, rng: random.Random) -> None:
    rules = [
        (name, i)
        for name in (f"{host}.v4", f"{host}.v6")
        for i, line in enumerate(files.get(name, "").splitlines())
        if "--ctstate NEW" in line and line.startswith("-A INPUT") and "-i lo" not in line
    ]
    if len(rules) > 1:
        name, index = rng.choice(rules)
        lines = files[name].splitlines()
        comment = lines[index].split('--comment "', 1)[1].split('"', 1)[0]
        change.removed = next(r for r in change.rows if comment.split(", ")[0] == r.key)
        # every rule of that flow: one flow can be split over several lines
        lines = [ln for ln in lines if f'--comment "{comment}"' not in ln]
        files[name] = "\n".join(lines) + "\n"
    name = f"{host}.v{change.family}"
    block = change.blocked
    proto = block.protocol.value
    added = [
        f"-A INPUT -s {change.outsider} -p {change.protocol} -m {change.protocol} "
        f"--dport {change.port} -j ACCEPT",
    ]
    for family in (4, 6):
        text = files[f"{host}.v{family}"]
        drop = f"-A INPUT -p {proto} -m {proto} --dport {change.blocked_port} -j DROP"
        text = text.replace(
            "-A INPUT -m conntrack --ctstate INVALID -j DROP",
            f"{drop}\n" + ("-A INPUT -m conntrack --ctstate INVALID -j DROP"),
        )
        if f"{host}.v{family}" == name:
            text = text.replace("COMMIT", "\n".join([*added, "COMMIT"]))
        files[f"{host}.v{family}"] = text


def _sources(plan: Plan, change: Change, rng: random.Random, taken: set[Address]) -> list[Address]:
    networks = sorted(
        {n for r in change.rows for n in r.source_addresses}, key=lambda n: (n.version, str(n))
    )
    rng.shuffle(networks)
    found = [change.outsider]
    for network in networks[:MAX_SOURCES]:
        if network.version in {a.version for a in change.own}:
            try:
                address = pick_address(network, taken | set(found))
            except NetnsError:  # a /32 (/128) of the host's own address, or of a source's
                continue
            found.append(address)
    in_use = [n for h in plan.hosts.values() for n in h.addresses]
    found += [a for a in outsider_addresses(in_use, taken | set(found))
              if a.version in {x.version for x in change.own}][:2]  # fmt: skip
    return list(dict.fromkeys(found))


def _ports(change: Change, rng: random.Random) -> list[int]:
    ports = {change.port, change.port + 1, change.blocked_port}
    for row in change.rows:
        ports |= sample(row.ports) | neighbours(row.ports)
    chosen = sorted(ports)
    rng.shuffle(chosen)
    keep = {change.port, change.blocked_port}
    return sorted(keep | set(chosen[: MAX_PORTS - len(keep)]))


def _kernel(
    topo: netns.Topology, host_node: netns.Node, sources: list[Address], ports: list[int]
) -> dict[tuple[str, Address, Address, int], bool]:
    """Which (protocol, source, destination, port) real packets get through."""
    peer = topo.add_node("peer", sources)
    endpoints = [
        (p, a, port) for a in host_node.addresses for port in ports for p in ("tcp", "udp")
    ]
    topo.listen(host_node, endpoints)
    probes = [
        Probe(protocol, destination, port, source)
        for source in sources
        for destination in host_node.addresses
        if destination.version == source.version
        for port in ports
        for protocol in ("tcp", "udp")
    ]
    results = topo.probe({"peer": probes})["peer"]
    del peer
    return {
        (p.protocol, p.source, p.destination, p.port): r in PASSED  # type: ignore[misc]
        for p, r in zip(probes, results, strict=True)
    }


def _compare(plan: Plan, host: str, ruleset: Any, passed: dict[Any, bool]) -> list[str]:
    low, high = permitted(plan, host, ruleset)
    # only the IPv6 link rules are not read exactly (neighbour discovery's and multicast
    # listener queries' hop limit, DHCPv6 replies' source port): none of them is probed here
    assert (high - low).issubset(INFRASTRUCTURE)
    assert any(passed.values()) and not all(passed.values()), "probes both pass and are blocked"
    wrong = []
    for (protocol, source, destination, port), through in passed.items():
        packet = Packet(source.version, source, destination, PROTOCOL_NUMBERS[protocol], port)
        if (packet in high) != through:
            said = "permits" if packet in high else "blocks"
            wrong.append(f"{packet}: the audit says the ruleset {said} it, the kernel "
                         f"{'let it through' if through else 'did not'}")  # fmt: skip
    return wrong


def _check_findings(
    plan: Plan, host: str, ruleset: Any, change: Change, passed: dict[Any, bool]
) -> None:
    """The audit names the added rule, and the flow taken out wherever the kernel blocked a
    packet of it (another flow's rule may still let the same packets through)."""
    result = audit_ruleset(plan, host, ruleset)
    messages = [f.message for f in result.findings]
    extras = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    assert any(
        f.example is not None
        and f.example.port == change.port
        and f.rule_text
        and str(change.port) in f.rule_text
        for f in extras
    ), messages
    removed = change.removed
    if removed is not None:
        blocked = [
            key
            for key, through in passed.items()
            if not through
            and key[0] == removed.protocol.value
            and key[3] in removed.ports
            and any(key[1] in n for n in removed.source_addresses if n.version == key[1].version)
            and any(
                key[2] in n for n in removed.destination_addresses if n.version == key[2].version
            )
        ]
        lacking = {
            f.flow for f in result.findings if f.kind in (FindingKind.MISSING, FindingKind.PARTIAL)
        }
        assert not blocked or removed.key in lacking, messages
    assert FindingKind.UNREADABLE not in {f.kind for f in result.findings}


SETTINGS = settings(
    max_examples=8,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


#: loads the changed ruleset of a host in its node and reads it back as the kernel holds it
Loader = Callable[[netns.Topology, netns.Node, Plan, str, "Change", random.Random], Ruleset]


def _agrees_with_the_kernel(case: tuple[Any, Any], seed: int, load: Loader) -> None:
    plan = plan_of(*case)
    host = receiving_host(plan)
    assume(host is not None)
    assert host is not None
    rng = random.Random(seed)
    with netns.topology() as topo:
        taken: set[Address] = set()
        own = [pick_address(n, taken) for n in plan.host_addresses(host)]
        node = topo.add_node("host", own)
        change = Change(rng, plan, host, own)
        ruleset = load(topo, node, plan, host, change, rng)
        sources = _sources(plan, change, rng, set(own))
        passed = _kernel(topo, node, sources, _ports(change, rng))
    wrong = _compare(plan, host, ruleset, passed)
    assert wrong == [], "\n".join(wrong[:20])
    _check_findings(plan, host, ruleset, change, passed)


def _load_nftables(
    topo: netns.Topology, node: netns.Node, plan: Plan, host: str, change: Change, rng: Any
) -> Ruleset:
    (text,) = get_target("nftables").render(plan, RuleOptions(hosts=(host,))).values()
    topo.nft(node, _nft(text, change, rng))
    return read_nftables_json(topo.nft_json(node), "kernel")


def _load_iptables(
    topo: netns.Topology, node: netns.Node, plan: Plan, host: str, change: Change, rng: Any
) -> Ruleset:
    files = get_target("iptables").render(plan, RuleOptions(hosts=(host,)))
    _iptables(files, host, change, rng)
    if f"{host}.ipset" in files:
        topo.exec(node, ["ipset", "restore"], stdin=files[f"{host}.ipset"])
    topo.exec(node, ["iptables-restore", "-w", "5"], stdin=files[f"{host}.v4"])
    topo.exec(node, ["ip6tables-restore", "-w", "5"], stdin=files[f"{host}.v6"])
    saved = [
        RulesetFile("iptables-save", topo.exec(node, ["iptables-save"]).stdout, "iptables"),
        RulesetFile("ip6tables-save", topo.exec(node, ["ip6tables-save"]).stdout, "ip6tables"),
        RulesetFile("ipset save", topo.exec(node, ["ipset", "save"]).stdout, "ipset"),
    ]
    return read_ruleset(saved)


@SETTINGS
@given(case=cases(distinct=True), seed=st.integers(0, 2**16))
def test_nftables_audit_agrees_with_the_kernel(case: tuple[Any, Any], seed: int) -> None:
    _agrees_with_the_kernel(case, seed, _load_nftables)


@SETTINGS
@given(case=cases(distinct=True), seed=st.integers(0, 2**16))
def test_iptables_audit_agrees_with_the_kernel(case: tuple[Any, Any], seed: int) -> None:
    _agrees_with_the_kernel(case, seed, _load_iptables)


def test_addresses_are_documentation_only() -> None:
    """The generated deployments stay in the documentation ranges the harness allows."""
    assert all(
        any(ipaddress.ip_address(a) in n for n in netns.DOCUMENTATION)
        for a in ("192.0.2.77", "203.0.113.200", "2001:db8:ff::1")
    )
