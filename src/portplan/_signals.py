"""The signals that end portplan, and holding them while something must not be cut in half.

A held signal is not lost: it is delivered when the block ends, and ends portplan then.
Commands started while the signals are held inherit the mask, so a Ctrl-C at the terminal
does not kill them half-way either.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["ENDING", "signals_held"]

#: the signals that end portplan (Ctrl-C, kill, a closed terminal, Ctrl-\)
ENDING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold :data:`ENDING` until the block ends (then a held one is delivered)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
