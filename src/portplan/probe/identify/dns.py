"""DNS (RFC 1035): a standard query for the root zone's SOA, recursion not desired.

The query (opcode QUERY, RD=0, one question: ``.`` SOA IN, a random 16-bit id) asks a server
for nothing it must fetch: with RD=0 a resolver answers from what it holds or not at all, and
never sends a query on our behalf.  It goes in a datagram of its own to a UDP port (a second
try, with a new id, after a third of the time) and over the probe's own connection to a TCP
port, behind the two-byte length of RFC 1035 section 4.2.2 (RFC 7766).

What counts is a response (QR=1) to that query: the id of a query sent, opcode QUERY, and the
question echoed.  RFC 1035 does not oblige a server to echo the question in an error, and some
leave it out of a FORMERR or NOTIMP: a response whose RCODE is an error may carry no question
(the id and flags alone then match it to the query; the details say so), a NOERROR response
must echo it.  Any RCODE proves a DNS server: REFUSED and SERVFAIL are DNS too.

Over UDP a datagram with another id is ignored while the answer may still come (a stray
answer never identifies); when only such datagrams came, the port answered, not in DNS.
"""

from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import dataclass

from portplan.probe.identify._datagram import ask
from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import ANSWER, Identification, ProbeContext

__all__ = ["SILENCE", "TCP_SILENCE", "Response", "identify_dns", "query", "read_response"]

SILENCE = (
    "no answer (open|filtered): the port may be filtered, or a DNS server ignored the query: "
    "servers drop queries from sources they do not serve without a word (BIND's blackhole, "
    "Unbound's access-control deny, dnsmasq's --local-service) and some under response rate "
    "limiting"
)
TCP_SILENCE = (
    "no answer to the DNS query: a DNS server answers every query it reads over TCP "
    "(RFC 7766), so this service may speak another protocol"
)

_HEADER = struct.Struct(">HHHHHH")  # ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT
_SOA, _IN = 6, 1
#: the one question: the root name (a zero-length label), type SOA, class IN
QUESTION = b"\x00" + struct.pack(">HH", _SOA, _IN)
_QR, _AA, _TC, _RA = 0x8000, 0x0400, 0x0200, 0x0080
_RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}
_REFUSED = 5
_MAX_NAME = 255  # RFC 1035 section 3.1, in bytes on the wire


def query(ident: int) -> bytes:
    """The standard query with id ``ident``: every flag clear (RD=0), the root's SOA asked."""
    return _HEADER.pack(ident, 0, 1, 0, 0, 0) + QUESTION


@dataclass(frozen=True, slots=True)
class Response:
    """What the header of a response to :func:`query` says."""

    flags: int
    question: bool  #: the question was echoed (it may be left out of an error)
    answers: int
    authority: int
    additional: int

    @property
    def rcode(self) -> str:
        code = self.flags & 0xF
        return _RCODES.get(code, f"RCODE {code}")


def _skip_name(message: bytes, offset: int) -> int:
    """Where the name at ``offset`` ends; a compression pointer ends it (it is not followed)."""
    length = 0
    while True:
        if offset >= len(message):
            raise ValueError("a name that runs past the end of the message")
        label = message[offset]
        if label & 0xC0 == 0xC0:
            if offset + 2 > len(message):
                raise ValueError("a name that runs past the end of the message")
            return offset + 2
        if label & 0xC0:
            raise ValueError(f"a label of unknown type {label >> 6:#x}")
        length += label + 1
        if length > _MAX_NAME:
            raise ValueError(f"a name longer than {_MAX_NAME} bytes")
        offset += label + 1
        if label == 0:
            return offset


def read_response(message: bytes, ident: int) -> Response:
    """``message`` as the response to :func:`query` (``ident``); ``ValueError`` saying why it
    is not one."""
    if len(message) < _HEADER.size:
        raise ValueError(f"a {len(message)}-byte answer, shorter than a DNS header")
    got, flags, questions, answers, authority, additional = _HEADER.unpack_from(message)
    if got != ident:
        raise ValueError(f"an answer with id {got}, not the query's {ident}")
    if not flags & _QR:
        raise ValueError("the answer is a query (QR=0), not a response: our own query echoed?")
    if (opcode := flags >> 11 & 0xF) != 0:
        raise ValueError(f"a response with opcode {opcode} to a standard query (opcode 0)")
    response = Response(flags, questions == 1, answers, authority, additional)
    if questions == 0 and response.rcode == "NOERROR":
        raise ValueError("a NOERROR response that does not echo the question")
    if questions > 1:
        raise ValueError(f"a response with {questions} questions to a query of one")
    end = _HEADER.size
    if questions:
        end += len(QUESTION)
        if message[_HEADER.size : end] != QUESTION:
            raise ValueError("a response to another question than the query's (. SOA IN)")
    for number in range(answers + authority + additional):
        try:
            end = _skip_name(message, end) + 10  # TYPE, CLASS, TTL, RDLENGTH
            if end > len(message):
                raise ValueError("a record that runs past the end of the message")
            end += struct.unpack_from(">H", message, end - 2)[0]
            if end > len(message):
                raise ValueError("record data that runs past the end of the message")
        except ValueError as exc:
            if flags & _TC:  # truncated (over UDP): the records that did not fit are left out
                break
            total = answers + authority + additional
            raise ValueError(f"record {number + 1} of {total}: {exc}") from None
    return response


def _describe(found: Findings, response: Response) -> None:
    found.protocol = "dns"
    found.details["rcode"] = response.rcode
    found.details["authoritative"] = "yes" if response.flags & _AA else "no"
    found.details["recursion_available"] = "yes" if response.flags & _RA else "no"
    found.details["records"] = (
        f"{response.answers} answer, {response.authority} authority, "
        f"{response.additional} additional"
    )
    if response.flags & _TC:
        found.details["truncated"] = "yes"
    if not response.question:
        found.details["question"] = "not echoed (the id and flags match the query)"
    if response.flags & 0xF == _REFUSED:
        found.warnings.append(
            "the server refused the query for the root (REFUSED): it is reachable, but whether "
            "it serves this source was not checked (an authoritative-only server refuses names "
            "outside its zones, a resolver sources outside its access list)"
        )


def _not_dns(found: Findings, answer: bytes, why: str) -> NotThisProtocol:
    found.details[ANSWER] = f"{len(answer)} bytes"
    return NotThisProtocol(f"not DNS: {why}: '{printable(answer, 32)}'")


def _new_id(used: set[int]) -> int:
    """A random 16-bit id not in ``used``."""
    while True:
        ident = int.from_bytes(os.urandom(2), "big")
        if ident not in used:
            return ident


async def _over_udp(ctx: ProbeContext, found: Findings) -> None:
    sent: set[int] = set()
    strays: list[bytes] = []

    def request() -> bytes:
        ident = _new_id(sent)
        sent.add(ident)
        return query(ident)

    def judge(item: bytes) -> bool:
        if len(item) < 2 or int.from_bytes(item[:2], "big") not in sent:
            strays.append(item)  # a stray answer, or not DNS: wait for the answer
            found.details["ignored"] = f"no id of a query sent: '{printable(item, 32)}'"
            return False
        try:
            response = read_response(item, int.from_bytes(item[:2], "big"))
        except ValueError as exc:
            raise _not_dns(found, item, str(exc)) from None
        _describe(found, response)
        return True

    def unanswered() -> None:
        # within run_exchange's own time, so that datagrams that came and were not DNS are
        # reported as such rather than as silence
        if strays:
            raise _not_dns(found, strays[0], "no answer to the query came back")

    await ask(ctx, request, judge, unanswered=unanswered)


async def _read_message(reader: asyncio.StreamReader, window: float) -> tuple[bytes, bool]:
    """What came within ``window`` seconds, up to one length-prefixed message; whether it is
    complete."""
    data = b""
    try:
        async with asyncio.timeout(window):
            while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                chunk = await reader.read(65537 - len(data))
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        if not data:
            raise
    complete = len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2], "big")
    return data, complete


async def _over_tcp(ctx: ProbeContext, found: Findings) -> None:
    async with connect(ctx) as stream:
        ident = _new_id(set())
        message = query(ident)
        await stream.send(len(message).to_bytes(2, "big") + message)
        try:
            data, complete = await _read_message(stream.reader, ctx.timeout * 2 / 3)
        except TimeoutError:
            raise NotThisProtocol(TCP_SILENCE) from None
        if not data:
            raise asyncio.IncompleteReadError(b"", 2)  # closed without a word
        if not complete:
            prefixed = len(data) >= 2
            why = "an answer shorter than its length prefix" if prefixed else "a 1-byte answer"
            raise _not_dns(found, data, why)
        answer = data[2 : 2 + int.from_bytes(data[:2], "big")]
        try:
            response = read_response(answer, ident)
        except ValueError as exc:
            raise _not_dns(found, data, str(exc)) from None
        _describe(found, response)
        found.complete = True


async def identify_dns(ctx: ProbeContext) -> Identification:
    """A response to a query for the root's SOA (RD=0): over the probe's TCP connection when
    there is one, else in a datagram."""

    async def talk(found: Findings) -> None:
        found.step = "answer to the DNS query"
        if ctx.connection is None:
            await _over_udp(ctx, found)
        else:
            await _over_tcp(ctx, found)

    return await run_exchange("dns", ctx, talk, silence=SILENCE)
