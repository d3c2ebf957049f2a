"""verify and listen on loopback addresses of this machine (no namespaces needed)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pty
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import machine
from portplan import load_plan
from portplan.cli import cli
from portplan.plan import Plan
from portplan.probe.listen import LISTENER_PROBE, LISTENER_TOKEN, listen_plan, sample_ports
from portplan.probe.local import is_local, local_addresses
from portplan.probe.planned import plan_checks

DATA = Path(__file__).resolve().parent / "data"
DEPLOYMENT = DATA / "loop-deployment.yaml"


def listen_argv(duration: int) -> list[str]:
    """``portplan listen DEPLOYMENT --on server --duration DURATION`` in this interpreter."""
    return [
        sys.executable,
        "-m",
        "portplan",
        "listen",
        str(DEPLOYMENT),
        "--on",
        "server",
        "--duration",
        str(duration),
    ]


def listen_briefly() -> subprocess.CompletedProcess[str]:
    """Run ``portplan listen`` for one second, its output captured."""
    return subprocess.run(listen_argv(1), capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def listener() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        listen_argv(60),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "listening on N port(s)..."
        assert "listening on" in line, line
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=30)  # also closes the stderr pipe


def run_verify(*args: str, output_format: str = "json") -> Result:
    """``portplan verify DEPLOYMENT --from client --format FORMAT --timeout 0.3 ARGS...``."""
    return CliRunner().invoke(
        cli,
        [
            "verify",
            str(DEPLOYMENT),
            "--on",
            "client",
            "--format",
            output_format,
            "--timeout",
            "0.3",
            *args,
        ],
    )


def verify(*args: str) -> tuple[int, dict[str, object]]:
    result = run_verify(*args)
    return result.exit_code, machine.document(result.stdout, "verify") if result.stdout else {}


def test_listen_then_verify_proves_tcp_and_udp_paths(listener: subprocess.Popen[str]) -> None:
    code, report = verify("--flow", "web", "--flow", "radius")
    checks = report["checks"]
    assert isinstance(checks, list)
    assert code == 0, checks
    ports = {(c["protocol"], c["port"]): c for c in checks}
    assert set(ports) == {("tcp", 18080), ("tcp", 18081)} | {
        ("udp", p) for p in range(18118, 18127)
    }
    for check in checks:
        assert check["outcome"] == "open"
        assert check["temporary_listener"] is True
        assert check["source_address"] == "127.0.0.2"
        assert check["address"] == "127.0.0.3"


def test_a_udp_listener_answers_verify_alone_and_never_with_more_bytes(
    listener: subprocess.Popen[str],
) -> None:
    """A forged sender gets nothing, or no more than it sent, back from ``listen``: it is no
    amplifier (it answered any datagram, one byte with 17)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 0))
        sock.settimeout(0.5)
        for datagram in (b"x", b"\0" * 8, b"portplan-listen", b"portplan-verify"):
            sock.sendto(datagram, ("127.0.0.3", 18118))
            with pytest.raises(TimeoutError):
                sock.recvfrom(4096)
        for datagram in (LISTENER_PROBE, LISTENER_PROBE + b"x" * 300):
            sock.sendto(datagram, ("127.0.0.3", 18118))
            answer, _ = sock.recvfrom(4096)
            assert answer == LISTENER_TOKEN + datagram[len(LISTENER_TOKEN) :]
            assert len(answer) == len(datagram)


def test_an_echo_service_is_not_taken_for_a_temporary_listener() -> None:
    """A UDP service that sends each datagram back answers verify: the port is open, but
    it is not portplan's listener (verify's own marker comes back, not the listener's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        echo.bind(("127.0.0.3", 18118))
        echo.settimeout(0.1)
        done = threading.Event()

        def serve() -> None:
            while not done.is_set():
                try:
                    data, peer = echo.recvfrom(4096)
                except TimeoutError:
                    continue
                echo.sendto(data, peer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            _code, report = verify("--flow", "radius")
        finally:
            done.set()
            thread.join(10)
    (check,) = [c for c in report["checks"] if c["port"] == 18118]  # type: ignore[union-attr,index]
    assert check["outcome"] == "open"
    assert check["temporary_listener"] is False


def test_closed_port_is_refused_and_fails_the_run() -> None:
    code, report = verify("--flow", "closed")
    assert code == 1
    (check,) = report["checks"]  # type: ignore[misc]
    assert check["outcome"] == "refused"
    assert check["evidence"]["errno"] == "ECONNREFUSED"
    assert check["passed"] is False


def test_silent_udp_is_never_called_open() -> None:
    code, report = verify("--flow", "radius")  # nothing listens: loopback answers port-unreachable
    assert code == 1
    outcomes = {c["outcome"] for c in report["checks"]}  # type: ignore[union-attr]
    assert outcomes == {"closed"}


def test_listen_leaves_a_port_in_use_alone() -> None:
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.3", 18080))
    busy.listen()
    try:
        result = listen_briefly()
        assert result.returncode == 1, result.stderr  # one port could not be opened
        assert "not listening on" in result.stderr and "18080" in result.stderr
        assert "in use by another program: left alone" in result.stderr
        client = socket.create_connection(("127.0.0.3", 18080), timeout=2)
        accepted, _ = busy.accept()  # the original owner still gets the connection
        accepted.close()
        client.close()
    finally:
        busy.close()


def test_verify_refuses_flows_that_are_not_planned() -> None:
    result = CliRunner().invoke(
        cli, ["verify", str(DEPLOYMENT), "--on", "client", "--flow", "telnet"]
    )
    assert result.exit_code == 2
    assert "no flow 'telnet' in the plan" in result.stderr


def test_verify_needs_a_known_source() -> None:
    result = CliRunner().invoke(cli, ["verify", str(DEPLOYMENT), "--on", "nobody"])
    assert result.exit_code == 2
    assert "no host 'nobody'" in result.stderr


def test_junit_report_has_a_case_per_probe(listener: subprocess.Popen[str]) -> None:
    result = run_verify("--flow", "web", output_format="junit")
    assert result.exit_code == 0
    suite = ET.fromstring(result.stdout)
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == ["loop-1.0/web", "loop-1.0/web"]
    assert suite.get("failures") == "0"


def test_only_planned_addresses_are_probed() -> None:
    plan = load_plan(DEPLOYMENT)
    checks, skipped = plan_checks(plan, ("client",))
    assert not skipped
    assert {c.probe.address for c in checks} == {"127.0.0.3"}  # never the outsider


def test_large_ranges_are_sampled_with_both_ends() -> None:
    ports = list(range(49152, 65536))
    sample = sample_ports(ports)
    assert len(sample) == 64
    assert sample[0] == 49152 and sample[-1] == 65535
    assert sample == sorted(set(sample))


def test_listen_opens_a_published_row_where_its_service_listens() -> None:
    """Digital Access's access point is published on 443 and listens on 10443: the listener
    stands where the service will, on the host's own address only."""
    plan = load_plan(Path(__file__).resolve().parent.parent / "examples" / "smart-id-nexus.yaml")
    row = next(r for r in plan.rows if r.key == "smart-id-21.04/da-access-point")
    assert (str(row.ports), str(row.listen_ports)) == ("443", "10443")
    bindings = listen_plan(plan, "da-edge01", ["198.51.100.20"]).bindings
    assert [(b.address, b.port) for b in bindings if row.key in b.flows] == [
        ("198.51.100.20", 10443)
    ]


def test_listen_stops_at_the_end_of_its_duration() -> None:
    started = time.monotonic()
    result = listen_briefly()
    assert result.returncode == 0
    assert time.monotonic() - started < 30
    assert "stopped; 13 listened, 0 could not" in result.stderr


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_listen_stopped_by_a_signal_closes_every_socket_and_says_so_in_its_exit_status(
    stop: signal.Signals, code: int
) -> None:
    """Ctrl-C or SIGTERM ends listen early: every socket closed, and the exit status is the
    one every command gives (130, 128 + N), not 0 as if the duration had run out."""
    process = subprocess.Popen(listen_argv(600), stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "listening on 13 port(s)" in line, line
        process.send_signal(stop)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "stopped; 13 listened, 0 could not" in err
    for kind, port in ((socket.SOCK_STREAM, 18080), (socket.SOCK_DGRAM, 18118)):
        with socket.socket(socket.AF_INET, kind) as sock:  # free again: nothing left open
            # (over a TIME_WAIT connection, never over a live socket: Linux semantics)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.3", port))
            if kind == socket.SOCK_STREAM:
                sock.listen()


def _many_ports_deployment(folder: Path, flows: int) -> Path:
    """A product of ``flows`` TCP flows of 64 ports each into server (127.0.0.3)."""
    product = (DATA / "loop-product.yaml").read_text().split("flows:\n")[0] + "flows:\n"
    for index in range(flows):
        start = 30000 + 64 * index
        product += (
            f"  - {{id: many-{index}, row: {index + 1}, from: client, to: server, "
            f"protocol: tcp, ports: {start}-{start + 63}, purpose: Many ports.}}\n"
        )
    (folder / "loop-product.yaml").write_text(product)
    deployment = folder / "deployment.yaml"
    deployment.write_text(DEPLOYMENT.read_text())
    return deployment


def test_listen_opens_ten_thousand_ports_past_a_low_open_files_limit(tmp_path: Path) -> None:
    deployment = _many_ports_deployment(tmp_path, 157)  # 10,048 ports, and 22
    argv = [sys.executable, "-m", "portplan", "listen", str(deployment), "--on", "server"]
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard > 11000, "the hard limit is too low here"
    result = subprocess.run(
        [*argv, "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # a soft limit of 1,024, as many systems have: listen must raise it itself
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "listening on 10049 port(s) of server" in result.stderr  # and management ssh
    assert "not listening" not in result.stderr


def test_listen_past_a_hard_open_files_limit_says_so_once_and_keeps_room_to_greet(
    tmp_path: Path,
) -> None:
    """A hard limit of 1,024 cannot hold 2,049 listeners: listen opens what fits with room
    left to accept connections (every descriptor went to listeners, so none was left to greet
    with), and says why the rest did not open in one line, not one line per port."""
    deployment = _many_ports_deployment(tmp_path, 32)  # 2,048 ports, and 22
    # a hard limit of 1,024 set in the child itself, which then becomes portplan listen
    limited = (
        "import os, resource, sys; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    argv = [sys.executable, "-c", limited, "-m", "portplan", "listen", str(deployment)]
    process = subprocess.Popen(
        [*argv, "--on", "server", "--duration", "60"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        said = []
        while not (line := process.stderr.readline()).startswith("portplan: listening on"):
            assert line, "".join(said)
            said.append(line)
        opened = int(line.split()[3])
        assert 0 < opened <= 1024 - 64, line
        (why,) = said  # one line for every port over the limit
        assert f"not listening on {2049 - opened} port(s)" in why, why
        assert "over the open-files limit (1024," in why and "ulimit -Hn" in why, why
        # the room kept: 64 connections at once each get the greeting
        clients = [socket.create_connection(("127.0.0.3", 30000), timeout=5) for _ in range(64)]
        for client in clients:
            with client:
                assert client.recv(64).startswith(LISTENER_TOKEN)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert f"stopped; {opened} listened, {2049 - opened} could not" in err, err


def test_listen_with_nothing_to_listen_on_stops_at_once_and_fails() -> None:
    busy = []
    try:
        for port in (22, 18080, 18081, 18090):  # every TCP port of the plan into server...
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.3", port))
            sock.listen()
            busy.append(sock)
        for port in range(18118, 18127):  # ...and every UDP one
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.3", port))
            busy.append(sock)
        started = time.monotonic()
        result = subprocess.run(
            listen_argv(600), capture_output=True, text=True, timeout=60, check=False
        )
        assert time.monotonic() - started < 30  # not the 600 s asked for
        assert result.returncode == 1, result.stderr
        assert "none of server's 13 port(s) could be opened: nothing listens" in result.stderr
        assert "listening on 0" not in result.stderr  # it never listened for the 600 s
    finally:
        for sock in busy:
            sock.close()


class _OneConnectionServer:
    """Accepts connections on ``port`` of 127.0.0.3 and counts them; answers each with
    ``reply`` once it has read a request (``reply=None``: never says a word)."""

    def __init__(self, port: int, reply: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.3", port))
        self.sock.listen(16)
        self.reply = reply
        self.accepted = 0
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        held = []
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                break
            self.accepted += 1
            held.append(conn)
            if self.reply is None:
                continue  # a service that waits for the client, who never speaks
            conn.settimeout(5)
            try:
                self.requests.append(conn.recv(4096))
                conn.sendall(self.reply)
            except OSError:
                pass
        for conn in held:
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


HTTP_REPLY = b"HTTP/1.1 204 No Content\r\nServer: loop-test\r\nContent-Length: 0\r\n\r\n"


def test_an_open_port_is_identified_on_the_probes_own_connection() -> None:
    servers = [_OneConnectionServer(port, HTTP_REPLY) for port in (18080, 18081)]
    try:
        code, report = verify("--flow", "web")
    finally:
        for server in servers:
            server.close()
    checks = report["checks"]
    assert isinstance(checks, list)
    assert code == 0, checks
    for check in checks:
        assert check["outcome"] == "open"
        assert check["temporary_listener"] is False
        assert check["identification"]["protocol"] == "http", check
        assert check["identification"]["details"]["server"] == "loop-test", check
    for server in servers:
        # the probe's connection carried the request: no second connection was opened
        assert server.accepted == 1
        assert len(server.requests) == 1 and server.requests[0].startswith(b"GET / HTTP/1.1")


def test_a_service_that_waits_for_the_client_is_open_after_one_connection() -> None:
    server = _OneConnectionServer(18090, None)
    try:
        code, report = verify("--flow", "closed")
    finally:
        server.close()
    (check,) = report["checks"]  # type: ignore[misc]
    assert code == 0, check
    assert (check["outcome"], check["temporary_listener"]) == ("open", False)
    assert server.accepted == 1  # its first bytes were awaited on the probe's connection


def test_the_progress_bar_goes_to_the_terminal_and_never_into_the_piped_table() -> None:
    """With standard error a terminal and the table piped, the bar is drawn on the terminal;
    what is piped is the table alone (it had an empty line at its head)."""
    leader, follower = pty.openpty()
    argv = [sys.executable, "-m", "portplan", "verify", str(DEPLOYMENT), "--on", "client"]
    with subprocess.Popen(
        [*argv, "--timeout", "0.3"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    ) as process:
        os.close(follower)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the other end is closed
                break
            if not chunk:
                break
            terminal += chunk
        assert process.stdout is not None
        piped = process.stdout.read().decode()
        process.wait(timeout=60)
    os.close(leader)
    assert "probing" in terminal.decode(errors="replace")
    assert piped.startswith("Verification"), piped[:200]


LOOPBACK_PRODUCT = """\
id: lb
name: LB
version: "1"
document: {title: LB}
components:
  client: {name: Client, kind: client}
  agent: {name: Agent, parent: client}
flows:
  - {id: agent, row: 1, from: client, to: agent, loopback: true, protocol: tcp, ports: 18555,
     purpose: the local agent}
"""


def _loopback_plan(folder: Path, addresses: list[str]) -> Plan:
    (folder / "product.yaml").write_text(LOOPBACK_PRODUCT)
    deployment = folder / "deployment.yaml"
    deployment.write_text(
        "name: lb\n"
        f"hosts:\n  client: {{addresses: [{', '.join(addresses)}]}}\n"
        "products:\n  lb: {file: product.yaml, components: {client: client}}\n"
    )
    return load_plan(deployment)


def test_a_loopback_row_is_probed_only_on_a_machine_of_its_host(tmp_path: Path) -> None:
    # 127.0.0.1 is every machine's own: probed on a machine that is not client, it says
    # nothing of client's loopback (and report --verify credits a loopback row's pass)
    elsewhere = next(
        str(a)
        for a in ipaddress.ip_network("203.0.113.0/24").hosts()
        if a not in local_addresses() and not is_local(str(a))
    )
    plan = _loopback_plan(tmp_path, [elsewhere])
    checks, skipped = plan_checks(plan, ("client",), local=local_addresses())
    assert checks == []
    assert [(s.row.key, s.reason) for s in skipped] == [
        (
            "lb/agent",
            "on client's loopback: this machine holds none of client's addresses, so its own "
            "loopback is not client's (run verify on the host, or name its address with "
            "--from-address)",
        )
    ]
    # a machine of the host (an address it holds, or one in the host's network) probes it
    for addresses in (["127.0.0.2"], ["127.0.0.0/29"]):
        folder = tmp_path / addresses[0].replace("/", "-")
        folder.mkdir()
        here = _loopback_plan(folder, addresses)
        checks, skipped = plan_checks(here, ("client",), local=local_addresses())
        assert [(c.probe.address, c.probe.port) for c in checks] == [("127.0.0.1", 18555)]
        assert skipped == []


def test_a_verification_that_probed_nothing_does_not_pass(tmp_path: Path) -> None:
    """Every planned flow from here is not probed (here, client's loopback row on a machine
    that is not client): nothing is verified, which is no success (it exited 0)."""
    elsewhere = next(
        str(a)
        for a in ipaddress.ip_network("203.0.113.0/24").hosts()
        if a not in local_addresses() and not is_local(str(a))
    )
    _loopback_plan(tmp_path, [elsewhere])
    result = CliRunner().invoke(
        cli, ["verify", str(tmp_path / "deployment.yaml"), "--on", "client", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    report = machine.document(result.stdout, "verify")
    assert report["checks"] == [] and len(report["not_probed"]) == 1
    assert "nothing was probed" in result.stderr and "nothing is verified" in result.stderr


LINK_LOCAL_PRODUCT = """\
id: ll-1.0
name: Link-local
version: "1.0"
document:
  title: Link-local
components:
  client:
    name: Client
    kind: client
  server:
    name: Server
flows:
  - id: flow
    row: 1
    from: client
    to: server
    protocol: {protocol}
    ports: 8011
    purpose: A server known by its link-local address.
"""
LINK_LOCAL_DEPLOYMENT = """\
name: link-local
hosts:
  client:
    addresses: ["::1"]
  server:
    addresses: ["fe80::99", "::1"]
products:
  ll-1.0:
    file: product.yaml
    components:
      client: client
      server: server
"""


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_a_link_local_destination_is_not_probed_and_says_why(tmp_path: Path, protocol: str) -> None:
    """An IPv6 link-local address is reached only through an interface the deployment cannot
    name: it is listed as not probed, with the reason, and never sent to (it was a bare
    `local-error`, EINVAL, with no word of why)."""
    (tmp_path / "product.yaml").write_text(LINK_LOCAL_PRODUCT.format(protocol=protocol))
    (tmp_path / "deployment.yaml").write_text(LINK_LOCAL_DEPLOYMENT)
    result = CliRunner().invoke(
        cli,
        ["verify", str(tmp_path / "deployment.yaml"), "--on", "client", "--format", "json"],
    )
    report = machine.document(result.stdout, "verify")
    assert [c["address"] for c in report["checks"]] == ["::1"], report["checks"]
    reasons = [entry["reason"] for entry in report["not_probed"]]
    assert len(reasons) == 1 and "fe80::99" in reasons[0], reasons
    assert "link-local" in reasons[0], reasons


def test_a_protocol_no_identifier_knows_passes_on_the_port_and_says_it_is_not_checked(
    tmp_path: Path,
) -> None:
    """A flow naming LCP (Nexus' own protocol) or `unknown` passes when its port answers:
    verify has no way to tell the service, and the check says so rather than pass silently."""
    product = (DATA / "loop-product.yaml").read_text() + "".join(
        f"  - id: {flow}\n    row: {row}\n    from: client\n    to: server\n"
        f"    protocol: {protocol}\n    ports: {port}\n    app_protocol: {app}\n"
        "    purpose: A service of its own.\n"
        for flow, row, protocol, port, app in (
            ("lcp", 8, "tcp", 18310, "lcp"),
            ("other", 9, "udp", 18311, "unknown"),
        )
    )
    (tmp_path / "loop-product.yaml").write_text(product)
    deployment = tmp_path / "loop-deployment.yaml"
    deployment.write_text(DEPLOYMENT.read_text())
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.3", 18310))
        tcp.listen(8)
        udp.bind(("127.0.0.3", 18311))

        def answer() -> None:
            with contextlib.suppress(OSError):
                data, sender = udp.recvfrom(2048)
                udp.sendto(b"yes " + data[:16], sender)

        answering = threading.Thread(target=answer, daemon=True)
        answering.start()
        argv = ["verify", str(deployment), "--on", "client", "--format", "json"]
        argv += ["--timeout", "0.5", "--flow", "lcp", "--flow", "other"]
        result = CliRunner().invoke(cli, argv)
        answering.join(10)
    assert result.exit_code == 0, result.output
    checks = {c["port"]: c for c in machine.document(result.stdout, "verify")["checks"]}
    assert {port: c["outcome"] for port, c in checks.items()} == {18310: "open", 18311: "open"}
    for port, name in ((18310, "lcp"), (18311, "unknown")):
        assert checks[port]["passed"] is True
        assert checks[port]["notes"] == [
            f"{name} is not identified (verify knows no way to): the port answered; that the "
            "service is the one the plan names is not checked"
        ]
