"""AMQP 0-9-1: the protocol header and the server's Connection.Start.

The client sends the protocol header ``AMQP 0 0 9 1``; an AMQP 0-9-1 server answers with a
method frame on channel 0 (type 1, then channel, size, payload and the frame-end octet 0xCE)
carrying Connection.Start (class 10, method 10): the protocol version, the server-properties
field table (product, version, platform...), the SASL mechanisms and the locales.  A server of
another AMQP version answers with the protocol header it wants instead, and closes; our own
header sent back is an echo, not a broker (a broker never asks for the version it was offered).
The connection is closed right after Connection.Start, before any login.

Field tables are read with RabbitMQ's type codes (its errata to the 0-9-1 specification, which
the other brokers and clients follow): ``s`` is a 16-bit integer, not a short string.
"""

from __future__ import annotations

import struct

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    connect,
    printable,
    run_exchange,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = ["PROTOCOL_HEADER", "identify_amqp", "read_field_table"]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
#: largest Connection.Start payload read (the spec's minimum frame size is 4096)
MAX_FRAME = 131072
FRAME_METHOD = 1
FRAME_END = 0xCE
CONNECTION_START = (10, 10)  # class connection, method start

_FRAME_HEADER = struct.Struct("!BHI")  # type, channel, payload size
#: byte sizes of the fixed-size field values
_FIXED = {"t": 1, "b": 1, "B": 1, "s": 2, "U": 2, "u": 2, "I": 4, "i": 4, "L": 8, "l": 8}
_FIXED |= {"f": 4, "d": 8, "D": 5, "T": 8, "V": 0}
#: field tables and arrays nested deeper than this are not a broker's (RabbitMQ nests one level)
MAX_DEPTH = 32
#: server-properties reported, and the detail each becomes
_PROPERTIES = ("product", "version", "platform", "cluster_name")


class _Decoder:
    def __init__(self, data: bytes, depth: int = 0) -> None:
        self.data = data
        self.pos = 0
        self.depth = depth  #: how many tables and arrays hold this one

    def inner(self) -> _Decoder:
        """A decoder of the table or array that comes next (its 4-byte size, then itself)."""
        if self.depth >= MAX_DEPTH:
            raise NotThisProtocol(f"field values nested more than {MAX_DEPTH} deep")
        return _Decoder(self.longstr(), self.depth + 1)

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise NotThisProtocol("Connection.Start ends inside a field")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def octet(self) -> int:
        return self.take(1)[0]

    def long(self) -> int:
        value: int = struct.unpack("!I", self.take(4))[0]
        return value

    def shortstr(self) -> str:
        return self.take(self.octet()).decode("utf-8", "replace")

    def longstr(self) -> bytes:
        return self.take(self.long())

    def table(self) -> dict[str, object]:
        content = self.inner()
        fields: dict[str, object] = {}
        while content.pos < len(content.data):
            name = content.shortstr()
            fields[name] = content.value()
        return fields

    def value(self) -> object:
        kind = chr(self.octet())
        if kind in _FIXED:
            return self.take(_FIXED[kind])
        if kind == "S":
            return self.longstr().decode("utf-8", "replace")
        if kind == "x":
            return self.longstr()
        if kind == "F":
            return self.table()
        if kind == "A":
            content = self.inner()
            items: list[object] = []
            while content.pos < len(content.data):
                items.append(content.value())
            return items
        raise NotThisProtocol(f"unknown field type {kind!r} in a field table")


def read_field_table(data: bytes) -> dict[str, object]:
    """Decode an AMQP field table (its 4-byte size included); strings come back as ``str``."""
    return _Decoder(data).table()


def _header_version(header: bytes) -> str:
    protocol_id, major, minor, revision = header[4:8]
    if protocol_id == 0:
        return f"{major}-{minor}-{revision}"
    return f"protocol id {protocol_id}, version {major}.{minor}.{revision}"


def _read_start(payload: bytes, found: Findings) -> None:
    decoder = _Decoder(payload)
    class_method = struct.unpack("!HH", decoder.take(4))
    if class_method != CONNECTION_START:
        raise NotThisProtocol(f"first method is {class_method}, not Connection.Start (10, 10)")
    major, minor = decoder.octet(), decoder.octet()
    found.protocol = "amqp"
    found.details["amqp_version"] = f"{major}-{minor}"
    try:
        properties = decoder.table()
        found.details["mechanisms"] = decoder.longstr().decode("utf-8", "replace")
        found.details["locales"] = decoder.longstr().decode("utf-8", "replace")
    except NotThisProtocol as exc:
        found.warnings.append(f"Connection.Start only partly readable: {exc}")
        return
    for name in _PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str):
            found.details[name] = value


async def identify_amqp(ctx: ProbeContext) -> Identification:
    """AMQP 0-9-1: Connection.Start's version and server-properties (product, version...)."""

    async def talk(found: Findings) -> None:
        async with connect(ctx) as stream:
            found.step = "Connection.Start"
            await stream.send(PROTOCOL_HEADER)
            header = await stream.reader.readexactly(_FRAME_HEADER.size)
            if header.startswith(b"AMQP"):
                header += await stream.reader.readexactly(1)
                if header == PROTOCOL_HEADER:
                    raise NotThisProtocol("the answer is our protocol header echoed back")
                found.protocol = "amqp"
                found.details["protocol_header"] = _header_version(header)
                found.warnings.append(
                    f"server does not speak AMQP 0-9-1; it asks for {_header_version(header)}"
                )
                found.complete = True
                return
            kind, channel, size = _FRAME_HEADER.unpack(header)
            if kind != FRAME_METHOD or channel != 0 or size > MAX_FRAME:
                raise NotThisProtocol(f"not an AMQP method frame: '{printable(header)}'")
            payload = await stream.reader.readexactly(size)
            if (await stream.reader.readexactly(1))[0] != FRAME_END:
                raise NotThisProtocol("AMQP frame does not end with 0xCE")
            _read_start(payload, found)
            found.complete = True

    return await run_exchange("amqp", ctx, talk)
