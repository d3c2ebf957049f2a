"""The packets an audit looks at: those that reach a host from the network (or that it sends),
its loopback traffic, and what crosses a zone boundary."""

from __future__ import annotations

from collections.abc import Iterable

from portplan.model._types import Network
from portplan.plan import LOOPBACK, Plan
from portplan.spaces import Space, networks_ranges

__all__ = ["between", "loopback_universe", "universe"]


def universe(addresses: Iterable[Network], families: frozenset[int], *, inbound: bool) -> Space:
    """Packets to (``inbound``) or from one of ``addresses``: what reaches the host from the
    network, or what it sends."""
    nets = tuple(addresses)
    out = Space.empty()
    for family in sorted(families):
        own = networks_ranges(nets, family)
        if own:
            side = {"destinations": own} if inbound else {"sources": own}
            out = out | Space.of(family, **side)
    return out


def loopback_universe(addresses: Iterable[Network], families: frozenset[int]) -> Space:
    """Packets from and to the host's own addresses and loopback: what travels on ``lo``."""
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
