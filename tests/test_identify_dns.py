"""The DNS identifier against Debian's dnsmasq on loopback, over UDP and TCP, directly and through
``portplan verify``; and against peers that are not DNS (silence, garbage, an echo, strays).

Two dnsmasq instances run for the module, in the foreground, bound to 127.0.0.3 at ports the test
chose (free for TCP and UDP), with no upstream, no hosts file and no configuration file:

- ``refusing``: nothing more; it answers a query for the root REFUSED (it has no upstream);
- ``local``: ``--local=/#/``, every name local; it answers the root NXDOMAIN.

The client of the verify runs is 127.0.0.2.  dnsmasq is stopped by its pid (SIGTERM, then
SIGKILL to its process group) and its directory removed, even when a test fails.  dnsmasq
ignores verify's probe datagram (no answer at all): the UDP port is ``open|filtered`` until the
DNS query's answer makes it ``open``.

The dnsmasq tests are marked ``services``: outside CI they skip when dnsmasq is missing; under
CI=true a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import servers
from portplan.probe.identify import Identification, OpenConnection, ProbeContext, identify
from portplan.probe.identify.dns import SILENCE, TCP_SILENCE, query, read_response
from portplan.probe.listen import LISTENER_PROBE
from test_verify_identify import (
    HTTP_REPLY,
    SERVER,
    _answering,
    _deployment,
    _free_port,
    _only_check,
    _tcp_server,
    _udp_server,
    _verify,
)

SERVICES = pytest.mark.services
DNSMASQ = "/usr/sbin/dnsmasq"
REFUSED_WARNING = "refused the query for the root"


@dataclass(frozen=True)
class Dnsmasq:
    port: int
    rcode: str


def _answers(port: int, transport: socket.SocketKind) -> bool:
    """Whether dnsmasq answers a query on ``port`` over ``transport`` (within half a second)."""
    message = query(0x1234)
    try:
        with socket.socket(socket.AF_INET, transport) as sock:
            sock.settimeout(0.5)
            sock.connect((SERVER, port))
            if transport is socket.SOCK_DGRAM:
                sock.send(message)
            else:
                sock.sendall(len(message).to_bytes(2, "big") + message)
            return len(sock.recv(4096)) > 2
    except OSError:
        return False


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[dict[str, Dnsmasq]]:
    binary = servers.binary(DNSMASQ, "dnsmasq-base")
    kinds = {"refusing": ([], "REFUSED"), "local": (["--local=/#/"], "NXDOMAIN")}
    started: list[subprocess.Popen[bytes]] = []
    with servers.scratch("dnsmasq") as directory:
        try:
            running = {}
            for name, (extra, rcode) in kinds.items():
                port = _free_port()
                log = directory / f"{name}.log"
                process = servers.start(
                    [
                        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                        "--no-hosts", "--bind-interfaces", f"--listen-address={SERVER}",
                        f"--port={port}", f"--pid-file={directory / name}.pid",
                        "--log-facility=-", "--log-queries", *extra,
                    ],
                    directory,
                    log,
                )  # fmt: skip
                started.append(process)
                for transport in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    servers.wait_until(
                        lambda p=port, t=transport: _answers(p, t),
                        process,
                        log,
                        10.0,
                        what=f"dnsmasq ({name})",
                    )
                running[name] = Dnsmasq(port, rcode)
            yield running
        finally:
            for process in started:
                servers.stop(process)


def _identify(port: int, *, tcp: bool = False, timeout: float = 2.0) -> Identification:
    async def run() -> Identification | None:
        connection = None
        if tcp:  # what verify hands over: the probe's own connection, already open
            sock = socket.create_connection((SERVER, port), timeout=timeout)
            sock.setblocking(False)
            connection = OpenConnection(sock)
        context = ProbeContext(address=SERVER, port=port, timeout=timeout, connection=connection)
        return await identify("dns", context)

    found = asyncio.run(run())
    assert found is not None, "no dns identifier registered"
    return found


# --- dnsmasq -------------------------------------------------------------------------------


@SERVICES
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("kind", ["refusing", "local"])
def test_dnsmasq_is_identified_directly(dnsmasq: dict[str, Dnsmasq], kind: str, tcp: bool) -> None:
    server = dnsmasq[kind]
    found = _identify(server.port, tcp=tcp)
    assert (found.protocol, found.error) == ("dns", None), found
    assert found.details["rcode"] == server.rcode, found
    assert found.details["authoritative"] == "no", found
    assert found.details["recursion_available"] == "yes", found
    assert found.details["records"] == "0 answer, 0 authority, 0 additional", found
    refused = [w for w in found.warnings if REFUSED_WARNING in w]
    assert len(refused) == (1 if server.rcode == "REFUSED" else 0), found


@SERVICES
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_verify_identifies_dnsmasq(
    dnsmasq: dict[str, Dnsmasq], tmp_path: Path, protocol: str
) -> None:
    """dnsmasq is silent to the probe datagram (the UDP port is `open|filtered` until the DNS
    query is answered); over TCP the query goes on the probe's own connection."""
    server = dnsmasq["refusing"]
    deployment = _deployment(tmp_path, protocol, server.port, "dns")
    code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] == "dns", identification
    assert identification["details"]["rcode"] == "REFUSED", identification
    assert any(REFUSED_WARNING in w for w in identification["warnings"]), identification
    if protocol == "udp":
        assert check["evidence"]["note"] == "dns answered", check  # type: ignore[index]


@SERVICES
def test_dnsmasq_ignores_the_probe_datagram(dnsmasq: dict[str, Dnsmasq]) -> None:
    """Why the UDP port needs its own protocol: dnsmasq drops verify's probe datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.connect((SERVER, dnsmasq["refusing"].port))
        sock.send(LISTENER_PROBE + b"0123456789abcdef")
        with pytest.raises(TimeoutError):
            sock.recv(4096)


# --- what is not DNS ------------------------------------------------------------------------


def test_silence_stays_open_filtered_and_says_what_it_may_be(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "dns")
    with _udp_server(port, None):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open|filtered", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert (identification["protocol"], identification["error"]) == (None, SILENCE)


def test_a_garbage_answer_to_the_query_is_open_and_not_dns(tmp_path: Path) -> None:
    """A port silent to the probe datagram that answers the DNS query with garbage answered:
    `open`, failed, not DNS."""
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "dns")
    garbage = b"?? unknown command, try HELP\n"
    with _answering(port, lambda data: None if data.startswith(LISTENER_PROBE) else garbage):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert identification["error"].startswith("not DNS: "), identification
    assert identification["details"]["answer"] == f"{len(garbage)} bytes", identification


def test_a_tcp_service_of_another_protocol_is_not_dns(tmp_path: Path) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "dns")
    with _tcp_server(port, HTTP_REPLY):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert identification["error"].startswith("not DNS: "), identification


def test_a_silent_tcp_service_is_open_and_not_identified(tmp_path: Path) -> None:
    """Over TCP a DNS server answers every query it reads: silence there is another protocol."""
    port = _free_port()
    deployment = _deployment(tmp_path, "tcp", port, "dns")
    with _tcp_server(port, None):
        code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert (identification["protocol"], identification["error"]) == (None, TCP_SILENCE)


def _response(data: bytes, ident: int | None = None) -> bytes:
    """dnsmasq's REFUSED to the query ``data`` (QR, RA, the question echoed), with another id
    when ``ident`` is given."""
    head = data[:2] if ident is None else ident.to_bytes(2, "big")
    return head + b"\x80\x85" + data[4:]


@contextmanager
def _replying(port: int, replies: Callable[[bytes], list[bytes]]) -> Iterator[None]:
    """A UDP socket on 127.0.0.3:``port`` that sends the datagrams ``replies(query)`` back to
    the sender of each query, in order."""
    with servers.udp_peer(SERVER, port, replies):
        yield


def _other_id(data: bytes) -> int:
    return int.from_bytes(data[:2], "big") ^ 1


def test_an_echo_is_not_dns() -> None:
    """A peer that sends the query back (same id, QR=0) is no DNS server."""
    port = _free_port()
    with _replying(port, lambda data: [data]):
        found = _identify(port)
    assert found.protocol is None, found
    assert found.error is not None and "QR=0" in found.error, found
    assert found.details["answer"] == f"{len(query(0))} bytes", found


def test_a_stray_answer_is_ignored_and_the_answer_identifies() -> None:
    port = _free_port()
    with _replying(port, lambda data: [_response(data, _other_id(data)), _response(data)]):
        found = _identify(port)
    assert (found.protocol, found.error) == ("dns", None), found
    assert found.details["rcode"] == "REFUSED", found
    assert "no id of a query sent" in found.details["ignored"], found


def test_only_strays_are_an_answer_that_is_not_dns() -> None:
    """Datagrams from the port, none with the id of a query sent: answered, not in DNS."""
    port = _free_port()
    with _replying(port, lambda data: [_response(data, _other_id(data))]):
        found = _identify(port, timeout=1.0)
    assert found.protocol is None, found
    assert found.error is not None, found
    assert found.error.startswith("not DNS: no answer to the query came back"), found
    assert found.details["answer"] == f"{len(query(0))} bytes", found


def test_a_closed_udp_port_is_closed() -> None:
    found = _identify(_free_port())
    assert (found.protocol, found.error) == (None, "closed (ICMP port unreachable)"), found


# --- reading a response ---------------------------------------------------------------------

#: an SOA record for the root, its name a compression pointer to the question's (offset 12)
SOA_RECORD = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 86400, 26) + b"\x01a\x00\x01b\x00" + bytes(20)


def test_a_noerror_answer_with_records_is_read() -> None:
    message = struct.pack(">HHHHHH", 7, 0x8400, 1, 1, 0, 0) + query(7)[12:] + SOA_RECORD
    response = read_response(message, 7)
    assert (response.rcode, response.answers, response.question) == ("NOERROR", 1, True)


@pytest.mark.parametrize(
    ("flags", "counts", "tail", "why"),
    [
        (0x8400, (1, 1, 0, 0), SOA_RECORD[:-1], "record 1 of 1: record data that runs past"),
        (0x8400, (1, 1, 0, 0), b"\x40", "record 1 of 1: a label of unknown type 0x1"),
        (0x8400, (1, 2, 0, 0), SOA_RECORD, "record 2 of 2: a name that runs past"),
        (0x8000, (0, 0, 0, 0), b"", "a NOERROR response that does not echo the question"),
        (0x8000, (2, 0, 0, 0), b"", "a response with 2 questions"),
        (0x8801, (1, 0, 0, 0), b"", "opcode 1"),
    ],
)
def test_a_malformed_response_is_not_read(
    flags: int, counts: tuple[int, ...], tail: bytes, why: str
) -> None:
    question = query(7)[12:] if counts[0] == 1 else b""
    message = struct.pack(">HHHHHH", 7, flags, *counts) + question + tail
    with pytest.raises(ValueError, match=why):
        read_response(message, 7)


def test_a_truncated_response_may_lack_records_and_an_error_its_question() -> None:
    truncated = struct.pack(">HHHHHH", 7, 0x8200, 1, 3, 0, 0) + query(7)[12:] + SOA_RECORD[:5]
    assert read_response(truncated, 7).answers == 3
    formerr = read_response(struct.pack(">HHHHHH", 7, 0x8001, 0, 0, 0, 0), 7)
    assert (formerr.rcode, formerr.question) == ("FORMERR", False)
