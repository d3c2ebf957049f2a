"""The command line's logger, and how ``-v``/``-q`` set what it says.

Apart from :mod:`portplan.cli._options` so that ``portplan --help`` does not import
:mod:`logging` (and :mod:`traceback` with it): the options import this module when ``-v``
and ``-q`` are parsed (click calls their callbacks on every run, with 0 when they are not
given, but ``--help`` ends the run before), and the commands when they run.
"""

from __future__ import annotations

import logging
import traceback

import click

from portplan._text import escaped

__all__ = ["log", "set_verbosity"]

#: the logger of the command line; library modules log under ``portplan.<module>``
log = logging.getLogger("portplan")

_VERBOSITY = "portplan.verbosity"


class _EchoHandler(logging.Handler):
    """Log records as ``portplan: warning: ...`` lines on standard error (through click, so
    the CLI runner of the tests sees them too)."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname.lower()
        prefix = "portplan: " if level == "info" else f"portplan: {level}: "
        message = record.getMessage()
        if record.exc_info:  # a failure a command goes on past, with its traceback (-v)
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        click.echo(escaped(prefix + message, newlines=True), err=True)  # a name colours nothing


_HANDLER = _EchoHandler()


def set_verbosity(ctx: click.Context, change: int) -> None:
    """Adjust the log level: what is done and warnings by default, ``-v`` also the details
    (the commands apply runs), ``-q`` warnings only, ``-qq`` errors only."""
    meta = ctx.find_root().meta
    meta[_VERBOSITY] = meta.get(_VERBOSITY, 0) + change
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(
        max(-2, min(meta[_VERBOSITY], 1)), logging.DEBUG
    )
    root = logging.getLogger("portplan")
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
        root.propagate = False
    root.setLevel(level)
