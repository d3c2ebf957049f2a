"""What a ruleset permits, as a packet set, and which rule decides which packets.

A chain is read first match wins: a packet reaches rule *i* when no earlier rule with a verdict
matched it.  So the packets an ``accept`` rule accepts are its match less the matches of the
earlier rules that end the packet's way otherwise (drop, reject, return): earlier accepts do not
change the union.  A jump to a regular chain stands for that chain's own accepts and drops at
the jump's place (a goto also for its returns); the rest goes on.  A base chain's policy takes
what no rule decided.  A packet is permitted when every base chain it passes accepts it
(an accept ends one chain only; a drop is final).

Rules with conditions the parser could not read exactly (``Rule.unreadable``) match an unknown
part of their ``match``.  The audit reads the ruleset twice.  :attr:`Bound.HIGH` takes what
such a rule accepts at its widest and what it drops at nothing: an accept at its whole match, a
drop at nothing, a jump or goto at its chain's accepts (and never its drops: the jump may not
be taken), a return at its whole match where that keeps packets from later drops and at nothing
where it would keep them from later accepts.  So what it permits is all that *may* pass;
:attr:`Bound.LOW` the other way round, all that *surely* passes.  Where both agree the audit is
exact; where they do not, it says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from portplan._errors import AuditError
from portplan.audit._rules import Chain, Hook, Interface, Rule, Ruleset, Verdict
from portplan.spaces import Box, Space

__all__ = ["Bound", "ChainResult", "Evaluation", "View"]

_DEPTH = 64  #: jumps deeper than this are refused (nftables and iptables stop loops themselves)


class View(StrEnum):
    """Traffic that comes from the network, or loopback traffic (on ``lo``)."""

    NETWORK = "network"
    LOOPBACK = "loopback"


class Bound(StrEnum):
    HIGH = "high"  #: what may pass
    LOW = "low"  #: what surely passes


@dataclass(slots=True)
class ChainResult:
    """What one chain decides of the universe: accepted, dropped, and by which rule."""

    accepted: Space
    dropped: Space  #: what its rules drop (a base chain's policy drops the rest)
    #: rule index → the packets this rule accepts (a jump: those its chain accepts)
    accepts: dict[int, Space] = field(default_factory=dict)
    #: rule index → the packets this rule drops or rejects (a jump: those its chain drops)
    drops: dict[int, Space] = field(default_factory=dict)


def _restrict(space: Space, families: frozenset[int]) -> Space:
    if families == frozenset({4, 6}):
        return space
    return Space(b for b in space.boxes if b.family in families)


class _Union:
    """A union of packet sets built rule by rule: boxes gathered in a list, the set (and its
    index) made only when it is read, and made again only after it grew."""

    __slots__ = ("_boxes", "_space")

    def __init__(self) -> None:
        self._boxes: list[Box] = []
        self._space: Space | None = Space.empty()

    def add(self, space: Space) -> None:
        if space.boxes:
            self._boxes.extend(space.boxes)
            self._space = None

    def space(self) -> Space:
        if self._space is None:
            self._space = Space(self._boxes)
        return self._space

    def remove_from(self, space: Space) -> Space:
        """``space`` less this union."""
        return space - self.space() if self._boxes else space


class Evaluation:
    """One reading of a ruleset over a universe of packets, in one view and bound."""

    def __init__(
        self,
        ruleset: Ruleset,
        universe: Space,
        view: View,
        bound: Bound,
        hook: Hook = Hook.INPUT,
    ) -> None:
        self.ruleset = ruleset
        self.universe = universe
        self.view = view
        self.bound = bound
        self.hook = hook  #: the chains read are those of this hook (and the chains they jump to)
        self._chains: dict[str, ChainResult] = {}
        self._stack: list[str] = []

    def interfaces(self, rule: Rule) -> tuple[Interface, Interface]:
        """The rule's condition on the interface the packets of this hook have (the incoming
        one for what the host receives, the outgoing one for what it sends), and its condition
        on the one they do not have, whose name the kernel reads as empty."""
        if self.hook is Hook.INPUT:
            return rule.interface, rule.out_interface
        return rule.out_interface, rule.interface

    def forms(self, rule: Rule, chain: Chain) -> tuple[Space, Space]:
        """The packets of the universe this rule surely matches, and those it may match (the
        same set when the rule is read exactly)."""
        interface, absent = self.interfaces(rule)
        if absent in (Interface.LOOPBACK, Interface.OTHER):
            # ``oifname "lo"`` on the way in: no packet has an outgoing interface yet
            return Space.empty(), Space.empty()
        if self.view is View.LOOPBACK:
            if interface in (Interface.NOT_LOOPBACK, Interface.OTHER):
                return Space.empty(), Space.empty()
            inexact = not rule.exact
        else:
            if interface is Interface.LOOPBACK:
                return Space.empty(), Space.empty()
            inexact = not rule.exact or interface in (Interface.OTHER, Interface.NOT_OTHER)
        space = _restrict(rule.match, chain.families) & self.universe
        return (Space.empty() if inexact else space), space

    def match(self, rule: Rule, chain: Chain) -> Space:
        """The packets of the universe this rule is taken to match in this reading: where it
        lets packets on (accept, jump), what it may match in the widest reading and what it
        surely matches in the narrowest; where it stops them, the other way round."""
        sure, may = self.forms(rule, chain)
        lets_on = rule.verdict in (Verdict.ACCEPT, Verdict.JUMP, Verdict.GOTO)
        return may if lets_on == (self.bound is Bound.HIGH) else sure

    def chain(self, key: str) -> ChainResult:
        """Accepted and dropped packets of the universe when they enter chain ``key``."""
        found = self._chains.get(key)
        if found is not None:
            return found
        if key in self._stack:
            raise AuditError(f"the ruleset jumps in a loop: {' -> '.join([*self._stack, key])}")
        if len(self._stack) > _DEPTH:
            raise AuditError(
                f"the ruleset jumps more than {_DEPTH} chains deep (from {self._stack[0]} to "
                f"{key}): the audit follows jumps {_DEPTH} chains deep at most"
            )
        chain = self.ruleset.chains.get(key)
        if chain is None:
            raise AuditError(f"a rule jumps to chain {key!r}, which the ruleset does not have")
        self._stack.append(key)
        try:
            found = self._chains[key] = self._run(chain)
        finally:
            self._stack.pop()
        return found

    def _run(self, chain: Chain) -> ChainResult:
        # The widest reading takes what may be accepted and what is surely dropped, the
        # narrowest what is surely accepted and what may be dropped.  A packet that may end the
        # chain otherwise (an earlier drop or return it may match) is kept from later accepts
        # only in the narrowest reading, and from later drops only in the widest.
        wide = self.bound is Bound.HIGH
        raw_accept = _Union()  # matches of earlier rules that accept
        raw_stop = _Union()  # ... that drop or reject
        return_before_accept = _Union()  # ... that return, as later accepts see them
        return_before_drop = _Union()  # ... as later drops see them
        accepted = _Union()
        dropped = _Union()
        accepts: dict[int, Space] = {}
        drops: dict[int, Space] = {}
        for index, rule in enumerate(chain.rules):
            if rule.verdict is Verdict.NONE:
                continue
            sure, may = self.forms(rule, chain)
            if not may:
                continue
            for verdict, piece_sure, piece_may in self._pieces(rule, sure, may):
                if verdict is Verdict.ACCEPT:
                    piece = piece_may if wide else piece_sure
                    effective = return_before_accept.remove_from(raw_stop.remove_from(piece))
                    accepted.add(effective)
                    raw_accept.add(piece)
                    if effective:
                        accepts[index] = effective
                elif verdict.blocks:
                    piece = piece_sure if wide else piece_may
                    effective = return_before_drop.remove_from(raw_accept.remove_from(piece))
                    dropped.add(effective)
                    raw_stop.add(piece)
                    if effective:
                        drops[index] = effective
                else:
                    return_before_accept.add(piece_sure if wide else piece_may)
                    return_before_drop.add(piece_may if wide else piece_sure)
        if chain.policy is Verdict.ACCEPT:
            everything = _restrict(self.universe, chain.families)
            return ChainResult(everything - dropped.space(), dropped.space(), accepts, drops)
        # a base chain whose policy drops: what it drops is the rest of the universe, which no
        # caller reads (only a regular chain's drops stand in for its jumps), so it is left as
        # what its rules drop: the complement of thousands of accepts is costly to build
        return ChainResult(accepted.space(), dropped.space(), accepts, drops)

    def _pieces(self, rule: Rule, sure: Space, may: Space) -> list[tuple[Verdict, Space, Space]]:
        """What a rule does to the packets it surely and may match: a jump or goto stands for
        its chain's accepts and drops (taken at the form of this reading, so a jump it may
        skip never drops in the widest reading nor accepts in the narrowest), a goto also for
        its returns."""
        if rule.verdict not in (Verdict.JUMP, Verdict.GOTO):
            return [(rule.verdict, sure, may)]
        if rule.target is None:
            raise AuditError(f"rule {rule.where} jumps to no chain")
        inner = self.chain(rule.target)

        def both(op: Callable[[Space], Space]) -> tuple[Space, Space]:
            wide = op(may)
            return (wide if sure is may else op(sure)), wide

        pieces = [
            (Verdict.ACCEPT, *both(lambda m: m & inner.accepted)),
            (Verdict.DROP, *both(lambda m: m & inner.dropped)),
        ]
        if rule.verdict is Verdict.GOTO:
            pieces.append((Verdict.RETURN, *both(lambda m: m - inner.accepted - inner.dropped)))
        return pieces

    def reads(self, chain: Chain) -> bool:
        """Whether the packets of this reading pass base chain ``chain``: not in a view it does
        not see, nor in the widest reading where only some of them may (a packet that comes in
        on another device than an ingress chain's is not stopped by it)."""
        if not (chain.sees_loopback if self.view is View.LOOPBACK else chain.sees_network):
            return False
        return chain.only is None or self.bound is Bound.LOW

    def passes(self, key: str) -> Space:
        """What base chain ``key`` lets through: what it accepts, and every packet of a family
        its table does not see."""
        chain = self.ruleset.chains[key]
        accepted = self.chain(key).accepted
        others = frozenset({4, 6}) - chain.families
        return accepted | _restrict(self.universe, others) if others else accepted

    def permitted(self, hook: Hook) -> Space:
        """What passes every base chain on ``hook`` (no chain there: everything).  A packet a
        NAT rule sends elsewhere reaches the filters as another packet, which the audit
        cannot tell: in the widest reading it may pass, in the narrowest it does not surely."""
        result = self.universe
        if self.view is View.LOOPBACK and not self.ruleset.loopback_filtered:
            return result
        for key in self.ruleset.paths.get(hook, []):
            if not self.reads(self.ruleset.chains[key]):
                continue
            result = result & self.passes(key)
            if not result:
                break
        rewritten = Space(b for _rule, space in self.rewrites(hook) for b in space.boxes)
        if not rewritten:
            return result
        return result | rewritten if self.bound is Bound.HIGH else result - rewritten

    def rewrites(self, hook: Hook) -> list[tuple[Rule, Space]]:
        """The rules of the chains on ``hook`` that may rewrite the destination (NAT chains,
        a stateless NAT), each with the packets of the universe it may rewrite (those that
        reach it: an earlier accept of its chain ends that chain, and the rewrite with it)."""
        bases = [k for k in self.ruleset.rewriting.get(hook, []) if k in self.ruleset.chains]
        reached = self.ruleset.reached(bases)
        if not any(r.rewrites for k in reached for r in self.ruleset.chains[k].rules):
            return []
        # the NAT chains as a filter that accepts what is rewritten and nothing else
        shadow = Ruleset(platform=self.ruleset.platform, files=self.ruleset.files)
        for key in reached:
            chain = self.ruleset.chains[key]
            shadow.chains[key] = Chain(
                key=key,
                name=chain.name,
                rules=[replace(r, verdict=_rewriting_verdict(r)) for r in chain.rules],
                policy=Verdict.DROP if chain.policy is not None else None,
                families=chain.families,
            )
        reading = Evaluation(shadow, self.universe, self.view, Bound.HIGH, self.hook)
        total = Space(b for k in bases for b in reading.chain(k).accepted.boxes)
        found = []
        for key in reached:
            result = reading.chain(key)
            for index, rule in enumerate(self.ruleset.chains[key].rules):
                part = result.accepts.get(index)
                if rule.rewrites and part is not None and part & total:
                    found.append((rule, part & total))
        return found


def _rewriting_verdict(rule: Rule) -> Verdict:
    """A NAT chain's rule read for what it rewrites: a rewrite accepts, an accept or a drop
    ends the chain with nothing rewritten, jumps and returns stay."""
    if rule.rewrites:
        return Verdict.ACCEPT
    if rule.verdict is Verdict.ACCEPT or rule.verdict.blocks:
        return Verdict.DROP
    return rule.verdict
