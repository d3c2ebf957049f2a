"""Port expressions as vendors write them, read into a structured value, and printed back.

A vendor's port cell is not a port list: ``TCP 135 and 445``, ``UDP 18118 - 18126``,
``TCP/UDP 53``, ``8080 or 8443``, ``6162, or 2500-3300 if 6162 is unavailable``, ``TCP 5432
TCP [port for external database]``, ``configurable, default 8443``, ``ICMP echo``, ``any``,
``netcat port range defined in node configuration - by default 16000-16999/tcp``.  Reading one
gives a :class:`PortExpression`: alternatives (``or``), each a list of terms (``and``) with the
condition the vendor attaches to it; a term is one port or range, a named port parameter (with
its default when the vendor gives one), ``any`` or ``dynamic`` ports, or ICMP.

The reader never guesses silently.  What it cannot read is a :class:`Fault` (the offsets of the
text and what was wrong: ``80/443``, both ports or either?); a reading it had to choose among
several (``1024 and above`` read as 1024-65535, a port cell without a number read as a
parameter the deployment must supply) is stated in :attr:`PortExpression.assumptions`.
:func:`format_ports` prints a value in the canonical form :func:`read_ports` reads back to the
same value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from portplan.model.ports import PortRange

__all__ = [
    "Alternative",
    "Fault",
    "PortExpression",
    "PortParameter",
    "PortTerm",
    "Transport",
    "format_ports",
]


class Transport(StrEnum):
    """The IP protocols a port cell can name."""

    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A part of a cell that could not be read: ``text[start:end]`` and why."""

    start: int
    end: int
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PortParameter:
    """A port the vendor lets the deployment choose.

    ``name`` is the vendor's words for it (``netcat port range defined in node configuration``,
    ``port for external database``), ``None`` when unnamed (``configurable, default 8443``);
    ``default`` is ``None`` when the vendor leaves the port open (``Check the documentation of
    your NFS storage provider``): the deployment must then supply it.
    """

    name: str | None
    default: PortRange | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortTerm:
    """One port, range, parameter, any/dynamic port, or ICMP message, with its protocols.

    ``protocols`` is empty when the cell does not say (the row's protocol column then does);
    exactly one of ``ports``, ``parameter``, ``any_port``, ``dynamic`` or ICMP is set.
    ``notes`` are the words the vendor attaches (``initially``, ``IPv4``, ``HTTPS``).
    """

    protocols: tuple[Transport, ...] = ()
    ports: PortRange | None = None
    parameter: PortParameter | None = None
    any_port: bool = False
    dynamic: bool = False
    icmp_type: int | None = None
    icmp_code: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def icmp(self) -> bool:
        return Transport.ICMP in self.protocols


@dataclass(frozen=True, slots=True, kw_only=True)
class Alternative:
    """Terms that go together (``135 and 445``), and when (``6162 is unavailable``;
    ``otherwise`` for the fallback of a chain of conditions)."""

    terms: tuple[PortTerm, ...]
    condition: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortExpression:
    """A port cell as read: one alternative for a plain list, several for ``or``, none when the
    vendor wrote that there is no port (``-``, ``--``, ``N/A``: ``none`` is set).

    ``text`` is the cell; ``assumptions`` say which reading was chosen where the text allows
    more than one; ``faults`` list what could not be read.  These three are not part of the
    value: two cells that read the same compare equal.
    """

    alternatives: tuple[Alternative, ...] = ()
    none: bool = False
    text: str = field(default="", compare=False)
    assumptions: tuple[str, ...] = field(default=(), compare=False)
    faults: tuple[Fault, ...] = field(default=(), compare=False)

    @property
    def terms(self) -> tuple[PortTerm, ...]:
        """Every term of every alternative, in order."""
        return tuple(t for a in self.alternatives for t in a.terms)


def _protocols(term: PortTerm) -> str:
    return "".join(f"/{p.value}" for p in term.protocols)


def _term(term: PortTerm) -> str:
    if term.icmp:
        text = "ICMP"
        if term.icmp_type is not None:
            text += f" type {term.icmp_type}"
            if term.icmp_code is not None:
                text += f" code {term.icmp_code}"
    elif term.ports is not None:
        text = f"{term.ports}{_protocols(term)}"
    elif term.any_port:
        text = f"any{_protocols(term)}"
    elif term.dynamic:
        text = f"dynamic{_protocols(term)}"
    elif term.parameter is not None:
        text = _parameter(term.parameter, _protocols(term))
    else:
        text = "?"
    return text + "".join(f" ({note})" for note in term.notes)


def _parameter(parameter: PortParameter, protocols: str) -> str:
    if parameter.name is None:
        return f"configurable, default {parameter.default}{protocols}"
    if parameter.default is None:
        return f"[{parameter.name}]{protocols}"
    return f"{parameter.name} - by default {parameter.default}{protocols}"


def format_ports(expression: PortExpression) -> str:
    """The canonical text of ``expression``, which :func:`~portplan.importer.read_ports` reads
    back to an equal value: protocols after the port (``135/tcp, 445/tcp``, ``53/tcp/udp``),
    ``or`` between alternatives, a condition before its terms (``6162/tcp or if 6162 is
    unavailable: 2500-3300/tcp``).  Notes are printed in parentheses and read back as notes as
    long as they are words (a note holding a port number would read as a fallback port)."""
    if expression.none:
        return "N/A"
    parts = []
    for alternative in expression.alternatives:
        terms = ", ".join(_term(t) for t in alternative.terms)
        if alternative.condition == "otherwise":
            parts.append(f"otherwise {terms}")
        elif alternative.condition:
            parts.append(f"if {alternative.condition}: {terms}")
        else:
            parts.append(terms)
    return " or ".join(parts)
