"""Helpers for tests that run real servers from Debian packages on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

LOOPBACK = "127.0.0.1"


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary directory for one server's configuration, data and logs, removed after."""
    directory = Path(tempfile.mkdtemp(prefix=f"portplan-{name}-"))
    directory.chmod(0o755)  # servers drop to other users that must reach their files
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def free_ports(count: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> list[int]:
    """Distinct loopback ports free a moment ago (all held open together while chosen)."""
    sockets = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tail(log: Path, lines: int = 25) -> str:
    """The end of a server's log, for a failure message."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    args: list[str], directory: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            args,
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to stop its children too
        )


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the process we started, then SIGKILL to whatever is left of its group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
