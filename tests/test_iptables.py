"""The iptables target: exactly the host view, split and grouped as iptables needs, and accepted
by the real ``iptables-restore``, ``ip6tables-restore`` and ``ipset`` in a throwaway namespace.

The unit tests parse the rendered rules back into (chain, addresses, protocol, port range) atoms
and compare them with the host view they were rendered from, so a rule broader (or narrower)
than the plan fails whatever the text looks like.  The ``netns`` tests load every file of both
examples into a network namespace of their own, which is always deleted afterwards.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import examples
from portplan._errors import TargetError
from portplan.model import PortRange, PortSet, Protocol
from portplan.model._types import Network
from portplan.targets import DefaultAction, RuleOptions, get_target
from portplan.targets.hostview import Direction, HostRule, HostView, host_view, rule_hosts
from portplan.targets.iptables import (
    MULTIPORT_MAX,
    SET_THRESHOLD,
    port_chunks,
    render_host,
    set_name,
)

DEPLOYMENTS = ("shopping-contoso", "smart-id-nexus")
OPTIONS = {
    "default": RuleOptions(),
    "reject": RuleOptions(default=DefaultAction.REJECT),
    "egress": RuleOptions(egress=True),
    "egress-reject": RuleOptions(egress=True, default=DefaultAction.REJECT),
    "egress-loopback-planned": RuleOptions(egress=True, extra={"loopback": "planned"}),
}


def _net(text: str) -> Network:
    return ipaddress.ip_network(text)


def _rule(
    peers: list[str],
    *,
    ports: str = "22",
    local: tuple[str, ...] = ("192.0.2.1",),
    direction: Direction = Direction.INBOUND,
    protocol: Protocol = Protocol.TCP,
    loopback: bool = False,
    flows: tuple[str, ...] = ("demo/ssh",),
) -> HostRule:
    nets = tuple(_net(p) for p in peers)
    return HostRule(
        direction=direction,
        family=nets[0].version,
        protocol=protocol,
        ports=PortSet.parse(ports),
        loopback=loopback,
        local=tuple(_net(a) for a in local),
        peers=nets,
        flows=flows,
        purposes=tuple(f"purpose of {f}" for f in flows),
    )


def _view(*rules: HostRule, addresses: tuple[str, ...] = ("192.0.2.1",)) -> HostView:
    return HostView(
        host="h1",
        deployment="demo",
        addresses=tuple(_net(a) for a in addresses),
        rules=rules,
        unreachable=(),
    )


def _peers(count: int) -> list[str]:
    return [f"198.51.100.{2 * i}" for i in range(count)]  # never adjacent: no collapsing


# --------------------------------------------------------------------------------------------
# Reading the rendered rules back
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accept:
    """One planned ``--ctstate NEW ... -j ACCEPT`` rule, as iptables would read it."""

    chain: str
    interface: str | None
    sources: tuple[Network, ...]
    destinations: tuple[Network, ...]
    protocol: str
    ports: tuple[PortRange, ...]
    comment: str
    notes: tuple[str, ...]  #: the ``#`` lines right above the rule's group


def _ipset_members(text: str) -> dict[str, tuple[str, tuple[Network, ...]]]:
    """Set name → (family, members) of an ``ipset restore`` file (members go in via _tmp)."""
    families: dict[str, str] = {}
    members: dict[str, list[Network]] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "create" and not words[1].endswith("_tmp"):
            families[words[1]] = words[words.index("family") + 1]
        elif words[0] == "add":
            members.setdefault(words[1].removesuffix("_tmp"), []).append(_net(words[2]))
    return {name: (families[name], tuple(members.get(name, ()))) for name in families}


def _port_range(text: str) -> PortRange:
    start, _, end = text.partition(":")
    return PortRange(start=int(start), end=int(end or start))


def _accepts(text: str, sets: dict[str, tuple[str, tuple[Network, ...]]]) -> list[Accept]:
    found: list[Accept] = []
    notes: list[str] = []
    for line in text.splitlines():
        if line.startswith("# "):
            notes.append(line)
            continue
        if not line.startswith("-A ") or "--ctstate NEW" not in line:
            if line.startswith("-A "):
                notes = []
            continue
        words = shlex.split(line)
        chain = words[1]
        interface = None
        sources: tuple[Network, ...] = ()
        destinations: tuple[Network, ...] = ()
        protocol = ""
        ports: tuple[PortRange, ...] = ()
        comment = ""
        i = 2
        while i < len(words):
            word = words[i]
            if word in ("-i", "-o"):
                interface = words[i + 1]
            elif word == "-s":
                sources = (_net(words[i + 1]),)
            elif word == "-d":
                destinations = (_net(words[i + 1]),)
            elif word == "--match-set":
                members = sets[words[i + 1]][1]
                if words[i + 2] == "src":
                    sources = members
                else:
                    destinations = members
            elif word == "-p":
                protocol = words[i + 1]
            elif word == "--dport":
                ports = (_port_range(words[i + 1]),)
            elif word == "--dports":
                ports = tuple(_port_range(p) for p in words[i + 1].split(","))
            elif word == "--comment":
                comment = words[i + 1]
            i += 1
        assert sources and destinations and protocol and ports, line
        found.append(
            Accept(chain, interface, sources, destinations, protocol, ports, comment, tuple(notes))
        )
    return found


Atom = tuple[str, str | None, int, str, Network, Network, PortRange]


def _atoms(accepts: list[Accept]) -> Counter[Atom]:
    return Counter(
        (a.chain, a.interface, s.version, a.protocol, s, d, p)
        for a in accepts
        for s in a.sources
        for d in a.destinations
        for p in a.ports
    )


def _expected(view: HostView, family: int, egress: bool) -> Counter[Atom]:
    """What the plan allows, per chain, in atoms of one source, destination and port range."""
    atoms: Counter[Atom] = Counter()
    for rule in view.rules:
        if rule.family != family:
            continue
        places: list[tuple[str, str | None, tuple[Network, ...], tuple[Network, ...]]] = []
        if rule.direction is Direction.INBOUND:
            places.append(("INPUT", "lo" if rule.loopback else None, rule.peers, rule.local))
            if rule.loopback and egress:  # the first packet of a loopback flow passes OUTPUT too
                places.append(("OUTPUT", "lo", rule.peers, rule.local))
        else:
            places.append(("OUTPUT", None, rule.local, rule.peers))
        for chain, interface, sources, destinations in places:
            for s in sources:
                for d in destinations:
                    for p in rule.ports.ranges:
                        atoms[(chain, interface, family, rule.protocol.value, s, d, p)] += 1
    return atoms


def _rendered(deployment: str, case: str) -> dict[str, str]:
    return get_target("iptables").render(examples.example_plan(deployment), OPTIONS[case])


# --------------------------------------------------------------------------------------------
# Exactly the plan
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(OPTIONS))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_rules_are_exactly_the_host_view(deployment: str, case: str) -> None:
    plan = examples.example_plan(deployment)
    options = OPTIONS[case]
    files = get_target("iptables").render(plan, options)
    for host in rule_hosts(plan):
        view = host_view(plan, host, plan.host_addresses(host), egress=options.egress)
        sets = _ipset_members(files.get(f"{host}.ipset", ""))
        for family in (4, 6):
            name = f"{host}.v{family}"
            expected = _expected(view, family, options.egress)
            if name not in files:
                assert not expected, f"{name} is missing but the plan has rules for it"
                assert not any(a.version == family for a in view.addresses)
                continue
            assert _atoms(_accepts(files[name], sets)) == expected, name


@pytest.mark.parametrize("case", sorted(OPTIONS))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_families_never_mix(deployment: str, case: str) -> None:
    files = _rendered(deployment, case)
    for name, text in files.items():
        if name.endswith(".ipset"):
            continue
        family = int(name[-1])
        host = name.rsplit(".", 1)[0]
        sets = _ipset_members(files.get(f"{host}.ipset", ""))
        for line in text.splitlines():
            words = shlex.split(line) if line.startswith("-A ") else []
            for flag, value in itertools.pairwise(words):
                if flag in ("-s", "-d"):
                    assert _net(value).version == family, line
                if flag == "--match-set":
                    kind, members = sets[value]
                    assert kind == ("inet" if family == 4 else "inet6"), line
                    assert all(m.version == family for m in members), line
            if family == 4:
                assert "icmp6" not in line and "ipv6-icmp" not in line, line


def test_both_families_are_always_written() -> None:
    files = _rendered("shopping-contoso", "default")
    assert "dc01.v4" in files and "dc01.v6" in files  # dual stack
    # IPv4 only in the plan, but its link-local IPv6 must not stay open: a closed v6 ruleset
    assert "shop01.v4" in files and "shop01.v6" in files
    assert ":INPUT DROP" in files["shop01.v6"]
    assert not [
        line
        for line in files["shop01.v6"].splitlines()
        if line.startswith("-A INPUT") and "--ctstate NEW" in line
    ]  # no planned rule: only the prologue and the IPv6 link rules
    # clients has no IPv6 address, but a planned loopback flow on ::1: it gets its rule
    assert "-s ::1/128 -d ::1/128 -i lo" in files["clients.v6"]


@pytest.mark.parametrize("case", sorted(OPTIONS))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_every_rule_names_its_flows(deployment: str, case: str) -> None:
    plan = examples.example_plan(deployment)
    keys = {row.key for row in plan.rows}
    files = get_target("iptables").render(plan, OPTIONS[case])
    for name, text in files.items():
        if name.endswith(".ipset"):
            continue
        sets = _ipset_members(files.get(name.rsplit(".", 1)[0] + ".ipset", ""))
        for accept in _accepts(text, sets):
            flows = accept.comment.split(", ")
            assert accept.comment and set(flows) <= keys, accept
            for flow in flows:
                assert any(note.startswith(f"# {flow}: ") for note in accept.notes), accept
        for line in text.splitlines():
            if line.startswith("-A ") and "-j ACCEPT" in line and "ESTABLISHED" not in line:
                assert '--comment "' in line, line


def test_header_says_the_whole_table_is_replaced() -> None:
    files = _rendered("smart-id-nexus", "egress-reject")
    v4, v6 = files["traefik01.v4"], files["traefik01.v6"]
    assert v4.startswith("# portplan iptables-restore ruleset (IPv4) for host traefik01")
    assert "replaces the WHOLE IPv4 filter table" in v4
    assert "replaces the WHOLE IPv6 filter table" in v6
    for text in (v4, v6):
        assert ":INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n" in text
        assert text.rstrip().endswith("COMMIT")
    assert "--reject-with icmp-admin-prohibited" in v4
    assert "--reject-with icmp6-adm-prohibited" in v6
    assert "icmp6-adm" not in v4


def test_stateful_prologue_and_neighbour_discovery() -> None:
    files = _rendered("shopping-contoso", "default")
    lines = files["dc01.v6"].splitlines()
    start = lines.index("*filter")
    assert lines[start + 4 : start + 7] == [
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A INPUT -m conntrack --ctstate INVALID -j DROP",
        '-A INPUT -i lo -m comment --comment "loopback" -j ACCEPT',
    ]
    nd = [line for line in lines if "--icmpv6-type" in line]
    assert [line.split("--icmpv6-type ")[1][:3] for line in nd] == [
        "133", "134", "135", "136", "130",
    ]  # fmt: skip
    assert all("-m hl --hl-eq 255" in line and "-s " not in line for line in nd[:4])
    # then the link traffic conntrack cannot tie to what the host sent, from the link only:
    # the router's multicast listener queries and DHCPv6 replies, ahead of the plan's rules
    assert lines[start + 11 : start + 13] == [
        "-A INPUT -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type 130 -m hl --hl-eq 1 "
        '-m comment --comment "IPv6 multicast listener queries" -j ACCEPT',
        "-A INPUT -s fe80::/10 -p udp -m udp --sport 547 --dport 546 "
        '-m comment --comment "DHCPv6 replies" -j ACCEPT',
    ]
    for name, text in files.items():  # every host's: ahead of every planned rule
        if name.endswith(".v6"):
            held = text.splitlines()
            link = held.index(lines[start + 12])
            assert all(i > link for i, line in enumerate(held) if "--ctstate NEW" in line)
    assert sum("fe80::/10" in line for line in files["dc01.v4"].splitlines()) == 0
    assert ":OUTPUT ACCEPT [0:0]" in lines
    assert not any(line.startswith("-A OUTPUT") for line in lines)
    assert "REJECT" not in files["dc01.v6"]


def test_loopback_planned_keeps_only_planned_loopback_rules() -> None:
    files = _rendered("shopping-contoso", "egress-loopback-planned")
    text = files["clients.v4"]
    assert '--comment "loopback"' not in text
    planned = [line for line in text.splitlines() if " lo " in line]
    assert len(planned) == 2  # INPUT -i lo, and OUTPUT -o lo for the connection's first packet
    assert all("-s 127.0.0.0/8 -d 127.0.0.0/8" in line for line in planned)
    assert all("--dport 8000" in line for line in planned)


def test_unknown_settings_are_refused() -> None:
    plan = examples.example_plan("shopping-contoso")
    target = get_target("iptables")
    with pytest.raises(TargetError, match="loopback"):
        target.render(plan, RuleOptions(extra={"loopbak": "planned"}))
    with pytest.raises(TargetError, match="all or planned"):
        target.render(plan, RuleOptions(extra={"loopback": "plannned"}))
    with pytest.raises(TargetError, match="no host"):
        target.render(plan, RuleOptions(hosts=("shop1",)))


# --------------------------------------------------------------------------------------------
# Multiport splitting
# --------------------------------------------------------------------------------------------


def _rule_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("-A ") and "NEW" in line]


def test_twenty_single_ports_give_two_rules() -> None:
    ports = ",".join(str(1000 + 2 * i) for i in range(20))
    files = render_host(_view(_rule(["198.51.100.7"], ports=ports)), RuleOptions())
    lines = _rule_lines(files["h1.v4"])
    assert len(lines) == 2
    assert lines[0].count(",") == 14 and lines[1].count(",") == 4
    assert all("-m multiport --dports" in line for line in lines)


def test_ranges_count_double() -> None:
    eight_ranges = ",".join(f"{1000 + 10 * i}-{1001 + 10 * i}" for i in range(8))
    chunks = port_chunks(PortSet.parse(eight_ranges))
    assert [len(c) for c in chunks] == [7, 1]
    seven_and_one = eight_ranges.rsplit(",", 1)[0] + ",2000"
    assert [len(c) for c in port_chunks(PortSet.parse(seven_and_one))] == [8]
    files = render_host(_view(_rule(["198.51.100.7"], ports=eight_ranges)), RuleOptions())
    lines = _rule_lines(files["h1.v4"])
    assert len(lines) == 2
    assert "--dports 1000:1001,1010:1011," in lines[0]
    assert "-m tcp --dport 1070:1071 " in lines[1]  # one range left: plain --dport


def test_single_port_and_single_range_use_dport() -> None:
    files = render_host(
        _view(
            _rule(["198.51.100.7"], ports="443"),
            _rule(["198.51.100.7"], ports="49152-65535", protocol=Protocol.UDP),
        ),
        RuleOptions(),
    )
    lines = _rule_lines(files["h1.v4"])
    assert "-p tcp -m tcp --dport 443 " in lines[0]
    assert "-p udp -m udp --dport 49152:65535 " in lines[1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2000), st.integers(0, 3)), min_size=1, max_size=60))
def test_port_chunks_partition_the_set(spans: list[tuple[int, int]]) -> None:
    ports = PortSet.of(PortRange(start=s, end=min(s + w, 65535)) for s, w in spans)
    chunks = port_chunks(ports)
    assert tuple(r for chunk in chunks for r in chunk) == ports.ranges
    for chunk in chunks:
        assert chunk and sum(1 if r.start == r.end else 2 for r in chunk) <= MULTIPORT_MAX
    # greedy: a chunk is closed only when the next range would not fit
    for chunk, following in itertools.pairwise(chunks):
        cost = sum(1 if r.start == r.end else 2 for r in chunk)
        assert cost + (1 if following[0].start == following[0].end else 2) > MULTIPORT_MAX


# --------------------------------------------------------------------------------------------
# Address sets
# --------------------------------------------------------------------------------------------


def test_up_to_the_threshold_one_rule_per_peer_and_no_ipset() -> None:
    files = render_host(_view(_rule(_peers(SET_THRESHOLD))), RuleOptions())
    assert set(files) == {"h1.v4", "h1.v6"}
    lines = _rule_lines(files["h1.v4"])
    assert len(lines) == SET_THRESHOLD
    assert [line.split("-s ")[1].split()[0] for line in lines] == [
        f"{p}/32" for p in _peers(SET_THRESHOLD)
    ]


def test_above_the_threshold_one_rule_with_an_ipset() -> None:
    peers = _peers(SET_THRESHOLD + 1)
    view = _view(
        _rule(peers, ports="22"),
        _rule(peers, ports="443", flows=("demo/https",)),  # same peers: same set
        _rule(["2001:db8::1", *(f"2001:db8::{i}0" for i in range(1, 5))], local=("2001:db8::9",)),
        addresses=("192.0.2.1", "2001:db8::9"),
    )
    files = render_host(view, RuleOptions())
    assert list(files) == ["h1.ipset", "h1.v4", "h1.v6"]
    v4_set = set_name(4, tuple(_net(p) for p in peers))
    v6_set = set_name(6, view.rules[2].peers)
    v4 = _rule_lines(files["h1.v4"])
    assert len(v4) == 2
    assert all(f"-m set --match-set {v4_set} src -d 192.0.2.1/32" in line for line in v4)
    v6 = _rule_lines(files["h1.v6"])
    assert v6 == [
        f"-A INPUT -m set --match-set {v6_set} src -d 2001:db8::9/128 -p tcp -m tcp "
        '--dport 22 -m conntrack --ctstate NEW -m comment --comment "demo/ssh" -j ACCEPT'
    ]
    sets = _ipset_members(files["h1.ipset"])
    assert sets == {
        v4_set: ("inet", tuple(_net(p) for p in peers)),
        v6_set: ("inet6", view.rules[2].peers),
    }
    ipset = files["h1.ipset"]
    assert f"create {v4_set} hash:net family inet -exist\n" in ipset
    assert f"swap {v4_set}_tmp {v4_set}\ndestroy {v4_set}_tmp\n" in ipset
    assert "ipset restore -f h1.ipset" in files["h1.v4"]


def test_a_set_is_named_after_its_family_and_members() -> None:
    """One name, one membership: a plan whose set holds other members names it otherwise,
    so loading its sets never changes a set the rules in force name."""
    peers = tuple(_net(p) for p in _peers(SET_THRESHOLD + 1))
    name = set_name(4, peers)
    assert re.fullmatch(r"portplan_v4_[0-9a-f]{12}", name)
    assert len(f"{name}_tmp") <= 31  # ipset's longest name
    assert set_name(4, tuple(reversed(peers))) == name  # the members, not their order
    assert set_name(4, peers[:-1]) != name
    assert set_name(4, (*peers[:-1], _net("198.51.100.99"))) != name
    assert set_name(6, tuple(_net(f"2001:db8::{i}") for i in range(5))).startswith("portplan_v6_")
    # in the rules: the same peers give the same set; other peers another one
    files = render_host(
        _view(_rule(list(map(str, peers))), _rule(_peers(SET_THRESHOLD + 2), ports="443")),
        RuleOptions(),
    )
    named = re.findall(r"--match-set (\S+) src", files["h1.v4"])
    assert named == [name, set_name(4, tuple(_net(p) for p in _peers(SET_THRESHOLD + 2)))]


def test_long_local_lists_use_a_set_too_and_outbound_matches_swap_sides() -> None:
    local = tuple(_peers(SET_THRESHOLD + 1))
    rule = _rule(["192.0.2.50"], local=local, direction=Direction.OUTBOUND)
    files = render_host(_view(rule, addresses=local), RuleOptions(egress=True))
    (line,) = _rule_lines(files["h1.v4"])
    wanted = set_name(4, tuple(_net(a) for a in local))
    assert line.startswith(f"-A OUTPUT -m set --match-set {wanted} src -d 192.0.2.50/32 ")


def test_a_rule_without_ports_is_refused() -> None:
    empty = dataclasses.replace(_rule(["198.51.100.7"]), ports=PortSet())
    with pytest.raises(TargetError, match="no port"):
        render_host(_view(empty), RuleOptions())


def test_comments_fit_and_are_quoted_safely() -> None:
    flows = tuple(f'prod/flow-{i:03d}-"quoted"\\x' for i in range(40))
    files = render_host(_view(_rule(["198.51.100.7"], flows=flows)), RuleOptions())
    (line,) = _rule_lines(files["h1.v4"])
    words = shlex.split(line)
    comment = words[words.index("--comment") + 1]
    assert len(comment.encode()) <= 255
    assert comment.startswith("prod/flow-000-'quoted'/x, ") and comment.endswith(" more")
    assert '"' not in comment and "\\" not in comment


# --------------------------------------------------------------------------------------------
# The real checkers, in a throwaway network namespace
# --------------------------------------------------------------------------------------------

TOOLS = ("ip", "ipset", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace of this test's own, deleted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install iptables ipset iproute2)")
    name = f"portplan-ipt-{uuid.uuid4().hex[:8]}"
    created = _run("ip", "netns", "add", name)
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr.strip()}")
    try:
        yield name
    finally:
        _run("ip", "netns", "delete", name)


def _in(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run("ip", "netns", "exec", ns, *args)


def _ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, f"{what}: {result.stderr.strip()}"


@pytest.mark.netns
@pytest.mark.parametrize("case", sorted(OPTIONS))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_real_checkers_accept_every_file(
    deployment: str, case: str, netns: str, tmp_path: Path
) -> None:
    files = _rendered(deployment, case)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    hosts = dict.fromkeys(name.rsplit(".", 1)[0] for name in files)
    for host in hosts:
        ipset = tmp_path / f"{host}.ipset"
        if ipset.exists():
            for attempt in ("first", "again"):  # re-appliable
                _ok(_in(netns, "ipset", "restore", "-f", str(ipset)), f"{ipset} ({attempt})")
        for family, tool in ((4, "iptables"), (6, "ip6tables")):
            path = tmp_path / f"{host}.v{family}"
            if not path.exists():
                continue
            _ok(_in(netns, f"{tool}-restore", "--test", str(path)), f"{tool}-restore --test")
            # and for real, inside the namespace: the kernel keeps every rule, comments whole
            _ok(_in(netns, f"{tool}-restore", str(path)), f"{tool}-restore {path.name}")
            saved = _in(netns, f"{tool}-save", "-t", "filter")
            _ok(saved, f"{tool}-save")
            wanted = [line for line in path.read_text().splitlines() if line.startswith("-A ")]
            kept = [line for line in saved.stdout.splitlines() if line.startswith("-A ")]
            assert len(kept) == len(wanted), path.name
            comments = [shlex.split(line)[-3] for line in wanted if "--comment" in line]
            assert [shlex.split(line)[-3] for line in kept if "--comment" in line] == comments


@pytest.mark.netns
def test_the_checker_is_not_vacuous(netns: str, tmp_path: Path) -> None:
    """A rule naming a set that was not restored is refused by ``iptables-restore --test``."""
    files = _rendered("shopping-contoso", "egress-reject")
    path = tmp_path / "admin-pc.v4"
    path.write_text(files["admin-pc.v4"])
    (name,) = set(re.findall(r"--match-set (\S+) ", files["admin-pc.v4"]))
    refused = _in(netns, "iptables-restore", "--test", str(path))
    assert refused.returncode != 0 and name in refused.stderr


_LOOPBACK_PROBE = """
import socket, sys
servers = []
for port in (8000, 8001):
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(); servers.append(s)
for port in (8000, 8001):
    c = socket.socket(); c.settimeout(2)
    try:
        c.connect(("127.0.0.1", port)); print(port, "open")
    except OSError as exc:
        print(port, type(exc).__name__)
    finally:
        c.close()
"""


@pytest.mark.netns
def test_planned_loopback_flow_passes_with_egress(netns: str, tmp_path: Path) -> None:
    """Only loopback traffic inside the namespace: 8000 is planned on clients, 8001 is not."""
    options = RuleOptions(egress=True, default=DefaultAction.REJECT, extra={"loopback": "planned"})
    files = get_target("iptables").render(examples.example_plan("shopping-contoso"), options)
    path = tmp_path / "clients.v4"
    path.write_text(files["clients.v4"])
    _ok(_in(netns, "ip", "link", "set", "lo", "up"), "lo up")
    _ok(_in(netns, "iptables-restore", str(path)), "iptables-restore")
    probe = _in(netns, sys.executable, "-c", _LOOPBACK_PROBE)
    _ok(probe, "probe")
    assert probe.stdout.split("\n")[:2] == ["8000 open", "8001 ConnectionRefusedError"]


#: how much of a line ``ipset restore`` reads at a time: what a longer line holds past it is
#: read as a line of its own
_IPSET_LINE = 1023


@pytest.mark.netns
def test_a_deployment_name_longer_than_a_restore_line_adds_no_command(
    netns: str, tmp_path: Path
) -> None:
    """The deployment's name is free text in each file's header comment.  ``ipset restore``
    reads a line 1023 bytes at a time and ``iptables-restore`` 10239: past that, a longer
    comment line went on as a command (here ``create injected ...``, padded to fill its
    piece), or broke the file."""
    view = _view(_rule(_peers(SET_THRESHOLD + 1)))
    prefix = render_host(view, RuleOptions())["h1.ipset"].split("demo", 1)[0]
    command = "create injected hash:net family inet maxelem "
    command += "0" * (_IPSET_LINE - len(command) - 3) + "100"  # octal: 64
    name = "x" * (_IPSET_LINE - len(prefix.encode())) + command + " tail" * 2500
    files = render_host(dataclasses.replace(view, deployment=name), RuleOptions())
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    restored = _in(netns, "ipset", "restore", "-f", str(tmp_path / "h1.ipset"))
    listed = _in(netns, "ipset", "list", "-n")
    # only the plan's own set, no 'injected'
    planned = re.findall(r"^create (portplan_v4_[0-9a-f]+) ", files["h1.ipset"], re.MULTILINE)
    assert listed.stdout.split() == planned and len(planned) == 1
    _ok(restored, "ipset restore")
    for family, tool in ((4, "iptables"), (6, "ip6tables")):
        _ok(_in(netns, f"{tool}-restore", str(tmp_path / f"h1.v{family}")), f"{tool}-restore")
    assert all(
        len(line.encode()) < _IPSET_LINE for text in files.values() for line in text.splitlines()
    )
