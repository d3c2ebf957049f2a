"""A verification that ends early: how long a run may take, and what becomes of the checks
its deadline, or an interruption (Ctrl-C), came before."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from portplan.probe.checks import FlowCheck
from portplan.probe.engine import DEADLINE_CAME, INTERRUPTED, Evidence, Outcome, PortResult

__all__ = ["MAX_DEFAULT_DEADLINE", "cut_short", "default_deadline", "not_probed"]


def cut_short(check: FlowCheck, protocol: str | None, stopped: bool = False) -> None:
    """An open port (or a silent UDP port, ``open|filtered``, that its own protocol may yet
    make open) the deadline (or an interruption: ``stopped``) came to before its
    identification ended.  When the plan names a protocol to identify it by (``protocol``),
    the check is ``unfinished``, as a port not settled is: an open port alone does not prove
    the service the plan asks for."""
    check.notes.append(f"not identified: {INTERRUPTED if stopped else DEADLINE_CAME}")
    result = check.result
    if protocol is None or result is None:
        return
    came = "the run was interrupted (Ctrl-C)" if stopped else "the deadline came"
    note = f"{result.outcome.value}; {came} before it was identified as {protocol}"
    evidence = replace(result.evidence, note=note)
    check.result = replace(result, outcome=Outcome.UNFINISHED, evidence=evidence)


def not_probed(checks: Sequence[FlowCheck]) -> None:
    """The checks without a result when the run was interrupted: ``unfinished``."""
    for check in checks:
        if check.result is None:
            evidence = Evidence(attempts=0, note=f"not probed: {INTERRUPTED}")
            check.result = PortResult(
                probe=check.probe, outcome=Outcome.UNFINISHED, evidence=evidence
            )


#: the longest a verification runs unless told otherwise (``--deadline``), in seconds
MAX_DEFAULT_DEADLINE = 3600.0


def default_deadline(checks: Sequence[FlowCheck]) -> float:
    """How long a run of ``checks`` may take, unless told: a minute, plus 1.5 s for every
    port of the busiest destination (an ICMP rate limit answers one a second), at most
    :data:`MAX_DEFAULT_DEADLINE`."""
    per_destination: dict[str, int] = {}
    for check in checks:
        address = check.probe.address
        per_destination[address] = per_destination.get(address, 0) + 1
    busiest = max(per_destination.values(), default=0)
    return min(MAX_DEFAULT_DEADLINE, 60.0 + 1.5 * busiest)
