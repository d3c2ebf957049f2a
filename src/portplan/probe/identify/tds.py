"""SQL Server's TDS (MS-TDS): one PRELOGIN exchange.

The client's PRELOGIN message (packet type 0x12, MS-TDS 2.2.6.5) carries the options VERSION,
ENCRYPTION, INSTOPT, THREADID and MARS; SQL Server answers with its own PRELOGIN in a tabular
result packet (type 0x04) that states its version (major.minor.build) and its encryption
setting.  Nothing is logged in to and no TLS is started.

A server in TDS 8.0 "strict" mode expects a TLS handshake before any TDS, so it closes on a
PRELOGIN in the clear; the error says so.
"""

from __future__ import annotations

import asyncio
import struct

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = ["ENCRYPTION", "identify_tds", "parse_prelogin", "prelogin_request"]

# MS-TDS 2.2.3.1.1 packet types and 2.2.3.1.2 status
_PRELOGIN = 0x12
_TABULAR_RESULT = 0x04
_END_OF_MESSAGE = 0x01
_HEADER = struct.Struct(">BBHHBB")  # Type, Status, Length, SPID, PacketID, Window

# MS-TDS 2.2.6.5 PL_OPTION_TOKEN values
_VERSION, _ENCRYPTION, _INSTOPT, _THREADID, _MARS = 0x00, 0x01, 0x02, 0x03, 0x04
_TERMINATOR = 0xFF
_OPTION = struct.Struct(">BHH")  # token, offset (from the start of the message), length

#: B_FENCRYPTION values (MS-TDS 2.2.6.5)
ENCRYPTION = {0x00: "off", 0x01: "on", 0x02: "not-supported", 0x03: "required"}
_ENCRYPT_CLIENT_CERT = 0x80

#: packet sizes a PRELOGIN answer fits in (the default negotiated packet size is 4096)
MAX_PACKET = 32767

_PRODUCTS = {
    8: "SQL Server 2000",
    9: "SQL Server 2005",
    10: "SQL Server 2008",
    11: "SQL Server 2012",
    12: "SQL Server 2014",
    13: "SQL Server 2016",
    14: "SQL Server 2017",
    15: "SQL Server 2019",
    16: "SQL Server 2022",
    17: "SQL Server 2025",
}


def prelogin_request() -> bytes:
    """The client PRELOGIN packet (MS-TDS 2.2.6.5), one packet with status end-of-message."""
    options = (
        (_VERSION, bytes(6)),  # UL_VERSION 0.0.0 and US_SUBBUILD 0: no driver to claim
        (_ENCRYPTION, bytes((0x00,))),  # ENCRYPT_OFF: what a client without a preference sends
        (_INSTOPT, b"\x00"),  # no instance name: whatever instance owns the port
        (_THREADID, bytes(4)),
        (_MARS, b"\x00"),  # MARS off
    )
    offset = len(options) * _OPTION.size + 1
    tokens, data = b"", b""
    for token, value in options:
        tokens += _OPTION.pack(token, offset + len(data), len(value))
        data += value
    payload = tokens + bytes((_TERMINATOR,)) + data
    return _HEADER.pack(_PRELOGIN, _END_OF_MESSAGE, _HEADER.size + len(payload), 0, 1, 0) + payload


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    """Option token -> data of a PRELOGIN message; :class:`NotThisProtocol` if it is not one."""
    options: dict[int, bytes] = {}
    offset = 0
    while True:
        if offset >= len(payload):
            raise NotThisProtocol("a PRELOGIN option list without its terminator")
        if payload[offset] == _TERMINATOR:
            return options
        if offset + _OPTION.size > len(payload):
            raise NotThisProtocol("a PRELOGIN option token cut short")
        token, start, length = _OPTION.unpack_from(payload, offset)
        if start + length > len(payload) or token in options:
            raise NotThisProtocol("a PRELOGIN option that points outside the message")
        options[token] = payload[start : start + length]
        offset += _OPTION.size


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """The payload of a tabular-result message, joined from its packets."""
    payload = b""
    while True:
        try:
            header = await reader.readexactly(_HEADER.size)
        except asyncio.IncompleteReadError as exc:
            if exc.partial or payload:
                raise
            raise NotThisProtocol(
                "the peer closed the connection without answering PRELOGIN (not TDS, or a "
                "TDS 8.0 server in strict mode that expects TLS first)"
            ) from exc
        kind, status, length, _spid, _packet, _window = _HEADER.unpack(header)
        if kind != _TABULAR_RESULT or not _HEADER.size <= length <= MAX_PACKET:
            raise NotThisProtocol(f"the answer is not TDS: '{printable(header, 32)}'")
        payload += await reader.readexactly(length - _HEADER.size)
        if status & _END_OF_MESSAGE:
            return payload
        if len(payload) > MAX_PACKET:
            raise NotThisProtocol("a PRELOGIN answer longer than any PRELOGIN")


def _describe(found: Findings, options: dict[int, bytes]) -> None:
    version = options.get(_VERSION, b"")
    if len(version) >= 4:
        major, minor, build = version[0], version[1], struct.unpack_from(">H", version, 2)[0]
        found.details["version"] = f"{major}.{minor}.{build}"
        if len(version) >= 6 and (sub_build := struct.unpack_from(">H", version, 4)[0]):
            found.details["sub_build"] = str(sub_build)
        if major in _PRODUCTS:
            name = _PRODUCTS[major]
            found.details["product"] = f"{name} R2" if (major, minor) == (10, 50) else name
    encryption = options.get(_ENCRYPTION, b"")
    if encryption:
        value = encryption[0]
        setting = ENCRYPTION.get(value & ~_ENCRYPT_CLIENT_CERT, f"{value:#04x}")
        found.details["encryption"] = setting
        if value & _ENCRYPT_CLIENT_CERT:
            found.details["client_certificate"] = "requested"
        if setting == "off":
            found.warnings.append(
                "the server does not force encryption: only the login is encrypted unless the "
                "client asks for more"
            )
        elif setting == "not-supported":
            found.warnings.append(
                "the server does not support encryption: logins and data travel in the clear"
            )
    instance = options.get(_INSTOPT)
    if instance:
        found.details["instance_accepted"] = "yes" if instance[0] == 0 else "no"
    mars = options.get(_MARS)
    if mars:
        found.details["mars"] = "on" if mars[0] else "off"


async def identify_tds(ctx: ProbeContext) -> Identification:
    """PRELOGIN: SQL Server's version and encryption setting."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            found.step = "PRELOGIN answer"
            await stream.send(prelogin_request())
            payload = await _read_message(stream.reader)
            try:
                options = parse_prelogin(payload)
            except NotThisProtocol as exc:
                raise NotThisProtocol(f"the answer is not a TDS PRELOGIN: {exc}") from exc
            if _VERSION not in options:
                raise NotThisProtocol("a TDS answer without the VERSION a PRELOGIN answer has")
            found.protocol = "tds"
            _describe(found, options)
            found.complete = True

    return await run_exchange("tds", ctx, talk)
