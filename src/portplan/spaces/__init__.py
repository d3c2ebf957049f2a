"""Exact sets of packets, shared by audit, diff and the checks of targets.

A :class:`Space` is a set of new connections' first packets: source addresses x destination
addresses x IP protocols x destination ports (ICMP: type and code), per address family, held as
a union of boxes whose every dimension is a set of integer intervals (:class:`Ranges`).  Union,
intersection and difference are exact, emptiness is exact, and a non-empty set gives an example
packet.  Nothing here reads rulesets as text: parsers build spaces from what a rule matches.
"""

from portplan.spaces._index import BoxIndex
from portplan.spaces._ranges import Ranges
from portplan.spaces._space import (
    ALL_PORTS,
    ALL_PROTOCOLS,
    ICMP,
    ICMPS,
    ICMPV6,
    PORTED,
    PROTOCOL_NUMBERS,
    TCP,
    UDP,
    Box,
    Packet,
    Space,
    address_span,
    family_span,
)
from portplan.spaces._text import (
    addresses_text,
    describe_box,
    flow_space,
    icmp_space_ranges,
    icmp_types_text,
    networks_ranges,
    parse_addresses,
    parse_ports,
    parse_protocols,
    port_set_ranges,
    ports_text,
    protocols_text,
)

__all__ = [
    "ALL_PORTS",
    "ALL_PROTOCOLS",
    "ICMP",
    "ICMPS",
    "ICMPV6",
    "PORTED",
    "PROTOCOL_NUMBERS",
    "TCP",
    "UDP",
    "Box",
    "BoxIndex",
    "Packet",
    "Ranges",
    "Space",
    "address_span",
    "addresses_text",
    "describe_box",
    "family_span",
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
