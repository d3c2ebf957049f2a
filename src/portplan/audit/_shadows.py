"""Rules that never decide (``shadowed``) and rules the audit cannot read exactly
(``unreadable``), each read against the packets of the ways its chain is on.

A chain on the way in sees the packets the host receives, one on the way out those it sends
(with or without ``--egress``: the rules are the same whether or not the audit compares the way
out with the plan), one both ways lead to both (:meth:`~portplan.audit._rules.Ruleset.ways`).
A rule is shadowed when, on every way where it matches a packet, earlier rules decide each
packet it matches, and some of them with the other verdict; unreadable when on some way it may
match a packet and does not surely match it (or the interface it names is not ``lo``).
"""

from __future__ import annotations

from dataclasses import dataclass

from portplan.audit._evaluate import Evaluation
from portplan.audit._findings import Finding, FindingKind
from portplan.audit._infrastructure import INFRASTRUCTURE
from portplan.audit._rules import Chain, Hook, Interface, Rule, Ruleset, Verdict
from portplan.spaces import Box, BoxIndex, Ranges, Space

__all__ = ["Way", "shadowed", "unreadable"]

_DECIDING = (Verdict.ACCEPT, Verdict.DROP, Verdict.REJECT)
_NAMED = (Interface.OTHER, Interface.NOT_OTHER)


@dataclass(frozen=True, slots=True)
class Way:
    """The readings of one way (what the host receives, or sends) a finding is judged in."""

    label: str  #: ``inbound`` or ``outbound``
    high: Evaluation  #: the widest reading of the packets from (to) the network
    loop_low: Evaluation  #: the narrowest reading of the loopback traffic


@dataclass(frozen=True, slots=True)
class _Tagged:
    """A box of an earlier rule's match, with the rule (for the shadowed check's index)."""

    box: Box
    rule: Rule
    position: int  #: the rule's place in its chain

    @property
    def family(self) -> int:
        return self.box.family

    @property
    def sources(self) -> Ranges:
        return self.box.sources


def _chains(ruleset: Ruleset, ways: dict[Hook, Way]) -> list[tuple[Chain, list[Way]]]:
    """The chains that may see a packet of the host's own traffic, each with the ways of
    ``ways`` it is on."""
    found = []
    for key, hooks in ruleset.ways().items():  # (the chains :meth:`Ruleset.awake` gives)
        mine = [ways[h] for h in hooks if h in ways]
        if mine:
            found.append((ruleset.chains[key], mine))
    return found


def shadowed(ruleset: Ruleset, host: str, ways: dict[Hook, Way]) -> list[Finding]:
    findings = []
    for chain, mine in _chains(ruleset, ways):
        earlier: list[BoxIndex[_Tagged]] = [BoxIndex() for _way in mine]
        for position, rule in enumerate(chain.rules):
            if rule.verdict is Verdict.NONE:
                continue
            label: str | None = None
            decided, near = True, {}
            for way, index in zip(mine, earlier, strict=True):
                if way.high.interfaces(rule)[0] is Interface.LOOPBACK:
                    continue
                match = way.high.match(rule, chain)
                if not match:
                    continue
                label = label or way.label
                # a rule read at its widest may match less, even nothing: only an exact
                # rule surely decides the packets of a later one
                if rule.exact and rule.verdict in _DECIDING:
                    here = {
                        id(tagged): tagged
                        for box in match.boxes
                        for tagged in index.candidates(box)
                        if tagged.box.overlaps(box)
                    }
                    near.update(here)
                    decided = decided and not match - Space(t.box for t in here.values())
                if rule.exact and rule.verdict not in (Verdict.JUMP, Verdict.NONE):
                    for box in match.boxes:
                        index.add(_Tagged(box, rule, position))
            if label is None or not decided or not rule.exact or rule.verdict not in _DECIDING:
                continue
            overriding = [
                t.rule
                for t in sorted(near.values(), key=lambda t: t.position)
                if t.rule.verdict in _DECIDING and t.rule.verdict.blocks != rule.verdict.blocks
            ]
            if overriding:
                unique = list({id(r): r for r in overriding}.values())
                names = ", ".join(o.where for o in unique[:3])
                findings.append(
                    Finding(
                        kind=FindingKind.SHADOWED,
                        host=host,
                        direction=label,
                        message=f"rule {rule.where} never takes effect: earlier rules decide "
                        f"every packet it matches ({names})",
                        rule=rule.where,
                        rule_text=rule.text,
                        line=rule.line,
                    )
                )
    return findings


def unreadable(ruleset: Ruleset, host: str, ways: dict[Hook, Way]) -> list[Finding]:
    findings = []
    named: set[str] = set()  # a verdict map's entries are rules of one place: named once
    for chain, mine in _chains(ruleset, ways):
        for rule in chain.rules:
            if rule.verdict is Verdict.NONE and not rule.rewrites:
                continue  # a counter, a log, a mark: whatever it matches, it decides nothing
            if rule.where in named:
                continue
            label: str | None = None
            match = Space.empty()
            for way in mine:
                if rule.exact and way.high.interfaces(rule)[0] not in _NAMED:
                    continue
                here = way.high.forms(rule, chain)[1] | way.loop_low.forms(rule, chain)[1]
                if here:
                    label, match = label or way.label, match | here
            if label is None or (rule.verdict is Verdict.ACCEPT and match.issubset(INFRASTRUCTURE)):
                continue  # matches nothing here, or only what is never extra (._infrastructure)
            named.add(rule.where)
            findings.append(
                Finding(
                    kind=FindingKind.UNREADABLE,
                    host=host,
                    direction=label,
                    message=f"rule {rule.where} ({rule.verdict}) matches on what the audit "
                    f"cannot read exactly: {', '.join(rule.unreadable)}; its findings are "
                    "bounds (what may pass, what surely passes)",
                    rule=rule.where,
                    rule_text=rule.text,
                    line=rule.line,
                )
            )
    return findings
