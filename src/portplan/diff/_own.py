"""What changes in the rules a host holds itself where no packet between zones changes.

A zone firewall sees a row's packets: the source's addresses, the destination's, the port the
source connects to.  Some of portplan's rules are the destination's own, and say more: where
the destination's service listens behind a published port (a NetworkPolicy allows the port on
the pods; ``listen`` and ``audit`` use it).  When only that changes, the plans still differ:
each such change is given here, to be listed with no packet to open or close, and what
changes in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from portplan.diff._kind import ChangeKind
from portplan.model.ports import PortSet
from portplan.plan import PlannedFlow

__all__ = ["OwnRules"]


def _listening(rows: Sequence[PlannedFlow]) -> PortSet:
    return PortSet.of(r for row in rows for r in row.listening_ports.ranges)


def _listen(was: Sequence[PlannedFlow], now: Sequence[PlannedFlow]) -> str | None:
    """Where the destination listens behind the published ports, when that changes."""
    if not was or not now:  # (a row new or gone: its packets open or close)
        return None
    if all(row.listen_ports is None for row in (*was, *now)):
        return None  # (it listens where the source connects: the packets say it all)
    before, after = _listening(was), _listening(now)
    if before == after:
        return None
    protocol = now[0].protocol.value
    return f"listens on {protocol}/{after or 'none'}, was {protocol}/{before or 'none'}"


class OwnRules:
    """The changes of the rows of one key that only the hosts' own rules show."""

    def changes(
        self, was: Sequence[PlannedFlow], now: Sequence[PlannedFlow]
    ) -> list[tuple[ChangeKind, str]]:
        """Each change of the rows ``was`` to ``now`` (one key's) with what changes, in words."""
        found = []
        listen = _listen(was, now)
        if listen is not None:
            found.append((ChangeKind.LISTEN, listen))
        return found
