"""The terms of a port cell: ports, ranges, parameters, ICMP, and what follows them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from portplan.importer._lexer import Token
from portplan.importer._portnames import hides_ports, names_a_port, numbered, picked_at_run_time
from portplan.importer._portscan import (
    ABOVE,
    ANY,
    BOUNDS,
    DYNAMIC,
    ICMP_NAMES,
    RANGE_WORDS,
    UPWARDS,
    Item,
    at,
    balanced,
    closing,
    default_marker,
    depth_step,
    joined,
    label,
    only_protocols,
    paren_protocols,
    protocol_postfix,
    protocol_prefix,
    range_at,
    refers_elsewhere,
    starts_term,
    with_notes,
    with_protocols,
    without_protocol_parens,
)
from portplan.importer._prose import is_prose, prose_fault
from portplan.importer.ports import Alternative, Fault, PortParameter, PortTerm, Transport
from portplan.model.ports import MAX_PORT, MIN_PORT, PortRange

__all__ = ["TermReader"]

#: what a footnote mark in brackets looks like: [1], [a], [*], and Markdown's [^1], [^note]
_MARK = re.compile(r"[0-9]+|[A-Za-z]|[^A-Za-z0-9\s]+|\^\S+")


#: words that widen an ICMP term without a type: ``ICMP (all types)`` is not ``ICMP``
_ALL_TYPES = frozenset({"all", "any", "every", "type", "types", "other"})


def _names_icmp(toks: Sequence[Token], choices: list[list[PortTerm]]) -> bool:
    """Whether a note after an ICMP term names ICMP messages (``/reply``, ``(echo and
    unreachable)``), or all of them after ICMP without a type: a note would drop them."""
    terms = [t for option in choices for t in option if t.icmp]
    words = {t.low for t in toks if t.kind == "word"}
    return bool(terms) and (
        bool(words & ICMP_NAMES.keys())
        or (any(t.icmp_type is None for t in terms) and bool(words & _ALL_TYPES))
    )


def _glued(toks: Sequence[Token], pos: int) -> bool:
    """Whether the token at ``pos`` starts right where the one before it ends."""
    return pos > 0 and toks[pos - 1].end == toks[pos].start


class TermReader:
    """Reads the terms of one cell; :class:`._portread.Reader` adds the alternatives."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.faults: list[Fault] = []
        self.assumptions: list[str] = []

    def fresh(self) -> TermReader:
        """A reader of the same cell with no faults yet (to try a reading out)."""
        return type(self)(self.text)

    def expression(self, toks: list[Token]) -> list[Alternative]:
        """The alternatives of ``toks`` (:class:`._portread.Reader` reads them)."""
        raise NotImplementedError

    def words(self, toks: Sequence[Token]) -> str:
        return " ".join(self.text[toks[0].start : toks[-1].end].split()) if toks else ""

    def fault(self, toks: Sequence[Token], message: str) -> None:
        start, end = (toks[0].start, toks[-1].end) if toks else (0, len(self.text))
        self.faults.append(Fault(start=start, end=end, message=message))

    def port(self, toks: Sequence[Token], start: int, end: int) -> PortRange | None:
        for value in (start, end):
            if not MIN_PORT <= value <= MAX_PORT:
                self.fault(toks, f"port {value} is outside {MIN_PORT}-{MAX_PORT}")
                return None
        if start > end:
            self.fault(toks, f"range {start}-{end} is reversed")
            return None
        return PortRange(start=start, end=end)

    def unit(
        self,
        toks: list[Token],
        pos: int,
        protocols: tuple[Transport, ...],
        either: bool,
        item: Item,
    ) -> tuple[list[list[PortTerm]] | None, int, bool]:
        """One term (or its alternatives) at ``pos``; returns the choices, the position after
        them and its notes, and whether another term may follow without a separator."""
        token = toks[pos] if pos < len(toks) else toks[-1]
        first = pos
        if token.is_("port", "ports") and pos + 1 < len(toks) and toks[pos + 1].kind == "num":
            pos += 1
            token = toks[pos]
        if token.is_("from") and range_at(toks, pos + 1):  # from 1024 to 65535
            pos += 1
            token = toks[pos]
        if Transport.ICMP in protocols or token.is_("ping"):
            term, pos = self.icmp(toks, pos, protocols)
            choices = [[term]] if term else []
        elif token.text == "[":
            close = closing(toks, pos)
            name = self.words(toks[pos + 1 : close])
            pos = close + 1
            post, pos = protocol_postfix(toks, pos)
            if name and close < len(toks) and _MARK.fullmatch(name):
                self.fault(
                    toks[first:pos],
                    f"{self.words(toks[first:pos])!r} looks like a footnote mark, not the name "
                    "of a port; leave it out, or name the port in words",
                )
                choices = []
            elif name and close < len(toks):
                parameter = PortParameter(name=name)
                choices = [[PortTerm(protocols=protocols or post, parameter=parameter)]]
            else:
                self.fault(toks[first:pos], f"could not read {self.words(toks[first:pos])!r}")
                choices = []
        elif token.kind == "num":
            choices, pos = self.numbers(toks, pos, protocols, either, item)
        elif token.is_(*ANY, *DYNAMIC):
            pos += 1
            middle, either, pos = protocol_prefix(toks, pos)  # any TCP port
            protocols = protocols or middle
            while pos < len(toks) and toks[pos].is_("port", "ports", "range", "ranges"):
                pos += 1
            post, pos = protocol_postfix(toks, pos)
            found = protocols or post
            choices = [
                [
                    PortTerm(protocols=found, any_port=True)
                    if token.is_(*ANY)
                    else PortTerm(protocols=found, dynamic=True)
                ]
            ]
        elif token.is_("default", "defaults") or (token.is_("by") and at(toks, pos + 1, "default")):
            choices, pos = self.default(toks, pos, protocols, None)
            item.default_only = True
        elif (named_by := label(toks, pos)) is not None:
            number = pos + named_by
            labelled, pos, clean = self.unit(toks, number, protocols, either, item)
            words = self.words(toks[number - named_by : number])
            if not labelled:  # the name of a port that could not be read
                self.fault(toks[number - named_by : number], f"could not read {words!r}")
            return (
                [[with_notes(t, [words], first=True) for t in o] for o in labelled or []],
                pos,
                clean,
            )
        else:
            choices, pos = self.named(toks, pos, protocols, item)
            if pos >= len(toks):
                return self.icmp_alone(toks[first:pos], choices), pos, False
        choices, pos, clean = self.after(toks, pos, choices, item)
        return self.icmp_alone(toks[first:pos], choices), pos, clean

    def icmp_alone(self, toks: list[Token], choices: list[list[PortTerm]]) -> list[list[PortTerm]]:
        """``choices`` without terms that give ICMP a port (``80/icmp``, ``NAME (ICMP)``):
        ICMP has none, so such a term is a fault."""
        kept = []
        for option in choices:
            wrong = [
                t for t in option if t.icmp and (t.ports or t.parameter or t.any_port or t.dynamic)
            ]
            if wrong:
                self.fault(toks, f"ICMP has no port: {self.words(toks)!r}")
            kept.append([t for t in option if t not in wrong])
        return [option for option in kept if option] if any(kept) else []

    def after(
        self, toks: list[Token], pos: int, choices: list[list[PortTerm]], item: Item
    ) -> tuple[list[list[PortTerm]], int, bool]:
        """Parentheses and words after a term: notes, protocols or a fallback."""
        notes: list[str] = []
        fallback: list[list[PortTerm]] = []
        clean = True  #: no bare words yet: a term may still follow without a separator
        start = pos
        while pos < len(toks):
            token = toks[pos]
            if token.text == "(":
                close = closing(toks, pos)
                if close >= len(toks):  # never closed
                    self.fault(toks[pos:], f"could not read {self.words(toks[pos:])!r}")
                    pos = len(toks)
                    break
                inner, parenthesis = toks[pos + 1 : close], toks[pos : close + 1]
                shown = self.words(parenthesis)
                pos = close + 1
                said = {p for o in choices for t in o for p in t.protocols}
                if only_protocols(inner) and not said:
                    found = tuple(dict.fromkeys(Transport(t.low) for t in inner if t.protocol))
                    choices = [[with_protocols(t, found) for t in o] for o in choices]
                elif len(inner) == 1 and inner[0].kind == "num" and len(inner[0].text) <= 2:
                    number = int(inner[0].text)  # 443 (1): a footnote, or port 1 instead?
                    self.fault(
                        parenthesis,
                        f"{shown!r} could be a footnote mark or port {number} as an "
                        f"alternative; leave the mark out, or write 'or {number}'",
                    )
                elif inner and starts_term(inner[0]) and self.clean_ports(inner):
                    sub = self.fresh()
                    fallback.extend([list(a.terms) for a in sub.expression(inner)])
                    item.assumptions.append(
                        f"ports in parentheses {shown!r} read as an alternative"
                    )
                elif hides_ports(inner, said):  # 443 (or 8443), 80 (also UDP)
                    self.fault(
                        parenthesis, f"could not read {shown!r}: a port or protocol in a note"
                    )
                elif _names_icmp(inner, choices):  # ICMP (all types)
                    self.fault(parenthesis, f"could not read {shown!r}: ICMP types in a note")
                elif any(t.kind in ("word", "num") for t in inner) and balanced(inner):
                    notes.append(self.words(inner))
                else:
                    self.fault(parenthesis, f"could not read {shown!r}")
            elif clean and token.kind == "num" and len(token.text) <= 2:
                # 22 1: a footnote mark that lost its superscript (or link), or port 1?
                previous = self.words(toks[:pos])
                self.fault(
                    toks[pos : pos + 1],
                    f"{token.text!r} after {previous!r} could be a footnote mark or port "
                    f"{token.text}; leave the mark out, or write '{previous}, {token.text}'",
                )
                pos += 1
            elif starts_term(token) and clean:
                break
            elif token.kind == "word" and toks[pos - 1].kind == "num" and _glued(toks, pos):
                # 32NN (SAP: 3200-3299), 22a (a footnote mark), 10k: never port 32, 22 or 10
                self.fault(
                    toks[pos - 1 : pos + 1],
                    f"could not read {self.words(toks[pos - 1 : pos + 1])!r}: letters run "
                    "into the number",
                )
                choices, pos, start, clean = [], pos + 1, pos + 1, False
            else:
                end = pos
                while end < len(toks) and toks[end].text != "(":
                    end += 1
                words = toks[pos:end]
                if (
                    any(t.kind in ("word", "num") for t in words)
                    and balanced(words)
                    # no port, transport or bound hides in a note: 1024 upwards
                    and not any(starts_term(t) or t.protocolish or t.low in BOUNDS for t in words)
                    and not _names_icmp(words, choices)  # ICMP echo request/reply
                    and not any(t.text == "^" for t in words)  # 22^a: a footnote mark
                ):
                    notes.append(self.words(words))
                else:
                    self.fault(words, f"could not read {self.words(words)!r}")
                pos = end
                clean = False
        if notes:
            choices = [[with_notes(t, notes) for t in o] for o in choices]
        if not choices and pos > start:  # what follows a port that could not be read
            self.fault(toks[start:pos], f"could not read {self.words(toks[start:pos])!r}")
        return choices + fallback, pos, clean

    def clean_ports(self, inner: list[Token]) -> bool:
        """Whether ``inner`` reads as ports alone: no fault, note, parameter or condition."""
        probe = self.fresh()
        alternatives = probe.expression(inner)
        return (
            bool(alternatives)
            and not probe.faults
            and not any(a.condition for a in alternatives)
            and not any(t.notes or t.parameter for a in alternatives for t in a.terms)
        )

    def numbers(
        self,
        toks: list[Token],
        pos: int,
        protocols: tuple[Transport, ...],
        either: bool,
        item: Item,
    ) -> tuple[list[list[PortTerm]], int]:
        ranges, pos = self.port_spec(toks, pos)
        post, pos = protocol_postfix(toks, pos)
        found = protocols or post
        if pos < len(toks) and toks[pos].is_("by") and at(toks, pos + 1, "default"):
            pos += 2
            item.default_only = True
            return [
                [PortTerm(protocols=found, parameter=PortParameter(name=None, default=r))]
                for r in ranges
            ], pos
        if either and len(found) > 1:
            return [[PortTerm(protocols=(p,), ports=r)] for r in ranges for p in found], pos
        return [[PortTerm(protocols=found, ports=r)] for r in ranges], pos

    def port_spec(self, toks: list[Token], pos: int) -> tuple[list[PortRange], int]:
        """A port or a range.  Ports joined by ``/`` or ``+`` are a fault: ``80/443`` means
        both ports in one table (HTTP and HTTPS) and either in another (``8020/ 9000``, the
        one a setting picks), and reading either way opens ports the vendor did not ask for,
        or leaves out one it did."""
        spans = joined(toks, pos)
        if len(spans) > 1:
            self.fault(toks[pos : spans[-1][1]], self._joined_message(toks, spans))
            return [], spans[-1][1]
        first = toks[pos]
        pos += 1
        if (
            pos + 1 < len(toks)
            and (toks[pos].kind == "dash" or toks[pos].is_(*RANGE_WORDS))
            and toks[pos + 1].kind == "num"
        ):
            last = toks[pos + 1]
            found = self.port(toks[pos - 1 : pos + 2], int(first.text), int(last.text))
            return ([found] if found else []), pos + 2
        if pos < len(toks) and (
            toks[pos].text == "+"
            or toks[pos].is_(*UPWARDS)
            or (toks[pos].is_("and", "or") and at(toks, pos + 1, *ABOVE))
        ):
            end = pos + 1 if toks[pos].text == "+" or toks[pos].is_(*UPWARDS) else pos + 2
            self.assumptions.append(
                f"{self.words(toks[pos - 1 : end])!r} read as {first.text}-{MAX_PORT}"
            )
            found = self.port(toks[pos - 1 : end], int(first.text), MAX_PORT)
            return ([found] if found else []), end
        found = self.port([first], int(first.text), int(first.text))
        return ([found] if found else []), pos

    def _joined_message(self, toks: list[Token], spans: list[tuple[int, int]]) -> str:
        """What to say of ports joined by ``/`` or ``+`` (their ``spans``)."""
        written = self.words(toks[spans[0][0] : spans[-1][1]])
        ports = [self.words(toks[start:end]) for start, end in spans]
        both = f"{', '.join(ports[:-1])} and {ports[-1]}"
        if any(toks[end].text == "/" for _start, end in spans[:-1]):
            either = " or ".join(ports)
            return (
                f"{written!r} could be ports {both}, or one of them; write {both!r} or {either!r}"
            )
        return (
            f"{written!r}: '+' between ports; write {both!r} for all of them "
            f"({ports[0] + '+'!r} alone reads as {ports[0]} and above)"
        )

    def default(
        self,
        toks: list[Token],
        pos: int,
        protocols: tuple[Transport, ...],
        name: str | None,
        start: int | None = None,
    ) -> tuple[list[list[PortTerm]], int]:
        """``by default 16000-16999/tcp``, ``default 8443``, ``defaults to 80`` at ``pos``
        (the name, if any, starts at ``start``)."""
        first = pos if start is None else start
        while pos < len(toks) and toks[pos].is_("by", "default", "defaults", "to", "is", ":"):
            pos += 1
        if pos >= len(toks) or toks[pos].kind != "num":
            self.fault(toks[first:], f"{self.words(toks[first:])!r}: a default without a port")
            return [], len(toks)
        ranges, pos = self.port_spec(toks, pos)
        post, pos = protocol_postfix(toks, pos)
        if pos + 1 < len(toks) and toks[pos].is_("by") and toks[pos + 1].is_("default"):
            pos += 2
        if not ranges:  # the default could not be read: neither can its name
            self.fault(toks[first:pos], f"could not read {self.words(toks[first:pos])!r}")
        return [
            [PortTerm(protocols=protocols or post, parameter=PortParameter(name=name, default=r))]
            for r in ranges
        ], pos

    def named(
        self, toks: list[Token], pos: int, protocols: tuple[Transport, ...], item: Item
    ) -> tuple[list[list[PortTerm]], int]:
        """Words naming a port: with a default after ``-`` or ``by default``, or without one."""
        start = pos
        found = protocols
        depth = 0
        end = len(toks)
        for index in range(pos, len(toks)):
            token = toks[index]
            depth = depth_step(token, depth)
            if depth:
                continue
            if index > start and default_marker(toks, index):
                name_toks = toks[start:index]
                if not names_a_port(without_protocol_parens(name_toks)) or numbered(name_toks):
                    self.fault(toks[start:], f"could not read {self.words(toks[start:])!r}")
                    return [], len(toks)
                name = self.words(without_protocol_parens(name_toks))
                found = found or paren_protocols(name_toks)
                at = index + (1 if token.kind == "dash" else 0)
                return self.default(toks, at, found, name, start)
        name_toks = toks[start:end]
        if not names_a_port(without_protocol_parens(name_toks)) or not balanced(name_toks):
            self.fault(name_toks, f"could not read {self.words(name_toks)!r}")
            return [], end
        if elsewhere := refers_elsewhere(name_toks):  # see comments: the ports are elsewhere
            self.fault(name_toks, f"{self.words(name_toks)!r} {elsewhere}")
            return [], end
        if numbered(name_toks):  # HTTPS (443) names port 443, not a port to set
            self.fault(name_toks, f"could not read {self.words(name_toks)!r}")
            return [], end
        if not found:
            found = paren_protocols(name_toks)
        if picked_at_run_time(name_toks):  # random generated port: one of the dynamic ports
            return [[PortTerm(protocols=found, dynamic=True)]], end
        name = self.words(without_protocol_parens(name_toks))
        if not name:
            self.fault(name_toks, f"{self.words(name_toks)!r} names protocols but no port")
            return [], end
        if is_prose(self.text, name_toks, name=True):  # a remark that strayed into the port column
            self.faults.append(prose_fault(self.text, name_toks))
            return [], end
        first, last = name_toks[0].start, name_toks[-1].end
        if any(f.start < last and first < f.end for f in self.faults):  # no name around it
            self.fault(name_toks, f"could not read {self.words(name_toks)!r}")
            return [], end
        item.open_name = not found
        item.assumptions.append(f"no port number in {name!r}: a parameter the deployment must set")
        return [[PortTerm(protocols=found, parameter=PortParameter(name=name))]], end

    def icmp(
        self, toks: list[Token], pos: int, protocols: tuple[Transport, ...]
    ) -> tuple[PortTerm | None, int]:
        if set(protocols) - {Transport.ICMP}:
            self.fault(toks, "ICMP named together with TCP or UDP")
            return None, len(toks)
        icmp_type: int | None = None
        code: int | None = None
        if pos < len(toks) and toks[pos].low in ICMP_NAMES:
            icmp_type = ICMP_NAMES[toks[pos].low]
            pos += 1
            while pos < len(toks) and toks[pos].low in ("request", "reply", "message", "messages"):
                icmp_type = 0 if toks[pos].low == "reply" else icmp_type
                pos += 1
        elif pos < len(toks) and (toks[pos].is_("type") or toks[pos].kind == "num"):
            pos += 1 if toks[pos].is_("type") else 0
            icmp_type, pos = self.small_number(toks, pos, "ICMP type")
            if pos < len(toks) and toks[pos].is_("code"):
                code, pos = self.small_number(toks, pos + 1, "ICMP code")
        return PortTerm(protocols=(Transport.ICMP,), icmp_type=icmp_type, icmp_code=code), pos

    def small_number(self, toks: list[Token], pos: int, what: str) -> tuple[int | None, int]:
        if pos < len(toks) and toks[pos].kind == "num" and int(toks[pos].text) <= 255:
            return int(toks[pos].text), pos + 1
        self.fault(toks[pos : pos + 1] or toks, f"{what} must be a number from 0 to 255")
        return None, pos + 1
