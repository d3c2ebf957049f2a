"""ICMP message types by address family: the numbers and names behind a flow's ``icmp:`` list.

A flow names ICMP messages once (``icmp: [echo-request]``) and the name stands for the ICMPv4
type over IPv4 and the ICMPv6 type over IPv6 (echo-request is type 8 in ICMPv4 and 128 in
ICMPv6).  ``packet-too-big`` exists in ICMPv6 only (IPv4 signals it as destination-unreachable
code 4), so over IPv4 it names nothing.  ``any`` stands for every type of the family.
"""

from __future__ import annotations

from collections.abc import Iterable

from portplan.model.product import IcmpType

__all__ = ["ICMP_NUMBERS", "icmp_numbers", "icmp_text", "icmp_types"]

#: each named type's number in ICMPv4 and in ICMPv6 (``None``: the family has no such type)
ICMP_NUMBERS: dict[IcmpType, tuple[int | None, int | None]] = {
    IcmpType.ECHO_REQUEST: (8, 128),
    IcmpType.ECHO_REPLY: (0, 129),
    IcmpType.DESTINATION_UNREACHABLE: (3, 1),
    IcmpType.TIME_EXCEEDED: (11, 3),
    IcmpType.PARAMETER_PROBLEM: (12, 4),
    IcmpType.PACKET_TOO_BIG: (None, 2),
}


def icmp_types(names: Iterable[str], family: int) -> tuple[IcmpType, ...] | None:
    """The types of ``names`` that exist in ``family`` (4 or 6), in order, once each;
    ``None`` when ``any`` is among them (every type of the family)."""
    if family not in (4, 6):
        raise ValueError(f"no IP version {family}")
    found: dict[IcmpType, None] = {}
    for name in names:
        kind = IcmpType(name)
        if kind is IcmpType.ANY:
            return None
        if ICMP_NUMBERS[kind][0 if family == 4 else 1] is not None:
            found[kind] = None
    return tuple(found)


def icmp_numbers(names: Iterable[str], family: int) -> tuple[int, ...] | None:
    """The type numbers of ``names`` in ``family``, sorted; ``None`` for every type."""
    kinds = icmp_types(names, family)
    if kinds is None:
        return None
    numbers = (ICMP_NUMBERS[kind][0 if family == 4 else 1] for kind in kinds)
    return tuple(sorted(n for n in numbers if n is not None))


def icmp_text(names: Iterable[str]) -> str:
    """``echo-request``, ``destination-unreachable, packet-too-big``, ``any type``: the
    messages as people read them beside ``ICMP``."""
    listed = list(dict.fromkeys(names))
    if IcmpType.ANY.value in listed:
        return "any type"
    return ", ".join(listed)
