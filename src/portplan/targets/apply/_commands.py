"""Running the platform's own tools for apply: bounded in time, their failures explained."""

from __future__ import annotations

import ctypes
import logging
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from portplan._errors import ApplyError, ToolError
from portplan._tools import PACKAGES as _PACKAGES

__all__ = ["checked", "in_scratch_namespace", "run"]

_log = logging.getLogger("portplan.apply")
_TIMEOUT = 60  # seconds any one command may take
_PR_SET_PDEATHSIG = 1  #: prctl(2)


def run(argv: Sequence[str], data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a tool with ``data`` on its standard input; :class:`ToolError` when it is missing or
    does not finish in time.  The command is logged (shown with ``portplan -v``)."""
    if shutil.which(argv[0]) is None:
        package = _PACKAGES.get(argv[0], argv[0])
        raise ToolError(
            f"{argv[0]} is not installed; install it (Debian package {package}) and run again"
        )
    _log.debug("running: %s", shlex.join(argv))
    try:
        return subprocess.run(
            list(argv),
            # without data, nothing: a tool never reads the terminal the 'yes' comes from
            input=b"" if data is None else data,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
            preexec_fn=_die_with_parent,  # (apply runs no threads: a pre-exec hook is safe)
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{' '.join(argv)} did not finish within {_TIMEOUT} s") from exc


def _die_with_parent() -> None:
    """In the child, before it runs the tool: be killed when portplan dies (SIGKILL too).

    A load that outlived a killed portplan could finish after the watchdog restored the
    previous ruleset, and leave the new one in force with nobody to confirm it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def checked(argv: Sequence[str], data: bytes | None, what: str) -> bytes:
    """Run a tool and return its output; :class:`ApplyError` naming ``what`` when it fails."""
    result = run(argv, data)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        _log.debug("%s exited %d: %s", argv[0], result.returncode, detail)
        raise ApplyError(f"{what} failed ({' '.join(argv)} exited {result.returncode}): {detail}")
    return result.stdout


def in_scratch_namespace(
    files: Mapping[str, bytes], steps: Sequence[str], what: str, results: Sequence[str] = ()
) -> dict[str, bytes]:
    """Run shell ``steps`` in a network namespace of their own, gone when they end, with
    ``files`` written to the working folder: loading a ruleset there harms nothing.

    Each step is a command line naming files of ``files`` (which are quoted by their
    writer); :class:`ApplyError` naming ``what`` when one fails.  Returns the files named in
    ``results`` that the steps wrote.
    """
    with tempfile.TemporaryDirectory(prefix="portplan-scratch-") as scratch:
        for name, data in files.items():
            Path(scratch, name).write_bytes(data)
        script = "\n".join([f"cd {shlex.quote(scratch)}", *steps]).encode()
        checked(["unshare", "--net", "sh", "-e", "-s"], script, what)
        return {name: Path(scratch, name).read_bytes() for name in results}
