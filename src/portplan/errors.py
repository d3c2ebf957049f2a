"""The whole exception tree of portplan, in one place.

Every error portplan raises derives from :class:`PortplanError` and also from the builtin that
fits it (``ValueError`` for bad input, ``LookupError`` for unknown names), so callers can catch
either.  Each class carries the exit status the command line uses for it; the CLI turns them into
exits in one place and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ApplyError",
    "Diagnostic",
    "DiagnosticsError",
    "InputError",
    "PlanError",
    "PortplanError",
    "TargetError",
    "UnknownProductError",
    "VerifyError",
]

#: Exit status for bad input or usage (files that do not validate, unknown names).
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem found in a file the user wrote: where, what, and what to do about it."""

    file: Path | str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None

    def location(self) -> str:
        """``file:line:column`` (line and column are 1-based; missing parts are left out)."""
        parts = [str(self.file)]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return text


class PortplanError(Exception):
    """Root of every error portplan raises on purpose."""

    exit_code: int = 1


class DiagnosticsError(PortplanError, ValueError):
    """An error about files the user wrote; :attr:`diagnostics` says where and what, one each."""

    exit_code = EXIT_USAGE

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join([*map(str, self.diagnostics), *self._summary()]))

    def _summary(self) -> tuple[str, ...]:
        """Lines the message ends with, after the diagnostics."""
        return ()


class InputError(DiagnosticsError):
    """Files the user gave do not hold a valid model; carries every problem found, not just one."""

    def _summary(self) -> tuple[str, ...]:
        count = len(self.diagnostics)
        return (f"{count} problem{'s' if count != 1 else ''} found",)


class UnknownProductError(PortplanError, LookupError):
    """A product id that is neither in the bundled catalog nor a readable file."""

    exit_code = EXIT_USAGE


class PlanError(DiagnosticsError):
    """A deployment that loads but cannot be expanded into concrete flows (carries diagnostics)."""


class TargetError(PortplanError, ValueError):
    """A firewall target cannot express the plan (or does not exist); nothing is rendered."""

    exit_code = EXIT_USAGE


class ApplyError(PortplanError, RuntimeError):
    """Applying a ruleset failed or was refused; the running ruleset is left as it was."""

    exit_code = EXIT_USAGE


class VerifyError(PortplanError, ValueError):
    """A verification that cannot start: an unknown flow, no planned flow from this machine."""

    exit_code = EXIT_USAGE
