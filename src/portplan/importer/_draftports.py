"""A row's port cells, read, turned into the model's flow parts: one per transport.

``TCP/UDP 53`` is two parts (tcp, udp); ``8080 or 8443`` is one port parameter whose default
is the first alternative and whose ``allowed`` ports are the others; a named port the vendor
leaves to the deployment (``[port for external database]``) is a parameter without a default;
``ICMP echo`` is an icmp part with its message type.  What the model cannot say (the dynamic
ports of ``dynamic``, an ICMP code, a port that applies only under a condition, ``443 if SSL is
enabled``) is reported, never widened; so is a cell that leaves ports out (``1024-65535 except
8080``) or names any port with words that could not be read (``all ports above 1024``): the
rest of it would be broader than the vendor says.  A port whose note says it is not in use or
off (``8080 (not used)``, ``443 (deprecated)``, ``21 (disabled by default)``) is reported and
its cell not drafted, as a condition is: the vendor does not ask for it; so is a port whose
note sets a condition (``80 (if HTTP is enabled)``, ``445 (only for trust creation)``), as
``80 if HTTP is enabled`` is, or keeps it to one address family (``443 (IPv6 only)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from portplan.importer.ports import Alternative, PortExpression, PortTerm, Transport
from portplan.model.ports import PortRange
from portplan.model.product import IcmpType

__all__ = ["Part", "PortProblem", "parts_of"]

#: ICMP type numbers (RFC 792, RFC 4443 for packet-too-big) and the model's names for them
_ICMP_TYPES = {
    8: IcmpType.ECHO_REQUEST,
    0: IcmpType.ECHO_REPLY,
    3: IcmpType.DESTINATION_UNREACHABLE,
    11: IcmpType.TIME_EXCEEDED,
    12: IcmpType.PARAMETER_PROBLEM,
}
_ORDER = (Transport.TCP, Transport.UDP, Transport.ICMP)
#: words that take ports out (``1024-65535 except 8080``, ``8080 excluded``), in a note too
#: (``1024-65535 (excluding reserved ports)``)
_LEAVING_OUT = r"except(?:ed|ing)?|exclud(?:e|es|ed|ing)|excl|but\s+not|other\s+than|apart\s+from"
_EXCLUDING_NOTE = re.compile(rf"\b(?:{_LEAVING_OUT})\b", re.IGNORECASE)
#: ... and, in words that could not be read, those that may (``minus 8080``, ``not 22``); a
#: note's ``not`` is a remark (``8080 (not used by default)``)
_EXCLUDING = re.compile(rf"\b(?:{_LEAVING_OUT}|minus|not|w/o|without)\b", re.IGNORECASE)
#: a note that says the port is not in use, withdrawn or off (``not used``, ``deprecated``,
#: ``disabled by default``); ``can be disabled``, ``unless disabled``, ``if not turned off``,
#: ``until removed`` say it is on (:data:`_ON_UNTIL`)
_ON_UNTIL = r"(?<!\bbe\s)(?<!\bunless\s)(?<!\buntil\s)(?<!\bif\snot\s)"
_WITHDRAWN_NOTE = re.compile(
    r"\b(?:un-?used|not\s+(?:used|in\s+use|enabled|active)|no\s+longer|deprecated|obsolete"
    rf"|retired|decommissioned|withdrawn|{_ON_UNTIL}(?:removed|disabled|(?:turned|switched)\s+off)"
    r"|inactive|(?:off|closed)\s+by\s+default)\b",
    re.IGNORECASE,
)

#: a note that sets a condition (``if HTTP is enabled``, ``only when ...``, ``only for trust
#: creation``), first or after other words (``used if HA is on``, ``required when ...``,
#: ``needed only for replication``); ``if not disabled`` says the port is on unless turned
#: off (:data:`_ON_UNTIL`)
_CONDITION_NOTE = re.compile(
    r"\b(?:only\s+(?:if|when|for|with|during)|if|when|whenever|provided)\b"
    r"(?!\s+not\s+(?:disabled|removed|(?:turned|switched)\s+off)\b)",
    re.IGNORECASE,
)


#: a note that keeps the port to one address family (``IPv6 only``, ``only over IPv4``): a
#: product's flow holds on every address of its hosts, both families
_FAMILY_NOTE = re.compile(
    r"\b(?:IPv[46]\s+only|only\s+(?:(?:on|over|for|with|via|in)\s+)?IPv[46])\b", re.IGNORECASE
)


@dataclass(slots=True)
class Part:
    """One flow of a row: its transport, listening and published port items, ICMP types and
    the notes the vendor attached to its ports."""

    protocol: Transport
    ports: list[Any] = field(default_factory=list)  #: 443, "2500-3300" or a parameter id
    published: list[Any] = field(default_factory=list)
    icmp: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PortProblem:
    """Something in a port cell the draft cannot say: which column, and what."""

    heading: str
    message: str


#: makes a port parameter: (words that name it, default, allowed, description) -> its id
NewParameter = Callable[[str, tuple[PortRange, ...] | None, tuple[PortRange, ...], str], str]


def _item(ports: PortRange) -> Any:
    return ports.start if ports.start == ports.end else f"{ports.start}-{ports.end}"


def _transports(terms: Iterable[PortTerm]) -> list[Transport]:
    seen = {p for t in terms for p in t.protocols}
    return [t for t in _ORDER if t in seen]


def _either(alternatives: tuple[Alternative, ...]) -> bool:
    """Whether alternatives differ only in their transport (``TCP or UDP/514``)."""
    if any(a.condition for a in alternatives):
        return False
    ports = {tuple(t.ports for t in a.terms) for a in alternatives}
    transports = [tuple(p for t in a.terms for p in t.protocols) for a in alternatives]
    return len(ports) == 1 and len(set(transports)) == len(transports)


class _Reader:
    def __init__(self, purpose: str, new_parameter: NewParameter) -> None:
        self.purpose = purpose
        self.new_parameter = new_parameter
        self.parts: dict[Transport, Part] = {}
        self.problems: list[PortProblem] = []

    def part(self, transport: Transport) -> Part:
        if transport not in self.parts:
            self.parts[transport] = Part(protocol=transport)
        return self.parts[transport]

    def read(self, heading: str, expression: PortExpression, published: bool) -> None:
        if expression.none or not expression.alternatives:
            return
        said = " ".join(expression.text.split())
        if any(
            _EXCLUDING.search(expression.text[f.start : f.end]) for f in expression.faults
        ) or any(_EXCLUDING_NOTE.search(n) for t in expression.terms for n in t.notes):
            # 1024-65535 except 8080: what could not be read (or a note, 8080 excluded) takes
            # ports out of what could
            self.problems.append(
                PortProblem(
                    heading,
                    f"{said!r} leaves ports out, which the draft cannot: not drafted with "
                    "them; model it by hand",
                )
            )
            return
        withdrawn = [n for t in expression.terms for n in t.notes if _WITHDRAWN_NOTE.search(n)]
        if withdrawn:  # 8080 (not used), 21 (disabled by default): not asked for
            self.problems.append(
                PortProblem(
                    heading,
                    f"{said!r}: the note {withdrawn[0]!r} says a port is not in use or off: "
                    "not drafted; if the deployment uses it, model it by hand",
                )
            )
            return
        family = [n for t in expression.terms for n in t.notes if _FAMILY_NOTE.search(n)]
        if family:  # 443 (IPv6 only): a flow holds on both families of its hosts' addresses
            self.problems.append(
                PortProblem(
                    heading,
                    f"{said!r}: the note {family[0]!r} keeps a port to one address family, "
                    "which a flow cannot (it holds on every address of its hosts): not "
                    "drafted; model it by hand, with hosts of that family's addresses",
                )
            )
            return
        conditions = [n for t in expression.terms for n in t.notes if _CONDITION_NOTE.search(n)]
        if conditions:  # 80 (if HTTP is enabled): never drafted as always open
            self.problems.append(
                PortProblem(
                    heading,
                    f"{said!r}: the note {conditions[0]!r} sets a condition: a condition in a "
                    "port cell is not drafted; give the row a Condition column, or model it by "
                    "hand",
                )
            )
            return
        if expression.faults and any(t.any_port for t in expression.terms):
            # all ports above 1024: any port, and words that could not be read, may be less
            self.problems.append(
                PortProblem(
                    heading,
                    f"{said!r} names any port with words that could not be read: never "
                    "drafted as every port; model it by hand",
                )
            )
            return
        first, *others = expression.alternatives
        if others and _either(expression.alternatives):
            for alternative in expression.alternatives:
                for term in alternative.terms:
                    self._term(heading, expression, term, published)
            for transport in _transports(expression.terms):
                self.part(transport).notes.append(
                    f"the vendor writes {said!r}: one of these is used; each is a flow here"
                )
            return
        if others:
            self._alternatives(heading, expression, first, others, published)
            return
        if first.condition:  # 443 if SSL is enabled: never drafted as always open
            self.problems.append(
                PortProblem(
                    heading,
                    f"{' '.join(expression.text.split())!r} applies only if {first.condition}: "
                    "a condition in a port cell is not drafted; give the row a Condition "
                    "column, or model it by hand",
                )
            )
            return
        for term in first.terms:
            self._term(heading, expression, term, published)

    def _alternatives(
        self,
        heading: str,
        expression: PortExpression,
        first: Alternative,
        others: list[Alternative],
        published: bool,
    ) -> None:
        """``8080 or 8443``: per transport, a parameter with the first as its default."""
        terms = [t for a in (first, *others) for t in a.terms]
        if any(t.ports is None for t in terms):
            self.problems.append(
                PortProblem(
                    heading,
                    f"{expression.text!r} holds alternatives that are not all port numbers; "
                    "model them by hand",
                )
            )
            return
        said = " ".join(expression.text.split())
        for transport in _transports(terms):
            default = tuple(t.ports for t in first.terms if transport in t.protocols and t.ports)
            allowed = tuple(
                t.ports for a in others for t in a.terms if transport in t.protocols and t.ports
            )
            when = [f"if {a.condition}" for a in others if a.condition]
            description = f"{transport.value.upper()} port of: {self.purpose}".rstrip(": ")
            description += f" (the vendor writes: {said}" + (
                f"; {', '.join(when)})" if when else ")"
            )
            ident = self.new_parameter(
                f"{self.purpose} {transport.value} port", default or None, allowed, description
            )
            part = self.part(transport)
            (part.published if published else part.ports).append(ident)

    def _term(
        self, heading: str, expression: PortExpression, term: PortTerm, published: bool
    ) -> None:
        if term.icmp:
            self._icmp(heading, term)
            return
        if term.dynamic:
            self.problems.append(
                PortProblem(
                    heading,
                    f"{expression.text!r} names dynamic ports: give the product a dynamic range "
                    "('dynamic_ranges', by platform) and the flow 'dynamic:'",
                )
            )
            return
        for transport in _transports([term]):
            part = self.part(transport)
            items = part.published if published else part.ports
            if term.ports is not None:
                items.append(_item(term.ports))
            elif term.any_port:
                items.append("1-65535")
                part.notes.append(f"the vendor writes {expression.text!r}: any port")
            elif term.parameter is not None:
                named, default = term.parameter.name, term.parameter.default
                words = named if named and default else f"{self.purpose} {transport.value} port"
                if default is None:
                    description = (
                        f"{transport.value.upper()} port of: {self.purpose}; the vendor leaves it "
                        f"to the deployment ({named or expression.text!r})"
                    )
                else:
                    description = named or f"configurable port of: {self.purpose}"
                items.append(
                    self.new_parameter(words, (default,) if default else None, (), description)
                )
            part.notes.extend(n for n in term.notes if n not in part.notes)

    def _icmp(self, heading: str, term: PortTerm) -> None:
        part = self.part(Transport.ICMP)
        if term.icmp_code is not None:
            self.problems.append(
                PortProblem(
                    heading,
                    f"ICMP type {term.icmp_type} code {term.icmp_code}: the model allows ICMP "
                    "types, not codes; allowing the whole type would be broader than asked",
                )
            )
            return
        if term.icmp_type is None:
            part.icmp.append(IcmpType.ECHO_REQUEST.value)
            part.notes.append("the vendor writes ICMP without a type: echo-request (ping) read")
            return
        name = _ICMP_TYPES.get(term.icmp_type)
        if name is None:
            self.problems.append(
                PortProblem(heading, f"ICMP type {term.icmp_type} has no name in the model")
            )
            return
        part.icmp.append(name.value)


def parts_of(
    listening: Iterable[tuple[str, PortExpression]],
    published: Iterable[tuple[str, PortExpression]],
    *,
    purpose: str,
    new_parameter: NewParameter,
) -> tuple[list[Part], list[PortProblem]]:
    """The flow parts of a row's port cells (``(heading, reading)`` each), transports in the
    order tcp, udp, icmp, and what could not be said."""
    reader = _Reader(purpose, new_parameter)
    for heading, expression in listening:
        reader.read(heading, expression, published=False)
    for heading, expression in published:
        reader.read(heading, expression, published=True)
    parts = [reader.parts[t] for t in _ORDER if t in reader.parts]
    for part in parts:
        part.icmp = list(dict.fromkeys(part.icmp))
    return [p for p in parts if p.ports or p.published or p.icmp], reader.problems
