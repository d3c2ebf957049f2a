"""Property tests of the packet-set algebra (portplan.spaces).

Every law is checked against Python sets over a finite universe that the generated sets live
in: interval sets against sets of integers, packet sets against the packets of a small universe
(8 addresses per side, four protocols, ten ports or ICMP codes).  Text round trips cover ports,
IPv4 and IPv6 addresses over their whole range, and protocols.
"""

from __future__ import annotations

import ipaddress
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portplan.model import PortSet, Protocol
from portplan.spaces import (
    ALL_PORTS,
    Box,
    Packet,
    Ranges,
    Space,
    addresses_text,
    describe_box,
    family_span,
    flow_space,
    parse_addresses,
    parse_ports,
    parse_protocols,
    ports_text,
    protocols_text,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- interval sets ------------------------------------------------------------------------------


def ranges_in(low: int, high: int, max_size: int = 5) -> st.SearchStrategy[Ranges]:
    pair = st.tuples(st.integers(low, high), st.integers(low, high)).map(sorted).map(tuple)
    return st.lists(pair, max_size=max_size).map(Ranges.of)


def members(ranges: Ranges) -> set[int]:
    return {n for low, high in ranges for n in range(low, high + 1)}


small = ranges_in(0, 63)


@FAST
@given(small, small)
def test_ranges_operations_are_the_set_operations(a: Ranges, b: Ranges) -> None:
    assert members(a | b) == members(a) | members(b)
    assert members(a & b) == members(a) & members(b)
    assert members(a - b) == members(a) - members(b)
    assert a.overlaps(b) == bool(members(a) & members(b))
    assert a.issubset(b) == (members(a) <= members(b))
    assert a.size == len(members(a))


@FAST
@given(small)
def test_ranges_are_normalised(a: Ranges) -> None:
    for (_, first_end), (second_start, _) in itertools.pairwise(a.intervals):
        assert second_start > first_end + 1  # sorted, disjoint, not adjacent
    assert Ranges.of(reversed(a.intervals)) == a
    assert hash(Ranges.of(list(a.intervals))) == hash(a)


@FAST
@given(small, small, small)
def test_ranges_laws(a: Ranges, b: Ranges, c: Ranges) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert a & (b | c) == (a & b) | (a & c)
    assert a - (b | c) == (a - b) - c
    assert (a - b) & b == Ranges()
    assert (a - b) | (a & b) == a


# -- packet sets --------------------------------------------------------------------------------

PROTOCOLS = (1, 6, 17, 47)  #: ICMP, TCP, UDP and GRE (which has no ports)
ADDRESSES = 8
PORTS = 10


@st.composite
def boxes(draw: st.DrawFn) -> Space:
    protocols = draw(st.lists(st.sampled_from(PROTOCOLS), min_size=1, max_size=2))
    return Space.of(
        4,
        sources=draw(ranges_in(0, ADDRESSES - 1, 2)),
        destinations=draw(ranges_in(0, ADDRESSES - 1, 2)),
        protocols=Ranges.of((p, p) for p in protocols),
        ports=draw(ranges_in(0, PORTS - 1, 2)),
    )


spaces = st.lists(boxes(), max_size=4).map(
    lambda parts: Space([b for part in parts for b in part.boxes])
)


def universe() -> list[Packet]:
    out = []
    address = ipaddress.IPv4Address
    for src, dst, proto in itertools.product(range(ADDRESSES), range(ADDRESSES), PROTOCOLS):
        if proto == 47:
            out.append(Packet(4, address(src), address(dst), proto))
            continue
        for port in range(PORTS):
            icmp = (0, port) if proto == 1 else None
            out.append(
                Packet(4, address(src), address(dst), proto, None if icmp else port, icmp=icmp)
            )
    return out


UNIVERSE = universe()


def packets(space: Space) -> set[Packet]:
    return {p for p in UNIVERSE if p in space}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces, spaces)
def test_space_operations_are_the_set_operations(a: Space, b: Space) -> None:
    pa, pb = packets(a), packets(b)
    assert packets(a | b) == pa | pb
    assert packets(a & b) == pa & pb
    assert packets(a - b) == pa - pb
    assert bool(a) == bool(pa)  # emptiness is exact: no box is ever empty
    assert a.overlaps(b) == bool(pa & pb)
    assert a.issubset(b) == (pa <= pb)
    assert (a == b) == (pa == pb)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces, spaces, spaces)
def test_space_laws(a: Space, b: Space, c: Space) -> None:
    assert a | b == b | a
    assert a & (b | c) == (a & b) | (a & c)
    assert a - (b | c) == (a - b) - c
    assert not ((a - b) & b)
    assert (a - b) | (a & b) == a
    assert a | Space.empty() == a
    assert not (a & Space.empty())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces)
def test_normalised_and_disjoint_hold_the_same_packets(a: Space) -> None:
    for form in (a.disjoint(), a.normalised()):
        assert packets(form) == packets(a)
        for first, second in itertools.combinations(form.boxes, 2):
            assert not first.overlaps(second)
    assert [b.sort_key() for b in a.normalised()] == sorted(b.sort_key() for b in a.normalised())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces)
def test_an_example_packet_is_in_the_set(a: Space) -> None:
    example = a.example()
    if a:
        assert example is not None
        assert example in a
        assert example in packets(a) or example.protocol == 47
    else:
        assert example is None


def test_a_range_that_grows_leaves_exactly_the_new_ports() -> None:
    tcp = parse_protocols("tcp")
    wide = Space.of(4, protocols=tcp, ports=parse_ports("1024-65535"))
    narrow = Space.of(4, protocols=tcp, ports=parse_ports("49152-65535"))
    (opened,) = (wide - narrow).normalised().boxes
    assert ports_text(opened.ports) == "1024-49151"
    assert describe_box(opened) == "tcp any -> any port 1024-49151 (IPv4)"
    assert not (narrow - wide)


def test_protocols_without_ports_span_every_port() -> None:
    gre = Space.of(4, protocols=parse_protocols("gre"), ports=parse_ports("22"))
    (box,) = gre.boxes
    assert box.ports == ALL_PORTS


def test_flow_space_keeps_families_apart() -> None:
    networks = [ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/64")]
    only_v4 = [ipaddress.ip_network("198.51.100.7")]
    space = flow_space(networks, only_v4, Protocol.TCP, PortSet.parse("443"))
    (box,) = space.boxes
    assert box.family == 4
    assert addresses_text(box.sources, 4) == "192.0.2.0/24"
    assert addresses_text(box.destinations, 4) == "198.51.100.7"


# -- text round trips -----------------------------------------------------------------------------


@FAST
@given(ranges_in(0, 65535).filter(bool))
def test_ports_text_round_trips(ports: Ranges) -> None:
    assert parse_ports(ports_text(ports)) == ports


@FAST
@given(st.sampled_from([4, 6]), st.data())
def test_addresses_text_round_trips(family: int, data: st.DataObject) -> None:
    top = family_span(family).high
    addresses = data.draw(ranges_in(0, top).filter(bool))
    text = addresses_text(addresses, family)
    assert parse_addresses(text, family) == addresses
    if addresses != family_span(family):
        for part in text.split(","):  # the fewest networks: each exactly as written
            assert (
                str(ipaddress.ip_network(part)).removesuffix("/32" if family == 4 else "/128")
                == part
            )


@FAST
@given(ranges_in(0, 255).filter(bool))
def test_protocols_text_round_trips(protocols: Ranges) -> None:
    assert parse_protocols(protocols_text(protocols)) == protocols


def test_bad_text_says_what_is_wrong() -> None:
    for text, words in [("80-22", "reversed"), ("http", "neither"), ("70000", "outside")]:
        try:
            parse_ports(text)
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(f"{text!r} parsed")


def test_box_is_hashable_and_exact() -> None:
    box = Box(4, Ranges.point(1), Ranges.point(2), Ranges.point(6), Ranges.point(22))
    assert box in {box}
    assert box.minus(box) == []
