"""RADIUS (RFC 2865): a Status-Server (RFC 5997) that only the right shared secret gets answered.

The request (code 12) carries a Message-Authenticator, HMAC-MD5 over the whole packet keyed
with the shared secret (RFC 3579 section 3.2), as RFC 5997 section 3 requires.  The server
answers on an authentication port with Access-Accept, on an accounting port with
Accounting-Response.  The answer counts only when its Response Authenticator (RFC 2865
section 3: MD5 over the answer with the request's authenticator in place, then the secret)
and, when present, its Message-Authenticator verify with the same secret: that proves RADIUS
and the secret together.

A server silently discards a Status-Server whose Message-Authenticator is wrong, so a wrong
secret usually looks like silence, which over UDP is also what a filtered port looks like.

The secret comes from ``ctx.secrets["radius"]``, which the caller reads from a file or the
environment: a secret on a command line is visible to every user of the machine.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from portplan.probe.identify._datagram import ask
from portplan.probe.identify._exchange import Findings, NotThisProtocol, printable, run_exchange
from portplan.probe.identify.base import ANSWER, Identification, ProbeContext

__all__ = [
    "NEED_SECRET",
    "WRONG_SECRET",
    "identify_radius",
    "response_authenticator",
    "status_server",
    "verify_answer",
]

NEED_SECRET = (
    "Status-Server needs the RADIUS shared secret (secrets['radius']); give it in a file or "
    "the environment, never on the command line"
)
WRONG_SECRET = "wrong shared secret or not RADIUS"
SILENCE = (
    "no answer (open|filtered): the port may be filtered, or a RADIUS server discarded the "
    "request because the shared secret is wrong or this address is not one of its clients"
)

_ACCESS_ACCEPT, _ACCESS_REJECT, _ACCOUNTING_RESPONSE, _STATUS_SERVER = 2, 3, 5, 12
_CODES = {
    1: "Access-Request",
    2: "Access-Accept",
    3: "Access-Reject",
    4: "Accounting-Request",
    5: "Accounting-Response",
    11: "Access-Challenge",
    12: "Status-Server",
}
_REPLY_MESSAGE, _MESSAGE_AUTHENTICATOR = 18, 80
_HEADER = struct.Struct(">BBH16s")  # Code, Identifier, Length, Authenticator
_MAX_PACKET = 4096  # RFC 2865 section 3


def _hmac_md5(secret: bytes, data: bytes) -> bytes:
    return hmac.new(secret, data, hashlib.md5).digest()


def status_server(identifier: int, authenticator: bytes, secret: bytes) -> bytes:
    """A Status-Server packet whose only attribute is its Message-Authenticator."""
    attribute = bytes((_MESSAGE_AUTHENTICATOR, 18)) + bytes(16)
    packet = _HEADER.pack(_STATUS_SERVER, identifier, 20 + len(attribute), authenticator)
    packet += attribute
    return packet[:-16] + _hmac_md5(secret, packet)


def response_authenticator(answer: bytes, request_authenticator: bytes, secret: bytes) -> bytes:
    """MD5(Code + Identifier + Length + RequestAuth + Attributes + Secret), RFC 2865 section 3."""
    return hashlib.md5(answer[:4] + request_authenticator + answer[20:] + secret).digest()


def _attributes(packet: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, type, value) of each attribute; ``ValueError`` if they do not tile the packet."""
    found = []
    offset = 20
    while offset < len(packet):
        if offset + 2 > len(packet) or packet[offset + 1] < 2:
            raise ValueError("attributes that do not fill the packet")
        kind, length = packet[offset], packet[offset + 1]
        if offset + length > len(packet):
            raise ValueError("an attribute longer than the packet")
        found.append((offset, kind, packet[offset + 2 : offset + length]))
        offset += length
    return found


def verify_answer(answer: bytes, request_authenticator: bytes, secret: bytes) -> str | None:
    """Why ``answer`` is not a genuine reply to the request, or ``None`` when it is."""
    if len(answer) < 20:
        return f"a {len(answer)}-byte answer, shorter than a RADIUS header"
    _code, _ident, length, authenticator = _HEADER.unpack_from(answer)
    if not 20 <= length <= len(answer):
        return f"a Length field of {length} for a {len(answer)}-byte answer"
    packet = answer[:length]
    try:
        attributes = _attributes(packet)
    except ValueError as exc:
        return str(exc)
    expected = response_authenticator(packet, request_authenticator, secret)
    if not hmac.compare_digest(authenticator, expected):
        return "the Response Authenticator does not verify"
    for offset, kind, value in attributes:
        if kind == _MESSAGE_AUTHENTICATOR:
            # RFC 3579 3.2: over the answer with the request's authenticator in place and
            # the attribute's own value zeroed
            unsigned = (
                packet[:4]
                + request_authenticator
                + packet[20 : offset + 2]
                + bytes(16)
                + packet[offset + 18 :]
            )
            if len(value) != 16 or not hmac.compare_digest(value, _hmac_md5(secret, unsigned)):
                return "the Message-Authenticator does not verify"
    return None


def _describe(found: Findings, packet: bytes) -> None:
    code = packet[0]
    found.details[ANSWER] = _CODES.get(code, f"code {code}")
    attributes = _attributes(packet[: _HEADER.unpack_from(packet)[2]])
    messages = [
        v.decode("utf-8", errors="replace") for _o, k, v in attributes if k == _REPLY_MESSAGE
    ]
    if messages:
        found.details["reply_message"] = " ".join(messages)
    if any(k == _MESSAGE_AUTHENTICATOR for _o, k, _v in attributes):
        found.details["verified"] = "Response Authenticator, Message-Authenticator"
    else:
        found.details["verified"] = "Response Authenticator"
        found.warnings.append(
            "the answer carries no Message-Authenticator (see BlastRADIUS, CVE-2024-3596)"
        )
    if code == _ACCESS_REJECT:
        found.warnings.append("the server answered Status-Server with Access-Reject")
    elif code not in (_ACCESS_ACCEPT, _ACCOUNTING_RESPONSE):
        found.warnings.append(f"an unexpected answer to Status-Server: {_CODES.get(code, code)}")


async def _status_server(ctx: ProbeContext, secret: bytes, found: Findings) -> None:
    sent: dict[int, bytes] = {}  # identifier -> request authenticator
    requests: set[bytes] = set()

    def request() -> bytes:
        # RFC 5997: Status-Server is never retransmitted; a second try is a new packet
        identifier = next(i for i in os.urandom(64) if i not in sent)
        sent[identifier] = os.urandom(16)
        packet = status_server(identifier, sent[identifier], secret)
        requests.add(packet)
        return packet

    def judge(item: bytes) -> bool:
        if item in requests:  # it would read as an answer signed with another secret
            found.details[ANSWER] = f"{len(item)} bytes"
            raise NotThisProtocol(
                f"not RADIUS: our own Status-Server sent back (an echo service?): "
                f"'{printable(item, 32)}'"
            )
        if len(item) < 20:
            found.details[ANSWER] = f"{len(item)} bytes"
            raise NotThisProtocol(f"not RADIUS: '{printable(item, 32)}'")
        if item[1] not in sent:
            found.details["ignored"] = f"an answer to another request: '{printable(item, 32)}'"
            return False
        why = verify_answer(item, sent[item[1]], secret)
        if why is not None:
            found.details[ANSWER] = _CODES.get(item[0], f"code {item[0]}")
            raise NotThisProtocol(f"{WRONG_SECRET}: {why}")
        found.protocol = "radius"
        _describe(found, item)
        return True

    await ask(ctx, request, judge)


async def identify_radius(ctx: ProbeContext) -> Identification:
    """Status-Server with the shared secret; the answer must verify with it."""
    secret = ctx.secrets.get("radius")
    if not secret:
        return Identification(expected="radius", protocol=None, error=NEED_SECRET)

    async def talk(found: Findings) -> None:
        found.step = "answer to Status-Server"
        await _status_server(ctx, secret, found)

    # an OSError of the local socket itself (no route, address not available...) is reported
    # by run_exchange as "<type> waiting for <step>: <message>"
    return await run_exchange("radius", ctx, talk, silence=SILENCE)
