"""The NTP identifier against chronyd from the Debian package chrony, on loopback.

Each test runs ``chronyd -d -x -f DIR/chrony.conf`` in the foreground (``-x``: it never sets
this machine's clock) from a temporary directory, bound to 127.0.0.3 on a UDP port the test
chose, with no command port (``cmdport 0``), its pid and drift files in DIR and ``user root``
(it stays the user that started it, who can write DIR); it is stopped by its pid and DIR is
removed even when the test fails.  ``local stratum 10`` makes it a server of its own clock;
without that line it answers as an unsynchronised server (leap indicator 3, stratum 0).

chrony 4.3 (Debian 12) never sends a Kiss-o'-Death: an address its ``deny`` refuses, or one
over its ``ratelimit``, gets no answer at all.  The Kiss-o'-Death answers are therefore played
by a UDP socket of this process that builds them from RFC 5905 (the Origin Timestamp copied
from the request, stratum 0, the kiss code in the Reference ID).

The chronyd tests are marked ``services``: outside CI they skip (with the reason) when chronyd
is missing or the test is not root; under CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import servers
from portplan.cli import cli
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify.base import ANSWER
from portplan.probe.identify.ntp import SILENCE, request
from test_verify_identify import _deployment, _only_check, _verify

SERVICES = pytest.mark.services
CHRONYD = "/usr/sbin/chronyd"
CLIENT, SERVER = "127.0.0.2", "127.0.0.3"
READY = 20.0


def _free_port() -> int:
    """A UDP port of 127.0.0.3 free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SERVER, 0))
        return int(sock.getsockname()[1])


def _bound(port: int) -> bool:
    """Whether something holds the UDP port ``port`` of 127.0.0.3."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((SERVER, port))
        except OSError:
            return True
    return False


@contextmanager
def _chronyd(*lines: str, port: int | None = None) -> Iterator[int]:
    """chronyd serving NTP on 127.0.0.3 (on ``port``, else a free one; the port is yielded),
    its config ending in ``lines``."""
    binary = servers.binary(CHRONYD, "chrony")
    servers.need_root("chronyd")
    with servers.scratch("chronyd") as directory:
        port = port or _free_port()
        conf = directory / "chrony.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {port}",
                    f"bindaddress {SERVER}",
                    "cmdport 0",
                    f"pidfile {directory / 'chronyd.pid'}",
                    f"driftfile {directory / 'chrony.drift'}",
                    "user root",
                    *lines,
                    "",
                ]
            )
        )
        log = directory / "chronyd.log"
        process = servers.start([binary, "-d", "-x", "-f", str(conf)], directory, log)
        try:
            servers.wait_until(lambda: _bound(port), process, log, READY, what="chronyd")
            yield port
        finally:
            servers.stop(process)


def _identify(port: int, source: str = CLIENT, timeout: float = 1.5) -> Identification:
    context = ProbeContext(address=SERVER, port=port, timeout=timeout, source_address=source)
    found = asyncio.run(identify("ntp", context))
    assert found is not None, "no identifier registered for ntp"
    return found


@contextmanager
def _answering(answer: Callable[[bytes], list[bytes]]) -> Iterator[int]:
    """A UDP socket on 127.0.0.3 (its port is yielded) that sends each datagram's ``answer``
    datagrams back to its sender."""
    with servers.udp_peer(SERVER, 0, answer) as port:
        yield port


def _server_packet(
    origin: bytes, *, stratum: int = 2, reference: bytes = b"\x0a\x00\x00\x01", first: int = 0x24
) -> bytes:
    """A server answer (by default LI 0, VN 4, Mode 4) whose Origin Timestamp is ``origin``."""
    header = struct.pack(">BBbbII4s", first, stratum, 6, -20, 0x00000100, 0x00000200, reference)
    return header + bytes(8) + origin + bytes(8) + bytes(8)


def _to_ntp_requests(make: Callable[[bytes], list[bytes]]) -> Callable[[bytes], list[bytes]]:
    """``make(transmit)`` for each 48-byte NTP client request; nothing for anything else (the
    probe datagram of verify)."""
    return lambda data: make(data[40:48]) if len(data) == 48 and data[0] & 7 == 3 else []


# --- chronyd --------------------------------------------------------------------------------


@SERVICES
def test_ntp_identifies_chronyd_and_reads_its_stratum() -> None:
    with _chronyd("allow 127.0.0.0/8", "local stratum 10") as port:
        found = _identify(port)
    assert (found.protocol, found.error, found.warnings) == ("ntp", None, ()), found
    assert found.details[ANSWER] == "server reply", found
    assert found.details["version"] == "4", found
    assert found.details["stratum"] == "10", found
    # chronyd's own clock (local) is the conventional 127.127.1.1
    assert found.details["reference"] == "127.127.1.1 (a local clock)", found
    assert found.details["leap"] == "none", found


@SERVICES
def test_an_unsynchronised_chronyd_is_ntp_with_a_warning() -> None:
    with _chronyd("allow 127.0.0.0/8") as port:  # no source, no `local`: never synchronised
        found = _identify(port)
    assert (found.protocol, found.error) == ("ntp", None), found
    assert found.details["leap"] == "unsynchronised (3)", found
    assert found.details["stratum"] == "0 (unsynchronised)", found
    assert "kiss_code" not in found.details, found
    assert any("not synchronised" in w for w in found.warnings), found


@SERVICES
def test_a_chronyd_that_denies_this_client_is_silent() -> None:
    """chrony 4.3 sends no Kiss-o'-Death to a client its `deny` refuses: it drops the request,
    which the error names as one of the things silence may be; another client is served."""
    with _chronyd("allow 127.0.0.0/8", f"deny {CLIENT}", "local stratum 10") as port:
        refused = _identify(port)
        served = _identify(port, source="127.0.0.1")
    assert (refused.protocol, refused.error) == (None, SILENCE), refused
    assert ANSWER not in refused.details, refused
    assert "allow/deny" in SILENCE
    assert served.protocol == "ntp", served


def _verify_ntp(folder: Path, port: int, protocol: str = "udp") -> tuple[int, dict[str, object]]:
    """``verify`` of a one-flow deployment whose flow names ``ntp``: its exit and its check."""
    code, report = _verify(_deployment(folder, protocol, port, "ntp"))
    return code, _only_check(report)


@SERVICES
def test_verify_identifies_chronyd_and_passes(tmp_path: Path) -> None:
    """chronyd drops verify's probe datagram (no NTP packet): the port is `open|filtered`
    until the NTP request is answered, which makes it `open`, identified, and the check pass."""
    with _chronyd("allow 127.0.0.0/8", "local stratum 10") as port:
        code, check = _verify_ntp(tmp_path, port)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    assert check["evidence"]["note"] == "ntp answered", check  # type: ignore[index]
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] == "ntp", identification
    assert identification["details"]["stratum"] == "10", identification


@SERVICES
def test_verify_of_a_chronyd_that_denies_the_client_fails_and_says_why(tmp_path: Path) -> None:
    with _chronyd("allow 127.0.0.0/8", f"deny {CLIENT}", "local stratum 10") as port:
        code, check = _verify_ntp(tmp_path, port)
    assert (code, check["outcome"], check["passed"]) == (1, "open|filtered", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert (identification["protocol"], identification["error"]) == (None, SILENCE), check


@SERVICES
def test_a_tcp_row_named_ntp_is_never_identified_by_chronyd_over_udp(tmp_path: Path) -> None:
    """NTP is asked over UDP only: chronyd on the UDP port of the same number says nothing of
    the TCP port, which passes as open, with a note."""
    with socket.socket() as listener:  # the kernel completes the handshakes: open
        listener.bind((SERVER, 0))
        listener.listen(8)
        port = int(listener.getsockname()[1])
        with _chronyd("allow 127.0.0.0/8", "local stratum 10", port=port):
            assert _identify(port).protocol == "ntp"  # chronyd does answer over UDP
            code, check = _verify_ntp(tmp_path, port, "tcp")
    assert (code, check["protocol"], check["outcome"]) == (0, "tcp", "open"), check
    assert check["identification"] is None, check
    assert any("over UDP only" in note for note in check["notes"]), check  # type: ignore[attr-defined]


# --- what is not an answer from an NTP server -----------------------------------------------


def test_verify_of_a_port_that_answers_garbage_is_open_and_not_ntp(tmp_path: Path) -> None:
    with _answering(lambda _data: [b"220 hello, this is no time server\r\n" * 2]) as port:
        code, check = _verify_ntp(tmp_path, port)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert identification["error"].startswith("not NTP: "), identification
    assert ANSWER in identification["details"], identification


def test_an_echo_of_the_request_is_not_ntp() -> None:
    with _answering(lambda data: [data]) as port:
        found = _identify(port)
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith("not NTP: our own request"), found


def test_an_answer_to_another_request_is_ignored() -> None:
    """A server answer whose Origin Timestamp is not the Transmit Timestamp sent (a stray or
    spoofed datagram) never identifies: alone it is silence; the genuine one after it counts."""
    stray = _server_packet(b"\x11" * 8)
    with _answering(_to_ntp_requests(lambda _transmit: [stray])) as port:
        alone = _identify(port, timeout=1.0)
    assert (alone.protocol, alone.error) == (None, SILENCE), alone
    assert "ignored" in alone.details, alone
    genuine = _to_ntp_requests(lambda transmit: [stray, _server_packet(transmit)])
    with _answering(genuine) as port:
        found = _identify(port)
    assert found.protocol == "ntp", found
    assert found.details["stratum"] == "2", found
    assert found.details["reference"].startswith("10.0.0.1 "), found


def test_a_closed_port_is_closed() -> None:
    found = _identify(_free_port())
    assert (found.protocol, found.error) == (None, "closed (ICMP port unreachable)"), found


@pytest.mark.parametrize(
    ("code", "meaning"),
    [("RATE", "poll less often"), ("DENY", "serves no time"), ("RSTR", "serves no time")],
)
def test_a_kiss_o_death_is_an_ntp_server_answering(code: str, meaning: str) -> None:
    """A Kiss-o'-Death proves an NTP server as much as time does: identified, with the kiss
    code and a warning saying what it asks (DENY, RSTR: this client gets no time)."""
    kiss = _to_ntp_requests(
        lambda transmit: [_server_packet(transmit, stratum=0, reference=code.encode())]
    )
    with _answering(kiss) as port:
        found = _identify(port)
    assert (found.protocol, found.error) == ("ntp", None), found
    assert found.details["kiss_code"] == code, found
    assert found.details[ANSWER] == f"Kiss-o'-Death {code}", found
    assert any(code in w and meaning in w for w in found.warnings), found


def test_a_stratum_1_server_names_its_reference_clock() -> None:
    gps = _to_ntp_requests(
        lambda transmit: [_server_packet(transmit, stratum=1, reference=b"GPS\0")]
    )
    with _answering(gps) as port:
        found = _identify(port)
    assert found.protocol == "ntp", found
    assert found.details["reference"] == "GPS (reference clock)", found


def test_the_request_is_a_bare_client_header_with_a_random_transmit_timestamp() -> None:
    heard: list[bytes] = []

    def record(data: bytes) -> list[bytes]:
        heard.append(data)
        return [_server_packet(data[40:48])]

    with _answering(record) as port:
        first, second = _identify(port), _identify(port)
    assert first.protocol == second.protocol == "ntp"
    assert [len(d) for d in heard] == [48, 48], heard
    assert all(d[0] == 0x23 and d[1:40] == bytes(39) for d in heard), heard  # LI 0, VN 4, Mode 3
    assert heard[0][40:] != heard[1][40:], heard
    assert heard[0] == request(heard[0][40:]), heard


def test_import_maps_a_vendors_ntp_to_the_ntp_app_protocol(tmp_path: Path) -> None:
    document = tmp_path / "ports.csv"
    document.write_text(
        "Source,Destination,Protocol,Port,Purpose\nAppliance,Time server,NTP/UDP,123,Time\n"
    )
    product = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(document), "-o", str(product)])
    assert result.exit_code == 0, result.output
    (flow,) = yaml.safe_load(product.read_text())["flows"]
    assert (flow["protocol"], flow["ports"], flow["service"]) == ("udp", [123], "NTP"), flow
    assert flow["app_protocol"] == "ntp", flow
