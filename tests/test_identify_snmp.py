"""SNMP identification (SNMPv3 engine-ID discovery) against Net-SNMP's real snmpd, and against
small UDP peers that answer with garbage, SNMPv2c or a Report to another message.

snmpd (Debian package snmpd) runs as ``snmpd -f -Lo -C -c DIR/snmpd.conf -p DIR/snmpd.pid
udp:127.0.0.3:PORT``: in the foreground, reading only the test's configuration, its persistent
state (engine boots) in DIR through ``SNMP_PERSISTENT_DIR``, on a UDP port of 127.0.0.3 free a
moment before; it is stopped by its pid and DIR removed in a ``finally``.  The probes come from
127.0.0.2, as in tests/test_verify_identify.py, whose CLI helpers these tests use.

The server tests are marked ``services``: outside CI they skip (with the reason) when snmpd is
missing; under CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import servers
from portplan import load_plan
from portplan.fanout import verify_inventory
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify import _ber as ber
from portplan.probe.identify._exchange import NotThisProtocol
from portplan.probe.identify.snmp import SILENCE, discovery, engine_id_facts, parse_answer
from portplan.probe.listen import LISTENER_PROBE
from test_verify_identify import SERVER, _answering, _deployment, _free_port, _only_check, _verify

CLIENT = "127.0.0.2"
SNMPD = "/usr/sbin/snmpd"
ENGINE_TEXT = b"portplan-test"
#: Net-SNMP's engine ID for ``engineID portplan-test``: enterprise 8072 (high bit set), format
#: 4 (text), the text
ENGINE_ID = bytes.fromhex("80001f8804") + ENGINE_TEXT
COMMUNITY = b"pp-community-7f3a"
SERVICES = pytest.mark.services
READY = 20.0


# --- snmpd ------------------------------------------------------------------------------------


@contextmanager
def _snmpd(config: str) -> Iterator[int]:
    """A real snmpd on a free UDP port of 127.0.0.3 with ``config`` as its only configuration;
    yields the port."""
    binary = servers.binary(SNMPD, "snmpd")
    with servers.scratch("snmpd") as directory:
        conf, pidfile, log = directory / "snmpd.conf", directory / "snmpd.pid", directory / "log"
        conf.write_text(config)
        port = _free_port()
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(directory / "state"), MIBS="")
        args = [binary, "-f", "-Lo", "-C", "-c", str(conf), "-p", str(pidfile)]
        process = servers.start([*args, f"udp:{SERVER}:{port}"], directory, log, env)
        try:
            # it writes its pid file once its endpoint is open, then says its version
            servers.wait_until(
                lambda: "NET-SNMP version" in log.read_text(errors="replace"),
                process,
                log,
                READY,
                what="snmpd",
            )
            assert pidfile.read_text().strip() == str(process.pid), servers.tail(log)
            yield port
        finally:
            servers.stop(process)


@pytest.fixture(scope="module")
def snmpd() -> Iterator[int]:
    """An agent with SNMPv3 on (as Net-SNMP always has it) and no user at all."""
    with _snmpd(f"engineID {ENGINE_TEXT.decode()}\n") as port:
        yield port


@pytest.fixture(scope="module")
def snmpd_v2c_only() -> Iterator[int]:
    """An agent that answers SNMPv2c with a community and has SNMPv3 disabled."""
    config = f"[snmp] disableSNMPv3 yes\nrocommunity {COMMUNITY.decode()} 127.0.0.0/8\n"
    with _snmpd(config) as port:
        yield port


def _identify(port: int, timeout: float = 2.0) -> Identification:
    context = ProbeContext(address=SERVER, port=port, timeout=timeout, source_address=CLIENT)
    found = asyncio.run(identify("snmp", context))
    assert found is not None
    return found


def _v2c(pdu: int, request_id: int, bindings: bytes = b"") -> bytes:
    """An SNMPv2c message with the test's community (RFC 3416, RFC 1901)."""
    body = ber.encode_integer(request_id) + ber.encode_integer(0) + ber.encode_integer(0)
    body += ber.encode(ber.SEQUENCE, bindings)
    community = ber.encode(ber.OCTET_STRING, COMMUNITY)
    return ber.encode(ber.SEQUENCE, ber.encode_integer(1) + community + ber.encode(pdu, body))


def _v2c_get_sysdescr(request_id: int) -> bytes:
    """An SNMPv2c GetRequest for sysDescr.0 (1.3.6.1.2.1.1.1.0)."""
    name = ber.encode(ber.OBJECT_IDENTIFIER, bytes.fromhex("2b06010201010100"))
    return _v2c(0xA0, request_id, ber.encode(ber.SEQUENCE, name + ber.encode(0x05, b"")))


# --- against the real agent -------------------------------------------------------------------


@SERVICES
def test_snmpd_with_no_v3_user_answers_discovery_with_its_engine_id(snmpd: int) -> None:
    found = _identify(snmpd)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["answer"] == "Report", found
    assert found.details["engine_id"] == ENGINE_ID.hex(), found
    assert found.details["engine_enterprise"] == "8072 (Net-SNMP)", found
    assert found.details["engine_id_format"] == "text 'portplan-test'", found
    assert found.details["report"] == "usmStatsUnknownEngineIDs (1.3.6.1.6.3.15.1.1.4.0)", found
    assert int(found.details["engine_boots"]) >= 1, found
    assert found.details["engine_time"].endswith(" s"), found
    assert found.warnings == (), found


@SERVICES
def test_verify_identifies_snmpd_and_the_udp_port_is_open(snmpd: int, tmp_path: Path) -> None:
    deployment = _deployment(tmp_path, "udp", snmpd, "snmp")
    code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (0, "open", True), check
    assert check["evidence"]["note"] == "snmp answered", check  # type: ignore[index]
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] == "snmp", identification
    assert identification["details"]["engine_id"] == ENGINE_ID.hex(), identification


@SERVICES
def test_a_managed_host_identifies_snmpd_through_ansible(
    snmpd: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verify --inventory: the collection's bundled engine sends the discovery from the host
    monkeypatch.setenv("ANSIBLE_ASYNC_DIR", str(tmp_path / "async"))
    (tmp_path / "nms.yaml").write_text(
        "id: nms-1.0\nname: NMS\nversion: '1'\ndocument: {title: NMS ports}\n"
        "components: {agent: {name: Agent}, nms: {name: NMS, kind: client}}\n"
        "flows:\n  - {id: poll, row: 1, from: nms, to: agent, protocol: udp,\n"
        f"     ports: {snmpd}, app_protocol: snmp, purpose: SNMP poll.}}\n"
    )
    (tmp_path / "lab.yaml").write_text(
        f"name: nms-lab\nhosts: {{nms: {{addresses: [{CLIENT}]}}, "
        f"agent: {{addresses: [{SERVER}]}}}}\n"
        "products: {nms-1.0: {file: nms.yaml, components: {nms: nms, agent: agent}}}\n"
    )
    local = f"{{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"all:\n  hosts:\n    nms: {local}\n")
    run = verify_inventory(load_plan(tmp_path / "lab.yaml"), inventory, timeout=2.0)
    (check,) = run.verification.checks
    assert check.identification is not None and check.identification.matches, check
    assert check.identification.details["engine_id"] == ENGINE_ID.hex(), check
    assert check.passed, check


@SERVICES
def test_an_agent_with_snmpv3_disabled_is_silent_and_the_error_says_why(
    snmpd_v2c_only: int, tmp_path: Path
) -> None:
    # the agent is up: it answers SNMPv2c with its community
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((CLIENT, 0))
        sock.settimeout(5)
        sock.sendto(_v2c_get_sysdescr(4242), (SERVER, snmpd_v2c_only))
        assert parse_answer(sock.recv(65535)) == "SNMPv2c"
    found = _identify(snmpd_v2c_only, timeout=1.0)
    assert (found.protocol, found.error) == (None, SILENCE), found
    assert "answer" not in found.details, found
    deployment = _deployment(tmp_path, "udp", snmpd_v2c_only, "snmp")
    code, report = _verify(deployment, "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open|filtered", False), check
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["protocol"] is None, identification
    assert "SNMPv1/v2c only" in identification["error"], identification


def test_a_closed_udp_port_is_closed() -> None:
    port = _free_port()  # nothing listens there: the kernel answers ICMP port unreachable
    found = _identify(port)
    assert (found.protocol, found.error) == (None, "closed (ICMP port unreachable)"), found


# --- peers that are not an SNMPv3 agent ------------------------------------------------------


def _report(msg_id: int, engine_id: bytes = ENGINE_ID, pdu: int = 0xA8) -> bytes:
    """An SNMPv3 Report of usmStatsUnknownEngineIDs, as RFC 3414 section 3.2 step 3 has an
    agent send it (boots 7, time 1234), under ``msg_id``."""
    octets = lambda value: ber.encode(ber.OCTET_STRING, value)  # noqa: E731
    header = ber.encode(
        ber.SEQUENCE,
        ber.encode_integer(msg_id)
        + ber.encode_integer(65507)
        + octets(b"\x00")
        + ber.encode_integer(3),
    )
    usm = ber.encode(
        ber.SEQUENCE,
        octets(engine_id)
        + ber.encode_integer(7)
        + ber.encode_integer(1234)
        + octets(b"")
        + octets(b"")
        + octets(b""),
    )
    counter = ber.encode(0x41, b"\x01")  # Counter32 1
    name = ber.encode(ber.OBJECT_IDENTIFIER, bytes.fromhex("2b060106030f01010400"))
    bindings = ber.encode(ber.SEQUENCE, ber.encode(ber.SEQUENCE, name + counter))
    body = ber.encode_integer(99) + ber.encode_integer(0) + ber.encode_integer(0) + bindings
    scoped = ber.encode(ber.SEQUENCE, octets(engine_id) + octets(b"") + ber.encode(pdu, body))
    return ber.encode(ber.SEQUENCE, ber.encode_integer(3) + header + octets(usm) + scoped)


def _msg_id(request: bytes) -> int:
    asked = parse_answer(request)
    assert not isinstance(asked, str)
    return asked.msg_id


@contextmanager
def _peer(answer: Callable[[bytes], list[bytes]]) -> Iterator[int]:
    """A UDP peer on 127.0.0.3 silent to verify's probe datagram that sends ``answer(request)``
    back for each other datagram; yields its port."""
    port = _free_port()
    replies: list[bytes] = []

    def reply(data: bytes) -> bytes | None:
        if data.startswith(LISTENER_PROBE):
            return None
        replies.extend(answer(data))
        return replies.pop(0) if replies else None

    with _answering(port, reply):
        yield port


def test_garbage_is_an_answer_that_is_not_snmp(tmp_path: Path) -> None:
    with _peer(lambda _data: [b"hello"]) as port:
        found = _identify(port)
        assert found.protocol is None, found
        assert found.details["answer"] == "5 bytes", found
        assert found.error is not None and found.error.startswith("not SNMP ("), found
        assert found.error.endswith("'hello'"), found
        code, report = _verify(_deployment(tmp_path, "udp", port, "snmp"), "--flow", "flow")
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "open", False), check
    assert "not SNMP" in check["identification"]["error"], check  # type: ignore[index]


def test_an_snmpv2c_answer_is_an_answer_and_its_community_is_never_shown() -> None:
    response = _v2c(0xA2, 1)
    with _peer(lambda _data: [response]) as port:
        found = _identify(port)
    assert found.protocol is None, found
    assert found.details["answer"] == "SNMPv2c message", found
    assert found.error == "an SNMPv2c message, not an SNMPv3 answer to engine-ID discovery"
    assert COMMUNITY.decode() not in repr(found), found


def test_a_report_to_another_message_is_ignored_and_the_right_one_counts() -> None:
    def answer(data: bytes) -> list[bytes]:
        ours = _msg_id(data)
        return [_report((ours + 1) % 2**31), _report(ours)]

    with _peer(answer) as port:
        found = _identify(port)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["ignored"].startswith("an SNMPv3 message with another msgID"), found
    assert found.details["engine_boots"] == "7", found
    assert found.details["engine_time"] == "1234 s", found


def test_only_reports_to_other_messages_are_silence() -> None:
    with _peer(lambda data: [_report((_msg_id(data) + 1) % 2**31)]) as port:
        found = _identify(port, timeout=1.0)
    assert (found.protocol, found.error) == (None, SILENCE), found
    assert "answer" not in found.details, found


def test_an_snmpv3_answer_that_is_not_a_report_does_not_identify() -> None:
    with _peer(lambda data: [_report(_msg_id(data), pdu=0xA2)]) as port:
        found = _identify(port)
    assert found.protocol is None, found
    assert found.details["answer"] == "SNMPv3 Response", found
    assert found.error == "SNMPv3 answered engine-ID discovery with Response, not a Report"


def test_a_report_without_the_agents_engine_id_does_not_identify() -> None:
    """Our own discovery message with its PDU tag turned to Report (one bit) read as the agent's
    Report; a Report to discovery names the agent's engine (RFC 3414 section 4)."""
    with _peer(lambda data: [_report(_msg_id(data), engine_id=b"")]) as port:
        found = _identify(port)
    assert found.protocol is None, found
    assert found.details["answer"] == "SNMPv3 Report", found
    assert found.error is not None and "without the agent's engine ID" in found.error, found


# --- the message and what is read from it ----------------------------------------------------


def test_the_discovery_message_is_the_one_rfc_3412_and_3414_describe() -> None:
    expected = (
        "3038"  # SNMPv3Message
        "020103"  # msgVersion 3
        "300e"
        "020101"
        "020300ffe3"
        "040104"
        "020103"  # msgID 1, 65507, reportable, USM
        "0410"
        "300e"
        "0400"
        "020100"
        "020100"
        "0400"
        "0400"
        "0400"  # empty USM parameters
        "3011"
        "0400"
        "0400"  # scopedPDU: no contextEngineID, no contextName
        "a00b"
        "020102"
        "020100"
        "020100"
        "3000"  # GetRequest, request-id 2, no bindings
    )
    assert discovery(1, 2).hex() == expected


@pytest.mark.parametrize(
    ("engine_id", "enterprise", "holds"),
    [
        ("8000000901c0000201", "9 (Cisco)", "IPv4 address 192.0.2.1"),
        ("800063a203001122334455", "25506", "MAC address 00:11:22:33:44:55"),
        ("8000000904" + b"core-sw1".hex(), "9 (Cisco)", "text 'core-sw1'"),
        ("80001f8880abcdef", "8072 (Net-SNMP)", "enterprise-specific"),
        ("0000000900000000deadbeef", "9 (Cisco)", None),  # the SNMPv1-era format
        ("8000000907abcd", "9 (Cisco)", None),  # a reserved format
    ],
)
def test_engine_id_facts(engine_id: str, enterprise: str, holds: str | None) -> None:
    facts = {"engine_enterprise": enterprise}
    if holds is not None:
        facts["engine_id_format"] = holds
    assert engine_id_facts(bytes.fromhex(engine_id)) == facts


def test_an_engine_id_too_short_to_hold_an_enterprise_says_nothing() -> None:
    assert engine_id_facts(bytes.fromhex("8000000a")) == {}


@pytest.mark.parametrize(
    ("oid", "dotted"),
    [
        ("2b060106030f01010400", "1.3.6.1.6.3.15.1.1.4.0"),
        ("8837", "2.999"),
        ("2a8648ce3d0201", "1.2.840.10045.2.1"),
    ],
)
def test_object_identifiers_read_as_x690_writes_them(oid: str, dotted: str) -> None:
    assert ber.decode_oid(bytes.fromhex(oid)) == dotted


@pytest.mark.parametrize("oid", ["", "2b86", "2b8001", "2b8fffffffff7f"])
def test_a_malformed_object_identifier_is_not_snmp(oid: str) -> None:
    with pytest.raises(NotThisProtocol):
        ber.decode_oid(bytes.fromhex(oid))
