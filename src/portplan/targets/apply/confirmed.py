"""``commit confirmed`` for host firewalls: a ruleset that is not confirmed in time is rolled
back, whatever happens to the process that applied it.

Before anything changes, the part of the running ruleset the new one replaces is saved and
proven to load back (in a network namespace of its own), and a watchdog is started: a process
of its own session (:mod:`.watchdog`), which survives the end of this one (SIGKILL, a dropped
SSH session's SIGHUP) and restores the saved ruleset at the deadline unless it has been told
the new one is kept.  The state both share lives in a folder only root can read, under
``/run/portplan``; a lock file decides who settles the outcome, once: ``kept`` (confirmed in
time), or ``restored`` (by this process on a refusal, an error or a signal, or by the
watchdog at the deadline).  A restore that failed leaves its folder, the saved copy in it:
apply refuses to run in that network namespace until the operator restores or clears it
(:func:`pending`, :mod:`.pending`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from portplan._errors import ApplyError, ToolError
from portplan._signals import signals_held
from portplan.targets.apply.outcome import (
    KEPT,
    RESTORED,
    failed_reason,
    kept_note,
    locked,
    outcome_of,
    prepare,
    settle,
)
from portplan.targets.base import Applier

__all__ = [
    "Confirmation",
    "claim_host",
    "pending",
    "process_identity",
    "read_state",
    "saved_of",
    "state_root",
]

#: seconds the watchdog may take to say it is ready, and to end once told
_WATCHDOG_WAIT = 30.0
#: seconds added to the deadline while the new ruleset loads
_LOAD_MARGIN = 300.0


def state_root(roots: Sequence[Path] | None = None) -> Path:
    """Where apply keeps its state: the first of ``roots`` it can make or use, by default
    ``/run/portplan`` (root), else ``portplan-apply`` in the temp folder.

    A folder that already exists is used only when it is a folder (not a link) of this
    user's own: in a temp folder anyone could have made it first, and the state it holds
    is a ruleset that root restores.
    """
    if roots is None:
        roots = (Path("/run/portplan"), Path(tempfile.gettempdir(), "portplan-apply"))
    refused = []
    for root in roots:
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            found = os.lstat(root)
            if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
                refused.append(f"{root} is a link, or another user's: remove it")
                continue
            os.chmod(root, 0o700)
        except OSError as exc:
            refused.append(f"{root}: {exc.strerror or exc}")
            continue
        return root
    raise ApplyError(f"no folder to keep the apply state in ({'; '.join(refused)})")


def process_identity(pid: int) -> list[int] | None:
    """A process's id and its start time (clock ticks since boot, from ``/proc``): a pid
    reused by another process does not match.  ``None`` when there is no such process, or
    it has ended: a zombie (killed, but its parent has not waited for it yet) stays in
    ``/proc`` with its start time, and confirms nothing."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = line.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
    if fields[0] in ("Z", "X"):  # field 3 of proc(5): state (zombie, dead)
        return None
    return [pid, int(fields[19])]  # field 22 of proc(5): starttime


def read_state(folder: Path) -> dict[str, object]:
    """The state of one apply: target, deadline (time.monotonic()), and the saved ruleset."""
    state: dict[str, object] = json.loads((folder / "state.json").read_text())
    return state


def saved_of(state: Mapping[str, object]) -> dict[str, bytes]:
    saved = state["saved"]
    assert isinstance(saved, dict)
    return {key: base64.b64decode(value) for key, value in saved.items()}


#: SO_NETNS_COOKIE (Linux 5.14): a network namespace's number, never reused until reboot
_SO_NETNS_COOKIE = getattr(socket, "SO_NETNS_COOKIE", 71)


def _network_namespace() -> int:
    """This process's network namespace (its inode): a firewall belongs to one.  The inode
    of a namespace that is gone may be given to a new one: it names the apply lock, held only
    while an apply runs; a saved copy is matched by :func:`_namespace_identity`."""
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0  # no /proc: one for the machine


def _namespace_identity() -> str:
    """This network namespace, as no other namespace will be named before the machine
    restarts (and /run with it): its cookie, where the kernel gives one, else its inode."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            cookie = probe.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8)
        return f"cookie {int.from_bytes(cookie, sys.byteorder)}"
    except OSError:
        return f"inode {_network_namespace()}"


def pending(root: Path) -> list[Path]:
    """The state folders of this network namespace whose restore failed, or that no outcome
    settled, oldest first: each keeps a ruleset saved before an apply that is not known to be
    back in force.  The caller holds the host's apply lock (:func:`claim_host`), which an
    apply and its watchdog hold until both end: a folder of this namespace without an outcome
    is then one that nobody will settle."""
    found = []
    here = _namespace_identity()
    for folder in root.glob("apply-*"):
        try:
            state = read_state(folder)
        except (OSError, ValueError):
            continue  # being made, or removed
        # (a state written before the namespace was recorded is not known to be this one's)
        if state.get("netns") != here:
            continue
        try:
            outcome = outcome_of(folder)
        except OSError:
            continue
        if outcome.startswith(f"{RESTORED}: failed"):
            found.append((float(str(state.get("saved_at", 0))), folder))
    return [folder for _saved_at, folder in sorted(found)]


def _refuse_pending(root: Path) -> None:
    """Refuse while a failed restore's saved copy waits: this apply would save what is in force
    now (the ruleset that could not be rolled back) as "the previous one", and its own
    rollback would bring that back."""
    waiting = pending(root)
    if not waiting:
        return
    reason = failed_reason(waiting[0])
    raise ApplyError(
        f"an earlier apply on this host could not restore the ruleset it had saved ({reason}); "
        f"nothing was changed: applying now would save the ruleset in force instead, and a "
        f"rollback would bring that back. Check the host's firewall; {kept_note(waiting[0])}"
    )


def claim_host(root: Path) -> int:
    """Take the host's apply lock, or refuse: one apply at a time.

    A second apply while the first waits for 'yes' would save the first one's unconfirmed
    ruleset as "the previous one" and bring it back.  The lock is an open file description:
    the watchdog inherits it, so it stays taken until the outcome is settled and both ended.
    A firewall belongs to a network namespace, so the lock does too (``ROOT/net-INODE.lock``:
    network namespaces that share ``/run``, as ``ip netns exec`` ones do, do not wait for
    each other).
    """
    path = root / f"net-{_network_namespace()}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ApplyError(
            "another portplan apply on this host is still waiting for its confirmation (or "
            "for its watchdog to restore the ruleset before it); nothing was changed. Confirm "
            "or refuse that one, or wait for its deadline, then run this one again"
        ) from None
    return fd


class Confirmation:
    """One apply of ``applier``'s ruleset, kept only if confirmed within ``timeout`` seconds."""

    def __init__(self, target: str, applier: Applier, timeout: float) -> None:
        self.target = target
        self.applier = applier
        self.timeout = timeout
        self.saved: dict[str, bytes] = {}
        self.folder: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._claim: int | None = None  #: the host's apply lock, while this apply is open
        #: readable once the watchdog has ended (a pidfd; None where the kernel has none)
        self.watchdog_ended: int | None = None
        #: how the watchdog ended (0: it settled, or saw the outcome settled), once it has
        self.watchdog_status: int | None = None
        #: whether loading began: before, the host holds the ruleset it had, whatever happens
        self.changing = False
        #: the settled outcome (:data:`KEPT`, :data:`RESTORED`), once this process settled it
        self.outcome: str | None = None

    def begin(self) -> None:
        """Claim the host, save, prove restorable, start the watchdog, load.

        If loading fails, the saved ruleset is restored (whatever part of the new one went
        in) and the error is raised, saying whether restoring worked.  The signals that end
        portplan are held while the ruleset loads: one that comes then is delivered once the
        load has ended, and the previous ruleset is restored before portplan ends.
        """
        self._claim = claim_host(state_root())
        try:
            _refuse_pending(state_root())
            self.saved = self.applier.snapshot()
            self.applier.prove_restorable(self.saved)
            self.folder = Path(tempfile.mkdtemp(prefix="apply-", dir=state_root()))
            state = {
                "target": self.target,
                # until the load ends (each tool may take a minute), then moved to its end + timeout
                "deadline": time.monotonic() + self.timeout + _LOAD_MARGIN,
                "saved": {k: base64.b64encode(v).decode() for k, v in self.saved.items()},
                # this process: once it is gone, nobody can confirm (see the watchdog)
                "owner": process_identity(os.getpid()),
                # whose firewall this is, and when it was saved (see pending())
                "netns": _namespace_identity(),
                "saved_at": time.time(),
            }
            (self.folder / "state.json").write_text(json.dumps(state))
            prepare(self.folder)
            self._start_watchdog()
        except BaseException:
            self._discard()
            raise
        try:
            with signals_held():
                self.changing = True
                try:
                    self.applier.load(self.saved)
                except ToolError as error:  # (failed, or did not finish: killed)
                    # as any restore: settled once, tried twice, and if it fails, recorded
                    # with the saved copy kept
                    try:
                        self._end(keep=False)
                    except ToolError as failed:
                        message = f"{error}; and restoring the previous ruleset failed: {failed}"
                        raise ApplyError(message) from failed
                    raise ApplyError(f"{error}; the previous ruleset is back") from error
                # the deadline counts from the load (the watchdog reads it when the time comes)
                state["deadline"] = time.monotonic() + self.timeout
                if not self._still_watched(state):
                    self._restore_after_the_watchdog(state)
        except ApplyError:
            raise
        except BaseException:  # a signal held during the load, or an error writing the state
            if not self.changing:  # (one that came before the load began: nothing changed)
                self._discard()
            else:
                self.roll_back()
            raise

    def _still_watched(self, state: Mapping[str, object]) -> bool:
        """Once loaded: move the deadline, unless the watchdog settled while the load ran (its
        state folder removed, or stopped past the deadline): then it restored a ruleset the
        load has replaced since.  (It records the outcome, then removes state.json first.)"""
        assert self.folder is not None
        try:
            with locked(self.folder) as outcome:
                if outcome.exists() or not (self.folder / "state.json").exists():
                    return False
                (self.folder / "state.json.new").write_text(json.dumps(state))
                os.replace(self.folder / "state.json.new", self.folder / "state.json")
        except FileNotFoundError:  # (the folder is gone)
            return False
        return True

    def _restore_after_the_watchdog(self, state: Mapping[str, object]) -> None:
        """Restore again what the watchdog restored before the load ended, as any restore
        (tried twice; if it fails, recorded with the saved copy kept), and say so."""
        assert self.folder is not None
        self._stop_watchdog()  # (it has settled, or settles now: it restores nothing later)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # (its root too, if removed)
        (self.folder / "state.json").write_text(json.dumps(state))
        (self.folder / "outcome").unlink(missing_ok=True)
        self._end(keep=False)
        raise ApplyError(
            f"the watchdog restored the previous ruleset before the new one had loaded (it was "
            f"stopped, its state folder {self.folder} removed, or the deadline passed while "
            "loading), so the new ruleset was in force unwatched; the previous ruleset is back"
        )

    def _discard(self) -> None:
        """Give up before loading: nothing changed, so the watchdog must not restore (it would
        reload the saved copy over whatever another tool changed since), and ends at once."""
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._release()

    def _start_watchdog(self) -> None:
        assert self.folder is not None
        self._watchdog = subprocess.Popen(
            # -P, and "/" to work in: `-m` would look for the watchdog's modules in the working
            # folder first, and as root in a folder others write to (/tmp) run theirs
            [sys.executable, "-P", "-m", "portplan.targets.apply.watchdog", str(self.folder)],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own session: a hang-up of this one does not reach it
            close_fds=True,
            # the host's apply lock: held until the watchdog ends too, should this process die
            pass_fds=() if self._claim is None else (self._claim,),
        )
        assert self._watchdog.stdout is not None
        ready, _, _ = select.select([self._watchdog.stdout], [], [], _WATCHDOG_WAIT)
        line = self._watchdog.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self._watchdog.kill()
            self._watchdog.wait()
            raise ApplyError("the watchdog that would restore an unconfirmed ruleset did not start")
        with contextlib.suppress(OSError):  # (Linux 5.3 or later)
            self.watchdog_ended = os.pidfd_open(self._watchdog.pid)

    def keep(self) -> bool:
        """Confirm: True if the new ruleset is kept, False if the deadline came first."""
        return self._end(keep=True) == KEPT

    def roll_back(self) -> None:
        """Restore the saved ruleset now (unless already settled)."""
        self._end(keep=False)

    def _end(self, *, keep: bool) -> str:
        assert self.folder is not None
        with signals_held():  # a restore cut in half would leave neither ruleset
            settled = False
            try:
                try:
                    outcome = settle(self.folder, self.applier, self.saved, keep=keep)
                except FileNotFoundError:
                    # the watchdog settled at the deadline, restored and removed its folder
                    # (it keeps the folder when restoring failed)
                    outcome = RESTORED
                settled = True
                self.outcome = outcome  # (before a signal held meanwhile ends this process)
                if outcome == KEPT:  # (still holding the host: no other apply saves meanwhile)
                    self.applier.kept()
            finally:
                # once an outcome is recorded, a failed restore too, the watchdog has nothing
                # left to do (settling is never tried again): it ends now, with the apply
                # lock.  (Not recorded, by an error of another kind: it is left to settle.)
                if settled or (self.folder / "outcome").exists():
                    self._stop_watchdog()
                    self._release()
            # settled, and the watchdog has ended: a watchdog that was killed left its folder
            # (a failed restore keeps it: the saved copy, for the operator; see pending())
            shutil.rmtree(self.folder, ignore_errors=True)
        return outcome

    def _stop_watchdog(self) -> None:
        """End the watchdog (it reads the outcome, and ends) and wait for it."""
        if self._watchdog is None:
            return
        self._watchdog.terminate()
        try:
            self._watchdog.wait(timeout=_WATCHDOG_WAIT)
        except subprocess.TimeoutExpired:
            self._watchdog.kill()
            self._watchdog.wait()
        self.watchdog_status = self._watchdog.returncode
        self._watchdog = None

    def _release(self) -> None:
        if self._claim is not None:
            os.close(self._claim)
            self._claim = None
        if self.watchdog_ended is not None:
            os.close(self.watchdog_ended)
            self.watchdog_ended = None
