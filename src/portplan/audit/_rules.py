"""What every ruleset parser gives the audit: chains of rules, each with the packet set it
matches, its verdict, and where it was written.

A rule's :attr:`Rule.match` is the set of *new connections' first packets* it matches, as an
exact :class:`~portplan.spaces.Space`.  A rule whose conditions the parser cannot turn into a
set exactly (a rate limit, a mark, a source port, an interface other than ``lo``) names them in
:attr:`Rule.unreadable`; its ``match`` is then an upper bound, and the audit bounds what the
ruleset permits from both sides instead of guessing (see :mod:`portplan.audit._evaluate`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from portplan.spaces import Space

__all__ = [
    "BOUNDARY_PLATFORMS",
    "DORMANT_EFFECT",
    "FORWARDED_EFFECT",
    "UNREACHED_EFFECT",
    "Chain",
    "Hook",
    "Interface",
    "Rule",
    "Ruleset",
    "Verdict",
]

#: the platforms whose rulesets are a zone boundary's filter (what crosses between zones);
#: every other is a host's own firewall, read for what reaches or leaves that host (its input
#: and output hooks), never for what it forwards
BOUNDARY_PLATFORMS = frozenset({"cisco"})
#: what the annotated copy says of a rule no packet of the host's own traffic passes, for
#: each reason (:meth:`Ruleset.idle`): its table is dormant, only forwarded traffic reaches
#: its chain, or no base chain jumps or goes to its chain, not even through other chains
DORMANT_EFFECT = "dormant table: sees no packet"
FORWARDED_EFFECT = "forwarded traffic only: not the host's own"
UNREACHED_EFFECT = "no base chain leads here: sees no packet"


class Verdict(StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    RETURN = "return"
    JUMP = "jump"
    GOTO = "goto"
    NONE = "none"  #: no verdict (a counter, a log): the packet goes on to the next rule

    @property
    def blocks(self) -> bool:
        return self in (Verdict.DROP, Verdict.REJECT)


class Interface(StrEnum):
    """Which packets a rule's interface match leaves: the audit tells traffic from the network
    apart from loopback traffic only (``lo``)."""

    ANY = "any"
    LOOPBACK = "lo"  #: only on ``lo``
    NOT_LOOPBACK = "not-lo"  #: never on ``lo``
    OTHER = "other"  #: one named interface that is not ``lo``: a part of the network traffic
    NOT_OTHER = "not-other"  #: all but a named interface that is not ``lo``


class Hook(StrEnum):
    """Where a base chain sees packets: what the host receives, or what it sends."""

    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule of a chain."""

    where: str  #: ``host.v4:14``, or ``table inet fw chain input handle 7``
    text: str  #: the rule as written or as its platform prints it
    match: Space  #: new connections it matches (an upper bound when ``unreadable``)
    verdict: Verdict
    target: str | None = None  #: the chain of a jump or goto
    #: what its conditions on the interface a packet comes in on (``iifname``, ``-i``) and
    #: leaves on (``oifname``, ``-o``) leave: the hook tells which of them a packet has (one
    #: the host receives has no outgoing one yet, one it sends no incoming one)
    interface: Interface = Interface.ANY
    out_interface: Interface = Interface.ANY
    unreadable: tuple[str, ...] = ()  #: conditions not read exactly, as written
    comment: str | None = None
    line: int | None = None  #: the line in the file, when the file has lines
    #: it rewrites an address or a port (DNAT, redirect, a stateless NAT of either end): what
    #: it matches reaches the later chains as other packets, which the audit cannot tell
    rewrites: bool = False

    @property
    def exact(self) -> bool:
        return not self.unreadable


@dataclass(slots=True, kw_only=True)
class Chain:
    """Rules in order.  A base chain has a hook and a policy; a regular chain returns to the
    chain that jumped to it."""

    key: str  #: unique in the ruleset: ``inet fw input``, ``filter INPUT``
    name: str
    rules: list[Rule] = field(default_factory=list)
    policy: Verdict | None = None  #: ``accept`` or ``drop`` for base chains
    families: frozenset[int] = frozenset({4, 6})  #: the families its table sees
    where: str = ""  #: where the chain (its policy) was written
    #: whether the packets of a hook's loopback traffic, and those from the network, pass
    #: this base chain (a NAT chain on the way in sees no loopback traffic: conntrack met it
    #: on the way out; an ingress chain only what comes in on its devices)
    sees_loopback: bool = True
    sees_network: bool = True
    #: when only some packets of the network may pass this base chain, the condition under
    #: which they do (``"when it comes in on eth0"``): the audit then reads it for what it may
    #: stop, never for what it surely lets through
    only: str | None = None
    #: its table is dormant (nftables ``flags dormant``): no packet passes it, nor any chain
    #: of its table, so its rules decide nothing
    dormant: bool = False
    #: a base chain only what the host routes between others passes (nftables ``hook
    #: forward``, iptables ``FORWARD``): no packet it receives or sends itself
    forwards: bool = False
    #: a regular chain (nftables, one without a hook; iptables, a user-defined chain): a
    #: packet passes it only when a rule of a chain it passes jumps or goes here
    regular: bool = False
    #: a rule may jump or go here without naming it (a verdict map whose entries the audit
    #: cannot read): a regular chain no rule names may still see packets
    jumped_unnamed: bool = False

    def describe_policy(self) -> str:
        return f"policy {self.policy} of chain {self.key}"


@dataclass(slots=True, kw_only=True)
class Ruleset:
    """A host firewall's chains and the base chains each packet passes, in order."""

    platform: str  #: ``nftables``, ``iptables``, ``cisco`` (a boundary's: BOUNDARY_PLATFORMS)
    files: tuple[str, ...]
    chains: dict[str, Chain] = field(default_factory=dict)
    paths: dict[Hook, list[str]] = field(default_factory=dict)  #: hook → base chain keys
    #: hook → the base chains whose rules may rewrite the destination (NAT chains; for
    #: nftables every one, as a stateless NAT may sit in any)
    rewriting: dict[Hook, list[str]] = field(default_factory=dict)
    families: frozenset[int] = frozenset({4, 6})  #: the families the files say anything about
    notes: list[str] = field(default_factory=list)  #: what the parser set aside, and why
    #: whether loopback traffic is filtered at all (Windows, pods and instances do not)
    loopback_filtered: bool = True

    def reached(self, bases: list[str]) -> list[str]:
        """The chains ``bases`` are and jump or go to, in the order they are found."""
        found: dict[str, None] = {}  # (a dict: in the order found, and its keys a set)
        waiting = deque(bases)
        while waiting:
            key = waiting.popleft()
            if key in found or key not in self.chains:
                continue
            found[key] = None
            waiting.extend(r.target for r in self.chains[key].rules if r.target is not None)
        return list(found)

    def idle(self) -> dict[str, str]:
        """The chains no packet of the host's own traffic passes, each with what the annotated
        copy says of its rules: those of a dormant table; those only forwarded traffic
        reaches, a ``forward`` base chain and the chains only it jumps or goes to (a chain a
        chain on the host's way jumps to as well is on that way); and the regular chains no
        base chain jumps or goes to, not even through other chains, which no packet passes."""
        chains = self.chains.values()
        dormant = {c.key: DORMANT_EFFECT for c in chains if c.dormant}
        own = set(self.reached([k for keys in self.paths.values() for k in keys]))
        forwarded = self.reached([c.key for c in chains if c.forwards])
        led = set(self.reached([c.key for c in chains if not c.regular or c.jumped_unnamed]))
        unreached = {c.key: UNREACHED_EFFECT for c in chains if c.key not in led}
        return unreached | {k: FORWARDED_EFFECT for k in forwarded if k not in own} | dormant

    def ways(self) -> dict[str, tuple[Hook, ...]]:
        """For each chain that may see a packet of the host's own traffic (:meth:`awake`), the
        ways whose packets pass it: those whose base chains are it or jump or go to it, also
        through other chains.  A regular chain a verdict map the audit cannot read may jump to
        is on the ways of every chain of such a table; a chain on no way (a base chain the
        audit does not place) is on both, as far as the audit knows."""
        unnamed = [c.key for c in self.chains.values() if c.jumped_unnamed and c.regular]
        on: dict[Hook, set[str]] = {}
        for hook in Hook:
            on[hook] = set(self.reached(self.paths.get(hook, [])))
            if any(self.chains[k].jumped_unnamed for k in on[hook]):
                on[hook] |= set(self.reached(unnamed))
        return {
            c.key: tuple(h for h in Hook if c.key in on[h]) or tuple(Hook) for c in self.awake()
        }

    def awake(self) -> list[Chain]:
        """The chains that may see a packet of the host's own traffic (:meth:`idle`)."""
        idle = self.idle()
        return [c for c in self.chains.values() if c.key not in idle]
