"""The packets an audit weighs a firewall against: those that can reach a host's firewall from
the network (or leave it), those on its loopback, and those between two zones."""

from __future__ import annotations

from collections.abc import Iterable

from portplan.audit._match import icmp_ranges
from portplan.model._types import Network
from portplan.plan import LOOPBACK, Plan
from portplan.spaces import ICMPV6, Ranges, Space, networks_ranges

__all__ = ["NEIGHBOUR_DISCOVERY", "between", "loopback_universe", "universe"]

#: IPv6 neighbour discovery: router and neighbour solicitations and advertisements
NEIGHBOUR_DISCOVERY = Space.of(
    6, protocols=Ranges.point(ICMPV6), ports=icmp_ranges(Ranges.span(133, 136))
)


def universe(addresses: Iterable[Network], families: frozenset[int], *, inbound: bool) -> Space:
    """Packets to ``addresses`` (``inbound``) or from them, of each of ``families``."""
    nets = tuple(addresses)
    out = Space.empty()
    for family in sorted(families):
        own = networks_ranges(nets, family)
        if own:
            side = {"destinations": own} if inbound else {"sources": own}
            out = out | Space.of(family, **side)
    return out


def loopback_universe(addresses: Iterable[Network], families: frozenset[int]) -> Space:
    """Packets a host sends itself: between its loopback and own addresses, both ways."""
    nets = (*LOOPBACK, *addresses)
    out = Space.empty()
    for family in sorted(families):
        own = networks_ranges(nets, family)
        out = out | Space.of(family, sources=own, destinations=own)
    return out


def between(plan: Plan, boundary: tuple[str, str], families: frozenset[int]) -> Space:
    """Packets from the hosts of one zone to the hosts of another (a zone firewall's view)."""
    source_zone, destination_zone = boundary
    out = Space.empty()
    for family in sorted(families):
        sources = networks_ranges(
            (n for h in plan.hosts.values() if h.zone == source_zone for n in h.addresses), family
        )
        destinations = networks_ranges(
            (n for h in plan.hosts.values() if h.zone == destination_zone for n in h.addresses),
            family,
        )
        if sources and destinations:
            out = out | Space.of(family, sources=sources, destinations=destinations)
    return out
