"""Scanning the tokens of a port cell: brackets, separators, protocol words, and the helpers
that rewrite terms.  The grammar itself is in :mod:`._portread`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from portplan.importer._lexer import Token
from portplan.importer.ports import PortParameter, PortTerm, Transport

NONE = frozenset({"-", "--", "---", "n/a", "na", "none", "not applicable", "no port", "no ports"})
CONDITION = ("if", "when", "unless")
RANGE_WORDS = ("to", "through", "thru", "until")
#: words that, right after a port, make it the first of every port above it (``1024 onwards``)
UPWARDS = ("upward", "upwards", "onward", "onwards")
ABOVE = ("above", "higher", "up", "more", "greater", *UPWARDS)
ANY = ("any", "all")
DYNAMIC = ("dynamic", "ephemeral")
#: words with a meaning in the grammar: a port's name needs one that is none of them
KEYWORDS = frozenset(
    {"or", "and", "if", "when", "unless", "only", "otherwise", "else", "to", "through", "thru",
     "until", "by", "default", "defaults", "is", "configurable", "above", "higher", "up",
     "more", "greater", "upward", "upwards", "onward", "onwards"}
)  # fmt: skip
ICMP_NAMES = {
    "echo": 8, "echo-request": 8, "ping": 8, "request": 8, "reply": 0, "echo-reply": 0,
    "unreachable": 3, "time-exceeded": 11,
}  # fmt: skip


#: words that send the reader elsewhere for the ports: ``see comments``, ``refer to note 2``
_REFERS = ("see", "refer", "cf")


def refers_elsewhere(toks: Sequence[Token]) -> str | None:
    """What to say of a port's words that send the reader to another place for its ports
    (``see comments``): they name no port the deployment sets, and what they point to is not
    read; ``None`` for other words."""
    if toks and toks[0].is_(*_REFERS):
        return (
            "refers elsewhere for its ports, which the import does not follow: model them by hand"
        )
    return None


def depth_step(token: Token, depth: int) -> int:
    """The bracket depth after ``token``."""
    if token.text in "([":
        return depth + 1
    if token.text in ")]":
        return max(depth - 1, 0)
    return depth


def starts_term(token: Token | None) -> bool:
    """Whether a term can start at ``token`` (a port, a protocol, a bracket, any/dynamic)."""
    return token is not None and (
        token.kind == "num"
        or token.protocol
        or token.text == "["
        or token.is_(*ANY, *DYNAMIC, "ping")
    )


@dataclass
class Item:
    """One item of an alternative, as parsed: its choices (alternatives of terms) and what the
    merges of neighbouring items need to know."""

    choices: list[list[PortTerm]]
    carry: tuple[Transport, ...] = ()
    open_name: bool = False  #: a parameter named by words alone, no default, no protocol
    default_only: bool = False  #: ``default 8443``: a parameter without a name
    configurable: bool = False  #: the word ``configurable`` alone
    protocols_only: bool = False  #: ``TCP`` alone, for the items after it
    span: tuple[int, int] = (0, 0)  #: where the item stands in the cell
    assumptions: list[str] = field(default_factory=list)


#: words that make the number after them a bound, not a port with a name: ``above 1024``,
#: ``less than 1024``, ``between 1024 and 65535``, ``up to 1024``
BOUNDS = frozenset(
    {"above", "below", "under", "over", "greater", "less", "lower", "higher", "more", "fewer",
     "than", "between", "beyond", "from", "up", "upto", "to", "through", "thru", "until", "till",
     "upward", "upwards", "onward", "onwards", "except", "excluding", "min", "max", "minimum",
     "maximum", "least", "most", "plus", "minus", "not", "no"}
)  # fmt: skip
NOT_LABELS = (
    frozenset(
        {
            "note",
            "notes",
            "see",
            "table",
            "step",
            "figure",
            "version",
            "v",
            "and",
            "or",
            "if",
            "when",
        }
    )
    | BOUNDS
)


def label(toks: Sequence[Token], pos: int) -> int | None:
    """How many words name the port that follows them (``SNMP 161``, ``HTTPS 443``): one or
    two words, then a number; ``None`` when the words are not such a name."""
    for count in (1, 2):
        words = toks[pos : pos + count]
        if (
            len(words) == count
            and all(
                t.kind == "word"
                and t.low not in NOT_LABELS
                and not starts_term(t)
                and not t.protocolish
                for t in words
            )
            and at_kind(toks, pos + count, "num")
        ):
            return count
    return None


def range_at(toks: Sequence[Token], pos: int) -> bool:
    """Whether a range starts at ``pos``: ``1024 to 65535``, ``1024-65535``."""
    return (
        pos + 2 < len(toks)
        and toks[pos].kind == "num"
        and (toks[pos + 1].kind == "dash" or toks[pos + 1].is_(*RANGE_WORDS))
        and toks[pos + 2].kind == "num"
    )


def joined(toks: Sequence[Token], pos: int) -> list[tuple[int, int]]:
    """The spans of the ports and ranges at ``pos`` joined by ``/`` or ``+`` (``80/443``,
    ``500/4500``, ``80+443``, ``9000/8000-8010``): one span when there is no such join."""
    spans: list[tuple[int, int]] = []
    start = pos
    while True:
        end = start + 3 if range_at(toks, start) else start + 1
        spans.append((start, end))
        if not (
            end + 1 < len(toks) and toks[end].text in ("/", "+") and toks[end + 1].kind == "num"
        ):
            return spans
        start = end + 1


def default_marker(toks: Sequence[Token], index: int) -> bool:
    """Whether a default starts at ``index``: ``- 2633``, ``- by default``, ``by default``,
    ``default 8443``, ``defaults to 80``."""
    token = toks[index]
    if token.kind == "dash":
        return at_kind(toks, index + 1, "num") or at(toks, index + 1, "by", "default")
    if token.is_("by"):
        return at(toks, index + 1, "default")
    if token.is_("default", "defaults"):
        skip = index + 1
        while at(toks, skip, "to", "is") or (skip < len(toks) and toks[skip].text == ":"):
            skip += 1
        return at_kind(toks, skip, "num")
    return False


def at(toks: Sequence[Token], index: int, *words: str) -> bool:
    return 0 <= index < len(toks) and toks[index].is_(*words)


def at_kind(toks: Sequence[Token], index: int, kind: str) -> bool:
    return 0 <= index < len(toks) and toks[index].kind == kind


def find(toks: Sequence[Token], text: str) -> int | None:
    depth = 0
    for index, token in enumerate(toks):
        depth = depth_step(token, depth)
        if depth == 0 and token.text == text:
            return index
    return None


def depth_at(toks: Sequence[Token], index: int) -> int:
    depth = 0
    for token in toks[:index]:
        depth = depth_step(token, depth)
    return depth


def closing(toks: Sequence[Token], pos: int) -> int:
    """Index of the bracket closing the one at ``pos`` (or past the end when unclosed)."""
    depth = 0
    for index in range(pos, len(toks)):
        depth = depth_step(toks[index], depth)
        if depth == 0:
            return index
    return len(toks)


def strip_commas(toks: list[Token]) -> list[Token]:
    while toks and toks[-1].text in (",", ";"):
        toks = toks[:-1]
    return toks


def balanced(toks: Sequence[Token]) -> bool:
    """Whether every bracket of ``toks`` is closed, and closed after it opens."""
    depth = 0
    for token in toks:
        if token.text in "([":
            depth += 1
        elif token.text in ")]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def strip_breaks(toks: list[Token]) -> list[Token]:
    """``toks`` without line breaks at either end."""
    start, end = 0, len(toks)
    while start < end and toks[start].kind == "nl":
        start += 1
    while end > start and toks[end - 1].kind == "nl":
        end -= 1
    return toks[start:end]


def split_items(toks: list[Token]) -> list[list[Token]]:
    items: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for index, token in enumerate(toks):
        depth = depth_step(token, depth)
        previous = toks[index - 1] if index else None
        following = toks[index + 1] if index + 1 < len(toks) else None
        separator = depth == 0 and (
            token.text in (",", ";")
            or (token.kind == "nl" and not (following is not None and following.text == "("))
            or (
                (token.is_("and") or token.text == "&")
                and not (
                    previous is not None
                    and previous.protocol
                    and following is not None
                    and following.protocol
                )
                and not (following is not None and following.is_(*ABOVE))
            )
        )
        if separator:
            if current:
                items.append(current)
            current = []
        elif token.kind != "nl":
            current.append(token)
    if current:
        items.append(current)
    return items


def protocol_prefix(toks: list[Token], pos: int) -> tuple[tuple[Transport, ...], bool, int]:
    """``TCP``, ``TCP/UDP``, ``TCP or UDP``, ``TCP and UDP`` at ``pos`` (and the ``/`` of
    ``TCP/541``, the ``:`` of ``TCP: 80, 443``); whether they are alternatives (``or``); the
    position after them."""
    found: list[Transport] = []
    either = False
    while pos < len(toks) and toks[pos].protocol:
        found.append(Transport(toks[pos].low))
        pos += 1
        if pos < len(toks) and (toks[pos].text in ("/", "&") or toks[pos].is_("and", "or")):
            if pos + 1 < len(toks) and toks[pos + 1].protocol:
                either = either or toks[pos].is_("or")
                pos += 1
                continue
            if toks[pos].text == "/":
                pos += 1
        elif pos + 1 < len(toks) and toks[pos].text == ":" and toks[pos + 1].kind == "num":
            pos += 1
        break
    return tuple(dict.fromkeys(found)), either, pos


def protocol_postfix(toks: list[Token], pos: int) -> tuple[tuple[Transport, ...], int]:
    """``/tcp``, ``/tcp/udp`` at ``pos``."""
    found: list[Transport] = []
    while pos + 1 < len(toks) and toks[pos].text == "/" and toks[pos + 1].protocol:
        found.append(Transport(toks[pos + 1].low))
        pos += 2
    return tuple(dict.fromkeys(found)), pos


def only_protocols(inner: Sequence[Token]) -> bool:
    return any(t.protocol for t in inner) and all(
        t.protocol or t.is_("and", "or") or t.text in ("/", ",", "&") for t in inner
    )


def paren_protocols(toks: Sequence[Token]) -> tuple[Transport, ...]:
    """The protocols of a parenthesis holding only protocols: ``MOUNTD_PORT (TCP and UDP)``."""
    found: list[Transport] = []
    depth = 0
    group: list[Token] = []
    for token in toks:
        if token.text == "(":
            depth += 1
            group = []
        elif token.text == ")" and depth:
            depth -= 1
            if only_protocols(group):
                found.extend(Transport(t.low) for t in group if t.protocol)
        elif depth:
            group.append(token)
    return tuple(dict.fromkeys(found))


def without_protocol_parens(toks: Sequence[Token]) -> list[Token]:
    """``toks`` without the parentheses that hold only protocols."""
    kept: list[Token] = []
    index = 0
    while index < len(toks):
        if toks[index].text == "(":
            close = closing(toks, index)
            if only_protocols(toks[index + 1 : close]):
                index = close + 1
                continue
        kept.append(toks[index])
        index += 1
    return kept


def with_protocols(term: PortTerm, protocols: tuple[Transport, ...]) -> PortTerm:
    """``term`` with ``protocols`` when it names none."""
    return term if term.protocols or not protocols else replace(term, protocols=protocols)


def with_notes(term: PortTerm, notes: list[str], *, first: bool = False) -> PortTerm:
    """``term`` with ``notes`` added after its own (before them with ``first``)."""
    return replace(term, notes=(*notes, *term.notes) if first else (*term.notes, *notes))


def as_parameter(item: Item) -> Item:
    """``configurable, 8443``: the port that follows becomes the default of a parameter."""
    choices = [
        [
            PortTerm(
                protocols=t.protocols,
                parameter=t.parameter or PortParameter(name=None, default=t.ports),
                notes=t.notes,
            )
            if t.ports is not None or t.parameter is not None
            else t
            for t in option
        ]
        for option in item.choices
    ]
    return Item(choices=choices, carry=item.carry, assumptions=item.assumptions)


def named(item: Item, name: str | None) -> Item:
    """``NAME, default 2633``: the default takes the name before it."""
    choices = [
        [
            PortTerm(
                protocols=t.protocols,
                parameter=PortParameter(name=name, default=t.parameter.default),
                notes=t.notes,
            )
            if t.parameter is not None
            else t
            for t in option
        ]
        for option in item.choices
    ]
    return Item(choices=choices, carry=item.carry, assumptions=item.assumptions)
