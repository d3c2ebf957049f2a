"""The signals that end portplan, and holding them while something must not be cut in half.

A held signal is not lost: it is delivered when the block ends, and ends portplan then.
Commands started while the signals are held inherit the mask, so a Ctrl-C at the terminal
does not kill them half-way either.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["ENDING", "first_ctrl_c", "signals_held"]

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


@contextlib.contextmanager
def first_ctrl_c() -> Iterator[threading.Event]:
    """An event the first Ctrl-C while the block runs sets, for work that stops and reports
    what it has; a second one interrupts at once.  SIGINT's handler is as it was afterwards.
    (Outside the main thread, which alone receives signals, the event is never set.)"""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return

    def first(_signum: int, _frame: object) -> None:
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)
