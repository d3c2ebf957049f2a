"""SNMPv2c (RFC 1901, RFC 3416): a GetRequest under the operator's community for sysDescr.0 and
sysObjectID.0, and the message that comes back.

The community travels in clear text, as in every SNMPv1/v2c message (the product's own poll
sends it the same way); it is a secret all the same: nothing read here holds it, only whether
the answer's community is the request's (:attr:`Message.same_community`).  An answer may hold
it all the same (a peer that sends our request back, whole or cut short, or writes the
community into another field): :func:`holds` and :func:`conceal` keep it from being shown.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from portplan.probe.identify import _ber as ber
from portplan.probe.identify._exchange import NotThisProtocol, printable
from portplan.probe.identify.base import Identification

__all__ = [
    "ERRORS",
    "EXCEPTIONS",
    "NOT_SHOWN",
    "RESPONSE",
    "SYS_DESCR",
    "SYS_OBJECT_ID",
    "Message",
    "conceal",
    "get_request",
    "holds",
    "parse_message",
]

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
#: the two names as X.690 encodes them (the tests decode them back)
_NAMES = (bytes.fromhex("2b06010201010100"), bytes.fromhex("2b06010201010200"))
_VERSION = 1  # RFC 1901: version 1 is SNMPv2c (0 is SNMPv1)
_GET_REQUEST, RESPONSE = 0xA0, 0xA2
_NULL = 0x05
#: what is shown in place of a quote or a detail that holds the community
NOT_SHOWN = "(not shown: it holds the community)"
#: the longest part of the community a quoted answer may hold: a quote cut short, or an
#: answer that is our request cut short, would otherwise show the community's start
_PART = 3
#: what a variable binding holds in place of a value it cannot give (RFC 3416 section 3)
EXCEPTIONS = {0x80: "noSuchObject", 0x81: "noSuchInstance", 0x82: "endOfMibView"}
#: error-status (RFC 3416 section 3)
ERRORS = {
    0: "noError",
    1: "tooBig",
    2: "noSuchName",
    3: "badValue",
    4: "readOnly",
    5: "genErr",
    6: "noAccess",
    7: "wrongType",
    8: "wrongLength",
    9: "wrongEncoding",
    10: "wrongValue",
    11: "noCreation",
    12: "inconsistentValue",
    13: "resourceUnavailable",
    14: "commitFailed",
    15: "undoFailed",
    16: "authorizationError",
    17: "notWritable",
    18: "inconsistentName",
}


def get_request(community: bytes, request_id: int) -> bytes:
    """The GetRequest-PDU for sysDescr.0 and sysObjectID.0 (NULL values) in an SNMPv2c
    message under ``community``."""
    bindings = b"".join(
        ber.encode(ber.SEQUENCE, ber.encode(ber.OBJECT_IDENTIFIER, name) + ber.encode(_NULL, b""))
        for name in _NAMES
    )
    pdu = ber.encode(
        _GET_REQUEST,
        ber.encode_integer(request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + ber.encode(ber.SEQUENCE, bindings),
    )
    return ber.encode(
        ber.SEQUENCE,
        ber.encode_integer(_VERSION) + ber.encode(ber.OCTET_STRING, community) + pdu,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """What an SNMPv2c message says; its community is never kept, only whether it is ours."""

    same_community: bool
    pdu: int
    request_id: int
    error_status: int
    error_index: int
    #: (name, value) of each variable binding, in order
    bindings: tuple[tuple[str, ber.Tlv], ...]


def _parts(item: ber.Tlv, tags: tuple[int, ...], what: str) -> list[ber.Tlv]:
    found = ber.children(item)
    if len(found) != len(tags) or any(p.tag != t for p, t in zip(found, tags, strict=True)):
        raise NotThisProtocol(f"a malformed {what}")
    return found


def parse_message(data: bytes, community: bytes) -> Message:
    """The SNMPv2c message ``data`` (one whose version says SNMPv2c), compared with
    ``community``; ``NotThisProtocol`` where it is malformed (the reason never holds the
    community)."""
    message, end = ber.decode(data)
    if message.tag != ber.SEQUENCE or end != len(data):
        raise NotThisProtocol("not one BER SEQUENCE")
    top = ber.children(message)
    if len(top) != 3 or top[0].tag != ber.INTEGER or top[1].tag != ber.OCTET_STRING:
        raise NotThisProtocol("a malformed SNMPv2c message")
    if ber.decode_integer(top[0].value) != _VERSION:
        raise NotThisProtocol("not an SNMPv2c message")
    fields = _parts(top[2], (ber.INTEGER,) * 3 + (ber.SEQUENCE,), "SNMPv2c PDU")
    bindings = []
    for binding in ber.children(fields[3]):
        found = ber.children(binding)
        if binding.tag != ber.SEQUENCE or len(found) != 2:
            raise NotThisProtocol("a malformed variable binding")
        if found[0].tag != ber.OBJECT_IDENTIFIER:
            raise NotThisProtocol("a variable binding without a name")
        bindings.append((ber.decode_oid(found[0].value), found[1]))
    return Message(
        same_community=hmac.compare_digest(top[1].value, community),
        pdu=top[2].tag,
        request_id=ber.decode_integer(fields[0].value),
        error_status=ber.decode_integer(fields[1].value),
        error_index=ber.decode_integer(fields[2].value),
        bindings=tuple(bindings),
    )


def holds(data: bytes, community: bytes) -> bool:
    """Whether ``data`` holds the community or more than :data:`_PART` bytes of it in a row."""
    size = min(_PART + 1, len(community))
    return any(community[i : i + size] in data for i in range(len(community) - size + 1))


def conceal(found: Identification, community: bytes) -> Identification:
    """``found`` with each detail that shows the community (as :func:`printable` writes it,
    as text or in hex: an engine ID or a sysDescr the peer filled with it) replaced by
    :data:`NOT_SHOWN`."""
    forms = {printable(community, len(community)), community.hex()}
    forms.add(community.decode("utf-8", "backslashreplace"))
    details = {
        key: NOT_SHOWN if any(form in value for form in forms) else value
        for key, value in found.details.items()
    }
    return found if details == found.details else replace(found, details=details)
