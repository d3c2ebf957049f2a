"""The outcome of one apply, settled once: ``kept`` (confirmed in time) or ``restored`` (the
saved ruleset back, by the applying process or its watchdog), or a restore that failed, with
its reason.  It lives in the apply's state folder (``outcome``); a lock file there decides who
settles it (see :mod:`.confirmed`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from portplan._errors import ApplyError, ToolError
from portplan._text import one_line
from portplan.targets.base import Applier

__all__ = [
    "KEPT",
    "NEVER_SETTLED",
    "RESTORED",
    "failed_reason",
    "kept_note",
    "locked",
    "outcome_of",
    "prepare",
    "record",
    "restore_twice",
    "settle",
]

KEPT = "kept"
RESTORED = "restored"
#: seconds between a restore that failed and the second try
_RETRY_PAUSE = 0.5


#: the outcome of an apply whose process and watchdog both ended before recording one (or
#: could not record it: a full disk)
NEVER_SETTLED = (
    f"{RESTORED}: failed: never settled (portplan and its watchdog ended, killed, before "
    "either recorded an outcome, or could not record it: the ruleset in force may be the "
    "unconfirmed new one)"
)


def outcome_of(folder: Path) -> str:
    """The outcome recorded in ``folder``; :data:`NEVER_SETTLED` where none was."""
    try:
        return (folder / "outcome").read_text()
    except FileNotFoundError:
        return NEVER_SETTLED


def failed_reason(folder: Path) -> str:
    """Why the saved copy in ``folder`` (one of :func:`.confirmed.pending`) waits."""
    return outcome_of(folder).split(": failed: ", 1)[-1]


def kept_note(folder: Path) -> str:
    """What the operator does about a saved copy a failed restore left in ``folder``."""
    return (
        f"the saved copy is kept in {folder}/state.json: once the cause is fixed, run "
        "`portplan apply --restore-saved` to load it back, or `portplan apply --discard-saved` "
        "to remove it if you have put the firewall right yourself; until then apply refuses "
        "to run"
    )


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[Path]:
    """The lock that decides who settles the outcome of one apply; yields its outcome file."""
    with open(folder / "lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder / "outcome"
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prepare(folder: Path) -> None:
    """Write the outcomes ``kept`` and ``restored`` ahead, beside the state (before anything
    changes): recording one of them is then a rename, which needs no free space.  A full
    ``/run`` must not lose a 'yes' (nor leave an empty outcome, which reads as settled)."""
    (folder / "lock").touch()
    for text in (KEPT, RESTORED):
        (folder / f"outcome.{text}").write_text(text)


def record(outcome: Path, text: str) -> None:
    """Record ``text`` in the ``outcome`` file, whole or not at all: the one :func:`prepare`
    wrote, renamed, or a new file written beside it, then renamed.  :class:`OSError` when it
    cannot be (no outcome is recorded then)."""
    if text in (KEPT, RESTORED):
        with contextlib.suppress(FileNotFoundError):
            os.replace(outcome.with_name(f"outcome.{text}"), outcome)
            return
    written = outcome.with_name("outcome.new")
    try:
        written.write_text(text)
        os.replace(written, outcome)
    except OSError:
        written.unlink(missing_ok=True)
        raise


def settle(folder: Path, applier: Applier, saved: Mapping[str, bytes], *, keep: bool) -> str:
    """Settle the outcome once, under the lock: keep the new ruleset, or restore the saved
    one; an outcome already settled stands.  Returns the outcome.

    :class:`ApplyError` when restoring fails (a tool that failed, is gone or hung, twice),
    now or when it was settled before (by the watchdog at the deadline): then neither
    ruleset may be in force, and the operator must be told.  Also when a 'yes' cannot be
    recorded (nothing would tell the watchdog): then the saved ruleset is restored at once.
    A restore that worked but cannot be recorded is still one: the watchdog, finding no
    outcome, restores the same copy again and ends.
    """
    with locked(folder) as outcome:
        if outcome.exists():
            settled = outcome.read_text()
            if settled.startswith(f"{RESTORED}: failed"):
                raise ApplyError(
                    f"before this apply settled, a restore (the watchdog's, at the deadline or "
                    f"once portplan seemed gone, or an earlier one here) could not restore the "
                    f"previous ruleset ({failed_reason(folder)}); check the host's firewall "
                    f"now; {kept_note(folder)}"
                )
            return settled.split(":", 1)[0]
        unrecorded = None
        if keep:
            try:
                record(outcome, KEPT)
            except OSError as error:
                unrecorded = error  # (the watchdog would restore it at its deadline: now)
            else:
                return KEPT
        try:
            restore_twice(applier, saved)
        except ToolError as error:  # (ApplyError too; or a tool that is gone, or hung)
            told = one_line(str(error))  # a tool's output may run over lines
            with contextlib.suppress(OSError):  # (none recorded: it reads as never settled)
                record(outcome, f"{RESTORED}: failed: {told}")
            said = (
                told
                if isinstance(error, ApplyError)
                else f"restoring the previous ruleset failed: {told}"
            )
            raise ApplyError(f"{said}; {kept_note(folder)}") from error
        with contextlib.suppress(OSError):
            record(outcome, RESTORED)
        if unrecorded is not None:
            raise ApplyError(
                f"the confirmation could not be recorded in {folder} "
                f"({unrecorded.strerror or unrecorded}), so nothing would have kept the "
                "watchdog from restoring the previous ruleset: it is restored now. Make room "
                f"in {folder.parent} and apply again"
            )
        return RESTORED


def restore_twice(applier: Applier, saved: Mapping[str, bytes]) -> None:
    """Restore, and once more after a pause if that fails: a busy lock, a kernel short of
    memory for a moment, must not leave the new ruleset in force."""
    try:
        applier.restore(saved)
    except ToolError:
        time.sleep(_RETRY_PAUSE)
        applier.restore(saved)
