"""Hand-written rulesets whose meaning hangs on a corner of the kernel's packet path, each loaded
into a network namespace and met by real packets before the audit reads it: the audit's verdict
must be what the kernel does.

Rulesets are in ``tests/data/audit``, written for the server 10.0.0.3 of ``deployment.yaml``
(client 10.0.0.2) or of ``one-host.yaml`` (10.0.0.3 is a client that asks its local agent on
loopback tcp 18080 and a web server, 10.0.0.4, on tcp 18080).  The kernel's topology takes
documentation addresses only: 10.0.0.x is 192.0.2.x there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import pytest

import netns
from portplan import load_plan
from portplan.audit import AuditResult, FindingKind, Ruleset, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.audit.nftables import read_nftables_json
from portplan.audit.ruleset import permitted
from portplan.spaces import Packet

pytestmark = pytest.mark.netns

DATA = Path(__file__).resolve().parent / "data" / "audit"
NEAR, FAR = ipaddress.ip_address("192.0.2.2"), ipaddress.ip_address("192.0.2.3")
LOCAL = ipaddress.ip_address("127.0.0.1")
TOOLS = ("nft", "iptables-restore", "iptables-save")


def kernel(name: str, network: Sequence[int] = (), loopback: Sequence[int] = ()) -> list[bool]:
    """Whether the client's TCP connections to the server's ``network`` ports, and then the
    server's own to 127.0.0.1 on ``loopback`` ports, get through ``tests/data/audit/NAME``
    (``bridge-*``: the server's address is on a bridge, its ``eth0`` a port of it)."""
    moved = (DATA / name).read_text().replace("10.0.0.", "192.0.2.")
    with netns.guard(*TOOLS), netns.topology() as net:
        net.add_node("client", [NEAR])
        server = net.add_node("server", [FAR])
        if name.startswith("bridge-"):
            for step in (
                ["link", "add", "br0", "type", "bridge"],
                ["link", "set", "eth0", "master", "br0"],
                ["addr", "del", f"{FAR}/32", "dev", "eth0"],
                ["addr", "add", f"{FAR}/32", "dev", "br0"],
                ["link", "set", "br0", "up"],
                ["-4", "route", "replace", "default", "dev", "br0"],
            ):
                net.exec(server, ["ip", *step])
        net.load(server, "server", {f"server.{name.rpartition('.')[2]}": moved})
        net.listen(
            server, [*(("tcp", FAR, p) for p in network), *(("tcp", LOCAL, p) for p in loopback)]
        )
        jobs = {
            "client": [netns.Probe("tcp", FAR, p) for p in network],
            "server": [netns.Probe("tcp", LOCAL, p) for p in loopback],
        }
        found = net.probe({k: v for k, v in jobs.items() if v})
    return [r in netns.PASSED for r in (*found.get("client", []), *found.get("server", []))]


def ruleset(name: str, deployment: str = "deployment.yaml") -> Ruleset:
    """``tests/data/audit/NAME`` as the audit reads it: nftables text as the kernel holds it
    (from a namespace of its own), an iptables-save file as it is."""
    if name.endswith(".nft"):
        with netns.guard(*TOOLS), netns.namespace() as space:
            # nft names the device of an ingress chain only while it exists
            netns.run(["ip", "-n", space, "link", "add", "eth0", "type", "veth"])
            netns.run(["ip", "netns", "exec", space, "nft", "-f", str(DATA / name)])
            text = netns.run(["ip", "netns", "exec", space, "nft", "-j", "list", "ruleset"])
        return read_nftables_json(text.stdout, name)
    given = [RulesetFile(name, (DATA / name).read_text(), "iptables")]
    return read_ruleset(given, load_plan(DATA / deployment), "server")


def audit(rules: Ruleset, deployment: str = "deployment.yaml", **options: bool) -> AuditResult:
    return audit_ruleset(load_plan(DATA / deployment), "server", rules, **options)


def missing(result: AuditResult) -> set[str]:
    return {f.flow or "" for f in result.findings if f.kind is FindingKind.MISSING}


# -- the interface a packet does not have ------------------------------------------------------


@pytest.mark.parametrize("name", ["oifname-lo.nft", "oifname-lo.v4"])
def test_an_outgoing_interface_on_the_way_in_matches_nothing(name: str) -> None:
    """``oifname "lo" accept`` (``-o lo``) in an input chain accepts nothing: the server's
    loopback connections meet the drop policy, so its loopback row is missing."""
    assert kernel(name, loopback=[18080]) == [False]
    result = audit(ruleset(name, "one-host.yaml"), "one-host.yaml")
    assert missing(result) == {"local-1.0/agent"}


def test_no_incoming_interface_on_the_way_out_matches_loopback_too() -> None:
    """``iifname != "lo" ... drop`` in an output chain drops loopback packets as well."""
    name = "iifname-not-lo.nft"
    assert kernel(name, loopback=[18080]) == [False]
    result = audit(ruleset(name), "one-host.yaml", egress=True)
    outbound = {f.flow for f in result.findings if f.kind is FindingKind.MISSING}
    assert outbound == {"local-1.0/agent", "local-1.0/web"}
    assert {f.direction for f in result.findings if f.kind is FindingKind.MISSING} == {"outbound"}


# -- chains that stop packets beyond the filter chains ------------------------------------------

CLIENT, OUTSIDER = "10.0.0.2", "10.0.0.9"


def packet(source: str, port: int) -> Packet:
    return Packet(4, ipaddress.ip_address(source), ipaddress.ip_address("10.0.0.3"), 6, port)


def bounds(rules: Ruleset, probe: Packet) -> tuple[bool, bool]:
    """Whether ``probe`` surely passes, and whether it may pass."""
    low, high = permitted(load_plan(DATA / "deployment.yaml"), "server", rules)
    return probe in low, probe in high


def kinds(result: AuditResult) -> dict[str, str]:
    return {f.flow or f.kind.value: f.kind.value for f in result.findings}


@pytest.mark.parametrize("name", ["nat-drop.nft", "nat-drop.v4"])
def test_a_nat_chain_drops_what_its_policy_drops(name: str) -> None:
    """The client reaches tcp 18080 and nothing else the filter accepts."""
    assert kernel(name, network=[18080, 18081]) == [True, False]
    rules = ruleset(name)
    result = audit(rules)
    assert kinds(result) == {
        "loop-1.0/web": "partial",
        "loop-1.0/closed": "missing",
        "loop-1.0/radius": "missing",
    }
    (web,) = [f for f in result.findings if f.flow == "loop-1.0/web"]
    assert "nat" in web.message and "policy drop" in web.message
    assert bounds(rules, packet(CLIENT, 18081)) == (False, False)
    assert bounds(rules, packet(CLIENT, 18080)) == (True, True)


def test_a_nat_chain_sees_nothing_while_conntrack_is_off() -> None:
    """No rule turns conntrack on: the NAT chain sees no packet, everything passes.  What it
    would drop does not surely pass, and may."""
    name = "nat-drop-untracked.nft"
    assert kernel(name, network=[22, 18081]) == [True, True]
    rules = ruleset(name)
    result = audit(rules)
    assert any(f.kind is FindingKind.EXTRA and packet(OUTSIDER, 22) in (f.packets or ())
               for f in result.findings)  # fmt: skip
    assert bounds(rules, packet(CLIENT, 18081)) == (False, True)
    assert bounds(rules, packet(OUTSIDER, 22)) == (False, True)
    assert any("when conntrack runs" in n for n in result.notes)


@pytest.mark.parametrize(
    ("name", "when"),
    [
        ("ingress-drop.nft", "when it comes in on"),
        ("netdev-drop.nft", "when it comes in on"),
        ("bridge-drop.nft", "when it comes in through a bridge"),
    ],
)
def test_an_ingress_drop_stops_planned_traffic(name: str, when: str) -> None:
    """An ingress chain on eth0 (a bridge's input chain) drops tcp 18081: the planned row does
    not surely pass (a packet that came in on another device would)."""
    assert kernel(name, network=[18080, 18081]) == [True, False]
    rules = ruleset(name)
    result = audit(rules)
    assert kinds(result) == {"loop-1.0/web": "partial"}
    (web,) = result.findings
    assert when in web.message
    assert bounds(rules, packet(CLIENT, 18081)) == (False, True)
    assert any(when in n for n in result.notes)


def test_an_ingress_accept_opens_nothing_the_input_chain_drops() -> None:
    assert kernel("ingress-accept.nft", network=[18080, 3306]) == [True, False]
    rules = ruleset("ingress-accept.nft")
    assert audit(rules).findings == []
    assert bounds(rules, packet(OUTSIDER, 3306)) == (False, False)
    assert bounds(rules, packet(CLIENT, 18080)) == (True, True)
