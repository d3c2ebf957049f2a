"""The whole exception tree of portplan, in one place.

Every error portplan raises derives from :class:`PortplanError` and also from the builtin that
fits it, so callers can catch either:

* ``ValueError`` or ``LookupError``: the input or the request is wrong (a file that does not
  validate, an unknown name, an option a target cannot express); the user must change it;
* ``RuntimeError``: the environment failed (a tool is missing or refused, no permission); the
  same request may succeed elsewhere or later.

Exceptions carry no exit status: the command line maps these two families to its exit codes
in one table (``portplan.cli``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portplan._text import escaped, format_path

if TYPE_CHECKING:  # `portplan --help` does not import pathlib for an annotation
    from pathlib import Path

__all__ = [
    "ApplyError",
    "AuditError",
    "ConditionSyntaxError",
    "Diagnostic",
    "FanoutError",
    "InputError",
    "LockoutError",
    "ModelPath",
    "OutputError",
    "OverlayError",
    "PlanError",
    "PluginError",
    "PortplanError",
    "Problem",
    "TargetError",
    "ToolError",
    "UnknownProductError",
    "UsageError",
    "VerifyError",
]

#: Where a value stands in a product or deployment file: ``("products", "shopping-6.1",
#: "parameters", "website_port")``; keys are text, list positions integers.
ModelPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem found in a file the user wrote: where, what, and what to do about it."""

    file: Path | str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None

    def location(self) -> str:
        """``file:line:column`` (line and column are 1-based; missing parts are left out; the
        file name's control characters escaped)."""
        parts = [escaped(str(self.file))]
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A problem found in a model, named by its path in the model rather than in a file.

    Planning reports these; whoever loaded the files turns the path into ``file:line:column``
    (``portplan.pipeline`` does, through the loader's source map).
    """

    path: ModelPath
    message: str
    hint: str | None = None
    at_key: bool = False  #: point at the key that names ``path`` rather than at its value

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}" + (f"; {self.hint}" if self.hint else "")


class PortplanError(Exception):
    """Root of every error portplan raises on purpose."""


# -- the input or the request is wrong (ValueError, LookupError) ------------------------------


class InputError(PortplanError, ValueError):
    """Files the user gave do not hold a valid model; :attr:`diagnostics` lists every problem
    found (where, what, what to do), not just the first."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join([*map(str, self.diagnostics), *self._summary()]))

    def _summary(self) -> tuple[str, ...]:
        """Lines the message ends with, after the diagnostics."""
        count = len(self.diagnostics)
        return (f"{count} problem{'s' if count != 1 else ''} found",)


class PlanError(PortplanError, ValueError):
    """A deployment that loads but cannot be expanded into concrete flows.

    :attr:`problems` name model paths; ``portplan.pipeline`` turns them into located
    diagnostics (an :class:`InputError`) when the model came from files.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


class ConditionSyntaxError(PortplanError, ValueError):
    """A condition that does not parse; ``offset`` is the 0-based position of the fault."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class UnknownProductError(PortplanError, LookupError):
    """A product id that is neither in the bundled catalog nor a readable file."""


class UsageError(PortplanError, ValueError):
    """A request that cannot be done as asked: an unknown host, options that do not fit."""


class TargetError(PortplanError, ValueError):
    """A firewall target cannot express the plan (or does not exist); nothing is rendered."""


class VerifyError(PortplanError, ValueError):
    """A verification that cannot start: an unknown flow, no planned flow from this machine."""


class OverlayError(PortplanError, ValueError):
    """A results document (the JSON of ``verify``, and later ``audit`` or ``diff``) that a
    report cannot overlay: not JSON, an unknown kind, a format version this portplan does not
    read, or a field missing or of the wrong type."""


class AuditError(PortplanError, ValueError):
    """A ruleset or a collected file that cannot be read as its format says, or a comparison
    that cannot be made as asked; nothing is judged from it."""


class LockoutError(PortplanError, ValueError):
    """Applying the ruleset could lock the operators out; nothing was changed.

    :attr:`reasons` says why; :attr:`forcible` whether ``--force`` may apply anyway (never when
    the ruleset would cut the session in use).
    """

    def __init__(self, reasons: Iterable[str], *, forcible: bool) -> None:
        self.reasons = tuple(reasons)
        self.forcible = forcible
        super().__init__("; ".join(self.reasons))


# -- the environment failed (RuntimeError) ----------------------------------------------------


class ToolError(PortplanError, RuntimeError):
    """An external tool portplan runs is missing, failed, or did not finish in time."""


class ApplyError(ToolError):
    """Applying or restoring a ruleset failed on this machine."""


class OutputError(PortplanError, RuntimeError):
    """An output could not be written (a full disk, a read-only file system, no permission);
    nothing of it is left behind."""


class DraftError(PortplanError, RuntimeError):
    """``portplan import`` made a draft product that does not validate: a fault of portplan's
    drafting, not of the document; :attr:`diagnostics` say where in the draft."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        lines = "\n".join(map(str, self.diagnostics))
        super().__init__(
            f"the draft product does not validate (please report this with the document):\n{lines}"
        )


class PluginError(PortplanError, RuntimeError):
    """A plugin (target or identifier) that cannot be loaded, or two plugins with one name."""


class FanoutError(PortplanError, RuntimeError):
    """A source host's results that cannot be merged: it reported a probe it was not asked
    for (another version of the collection on the controller, or a host that is not who it
    says).  The merge fails that host's probes with it; it never ends the run."""


class InventoryError(PortplanError, ValueError):
    """An Ansible inventory that cannot be read, or that lacks hosts the deployment needs."""
