"""What verify probes and what it found: a :class:`FlowCheck` per (row, destination address,
port), and the rows it does not probe (:class:`Skipped`) with the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portplan.probe.dns import NameLookup
from portplan.probe.engine import BLOCKED_OUTCOMES, Outcome, PortProbe, PortResult
from portplan.probe.identify import Identification
from portplan.probe.listen import LISTENER_TOKEN
from portplan.probe.outcomes import as_blocked
from portplan.probe.rows import CheckRow

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import PlannedFlow

__all__ = ["FlowCheck", "Skipped", "attach"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """A planned row verify cannot probe from here, and why."""

    row: PlannedFlow
    reason: str


@dataclass(slots=True, kw_only=True)
class FlowCheck:
    """One probed (row, destination address, port), its outcome and what answered."""

    row: CheckRow
    probe: PortProbe
    result: PortResult | None = None
    identification: Identification | None = None
    temporary_listener: bool = False  #: a `portplan listen` listener answered
    notes: list[str] = field(default_factory=list)
    #: the destination's DNS name, when the product reaches it by name; for a name that did
    #: not resolve, ``probe.address`` is the name itself (and nothing is probed)
    dns_name: str | None = None
    lookup: NameLookup | None = None  #: what ``dns_name`` resolved to, once resolved
    #: a connection the plan does not hold (``--expect-blocked``): it passes when blocked
    expect_blocked: bool = False
    #: a destination known by name only: the addresses this machine sends from (one per
    #: family), one of which is chosen once the name has resolved
    own_sources: tuple[str, ...] = ()
    #: a source known by name only: what its name resolved to where the probe was sent (the
    #: address it was sent from is one of them, or the kernel's choice when none is here)
    source_lookup: NameLookup | None = None

    @property
    def outcome(self) -> Outcome | None:
        return self.result.outcome if self.result else None

    @property
    def address(self) -> str | None:
        """The destination address; ``None`` when it stands for a name that did not resolve."""
        return None if self.probe.address == self.dns_name else self.probe.address

    @property
    def passed(self) -> bool:
        if self.expect_blocked:
            return self.result is not None and self.result.outcome in BLOCKED_OUTCOMES
        if self.result is None or not self.result.outcome.passes:
            return False
        return self.identification is None or self.identification.matches


def attach(checks: Sequence[FlowCheck], results: Sequence[PortResult]) -> None:
    """Store each probe result on its check (same order); a check expected blocked gets the
    verdict :func:`~portplan.probe.outcomes.as_blocked` gives."""
    for check, result in zip(checks, results, strict=True):
        check.result = as_blocked(result) if check.expect_blocked else result
        # the listener answers "<token> <datagram>": a plain echo of our token is not it
        if result.reply.startswith(LISTENER_TOKEN + b" "):
            check.temporary_listener = True
