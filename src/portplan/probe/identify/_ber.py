"""The little of ASN.1 BER that LDAP and SNMP need (RFC 4511 section 5.1, RFC 3417 section 8),
written from X.690.

Only definite lengths and low tag numbers (below 31): LDAP and SNMP forbid the indefinite form
and use no high tag numbers.  Decoding is strict and bounded: every length is checked against the
bytes that are really there, and a violation is :class:`NotThisProtocol`.
"""

from __future__ import annotations

from dataclasses import dataclass

from portplan.probe.identify._exchange import NotThisProtocol

__all__ = [
    "BOOLEAN",
    "ENUMERATED",
    "INTEGER",
    "MAX_INTEGER_OCTETS",
    "OBJECT_IDENTIFIER",
    "OCTET_STRING",
    "SEQUENCE",
    "SET",
    "Tlv",
    "children",
    "decode",
    "decode_integer",
    "decode_oid",
    "encode",
    "encode_integer",
]

BOOLEAN = 0x01
INTEGER = 0x02
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06
ENUMERATED = 0x0A
SEQUENCE = 0x30
SET = 0x31
#: the longest INTEGER (or ENUMERATED) read: LDAP's are at most 2**31 - 1 (RFC 4511 maxInt),
#: SNMP's at most 2**32 - 1 (an unsigned Counter32 or Gauge32); a longer one is not an answer,
#: and one of 1,786 octets or more cannot even be printed
MAX_INTEGER_OCTETS = 8
#: an OBJECT IDENTIFIER's subidentifiers are at most 2**32 - 1 in SNMP (RFC 2578 section 7.1.3),
#: five octets of seven bits
_MAX_ARC_OCTETS = 5


@dataclass(frozen=True, slots=True)
class Tlv:
    """One BER element: its identifier octet and its contents."""

    tag: int
    value: bytes


def encode(tag: int, value: bytes) -> bytes:
    """Tag, definite length (short form below 128, else the shortest long form), value."""
    size = len(value)
    if size < 0x80:
        return bytes((tag, size)) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + value


def encode_integer(number: int, tag: int = INTEGER) -> bytes:
    """An INTEGER (or ENUMERATED) in the fewest two's-complement octets."""
    size = max(1, (number + (number < 0)).bit_length() // 8 + 1)
    return encode(tag, number.to_bytes(size, "big", signed=True))


def decode_integer(value: bytes) -> int:
    if not value:
        raise NotThisProtocol("an INTEGER with no octets")
    if len(value) > MAX_INTEGER_OCTETS:
        raise NotThisProtocol(
            f"an INTEGER of {len(value)} octets, more than LDAP or SNMP ever sends"
        )
    return int.from_bytes(value, "big", signed=True)


def decode_oid(value: bytes) -> str:
    """An OBJECT IDENTIFIER in dotted form (X.690 section 8.19)."""
    if not value or value[-1] & 0x80:
        raise NotThisProtocol("an OBJECT IDENTIFIER cut short")
    arcs: list[int] = []
    number, octets = 0, 0
    for octet in value:
        if octets == 0 and octet == 0x80:
            raise NotThisProtocol("an OBJECT IDENTIFIER subidentifier with a leading 0x80")
        number, octets = number << 7 | octet & 0x7F, octets + 1
        if octets > _MAX_ARC_OCTETS:
            raise NotThisProtocol("an OBJECT IDENTIFIER subidentifier longer than SNMP allows")
        if not octet & 0x80:
            arcs.append(number)
            number, octets = 0, 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def _header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content length, content offset) of the element at ``offset``."""
    if offset + 2 > len(data):
        raise NotThisProtocol("a BER element is cut short")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise NotThisProtocol(f"a BER high tag number (identifier {tag:#04x}) where none belongs")
    if first < 0x80:
        return tag, first, offset + 2
    count = first & 0x7F
    if count == 0:
        raise NotThisProtocol("a BER indefinite length, which LDAP and SNMP forbid")
    if count > 4 or offset + 2 + count > len(data):
        raise NotThisProtocol("a BER length that does not fit")
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    return tag, length, offset + 2 + count


def decode(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """The element at ``offset`` and the offset just past it."""
    tag, length, start = _header(data, offset)
    end = start + length
    if end > len(data):
        raise NotThisProtocol("a BER element is longer than the bytes that hold it")
    return Tlv(tag, data[start:end]), end


def children(parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element, in order."""
    items: list[Tlv] = []
    offset = 0
    while offset < len(parent.value):
        item, offset = decode(parent.value, offset)
        items.append(item)
    return items
