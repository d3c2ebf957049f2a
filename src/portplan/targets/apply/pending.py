"""A saved ruleset that a failed restore left behind (see :mod:`.confirmed`): apply refuses to
run while one waits, until the operator restores it or, having put the firewall right, clears
it.  Both take the host's apply lock: no apply or watchdog runs meanwhile."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from portplan._errors import ApplyError, ToolError
from portplan._text import one_line
from portplan.targets import get_target
from portplan.targets.apply.confirmed import claim_host, pending, read_state, saved_of, state_root
from portplan.targets.apply.outcome import RESTORED, failed_reason, locked, record, restore_twice

__all__ = ["Saved", "discard_saved", "restore_saved"]


class Saved:
    """The one saved copy waiting in this network namespace: its folder, target and why its
    restore failed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.target = str(read_state(folder)["target"])
        self.reason = failed_reason(folder)


def _waiting(root: Path) -> Saved:
    waiting = pending(root)
    if not waiting:
        raise ApplyError(
            "no saved ruleset waits to be restored on this host (in this network namespace): "
            "no restore after an apply has failed here"
        )
    if len(waiting) > 1:  # (apply refuses while one waits: only a run of an older version)
        raise ApplyError(
            f"{len(waiting)} saved rulesets wait on this host ({', '.join(map(str, waiting))}); "
            f"the oldest, {waiting[0]}, is the one saved before the first failed apply: "
            "restore it by hand, then remove these folders"
        )
    return Saved(waiting[0])


def restore_saved() -> Saved:
    """Load the waiting saved copy back, as the rollback would have (tried twice), and remove
    it once it is back.  :class:`ApplyError` when there is none, or restoring fails again:
    then it stays, with the new reason."""
    root = state_root()
    claim = claim_host(root)
    try:
        saved = _waiting(root)
        found = get_target(saved.target)
        if found.applier is None:
            raise ApplyError(f"target {saved.target} of the saved ruleset cannot be applied")
        with locked(saved.folder) as outcome:
            try:
                restore_twice(found.applier({}), saved_of(read_state(saved.folder)))
            except ToolError as error:
                with contextlib.suppress(OSError):  # (none recorded: it reads as never settled)
                    record(outcome, f"{RESTORED}: failed: {one_line(str(error))}")
                raise ApplyError(
                    f"restoring the saved {saved.target} ruleset failed again: "
                    f"{one_line(str(error))}; it is still kept in {saved.folder}/state.json"
                ) from error
            with contextlib.suppress(OSError):  # (a full disk: removed all the same)
                record(outcome, RESTORED)  # back in force: no longer waiting, removed or not
        shutil.rmtree(saved.folder, ignore_errors=True)
        return saved
    finally:
        os.close(claim)


def discard_saved() -> Saved:
    """Remove the waiting saved copy (the operator has put the firewall right); the firewall is
    left as it is.  :class:`ApplyError` when there is none."""
    root = state_root()
    claim = claim_host(root)
    try:
        saved = _waiting(root)
        shutil.rmtree(saved.folder)
        return saved
    finally:
        os.close(claim)
