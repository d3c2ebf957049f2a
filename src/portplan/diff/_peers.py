"""The rules a host holds per peer address range, which the packets between zones do not show.

A zone firewall sees a row's packets, however many rows need them.  A security group
(``rules -t aws``) holds one rule per peer address range, never merged with the ranges around
it: the destination's group one per source range, and with ``--egress`` the source's group
one per destination range.  So a row whose packets other rows already need (a host inside a
subnet that another row comes from) still gives its destination a rule for the host's own
address, and takes it away when it goes; a host re-addressed inside that subnet moves it; a
host that becomes managed gains its rules.  (A host's own ruleset, too, gains, with
``--egress``, what it may send: the packets a subnet around it sent are no permission of the
host's.)  Each such change is given here, in words, for rows with no packet between zones to
open or close.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from portplan.model._types import Network, Protocol, network_text
from portplan.plan import Plan, PlannedFlow
from portplan.spaces import (
    ICMP,
    ICMPV6,
    PROTOCOL_NUMBERS,
    Ranges,
    Space,
    icmp_space_ranges,
    icmp_types_text,
    networks_ranges,
    port_set_ranges,
    ports_text,
)

__all__ = ["PeerRules", "peer_changes"]


class _Rule(NamedTuple):
    """Where a rule of a host's own is: the host, which way, the protocol, the peer range."""

    host: str
    outbound: bool  #: the source's rule towards the destination (``--egress``)
    protocol: Protocol
    peer: Network


def _ports(row: PlannedFlow, family: int) -> Ranges:
    """The ports of ``row`` (ICMP: its messages of ``family``)."""
    if row.protocol is Protocol.ICMP:
        return icmp_space_ranges(row.icmp, family)
    return port_set_ranges(row.ports)


class PeerRules:
    """The ports each host's rule per peer range holds, as ``rules -t aws`` gives them: for
    every managed destination of a row, one per source range; for every managed source that
    is one machine (or a cluster), one per destination range (with ``--egress``).  Loopback
    rows need none, and a peer of a family the host has no address in is none of its rules."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._families = {
            name: {a.version for a in host.addresses} if host.addresses else {4, 6}
            for name, host in plan.hosts.items()
        }
        #: the hosts with rules of their own: as destinations (managed), as sources (managed
        #: machines, not networks), asked once per host rather than once per row
        self._receivers = {name for name in plan.hosts if plan.unmanaged(name) is None}
        self._senders = {n for n in self._receivers if not plan.hosts[n].is_network}
        #: each row's rules, by the row's id (with the row, whose id it is only while it lives)
        self._of_row: dict[int, tuple[PlannedFlow, tuple[_Rule, ...]]] = {}
        self.held: dict[_Rule, Ranges] = {}
        for row in plan.rows:
            for rule in self.rules(row):
                self.held[rule] = self.held.get(rule, Ranges()) | _ports(row, rule.peer.version)
        #: the rules of each host, way and protocol
        self.of_host: dict[tuple[str, bool, Protocol], list[_Rule]] = {}
        for rule in self.held:
            self.of_host.setdefault((rule.host, rule.outbound, rule.protocol), []).append(rule)

    def rules(self, row: PlannedFlow) -> tuple[_Rule, ...]:
        """The rules of hosts' own that hold ``row``."""
        known = self._of_row.get(id(row))
        if known is not None and known[0] is row:
            return known[1]
        found: list[_Rule] = []
        if not row.loopback:
            if row.destination in self._receivers:
                families = self._families[row.destination]
                found.extend(
                    _Rule(row.destination, False, row.protocol, peer)
                    for peer in row.source_addresses
                    if peer.version in families
                )
            if row.source in self._senders:
                families = self._families[row.source]
                found.extend(
                    _Rule(row.source, True, row.protocol, peer)
                    for peer in row.destination_addresses
                    if peer.version in families
                )
        rules = tuple(found)
        self._of_row[id(row)] = (row, rules)
        return rules


def _number(rule: _Rule) -> int:
    if rule.protocol is Protocol.ICMP:
        return ICMP if rule.peer.version == 4 else ICMPV6
    return PROTOCOL_NUMBERS[rule.protocol.value]


def _packets(row: PlannedFlow, rule: _Rule, ports: Ranges) -> Space:
    """The packets ``rule`` holds for ``row`` on ``ports``: from its peer range to the host's
    addresses (the source's rule: from the host's addresses to the peer range)."""
    family = rule.peer.version
    peer = networks_ranges((rule.peer,), family)
    if rule.outbound:
        sources, destinations = networks_ranges(row.source_addresses, family), peer
    else:
        sources, destinations = peer, networks_ranges(row.destination_addresses, family)
    return Space.of(
        family,
        sources=sources,
        destinations=destinations,
        protocols=Ranges.point(_number(rule)),
        ports=ports,
    )


def _unlisted(
    row: PlannedFlow, rule: _Rule, ports: Ranges, listed: Space, other: PeerRules
) -> Ranges:
    """``ports`` of ``rule`` but those a change of the row's packets lists (``listed``).
    Beside a listed change only packets count: those the other side's rules of the host, one
    way and protocol, held (or hold) for any peer range are no change of the host's own."""
    if not listed or not ports:
        return ports
    packets = _packets(row, rule, ports) - listed
    for held in other.of_host.get((rule.host, rule.outbound, rule.protocol), ()):
        if not packets:
            break
        if held.peer.version == rule.peer.version:
            packets = packets - _packets(row, held, other.held[held])
    left = Ranges()
    for box in packets.boxes:
        left = left | box.ports
    return left


def _text(rule: _Rule, ports: Ranges) -> str:
    if rule.protocol is Protocol.ICMP:
        name = "icmp" if rule.peer.version == 4 else "icmpv6"
        return f"{name}/{icmp_types_text(ports)}"
    return f"{rule.protocol.value}/{ports_text(ports)}"


def _side(
    rows: Sequence[PlannedFlow], mine: PeerRules, other: PeerRules, verb: str, listed: Space
) -> list[str]:
    """What the rules of ``rows`` (one side's) hold that the other side's rules do not, and
    that ``listed`` (the packets a change of the rows opens or closes) does not show."""
    found: dict[tuple[str, bool, str], list[str]] = {}
    for row in rows:
        for rule in mine.rules(row):
            if rule.host not in other.plan.hosts:
                continue  # (a host added or removed: its own rules are a rehost)
            extra = _ports(row, rule.peer.version) - other.held.get(rule, Ranges())
            extra = _unlisted(row, rule, extra, listed, other)
            if extra:
                peers = found.setdefault((rule.host, rule.outbound, _text(rule, extra)), [])
                if (peer := network_text(rule.peer)) not in peers:
                    peers.append(peer)
    out = []
    for (host, outbound, ports), peers in found.items():
        end = "destination" if outbound else "source"
        plural = "s" if len(peers) > 1 else ""
        text = f"{host}'s rules for {end}{plural} {', '.join(peers)} {verb} {ports}"
        out.append(text + " (with --egress)" if outbound else text)
    return out


def peer_changes(
    was: Sequence[PlannedFlow],
    now: Sequence[PlannedFlow],
    before: PeerRules,
    after: PeerRules,
    listed: Space | None = None,
) -> str | None:
    """What the rows of one key, ``was`` to ``now``, change in the hosts' rules per peer range
    (``before``: the old plan's, ``after``: the new one's), less what other rows of the same
    hosts and peers hold, and less the packets the rows' changes list (``listed``: what a
    zone firewall opens and closes for them; the rest, which other rows of that boundary
    needed or still need, the hosts' own rules gain or lose all the same): the ports they
    gain, then those they lose."""
    shown = listed if listed is not None else Space.empty()
    found = [*_side(now, after, before, "gain", shown), *_side(was, before, after, "lose", shown)]
    return "; ".join(found) or None
