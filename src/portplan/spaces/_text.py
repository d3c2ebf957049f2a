"""Packet sets to and from the text people write: ports, addresses, protocols, and the model.

``ports_text(parse_ports("80-90,22")) == "22,80-90"``; ``any`` stands for a whole dimension.
Addresses print as the fewest CIDR networks (a single address without its prefix length).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_numbers
from portplan.model.ports import PortSet
from portplan.spaces._ranges import Ranges
from portplan.spaces._space import (
    ALL_PORTS,
    ALL_PROTOCOLS,
    ICMP,
    ICMPS,
    ICMPV6,
    PORTED,
    PROTOCOL_NUMBERS,
    Box,
    Space,
    address_span,
    family_span,
)

__all__ = [
    "addresses_text",
    "describe_box",
    "flow_space",
    "icmp_space_ranges",
    "icmp_types_text",
    "networks_ranges",
    "parse_addresses",
    "parse_ports",
    "parse_protocols",
    "port_set_ranges",
    "ports_text",
    "protocols_text",
]

_NAMES = {number: name for name, number in reversed(PROTOCOL_NUMBERS.items())}
_NAMES[58] = "icmpv6"


def ports_text(ports: Ranges, *, every: Ranges = ALL_PORTS) -> str:
    """``22,80-90``; ``any`` for the whole port range."""
    if ports == every:
        return "any"
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ports)


def parse_ports(text: str, *, every: Ranges = ALL_PORTS) -> Ranges:
    """``"22, 80-90"`` (or ``any``) as ranges; ``ValueError`` names what is wrong."""
    if text.strip() == "any":
        return every
    intervals = []
    for part in text.split(","):
        item = part.strip()
        low, dash, high = item.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise ValueError(f"{item!r} is neither a number (443) nor a range (1024-65535)")
        first, last = int(low), int(high) if dash else int(low)
        if first > last:
            raise ValueError(f"range {item} is reversed")
        intervals.append((first, last))
    found = Ranges.of(intervals)
    if not found.issubset(every):
        raise ValueError(f"{text!r} is outside {ports_text(every, every=Ranges())}")
    return found


def port_set_ranges(ports: PortSet) -> Ranges:
    """A model port set as ranges."""
    return Ranges((r.start, r.end) for r in ports.ranges)


def networks_ranges(networks: Iterable[Network], family: int) -> Ranges:
    """The addresses of the networks of one family, as integers."""
    return Ranges.of(
        (int(n.network_address), int(n.broadcast_address)) for n in networks if n.version == family
    )


def addresses_text(addresses: Ranges, family: int) -> str:
    """The fewest CIDR networks (``192.0.2.0/25,192.0.2.128``); ``any`` for every address."""
    if addresses == family_span(family):
        return "any"
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    parts = []
    for low, high in addresses:
        for network in ipaddress.summarize_address_range(make(low), make(high)):
            full = network.prefixlen == network.max_prefixlen
            parts.append(str(network.network_address) if full else str(network))
    return ",".join(parts)


def parse_addresses(text: str, family: int) -> Ranges:
    """Addresses and networks of one family, comma-separated, or ``any``."""
    if text.strip() == "any":
        return family_span(family)
    found = []
    for part in text.split(","):
        network = ipaddress.ip_network(part.strip(), strict=True)
        if network.version != family:
            raise ValueError(f"{part.strip()} is not an IPv{family} address or network")
        found.append(address_span(network))
    out = Ranges()
    for item in found:
        out = out | item
    return out


def protocols_text(protocols: Ranges) -> str:
    """``tcp,udp``, numbers for protocols without a name, ``any`` for all of them."""
    if protocols == ALL_PROTOCOLS:
        return "any"
    parts: list[str] = []
    for low, high in protocols:
        if high - low < 4:
            parts.extend(_NAMES.get(n, str(n)) for n in range(low, high + 1))
        else:
            parts.append(f"{low}-{high}")
    return ",".join(parts)


def parse_protocols(text: str) -> Ranges:
    if text.strip() == "any":
        return ALL_PROTOCOLS
    intervals = []
    for part in text.split(","):
        item = part.strip().lower()
        if item in PROTOCOL_NUMBERS:
            number = PROTOCOL_NUMBERS[item]
            intervals.append((number, number))
        else:
            intervals.extend(parse_ports(item, every=ALL_PROTOCOLS))
    return Ranges.of(intervals)


def _icmp_text(ports: Ranges) -> str:
    if ports == ALL_PORTS:
        return ""
    return " type " + icmp_types_text(ports)


def icmp_types_text(ports: Ranges) -> str:
    """ICMP types in the port dimension as people read them: ``8``, ``3,11``, ``3/4`` (type
    and code), ``any``."""
    if ports == ALL_PORTS:
        return "any"
    parts = []
    for low, high in ports:
        first, last = divmod(low, 256), divmod(high, 256)
        if first[1] == 0 and last[1] == 255:  # whole types
            parts.append(str(first[0]) if first[0] == last[0] else f"{first[0]}-{last[0]}")
        elif first == last:
            parts.append(f"{first[0]}/{first[1]}")
        else:
            parts.append(f"{first[0]}/{first[1]}-{last[0]}/{last[1]}")
    return ",".join(parts)


def describe_box(box: Box) -> str:
    """``tcp 192.0.2.0/24 -> 198.51.100.7 port 22``, as people read a rule."""
    text = (
        f"{protocols_text(box.protocols)} {addresses_text(box.sources, box.family)} -> "
        f"{addresses_text(box.destinations, box.family)}"
    )
    if box.protocols.issubset(PORTED):
        text += f" port {ports_text(box.ports)}"
    elif box.protocols.issubset(ICMPS):
        text += _icmp_text(box.ports)
    if box.sources == family_span(box.family) and box.destinations == family_span(box.family):
        text += f" (IPv{box.family})"
    return text


def icmp_space_ranges(names: Iterable[str], family: int) -> Ranges:
    """ICMP messages by name (``echo-request``, ``any``) as the port dimension of ``family``'s
    ICMP protocol: ``type * 256 + code``, every code of each type."""
    numbers = icmp_numbers(names, family)
    if numbers is None:
        return ALL_PORTS
    return Ranges.of((n * 256, n * 256 + 255) for n in numbers)


def flow_space(
    sources: Iterable[Network],
    destinations: Iterable[Network],
    protocol: Protocol,
    ports: PortSet,
    icmp: Iterable[str] = (),
) -> Space:
    """The new connections a planned flow names: from any source to any destination address
    of the same family, over ``protocol`` to ``ports`` (ICMP: the messages ``icmp`` names, as
    ICMPv4 over IPv4 and ICMPv6 over IPv6)."""
    src, dst = tuple(sources), tuple(destinations)
    names = tuple(icmp)
    out = Space.empty()
    for family in (4, 6):
        s, d = networks_ranges(src, family), networks_ranges(dst, family)
        if not (s and d):
            continue
        if protocol is Protocol.ICMP:
            number = ICMP if family == 4 else ICMPV6
            port_ranges = icmp_space_ranges(names, family)
        else:
            number = PROTOCOL_NUMBERS[protocol.value]
            port_ranges = port_set_ranges(ports)
        if port_ranges:
            out = out | Space.of(
                family, sources=s, destinations=d, protocols=Ranges.point(number), ports=port_ranges
            )
    return out
