"""`portplan verify` and `portplan listen` against real network namespaces.

Three namespaces, source -- router -- destination, joined by two veth links; the router
forwards IPv4.  nftables on the source, the router and the destination produce every outcome
of the taxonomy, and the real CLI, run inside the source namespace, must report each one
exactly, port by port.  Every packet stays inside the namespaces these tests create; the
addresses are RFC 5737 documentation addresses.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import machine
import netns

pytestmark = pytest.mark.netns

PORTPLAN = [sys.executable, "-m", "portplan"]

SRC_ADDRESS = "192.0.2.2"
ROUTER_SRC_SIDE = "192.0.2.1"
ROUTER_DST_SIDE = "198.51.100.1"
DST_ADDRESS = "198.51.100.2"
UNROUTED_ADDRESS = "203.0.113.9"  #: the source has no route to it

#: A small server for the destination namespace: TCP listeners that accept and close (after an
#: optional greeting) and UDP sockets that echo (or answer the greeting).  It prints "ready"
#: once every port is bound and exits by itself after its lifetime.
SERVER = r"""
import resource, selectors, socket, sys, time
tcp = [int(p) for p in sys.argv[1].split(",") if p]
udp = [int(p) for p in sys.argv[2].split(",") if p]
greeting = sys.argv[3].encode()
lifetime = float(sys.argv[4])
_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
for port in tcp:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", port))
    s.listen(128)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, "tcp")
for port in udp:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, "udp")
print("ready", flush=True)
deadline = time.monotonic() + lifetime
while time.monotonic() < deadline:
    for key, _ in sel.select(0.5):
        try:
            if key.data == "tcp":
                conn, _peer = key.fileobj.accept()
                if greeting:
                    conn.send(greeting + b"\r\n")
                conn.close()
            else:
                data, peer = key.fileobj.recvfrom(2048)
                key.fileobj.sendto(greeting or data, peer)
        except OSError:
            pass
"""


class Background:
    """A process started in a namespace; its output is collected line by line in threads."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()

    def wait_for(self, needle: str, *, stderr: bool = False, timeout: float = 30) -> str:
        """The first line (of stdout, or stderr) holding ``needle``; fail after ``timeout``."""
        lines = self.err if stderr else self.out
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"no line with {needle!r} within {timeout} s: {self.out} {self.err}"
                    )
                self._changed.wait(min(left, 0.2))

    def stop(self) -> str:
        """Terminate it (kill it if it lingers); close its pipes; return its stderr."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return "".join(self.err)


@dataclass
class Lab:
    """source -- router -- destination; the router forwards, the source routes only to the
    destination's link (so UNROUTED_ADDRESS has no route)."""

    src: str
    router: str
    dst: str
    background: list[Background] = field(default_factory=list)

    def exec(self, namespace: str, *args: str, input: str | None = None) -> str:
        return netns.run(["ip", "netns", "exec", namespace, *args], stdin=input).stdout

    def nft(self, namespace: str, ruleset: str) -> None:
        self.exec(namespace, "nft", "-f", "-", input=ruleset)

    def start(self, namespace: str, *args: str) -> Background:
        """A background process in ``namespace``, stopped at teardown at the latest."""
        process = Background(["ip", "netns", "exec", namespace, *args])
        self.background.append(process)
        return process

    def serve(self, tcp: Sequence[int] = (), udp: Sequence[int] = (), greeting: str = "") -> int:
        """Listeners in the destination namespace; returns their pid once they are bound."""
        ports = [",".join(map(str, tcp)), ",".join(map(str, udp))]
        server = self.start(self.dst, sys.executable, "-c", SERVER, *ports, greeting, "300")
        server.wait_for("ready")
        return server.pid

    def portplan(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The real CLI in the source namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.src, *PORTPLAN, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def verify(
        self,
        deployment: Path,
        *args: str,
        source: str | None = "src",
        fmt: str | None = "json",
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """``portplan verify`` from ``source`` (``None``: the host the machine's own addresses
        pick) in ``fmt`` (``None``: the default table), each probe waiting 0.5 s at most."""
        where = ["--on", source] if source is not None else []
        report = ["--format", fmt] if fmt is not None else []
        return self.portplan(
            "verify", str(deployment), *where, *report, "--timeout", "0.5", *args, timeout=timeout
        )

    def stop(self) -> None:
        for process in self.background:
            process.stop()


@contextlib.contextmanager
def routed_lab() -> Iterator[Lab]:
    """source -- router -- destination, torn down however the block ends."""
    reason = netns.unavailable("nft", "ss")
    if reason:
        pytest.skip(reason)
    with netns.topology() as topo:
        src, router, dst = (topo.new_namespace() for _role in ("src", "router", "dst"))
        lab = Lab(src, router, dst)
        try:
            # interface names: at most 15 characters, unique per run
            token = secrets.token_hex(3)
            a_src, a_rtr, b_rtr, b_dst = (f"pv{token}{n}" for n in ("s0", "r0", "r1", "d0"))
            veth = ["type", "veth", "peer"]
            netns.run(["ip", "link", "add", a_src, "netns", src, *veth, a_rtr, "netns", router])
            netns.run(["ip", "link", "add", b_rtr, "netns", router, *veth, b_dst, "netns", dst])
            for namespace, device, address in (
                (src, a_src, f"{SRC_ADDRESS}/25"),
                (router, a_rtr, f"{ROUTER_SRC_SIDE}/25"),
                (router, b_rtr, f"{ROUTER_DST_SIDE}/24"),
                (dst, b_dst, f"{DST_ADDRESS}/24"),
            ):
                netns.run(["ip", "-n", namespace, "addr", "add", address, "dev", device])
                netns.run(["ip", "-n", namespace, "link", "set", device, "up"])
            netns.run(["ip", "-n", src, "route", "add", "198.51.100.0/24", "via", ROUTER_SRC_SIDE])
            netns.run(["ip", "-n", dst, "route", "add", "192.0.2.0/25", "via", ROUTER_DST_SIDE])
            lab.exec(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            yield lab
        finally:
            lab.stop()  # then the topology kills what is left inside and deletes the namespaces


@pytest.fixture
def lab() -> Iterator[Lab]:
    with routed_lab() as built:
        yield built


# ---------------------------------------------------------------------------------------------
# deployments


def _product(flows: Sequence[tuple[str, str, str, str | int]]) -> dict[str, Any]:
    """A product with components client, server and unrouted; flows (id, to, protocol, ports)."""
    return {
        "id": "probe-lab",
        "name": "Probe lab",
        "version": "1",
        "document": {"title": "Probe lab ports"},
        "components": {
            "client": {"name": "Client", "kind": "client"},
            "server": {"name": "Server"},
            "unrouted": {"name": "Unrouted server"},
        },
        "flows": [
            {
                "id": flow_id,
                "row": row,
                "from": "client",
                "to": to,
                "protocol": protocol,
                "ports": ports,
                "purpose": f"{flow_id} from the client",
            }
            for row, (flow_id, to, protocol, ports) in enumerate(flows, start=1)
        ],
    }


def _deployment(directory: Path, flows: Sequence[tuple[str, str, str, str | int]]) -> Path:
    (directory / "probe-lab.yaml").write_text(yaml.safe_dump(_product(flows), sort_keys=False))
    deployment = {
        "name": "probe-lab-netns",
        "hosts": {
            "src": {"addresses": [SRC_ADDRESS]},
            "dst": {"addresses": [DST_ADDRESS]},
            "ghost": {"addresses": [UNROUTED_ADDRESS]},
        },
        "products": {
            "probe-lab": {
                "file": "probe-lab.yaml",
                "components": {"client": "src", "server": "dst", "unrouted": "ghost"},
            }
        },
    }
    path = directory / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


def _checks(stdout: str) -> dict[tuple[str, int], dict[str, Any]]:
    """The JSON report's checks by (protocol, port); each port is probed once."""
    checks = machine.document(stdout, "verify")["checks"]
    found = {(c["protocol"], c["port"]): c for c in checks}
    assert len(found) == len(checks), checks
    return found


# ---------------------------------------------------------------------------------------------
# every outcome, port by port

#: flow id, protocol, port, expected outcome, expected errno, expected ICMP evidence
OUTCOMES: tuple[tuple[str, str, int, str, str | None, str | None], ...] = (
    ("tcp-open", "tcp", 8001, "open", None, None),
    ("tcp-no-listener", "tcp", 8002, "refused", "ECONNREFUSED", None),
    ("tcp-drop", "tcp", 8003, "filtered", None, None),
    ("tcp-reset", "tcp", 8004, "refused", "ECONNREFUSED", None),
    (
        "tcp-admin-prohibited",
        "tcp",
        8005,
        "rejected",
        "EHOSTUNREACH",
        f"ICMP type 3 code 13 from {ROUTER_SRC_SIDE}",
    ),
    ("tcp-source-drop", "tcp", 8006, "local-error", None, None),
    ("udp-echo", "udp", 9001, "open", None, None),
    (
        "udp-no-listener",
        "udp",
        9002,
        "closed",
        "ECONNREFUSED",
        f"ICMP type 3 code 3 from {DST_ADDRESS}",
    ),
    ("udp-drop", "udp", 9003, "open|filtered", None, None),
    (
        "udp-admin-prohibited",
        "udp",
        9004,
        "rejected",
        "EHOSTUNREACH",
        f"ICMP type 3 code 13 from {ROUTER_SRC_SIDE}",
    ),
    ("udp-source-drop", "udp", 9005, "local-error", "EPERM", None),
    # a port unreachable from the router, not the destination: its reject, not "closed"
    (
        "tcp-router-reject",
        "tcp",
        8007,
        "rejected",
        "ECONNREFUSED",
        f"ICMP type 3 code 3 from {ROUTER_SRC_SIDE}",
    ),
    (
        "udp-router-reject",
        "udp",
        9006,
        "rejected",
        "ECONNREFUSED",
        f"ICMP type 3 code 3 from {ROUTER_SRC_SIDE}",
    ),
)
UNROUTED = (
    ("tcp-unrouted", "tcp", 8010, "no-route", "ENETUNREACH", None),
    ("udp-unrouted", "udp", 9010, "no-route", "ENETUNREACH", None),
)

ROUTER_RULES = """
table inet pp_v {
    chain forward {
        type filter hook forward priority 0; policy accept;
        tcp dport 8003 drop
        udp dport 9003 drop
        tcp dport 8005 reject with icmpx admin-prohibited
        udp dport 9004 reject with icmpx admin-prohibited
        tcp dport 8007 reject with icmpx port-unreachable
        udp dport 9006 reject with icmpx port-unreachable
    }
}
"""
DST_RULES = """
table inet pp_v {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 8004 reject with tcp reset
    }
}
"""
SRC_RULES = """
table inet pp_v {
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr 198.51.100.0/24 counter
        tcp dport 8006 drop
        udp dport 9005 drop
    }
}
"""


@pytest.fixture(scope="module")
def outcome_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path]]:
    with routed_lab() as lab:
        lab.nft(lab.router, ROUTER_RULES)
        lab.nft(lab.dst, DST_RULES)
        lab.nft(lab.src, SRC_RULES)
        # listeners behind every firewalled TCP port and UDP port: the firewall, not the absence
        # of a listener, decides those outcomes
        lab.serve(tcp=(8001, 8003, 8004, 8005, 8006, 8007), udp=(9001, 9003, 9004, 9005, 9006))
        flows = [
            (flow_id, "server", protocol, port) for flow_id, protocol, port, *_ in OUTCOMES
        ] + [(flow_id, "unrouted", protocol, port) for flow_id, protocol, port, *_ in UNROUTED]
        yield lab, _deployment(tmp_path_factory.mktemp("outcomes"), flows)


def test_every_outcome_is_reported_exactly(outcome_lab: tuple[Lab, Path]) -> None:
    lab, deployment = outcome_lab
    done = lab.verify(deployment)
    assert done.returncode == 1, done.stderr  # some flows fail
    checks = _checks(done.stdout)
    expected = {(proto, port): tuple(rest) for _flow, proto, port, *rest in OUTCOMES + UNROUTED}
    assert set(checks) == set(expected)
    seen = {
        key: (c["outcome"], c["evidence"]["errno"], c["evidence"]["icmp"])
        for key, c in checks.items()
    }
    assert seen == expected  # every port at once, so a failure shows every difference
    for (protocol, port), check in checks.items():
        assert check["passed"] is (check["outcome"] == "open"), check
        assert check["temporary_listener"] is False, check  # an echo is not `portplan listen`
        assert check["source_address"] == SRC_ADDRESS
        unrouted = port in (8010, 9010)
        assert check["address"] == (UNROUTED_ADDRESS if unrouted else DST_ADDRESS), protocol
    # silence is asked about twice before it is called silence: UDP in a round of second
    # looks; TCP by the kernel's retransmission of the SYN, and since ICMP errors came in this
    # run (the rate limit may have swallowed the answer to that), in a round as well
    assert checks["udp", 9003]["evidence"]["attempts"] == 2, checks["udp", 9003]
    assert checks["tcp", 8003]["evidence"]["attempts"] == 3, checks["tcp", 8003]
    assert "never left this machine" in checks["tcp", 8006]["evidence"]["note"]
    report = machine.document(done.stdout, "verify")
    assert (report["passed"], report["failed"]) == (2, len(expected) - 2)


def test_exit_status_and_flow_selection(outcome_lab: tuple[Lab, Path]) -> None:
    lab, deployment = outcome_lab
    # only the chosen flows are probed; all pass: exit 0
    done = lab.verify(deployment, "--flow", "tcp-open", "--flow", "udp-echo")
    assert done.returncode == 0, done.stderr
    checks = _checks(done.stdout)
    assert sorted(checks) == [("tcp", 8001), ("udp", 9001)]
    assert all(c["outcome"] == "open" and c["passed"] for c in checks.values())
    # one failing flow: exit 1, and still nothing else is probed
    done = lab.verify(deployment, "--flow", "tcp-no-listener")
    assert done.returncode == 1, done.stderr
    assert [c["outcome"] for c in _checks(done.stdout).values()] == ["refused"]
    # the machine's own addresses pick the source host when --from is left out
    done = lab.verify(deployment, "--flow", "tcp-open", source=None)
    assert done.returncode == 0, done.stderr
    assert list(_checks(done.stdout)) == [("tcp", 8001)]


def _sent(lab: Lab) -> int:
    """Packets the source has sent towards the destination's network so far."""
    chain = lab.exec(lab.src, "nft", "list", "chain", "inet", "pp_v", "output")
    found = re.search(r"ip daddr 198\.51\.100\.0/24 counter packets (\d+)", chain)
    assert found is not None, chain
    return int(found.group(1))


def test_usage_errors_exit_2_and_probe_nothing(outcome_lab: tuple[Lab, Path]) -> None:
    lab, deployment = outcome_lab
    before = _sent(lab)
    # verify probes only planned flows: a flow that is not in the plan is an error
    done = lab.verify(deployment, "--flow", "tcp-open", "--flow", "ssh")
    assert done.returncode == 2
    assert "no flow 'ssh' in the plan" in done.stderr
    assert done.stdout == ""
    done = lab.verify(deployment, source="nowhere")
    assert done.returncode == 2
    assert "no host 'nowhere'" in done.stderr
    assert done.stdout == ""
    # the destination host has no flow of its own to verify
    done = lab.verify(deployment, source="dst")
    assert done.returncode == 2
    assert "no planned flow starts on dst" in done.stderr
    assert _sent(lab) == before  # not one packet left the source
    # the counter does count probes
    assert lab.verify(deployment, "--flow", "tcp-open").returncode == 0
    assert _sent(lab) > before


def test_junit_report_has_one_testcase_per_probe(outcome_lab: tuple[Lab, Path]) -> None:
    lab, deployment = outcome_lab
    done = lab.verify(deployment, fmt="junit")
    assert done.returncode == 1, done.stderr
    suite = ET.fromstring(done.stdout)
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    probes = len(OUTCOMES) + len(UNROUTED)
    assert len(cases) == probes
    assert suite.get("tests") == str(probes)
    assert suite.get("failures") == str(probes - 2)
    names = {case.get("name") for case in cases}
    assert f"src -> {DST_ADDRESS} tcp/8005" in names
    assert f"src -> {UNROUTED_ADDRESS} udp/9010" in names
    failures = {
        case.get("name"): case.find("failure") for case in cases if case.find("failure") is not None
    }
    assert set(names) - set(failures) == {
        f"src -> {DST_ADDRESS} tcp/8001",
        f"src -> {DST_ADDRESS} udp/9001",
    }
    rejected = failures[f"src -> {DST_ADDRESS} udp/9004"]
    assert rejected is not None
    assert rejected.get("message") == "rejected"
    assert f"ICMP type 3 code 13 from {ROUTER_SRC_SIDE}" in (rejected.text or "")


def _forward(rule: str) -> str:
    """A router ruleset: ``rule`` in a forward chain that lets everything else through."""
    return (
        "table inet pp_v {\n chain forward {\n  type filter hook forward priority 0;\n"
        f"  {rule}\n }}\n}}\n"
    )


# ---------------------------------------------------------------------------------------------
# ICMP rate limit: Linux answers about 6 at once, then 1 per second per peer

RATE_LIMITED = range(20000, 20040)  # 40 ports in two flows: 6 rejected at once, then 1 a second


def test_rate_limited_icmp_rejections_are_all_reported(lab: Lab, tmp_path: Path) -> None:
    # the kernel's default limit is on in the router: 1 s per error per peer, dest-unreach in mask
    assert lab.exec(lab.router, "sysctl", "-n", "net.ipv4.icmp_ratelimit").strip() == "1000"
    mask = int(lab.exec(lab.router, "sysctl", "-n", "net.ipv4.icmp_ratemask"))
    assert mask & (1 << 3)
    first, last = RATE_LIMITED[0], RATE_LIMITED[-1]
    lab.nft(lab.router, _forward(f"tcp dport {first}-{last} reject with icmpx admin-prohibited"))
    middle = first + len(RATE_LIMITED) // 2
    deployment = _deployment(
        tmp_path,
        [
            ("rate-a", "server", "tcp", f"{first}-{middle - 1}"),
            ("rate-b", "server", "tcp", f"{middle}-{last}"),
        ],
    )
    started = time.monotonic()
    done = lab.verify(deployment, timeout=400)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    checks = _checks(done.stdout)
    assert sorted(port for _proto, port in checks) == list(RATE_LIMITED)
    wrong = {port: c["outcome"] for (_p, port), c in checks.items() if c["outcome"] != "rejected"}
    assert wrong == {}
    assert {c["evidence"]["errno"] for c in checks.values()} == {"EHOSTUNREACH"}
    # the limit really bit: most ports were silent at first and answered in a later round
    asked_again = sum(c["evidence"]["attempts"] >= 2 for c in checks.values())
    assert asked_again >= len(RATE_LIMITED) // 2, (asked_again, elapsed)


PORT_UNREACHABLE = range(26000, 26010)  # 20 errors for two addresses: 6 at once, then 1 a second
SECOND_ADDRESS = "198.51.100.3"  #: the router answers for it: its rules reject before routing


def test_a_router_limiting_its_errors_across_destinations_is_not_taken_for_filtered_ports(
    lab: Lab, tmp_path: Path
) -> None:
    # the router rejects TCP with ICMP port-unreachable for two destination addresses and
    # rate-limits its errors to the source (6 at once, then 1 per second) across both: each
    # port is rejected (the router said no, not the destination), with the ICMP error as its
    # evidence; none may end up "filtered"
    first, last = PORT_UNREACHABLE[0], PORT_UNREACHABLE[-1]
    lab.nft(lab.router, _forward(f"tcp dport {first}-{last} reject with icmpx port-unreachable"))
    path = _deployment(tmp_path, [("unreachable", "server", "tcp", f"{first}-{last}")])
    data = yaml.safe_load(path.read_text())
    data["hosts"]["dst"]["addresses"].append(SECOND_ADDRESS)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    done = lab.verify(path, timeout=300)
    assert done.returncode == 1, done.stderr
    checks = machine.document(done.stdout, "verify")["checks"]
    assert sorted((c["address"], c["port"]) for c in checks) == sorted(
        (address, port) for address in (DST_ADDRESS, SECOND_ADDRESS) for port in PORT_UNREACHABLE
    )
    wrong = [(c["address"], c["port"], c["outcome"]) for c in checks if c["outcome"] != "rejected"]
    assert wrong == []
    assert {c["evidence"]["icmp"] for c in checks} == {f"ICMP type 3 code 3 from {ROUTER_SRC_SIDE}"}
    assert {c["evidence"]["note"] for c in checks} == {
        f"port unreachable from {ROUTER_SRC_SIDE}, on the way, not from the destination: a "
        "router or firewall there rejects it"
    }
    # the limit really bit: most ports were answered only when asked again
    assert sum(c["evidence"]["attempts"] >= 2 for c in checks) >= len(checks) // 2


DROPPED = range(21000, 21300)


@pytest.mark.parametrize(
    ("concurrency", "files", "note"),
    [
        # a silent port's socket carries on through the kernel's retransmission of its SYN
        # (1 s, and 0.1 s for the kernel's timer), then waits --timeout for its answer: the
        # destination never answered, so its round-trip time is unknown
        ("2048", None, "no answer to the SYN or to its retransmission within 1.6 s"),
        ("100", None, "no answer to the SYN or to its retransmission within 1.6 s"),  # window
        # no open files beyond probing's: no socket carries on, a round asks every port again
        ("100", "164", "no answer within 1.2 s"),
    ],
)
def test_silent_ports_are_asked_again_together(
    lab: Lab, tmp_path: Path, concurrency: str, files: str | None, note: str
) -> None:
    lab.nft(lab.router, _forward(f"tcp dport {DROPPED[0]}-{DROPPED[-1]} drop"))
    flows = [
        (f"drop-{i}", "server", "tcp", f"{start}-{start + 49}")
        for i, start in enumerate(range(DROPPED[0], DROPPED[-1], 50))
    ]
    deployment = _deployment(tmp_path, flows)
    limit = ["prlimit", f"--nofile={files}:{files}"] if files else []
    options = ["--on", "src", "--format", "json", "--timeout", "0.5", "--concurrency", concurrency]
    # timeout: one at a time, 300 second looks would take minutes
    done = subprocess.run(
        ["ip", "netns", "exec", lab.src, *limit, *PORTPLAN, "verify", str(deployment), *options],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    checks = _checks(done.stdout)
    assert sorted(port for _proto, port in checks) == list(DROPPED)
    # one second look, all at once, brought no answer: every port was asked twice
    seen = {
        (c["outcome"], c["evidence"]["attempts"], c["evidence"]["note"]) for c in checks.values()
    }
    assert seen == {("filtered", 2, note)}


LIMITED = range(23000, 23200)


def test_a_connection_rate_limit_on_the_way_is_not_taken_for_filtered_ports(
    lab: Lab, tmp_path: Path
) -> None:
    # the router lets through 50 new connections a second (a burst of 10) and drops the rest:
    # a wide window loses SYNs there, and ports that answer only when asked again must shrink
    # the window until every one of them has answered; none may end up "filtered"
    lab.nft(
        lab.router,
        _forward("tcp flags & (syn | ack) == syn limit rate over 50/second burst 10 packets drop"),
    )
    lab.serve(tcp=LIMITED)
    flows = [
        (f"limited-{i}", "server", "tcp", f"{start}-{start + 49}")
        for i, start in enumerate(range(LIMITED[0], LIMITED[-1], 50))
    ]
    done = lab.verify(_deployment(tmp_path, flows), timeout=120)
    checks = _checks(done.stdout)
    assert sorted(port for _proto, port in checks) == list(LIMITED)
    assert {c["outcome"] for c in checks.values()} == {"open"}, done.stdout[-2000:]
    assert done.returncode == 0, done.stderr
    # the limit really bit: some ports answered only on a second look
    assert any(c["evidence"]["attempts"] >= 2 for c in checks.values())


DEADLINED = range(24000, 24040)


def test_a_deadline_ends_the_run_on_time_and_reports_what_is_unsettled(
    lab: Lab, tmp_path: Path
) -> None:
    # one new connection a second gets through the router: 40 refused ports would take a
    # second look each, well over half a minute; --deadline 4 ends the run at 4 s
    lab.nft(lab.router, _forward("tcp flags & (syn | ack) == syn limit rate over 1/second drop"))
    flows = [("deadlined", "server", "tcp", f"{DEADLINED[0]}-{DEADLINED[-1]}")]
    started = time.monotonic()
    done = lab.verify(_deployment(tmp_path, flows), "--deadline", "4", timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert took < 4 + 4, took  # the deadline, and the start-up of two processes
    checks = _checks(done.stdout)
    assert sorted(port for _proto, port in checks) == list(DEADLINED)  # every port reported
    outcomes = {c["outcome"] for c in checks.values()}
    assert outcomes <= {"refused", "unfinished"} and "unfinished" in outcomes, outcomes
    for check in checks.values():
        if check["outcome"] == "unfinished":
            assert not check["passed"]
            assert "the deadline came first" in check["evidence"]["note"]


def test_a_slow_first_look_does_not_take_a_never_left_syn_on_trust(
    outcome_lab: tuple[Lab, Path],
) -> None:
    # --timeout 1.5: the first look outlasts the kernel's retransmission, which the source's
    # own firewall drops; that is believed only once a second look saw it again
    lab, deployment = outcome_lab
    done = lab.portplan(
        "verify", str(deployment), "--on", "src", "--format", "json", "--timeout", "1.5",
        "--flow", "tcp-source-drop",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    [check] = _checks(done.stdout).values()
    assert check["outcome"] == "local-error", check
    assert "never left this machine" in check["evidence"]["note"]
    assert check["evidence"]["attempts"] >= 2, check


def test_without_a_second_look_a_never_left_syn_says_it_was_seen_once(
    outcome_lab: tuple[Lab, Path],
) -> None:
    # --no-second-look, --timeout 1.5: the source's own firewall drops the retransmission the
    # first look outlasts; a burst overflowing a local queue leaves the same trace, and
    # nothing asks again, so the note claims neither for sure
    lab, deployment = outcome_lab
    done = lab.portplan(
        "verify", str(deployment), "--on", "src", "--format", "json", "--timeout", "1.5",
        "--flow", "tcp-source-drop", "--no-second-look",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    [check] = _checks(done.stdout).values()
    assert check["outcome"] == "local-error", check
    note = check["evidence"]["note"]
    assert "never left this machine" in note, note
    assert "overflowed a local queue" in note, note
    assert note.endswith("not probed again (--no-second-look)"), note
    assert check["evidence"]["attempts"] == 1, check


BOUND = range(25000, 27000)


def test_sockets_kept_beyond_probing_do_not_use_up_the_source_ports(
    lab: Lab, tmp_path: Path
) -> None:
    # probes leave from the source host's address; 2,000 silent ports carry on through their
    # SYN's retransmission at once, more than the 500 ephemeral ports the source has
    lab.exec(lab.src, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40499")
    lab.nft(lab.router, _forward(f"tcp dport {BOUND[0]}-{BOUND[-1]} drop"))
    flows = [
        (f"bound-{i}", "server", "tcp", f"{start}-{start + 49}")
        for i, start in enumerate(range(BOUND[0], BOUND[-1], 50))
    ]
    done = lab.verify(_deployment(tmp_path, flows), "--concurrency", "200", timeout=60)
    assert done.returncode == 1, done.stderr
    checks = _checks(done.stdout)
    assert len(checks) == len(BOUND)
    assert {c["outcome"] for c in checks.values()} == {"filtered"}


def test_no_second_look_reports_silence_at_once(outcome_lab: tuple[Lab, Path]) -> None:
    lab, deployment = outcome_lab
    done = lab.verify(deployment, "--no-second-look")
    assert done.returncode == 1, done.stderr
    checks = _checks(done.stdout)
    expected = {(proto, port): rest[0] for _flow, proto, port, *rest in OUTCOMES + UNROUTED}
    # without the second look the source's own drop of a SYN (noticed when the kernel tries
    # again after 1 s) is plain silence; everything else reads as before
    expected["tcp", 8006] = "filtered"
    assert {key: c["outcome"] for key, c in checks.items()} == expected
    for key in (("tcp", 8003), ("udp", 9003), ("tcp", 8006)):
        assert checks[key]["evidence"]["attempts"] == 1, checks[key]
        assert "not probed again (--no-second-look)" in checks[key]["evidence"]["note"]


# ---------------------------------------------------------------------------------------------
# listen + verify: Smart ID's RADIUS range (UDP 18118-18126) and the admin service (TCP 8443)

RADIUS = range(18118, 18127)


def _smart_id(directory: Path) -> Path:
    deployment = {
        "name": "smart-id-netns",
        "hosts": {
            "radius01": {"addresses": [SRC_ADDRESS]},
            "da01": {"addresses": [DST_ADDRESS]},
        },
        "products": {
            "smart-id-21.04": {
                "components": {
                    "radius_client": "radius01",
                    "administrator_client": "radius01",
                    "digital_access": "da01",
                }
            }
        },
    }
    path = directory / "smart-id.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


def _listen(lab: Lab, deployment: Path) -> Background:
    listener = lab.start(
        lab.dst, *PORTPLAN, "listen", str(deployment), "--on", "da01", "--duration", "30"
    )
    listener.wait_for("portplan: listening on", stderr=True)
    return listener


def test_listen_proves_tcp_and_udp_paths(lab: Lab, tmp_path: Path) -> None:
    deployment = _smart_id(tmp_path)
    listener = _listen(lab, deployment)
    done = lab.verify(deployment, source="radius01")
    assert done.returncode == 0, done.stderr + done.stdout
    checks = _checks(done.stdout)
    assert sorted(checks) == [("tcp", 8443)] + [("udp", port) for port in RADIUS]
    for check in checks.values():
        assert (check["outcome"], check["passed"], check["temporary_listener"]) == (
            "open",
            True,
            True,
        ), check
    assert {c["flow"] for c in checks.values()} == {
        "smart-id-21.04/da-admin-service",
        "smart-id-21.04/da-radius",
    }
    table = lab.verify(deployment, source="radius01", fmt=None)
    assert table.returncode == 0, table.stderr
    assert f"{len(checks)} passed, 0 failed, 0 not probed" in table.stdout
    stderr = listener.stop()
    assert ", 0 could not" in stderr, stderr
    assert "not listening" not in stderr, stderr


def test_listen_leaves_a_port_in_use_alone(lab: Lab, tmp_path: Path) -> None:
    deployment = _smart_id(tmp_path)
    occupier = lab.serve(tcp=(8443,), udp=(18122,), greeting="occupier")
    listener = _listen(lab, deployment)
    # named before it says it listens, not only when it stops
    said = "".join(listener.err)
    assert "not listening on tcp/8443 of 198.51.100.2" in said, said
    assert "not listening on udp/18122 of 198.51.100.2" in said, said
    assert said.count("in use by another program: left alone") == 2, said
    # the other program still owns both ports, and still answers on them
    for kind, port in (("-tln", 8443), ("-uln", 18122)):
        owners = lab.exec(lab.dst, "ss", "-Hp", kind, f"sport = :{port}")
        assert owners.count("pid=") == 1, owners
        assert f"pid={occupier}," in owners, owners
    checks = _checks(lab.verify(deployment, source="radius01").stdout)
    for key in (("tcp", 8443), ("udp", 18122)):
        assert (checks[key]["outcome"], checks[key]["temporary_listener"]) == ("open", False)
    for port in set(RADIUS) - {18122}:
        assert checks["udp", port]["temporary_listener"] is True, checks["udp", port]
    stderr = listener.stop()
    assert ", 2 could not" in stderr, stderr
    assert Path(f"/proc/{occupier}").exists()  # left alone: still running
