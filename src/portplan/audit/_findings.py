"""What an audit finds: its findings, and the whole result with the notes that qualify it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from portplan.spaces import Packet, Space, describe_box

__all__ = [
    "KINDS_OF",
    "AuditResult",
    "Finding",
    "FindingKind",
    "RuleServes",
    "describe_space",
]


class FindingKind(StrEnum):
    MISSING = "missing"  #: a planned flow the ruleset does not permit at all
    PARTIAL = "partial"  #: a planned flow the ruleset permits only in part
    EXTRA = "extra"  #: the ruleset permits packets beyond the plan
    SHADOWED = "shadowed"  #: a rule that never decides: earlier rules of the other verdict do
    UNREADABLE = "unreadable"  #: a rule whose conditions the audit cannot read exactly
    PLANNED_NOT_LISTENING = "planned-not-listening"
    NOT_PLANNED = "listening-not-planned"
    LOOPBACK_ONLY = "loopback-only"
    OTHER_ADDRESS = "other-address"


#: the kinds of finding each audit (its ``subject``) can produce, in the order reports list them
KINDS_OF = {
    "ruleset": (
        FindingKind.MISSING,
        FindingKind.PARTIAL,
        FindingKind.EXTRA,
        FindingKind.SHADOWED,
        FindingKind.UNREADABLE,
    ),
    "listening": (
        FindingKind.PLANNED_NOT_LISTENING,
        FindingKind.NOT_PLANNED,
        FindingKind.LOOPBACK_ONLY,
        FindingKind.OTHER_ADDRESS,
    ),
}


def describe_space(space: Space, limit: int | None = 4) -> str:
    """The boxes of a set as people read rules, at most ``limit`` of them (``None``: all)."""
    boxes = space.normalised().boxes
    shown = [describe_box(b) for b in boxes[:limit]]
    if limit is not None and len(boxes) > limit:
        shown.append(f"and {len(boxes) - limit} more")
    return "; ".join(shown)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One difference between what is and what the plan says."""

    kind: FindingKind
    host: str
    direction: str  #: ``inbound`` or ``outbound`` (what the host receives, or sends)
    message: str
    flow: str | None = None  #: the planned flow concerned (missing, partial)
    peer: str | None = None  #: the other host of that flow
    rule: str | None = None  #: where the rule concerned is (``host.v4:14``)
    rule_text: str | None = None
    line: int | None = None
    packets: Space | None = None  #: the packets concerned
    example: Packet | None = None  #: one of them


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleServes:
    """For the annotated copy: which planned flows one rule lets through."""

    where: str
    text: str
    line: int | None
    flows: tuple[str, ...]  #: flow keys, in plan order
    #: ``serves``, ``not in plan``, ``no effect here``, ``blocks``, or why no packet of the
    #: host's own traffic passes it (:meth:`~portplan.audit._rules.Ruleset.idle`)
    effect: str


@dataclass(slots=True, kw_only=True)
class AuditResult:
    """The findings of one audit, and what qualifies them."""

    host: str
    subject: str  #: what was audited: ``ruleset``, ``listening``
    platform: str
    files: tuple[str, ...]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rules: list[RuleServes] = field(default_factory=list)  #: for the annotated copy
    checked: int = 0  #: planned flows (rows) compared

    @property
    def passed(self) -> bool:
        return not self.findings
