"""The whole chain, as an operator runs it, against real services behind a real firewall.

A vendor's port table (CSV, written here) names SSH, DNS (UDP and TCP), NTP and SNMP from a
monitoring station to a server; ``portplan import`` maps each to its ``app_protocol``.  A
deployment places the two components on two hosts whose RFC 5737 addresses exist only inside
two network namespaces this test creates (``monitor`` and ``server``, one veth between them).
In the server namespace run the real services on their standard ports: OpenSSH's ``sshd`` (its
own host key and config), ``dnsmasq`` (no upstream: it refuses the root query), ``chronyd``
(``local stratum 10``) and Net-SNMP's ``snmpd`` (a fixed engine ID); each one's files are in a
temporary directory, and each is stopped by its pid however the test ends; sshd and snmpd also
listen on a port beside a planned one, which only the firewall keeps closed.  ``portplan rules
-t nftables --default reject`` for the server host (reject: to a dropped UDP port silence proves
nothing) is loaded there with ``nft -f``, so the firewall is in the path.  Then ``portplan
verify --on monitor``, run inside the monitor namespace, must find every planned port open and
identified as its protocol, ``verify --expect-blocked`` must find the ports beside them blocked,
and the page of ``portplan report --verify`` must carry what identified each service.

Marked ``netns`` and ``services``: outside CI it skips (with the reason) where namespaces or a
service cannot run; under CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

import machine
import netns
import servers

pytestmark = [pytest.mark.netns, pytest.mark.services]

PORTPLAN = [sys.executable, "-m", "portplan"]
MONITOR, SERVER = "192.0.2.10", "192.0.2.20"
READY = 10.0  #: seconds each service may take to start
CLI_TIMEOUT = 20.0  #: seconds any portplan command may take
ENGINE_TEXT = "portplan-e2e"
#: ports beside planned ones where a service listens too: only the firewall keeps them blocked
UNPLANNED_TCP, UNPLANNED_UDP = 23, 162
ENGINE_ID = (bytes.fromhex("80001f8804") + ENGINE_TEXT.encode()).hex()  # Net-SNMP, text format

VENDOR_TABLE = """\
Source,Destination,Protocol,Port,Purpose
Monitor,Server,SSH/TCP,22,Remote administration
Monitor,Server,DNS/UDP,53,Name resolution
Monitor,Server,DNS/TCP,53,Large answers and zone checks
Monitor,Server,NTP/UDP,123,Time synchronisation
Monitor,Server,SNMP/UDP,161,Polling
"""

DEPLOYMENT = f"""\
name: e2e-services
hosts:
  monitor:
    addresses: [{MONITOR}]
  server:
    addresses: [{SERVER}]
products:
  monitoring-1.0:
    file: product.yaml
    components:
      monitor: monitor
      server: server
"""

#: (protocol, port) → the app_protocol the import must give it
PLANNED = {
    ("tcp", 22): "ssh",
    ("udp", 53): "dns",
    ("tcp", 53): "dns",
    ("udp", 123): "ntp",
    ("udp", 161): "snmp",
}


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    """Skip (with the reason) where namespaces cannot be built; never leak one."""
    with netns.guard("nft"):
        yield


def _portplan(
    *args: str, netns_name: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real CLI (inside ``netns_name`` if given), bounded in time."""
    argv = [*PORTPLAN, *args]
    if netns_name is not None:
        argv = ["ip", "netns", "exec", netns_name, *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    if check:
        assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stderr}"
    return result


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def _answers_tcp(ns: str, port: int, banner: bytes = b"") -> bool:
    """Whether something in ``ns`` accepts on SERVER:``port`` (and sends ``banner`` first)."""
    probe = (
        "import socket,sys\n"
        f"s=socket.create_connection(({SERVER!r},{port}),timeout=0.5)\n"
        f"sys.exit(0 if not {banner!r} or s.recv(64).startswith({banner!r}) else 1)\n"
    )
    done = subprocess.run(
        _in(ns, sys.executable, "-c", probe), check=False, capture_output=True, timeout=5
    )
    return done.returncode == 0


def _bound_udp(ns: str, port: int) -> bool:
    """Whether something in ``ns`` holds the UDP port SERVER:``port``."""
    probe = (
        "import socket\n"
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(({SERVER!r}, {port}))\n"
    )
    done = subprocess.run(
        _in(ns, sys.executable, "-c", probe), check=False, capture_output=True, timeout=5
    )
    return done.returncode != 0  # the bind failed: taken


def _start(
    stack: ExitStack, ns: str, directory: Path, argv: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``argv`` inside ``ns`` (``ip netns exec`` execs it: the pid is the server's);
    stopped by that pid when ``stack`` closes."""
    log = directory / "server.log"
    process = servers.start(_in(ns, *argv), directory, log, env)
    stack.callback(servers.stop, process)
    return process, log


def _sshd(stack: ExitStack, ns: str) -> None:
    binary = servers.binary("/usr/sbin/sshd", "openssh-server")
    servers.binary("ssh-keygen", "openssh-client")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation directory
    directory = stack.enter_context(servers.scratch("sshd"))
    key = directory / "ssh_host_ed25519_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    conf = directory / "sshd_config"
    conf.write_text(
        f"ListenAddress {SERVER}:22\nListenAddress {SERVER}:{UNPLANNED_TCP}\n"
        f"HostKey {key}\nPidFile {directory / 'sshd.pid'}\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "StrictModes no\n"
    )
    process, log = _start(stack, ns, directory, [binary, "-D", "-e", "-f", str(conf)])
    servers.wait_until(
        lambda: all(_answers_tcp(ns, port, b"SSH-2.0-") for port in (22, UNPLANNED_TCP)),
        process,
        log,
        READY,
        what="sshd",
    )


def _dnsmasq(stack: ExitStack, ns: str) -> None:
    binary = servers.binary("/usr/sbin/dnsmasq", "dnsmasq-base")
    directory = stack.enter_context(servers.scratch("dnsmasq"))
    argv = [
        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", f"--listen-address={SERVER}", "--port=53",
        f"--pid-file={directory / 'dnsmasq.pid'}", "--log-facility=-",
    ]  # fmt: skip
    process, log = _start(stack, ns, directory, argv)
    servers.wait_until(
        lambda: _answers_tcp(ns, 53) and _bound_udp(ns, 53),
        process,
        log,
        READY,
        what="dnsmasq",
    )


def _chronyd(stack: ExitStack, ns: str) -> None:
    binary = servers.binary("/usr/sbin/chronyd", "chrony")
    directory = stack.enter_context(servers.scratch("chronyd"))
    conf = directory / "chrony.conf"
    conf.write_text(
        f"port 123\nbindaddress {SERVER}\ncmdport 0\npidfile {directory / 'chronyd.pid'}\n"
        f"driftfile {directory / 'chrony.drift'}\nuser root\nallow\nlocal stratum 10\n"
    )
    process, log = _start(stack, ns, directory, [binary, "-d", "-x", "-f", str(conf)])
    servers.wait_until(lambda: _bound_udp(ns, 123), process, log, READY, what="chronyd")


def _snmpd(stack: ExitStack, ns: str) -> None:
    binary = servers.binary("/usr/sbin/snmpd", "snmpd")
    directory = stack.enter_context(servers.scratch("snmpd"))
    conf, pidfile = directory / "snmpd.conf", directory / "snmpd.pid"
    conf.write_text(f"engineID {ENGINE_TEXT}\n")
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(directory / "state"), MIBS="")
    argv = [
        binary, "-f", "-Lo", "-C", "-c", str(conf), "-p", str(pidfile),
        f"udp:{SERVER}:161,udp:{SERVER}:{UNPLANNED_UDP}",
    ]  # fmt: skip
    process, log = _start(stack, ns, directory, argv, env)
    servers.wait_until(
        lambda: "NET-SNMP version" in log.read_text(errors="replace"),
        process,
        log,
        READY,
        what="snmpd",
    )


def _link(topo: netns.Topology) -> tuple[str, str]:
    """Two namespaces, monitor and server, joined by one veth (eth0 in each), /24 addresses."""
    monitor, server = topo.new_namespace(), topo.new_namespace()
    netns.run(["ip", "-n", monitor, "link", "add", "eth0", "type", "veth", "peer", "eth0",
               "netns", server])  # fmt: skip
    for ns, address in ((monitor, MONITOR), (server, SERVER)):
        netns.run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"])
        netns.run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    return monitor, server


def _import(folder: Path) -> None:
    (folder / "ports.csv").write_text(VENDOR_TABLE)
    _portplan(
        "import", str(folder / "ports.csv"), "--id", "monitoring-1.0", "--name", "Monitoring",
        "--version", "1.0", "-o", str(folder / "product.yaml"),
    )  # fmt: skip
    flows = yaml.safe_load((folder / "product.yaml").read_text())["flows"]
    found = {(f["protocol"], port): f.get("app_protocol") for f in flows for port in f["ports"]}
    assert found == PLANNED, flows
    assert {(f["from"], f["to"]) for f in flows} == {("monitor", "server")}, flows


def _key_detail(identification: dict[str, object]) -> tuple[str, str]:
    details = identification["details"]
    assert isinstance(details, dict), identification
    return str(identification["protocol"]), {
        "ssh": details.get("software", ""),
        "dns": details.get("rcode", ""),
        "ntp": details.get("stratum", ""),
        "snmp": details.get("engine_id", ""),
    }[str(identification["protocol"])]


def test_import_rules_verify_report_against_real_services(tmp_path: Path) -> None:
    _import(tmp_path)
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(DEPLOYMENT)
    # reject, not drop: to a dropped UDP port silence proves nothing (--expect-blocked)
    ruleset = _portplan(
        "rules", str(deployment), "-t", "nftables", "--host", "server", "--default", "reject",
        "-o", "-",
    )  # fmt: skip
    assert "dport" in ruleset.stdout, ruleset.stdout

    with netns.topology() as topo, ExitStack() as stack:
        monitor, server = _link(topo)
        _sshd(stack, server)
        _dnsmasq(stack, server)
        _chronyd(stack, server)
        _snmpd(stack, server)
        netns.run(_in(server, "nft", "-f", "-"), stdin=ruleset.stdout)
        assert "reject" in netns.run(_in(server, "nft", "list", "ruleset")).stdout

        results = tmp_path / "results.json"
        verify = _portplan(
            "verify", str(deployment), "--on", "monitor", "--format", "json", "-o", str(results),
            netns_name=monitor, check=False,
        )  # fmt: skip
        report = machine.document(results.read_text(), "verify")
        checks = report["checks"]
        assert verify.returncode == 0, (verify.stderr, json.dumps(checks, indent=1))
        assert len(checks) == len(PLANNED), checks
        seen = {}
        for check in checks:
            key = (check["protocol"], check["port"])
            assert (check["outcome"], check["passed"]) == ("open", True), check
            identification = check["identification"]
            assert isinstance(identification, dict), check
            assert (identification["matches"], identification["error"]) == (True, None), check
            seen[key] = _key_detail(identification)
        assert {key: protocol for key, (protocol, _) in seen.items()} == PLANNED, seen
        assert seen[("tcp", 22)][1].startswith("OpenSSH_"), seen
        assert seen[("udp", 53)][1] == seen[("tcp", 53)][1] == "REFUSED", seen  # no upstream
        assert seen[("udp", 123)][1] == "10", seen
        assert seen[("udp", 161)][1] == ENGINE_ID, seen

        blocked = _portplan(
            "verify", str(deployment), "--on", "monitor", "--format", "json", "--expect-blocked",
            netns_name=monitor, check=False,
        )  # fmt: skip
        blocked_report = machine.document(blocked.stdout, "verify")
        assert blocked.returncode == 0, (blocked.stderr, blocked.stdout)
        blocked_checks = blocked_report["checks"]
        outcomes = {(c["protocol"], c["port"]): c["outcome"] for c in blocked_checks}
        assert all(c["passed"] for c in blocked_checks), blocked_checks
        assert {k: outcomes.pop(k) for k in PLANNED} == dict.fromkeys(PLANNED, "open"), outcomes
        # the ports beside each planned one: the firewall's reject answers for it
        beside = {(p, n + d) for p, n in PLANNED for d in (-1, 1)} - set(PLANNED)
        assert set(outcomes) == beside, outcomes
        # the firewall's reject: a TCP reset, an ICMP administratively-prohibited for UDP (also
        # where sshd and snmpd listen, tcp/23 and udp/162: the firewall is in the path)
        assert {o for (p, _), o in outcomes.items() if p == "tcp"} == {"refused"}, outcomes
        assert {o for (p, _), o in outcomes.items() if p == "udp"} == {"rejected"}, outcomes

    page = tmp_path / "report.html"
    _portplan("report", str(deployment), "--verify", str(results), "-o", str(page))
    # each planned probe's evidence in the page carries what identified its service
    evidence = {
        html.unescape(item)
        for item in re.findall(r"<li>([^<]*)</li>", page.read_text())
        if f" {SERVER}: " in html.unescape(item)
    }
    expected = {
        "tcp/22": ("; identified ssh;", "; software=OpenSSH_", "; version=2.0;"),
        "tcp/53": ("; identified dns;", "; rcode=REFUSED;"),
        "udp/53": ("; dns answered;", "; identified dns;", "; rcode=REFUSED;"),
        "udp/123": ("; ntp answered;", "; identified ntp;", "; stratum=10;"),
        "udp/161": ("; snmp answered;", "; identified snmp;", f"; engine_id={ENGINE_ID};"),
    }
    for probed, needles in expected.items():
        (line,) = [e for e in evidence if e.startswith(f"{probed} {SERVER}: open;")] or [probed]
        assert all(needle in line for needle in needles), (probed, needles, evidence)
