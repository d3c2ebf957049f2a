"""Two plans compared as packet sets: what to open, what to close, and why.

:func:`diff_plans` compares the plans of two deployments (two files, one file at two git
revisions, or one deployment with a product swapped) and gives each change as ``open``,
``close``, ``widen``, ``narrow``, ``readdress`` or ``moved`` (to another zone boundary), or
``listen`` (the packets between zones stay, the destination's listening port changes) or
``pods`` (the packets stay, an end stands for other Kubernetes pods) or ``rehost`` (the
packets stay, held by the own rules of a host added or removed),
attributed to its causes.
"""

from portplan.diff._causes import Side
from portplan.diff._compare import Change, PlanDiff, diff_plans
from portplan.diff._kind import ChangeKind

__all__ = ["Change", "ChangeKind", "PlanDiff", "Side", "diff_plans"]
