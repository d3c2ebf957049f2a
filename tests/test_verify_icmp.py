"""`portplan verify` of ICMP echo flows through a real firewall, in network namespaces.

Nodes on the namespace harness's bridge (tests/netns.py): a monitor that the plan lets ping the
server, an application host that it does not (it has a TCP flow to the server instead), and
the server.  The server's nftables ruleset is written here by hand (echo requests accepted from
the monitor; from the application host dropped over IPv4 and rejected as administratively
prohibited over IPv6): the real CLI, run in the monitor's and the application host's
namespaces, must report the planned echo as open and the unplanned one as blocked, honestly,
through both kinds of ICMP socket.  Every address is a documentation address on a namespace
these tests made.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import machine
import netns
import test_verify_netns as verify_netns

pytestmark = pytest.mark.netns

A = ipaddress.ip_address
MON_V4, MON_V6 = "192.0.2.10", "2001:db8:2::10"
APP_V4, APP_V6 = "192.0.2.20", "2001:db8:2::20"
SRV_V4, SRV_V6 = "198.51.100.2", "2001:db8:100::2"
WEB_PORT = 8080
CLI_TIMEOUT = 120.0

SERVER_RULES = f"""
table inet pp_icmp {{
    chain input {{
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        iif lo accept
        icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept
        ip saddr {MON_V4} icmp type echo-request accept
        ip6 saddr {MON_V6} icmpv6 type echo-request accept
        ip6 saddr {APP_V6} icmpv6 type echo-request reject with icmpv6 admin-prohibited
        ip saddr {APP_V4} tcp dport {WEB_PORT} accept
        ip6 saddr {APP_V6} tcp dport {WEB_PORT} accept
    }}
}}
"""
#: the monitor's own firewall drops its echo requests to the server's IPv6 address
MONITOR_DROPS_V6 = f"""
table inet pp_icmp_out {{
    chain output {{
        type filter hook output priority 0; policy accept;
        ip6 daddr {SRV_V6} icmpv6 type echo-request drop
    }}
}}
"""


@dataclass
class IcmpLab:
    topo: netns.Topology
    nodes: dict[str, netns.Node]
    deployment: Path

    def ping_sockets(self, node: str, allowed: bool) -> None:
        """Let root's group open unprivileged ping sockets in ``node``, or not (then the prober
        falls back to a raw socket)."""
        value = "0 0" if allowed else "1 0"
        self.topo.exec(self.nodes[node], ["sysctl", "-qw", f"net.ipv4.ping_group_range={value}"])

    def verify(self, on: str, *args: str, status: int) -> dict[str, Any]:
        """The real CLI's JSON report, run in ``on``'s namespace, that must exit ``status``."""
        done = subprocess.run(
            [
                "ip", "netns", "exec", self.nodes[on].netns, sys.executable, "-m", "portplan",
                "verify", str(self.deployment), "--on", on, "--timeout", "0.5",
                "--format", "json", *args,
            ],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )  # fmt: skip
        assert done.returncode == status, done.stderr + done.stdout
        return machine.document(done.stdout, "verify")


def _deployment(directory: Path) -> Path:
    product = {
        "id": "icmp-lab",
        "name": "ICMP lab",
        "version": "1",
        "document": {"title": "ICMP lab ports"},
        "components": {
            "monitor": {"name": "Monitor", "kind": "client"},
            "app": {"name": "Application", "kind": "client"},
            "server": {"name": "Server"},
        },
        "flows": [
            {"id": "ping", "row": 1, "from": "monitor", "to": "server", "protocol": "icmp",
             "icmp": ["echo-request"], "purpose": "the monitor checks the server is up"},
            {"id": "unreachable", "row": 2, "from": "monitor", "to": "server",
             "protocol": "icmp", "icmp": ["destination-unreachable"],
             "purpose": "path MTU discovery"},
            {"id": "web", "row": 3, "from": "app", "to": "server", "protocol": "tcp",
             "ports": WEB_PORT, "purpose": "the application's requests"},
        ],
    }  # fmt: skip
    (directory / "icmp-lab.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    deployment = {
        "name": "icmp-lab",
        "hosts": {
            "mon": {"addresses": [MON_V4, MON_V6]},
            "app": {"addresses": [APP_V4, APP_V6]},
            "srv": {"addresses": [SRV_V4, SRV_V6]},
        },
        "products": {
            "icmp-lab": {
                "file": "icmp-lab.yaml",
                "components": {"monitor": "mon", "app": "app", "server": "srv"},
            }
        },
    }
    path = directory / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcmpLab]:
    with netns.guard("nft"), netns.topology() as topo:
        nodes = {
            "mon": topo.add_node("mon", [A(MON_V4), A(MON_V6)]),
            "app": topo.add_node("app", [A(APP_V4), A(APP_V6)]),
            "srv": topo.add_node("srv", [A(SRV_V4), A(SRV_V6)]),
        }
        topo.nft(nodes["srv"], SERVER_RULES)
        topo.listen(nodes["srv"], [("tcp", A(a), WEB_PORT) for a in (SRV_V4, SRV_V6)])
        yield IcmpLab(topo, nodes, _deployment(tmp_path_factory.mktemp("icmp")))


def _echoes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's ICMP checks by address (each address probed once)."""
    found = {c["address"]: c for c in report["checks"] if c["protocol"] == "icmp"}
    assert len(found) == sum(c["protocol"] == "icmp" for c in report["checks"])
    return found


@pytest.mark.parametrize("ping_socket", [True, False], ids=["ping-socket", "raw-socket"])
def test_a_planned_echo_passes(lab: IcmpLab, ping_socket: bool) -> None:
    lab.ping_sockets("mon", ping_socket)
    report = lab.verify("mon", status=0)
    echoes = _echoes(report)
    assert set(echoes) == {SRV_V4, SRV_V6}
    kind = "ping socket" if ping_socket else "raw socket"
    for address, check in echoes.items():
        assert (check["flow"], check["port"], check["icmp_type"]) == (
            "icmp-lab/ping",
            None,
            "echo-request",
        )
        assert (check["outcome"], check["passed"]) == ("open", True), check
        assert check["source_address"] == (MON_V6 if ":" in address else MON_V4)
        assert check["evidence"]["note"] == f"echo reply from {address} ({kind})"
    # the other ICMP message of the plan is not probed, and says why
    assert report["not_probed"] == [
        {
            "flow": "icmp-lab/unreachable",
            "source": "mon",
            "destination": "srv",
            "reason": "ICMP destination-unreachable: verify sends ICMP echo requests (ping) "
            "only; the other ICMP messages are answers routers and hosts send about other "
            "traffic, which no probe can ask for",
        }
    ]
    assert (report["passed"], report["failed"]) == (2, 0)


@pytest.mark.parametrize("ping_socket", [True, False], ids=["ping-socket", "raw-socket"])
def test_an_unplanned_echo_is_blocked_and_reported_so(lab: IcmpLab, ping_socket: bool) -> None:
    lab.ping_sockets("app", ping_socket)
    # the application host verifies its own flow, and that what it must not do stays blocked
    report = lab.verify("app", "--expect-blocked", status=0)
    echoes = _echoes(report)
    assert set(echoes) == {SRV_V4, SRV_V6}
    dropped, rejected = echoes[SRV_V4], echoes[SRV_V6]
    # dropped over IPv4: silence, also when asked again
    assert (dropped["outcome"], dropped["passed"]) == ("filtered", True), dropped
    assert dropped["evidence"]["attempts"] >= 2
    assert dropped["evidence"]["note"].startswith("no echo reply within")
    # rejected over IPv6: the server's ICMPv6 administratively prohibited, with its sender
    assert (rejected["outcome"], rejected["passed"]) == ("rejected", True), rejected
    assert rejected["evidence"]["icmp"] == f"ICMPv6 type 1 code 1 from {SRV_V6}"
    for check in (dropped, rejected):
        assert check["flow"] == "icmp-lab/ping"
        assert check["notes"] == [
            "expected blocked: icmp-lab/ping is planned from mon, not from app"
        ]
    web = [c for c in report["checks"] if c["port"] == WEB_PORT]
    assert [(c["outcome"], c["passed"]) for c in web] == [("open", True)] * 2
    # without --expect-blocked, the same echo is simply not the application host's to probe
    plain = lab.verify("app", status=0)
    assert _echoes(plain) == {}


def test_the_sources_own_firewall_is_a_local_error(lab: IcmpLab) -> None:
    lab.ping_sockets("mon", False)
    lab.topo.nft(lab.nodes["mon"], MONITOR_DROPS_V6)
    try:
        report = lab.verify("mon", status=1)
    finally:
        lab.topo.exec(lab.nodes["mon"], ["nft", "delete", "table", "inet", "pp_icmp_out"])
    echoes = _echoes(report)
    assert (echoes[SRV_V4]["outcome"], echoes[SRV_V4]["passed"]) == ("open", True)
    dropped = echoes[SRV_V6]
    assert (dropped["outcome"], dropped["passed"]) == ("local-error", False), dropped
    assert dropped["evidence"]["errno"] == "EPERM"
    assert dropped["evidence"]["note"] == (
        "never left this machine: its own firewall drops it (EPERM)"
    )


# ---------------------------------------------------------------------------------------------
# a router's reject and a missing route (the source -- router -- destination lab)

ROUTER_REJECTS_ECHO = """
table inet pp_icmp {
    chain forward {
        type filter hook forward priority 0; policy accept;
        icmp type echo-request reject with icmpx admin-prohibited
    }
}
"""


def _routed_deployment(directory: Path) -> Path:
    product = {
        "id": "icmp-routed",
        "name": "ICMP routed",
        "version": "1",
        "document": {"title": "ICMP routed"},
        "components": {
            "client": {"name": "Client", "kind": "client"},
            "server": {"name": "Server"},
            "unrouted": {"name": "Unrouted server"},
        },
        "flows": [
            {"id": "ping", "row": 1, "from": "client", "to": ["server", "unrouted"],
             "protocol": "icmp", "purpose": "the client pings"},
        ],
    }  # fmt: skip
    (directory / "icmp-routed.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    deployment = {
        "name": "icmp-routed",
        "hosts": {
            "src": {"addresses": [verify_netns.SRC_ADDRESS]},
            "dst": {"addresses": [verify_netns.DST_ADDRESS]},
            "ghost": {"addresses": [verify_netns.UNROUTED_ADDRESS]},
        },
        "products": {
            "icmp-routed": {
                "file": "icmp-routed.yaml",
                "components": {"client": "src", "server": "dst", "unrouted": "ghost"},
            }
        },
    }
    path = directory / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


@pytest.mark.parametrize("ping_socket", [True, False], ids=["ping-socket", "raw-socket"])
def test_a_routers_reject_and_a_missing_route(tmp_path: Path, ping_socket: bool) -> None:
    with verify_netns.routed_lab() as lab:
        lab.nft(lab.router, ROUTER_REJECTS_ECHO)
        value = "0 0" if ping_socket else "1 0"
        lab.exec(lab.src, "sysctl", "-qw", f"net.ipv4.ping_group_range={value}")
        done = lab.verify(_routed_deployment(tmp_path))
    assert done.returncode == 1, done.stderr
    checks = {c["address"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    rejected = checks[verify_netns.DST_ADDRESS]
    assert (rejected["outcome"], rejected["passed"]) == ("rejected", False), rejected
    # the error came from the router, not from the probed address, and still counts
    assert rejected["evidence"]["icmp"] == (
        f"ICMP type 3 code 13 from {verify_netns.ROUTER_SRC_SIDE}"
    )
    unrouted = checks[verify_netns.UNROUTED_ADDRESS]
    assert (unrouted["outcome"], unrouted["evidence"]["errno"]) == ("no-route", "ENETUNREACH")
