"""SNMP: SNMPv3 engine-ID discovery (RFC 3414 section 4), which needs no credentials, and, where
the operator gives a community (``ctx.secrets["snmp"]``), an SNMPv2c GetRequest beside it.

The discovery is an SNMPv3 message (RFC 3412 section 6) flagged reportable and noAuthNoPriv,
whose USM security parameters (RFC 3414 section 2.4) are all empty (no engine ID, boots and
time 0, no user) and whose plaintext scopedPDU holds an empty GetRequest-PDU.  An SNMPv3 agent
cannot process it for an unknown engine ID and answers with a Report (RFC 3414 section 3.2,
step 3), usually of usmStatsUnknownEngineIDs, that carries its authoritative engine ID, boots
and time.  Only a Report in an SNMPv3 message with the request's msgID counts: a stray
datagram never identifies.  The discovery reads nothing of the agent's MIB, and nothing is
ever written to it.

An agent that runs only SNMPv1/v2c (many network devices), or whose access list drops this
source, is silent to the discovery, which over UDP is also what a filtered port looks like.
With a community, both messages go out at once (the GetRequest first, for sysDescr.0 and
sysObjectID.0: see :mod:`._snmp_v2c`), and the first valid answer identifies the agent: a
Report to the discovery, or an SNMPv2c Response with the GetRequest's request-id and
community.  The community travels in clear text, as the product's own poll sends it; a wrong
one is dropped silently by most agents (many then send an authenticationFailure trap), and
the port is silent.  The community is never shown: not in a detail, an error or a warning.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from portplan.probe.identify import _ber as ber
from portplan.probe.identify import _snmp_v2c as v2c
from portplan.probe.identify._datagram import ask
from portplan.probe.identify._exchange import Findings, NotThisProtocol, printable, run_exchange
from portplan.probe.identify.base import ANSWER, Identification, ProbeContext

__all__ = [
    "SILENCE",
    "SILENCE_WITH_COMMUNITY",
    "Answer",
    "discovery",
    "engine_id_facts",
    "identify_snmp",
    "parse_answer",
]

SILENCE = (
    "no answer (open|filtered): the port may be filtered, or an SNMP agent discarded the "
    "SNMPv3 engine-ID discovery because it runs SNMPv1/v2c only (SNMPv3 disabled, as on many "
    "network devices; give verify its community, --snmp-community-file or "
    "PORTPLAN_SNMP_COMMUNITY, to ask it over SNMPv2c) or its access list drops this source"
)
SILENCE_WITH_COMMUNITY = (
    "no answer (open|filtered): the port may be filtered, or an SNMP agent discarded both the "
    "SNMPv3 engine-ID discovery and the SNMPv2c GetRequest: a wrong community (most agents "
    "drop it silently, and many send their managers an authenticationFailure trap), SNMPv2c "
    "disabled, or an access list that drops this source"
)
#: the longest sysDescr.0 shown, in characters: vendor text, often several lines
_SYS_DESCR = 160

_VERSIONS = {0: "SNMPv1", 1: "SNMPv2c", 3: "SNMPv3"}
_USM = 3  # msgSecurityModel of the User-based Security Model
_REPORTABLE = 0x04  # msgFlags: reportableFlag, no auth, no priv
_MAX_SIZE = 65507  # msgMaxSize: the largest UDP payload over IPv4
_GET_REQUEST, _REPORT = 0xA0, 0xA8
_PDUS = {
    0xA0: "GetRequest",
    0xA1: "GetNextRequest",
    0xA2: "Response",
    0xA3: "SetRequest",
    0xA4: "Trap",
    0xA5: "GetBulkRequest",
    0xA6: "InformRequest",
    0xA7: "SNMPv2-Trap",
    0xA8: "Report",
}
#: the Report counters an agent sends to a message it cannot process (RFC 3414, RFC 3412)
_REPORTS = {
    "1.3.6.1.6.3.15.1.1.1.0": "usmStatsUnsupportedSecLevels",
    "1.3.6.1.6.3.15.1.1.2.0": "usmStatsNotInTimeWindows",
    "1.3.6.1.6.3.15.1.1.3.0": "usmStatsUnknownUserNames",
    "1.3.6.1.6.3.15.1.1.4.0": "usmStatsUnknownEngineIDs",
    "1.3.6.1.6.3.15.1.1.5.0": "usmStatsWrongDigests",
    "1.3.6.1.6.3.15.1.1.6.0": "usmStatsDecryptionErrors",
    "1.3.6.1.6.3.11.2.1.1.0": "snmpUnknownSecurityModels",
    "1.3.6.1.6.3.11.2.1.2.0": "snmpInvalidMsgs",
    "1.3.6.1.6.3.11.2.1.3.0": "snmpUnknownPDUHandlers",
}
#: a few IANA private enterprise numbers seen in engine IDs
_ENTERPRISES = {
    9: "Cisco",
    11: "HP",
    311: "Microsoft",
    2011: "Huawei",
    2636: "Juniper",
    3375: "F5",
    5951: "Citrix",
    6876: "VMware",
    8072: "Net-SNMP",
    12356: "Fortinet",
    14988: "MikroTik",
    25461: "Palo Alto Networks",
    30065: "Arista",
}
_MAX_BOOTS = 2**31 - 1  # RFC 3414 section 2.2.2: the engine is latched until reconfigured


def _integer(number: int) -> bytes:
    return ber.encode_integer(number)


def _octets(value: bytes) -> bytes:
    return ber.encode(ber.OCTET_STRING, value)


def discovery(msg_id: int, request_id: int) -> bytes:
    """The engine-ID discovery message: reportable, noAuthNoPriv, empty USM parameters and
    an empty GetRequest-PDU (no variable bindings)."""
    header = ber.encode(
        ber.SEQUENCE,
        _integer(msg_id) + _integer(_MAX_SIZE) + _octets(bytes((_REPORTABLE,))) + _integer(_USM),
    )
    usm = ber.encode(
        ber.SEQUENCE,
        _octets(b"") + _integer(0) + _integer(0) + _octets(b"") + _octets(b"") + _octets(b""),
    )
    pdu = ber.encode(
        _GET_REQUEST,
        _integer(request_id) + _integer(0) + _integer(0) + ber.encode(ber.SEQUENCE, b""),
    )
    scoped = ber.encode(ber.SEQUENCE, _octets(b"") + _octets(b"") + pdu)
    return ber.encode(ber.SEQUENCE, _integer(3) + header + _octets(usm) + scoped)


@dataclass(frozen=True, slots=True)
class Answer:
    """What an SNMPv3 answer says (``pdu`` is ``None`` when its scopedPDU is encrypted)."""

    msg_id: int
    security_model: int
    engine_id: bytes
    boots: int
    time: int
    pdu: int | None
    oids: tuple[str, ...]


def _parts(item: ber.Tlv, tags: tuple[int, ...], what: str) -> list[ber.Tlv]:
    found = ber.children(item)
    if len(found) < len(tags) or any(p.tag != t for p, t in zip(found, tags, strict=False)):
        raise NotThisProtocol(f"a malformed {what}")
    return found


def parse_answer(data: bytes) -> Answer | str:
    """An SNMPv3 answer, or the version name of an SNMPv1/v2c message; ``NotThisProtocol`` for
    anything else."""
    message, end = ber.decode(data)
    if message.tag != ber.SEQUENCE or end != len(data):
        raise NotThisProtocol("not one BER SEQUENCE")
    first = ber.children(message)
    if not first or first[0].tag != ber.INTEGER:
        raise NotThisProtocol("no message version")
    version = ber.decode_integer(first[0].value)
    if version in (0, 1):
        _parts(message, (ber.INTEGER, ber.OCTET_STRING), f"{_VERSIONS[version]} message")
        return _VERSIONS[version]
    if version != 3:
        raise NotThisProtocol(f"message version {version}")
    top = _parts(message, (ber.INTEGER, ber.SEQUENCE, ber.OCTET_STRING), "SNMPv3 message")
    header = _parts(top[1], (ber.INTEGER,) * 2 + (ber.OCTET_STRING, ber.INTEGER), "msgGlobalData")
    msg_id, model = ber.decode_integer(header[0].value), ber.decode_integer(header[3].value)
    engine, boots, time = b"", 0, 0
    if model == _USM:
        usm_tlv, _end = ber.decode(top[2].value)
        usm = _parts(usm_tlv, (ber.OCTET_STRING, ber.INTEGER, ber.INTEGER), "USM parameters")
        engine = usm[0].value
        boots, time = ber.decode_integer(usm[1].value), ber.decode_integer(usm[2].value)
    if len(top) < 4:
        raise NotThisProtocol("an SNMPv3 message without msgData")
    if top[3].tag == ber.OCTET_STRING:  # an encryptedPDU
        return Answer(msg_id, model, engine, boots, time, None, ())
    scoped = _parts(top[3], (ber.OCTET_STRING, ber.OCTET_STRING), "scopedPDU")
    if len(scoped) < 3:
        raise NotThisProtocol("a scopedPDU without a PDU")
    fields = _parts(scoped[2], (ber.INTEGER,) * 3 + (ber.SEQUENCE,), "PDU")
    oids = []
    for binding in ber.children(fields[3]):
        name = _parts(binding, (ber.OBJECT_IDENTIFIER,), "variable binding")[0]
        oids.append(ber.decode_oid(name.value))
    return Answer(msg_id, model, engine, boots, time, scoped[2].tag, tuple(oids))


def engine_id_facts(engine_id: bytes) -> dict[str, str]:
    """The enterprise and, where the format says, the address or text in an engine ID
    (RFC 3411 SnmpEngineID)."""
    if len(engine_id) < 5:
        return {}
    number = int.from_bytes(engine_id[:4], "big") & 0x7FFFFFFF
    name = _ENTERPRISES.get(number)
    facts = {"engine_enterprise": f"{number} ({name})" if name else str(number)}
    if not engine_id[0] & 0x80:  # the SNMPv1-era format: 8 enterprise-specific octets
        return facts
    kind, rest = engine_id[4], engine_id[5:]
    if kind == 1 and len(rest) == 4:
        facts["engine_id_format"] = f"IPv4 address {ipaddress.IPv4Address(rest)}"
    elif kind == 2 and len(rest) == 16:
        facts["engine_id_format"] = f"IPv6 address {ipaddress.IPv6Address(rest)}"
    elif kind == 3 and len(rest) == 6:
        facts["engine_id_format"] = "MAC address " + ":".join(f"{b:02x}" for b in rest)
    elif kind == 4:
        facts["engine_id_format"] = f"text '{printable(rest, 32)}'"
    elif kind >= 128:
        facts["engine_id_format"] = "enterprise-specific"
    return facts


def _describe(found: Findings, answer: Answer) -> None:
    found.protocol = "snmp"
    found.details[ANSWER] = "Report"
    found.details["engine_id"] = answer.engine_id.hex()
    found.details.update(engine_id_facts(answer.engine_id))
    found.details["engine_boots"] = str(answer.boots)
    found.details["engine_time"] = f"{answer.time} s"
    if answer.oids:
        found.details["report"] = ", ".join(
            f"{_REPORTS[oid]} ({oid})" if oid in _REPORTS else oid for oid in answer.oids
        )
    if answer.boots == _MAX_BOOTS:
        found.warnings.append(
            "engine boots is at its maximum: the agent refuses authenticated SNMPv3 until it "
            "is given new keys (RFC 3414 section 2.2.2)"
        )


@dataclass(slots=True)
class _Asked:
    """What the exchange has sent: every message, the SNMPv3 msgIDs and the SNMPv2c
    request-ids (these with ``community`` only)."""

    community: bytes | None
    messages: set[bytes] = field(default_factory=set)
    msg_ids: set[int] = field(default_factory=set)
    request_ids: set[int] = field(default_factory=set)


def _shown(item: bytes, asked: _Asked) -> str:
    """The start of an answer that does not identify, quoted; never the community, nor a
    part of it (see :func:`._snmp_v2c.holds`)."""
    if asked.community is not None and v2c.holds(item, asked.community):
        return v2c.NOT_SHOWN
    return f"'{printable(item, 32)}'"


def _describe_v2c(found: Findings, message: v2c.Message, community: bytes) -> None:
    found.protocol = "snmp"
    found.details[ANSWER] = "Response"
    found.details["version"] = "SNMPv2c"
    if message.error_status:
        name = v2c.ERRORS.get(message.error_status, str(message.error_status))
        found.details["error_status"] = f"{name} (error-index {message.error_index})"
        found.warnings.append(
            f"the agent answered the SNMPv2c GetRequest with error-status {name}: SNMPv2c "
            "answers with this community, but it gave neither sysDescr.0 nor sysObjectID.0"
        )
        return
    values = dict(message.bindings)
    for oid, key, name in (
        (v2c.SYS_DESCR, "sys_descr", "sysDescr.0"),
        (v2c.SYS_OBJECT_ID, "sys_object_id", "sysObjectID.0"),
    ):
        value = values.get(oid)
        expected = ber.OCTET_STRING if key == "sys_descr" else ber.OBJECT_IDENTIFIER
        if value is None:
            found.warnings.append(f"the agent's Response holds no {name}")
        elif value.tag in v2c.EXCEPTIONS:
            found.warnings.append(
                f"{name} is {v2c.EXCEPTIONS[value.tag]}: SNMPv2c answers with this community, "
                "but its view of the MIB does not hold it"
            )
        elif value.tag != expected:
            found.warnings.append(f"{name} has the wrong type (BER tag {value.tag:#04x})")
        elif key == "sys_descr" and community in value.value:  # before its lines are joined
            found.details[key] = v2c.NOT_SHOWN
        elif key == "sys_descr":  # vendor text: its lines on one, cut short
            found.details[key] = printable(b" ".join(value.value.split()), _SYS_DESCR)
        else:
            try:
                found.details[key] = ber.decode_oid(value.value)
            except NotThisProtocol as exc:
                found.warnings.append(f"{name} is not a valid OBJECT IDENTIFIER: {exc}")


def _judge_v2c(found: Findings, item: bytes, asked: _Asked, community: bytes) -> bool:
    """Whether the SNMPv2c message ``item`` is the Response that identifies the agent."""
    try:
        message = v2c.parse_message(item, community)
    except NotThisProtocol as exc:
        found.details[ANSWER] = "SNMPv2c message"
        raise NotThisProtocol(f"a malformed SNMPv2c message: {exc}") from exc
    if message.request_id not in asked.request_ids:
        found.details["ignored"] = (
            f"an SNMPv2c message with another request-id ({message.request_id})"
        )
        return False
    if message.pdu != v2c.RESPONSE:
        kind = _PDUS.get(message.pdu)
        found.details[ANSWER] = f"SNMPv2c {kind or f'PDU {message.pdu:#04x}'}"
        raise NotThisProtocol(
            f"SNMPv2c answered the GetRequest with {kind or 'an unknown PDU'}, not a Response"
        )
    if not message.same_community:
        found.details[ANSWER] = "SNMPv2c Response"
        raise NotThisProtocol(
            "an SNMPv2c Response to the GetRequest under another community than the request's"
        )
    _describe_v2c(found, message, community)
    return True


def _judge(found: Findings, item: bytes, asked: _Asked) -> bool:
    """Whether ``item`` is the Report (or, with a community, the SNMPv2c Response) that
    identifies the agent (``False``: an answer to another message, ignored);
    ``NotThisProtocol`` when it is an answer that does not."""
    if item in asked.messages:  # it would read as a GetRequest with our msgID or request-id
        found.details[ANSWER] = f"{len(item)} bytes"
        raise NotThisProtocol(
            f"not SNMP: our own message sent back (an echo service?): {_shown(item, asked)}"
        )
    try:
        answer = parse_answer(item)
    except NotThisProtocol as exc:
        found.details[ANSWER] = f"{len(item)} bytes"
        raise NotThisProtocol(f"not SNMP ({exc}): {_shown(item, asked)}") from exc
    if answer == "SNMPv2c" and asked.community is not None:
        return _judge_v2c(found, item, asked, asked.community)
    if isinstance(answer, str):  # its community is a secret: never shown
        found.details[ANSWER] = f"{answer} message"
        asked_for = "the SNMPv2c GetRequest or " if asked.community is not None else ""
        raise NotThisProtocol(
            f"an {answer} message, not an SNMPv3 answer to {asked_for}engine-ID discovery"
        )
    if answer.msg_id not in asked.msg_ids:
        found.details["ignored"] = f"an SNMPv3 message with another msgID ({answer.msg_id})"
        return False
    if answer.pdu != _REPORT:
        kind = "an encrypted scopedPDU" if answer.pdu is None else _PDUS.get(answer.pdu)
        found.details[ANSWER] = f"SNMPv3 {kind or f'PDU {answer.pdu:#04x}'}"
        raise NotThisProtocol(
            f"SNMPv3 answered engine-ID discovery with {kind or 'an unknown PDU'}, not a Report"
        )
    if not answer.engine_id:  # RFC 3414 4: the Report names the agent's engine; ours, none
        found.details[ANSWER] = "SNMPv3 Report"
        raise NotThisProtocol(
            "an SNMPv3 Report without the agent's engine ID, which a Report to engine-ID "
            "discovery carries: our own message sent back changed?"
        )
    _describe(found, answer)
    if asked.community is not None:
        found.details["community"] = "not checked: the SNMPv3 Report came first"
    return True


def _random_id(taken: set[int]) -> int:
    """A random msgID or request-id (0 to 2**31 - 1) not among ``taken``."""
    while (number := int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF) in taken:
        pass
    return number


async def _ask(ctx: ProbeContext, found: Findings, community: bytes | None) -> None:
    asked = _Asked(community)

    def request() -> bytes | tuple[bytes, ...]:  # a second try is new messages, with new ids
        msg_id = _random_id(asked.msg_ids)
        asked.msg_ids.add(msg_id)
        sent = [discovery(msg_id, _random_id(set()))]
        if community is not None:
            request_id = _random_id(asked.request_ids)
            asked.request_ids.add(request_id)
            sent.insert(0, v2c.get_request(community, request_id))
        asked.messages.update(sent)
        return tuple(sent)

    await ask(ctx, request, lambda item: _judge(found, item, asked))


async def identify_snmp(ctx: ProbeContext) -> Identification:
    """SNMPv3 engine-ID discovery, and with a community an SNMPv2c GetRequest beside it; the
    agent's Report must carry the discovery's msgID, its Response the GetRequest's request-id
    and community."""
    community = ctx.secrets.get("snmp") or None

    async def talk(found: Findings) -> None:
        found.step = (
            "answer to SNMPv3 engine-ID discovery"
            if community is None
            else "answer to SNMPv3 engine-ID discovery or to the SNMPv2c GetRequest"
        )
        await _ask(ctx, found, community)

    if community is None:
        return await run_exchange("snmp", ctx, talk, silence=SILENCE)
    found = await run_exchange("snmp", ctx, talk, silence=SILENCE_WITH_COMMUNITY)
    return v2c.conceal(found, community)
