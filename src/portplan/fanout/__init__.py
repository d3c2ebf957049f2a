"""Every source at once: ``portplan verify --inventory`` through Ansible.

:func:`plan_fanout` works out, from the plan, what each source host of the deployment must
probe (and, with listeners, what each destination must open), and which inventory host stands
for it; :func:`run_fanout` has Ansible run the collection's ``probe`` module on every source
in parallel (listeners first); :func:`merge` turns every host's records back into one
:class:`~portplan.probe.verify.Verification`, where a source Ansible could not reach is
``source-unreachable`` and one where probing failed (or that returned a result it was not
asked for) is ``not-run``, with the reason, never a network verdict.
:func:`verify_inventory` does the three.
"""

from portplan.fanout.merge import merge
from portplan.fanout.run import FanoutRun, HostResult, run_fanout, verify_inventory
from portplan.fanout.work import Fanout, SourceWork, plan_fanout

__all__ = [
    "Fanout",
    "FanoutRun",
    "HostResult",
    "SourceWork",
    "merge",
    "plan_fanout",
    "run_fanout",
    "verify_inventory",
]
