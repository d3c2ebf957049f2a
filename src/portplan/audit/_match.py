"""Building the packet set of one rule from its conditions, dimension by dimension.

Parsers of every platform feed a :class:`MatchBuilder` with what each condition of a rule
says (these addresses, those ports, not that protocol), and take the rule's
:class:`~portplan.spaces.Space` from it.  Conditions that say nothing about a dimension the
audit models go to :attr:`MatchBuilder.unreadable`, with their text.
"""

from __future__ import annotations

from portplan.audit._rules import Interface, Verdict
from portplan.spaces import ALL_PORTS, ALL_PROTOCOLS, ICMPS, PORTED, Ranges, Space, family_span

__all__ = [
    "ICMPV6_TYPES",
    "ICMP_TYPES",
    "MatchBuilder",
    "icmp_ranges",
]

ICMP_TYPES = {
    "echo-reply": 0,
    "destination-unreachable": 3,
    "source-quench": 4,
    "redirect": 5,
    "echo-request": 8,
    "router-advertisement": 9,
    "router-solicitation": 10,
    "time-exceeded": 11,
    "parameter-problem": 12,
    "timestamp-request": 13,
    "timestamp-reply": 14,
    "info-request": 15,
    "info-reply": 16,
    "address-mask-request": 17,
    "address-mask-reply": 18,
}
ICMPV6_TYPES = {
    "destination-unreachable": 1,
    "packet-too-big": 2,
    "time-exceeded": 3,
    "parameter-problem": 4,
    "echo-request": 128,
    "echo-reply": 129,
    "mld-listener-query": 130,
    "mld-listener-report": 131,
    "mld-listener-done": 132,
    "mld-listener-reduction": 132,
    "nd-router-solicit": 133,
    "nd-router-advert": 134,
    "nd-neighbor-solicit": 135,
    "nd-neighbor-advert": 136,
    "nd-redirect": 137,
    "router-renumbering": 138,
    "ind-neighbor-solicit": 141,
    "ind-neighbor-advert": 142,
    "mld2-listener-report": 143,
}


def icmp_ranges(types: Ranges, codes: Ranges | None = None) -> Ranges:
    """ICMP types (and codes, all when ``None``) in the port dimension: ``type * 256 + code``."""
    out = []
    for low, high in types:
        if codes is None:
            out.append((low * 256, high * 256 + 255))
        else:
            for kind in range(low, high + 1):
                out.extend((kind * 256 + a, kind * 256 + b) for a, b in codes)
    return Ranges.of(out)


class MatchBuilder:
    """What the conditions of one rule leave, dimension by dimension (all of it at first)."""

    def __init__(
        self, families: frozenset[int] = frozenset({4, 6}), *, helpers: bool = False
    ) -> None:
        self.families = set(families)
        self.sources: dict[int, Ranges] = {f: family_span(f) for f in (4, 6)}
        self.destinations: dict[int, Ranges] = {f: family_span(f) for f in (4, 6)}
        self.protocols = ALL_PROTOCOLS
        self.ports = ALL_PORTS  #: destination ports of ported protocols
        self.icmp = ALL_PORTS  #: ICMP type * 256 + code
        self.ported = False  #: a port condition was given: only ported protocols match
        self.icmp_given = False
        self.never = False  #: a condition no new connection meets (ct state established)
        self.interface = Interface.ANY  #: the interface a packet comes in on
        self.out_interface = Interface.ANY  #: the interface it leaves on
        self.unreadable: list[str] = []
        self.rewrites = False  #: a statement rewrites an address or port (see Rule.rewrites)
        #: conntrack state conditions that match no tracked new connection but untracked or
        #: invalid packets, which a new connection's first packet is after ``notrack`` (or
        #: related ones, see :attr:`helpers`), each with why it may match one
        self.untracked: list[str] = []
        #: whether the ruleset assigns a conntrack helper (or an expectation) to connections of
        #: this rule's family: the connection a helper expects (an FTP data connection to the
        #: port the server announced) begins ``related``, not ``new``
        self.helpers = helpers

    def family(self, family: int) -> None:
        self.families &= {family}

    def addresses(self, family: int, side: str, ranges: Ranges, *, negate: bool = False) -> None:
        """``side`` is ``source`` or ``destination``."""
        self.family(family)
        target = self.sources if side == "source" else self.destinations
        chosen = family_span(family) - ranges if negate else ranges
        target[family] = target[family] & chosen

    def protocol(self, protocols: Ranges, *, negate: bool = False) -> None:
        self.protocols = self.protocols & (ALL_PROTOCOLS - protocols if negate else protocols)

    def destination_ports(
        self, protocols: Ranges | None, ports: Ranges, *, negate: bool = False
    ) -> None:
        """A destination-port condition; ``protocols`` when it names them (``tcp dport``)."""
        if protocols is not None:
            self.protocol(protocols)
        self.ported = True
        self.ports = self.ports & (ALL_PORTS - ports if negate else ports)

    def icmp_types(self, protocol: int, kinds: Ranges, *, negate: bool = False) -> None:
        self.protocol(Ranges.point(protocol))
        self.icmp_given = True
        self.icmp = self.icmp & (ALL_PORTS - kinds if negate else kinds)

    def states(self, states: set[str], *, negate: bool, text: str) -> None:
        """A conntrack state condition (``ct state``, ``--ctstate``), states in lower case: a
        new connection's first packet is ``new``, or ``untracked`` where a notrack rule
        exempted it (``invalid`` too, for some), or ``related`` where a conntrack helper
        expects it (:attr:`helpers`); see :meth:`settle`."""

        def meets(state: str) -> bool:
            return (state in states) != negate

        if meets("new"):
            return
        if meets("untracked") or meets("invalid"):
            self.untracked.append(
                f"{text} (a notrack rule leaves a new connection untracked, and it may be invalid)"
            )
        elif meets("related") and self.helpers:
            self.untracked.append(
                f"{text} (a conntrack helper the ruleset assigns makes the connections it "
                "expects related, to ports and from peers the ruleset does not say)"
            )
        else:
            self.never = True

    def settle(self, verdict: Verdict) -> None:
        """Once the rule's verdict is known: a rule that matches only untracked, invalid or
        expected related packets stops no new connection (a drop of them is read as matching
        none), but may let one on (accept, jump, return): that is read at its widest, as
        unreadable."""
        if not self.untracked:
            return
        if verdict.blocks or verdict is Verdict.NONE:
            self.never = True
        else:
            self.unreadable.extend(self.untracked)
        self.untracked = []

    def on_interface(self, interface: Interface, *, outgoing: bool = False) -> None:
        """A condition on the interface a packet comes in on (``iifname``, ``-i``), or with
        ``outgoing`` the one it leaves on (``oifname``, ``-o``)."""
        known = self.out_interface if outgoing else self.interface
        if known is Interface.ANY:
            if outgoing:
                self.out_interface = interface
            else:
                self.interface = interface
        elif known is not interface:
            # two interface conditions: keep both sides honest by reading neither exactly
            self.unreadable.append("several interface conditions")

    def space(self) -> Space:
        """The packets that meet every condition given."""
        if self.never:
            return Space.empty()
        out = Space.empty()
        for family in sorted(self.families):
            if self.ported and self.icmp_given:
                continue  # a port and an ICMP type: no packet has both
            if self.ported:
                protocols, ports = self.protocols & PORTED, self.ports
            elif self.icmp_given:
                protocols, ports = self.protocols & ICMPS, self.icmp
            else:
                protocols, ports = self.protocols, ALL_PORTS
            out = out | Space.of(
                family,
                sources=self.sources[family],
                destinations=self.destinations[family],
                protocols=protocols,
                ports=ports,
            )
        return out
