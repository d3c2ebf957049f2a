"""The watchdog of one ``portplan apply``: restores the saved ruleset at the deadline unless
the new one was kept (see :mod:`.confirmed`).

Started in a session of its own, it outlives the process that applied the ruleset (SIGKILL,
SIGHUP).  SIGINT, SIGHUP and SIGQUIT are ignored; SIGTERM (what the applying process sends once the
outcome is settled) ends it at once — restoring first if nothing was settled, so that ending
it early can never keep an unconfirmed ruleset.  It removes the state folder when it ends,
unless restoring failed: then the folder's ``outcome`` says why, for the applying process
(if it is still there) and the operator.

    python -m portplan.targets.apply.watchdog STATE_FOLDER
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from portplan._errors import PortplanError
from portplan.targets import get_target
from portplan.targets.apply.confirmed import process_identity, read_state, saved_of
from portplan.targets.apply.outcome import restore_twice, settle
from portplan.targets.base import Applier

#: set by SIGTERM: stop waiting (a flag, not an exception: nothing may cut the settling short)
_stopped: list[bool] = []


def _stop(_signum: int, _frame: object) -> None:
    _stopped.append(True)


def watch(folder: Path, applier: Applier, saved: Mapping[str, bytes], owner: object) -> int:
    """Wait for the deadline (or SIGTERM), then settle: restore ``saved`` unless kept.  What
    to restore was read before the watchdog said it was ready: it holds whatever becomes of
    the folder."""
    seen: tuple[int, int, int] | None = None
    deadline = 0.0
    while not _stopped:
        try:
            # re-read when replaced (the deadline moves after the load): the state holds the
            # saved ruleset, every address set's members too, and is no file to parse ten
            # times a second
            stat = os.stat(folder / "state.json")
            if (stat.st_ino, stat.st_mtime_ns, stat.st_size) != seen:
                deadline = float(str(read_state(folder)["deadline"]))
                seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError, KeyError):
            # the state is gone or unreadable (its folder deleted, a full disk): nobody can
            # confirm through it any more, so restore now rather than never
            break
        left = deadline - time.monotonic()
        if left <= 0 or (folder / "outcome").exists():
            break
        if isinstance(owner, list) and process_identity(owner[0]) != owner:
            # the applying process is gone (SIGKILL, the OOM killer): nobody can confirm any
            # more, and the tools it ran died with it (see _commands.run), so restore now
            # rather than at a deadline that, during a load, is minutes away
            break
        time.sleep(min(left, 0.1))
    try:
        settle(folder, applier, saved, keep=False)
    except PortplanError:
        return 1
    except OSError:
        # no folder left to hold the lock and the outcome: restore without them (nobody
        # can have confirmed through a folder that is gone)
        try:
            restore_twice(applier, saved)
        except PortplanError:
            return 1
    return 0


def main(argv: list[str]) -> int:
    for ignored in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(ignored, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    folder = Path(argv[1])
    # not ready before it holds what it must restore, and knows how
    state = read_state(folder)
    applier_class = get_target(str(state["target"])).applier
    if applier_class is None:
        return 2
    saved = saved_of(state)
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    except OSError:
        # nobody reads it (a broken pipe): the applying process ended (killed) before it read
        # 'ready', and it loads nothing before it has, so nothing changed and there is nothing
        # to restore.  Left, the folder would read as an apply never settled, and block the
        # next one until --restore-saved
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    finally:
        with contextlib.suppress(OSError):  # (closed all the same)
            sys.stdout.close()
    status = 1
    try:
        status = watch(folder, applier_class({}), saved, state.get("owner"))
    finally:
        if status == 0:  # a failed restore leaves the folder and its outcome, for the operator
            # state.json first: until the folder is gone, its outcome or its absence says that
            # the watchdog has settled (see Confirmation._still_watched)
            with contextlib.suppress(OSError):
                (folder / "state.json").unlink()
            shutil.rmtree(folder, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
