"""The SSH identifier against OpenSSH's sshd from the Debian package openssh-server, on
loopback, and against peers of this process that send fixed lines.

Each sshd test runs ``sshd -D -e -f DIR/sshd_config`` in the foreground from a temporary
directory, listening on 127.0.0.3 on a port the test chose, with a host key generated there
(ssh-keygen) and its pid file there; it is stopped by its pid and DIR is removed even when the
test fails.  The sshd tests are marked ``services``: outside CI they skip (with the reason) when
sshd is missing or the test is not root (sshd wants its privilege separation directory); under
CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import servers
from portplan.cli import cli
from portplan.model.protocol import Protocol
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify.ssh import MAX_LINES_BEFORE, silence
from portplan.probe.listen import Binding, serve
from test_verify_identify import SERVER, _deployment, _free_port, _only_check, _verify

SERVICES = pytest.mark.services
SSHD = "/usr/sbin/sshd"
CLIENT = "127.0.0.2"
READY = 20.0


@contextmanager
def _sshd(*lines: str) -> Iterator[tuple[int, Path]]:
    """sshd on 127.0.0.3 on a free port, its config ending in ``lines``; yields the port and
    sshd's log."""
    binary = servers.binary(SSHD, "openssh-server")
    servers.binary("ssh-keygen", "openssh-client")
    servers.need_root("sshd", "needs root (its privilege separation directory /run/sshd)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    with servers.scratch("sshd") as directory:
        port = _free_port()
        key = directory / "ssh_host_ed25519_key"
        servers.start(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            directory,
            directory / "keygen.log",
        ).wait(30)
        conf = directory / "sshd_config"
        conf.write_text(
            "\n".join(
                [
                    f"ListenAddress {SERVER}:{port}",
                    f"HostKey {key}",
                    f"PidFile {directory / 'sshd.pid'}",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "StrictModes no",
                    "LogLevel VERBOSE",
                    *lines,
                    "",
                ]
            )
        )
        log = directory / "sshd.log"
        process = servers.start([binary, "-D", "-e", "-f", str(conf)], directory, log)
        try:
            servers.wait_until(
                lambda: "Server listening" in log.read_text(errors="replace"),
                process,
                log,
                READY,
                what="sshd",
            )
            yield port, log
        finally:
            servers.stop(process)


def _identify(port: int, timeout: float = 1.5) -> Identification:
    context = ProbeContext(address=SERVER, port=port, timeout=timeout, source_address=CLIENT)
    found = asyncio.run(identify("ssh", context))
    assert found is not None, "no identifier registered for ssh"
    return found


def _from_peer(lines: bytes, *, hold: bool = False, timeout: float = 1.0) -> Identification:
    """``identify("ssh")`` against a peer on loopback that sends ``lines`` as soon as the
    connection is up, then hangs up (``hold``: keeps the connection, silent); whatever the
    identifier sent is checked to be nothing."""
    heard: list[bytes] = []

    async def run() -> Identification | None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with suppress(OSError):
                writer.write(lines)
                await writer.drain()
                if hold:
                    heard.append(await reader.read(4096))
            writer.close()

        server = await asyncio.start_server(handle, servers.LOOPBACK, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            context = ProbeContext(address=servers.LOOPBACK, port=port, timeout=timeout)
            return await identify("ssh", context)

    found = asyncio.run(run())
    assert found is not None
    assert heard in ([], [b""]), heard  # the identifier never says a word
    return found


# --- OpenSSH's sshd -------------------------------------------------------------------------


@SERVICES
def test_ssh_identifies_sshd_and_sends_it_nothing() -> None:
    with _sshd() as (port, log):
        found = _identify(port)
        servers.wait_until(
            lambda: "Connection closed by 127.0.0.2" in log.read_text(errors="replace"),
            None,
            log,
            10,
            what="sshd",
        )
        said = log.read_text(errors="replace")
    assert (found.protocol, found.error, found.warnings) == ("ssh", None, ()), found
    assert found.details["version"] == "2.0", found
    assert found.details["software"].startswith("OpenSSH_"), found
    assert found.details["comments"].startswith("Debian"), found
    assert "lines_before" not in found.details, found
    # the server never got our identification string: it saw a client hang up before it
    assert "kex_exchange_identification: Connection closed by remote host" in said, said
    assert "Client version" not in said and "Invalid" not in said, said


@SERVICES
def test_verify_identifies_sshd_and_passes(tmp_path: Path) -> None:
    with _sshd() as (port, _log):
        code, report = _verify(_deployment(tmp_path, "tcp", port, "ssh"), "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert (identification["protocol"], identification["error"]) == ("ssh", None), check
    assert identification["details"]["version"] == "2.0", identification
    assert identification["details"]["software"].startswith("OpenSSH_"), identification


@SERVICES
def test_an_sshd_past_its_max_startups_is_not_identified_and_says_why() -> None:
    """sshd 9.2 refuses a connection past MaxStartups with a line of text and closes: no
    identification string, and the error shows that line."""
    with _sshd("MaxStartups 1") as (port, _log):
        first = socket.create_connection((SERVER, port), timeout=5)  # held unauthenticated
        with first:
            assert first.recv(256).startswith(b"SSH-2.0-")
            found = _identify(port)
    assert found.protocol is None, found
    assert found.details["first_line_before"] == "Exceeded MaxStartups", found
    assert found.error is not None, found
    assert found.error.startswith("the connection closed before any identification string")
    assert "'Exceeded MaxStartups'" in found.error, found


# --- what an SSH server may send, and what it never does -------------------------------------


def test_lines_before_the_identification_string_are_counted_and_the_first_shown() -> None:
    found = _from_peer(b"Welcome to host 7\r\n" + b"x" * 300 + b"\n" + b"SSH-2.0-Fake_1.0\r\n")
    assert (found.protocol, found.error, found.warnings) == ("ssh", None, ()), found
    assert found.details == {
        "version": "2.0",
        "software": "Fake_1.0",
        "lines_before": "2",
        "first_line_before": "Welcome to host 7",
    }, found


def test_what_follows_the_identification_string_is_never_read_as_text() -> None:
    """The key exchange (binary, NUL bytes) may come with the string: it ends the reading."""
    found = _from_peer(b"SSH-2.0-Fake_2 with comments\r\n\x00\x00\x01\x2c\x0a\x14" + bytes(40))
    assert (found.protocol, found.error) == ("ssh", None), found
    assert (found.details["software"], found.details["comments"]) == ("Fake_2", "with comments")


def test_comments_are_free_text() -> None:
    found = _from_peer("SSH-2.0-Soft_1 Société-3 (ü)\r\n".encode())
    assert (found.protocol, found.error) == ("ssh", None), found
    assert found.details["comments"] == "Société-3 (ü)", found


def test_the_software_version_of_a_cisco_device_holds_a_minus_sign() -> None:
    found = _from_peer(b"SSH-2.0-Cisco-1.25\r\n")
    assert (found.protocol, found.details["software"]) == ("ssh", "Cisco-1.25"), found


def test_ssh_1_99_is_ssh_with_a_warning_that_protocol_1_is_taken_too() -> None:
    found = _from_peer(b"SSH-1.99-OldServer_3\r\n")
    assert (found.protocol, found.error, found.details["version"]) == ("ssh", None, "1.99")
    assert len(found.warnings) == 1 and "protocol 1 too" in found.warnings[0], found


def test_ssh_1_5_is_ssh_with_a_warning_that_it_is_insecure() -> None:
    found = _from_peer(b"SSH-1.5-OldServer_1\r\n")
    assert (found.protocol, found.error, found.details["version"]) == ("ssh", None, "1.5")
    assert len(found.warnings) == 1, found
    assert "protocol 1 only" in found.warnings[0] and "insecure" in found.warnings[0], found


def test_an_identification_string_of_255_characters_is_taken_and_256_is_not() -> None:
    prefix = b"SSH-2.0-S "
    longest = _from_peer(prefix + b"c" * (253 - len(prefix)) + b"\r\n")
    assert (longest.protocol, longest.error) == ("ssh", None), longest
    too_long = _from_peer(prefix + b"c" * (254 - len(prefix)) + b"\r\n")
    assert too_long.protocol is None, too_long
    assert too_long.error is not None
    assert too_long.error.startswith("not SSH: an identification string of 256 characters")


def test_an_identification_string_ending_in_lf_alone_is_taken_with_a_warning() -> None:
    found = _from_peer(b"SSH-2.0-Bare_LF\n")
    assert (found.protocol, found.error) == ("ssh", None), found
    assert found.warnings == (
        "the identification string ends in LF alone, not CR LF (RFC 4253 section 4.2)",
    ), found


def test_an_identification_string_without_a_line_end_is_not_ssh() -> None:
    held = _from_peer(b"SSH-2.0-NoEnd", hold=True)
    assert held.protocol is None, held
    assert held.error is not None and held.error.startswith("no line end after 'SSH-2.0-NoEnd'")
    closed = _from_peer(b"SSH-2.0-NoEnd")
    assert closed.protocol is None, closed
    assert closed.error is not None
    assert closed.error.startswith("not SSH: the connection closed in the middle of"), closed


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"SSH-3.0-Future\r\n", "not SSH: protocol version '3.0' is none SSH defines"),
        (b"SSH-2.0-\r\n", "not SSH: the identification string 'SSH-2.0-' holds characters"),
        (b"SSH-2.0-a\tb\r\n", "not SSH: the identification string"),
        (b"SSH-2.0-caf\xc3\xa9\r\n", "not SSH: the identification string"),
        (b"SSH-2.0-Soft bell\x07\r\n", "not SSH: the identification string"),
        (b"SSH-two-Soft\r\n", "not SSH: malformed identification string 'SSH-two-Soft'"),
        (b"SSH-\r\n", "not SSH: malformed identification string"),
    ],
)
def test_a_malformed_identification_string_is_not_ssh(line: bytes, error: str) -> None:
    found = _from_peer(line)
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith(error), found


def test_binary_data_is_not_ssh_at_once() -> None:
    """A server of a binary protocol that speaks first (MySQL's greeting) is told apart as
    soon as its NUL bytes come, not when the time runs out."""
    found = _from_peer(b"J\x00\x00\x00\n8.0.36\x00", hold=True, timeout=5.0)
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith("not SSH: binary data"), found


def test_too_many_lines_before_the_identification_string_is_not_ssh() -> None:
    found = _from_peer(b"chatter\r\n" * (MAX_LINES_BEFORE + 1) + b"SSH-2.0-Late\r\n")
    assert found.protocol is None, found
    assert found.error is not None
    assert found.error.startswith(
        f"not SSH: no identification string within the first {MAX_LINES_BEFORE} lines"
    ), found


def test_a_silent_peer_is_told_that_an_ssh_server_sends_first() -> None:
    found = _from_peer(b"", hold=True)
    assert (found.protocol, found.error) == (None, silence(1.0)), found
    assert silence(1.0) == (
        "no identification string within 0.75 s: an SSH server sends its own first"
    )


def test_an_http_answer_is_not_ssh() -> None:
    found = _from_peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    assert found.protocol is None, found
    assert found.error == (
        "the connection closed before any identification string (after 3 other line(s), the "
        "first 'HTTP/1.1 400 Bad Request'): an SSH server sends one first, unless it refuses "
        "the connection (sshd past its MaxStartups, a TCP wrapper)"
    ), found


# --- through verify -------------------------------------------------------------------------


@contextmanager
def _http_server(port: int) -> Iterator[None]:
    """Python's HTTP server on 127.0.0.3:``port`` (it waits for a request, as HTTP does)."""
    server = http.server.ThreadingHTTPServer((SERVER, port), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_verify_of_an_http_server_on_an_ssh_row_fails_not_ssh(tmp_path: Path) -> None:
    port = _free_port()
    with _http_server(port):
        code, report = _verify(_deployment(tmp_path, "tcp", port, "ssh"), "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert identification["error"] == silence(2.0), identification  # verify's least timeout
    assert check["temporary_listener"] is False, check


@contextmanager
def _listener(port: int) -> Iterator[None]:
    """``portplan listen``'s own TCP listener on 127.0.0.3:``port``, in a thread."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    binding = Binding(address=SERVER, port=port, protocol=Protocol.TCP, flows=("flow",))

    def run() -> None:
        loop.run_until_complete(serve([binding], 60, stop, lambda *_: ready.set()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "the listener did not start"
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_a_temporary_listener_on_an_ssh_row_is_recognised(tmp_path: Path) -> None:
    """The listener's token is a line before any identification string, then the connection
    closes: not SSH, and verify finds the token on a connection of its own."""
    port = _free_port()
    with _listener(port):
        code, report = _verify(_deployment(tmp_path, "tcp", port, "ssh"), "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    assert check["temporary_listener"] is True, check


# --- the importer ---------------------------------------------------------------------------


def test_import_maps_ssh_sftp_and_scp_to_the_ssh_app_protocol(tmp_path: Path) -> None:
    document = tmp_path / "ports.csv"
    document.write_text(
        "Source,Destination,Protocol,Port,Purpose\n"
        "Admin,Appliance,SSH/TCP,22,Console\n"
        "Appliance,Backup,SFTP TCP,2222,Backup upload\n"
        "Appliance,Store,TCP/SCP,2223,Copy\n"
        "Appliance,Archive,SSH/SFTP TCP,2224,Both names\n"
        'Appliance,Web,"SSH, HTTPS TCP",2225,Two protocols\n'
    )
    product = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(document), "-o", str(product)])
    assert result.exit_code == 0, result.output
    flows = yaml.safe_load(product.read_text())["flows"]
    found = {flow["ports"][0]: (flow.get("app_protocol"), flow.get("tls")) for flow in flows}
    assert found == {
        22: ("ssh", None),
        2222: ("ssh", None),  # SFTP runs over SSH: no TLS (that is FTPS)
        2223: ("ssh", None),
        2224: ("ssh", None),  # two names of one protocol
        2225: (None, True),  # two protocols: neither holds on every port
    }, flows


def test_a_closed_port_is_refused_not_silent() -> None:
    with socket.socket() as sock:
        sock.bind((SERVER, 0))
        port = int(sock.getsockname()[1])
    found = _identify(port)
    assert found.protocol is None and found.error is not None, found
    assert found.error.startswith("ConnectionRefusedError"), found
