"""Identifiers against hostile or broken peers: answers shaped to break the parser (numbers
too large to print, nesting too deep, certificates with odd extensions...).

Whatever the peer sends is a finding, never an exception: an exception escaping an identifier
loses the whole verification.  Each peer is an asyncio TCP server on 127.0.0.1 at a port the
kernel chooses, answering the identifier's first message with fixed bytes and closed after
the identification; nothing listens beyond loopback.
"""

from __future__ import annotations

import asyncio
import struct
from contextlib import suppress

from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify import _ber as ber
from servers import LOOPBACK


async def _answered(protocol: str, answer: bytes, timeout: float = 2.0) -> Identification:
    """``identify(protocol)`` against a peer that answers its first message with ``answer``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            await reader.read(4096)
            writer.write(answer)
            await writer.drain()
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        found = await identify(protocol, ProbeContext(address=LOOPBACK, port=port, timeout=timeout))
    assert found is not None
    return found


def _answer(protocol: str, answer: bytes) -> Identification:
    return asyncio.run(_answered(protocol, answer))


# --- LDAP -----------------------------------------------------------------------------------

#: an INTEGER of 2,001 octets: more than 4,300 decimal digits, which Python refuses to print
_HUGE = b"\x01" + bytes(2000)


def _ldap_result(tag: int, code: bytes) -> bytes:
    return ber.encode(
        tag, ber.encode(ber.ENUMERATED, code) + ber.encode(4, b"") + ber.encode(4, b"")
    )


def test_an_ldap_message_id_too_large_to_print_is_a_finding() -> None:
    done = _ldap_result(0x65, b"\x00")
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode(ber.INTEGER, _HUGE) + done))
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith("the answer is not LDAP"), found


def test_an_ldap_result_code_too_large_to_print_is_a_finding() -> None:
    done = _ldap_result(0x65, _HUGE)
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode_integer(1) + done))
    assert found.error is not None and "INTEGER of 2001 octets" in found.error, found
    notice = _ldap_result(0x78, _HUGE)
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode_integer(0) + notice))
    assert found.protocol is None, found
    assert found.error is not None and "INTEGER of 2001 octets" in found.error, found


# --- AMQP -----------------------------------------------------------------------------------


def _connection_start(properties: bytes) -> bytes:
    """A method frame carrying Connection.Start 0-9 with ``properties`` as its field table."""
    payload = (
        struct.pack("!HHBB", 10, 10, 0, 9)
        + len(properties).to_bytes(4, "big")
        + properties
        + b"\x00\x00\x00\x05PLAIN\x00\x00\x00\x05en_US"
    )
    return struct.pack("!BHI", 1, 0, len(payload)) + payload + b"\xce"


def test_amqp_field_values_nested_thousands_deep_are_a_finding() -> None:
    value = b"V"  # void, inside 3,000 arrays (and then tables): 15 kB, within a frame
    for _ in range(3000):
        value = b"A" + len(value).to_bytes(4, "big") + value
    found = _answer("amqp", _connection_start(b"\x05deepsA" + value[1:]))
    assert found.protocol == "amqp", found  # Connection.Start itself was read
    assert found.warnings == (
        "Connection.Start only partly readable: field values nested more than 32 deep",
    ), found
    table = b"V"
    for _ in range(3000):
        table = b"\x01xF" + len(table).to_bytes(4, "big") + table
    found = _answer("amqp", _connection_start(table[3 + 4 :]))
    assert found.warnings == (
        "Connection.Start only partly readable: field values nested more than 32 deep",
    ), found
