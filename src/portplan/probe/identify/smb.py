"""SMB2/3 (MS-SMB2): one NEGOTIATE over Direct TCP transport (port 445).

The request offers dialects 2.0.2, 2.1, 3.0, 3.0.2 and 3.1.1 with the negotiate contexts 3.1.1
requires (MS-SMB2 2.2.3.1: preauthentication integrity, plus encryption capabilities).  The
NEGOTIATE response (2.2.4) names the dialect the server chose, its GUID, whether it requires
signing, its maximum sizes and, for 3.1.1, the cipher it picked.  No session is set up: nothing
here authenticates or touches a share.
"""

from __future__ import annotations

import asyncio
import os
import struct
import uuid
from datetime import UTC, datetime, timedelta

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = ["DIALECTS", "identify_smb", "negotiate_request"]

#: dialect revision -> name, in the order offered (MS-SMB2 2.2.3)
DIALECTS = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}

#: a NEGOTIATE response is a few hundred bytes (its security blob is a SPNEGO hint)
MAX_FRAME = 1 << 16

_PROTOCOL_SMB2 = b"\xfeSMB"
_PROTOCOL_SMB1 = b"\xffSMB"
_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # MS-SMB2 2.2.1.2, SMB2 Packet Header - SYNC
_NEGOTIATE_REQUEST = struct.Struct("<HHHHI16sIHH")  # 2.2.3, up to Dialects[]
_NEGOTIATE_RESPONSE = struct.Struct("<HHHH16sIIIIQQHHI")  # 2.2.4, up to Buffer
_CONTEXT = struct.Struct("<HHI")  # 2.2.3.1: ContextType, DataLength, Reserved

_NEGOTIATE = 0x0000
_FLAGS_SERVER_TO_REDIR = 0x00000001
_SIGNING_ENABLED, _SIGNING_REQUIRED = 0x0001, 0x0002
_PREAUTH_INTEGRITY, _ENCRYPTION, _SIGNING = 0x0001, 0x0002, 0x0008
_SHA_512 = 0x0001
_CIPHERS = {
    0x0001: "AES-128-CCM",
    0x0002: "AES-128-GCM",
    0x0003: "AES-256-CCM",
    0x0004: "AES-256-GCM",
}
_SIGNING_ALGORITHMS = {0x0000: "HMAC-SHA256", 0x0001: "AES-CMAC", 0x0002: "AES-GMAC"}
_CAPABILITIES = {
    0x01: "dfs",
    0x02: "leasing",
    0x04: "large-mtu",
    0x08: "multi-channel",
    0x10: "persistent-handles",
    0x20: "directory-leasing",
    0x40: "encryption",
    0x80: "notifications",
}
_OFFERED_CAPABILITIES = 0x01 | 0x02 | 0x04 | 0x40
_STATUS_NOT_SUPPORTED = 0xC00000BB
_NETBIOS_NEGATIVE_RESPONSE = 0x83
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _pad8(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 8)


def _context(kind: int, data: bytes) -> bytes:
    return _CONTEXT.pack(kind, len(data), 0) + data


def negotiate_request(client_guid: bytes, salt: bytes) -> bytes:
    """An SMB2 NEGOTIATE request for every dialect in :data:`DIALECTS`, framed for port 445."""
    dialects = b"".join(struct.pack("<H", d) for d in DIALECTS)
    contexts = [
        # 2.2.3.1.1: one hash algorithm (SHA-512) and a 32-byte salt
        _context(_PREAUTH_INTEGRITY, struct.pack("<HHH", 1, len(salt), _SHA_512) + salt),
        # 2.2.3.1.2: the ciphers a client would accept, preferred first
        _context(_ENCRYPTION, struct.pack("<5H", 4, 0x0004, 0x0002, 0x0003, 0x0001)),
        # 2.2.3.1.7: signing algorithms, preferred first
        _context(_SIGNING, struct.pack("<4H", 3, 0x0002, 0x0001, 0x0000)),
    ]
    fixed_end = _HEADER.size + _NEGOTIATE_REQUEST.size + len(dialects)
    context_offset = fixed_end + (-fixed_end % 8)  # contexts start 8-byte aligned
    header = _HEADER.pack(
        _PROTOCOL_SMB2,
        64,  # StructureSize
        0,  # CreditCharge
        0,  # Status
        _NEGOTIATE,
        1,  # CreditRequest
        0,  # Flags
        0,  # NextCommand
        0,  # MessageId
        0,  # Reserved (ProcessId)
        0,  # TreeId
        0,  # SessionId
        b"\x00" * 16,  # Signature
    )
    body = _NEGOTIATE_REQUEST.pack(
        36,  # StructureSize
        len(DIALECTS),
        _SIGNING_ENABLED,
        0,  # Reserved
        _OFFERED_CAPABILITIES,
        client_guid,
        context_offset,
        len(contexts),
        0,  # Reserved2
    )
    message = _pad8(header + body + dialects)
    message += b"".join(_pad8(c) for c in contexts[:-1]) + contexts[-1]
    # MS-SMB2 2.1: Direct TCP transport, a zero byte and a 24-bit big-endian length
    return struct.pack(">I", len(message)) + message


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    if head[0] == _NETBIOS_NEGATIVE_RESPONSE:
        raise NotThisProtocol(
            "a NetBIOS session service answered (negative session response): "
            "SMB over NetBIOS, as on port 139, not Direct TCP"
        )
    if head[0] != 0:
        raise NotThisProtocol(f"the answer is not SMB: '{printable(head, 32)}'")
    length = int.from_bytes(head[1:], "big")
    if not 4 <= length <= MAX_FRAME:
        raise NotThisProtocol(f"the answer is not SMB: a frame of {length} bytes")
    frame = await reader.readexactly(length)
    if frame[:4] not in (_PROTOCOL_SMB2, _PROTOCOL_SMB1):
        raise NotThisProtocol(f"the answer is not SMB: '{printable(head + frame, 32)}'")
    return frame


def _filetime(value: int) -> str | None:
    """A FILETIME (100 ns since 1601) as ISO text; ``None`` for zero or a date past 9999."""
    if value == 0:
        return None
    try:
        moment = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    return moment.isoformat(timespec="seconds")


def _parse_contexts(found: Findings, frame: bytes, offset: int, count: int) -> None:
    """Cipher and signing algorithm the server chose (MS-SMB2 2.2.4.1)."""
    for _ in range(count):
        offset += -offset % 8
        if offset + _CONTEXT.size > len(frame):
            raise NotThisProtocol("a negotiate context list that runs past the message")
        kind, length, _reserved = _CONTEXT.unpack_from(frame, offset)
        data = frame[offset + _CONTEXT.size : offset + _CONTEXT.size + length]
        if len(data) != length:
            raise NotThisProtocol("a negotiate context that runs past the message")
        if kind == _ENCRYPTION and length >= 4:
            (cipher,) = struct.unpack_from("<H", data, 2)
            found.details["cipher"] = _CIPHERS.get(cipher, f"{cipher:#06x}")
        elif kind == _SIGNING and length >= 4:
            (algorithm,) = struct.unpack_from("<H", data, 2)
            found.details["signing_algorithm"] = _SIGNING_ALGORITHMS.get(
                algorithm, f"{algorithm:#06x}"
            )
        elif kind == _PREAUTH_INTEGRITY and length >= 6:
            (algorithm,) = struct.unpack_from("<H", data, 4)
            found.details["preauth_hash"] = "SHA-512" if algorithm == _SHA_512 else hex(algorithm)
        offset += _CONTEXT.size + length


def _parse_negotiate(found: Findings, frame: bytes) -> None:
    if frame[:4] == _PROTOCOL_SMB1:
        found.protocol = "smb"
        found.details["dialect"] = "SMB1 (NT LM 0.12)"
        found.warnings.append("the server answered in SMB1 only; SMB1 is obsolete and unsafe")
        return
    if len(frame) < _HEADER.size:
        raise NotThisProtocol(f"an SMB2 message of {len(frame)} bytes, shorter than its header")
    (_proto, size, _charge, status, command, _credits, flags, *_rest) = _HEADER.unpack_from(frame)
    if size != 64 or command != _NEGOTIATE or not flags & _FLAGS_SERVER_TO_REDIR:
        raise NotThisProtocol("an SMB2 header that is not a NEGOTIATE response")
    found.protocol = "smb"
    if status != 0:
        found.details["status"] = f"{status:#010x}"
        if status == _STATUS_NOT_SUPPORTED:
            raise NotThisProtocol("the server supports none of the SMB2/3 dialects offered")
        raise NotThisProtocol(f"the server refused NEGOTIATE with NTSTATUS {status:#010x}")
    if len(frame) < _HEADER.size + _NEGOTIATE_RESPONSE.size:
        raise NotThisProtocol("a NEGOTIATE response shorter than its fixed part")
    (
        structure_size,
        security_mode,
        dialect,
        context_count,
        server_guid,
        capabilities,
        max_transact,
        max_read,
        max_write,
        system_time,
        _start_time,
        _blob_offset,
        _blob_length,
        context_offset,
    ) = _NEGOTIATE_RESPONSE.unpack_from(frame, _HEADER.size)
    if structure_size != 65:
        raise NotThisProtocol(f"a NEGOTIATE response with StructureSize {structure_size}, not 65")
    details = found.details
    details["dialect"] = DIALECTS.get(dialect, f"{dialect:#06x}")
    details["server_guid"] = str(uuid.UUID(bytes_le=server_guid))
    details["signing"] = (
        "required"
        if security_mode & _SIGNING_REQUIRED
        else "enabled"
        if security_mode & _SIGNING_ENABLED
        else "disabled"
    )
    details["capabilities"] = (
        ", ".join(name for bit, name in _CAPABILITIES.items() if capabilities & bit) or "none"
    )
    details["max_transact_size"] = str(max_transact)
    details["max_read_size"] = str(max_read)
    details["max_write_size"] = str(max_write)
    server_time = _filetime(system_time)
    if server_time:
        details["server_time"] = server_time
    if dialect == 0x0311 and context_count:
        _parse_contexts(found, frame, context_offset, context_count)
    if not security_mode & _SIGNING_REQUIRED:
        found.warnings.append("the server does not require SMB signing")


async def identify_smb(ctx: ProbeContext) -> Identification:
    """SMB2/3 NEGOTIATE: dialect, server GUID, signing, sizes."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            found.step = "NEGOTIATE response"
            await stream.send(negotiate_request(uuid.uuid4().bytes_le, os.urandom(32)))
            frame = await _read_frame(stream.reader)
            _parse_negotiate(found, frame)
            found.complete = True

    return await run_exchange("smb", ctx, talk)
