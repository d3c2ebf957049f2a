"""LDAP and LDAPS (RFC 4511): read the rootDSE anonymously.

One SearchRequest for the root DSE (base "", scope baseObject, filter ``(objectClass=*)``) sent
without a bind, which RFC 4511 section 4.2 allows and directory servers (Active Directory,
OpenLDAP) answer with the rootDSE's public attributes.  Any well-formed LDAP answer to it, even
an error result, proves LDAP; the attributes say what the directory is.  LDAPS is the same
exchange inside TLS from the first byte; the TLS facts come from :mod:`.tls`.

The Global Catalog ports of Active Directory (3268, and 3269 over TLS) speak the same LDAP;
only a domain controller that holds the Global Catalog listens there, and its rootDSE says
``isGlobalCatalogReady: TRUE``.  ``ldap-gc`` and ``ldaps-gc`` therefore identify ``ldap-gc``
(``ldaps-gc``) only when that attribute is TRUE, and plain ``ldap`` (``ldaps``), a mismatch,
for any other directory.
"""

from __future__ import annotations

import asyncio
import contextlib

from portplan.probe.identify import _ber as ber
from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    Stream,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext
from portplan.probe.identify.tls import open_tls

__all__ = [
    "ROOT_DSE_ATTRIBUTES",
    "identify_ldap",
    "identify_ldap_gc",
    "identify_ldaps",
    "identify_ldaps_gc",
    "search_request",
]

#: rootDSE attributes asked for, and the details key each is reported under
ROOT_DSE_ATTRIBUTES = {
    "namingContexts": "naming_contexts",
    "supportedLDAPVersion": "supported_ldap_version",
    "vendorName": "vendor_name",
    "vendorVersion": "vendor_version",
    "isGlobalCatalogReady": "is_global_catalog_ready",
    "dnsHostName": "dns_host_name",
}

#: a rootDSE is a few kilobytes, even where a server sends every attribute rather than the six
#: asked for: an answer to the search larger than this, all its messages together, is refused
#: before it is decoded (decoding takes CPU time that no time limit interrupts and that no
#: other probe of the run gets)
MAX_ANSWER = 1 << 16
#: answers read for the one search at most (entry, references, done)
MAX_MESSAGES = 16
_MESSAGE_ID = 1

# RFC 4511 section 4.2 and following: the application tags of the operations used here.
_UNBIND_REQUEST = 0x42  # [APPLICATION 2] NULL, primitive
_SEARCH_REQUEST = 0x63  # [APPLICATION 3] SEQUENCE
_SEARCH_RESULT_ENTRY = 0x64  # [APPLICATION 4]
_SEARCH_RESULT_DONE = 0x65  # [APPLICATION 5]
_SEARCH_RESULT_REFERENCE = 0x73  # [APPLICATION 19]
_EXTENDED_RESPONSE = 0x78  # [APPLICATION 24]: message id 0 is a Notice of Disconnection
_SEARCH_ANSWERS = (_SEARCH_RESULT_ENTRY, _SEARCH_RESULT_DONE, _SEARCH_RESULT_REFERENCE)
_FILTER_PRESENT = 0x87  # Filter CHOICE present [7] AttributeDescription, primitive

_RESULT_CODES = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    3: "timeLimitExceeded",
    4: "sizeLimitExceeded",
    8: "strongerAuthRequired",
    13: "confidentialityRequired",
    32: "noSuchObject",
    48: "inappropriateAuthentication",
    49: "invalidCredentials",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


def search_request(message_id: int, time_limit: int = 0) -> bytes:
    """The LDAPMessage carrying the rootDSE SearchRequest (RFC 4511 section 4.5.1)."""
    attributes = b"".join(ber.encode(ber.OCTET_STRING, a.encode()) for a in ROOT_DSE_ATTRIBUTES)
    search = ber.encode(
        _SEARCH_REQUEST,
        ber.encode(ber.OCTET_STRING, b"")  # baseObject: the root DSE
        + ber.encode_integer(0, ber.ENUMERATED)  # scope: baseObject
        + ber.encode_integer(0, ber.ENUMERATED)  # derefAliases: neverDerefAliases
        + ber.encode_integer(0)  # sizeLimit: none
        + ber.encode_integer(time_limit)  # timeLimit in seconds
        + ber.encode(ber.BOOLEAN, b"\x00")  # typesOnly: FALSE
        + ber.encode(_FILTER_PRESENT, b"objectClass")
        + ber.encode(ber.SEQUENCE, attributes),
    )
    return ber.encode(ber.SEQUENCE, ber.encode_integer(message_id) + search)


def _unbind_request(message_id: int) -> bytes:
    return ber.encode(ber.SEQUENCE, ber.encode_integer(message_id) + bytes((_UNBIND_REQUEST, 0)))


async def _read_message(reader: asyncio.StreamReader, room: int) -> bytes:
    """One whole LDAPMessage (a BER SEQUENCE) from the stream, of at most ``room`` bytes."""
    head = await reader.readexactly(2)
    count = head[1] & 0x7F if head[1] & 0x80 else 0
    if head[0] != ber.SEQUENCE or head[1] == 0x80 or count > 4:
        with contextlib.suppress(TimeoutError, OSError):  # what else came, for the message
            head += await asyncio.wait_for(reader.read(30), 0.05)
        raise NotThisProtocol(f"the answer is not LDAP: '{printable(head, 32)}'")
    extra = await reader.readexactly(count)
    length = int.from_bytes(extra, "big") if count else head[1]
    if len(head) + count + length > room:
        raise NotThisProtocol(
            f"an LDAP answer of more than {MAX_ANSWER} bytes, more than a rootDSE can be"
        )
    return head + extra + await reader.readexactly(length)


def _parse_message(raw: bytes, *, known: bool) -> tuple[int, ber.Tlv]:
    """messageID and protocolOp of an LDAPMessage."""
    try:
        message, _end = ber.decode(raw)
        parts = ber.children(message)
        if len(parts) < 2 or parts[0].tag != ber.INTEGER:
            raise NotThisProtocol("an LDAPMessage without messageID and protocolOp")
        return ber.decode_integer(parts[0].value), parts[1]
    except NotThisProtocol as exc:
        if known:
            raise NotThisProtocol(f"a malformed LDAP answer: {exc}") from exc
        raise NotThisProtocol(f"the answer is not LDAP: '{printable(raw, 32)}'") from exc


def _result(operation: ber.Tlv) -> tuple[int, str]:
    """resultCode and diagnosticMessage of an LDAPResult."""
    parts = ber.children(operation)
    if len(parts) < 3 or parts[0].tag != ber.ENUMERATED:
        raise NotThisProtocol("an LDAPResult without resultCode, matchedDN and diagnosticMessage")
    return ber.decode_integer(parts[0].value), parts[2].value.decode("utf-8", errors="replace")


def _entry_attributes(operation: ber.Tlv) -> dict[str, list[str]]:
    """attribute type (lower case) -> values, from a SearchResultEntry."""
    parts = ber.children(operation)
    if len(parts) < 2 or parts[1].tag != ber.SEQUENCE:
        raise NotThisProtocol("a SearchResultEntry without its attribute list")
    attributes: dict[str, list[str]] = {}
    for attribute in ber.children(parts[1]):
        pair = ber.children(attribute)
        if len(pair) < 2:
            raise NotThisProtocol("a PartialAttribute without type and values")
        kind, values = pair[0], pair[1]
        attributes[kind.value.decode("utf-8", errors="replace").lower()] = [
            v.value.decode("utf-8", errors="replace") for v in ber.children(values)
        ]
    return attributes


async def _root_dse(
    found: Findings, stream: Stream, name: str, time_limit: int
) -> dict[str, list[str]]:
    """Send the search and read up to SearchResultDone; the first LDAP answer proves ``name``."""
    message_id = _MESSAGE_ID
    found.step = "answer to the rootDSE search"
    await stream.send(search_request(message_id, time_limit))
    proved = False
    attributes: dict[str, list[str]] = {}
    room = MAX_ANSWER
    for _ in range(MAX_MESSAGES):
        raw = await _read_message(stream.reader, room)
        room -= len(raw)
        answered_id, operation = _parse_message(raw, known=proved)
        if answered_id == 0 and operation.tag == _EXTENDED_RESPONSE:
            code, text = _result(operation)
            found.protocol = name  # a well-formed Notice of Disconnection is LDAP too
            meaning = f"{_RESULT_CODES.get(code, 'unknown')} ({code})" + (
                f": {text}" if text else ""
            )
            raise NotThisProtocol(f"the server sent a Notice of Disconnection: {meaning}")
        if answered_id != message_id:
            raise NotThisProtocol(f"an LDAP answer to message {answered_id}, not {message_id}")
        if operation.tag not in _SEARCH_ANSWERS:
            raise NotThisProtocol(f"an LDAP answer with operation tag {operation.tag:#04x}")
        proved = True
        found.protocol = name
        if operation.tag == _SEARCH_RESULT_ENTRY:
            attributes.update(_entry_attributes(operation))
        elif operation.tag == _SEARCH_RESULT_DONE:
            code, text = _result(operation)
            meaning = _RESULT_CODES.get(code, "unknown")
            found.details["result"] = f"{meaning} ({code})" + (f": {text}" if text else "")
            if code != 0:
                found.warnings.append(f"the rootDSE search was refused: {meaning} ({code})")
            return attributes
        found.step = "SearchResultDone"
    raise NotThisProtocol(f"no SearchResultDone within {MAX_MESSAGES} answers")


def _report(
    found: Findings, attributes: dict[str, list[str]], name: str, *, global_catalog: bool
) -> None:
    for attribute, key in ROOT_DSE_ATTRIBUTES.items():
        values = attributes.get(attribute.lower())
        if values:
            found.details[key] = "; ".join(values)
    if not global_catalog:
        return
    gc_values = [v.upper() for v in attributes.get("isglobalcatalogready", [])]
    ready = "TRUE" in gc_values
    found.details["global_catalog_ready"] = (
        "true" if ready else "false" if gc_values else "not advertised"
    )
    if ready:
        found.protocol = f"{name}-gc"
    else:
        found.warnings.append(
            "LDAP answered, but its rootDSE does not say isGlobalCatalogReady: TRUE, "
            "so this is not a Global Catalog"
        )


async def _exchange(
    expected: str, ctx: ProbeContext, *, tls: bool, global_catalog: bool
) -> Identification:
    name = "ldaps" if tls else "ldap"
    time_limit = max(1, int(ctx.timeout))

    async def search(found: Findings, stream: Stream) -> None:
        attributes = await _root_dse(found, stream, name, time_limit)
        _report(found, attributes, name, global_catalog=global_catalog)
        found.complete = True  # the unbind is a courtesy
        await stream.send(_unbind_request(_MESSAGE_ID + 1))

    async def talk(found: Findings) -> None:
        if tls:
            async with open_tls(ctx, found) as stream:
                await search(found, stream)
        else:
            async with connect(ctx) as stream:
                await search(found, stream)

    return await run_exchange(expected, ctx, talk)


async def identify_ldap(ctx: ProbeContext) -> Identification:
    """LDAP in the clear (port 389): the rootDSE."""
    return await _exchange("ldap", ctx, tls=False, global_catalog=False)


async def identify_ldaps(ctx: ProbeContext) -> Identification:
    """LDAP over TLS from the first byte (port 636): the certificate and the rootDSE."""
    return await _exchange("ldaps", ctx, tls=True, global_catalog=False)


async def identify_ldap_gc(ctx: ProbeContext) -> Identification:
    """Active Directory's Global Catalog in the clear (port 3268)."""
    return await _exchange("ldap-gc", ctx, tls=False, global_catalog=True)


async def identify_ldaps_gc(ctx: ProbeContext) -> Identification:
    """Active Directory's Global Catalog over TLS (port 3269)."""
    return await _exchange("ldaps-gc", ctx, tls=True, global_catalog=True)
