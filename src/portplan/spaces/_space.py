"""Exact sets of packets: unions of boxes (source addresses x destination addresses x
protocols x ports), with union, intersection, difference, emptiness and an example packet.

A packet here is the first packet of a new connection as a firewall sees it: its address
family, source and destination address, IP protocol number, and for TCP, UDP, SCTP, DCCP and
UDP-Lite its destination port, for ICMP and ICMPv6 its type and code (held in the port
dimension as ``type * 256 + code``).  Other protocols have no port: their boxes always span the
whole port dimension.

A box is the product of one :class:`~portplan.spaces.Ranges` per dimension, so a rule that
names a set of 5,000 addresses is one box, not 5,000.  A :class:`Space` is a union of boxes of
one protocol class each (ported, ICMP, other) that may overlap; every operation is exact, and
:meth:`Space.normalised` gives the disjoint, merged, sorted form to show.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from portplan.spaces._index import BoxIndex
from portplan.spaces._ranges import Ranges

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
    "Packet",
    "Space",
    "address_span",
    "family_span",
]

TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
#: protocols whose packets carry a destination port: TCP, UDP, DCCP, SCTP, UDP-Lite
PORTED = Ranges.of([(6, 6), (17, 17), (33, 33), (132, 132), (136, 136)])
#: ICMP and ICMPv6: the port dimension holds ``type * 256 + code``
ICMPS = Ranges.of([(1, 1), (58, 58)])
PROTOCOL_NUMBERS = {
    "icmp": ICMP,
    "tcp": TCP,
    "udp": UDP,
    "dccp": 33,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": ICMPV6,
    "ipv6-icmp": ICMPV6,
    "sctp": 132,
    "udplite": 136,
}
ALL_PROTOCOLS = Ranges.span(0, 255)
ALL_PORTS = Ranges.span(0, 65535)
_OTHER = ALL_PROTOCOLS - PORTED - ICMPS
_SMALL = 16  #: a space of more boxes than this is searched through its index
_CLASSES = (PORTED, ICMPS, _OTHER)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def family_span(family: int) -> Ranges:
    """Every address of an IP version (4 or 6), as integers."""
    if family not in (4, 6):
        raise ValueError(f"no IP version {family}")
    return Ranges.span(0, 2**32 - 1 if family == 4 else 2**128 - 1)


def address_span(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Ranges:
    """The addresses of a network, as integers."""
    return Ranges.span(int(network.network_address), int(network.broadcast_address))


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet: what a firewall rule can match of a new connection's first packet."""

    family: int
    source: Address
    destination: Address
    protocol: int
    port: int | None = None  #: destination port (ported protocols)
    icmp: tuple[int, int] | None = None  #: (type, code) for ICMP and ICMPv6

    def __str__(self) -> str:
        name = next((k for k, v in PROTOCOL_NUMBERS.items() if v == self.protocol), None)
        proto = name or f"protocol {self.protocol}"
        text = f"{proto} {self.source} -> {self.destination}"
        if self.port is not None:
            text += f" port {self.port}"
        if self.icmp is not None:
            text += f" type {self.icmp[0]} code {self.icmp[1]}"
        return text


@dataclass(frozen=True, slots=True)
class Box:
    """The product of four dimensions in one address family; never empty."""

    family: int
    sources: Ranges
    destinations: Ranges
    protocols: Ranges
    ports: Ranges

    @property
    def dimensions(self) -> tuple[Ranges, Ranges, Ranges, Ranges]:
        return (self.sources, self.destinations, self.protocols, self.ports)

    def overlaps(self, other: Box) -> bool:
        return (
            self.family == other.family
            and self.ports.overlaps(other.ports)
            and self.protocols.overlaps(other.protocols)
            and self.destinations.overlaps(other.destinations)
            and self.sources.overlaps(other.sources)
        )

    def intersection(self, other: Box) -> Box | None:
        if not self.overlaps(other):
            return None
        return Box(
            self.family,
            self.sources & other.sources,
            self.destinations & other.destinations,
            self.protocols & other.protocols,
            self.ports & other.ports,
        )

    def minus(self, other: Box) -> list[Box]:
        """Disjoint boxes that hold ``self`` without ``other``: at most one per dimension."""
        if not self.overlaps(other):
            return [self]
        kept = list(self.dimensions)
        pieces: list[Box] = []
        for k, theirs in enumerate(other.dimensions):
            rest = kept[k] - theirs
            if rest:
                dims = kept.copy()
                dims[k] = rest
                pieces.append(Box(self.family, *dims))
            kept[k] = kept[k] & theirs
        return pieces

    def issubset(self, other: Box) -> bool:
        return self.family == other.family and all(
            mine.issubset(theirs)
            for mine, theirs in zip(self.dimensions, other.dimensions, strict=True)
        )

    def contains(self, packet: Packet) -> bool:
        if packet.family != self.family or packet.protocol not in self.protocols:
            return False
        if int(packet.source) not in self.sources:
            return False
        if int(packet.destination) not in self.destinations:
            return False
        if packet.port is not None:
            return packet.port in self.ports
        if packet.icmp is not None:
            return packet.icmp[0] * 256 + packet.icmp[1] in self.ports
        return True

    def example(self) -> Packet:
        """The packet with the lowest value in every dimension."""
        make = ipaddress.IPv4Address if self.family == 4 else ipaddress.IPv6Address
        protocol = self.protocols.low
        port: int | None = None
        icmp: tuple[int, int] | None = None
        if protocol in PORTED:
            port = self.ports.low
        elif protocol in ICMPS:
            icmp = divmod(self.ports.low, 256)
        return Packet(
            self.family,
            make(self.sources.low),
            make(self.destinations.low),
            protocol,
            port=port,
            icmp=icmp,
        )

    def sort_key(self) -> tuple[int, ...]:
        return (
            self.family,
            self.protocols.low,
            self.ports.low,
            self.destinations.low,
            self.sources.low,
            self.ports.high,
            self.destinations.high,
            self.sources.high,
        )


def _make(
    family: int, sources: Ranges, destinations: Ranges, protocols: Ranges, ports: Ranges
) -> Iterator[Box]:
    """Boxes of one protocol class each; nothing for an empty dimension.  A protocol without
    ports always spans every port (no rule can tell its packets apart by port)."""
    if not (sources and destinations and protocols and ports):
        return
    for klass in _CLASSES:
        mine = protocols & klass
        if not mine:
            continue
        yield Box(family, sources, destinations, mine, ALL_PORTS if klass is _OTHER else ports)


class Space:
    """A set of packets: a union of boxes.  Immutable; every operation is exact."""

    __slots__ = ("_index", "boxes")

    boxes: tuple[Box, ...]
    _index: BoxIndex[Box] | None

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        self.boxes = tuple(boxes)
        self._index = None

    def index(self) -> BoxIndex[Box]:
        """The boxes found by source address (built once, on first use)."""
        if self._index is None:
            self._index = BoxIndex(self.boxes)
        return self._index

    def _near(self, box: Box) -> Iterable[Box]:
        """Boxes of this space that may overlap ``box``: all of a small space, else from the
        index."""
        if len(self.boxes) <= _SMALL:
            return self.boxes
        return self.index().candidates(box)

    @classmethod
    def empty(cls) -> Space:
        return _NOTHING

    @classmethod
    def of(
        cls,
        family: int,
        *,
        sources: Ranges | None = None,
        destinations: Ranges | None = None,
        protocols: Ranges | None = None,
        ports: Ranges | None = None,
    ) -> Space:
        """The packets of one family whose every dimension is in the given set (``None``:
        any value)."""
        every = family_span(family)
        return cls(
            _make(
                family,
                every if sources is None else sources & every,
                every if destinations is None else destinations & every,
                ALL_PROTOCOLS if protocols is None else protocols & ALL_PROTOCOLS,
                ALL_PORTS if ports is None else ports & ALL_PORTS,
            )
        )

    @classmethod
    def everything(cls) -> Space:
        """Every packet of both families."""
        return cls.of(4) | cls.of(6)

    # -- algebra ----------------------------------------------------------------------------

    def __or__(self, other: Space) -> Space:
        if not other.boxes:
            return self
        if not self.boxes:
            return other
        return Space((*self.boxes, *other.boxes))

    def __and__(self, other: Space) -> Space:
        found: list[Box] = []
        for mine in self.boxes:
            for theirs in other._near(mine):
                both = mine.intersection(theirs)
                if both is not None:
                    found.append(both)
        return Space(found)

    def __sub__(self, other: Space) -> Space:
        if not other.boxes or not self.boxes:
            return self
        out: list[Box] = []
        for mine in self.boxes:
            pieces = [mine]
            for theirs in other._near(mine):
                if not theirs.overlaps(mine):
                    continue
                pieces = [p for piece in pieces for p in piece.minus(theirs)]
                if not pieces:
                    break
            out.extend(pieces)
        return Space(out)

    def overlaps(self, other: Space) -> bool:
        return any(b.overlaps(a) for a in self.boxes for b in other._near(a))

    def issubset(self, other: Space) -> bool:
        return not (self - other)

    def same_as(self, other: Space) -> bool:
        """Whether both hold exactly the same packets."""
        return self.issubset(other) and other.issubset(self)

    def __bool__(self) -> bool:
        return bool(self.boxes)

    def __contains__(self, packet: object) -> bool:
        return isinstance(packet, Packet) and any(b.contains(packet) for b in self.boxes)

    def __iter__(self) -> Iterator[Box]:
        return iter(self.boxes)

    def __len__(self) -> int:
        return len(self.boxes)

    def example(self) -> Packet | None:
        """One packet of the set (the lowest of its first normalised box), or ``None``."""
        if not self.boxes:
            return None
        return min(self.boxes, key=Box.sort_key).example()

    def of_family(self, family: int) -> Space:
        return Space(b for b in self.boxes if b.family == family)

    # -- the form to show -------------------------------------------------------------------

    def disjoint(self) -> Space:
        """The same packets in boxes that do not overlap."""
        out: list[Box] = []
        for box in self.boxes:
            pieces = [box]
            for kept in out:
                if not pieces:
                    break
                pieces = [p for piece in pieces for p in piece.minus(kept)]
            out.extend(pieces)
        return Space(out)

    def normalised(self) -> Space:
        """Disjoint boxes, those that differ in one dimension only merged, in a stable order."""
        boxes = list(self.disjoint().boxes)
        changed = True
        while changed and len(boxes) > 1:
            changed = False
            for k in (3, 0, 1, 2):  # ports first: a rule's ports are what people read
                grouped: dict[tuple[object, ...], Box] = {}
                for box in boxes:
                    dims = box.dimensions
                    key = (box.family, *(d for i, d in enumerate(dims) if i != k))
                    if _klass(box) is not None:
                        key = (*key, _klass(box))
                    found = grouped.get(key)
                    if found is None:
                        grouped[key] = box
                        continue
                    merged = list(found.dimensions)
                    merged[k] = merged[k] | dims[k]
                    grouped[key] = Box(box.family, *merged)
                    changed = True
                boxes = list(grouped.values())
        return Space(sorted(boxes, key=Box.sort_key))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.same_as(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Space({len(self.boxes)} boxes)"


def _klass(box: Box) -> int | None:
    """The protocol class of a box, so that merging never mixes classes."""
    for number, klass in enumerate(_CLASSES):
        if box.protocols.issubset(klass):
            return number
    return None


_NOTHING = Space()
