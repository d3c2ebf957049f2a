"""Reading a port cell into a :class:`~portplan.importer.ports.PortExpression`.

The grammar, loosest first (docs/import.md has it with examples from the corpus):

* alternatives are separated by ``or`` (``TCP or UDP`` joins protocols, not alternatives) and
  by ``otherwise``/``else``; ``if X: ...`` before, or ``... if X`` after, is an alternative's
  condition;
* items are separated by ``,``, ``;``, line breaks and ``and``/``&``; a protocol written
  before an item carries over to the following items that name none (``TCP 135 and 445``);
* an item is a port (``443``), a range (``18118 - 18126``, ``2500 to 3300``, ``49152-65535``
  with any dash, ``1024 and above``), a name before a port (``SNMP 161``, kept as a note), a
  protocol before (``TCP 443``, ``TCP/541``, ``TCP/UDP 53``, ``TCP or UDP/514``) or after
  (``443/tcp``), ``any``, ``dynamic``, ICMP (``ICMP``, ``ICMP echo``, ``ICMP type 3 code
  4``, ``ping``), a named parameter (``[port for external database]``, ``NAME - by default
  16000-16999/tcp``, ``configurable, default 8443``), or words without a number: a parameter
  the deployment must supply (but ``see comments`` points elsewhere: a fault); then notes
  in parentheses, where ports (``(2500 to 3300)``) are a fallback;
* ports joined by ``/`` or ``+`` (``80/443``, ``8020/ 9000``, ``80+443``) are a fault: one
  vendor means both ports, another either, and the cell does not say which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise

from portplan.importer._lexer import ONE_VERSION_ICMP, Token, normalise, one_version_icmp, tokens
from portplan.importer._portasides import arrow_fault, unaddressed, unnoted, unstruck
from portplan.importer._portscan import (
    ABOVE,
    CONDITION,
    NONE,
    RANGE_WORDS,
    Item,
    as_parameter,
    at,
    balanced,
    depth_at,
    depth_step,
    find,
    named,
    protocol_prefix,
    split_items,
    starts_term,
    strip_breaks,
    strip_commas,
    with_protocols,
)
from portplan.importer._portterms import TermReader
from portplan.importer._prose import without_prose
from portplan.importer.ports import Alternative, Fault, PortExpression, PortTerm, Transport
from portplan.model.ports import MAX_PORT

__all__ = ["MAX_ALTERNATIVES", "MAX_CELL", "read_ports"]

#: how many alternatives one cell may expand to (``6162 (2500 to 3300), 80 (8080)`` gives four)
MAX_ALTERNATIVES = 64
#: the longest port cell read (the corpus' longest is under 300 characters); a longer one is
#: not a port cell, and reading it would take time out of proportion
MAX_CELL = 4096


class Reader(TermReader):
    """Reads a whole cell: alternatives, their conditions, and the items of each."""

    def between(self, toks: list[Token]) -> list[Token]:
        """``between 1024 and 65535`` as the range ``1024 to 65535`` (both ends included, as
        port tables mean it); a bound of another shape stays for the grammar to report."""
        out: list[Token] = []
        index = 0
        while index < len(toks):
            group = toks[index : index + 4]
            if (
                len(group) == 4
                and group[0].is_("between")
                and group[1].kind == "num"
                and group[2].is_("and")
                and group[3].kind == "num"
            ):
                written = self.text[group[0].start : group[3].end]
                self.assumptions.append(f"{written!r} read as {group[1].text}-{group[3].text}")
                to = Token("word", "to", group[2].start, group[2].end)
                out.extend((group[1], to, group[3]))
                index += 4
                continue
            out.append(toks[index])
            index += 1
        return out

    def thousands(self, toks: list[Token]) -> list[Token]:
        """``49,152`` is one port when a comma cannot be a list there (``10,000``: port 000
        does not exist; ``49,152-65,535``: a range); ``22,443`` could be either: a fault.  A
        space (``1 024``, ``49 152-65 535``, no-break or thin) is such a separator too."""
        out: list[Token] = []
        index = 0
        while index < len(toks):
            token = toks[index]
            width = self._grouped(toks, index)
            if width:
                low = toks[index + width - 1]
                value = token.text + low.text
                # an end of a range: a dash or "to" between it and another number
                in_range = (len(out) > 1 and _joins(out[-1]) and out[-2].kind == "num") or (
                    index + width + 1 < len(toks)
                    and _joins(toks[index + width])
                    and toks[index + width + 1].kind == "num"
                )
                written = self.text[token.start : low.end]
                comma = width == 3
                if low.text.startswith("0") or in_range:
                    separator = "','" if comma else "the space"
                    self.assumptions.append(
                        f"{written!r}: {separator} read as a thousands separator"
                    )
                    out.append(Token("num", str(int(value)), token.start, low.end))
                else:
                    hint = (
                        "without the comma, or with a space after it"
                        if comma
                        else "without the space, or with a comma between"
                    )
                    self.fault(
                        toks[index : index + width],
                        f"{written!r} could be port {int(value)} or ports {token.text} and "
                        f"{low.text}; write it {hint}",
                    )
                index += width
                continue
            out.append(token)
            index += 1
        return out

    def _grouped(self, toks: list[Token], index: int) -> int:
        """How many tokens at ``index`` may write one port in groups of digits: 3 for
        ``49,152``, 2 for ``49 152``; 0 when they cannot."""
        first = toks[index]
        if first.kind != "num" or len(first.text) > 2 or first.text.startswith("0"):
            return 0  # 0,024 and 0 024 are no way of writing 24
        for width in (3, 2):
            group = toks[index : index + width]
            if len(group) < width or group[-1].kind != "num" or len(group[-1].text) != 3:
                continue
            if int(first.text + group[-1].text) > MAX_PORT:
                return 0
            gap = normalise(self.text[first.end : group[-1].start])
            if width == 3 and group[1].text == "," and gap == ",":
                return 3
            if width == 2 and gap and not gap.strip(" "):
                return 2
        return 0

    # -- alternatives -------------------------------------------------------------------------

    def expression(self, toks: list[Token]) -> list[Alternative]:
        alternatives: list[Alternative] = []
        for segment, otherwise in self.split_alternatives(toks):
            alternatives.extend(self.alternative(segment, otherwise))
        return alternatives

    def split_alternatives(self, toks: list[Token]) -> list[tuple[list[Token], bool]]:
        parts: list[tuple[list[Token], bool]] = []
        current: list[Token] = []
        otherwise = False
        depth = 0
        in_condition = False
        for index, token in enumerate(toks):
            depth = depth_step(token, depth)
            following = next((t for t in toks[index + 1 :] if t.kind != "nl"), None)
            if depth == 0 and token.kind == "word":
                if token.is_(*CONDITION):
                    in_condition = True
                elif token.is_("or") and self._splits_at_or(current, following, in_condition):
                    parts.append((strip_commas(current), otherwise))
                    current, otherwise, in_condition = [], False, False
                    continue
                elif token.is_("otherwise", "else"):
                    if strip_commas(current):
                        parts.append((strip_commas(current), otherwise))
                    current, otherwise, in_condition = [], True, False
                    continue
            elif depth == 0 and token.text == ":":
                in_condition = False
            current.append(token)
        parts.append((strip_commas(current), otherwise))
        return [(segment, flag) for segment, flag in parts if segment or flag]

    @staticmethod
    def _splits_at_or(current: list[Token], following: Token | None, in_condition: bool) -> bool:
        previous = current[-1] if current else None
        postfix = len(current) > 1 and current[-2].text == "/"  # 443/tcp or ...
        if (
            previous is not None
            and previous.protocol
            and not postfix
            and not previous.is_("icmp")
            and not (following is not None and following.is_("icmp"))
            and following is not None
            and following.protocol
        ):
            return False  # TCP or UDP: protocols, not alternatives
        if following is not None and following.is_(*ABOVE):
            return False  # 1024 or higher
        return not in_condition or starts_term(following)

    def condition_words(self, toks: Sequence[Token]) -> str:
        """A condition's words as written, but a span already reported as a fault between two
        of its tokens (``53 443`` in ``unless UDP/53 443 80``) left out: the condition is a
        record of what was read, and prints in a form that reads back without that fault."""
        if not toks:
            return ""
        pieces = [self.text[toks[0].start : toks[0].end]]
        for before, token in pairwise(toks):
            gap = self.text[before.end : token.start]
            if any(before.end <= f.start and f.end <= token.start for f in self.faults):
                gap = " "
            pieces += [gap, self.text[token.start : token.end]]
        return " ".join("".join(pieces).split())

    def alternative(self, written: list[Token], otherwise: bool) -> list[Alternative]:
        toks = strip_breaks(written)
        segment, known_faults = toks, len(self.faults)
        condition = "otherwise" if otherwise else None
        said: list[Token] = []  #: the tokens of a written condition
        stated: list[Token] = []  #: the words of its condition
        if toks and (toks[0].is_(*CONDITION) or (toks[0].is_("only") and at(toks, 1, "if"))):
            colon = find(toks, ":")
            if colon is None:
                self.fault(toks, f"condition {self.words(toks)!r} gives no port")
                return []
            skip = 2 if toks[0].is_("only") else 1
            keep = 0 if toks[0].is_("unless") else skip
            said, stated = toks[: colon + 1], toks[keep:colon]
            condition = self.condition_words(stated)
            toks = toks[colon + 1 :]
        else:
            for index, token in enumerate(toks):
                if index and token.is_(*CONDITION) and depth_at(toks, index) == 0:
                    cut = index - 1 if toks[index - 1].is_("only") else index
                    keep = index if token.is_("unless") else index + 1
                    said, stated = toks[cut:], toks[keep:]
                    condition = self.condition_words(stated)
                    toks = toks[:cut]
                    break
        readable = any(t.kind in ("word", "num") for t in stated) and balanced(stated)
        if said and not (readable and not any(t.text == ":" for t in stated)):
            self.fault(said, f"{self.words(said)!r} states no condition")
            condition, said = None, []
        if not strip_breaks(toks):
            what = f"condition {condition!r}" if condition else "an alternative"
            self.fault(segment, f"{what} gives no port")
            return []
        items = []
        for part in split_items(toks):
            known = len(self.faults)
            item = self.item(part)
            silent = len(self.faults) == known and not any(option for option in item.choices)
            if silent and not item.configurable and not item.protocols_only:
                self.fault(part, f"no port in {self.words(part)!r}")
            item.span = (part[0].start, part[-1].end)
            items.append(item)
        items = self.merge(items)
        choices: list[list[PortTerm]] = [[]]
        carry: tuple[Transport, ...] = ()
        alone: list[Item] = []  #: protocols written alone, for the item after them
        for item in items:
            if item.protocols_only:
                alone.append(item)
                continue
            options = item.choices or [[]]  # a faulty item adds nothing, the rest stays
            if alone:
                options, carry = self.after_alone(alone, item, options)
                alone = []
            elif item.carry:
                carry = item.carry
            expanded = [[with_protocols(t, carry) for t in option] for option in options]
            choices = [a + b for a in choices for b in expanded]
            if len(choices) > MAX_ALTERNATIVES:
                self.fault(toks, f"{self.words(toks)!r} expands to over {MAX_ALTERNATIVES} choices")
                return []
        if alone:
            self.fault(toks[-1:], f"protocol {'/'.join(_named(alone))} without a port after it")
        found = [Alternative(terms=tuple(c), condition=condition) for c in choices if c]
        if not found and len(self.faults) == known_faults:
            self.fault(segment, f"no port in {self.words(segment)!r}")
        elif not found and said:
            self.fault(said, f"condition {condition!r} applies to no port that could be read")
        return found

    def after_alone(
        self, alone: list[Item], item: Item, options: list[list[PortTerm]]
    ) -> tuple[list[list[PortTerm]], tuple[Transport, ...]]:
        """``TCP, 53``, ``TCP, UDP 53``: protocols written alone are those of the item after
        them too, joined to the ones it names (``53/tcp/udp``, never ``53/udp`` alone); the
        item's options and the protocols that carry on.  When no term of the item takes them
        (``TCP, 443/udp``, ``TCP, ICMP``), they are a fault."""
        named = _named(alone)
        joined = tuple(dict.fromkeys((*named, *item.carry)))
        taken = False
        result: list[list[PortTerm]] = []
        for option in options:
            terms = []
            for written in option:
                takes = not written.protocols or (item.carry and written.protocols == item.carry)
                terms.append(replace(written, protocols=joined) if takes else written)
                taken = taken or bool(takes)
            result.append(terms)
        if taken:
            return result, joined
        if any(options):  # an item that could not be read is reported already
            self.faults.append(
                Fault(
                    start=alone[0].span[0],
                    end=alone[-1].span[1],
                    message=f"protocol {'/'.join(named)} without a port after it",
                )
            )
        return options, item.carry or named

    def merge(self, items: list[Item]) -> list[Item]:
        """Join items a comma split: ``configurable, default 8443``; ``NAME, 2633 by default``."""
        merged: list[Item] = []
        for parsed in items:
            item = parsed
            last = merged[-1] if merged else None
            if last is not None and last.configurable:
                merged.pop()
                item = as_parameter(parsed)
            elif last is not None and last.open_name and _unnamed_defaults(parsed):
                merged.pop()
                name = last.choices[0][0].parameter
                item = named(parsed, name.name if name else None)
            merged.append(item)
        for item in merged:
            if item.configurable:
                self.faults.append(
                    Fault(start=0, end=len(self.text), message="'configurable' without a port")
                )
            self.assumptions.extend(item.assumptions)
        return [i for i in merged if not i.configurable]

    # -- items --------------------------------------------------------------------------------

    def item(self, toks: list[Token]) -> Item:
        if len(toks) == 1 and toks[0].is_("configurable"):
            return Item(choices=[[]], configurable=True)
        units: list[list[list[PortTerm]]] = []
        carry: tuple[Transport, ...] = ()
        item = Item(choices=[[]])
        pos = 0
        while pos < len(toks):
            start = pos
            protocols, either, pos = protocol_prefix(toks, pos)
            if protocols and Transport.ICMP not in protocols:
                carry = protocols
            if pos >= len(toks) and protocols != (Transport.ICMP,):
                if protocols and units and Transport.ICMP in protocols:
                    self.fault(toks[start:], f"could not read {self.words(toks[start:])!r}")
                elif protocols and units:  # 443 TCP: a protocol after the port
                    carry = ()
                    units[-1] = [[with_protocols(t, protocols) for t in o] for o in units[-1]]
                elif Transport.ICMP in protocols:  # ICMP/TCP, 80: no port is ICMP's
                    self.fault(toks[start:], "ICMP named together with TCP or UDP")
                elif protocols:
                    item.carry = protocols  # TCP, UDP 53: a protocol alone is for what follows
                    item.protocols_only = True
                    return item
                break
            if _names_icmp(toks, pos, protocols) and one_version_icmp(toks[start:]):
                self.fault(toks[start:], f"{self.words(toks[start:])!r}: {ONE_VERSION_ICMP}")
                break
            unit, pos, clean = self.unit(toks, pos, protocols, either, item)
            if unit is None:
                break
            if units:
                previous = self.words(toks[:start])
                item.assumptions.append(
                    f"no 'and' or comma between {previous!r} and "
                    f"{self.words(toks[start:pos])!r}: read as a list"
                )
            units.append(unit)
            if not clean:
                break
        if units and carry and not item.carry:
            item.carry = carry
        choices: list[list[PortTerm]] = [[]]
        for unit in units:
            choices = [a + b for a in choices for b in unit or [[]]]
            if len(choices) > MAX_ALTERNATIVES:
                self.fault(toks, f"{self.words(toks)!r} expands to over {MAX_ALTERNATIVES} choices")
                choices = [[]]
                break
        item.choices = choices
        return item


def _joins(token: Token) -> bool:
    """Whether ``token`` joins the ends of a range: a dash, ``to``, ``through``..."""
    return token.kind == "dash" or token.is_(*RANGE_WORDS)


def _names_icmp(toks: list[Token], pos: int, protocols: tuple[Transport, ...]) -> bool:
    """Whether the term at ``pos`` (after ``protocols``) is ICMP: ``ICMP``, ``ping``,
    ``ICMPv6``, ``IPv6 ICMP``."""
    if Transport.ICMP in protocols:
        return True
    token = toks[pos] if pos < len(toks) else None
    return token is not None and (
        token.is_("ping") or token.icmp_version or (token.ip_version and at(toks, pos + 1, "icmp"))
    )


def _named(alone: list[Item]) -> tuple[Transport, ...]:
    """The protocols that items written as protocols alone name, in order."""
    return tuple(dict.fromkeys(p for item in alone for p in item.carry))


def _unnamed_defaults(item: Item) -> bool:
    """Whether ``item`` is only defaults without a name (``2633 by default``)."""
    terms = [t for option in item.choices for t in option]
    return (
        item.default_only
        and bool(terms)
        and all(t.parameter is not None and t.parameter.name is None for t in terms)
    )


def read_ports(text: str) -> PortExpression:
    """Read a vendor's port cell (see the module for the grammar).

    An empty cell reads as an expression without alternatives; ``-``, ``--``, ``N/A`` and
    ``none`` as one with :attr:`~PortExpression.none` set.
    """
    if len(text) > MAX_CELL:
        message = f"a cell of {len(text)} characters is too long to be a port cell"
        return PortExpression(text=text, faults=(Fault(start=0, end=len(text), message=message),))
    toks = tokens(text)
    if not toks:
        return PortExpression(text=text)
    if " ".join(text.lower().split()) in NONE:
        return PortExpression(none=True, text=text)
    if (arrow := arrow_fault(text)) is not None:  # 5723 <---: the way it opens, not read
        return PortExpression(text=text, faults=(arrow,))
    reader = Reader(text)
    # struck-through text, IPv6 addresses, note lines, then prose: each reported, none ports
    toks = unaddressed(text, unstruck(text, toks, reader.faults), reader.faults)
    toks = without_prose(text, unnoted(text, toks, reader.faults), reader.faults)
    alternatives = reader.expression(reader.between(reader.thousands(toks))) if toks else []
    return PortExpression(
        alternatives=tuple(alternatives),
        text=text,
        assumptions=tuple(dict.fromkeys(reader.assumptions)),
        faults=tuple(reader.faults),
    )
