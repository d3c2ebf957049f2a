"""The one exit-code table of the command line, and the one place errors become exits.

Library exceptions carry no exit status; their builtin family decides it here
(see :mod:`portplan._errors`).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EXIT_CODES_HELP", "ExitCode", "Terminated", "exit_code_for", "raise_terminated"]


class ExitCode(IntEnum):
    """What the exit status of ``portplan`` means."""

    OK = 0  #: success
    #: a check found a difference: verify failed, an audit finding, a diff where asked, apply
    #: not confirmed (the previous ruleset is back)
    DIFFERENCE = 1
    USAGE = 2  #: a usage or input error: bad options, files that do not validate
    RUNTIME = 3  #: a runtime or environment error: a tool failed or is missing, no permission
    INTERRUPTED = 130  #: interrupted (Ctrl-C); 128 + N when signal N ended it (143: SIGTERM)


#: the table as ``--help`` and the README show it
EXIT_CODES_HELP = (
    "Exit status: 0 success; 1 a check found a difference (verify failed, an audit finding, "
    "diff found changes, cells import could not read, a port listen could not open, apply "
    "not confirmed and rolled back); 2 usage or input error; 3 "
    "runtime or environment error (a tool failed or is missing, no permission); 130 "
    "interrupted (128+N when signal N ended it)."
)


class Terminated(BaseException):
    """A signal asked portplan to stop (SIGTERM, SIGHUP, SIGQUIT): raised where the program
    stands, so that every cleanup runs (temporary files, a ruleset to restore)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_terminated(signum: int, _frame: object) -> None:
    """A signal handler: end the command with :class:`Terminated`."""
    raise Terminated(signum)


def exit_code_for(error: BaseException) -> int:
    """The exit status of an error that ends a command (128 + N for signal N but Ctrl-C)."""
    from portplan._errors import PortplanError  # noqa: PLC0415 - not for --help (3 ms)

    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, Terminated):
        return 128 + error.signum
    if isinstance(error, PortplanError) and isinstance(error, ValueError | LookupError):
        return ExitCode.USAGE
    return ExitCode.RUNTIME
