"""`portplan verify` reaching hosts by DNS name, against a real DNS server and resolver.

Nodes on the namespace harness's bridge (tests/netns.py): the source, where the real CLI runs;
a destination with two IPv4 addresses and one IPv6 address; a "stray" node holding an address
that DNS gives out but no deployment declares (it listens, so a probe would read ``open``); and
a DNS node running Debian's dnsmasq on one address while dropping DNS on another.
``ip netns exec`` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf, so the CLI's
own resolver (glibc's getaddrinfo) asks only these servers.  Names are in the reserved ``.test``
domain; every address is a documentation address on a namespace these tests made.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import machine
import netns

pytestmark = pytest.mark.netns

A = ipaddress.ip_address
SRC_V4, SRC_V6 = "192.0.2.2", "2001:db8:2::2"
DST_V4, DST_V4_B, DST_V6 = "198.51.100.2", "198.51.100.3", "2001:db8:100::2"
STRAY = "198.51.100.99"  #: DNS gives it out; no deployment declares it; it listens
MULTICAST = "233.252.0.1"  #: MCAST-TEST-NET (RFC 5771): a name may resolve to it; never probed
DNS_SERVER = "203.0.113.53"  #: dnsmasq
SILENT_SERVER = "203.0.113.54"  #: on the DNS node; DNS to it is dropped
OPEN_PORT, CLOSED_PORT = 8001, 8002

#: name -> addresses dnsmasq answers with; any other name under portplan.test is NXDOMAIN
RECORDS = {
    "one.portplan.test": (DST_V4,),
    "two.portplan.test": (DST_V4, DST_V6),
    "pair.portplan.test": (DST_V4, DST_V4_B),
    "stray.portplan.test": (DST_V4, STRAY),
    "group.portplan.test": (MULTICAST,),
}
RESOLVER = f"nameserver {DNS_SERVER}\noptions timeout:1 attempts:2\n"
#: glibc would wait 20 s for this server; verify's bound must end the lookup well before
SILENT_RESOLVER = f"nameserver {SILENT_SERVER}\noptions timeout:20 attempts:1\n"
CLI_TIMEOUT = 120.0  #: seconds one CLI run may take before the test fails

#: a JSON report's checks by (destination host, address or None for a name, port)
Checks = dict[tuple[str, str | None, int], dict[str, Any]]

SRC_RULES = f"""
table inet pp_dns {{
    chain output {{
        type filter hook output priority 0; policy accept;
        ip daddr {STRAY} counter
        ip daddr {DST_V4} counter
    }}
}}
"""
STRAY_RULES = f"""
table inet pp_dns {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip daddr {STRAY} counter
    }}
}}
"""
DNS_RULES = f"""
table inet pp_dns {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip daddr {SILENT_SERVER} udp dport 53 counter drop
        ip daddr {SILENT_SERVER} tcp dport 53 counter drop
    }}
}}
"""


@dataclass
class DnsLab:
    topo: netns.Topology
    nodes: dict[str, netns.Node]
    resolv_conf: Path  #: /etc/netns/<source namespace>/resolv.conf

    def resolver(self, text: str) -> None:
        """What the source's resolver reads from its next ``ip netns exec`` on."""
        self.resolv_conf.write_text(text)

    def counter(self, node: str, address: str) -> int:
        """Packets counted so far by the node's rule for ``address``."""
        listed = self.topo.exec(self.nodes[node], ["nft", "list", "table", "inet", "pp_dns"])
        found = re.search(
            rf"ip daddr {re.escape(address)}\S* .*?counter packets (\d+)", listed.stdout
        )
        assert found is not None, listed.stdout
        return int(found.group(1))

    def verify(
        self, deployment: Path, *args: str, fmt: str = "json"
    ) -> tuple[subprocess.CompletedProcess[str], float]:
        """The real CLI in the source namespace; its result and how long it took."""
        started = time.monotonic()
        done = subprocess.run(
            [
                "ip", "netns", "exec", self.nodes["src"].netns, sys.executable, "-m", "portplan",
                "verify", str(deployment), "--on", "src", "--timeout", "0.5", "--format", fmt,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )  # fmt: skip
        return done, time.monotonic() - started

    def checks(self, deployment: Path, *args: str, status: int) -> Checks:
        """The JSON report's checks of a run that must exit with ``status``."""
        done, _elapsed = self.verify(deployment, *args)
        assert done.returncode == status, done.stderr + done.stdout
        return _checks(done.stdout)


def _dnsmasq(node: netns.Node, pid_file: Path) -> subprocess.Popen[str]:
    records = [
        f"--host-record={name},{address}" for name, ips in RECORDS.items() for address in ips
    ]
    return subprocess.Popen(
        [
            "ip", "netns", "exec", node.netns, "dnsmasq", "--keep-in-foreground",
            "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
            f"--listen-address={DNS_SERVER}", "--port=53", f"--pid-file={pid_file}",
            "--local=/portplan.test/", "--log-facility=-", *records,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[str]) -> str:
    """Stop a process (kill it if it lingers); its standard error."""
    if process.poll() is None:
        process.terminate()
    try:
        _out, err = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate(timeout=5)
    return err or ""


def _wait_until_resolving(lab: DnsLab, dnsmasq: subprocess.Popen[str]) -> None:
    """Until the source resolves a name through dnsmasq (at most 15 s)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if dnsmasq.poll() is not None:
            raise AssertionError(f"dnsmasq exited: {_stop(dnsmasq)}")
        found = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                lab.nodes["src"].netns,
                "getent",
                "ahosts",
                "one.portplan.test",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if DST_V4 in found.stdout:
            return
        time.sleep(0.1)
    raise AssertionError("the source does not resolve through dnsmasq")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsLab]:
    with netns.guard("nft", "dnsmasq", "getent"), netns.topology() as topo:
        made_etc_netns = not Path("/etc/netns").exists()
        resolv_dir: Path | None = None
        dnsmasq: subprocess.Popen[str] | None = None
        try:
            nodes = {
                "src": topo.add_node("src", [A(SRC_V4), A(SRC_V6)]),
                "dst": topo.add_node("dst", [A(DST_V4), A(DST_V4_B), A(DST_V6)]),
                "stray": topo.add_node("stray", [A(STRAY)]),
                "dns": topo.add_node("dns", [A(DNS_SERVER), A(SILENT_SERVER)]),
            }
            resolv_dir = Path("/etc/netns") / nodes["src"].netns  # unique to this run
            resolv_dir.mkdir(parents=True)
            built = DnsLab(topo=topo, nodes=nodes, resolv_conf=resolv_dir / "resolv.conf")
            built.resolver(RESOLVER)
            topo.nft(nodes["src"], SRC_RULES)
            topo.nft(nodes["stray"], STRAY_RULES)
            topo.nft(nodes["dns"], DNS_RULES)
            topo.listen(
                nodes["dst"], [("tcp", A(a), OPEN_PORT) for a in (DST_V4, DST_V4_B, DST_V6)]
            )
            topo.listen(nodes["stray"], [("tcp", A(STRAY), p) for p in (OPEN_PORT, CLOSED_PORT)])
            dnsmasq = _dnsmasq(nodes["dns"], tmp_path_factory.mktemp("dnsmasq") / "dnsmasq.pid")
            _wait_until_resolving(built, dnsmasq)
            yield built
        finally:
            if dnsmasq is not None:
                _stop(dnsmasq)
            if resolv_dir is not None:
                shutil.rmtree(resolv_dir, ignore_errors=True)
            if made_etc_netns:
                with contextlib.suppress(OSError):
                    os.rmdir("/etc/netns")  # only if empty: another run may use it


# ---------------------------------------------------------------------------------------------
# deployments and reports


def _deployment(directory: Path, servers: dict[str, dict[str, Any]]) -> Path:
    """The source and ``servers`` (host name -> host), each running the product's server."""
    product = {
        "id": "dns-lab",
        "name": "DNS lab",
        "version": "1",
        "document": {"title": "DNS lab ports"},
        "components": {
            "client": {"name": "Client", "kind": "client"},
            "server": {"name": "Server"},
        },
        "flows": [
            {"id": flow, "row": row, "from": "client", "to": "server", "protocol": "tcp",
             "ports": port, "purpose": f"{flow} from the client"}
            for row, (flow, port) in enumerate((("web", OPEN_PORT), ("closed", CLOSED_PORT)), 1)
        ],
    }  # fmt: skip
    (directory / "dns-lab.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    deployment = {
        "name": "dns-lab",
        "hosts": {"src": {"addresses": [SRC_V4, SRC_V6]}, **servers},
        "products": {
            "dns-lab": {
                "file": "dns-lab.yaml",
                "components": {"client": "src", "server": sorted(servers)},
            }
        },
    }
    path = directory / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


def _checks(stdout: str) -> Checks:
    """The JSON report's checks by (destination host, address, port): each is there once."""
    checks = machine.document(stdout, "verify")["checks"]
    found = {(c["destination"], c["address"], c["port"]): c for c in checks}
    assert len(found) == len(checks), checks
    return found


def _outcomes(checks: Checks) -> dict[tuple[str, str | None, int], str]:
    return {key: check["outcome"] for key, check in checks.items()}


# ---------------------------------------------------------------------------------------------
# names that resolve to what the deployment declares


def test_a_name_resolving_to_the_declared_address_is_probed_as_usual(
    lab: DnsLab, tmp_path: Path
) -> None:
    lab.resolver(RESOLVER)
    deployment = _deployment(
        tmp_path,
        {
            "web": {"addresses": [DST_V4], "dns_name": "one.portplan.test"},
            "plain": {"addresses": [DST_V4_B]},  # no name: exactly as before
        },
    )
    checks = lab.checks(deployment, status=1)  # the closed port fails, nothing else
    assert _outcomes(checks) == {
        ("web", DST_V4, OPEN_PORT): "open",
        ("web", DST_V4, CLOSED_PORT): "refused",
        ("plain", DST_V4_B, OPEN_PORT): "open",
        ("plain", DST_V4_B, CLOSED_PORT): "refused",
    }
    for (host, _address, _port), check in checks.items():
        assert check["source_address"] == SRC_V4
        assert check["notes"] == [], check
        if host == "plain":
            assert (check["dns_name"], check["dns"]) == (None, None), check
        else:
            assert check["dns_name"] == "one.portplan.test"
            assert check["dns"]["addresses"] == [DST_V4]
            assert check["dns"]["error"] is None
    # a passing flow reached by name passes
    lab.checks(deployment, "--flow", "web", status=0)


def test_every_address_of_a_name_is_probed_separately(lab: DnsLab, tmp_path: Path) -> None:
    lab.resolver(RESOLVER)
    deployment = _deployment(
        tmp_path,
        {
            "dual": {"addresses": [DST_V4, DST_V6], "dns_name": "two.portplan.test"},
            "pair": {"addresses": [DST_V4, DST_V4_B], "dns_name": "pair.portplan.test"},
        },
    )
    checks = lab.checks(deployment, "--flow", "web", status=0)
    assert _outcomes(checks) == {
        ("dual", DST_V4, OPEN_PORT): "open",
        ("dual", DST_V6, OPEN_PORT): "open",
        ("pair", DST_V4, OPEN_PORT): "open",
        ("pair", DST_V4_B, OPEN_PORT): "open",
    }
    assert checks["dual", DST_V6, OPEN_PORT]["source_address"] == SRC_V6
    for (host, _address, _port), check in checks.items():
        expected = RECORDS["two.portplan.test" if host == "dual" else "pair.portplan.test"]
        assert sorted(check["dns"]["addresses"]) == sorted(expected), check
        assert check["notes"] == [], check


# ---------------------------------------------------------------------------------------------
# what DNS says and the deployment does not: dns-error, and nothing probed


def test_an_undeclared_address_is_a_dns_error_and_never_probed(lab: DnsLab, tmp_path: Path) -> None:
    lab.resolver(RESOLVER)
    deployment = _deployment(
        tmp_path, {"web": {"addresses": [DST_V4], "dns_name": "stray.portplan.test"}}
    )
    sent_to_stray = lab.counter("src", STRAY)
    sent_to_dst = lab.counter("src", DST_V4)
    # the open port passes; the dns-error fails
    checks = lab.checks(deployment, "--flow", "web", status=1)
    assert _outcomes(checks) == {
        ("web", DST_V4, OPEN_PORT): "open",
        ("web", STRAY, OPEN_PORT): "dns-error",
    }
    stray = checks["web", STRAY, OPEN_PORT]
    assert stray["passed"] is False
    assert stray["dns_name"] == "stray.portplan.test"
    assert stray["source_address"] is None
    assert stray["evidence"]["note"] == (
        f"stray.portplan.test resolves to {STRAY}, which the deployment does not declare for "
        "web: not probed"
    )
    assert checks["web", DST_V4, OPEN_PORT]["passed"] is True
    # the table and JUnit say it as well
    table, _elapsed = lab.verify(deployment, "--flow", "web", fmt="table")
    assert table.returncode == 1
    assert "dns-error" in table.stdout
    assert "1 passed, 1 failed, 0 not probed" in table.stdout
    junit, _elapsed = lab.verify(deployment, "--flow", "web", fmt="junit")
    assert junit.returncode == 1
    suite = ET.fromstring(junit.stdout)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find(f"testcase[@name='src -> {STRAY} tcp/{OPEN_PORT}']/failure")
    assert failure is not None, junit.stdout
    assert failure.get("message") == "dns-error"
    assert "not probed" in (failure.text or "")
    # not one packet went to the undeclared address in three runs, though it listens there;
    # the declared one was probed each time
    assert lab.counter("src", STRAY) == sent_to_stray
    assert lab.counter("stray", STRAY) == 0
    assert lab.counter("src", DST_V4) > sent_to_dst


def test_a_name_that_does_not_exist_is_a_dns_error(lab: DnsLab, tmp_path: Path) -> None:
    lab.resolver(RESOLVER)
    deployment = _deployment(
        tmp_path, {"web": {"addresses": [DST_V4], "dns_name": "missing.portplan.test"}}
    )
    checks = lab.checks(deployment, "--flow", "web", status=1)
    assert _outcomes(checks) == {
        ("web", DST_V4, OPEN_PORT): "open",  # still probed: the path itself works
        ("web", None, OPEN_PORT): "dns-error",  # the name stands in for the address
    }
    probed = checks["web", DST_V4, OPEN_PORT]
    assert probed["notes"] == [
        "missing.portplan.test does not resolve to this address: the product would not reach "
        "it by name"
    ]
    failed = checks["web", None, OPEN_PORT]
    assert failed["dns_name"] == "missing.portplan.test"
    assert failed["evidence"]["note"] == "missing.portplan.test: no such name (EAI_NONAME)"
    assert failed["dns"] == {
        "name": "missing.portplan.test",
        "addresses": [],
        "error": "no such name (EAI_NONAME)",
        "elapsed_ms": failed["dns"]["elapsed_ms"],
    }
    junit, _elapsed = lab.verify(deployment, "--flow", "web", fmt="junit")
    suite = ET.fromstring(junit.stdout)
    case = suite.find(f"testcase[@name='src -> missing.portplan.test tcp/{OPEN_PORT}']")
    assert case is not None, junit.stdout
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "dns-error"
    assert "no such name" in (failure.text or "")


def test_a_dns_server_that_never_answers_is_a_dns_error_within_the_bound(
    lab: DnsLab, tmp_path: Path
) -> None:
    lab.resolver(SILENT_RESOLVER)
    try:
        deployment = _deployment(
            tmp_path,
            {
                "web": {"addresses": [DST_V4], "dns_name": "one.portplan.test"},
                "dual": {"addresses": [DST_V4, DST_V6], "dns_name": "two.portplan.test"},
            },
        )
        dropped = lab.counter("dns", SILENT_SERVER)
        done, elapsed = lab.verify(deployment, "--flow", "web")
    finally:
        lab.resolver(RESOLVER)
    assert done.returncode == 1, done.stderr
    checks = _checks(done.stdout)
    assert _outcomes(checks) == {
        ("web", DST_V4, OPEN_PORT): "open",
        ("web", None, OPEN_PORT): "dns-error",
        ("dual", DST_V4, OPEN_PORT): "open",
        ("dual", DST_V6, OPEN_PORT): "open",
        ("dual", None, OPEN_PORT): "dns-error",
    }
    for name, host in (("one.portplan.test", "web"), ("two.portplan.test", "dual")):
        failed = checks[host, None, OPEN_PORT]
        assert failed["evidence"]["note"] == f"{name}: no answer within 2 s"
        # both names waited at once, each for the 2 s bound (--timeout 0.5 is shorter)
        assert 1900 <= failed["dns"]["elapsed_ms"] < 4000, failed["dns"]
    # the queries did reach the silent server, and glibc would have waited 20 s for it: the
    # run ended with the bound, not with the resolver thread it left behind
    assert lab.counter("dns", SILENT_SERVER) > dropped
    assert elapsed < 12, elapsed


# ---------------------------------------------------------------------------------------------
# hosts known by name only: the name is the declaration


def test_a_host_known_by_name_only_is_probed_at_every_address_its_name_gives(
    lab: DnsLab, tmp_path: Path
) -> None:
    lab.resolver(RESOLVER)
    deployment = _deployment(
        tmp_path,
        {
            "cloud": {"dns_name": "stray.portplan.test"},  # no addresses: what DNS says
            "gone": {"dns_name": "missing.portplan.test"},
            "group": {"dns_name": "group.portplan.test"},
        },
    )
    sent_to_stray = lab.counter("src", STRAY)
    checks = lab.checks(deployment, "--flow", "web", status=1)
    assert _outcomes(checks) == {
        # both addresses of the name are the host, the one no other host declares included
        ("cloud", DST_V4, OPEN_PORT): "open",
        ("cloud", STRAY, OPEN_PORT): "open",
        ("gone", None, OPEN_PORT): "dns-error",
        # a multicast answer names no machine: never probed
        ("group", MULTICAST, OPEN_PORT): "dns-error",
    }
    for address in (DST_V4, STRAY):
        check = checks["cloud", address, OPEN_PORT]
        assert check["source_address"] == SRC_V4
        assert sorted(check["dns"]["addresses"]) == sorted(RECORDS["stray.portplan.test"])
        assert check["notes"] == [
            f"stray.portplan.test is known by name only: it resolves to {address}"
        ]
    assert checks["gone", None, OPEN_PORT]["evidence"]["note"] == (
        "missing.portplan.test: no such name (EAI_NONAME)"
    )
    assert checks["group", MULTICAST, OPEN_PORT]["evidence"]["note"] == (
        f"group.portplan.test resolves to {MULTICAST}, a special-purpose address (multicast): "
        "never probed"
    )
    assert lab.counter("src", STRAY) > sent_to_stray  # probed, this time: the name says so
