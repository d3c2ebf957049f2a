"""verify's identification of what answers, on loopback addresses of this machine: what an
identification that cannot run, or has not finished, does to a check's outcome.

The client is 127.0.0.2 and the server 127.0.0.3; each test writes its one-flow deployment
with a port the kernel chose a moment before, and runs its servers (threads of this process,
bound to 127.0.0.3 only) until the run is over.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

import machine
import servers
from portplan.cli import cli
from portplan.probe.identify.radius import response_authenticator
from portplan.probe.listen import LISTENER_PROBE

SERVER = "127.0.0.3"
HTTP_REPLY = b"HTTP/1.1 204 No Content\r\nServer: loop-test\r\nContent-Length: 0\r\n\r\n"
RADIUS_SECRET = b"loop-test-secret"

DEPLOYMENT = """\
name: loop-identify
hosts:
  client:
    addresses: [{client}]
  server:
    addresses: [{server}]
products:
  loop-identify-1.0:
    file: product.yaml
    components:
      client: client
      server: server
"""

PRODUCT = """\
id: loop-identify-1.0
name: Loop identify
version: "1.0"
document:
  title: Loop identification
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
    ports: {port}
    app_protocol: {app_protocol}
    purpose: One port identified.
"""


def _deployment(
    folder: Path,
    protocol: str,
    port: int,
    app_protocol: str,
    *,
    client: str = "127.0.0.2",
    server: str = SERVER,
) -> Path:
    (folder / "product.yaml").write_text(
        PRODUCT.format(protocol=protocol, port=port, app_protocol=app_protocol)
    )
    deployment = folder / "deployment.yaml"
    deployment.write_text(DEPLOYMENT.format(client=client, server=server))
    return deployment


def _free_port() -> int:
    """A port of 127.0.0.3 free for both TCP and UDP a moment ago."""
    for _ in range(20):
        with socket.socket() as tcp:
            tcp.bind((SERVER, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((SERVER, port))
                except OSError:
                    continue
                return port
    raise AssertionError("no port of 127.0.0.3 free for both TCP and UDP")


def _verify(deployment: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        cli,
        [
            "verify",
            str(deployment),
            "--on",
            "client",
            "--format",
            "json",
            "--timeout",
            "0.5",
            *args,
        ],
    )
    assert result.stdout, result.output
    return result.exit_code, machine.document(result.stdout, "verify")


@contextmanager
def _tcp_server(port: int, reply: bytes | None) -> Iterator[None]:
    """Accepts on 127.0.0.3:``port``; answers each request with ``reply`` (``None``: never
    says a word, and holds the connection until the test is over)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((SERVER, port))
    listener.listen(16)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            held.append(conn)
            if reply is not None:
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(10)
        for conn in held:
            conn.close()


@contextmanager
def _answering(port: int, answer: Callable[[bytes], bytes | None]) -> Iterator[None]:
    """A UDP socket on 127.0.0.3:``port`` that sends each datagram's ``answer`` back to its
    sender (``None``: nothing)."""

    def replies(data: bytes) -> list[bytes]:
        reply = answer(data)
        return [] if reply is None else [reply]

    with servers.udp_peer(SERVER, port, replies):
        yield


def _udp_server(port: int, reply: bytes | None) -> AbstractContextManager[None]:
    """A UDP socket on 127.0.0.3:``port`` that answers verify's probe datagram (it carries the
    `portplan listen` token) with ``reply``, and nothing else (``None``: never answers)."""
    return _answering(port, lambda data: reply if data.startswith(LISTENER_PROBE) else None)


def _only_check(report: dict[str, object]) -> dict[str, object]:
    checks = report["checks"]
    assert isinstance(checks, list) and len(checks) == 1, checks
    check = checks[0]
    assert isinstance(check, dict)
    return check


def test_a_tcp_service_never_identifies_a_udp_row(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "http")
    with _tcp_server(port, HTTP_REPLY), _udp_server(port, None):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert code == 1, check
    assert (check["protocol"], check["outcome"]) == ("udp", "open|filtered"), check
    assert check["identification"] is None, check
    assert check["passed"] is False
    assert any("over TCP only" in note for note in check["notes"]), check  # type: ignore[attr-defined]


def test_a_udp_answer_stays_what_it_was_when_the_protocol_is_tcp_only(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "http")
    with _tcp_server(port, HTTP_REPLY), _udp_server(port, b"hello"):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (check["outcome"], check["identification"]) == ("open", None), check
    assert any("over TCP only" in note for note in check["notes"]), check  # type: ignore[attr-defined]
    assert code == 0, check


def test_a_udp_service_never_identifies_a_tcp_row(tmp_path: Path) -> None:
    """A TCP row named `radius` is not identified by a RADIUS server on the UDP port of the same
    number: the Status-Server goes over UDP only, and its answer says nothing of the TCP port."""
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "radius")
    secret = tmp_path / "radius.secret"
    secret.write_bytes(RADIUS_SECRET)
    with _tcp_server(port, None), _radius_server(port, RADIUS_SECRET):
        code, report = _verify(deployment, "--flow", "flow", "--radius-secret-file", str(secret))
    check = _only_check(report)
    assert (check["protocol"], check["outcome"]) == ("tcp", "open"), check
    assert check["identification"] is None, check
    assert any("over UDP only" in note for note in check["notes"]), check  # type: ignore[attr-defined]
    assert code == 0, check


def test_an_identification_the_deadline_cut_short_is_unfinished(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "http")
    with _tcp_server(port, None):
        without, alone = _verify(deployment, "--flow", "flow")
        code, report = _verify(deployment, "--flow", "flow", "--deadline", "1")
    check = _only_check(alone)
    assert (without, check["outcome"], check["passed"]) == (1, "open", False), check
    check = _only_check(report)
    assert code == 1, check
    assert (check["outcome"], check["passed"]) == ("unfinished", False), check
    assert any("deadline" in note for note in check["notes"]), check  # type: ignore[attr-defined]


def test_a_udp_identification_the_deadline_cut_short_is_unfinished(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "radius")
    secret = tmp_path / "radius.secret"
    secret.write_bytes(RADIUS_SECRET)
    # the port answers the probe, never the Status-Server: only the deadline ends the wait
    with _udp_server(port, b"hello"):
        code, report = _verify(
            deployment, "--flow", "flow", "--deadline", "1", "--radius-secret-file", str(secret)
        )
    check = _only_check(report)
    assert code == 1, check
    assert (check["outcome"], check["passed"]) == ("unfinished", False), check
    assert any("deadline" in note for note in check["notes"]), check  # type: ignore[attr-defined]


# --- TLS server name indication --------------------------------------------------------------

NAMED_DEPLOYMENT = """\
name: loop-sni
hosts:
  client:
    addresses: [127.0.0.2]
  server:
    addresses: [127.0.0.1]
{dns_name}
products:
  loop-identify-1.0:
    file: product.yaml
    components:
      client: client
      server: server
"""


@contextmanager
def _sni_server(folder: Path, port: int, heard: list[str | None]) -> Iterator[None]:
    """A TLS server on 127.0.0.1:``port`` that hosts two names: it presents the certificate
    of ``localhost`` to a client that asks for that name (SNI), else a default one; ``heard``
    collects the server name each handshake carried (``None``: none)."""
    now = datetime.now(UTC)
    contexts = {}
    for name in ("default.test", "localhost"):
        (folder / name).mkdir()
        certificate = servers.self_signed(
            folder / name,
            name,
            names=[x509.DNSName(name)],
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=365),
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert, certificate.key)
        contexts[name] = context

    def choose(sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        heard.append(name)
        if name == "localhost":
            sock.context = contexts["localhost"]

    contexts["default.test"].sni_callback = choose  # type: ignore[assignment]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            conn.settimeout(5)
            try:
                with contexts["default.test"].wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except OSError:  # the probe's own connection, or the identifier hanging up
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(10)


def test_a_silent_udp_port_whose_identification_the_deadline_cut_short_is_unfinished(
    tmp_path: Path,
) -> None:
    """A UDP port silent to the probe (`open|filtered`) is asked in its own protocol, which may
    make it `open` (dnsmasq ignores the probe's datagram and answers DNS): when the deadline
    comes before that ends, the port is not settled, not a failed `open|filtered`."""
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "dns")
    # probing ends at about 1.2 s (a first and a second look of 0.5 s); the DNS query waits 2 s
    with _udp_server(port, None):
        code, report = _verify(deployment, "--flow", "flow", "--deadline", "2.2")
    check = _only_check(report)
    assert code == 1, check
    assert (check["outcome"], check["passed"]) == ("unfinished", False), check
    assert any("deadline" in note for note in check["notes"]), check  # type: ignore[attr-defined]


def test_tls_names_the_destination_by_its_dns_name_and_never_by_address(tmp_path: Path) -> None:
    """A destination with a ``dns_name`` is asked for that name in the handshake (SNI), so a
    server that hosts several names shows the certificate of the one the product reaches; a
    bare address is never sent as a server name (RFC 6066 section 3)."""
    port = _free_port()
    _deployment(tmp_path, "tcp", port, "tls")
    heard: list[str | None] = []
    subjects = {}
    with _sni_server(tmp_path, port, heard):
        for dns_name in ("    dns_name: localhost", ""):
            deployment = tmp_path / "deployment.yaml"
            deployment.write_text(NAMED_DEPLOYMENT.format(dns_name=dns_name))
            code, report = _verify(deployment, "--flow", "flow")
            check = _only_check(report)
            assert (code, check["passed"]) == (0, True), check
            identification = check["identification"]
            assert isinstance(identification, dict), check
            subjects[dns_name] = identification["details"]["subject"]
    named, bare = subjects.values()
    assert "CN=localhost" in named, subjects
    assert "CN=default.test" in bare, subjects
    assert set(heard) == {"localhost", None}, heard


# --- a UDP port that answers only its own protocol ------------------------------------------


def _radius_server(port: int, secret: bytes) -> AbstractContextManager[None]:
    """A UDP socket on 127.0.0.3:``port`` that never answers verify's probe datagram and
    answers each Status-Server with an Access-Reject signed with ``secret``."""

    def answer(data: bytes) -> bytes | None:
        if data.startswith(LISTENER_PROBE) or len(data) < 20:
            return None
        header = bytes((3, data[1])) + (20).to_bytes(2, "big")  # Access-Reject, no attributes
        return header + response_authenticator(header, data[4:20], secret)

    return _answering(port, answer)


def test_a_radius_answer_that_does_not_verify_is_an_answer_not_silence(tmp_path: Path) -> None:
    """A RADIUS port silent to the probe datagram that answers the Status-Server with another
    secret is reachable: the check is `open`, fails for the secret, and never says that
    nothing answered (the firewall is not what to look at)."""
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "radius")
    secret = tmp_path / "radius.secret"
    secret.write_bytes(RADIUS_SECRET)
    with _radius_server(port, b"another secret"):
        code, report = _verify(deployment, "--flow", "flow", "--radius-secret-file", str(secret))
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    assert "no answer" not in check["evidence"]["note"], check  # type: ignore[index]
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert "wrong shared secret" in identification["error"], identification


def test_a_radius_port_silent_to_the_status_server_too_says_what_silence_may_be(
    tmp_path: Path,
) -> None:
    """Silence to the Status-Server as well stays `open|filtered` (it fails), and the check
    says that a RADIUS server holding another secret is silent too."""
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "radius")
    secret = tmp_path / "radius.secret"
    secret.write_bytes(RADIUS_SECRET)
    with _udp_server(port, None):
        code, report = _verify(deployment, "--flow", "flow", "--radius-secret-file", str(secret))
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open|filtered", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert "shared secret is wrong" in identification["error"], identification


def test_a_management_access_is_identified_by_the_protocol_it_names(tmp_path: Path) -> None:
    """`management:` entries name their service (`app_protocol: http`) as product flows do:
    verify identifies it, and a port that answers in another protocol fails."""
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "http")
    deployment.write_text(
        DEPLOYMENT.format(client="127.0.0.2", server=SERVER)
        + f"""\
management:
  - id: admin-web
    from: client
    to: [server]
    ports: {port}
    app_protocol: http
    purpose: The operators' web console.
"""
    )
    with _tcp_server(port, HTTP_REPLY):
        code, report = _verify(deployment, "--flow", "management/admin-web")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert (identification["expected"], identification["protocol"]) == ("http", "http")
    with _tcp_server(port, b"220 mail.test ESMTP\r\n"):
        code, report = _verify(deployment, "--flow", "management/admin-web")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check


def test_the_table_says_which_service_was_identified(tmp_path: Path) -> None:
    """A port whose service was proven read like one only open (`--no-identify`, or a row that
    names no protocol) but for the details: the evidence says `identified http`."""
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "http")
    args = ["verify", str(deployment), "--on", "client", "--timeout", "0.5", "--flow", "flow"]
    with _tcp_server(port, HTTP_REPLY):
        identified = CliRunner().invoke(cli, args, env={"COLUMNS": "400"})
        unchecked = CliRunner().invoke(cli, [*args, "--no-identify"], env={"COLUMNS": "400"})
    assert identified.exit_code == 0, identified.output
    assert "identified http" in identified.stdout, identified.stdout
    assert unchecked.exit_code == 0, unchecked.output
    assert "identified" not in unchecked.stdout, unchecked.stdout
