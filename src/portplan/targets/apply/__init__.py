"""Applying a host's ruleset on the machine itself, safely.

The sequence ``portplan apply`` follows, as ``iptables-apply`` does:

1. render the host's ruleset and check it with the platform's own checker (``nft -c``,
   ``iptables-restore --test``); a ruleset that fails is refused and nothing changes;
2. refuse a ruleset that would cut the operator's own SSH session (``SSH_CONNECTION``) or a
   management access the deployment declares (:func:`lockout_problems`);
3. save what the new ruleset replaces and prove it loads back, start a watchdog that restores
   it at the deadline whatever becomes of this process, apply the new one as one unit;
4. keep it only if the operator confirms within the timeout; otherwise (refusal, silence,
   Ctrl-C, SIGTERM, SIGHUP, SIGKILL) restore the saved one (:mod:`.confirmed`);
5. if restoring fails, keep the saved copy and refuse to apply again until the operator
   restores it or clears it (:mod:`.pending`).

Each target that can be applied names its :class:`~portplan.targets.base.Applier`; this
package runs the commands, the CLI talks to the operator.
"""

from __future__ import annotations

from dataclasses import replace

from portplan._errors import TargetError
from portplan.plan import Plan
from portplan.targets import get_target, target_names
from portplan.targets.apply.confirmed import Confirmation
from portplan.targets.apply.leftover import other_target_ruleset
from portplan.targets.apply.lockout import Lockout, lockout_problems
from portplan.targets.apply.outcome import KEPT
from portplan.targets.apply.pending import Saved, discard_saved, restore_saved
from portplan.targets.base import Applier, RuleOptions, Scope

__all__ = [
    "KEPT",
    "Confirmation",
    "Lockout",
    "Saved",
    "applier_for",
    "discard_saved",
    "lockout_problems",
    "other_target_ruleset",
    "restore_saved",
]


def applier_for(plan: Plan, host: str, target: str, options: RuleOptions) -> Applier:
    """Render ``host``'s ruleset for ``target`` and wrap it in the target's applier."""
    found = get_target(target)
    if found.applier is None or found.scope is not Scope.HOST:
        can = [n for n in target_names() if get_target(n).applier is not None]
        raise TargetError(
            f"target {target} cannot be applied here; apply supports {', '.join(can)}; "
            "use `portplan rules` to generate the other targets' files"
        )
    return found.applier(found.render(plan, replace(options, hosts=(host,))))
