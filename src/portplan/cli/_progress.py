"""A transient progress bar on the terminal, for work that takes a while."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

__all__ = ["ProgressBar", "wants_progress"]

log = logging.getLogger("portplan")


def wants_progress() -> bool:
    """Whether a bar may show: standard error is a terminal and progress is not silenced
    (``-q``)."""
    return sys.stderr.isatty() and log.isEnabledFor(logging.INFO)


class ProgressBar:
    """A transient progress bar (rich) on standard error, named ``label``, while the block
    runs, when ``shown``; the block gets ``advance(done, total)`` (``None`` when not
    shown)."""

    def __init__(self, shown: bool, label: str) -> None:
        self.shown = shown
        self.label = label

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.shown:
            return None
        from rich.console import Console  # noqa: PLC0415 - only on a terminal (40 ms)
        from rich.progress import Progress  # noqa: PLC0415

        self.bar = Progress(console=Console(stderr=True), transient=True)
        task = self.bar.add_task(self.label, total=None)
        self.bar.start()
        return lambda done, total: self.bar.update(task, completed=done, total=total)

    def __exit__(self, *_exc: object) -> None:
        if self.shown:
            self.bar.stop()
