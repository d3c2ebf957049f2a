"""SNMP identification with a community (``verify --snmp-community-file`` or
``PORTPLAN_SNMP_COMMUNITY``): an SNMPv2c GetRequest beside the SNMPv3 engine-ID discovery,
against Net-SNMP's real snmpd with SNMPv3 disabled (started as tests/test_identify_snmp.py
starts it), directly, through the CLI and through ``verify --inventory``; and against small
UDP peers that answer in ways that must not identify.  The community never appears in any
output.

The snmpd tests are marked ``services``: outside CI they skip when snmpd is missing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ansible_env import environment
from machine import document
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify import _ber as ber
from portplan.probe.identify import _snmp_v2c as v2c
from portplan.probe.identify.snmp import SILENCE_WITH_COMMUNITY, parse_answer
from test_identify_snmp import CLIENT, COMMUNITY, SERVER, _msg_id, _peer, _report, _snmpd
from test_verify_identify import _deployment, _only_check

SERVICES = pytest.mark.services
WRONG = b"pp-wrong-community-91c2"
#: the view snmpd gives the community in the test that leaves the system group out
INTERFACES = ".1.3.6.1.2.1.2"
NET_SNMP_LINUX = "1.3.6.1.4.1.8072.3.2.10"  # Net-SNMP's sysObjectID on Linux


@pytest.fixture(scope="module")
def agent() -> Iterator[int]:
    """An snmpd that answers SNMPv2c with the test's community and has SNMPv3 disabled."""
    with _snmpd(
        f"[snmp] disableSNMPv3 yes\nrocommunity {COMMUNITY.decode()} 127.0.0.0/8\n"
    ) as port:
        yield port


def _identify(port: int, community: bytes, timeout: float = 2.0) -> Identification:
    context = ProbeContext(
        address=SERVER,
        port=port,
        timeout=timeout,
        source_address=CLIENT,
        secrets={"snmp": community},
    )
    found = asyncio.run(identify("snmp", context))
    assert found is not None
    return found


def _never_shown(text: str) -> None:
    for community in (COMMUNITY, WRONG):
        assert community.decode() not in text
        for word in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", text):  # nor sealed, in base64
            with contextlib.suppress(ValueError):
                assert community not in base64.b64decode(word), f"sealed community: {word}"


def _portplan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portplan", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        stdin=subprocess.DEVNULL,
        env=env,
    )


# --- against the real agent -------------------------------------------------------------------


@SERVICES
def test_a_v2c_only_agent_answers_the_get_request_and_is_identified(agent: int) -> None:
    found = _identify(agent, COMMUNITY)
    assert (found.protocol, found.error, found.warnings) == ("snmp", None, ()), found
    assert found.details["answer"] == "Response", found
    assert found.details["version"] == "SNMPv2c", found
    assert found.details["sys_descr"].startswith("Linux "), found
    assert found.details["sys_object_id"] == NET_SNMP_LINUX, found
    _never_shown(repr(found))


@SERVICES
def test_a_wrong_community_is_silence_and_is_never_shown(agent: int) -> None:
    found = _identify(agent, WRONG, timeout=1.0)
    assert (found.protocol, found.error) == (None, SILENCE_WITH_COMMUNITY), found
    assert "answer" not in found.details, found
    _never_shown(repr(found))


@SERVICES
def test_an_snmpv3_report_that_came_first_says_the_community_was_not_checked() -> None:
    """An agent with SNMPv3 on answers the discovery whatever the community: identified, and
    the identification says that the community given was not what proved it."""
    with _snmpd(f"rocommunity {COMMUNITY.decode()} 127.0.0.0/8\n") as port:
        found = _identify(port, WRONG)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["answer"] == "Report", found
    assert found.details["community"] == "not checked: the SNMPv3 Report came first", found
    _never_shown(repr(found))


@SERVICES
def test_a_view_without_sysdescr_still_proves_the_community_and_warns() -> None:
    config = (
        f"[snmp] disableSNMPv3 yes\nrocommunity {COMMUNITY.decode()} 127.0.0.0/8 {INTERFACES}\n"
    )
    with _snmpd(config) as port:
        found = _identify(port, COMMUNITY)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["version"] == "SNMPv2c", found
    assert "sys_descr" not in found.details and "sys_object_id" not in found.details, found
    assert found.warnings == (
        "sysDescr.0 is noSuchObject: SNMPv2c answers with this community, but its view of "
        "the MIB does not hold it",
        "sysObjectID.0 is noSuchObject: SNMPv2c answers with this community, but its view of "
        "the MIB does not hold it",
    ), found


@SERVICES
def test_verify_reads_the_community_from_its_file_or_the_environment(
    agent: int, tmp_path: Path
) -> None:
    deployment = _deployment(tmp_path, "udp", agent, "snmp")
    verify = ["verify", str(deployment), "--on", "client", "--flow", "flow", "--timeout", "1"]
    right, wrong = tmp_path / "community", tmp_path / "wrong"
    right.write_bytes(COMMUNITY + b"\n")
    wrong.write_bytes(WRONG + b"\n")
    runs = {
        "file": _portplan(
            *verify, "--format", "json", "--snmp-community-file", str(right), env=environment()
        ),
        "environment": _portplan(
            *verify, "--format", "json", env=environment(PORTPLAN_SNMP_COMMUNITY=COMMUNITY.decode())
        ),
    }
    for how, done in runs.items():
        assert done.returncode == 0, (how, done.stderr)
        check = _only_check(document(done.stdout, "verify"))
        assert (check["outcome"], check["passed"]) == ("open", True), (how, check)
        identification = check["identification"]
        assert isinstance(identification, dict), check
        assert identification["details"]["version"] == "SNMPv2c", (how, identification)
        assert identification["details"]["sys_object_id"] == NET_SNMP_LINUX, identification
        _never_shown(done.stdout + done.stderr)
    # a wrong one: silence, the port open|filtered, the run failed, the community in no output
    for fmt in ("json", "table"):
        done = _portplan(
            *verify, "--format", fmt, "--snmp-community-file", str(wrong), env=environment()
        )
        assert done.returncode == 1, done.stderr
        _never_shown(done.stdout + done.stderr)
        if fmt == "table":
            assert "open|filtered" in done.stdout, done.stdout
            continue
        check = _only_check(document(done.stdout, "verify"))
        assert (check["outcome"], check["passed"]) == ("open|filtered", False), check
        assert check["identification"]["error"] == SILENCE_WITH_COMMUNITY, check  # type: ignore[index]


def _inventory_lab(tmp_path: Path, port: int) -> tuple[Path, Path]:
    (tmp_path / "nms.yaml").write_text(
        "id: nms-1.0\nname: NMS\nversion: '1'\ndocument: {title: NMS ports}\n"
        "components: {agent: {name: Agent}, nms: {name: NMS, kind: client}}\n"
        "flows:\n  - {id: poll, row: 1, from: nms, to: agent, protocol: udp,\n"
        f"     ports: {port}, app_protocol: snmp, purpose: SNMP poll.}}\n"
    )
    (tmp_path / "lab.yaml").write_text(
        f"name: nms-lab\nhosts: {{nms: {{addresses: [{CLIENT}]}}, "
        f"agent: {{addresses: [{SERVER}]}}}}\n"
        "products: {nms-1.0: {file: nms.yaml, components: {nms: nms, agent: agent}}}\n"
    )
    local = f"{{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"all:\n  hosts:\n    nms: {local}\n")
    return tmp_path / "lab.yaml", inventory


@SERVICES
def test_verify_inventory_passes_the_community_on_and_shows_it_nowhere(
    agent: int, tmp_path: Path
) -> None:
    # an operator's Ansible that shows each task's arguments and keeps its output: neither
    # the community nor the sealed text it travels in may be written there or in the report
    deployment, inventory = _inventory_lab(tmp_path, agent)
    log = tmp_path / "ansible.log"
    wrong = tmp_path / "wrong"
    wrong.write_bytes(WRONG)
    common = ["verify", str(deployment), "--inventory", str(inventory), "--timeout", "1.5"]
    ansible = {
        "ANSIBLE_ASYNC_DIR": str(tmp_path / "async"),
        "ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "true",
        "ANSIBLE_LOG_PATH": str(log),
    }
    right = _portplan(
        *common,
        "--format",
        "json",
        env=environment(PORTPLAN_SNMP_COMMUNITY=COMMUNITY.decode(), **ansible),
    )
    assert right.returncode == 0, right.stderr
    check = _only_check(document(right.stdout, "verify"))
    assert (check["outcome"], check["passed"]) == ("open", True), check
    assert check["identification"]["details"]["version"] == "SNMPv2c", check  # type: ignore[index]
    assert check["identification"]["details"]["sys_descr"].startswith("Linux "), check  # type: ignore[index]
    wrong_run = _portplan(
        *common, "--format", "json", "--snmp-community-file", str(wrong), env=environment(**ansible)
    )
    assert wrong_run.returncode == 1, wrong_run.stderr
    check = _only_check(document(wrong_run.stdout, "verify"))
    assert (check["outcome"], check["passed"]) == ("open|filtered", False), check
    assert check["identification"]["error"] == SILENCE_WITH_COMMUNITY, check  # type: ignore[index]
    text = log.read_text()
    assert "TASK [probe" in text  # the log holds the task's banner
    for done in (right, wrong_run):
        _never_shown(done.stdout + done.stderr)
    _never_shown(text)


# --- peers that are not the agent's answer ----------------------------------------------------


def _response(
    request_id: int,
    bindings: bytes,
    *,
    community: bytes = COMMUNITY,
    error_status: int = 0,
    pdu: int = v2c.RESPONSE,
) -> bytes:
    body = ber.encode_integer(request_id) + ber.encode_integer(error_status)
    body += ber.encode_integer(1 if error_status else 0) + ber.encode(ber.SEQUENCE, bindings)
    head = ber.encode_integer(1) + ber.encode(ber.OCTET_STRING, community)
    return ber.encode(ber.SEQUENCE, head + ber.encode(pdu, body))


def _binding(oid: bytes, tag: int, value: bytes) -> bytes:
    return ber.encode(ber.SEQUENCE, ber.encode(ber.OBJECT_IDENTIFIER, oid) + ber.encode(tag, value))


SYS_DESCR, SYS_OBJECT_ID = bytes.fromhex("2b06010201010100"), bytes.fromhex("2b06010201010200")
CISCO = bytes.fromhex("2b0601040109010101")  # 1.3.6.1.4.1.9.1.1.1


def _answer_v2c(make: Callable[[int], list[bytes]]) -> Callable[[bytes], list[bytes]]:
    """A peer's answer: ``make(request_id)`` to the SNMPv2c GetRequest, nothing to the
    SNMPv3 discovery."""

    def answer(data: bytes) -> list[bytes]:
        if parse_answer(data) != "SNMPv2c":
            return []
        return make(v2c.parse_message(data, COMMUNITY).request_id)

    return answer


def test_the_get_request_is_the_one_rfc_3416_describes() -> None:
    community = b"public"
    expected = (
        "3034"  # Message
        "020101"  # version 1: SNMPv2c
        "0406" + community.hex() + "a027"  # GetRequest-PDU
        "020107"  # request-id 7
        "020100"
        "020100"  # error-status, error-index 0
        "301c"  # variable-bindings
        "300c"
        "06082b06010201010100"
        "0500"  # sysDescr.0: NULL
        "300c"
        "06082b06010201010200"
        "0500"  # sysObjectID.0: NULL
    )
    assert v2c.get_request(community, 7).hex() == expected
    assert ber.decode_oid(SYS_DESCR) == v2c.SYS_DESCR == "1.3.6.1.2.1.1.1.0"
    assert ber.decode_oid(SYS_OBJECT_ID) == v2c.SYS_OBJECT_ID == "1.3.6.1.2.1.1.2.0"


def test_a_response_to_another_request_is_ignored_and_the_right_one_counts() -> None:
    descr = b"Cisco IOS Software, C2960 Software\r\nTechnical Support: " + b"x" * 300
    good = _binding(SYS_DESCR, ber.OCTET_STRING, descr) + _binding(
        SYS_OBJECT_ID, ber.OBJECT_IDENTIFIER, CISCO
    )
    with _peer(
        _answer_v2c(lambda rid: [_response((rid + 1) % 2**31, good), _response(rid, good)])
    ) as port:
        found = _identify(port, COMMUNITY)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["ignored"].startswith("an SNMPv2c message with another request-id"), found
    assert found.details["sys_object_id"] == "1.3.6.1.4.1.9.1.1.1", found
    shown = found.details["sys_descr"]
    assert shown.startswith("Cisco IOS Software, C2960 Software Technical Support: xxx"), found
    assert len(shown) == 160 + len("..."), shown  # its lines on one, cut short


def test_a_response_under_another_community_does_not_identify_nor_show_it() -> None:
    with _peer(_answer_v2c(lambda rid: [_response(rid, b"", community=WRONG)])) as port:
        found = _identify(port, COMMUNITY)
    assert found.protocol is None, found
    assert found.details["answer"] == "SNMPv2c Response", found
    assert found.error is not None and "under another community" in found.error, found
    _never_shown(repr(found))


def test_an_error_status_still_proves_the_community_with_a_warning() -> None:
    with _peer(_answer_v2c(lambda rid: [_response(rid, b"", error_status=5)])) as port:
        found = _identify(port, COMMUNITY)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["version"] == "SNMPv2c", found
    assert found.details["error_status"] == "genErr (error-index 1)", found
    assert len(found.warnings) == 1 and "error-status genErr" in found.warnings[0], found


def test_a_pdu_that_is_not_a_response_does_not_identify() -> None:
    with _peer(_answer_v2c(lambda rid: [_response(rid, b"", pdu=0xA7)])) as port:
        found = _identify(port, COMMUNITY)
    assert found.protocol is None, found
    assert found.details["answer"] == "SNMPv2c SNMPv2-Trap", found
    assert found.error == "SNMPv2c answered the GetRequest with SNMPv2-Trap, not a Response"


@pytest.mark.parametrize("prefix", [b"", b"echo: "], ids=["echo", "echo-with-prefix"])
def test_our_get_request_sent_back_never_shows_the_community(prefix: bytes) -> None:
    with _peer(lambda data: [prefix + data]) as port:
        found = _identify(port, COMMUNITY)
    assert found.protocol is None, found
    assert found.error is not None and "(not shown: it holds the community)" in found.error
    _never_shown(repr(found))


def test_a_probe_context_never_shows_its_secrets() -> None:
    context = ProbeContext(address=SERVER, port=161, secrets={"snmp": COMMUNITY})
    _never_shown(repr(context))


def _no_part_shown(found: Identification) -> None:
    """No four bytes in a row of the community are shown (but in the words that say so)."""
    text = repr(found).replace(v2c.NOT_SHOWN, "")
    for part in range(len(COMMUNITY) - 3):
        assert COMMUNITY[part : part + 4].decode() not in text, (part, found)


@pytest.mark.parametrize("keep", [12, 20, 24], ids=["5-bytes", "13-bytes", "all-17-bytes"])
def test_our_get_request_sent_back_cut_short_never_shows_part_of_the_community(
    keep: int,
) -> None:
    """A peer that sends back the start of what it read (a small buffer): the quote of the
    answer would show the community's first bytes, though not all of it."""
    with _peer(lambda data: [data[:keep]] if parse_answer(data) == "SNMPv2c" else []) as port:
        found = _identify(port, COMMUNITY)
    assert found.protocol is None, found
    assert found.error is not None and found.error.endswith(v2c.NOT_SHOWN), found
    _no_part_shown(found)


@pytest.mark.parametrize(
    "descr",
    [b"Switch; community " + COMMUNITY, b"x" * 150 + COMMUNITY, b"on\n" + COMMUNITY[:5] + b"\n"],
    ids=["whole", "across-the-cut", "not-the-community"],
)
def test_a_sysdescr_that_holds_the_community_is_not_shown(descr: bytes) -> None:
    good = _binding(SYS_DESCR, ber.OCTET_STRING, descr) + _binding(
        SYS_OBJECT_ID, ber.OBJECT_IDENTIFIER, CISCO
    )
    with _peer(_answer_v2c(lambda rid: [_response(rid, good)])) as port:
        found = _identify(port, COMMUNITY)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["sys_object_id"] == "1.3.6.1.4.1.9.1.1.1", found
    if COMMUNITY in descr:
        assert found.details["sys_descr"] == v2c.NOT_SHOWN, found
        _no_part_shown(found)
    else:  # a sysDescr that merely starts as the community does is shown
        assert found.details["sys_descr"] == "on " + COMMUNITY[:5].decode(), found


def test_an_engine_id_that_holds_the_community_is_not_shown() -> None:
    """A Report whose engine ID the peer filled with the community (in text format, shown
    as text and in hex)."""
    engine_id = bytes.fromhex("80001f8804") + COMMUNITY

    def answer(data: bytes) -> list[bytes]:
        return [] if isinstance(parse_answer(data), str) else [_report(_msg_id(data), engine_id)]

    with _peer(answer) as port:
        found = _identify(port, COMMUNITY)
    assert (found.protocol, found.error) == ("snmp", None), found
    assert found.details["engine_id"] == v2c.NOT_SHOWN, found
    assert found.details["engine_id_format"] == v2c.NOT_SHOWN, found
    assert found.details["engine_enterprise"] == "8072 (Net-SNMP)", found
    _never_shown(repr(found))
    assert COMMUNITY.hex() not in repr(found), found


def test_a_community_that_is_not_utf8_is_read_from_the_environment(tmp_path: Path) -> None:
    """A community is octets (RFC 3416), and the environment holds them as they are: a byte
    that is not UTF-8 was a traceback naming it and its place in the community."""
    community = b"pp-\xffcommunity-\xfe91"
    good = _binding(SYS_DESCR, ber.OCTET_STRING, b"Switch") + _binding(
        SYS_OBJECT_ID, ber.OBJECT_IDENTIFIER, CISCO
    )

    def answer(data: bytes) -> list[bytes]:
        if parse_answer(data) != "SNMPv2c" or community not in data:
            return []
        return [_response(v2c.parse_message(data, community).request_id, good, community=community)]

    with _peer(answer) as port:
        deployment = _deployment(tmp_path, "udp", port, "snmp")
        done = _portplan(
            *("verify", str(deployment), "--on", "client", "--flow", "flow", "--timeout", "1"),
            *("--format", "json"),
            env=environment(PORTPLAN_SNMP_COMMUNITY=os.fsdecode(community)),
        )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    check = _only_check(document(done.stdout, "verify"))
    assert check["identification"]["details"]["sys_descr"] == "Switch", check  # type: ignore[index]
    assert "\\xff" not in done.stdout + done.stderr
