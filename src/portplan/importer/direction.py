"""Directions as vendors write them: in a column (``Inbound``, ``Outbound``,
``Inbound/Outbound``, ``Inbound (loopback)``, ``Bidirectional``, a ``2-way?`` column's ``Y``),
in a heading (``Incoming Ports``) or in a section title (``Client --> Management point``).

:class:`Direction` keeps the vendor's meaning without deciding who connects: ``inbound`` and
``outbound`` are seen from the component whose table holds the row; ``forward`` is "the left
side (or the From column) starts the connection", ``backward`` the opposite, ``both`` "either
side may".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from portplan.importer._lexer import normalise
from portplan.importer.ports import Fault

__all__ = [
    "Arrow",
    "Direction",
    "DirectionReading",
    "TitleEnd",
    "format_direction",
    "read_direction",
    "split_arrow",
    "title_direction",
    "title_end",
    "unread_title_direction",
]


class Direction(StrEnum):
    """Who starts the connection, as the vendor says it."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"
    FORWARD = "forward"
    BACKWARD = "backward"


_WORDS: dict[str, Direction] = {
    **dict.fromkeys(
        ("inbound", "incoming", "in", "ingress", "inbound only", "receive", "receives"),
        Direction.INBOUND,
    ),
    **dict.fromkeys(
        ("outbound", "outgoing", "out", "egress", "outbound only", "send", "sends"),
        Direction.OUTBOUND,
    ),
    **dict.fromkeys(
        (
            "inbound/outbound", "outbound/inbound", "inbound and outbound", "outbound and inbound",
            "inbound & outbound", "inbound, outbound", "in/out", "in and out", "incoming/outgoing",
            "incoming and outgoing", "bidirectional", "bi-directional", "both", "both ways",
            "both directions", "either", "either way", "two-way", "2-way", "<->", "<-->", "↔",
        ),
        Direction.BOTH,
    ),
    **dict.fromkeys(
        ("->", "-->", "→", "one-way", "1-way", "unidirectional", "uni-directional"),
        Direction.FORWARD,
    ),
    **dict.fromkeys(("<-", "<--", "←"), Direction.BACKWARD),
}  # fmt: skip
_YES = frozenset({"y", "yes", "true", "x", "✓", "✔"})
_NO = frozenset({"n", "no", "false"})
_PAREN = re.compile(r"\(([^()]*)\)")
#: words in parentheses that state a direction, which a note would drop
_STATED = re.compile(
    r"\b(?:in|out)bound\b|\bincoming\b|\boutgoing\b|\bingress\b|\begress\b"
    r"|\bbi-?directional\b|\b(?:two|2)-way\b|<-|->|[↔→←]",
    re.IGNORECASE,
)
#: a caption's number before its words: ``Table 34.``, ``Table 2-1:``, ``Table H-1``
_NUMBERED = r"(?:(?:table|figure)\s+[A-Z]?[\d.-]*\d[.:]?\s+)?"
#: ``Connections from the Jamf Pro Server``, ``Network Connections to the Jamf Pro Server``
_TITLE_END = re.compile(
    rf"^\s*{_NUMBERED}(?:[\w-]+\s+){{0,3}}?(?:connections?|traffic|communications?)"
    r"\s+(from|to)\s+(?:the\s+)?(\S.*?)[\s.:]*$",
    re.IGNORECASE,
)
_ARROW = re.compile(r"\s(<\s?-{1,2}\s?>|-{1,2}\s?>|<\s?-{1,2}|[↔→←])\s")
_TITLE = re.compile(rf"^\s*{_NUMBERED}(inbound|incoming|outbound|outgoing)\b", re.IGNORECASE)
#: the second half of ``Inbound and Outbound Ports``, ``Incoming/Outgoing``
_TITLE_BOTH = re.compile(
    r"\s*(?:/|&|,|and|or)\s*(inbound|incoming|outbound|outgoing)\b", re.IGNORECASE
)
_TITLE_WORDS = re.compile(r"\b(inbound|incoming|outbound|outgoing)\b", re.IGNORECASE)
#: the vendor words :func:`format_direction` writes for each direction
_CANONICAL = {
    Direction.INBOUND: "Inbound",
    Direction.OUTBOUND: "Outbound",
    Direction.BOTH: "Inbound/Outbound",
    Direction.FORWARD: "->",
    Direction.BACKWARD: "<-",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionReading:
    """A direction cell as read: the direction (``None`` for an empty cell or a fault),
    ``loopback`` for ``(loopback)``, and the other words in parentheses as notes."""

    direction: Direction | None = None
    loopback: bool = False
    notes: tuple[str, ...] = ()
    text: str = field(default="", compare=False)
    faults: tuple[Fault, ...] = field(default=(), compare=False)


def _key(text: str) -> str:
    """Lower case, single spaces, no spaces around ``/`` and ``&``."""
    words = " ".join(normalise(text).lower().split())
    return re.sub(r"\s*/\s*", "/", words).strip(" .;:")


def read_direction(text: str, *, yes_no: bool = False) -> DirectionReading:
    """Read a direction cell.  With ``yes_no`` the cell answers a "2-way?" question: ``Y``
    reads as :attr:`Direction.BOTH`, ``N`` as :attr:`Direction.FORWARD`."""
    notes: list[str] = []
    loopback = False
    for inner in _PAREN.findall(text):
        if _key(inner) == "loopback":
            loopback = True
        elif _STATED.search(normalise(inner)):  # Inbound (and outbound): not a mere note
            message = (
                f"cannot read the direction {' '.join(text.split())!r}: the direction in "
                "parentheses would be dropped as a note"
            )
            return DirectionReading(
                text=text, faults=(Fault(start=0, end=len(text), message=message),)
            )
        elif inner.strip():
            notes.append(" ".join(inner.split()))
    key = _key(_PAREN.sub(" ", text))
    direction: Direction | None = None
    if yes_no and key in _YES:
        direction = Direction.BOTH
    elif yes_no and key in _NO:
        direction = Direction.FORWARD
    elif key:
        direction = _WORDS.get(key)
        if direction is None:
            expected = "Inbound, Outbound, Inbound/Outbound, Bidirectional, -> or <-"
            if yes_no:
                expected = "Y or N"
            return DirectionReading(
                text=text,
                notes=tuple(notes),
                loopback=loopback,
                faults=(
                    Fault(
                        start=0,
                        end=len(text),
                        message=f"cannot read the direction {' '.join(text.split())!r}; "
                        f"expected {expected}",
                    ),
                ),
            )
    return DirectionReading(direction=direction, loopback=loopback, notes=tuple(notes), text=text)


def format_direction(reading: DirectionReading) -> str:
    """The canonical text of a reading, which :func:`read_direction` reads back to it."""
    parts = [_CANONICAL[reading.direction]] if reading.direction else []
    if reading.loopback:
        parts.append("(loopback)")
    parts.extend(f"({note})" for note in reading.notes)
    return " ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrow:
    """A section title that names who talks to whom: ``left``, the arrow's direction
    (``forward``: left starts), ``right``."""

    left: str
    direction: Direction
    right: str


def split_arrow(title: str) -> Arrow | None:
    """``Client --> Management point``, ``Site server <--> Site server``, ``A -- > B`` (an
    older spacing): the two sides and the direction; ``None`` when the title has no arrow."""
    match = _ARROW.search(f" {title} ")
    if match is None:
        return None
    # offsets in the padded title are one more than in the title
    left, right = title[: match.start(1) - 1].strip(), title[match.end(1) - 1 :].strip()
    arrow = match.group(1).replace(" ", "")
    direction = _WORDS.get(arrow)
    if not left or not right or direction is None:
        return None
    return Arrow(left=left, direction=direction, right=right)


def title_direction(title: str) -> Direction | None:
    """The direction a heading states by its first words: ``Incoming Ports`` is inbound,
    ``Outgoing Ports`` outbound, ``Inbound and Outbound Ports`` both; ``None`` for any other
    heading, and for one that names the other direction later (``Outbound ports (and inbound
    replies)``): its first word alone would drop that."""
    match = _TITLE.match(title)
    if match is None:
        return None
    first = _WORDS[match.group(1).lower()]
    rest = normalise(title[match.end() :])
    both = _TITLE_BOTH.match(rest)
    if both is not None and _WORDS[both.group(1).lower()] not in (first, Direction.BOTH):
        return Direction.BOTH
    named = {_WORDS[w.lower()] for w in _TITLE_WORDS.findall(rest)}
    return None if named - {first} else first


def unread_title_direction(title: str) -> bool:
    """Whether ``title`` names a direction :func:`title_direction` does not read (``ESXi
    outgoing ports``, ``Ports for outbound traffic``): its rows go some way it does not say."""
    return title_direction(title) is None and _TITLE_WORDS.search(normalise(title)) is not None


@dataclass(frozen=True, slots=True)
class TitleEnd:
    """The one end a heading names its rows' connections by: ``Connections from X`` are
    ``outbound`` from X, ``Connections to X`` ``inbound`` to X."""

    name: str
    direction: Direction


def title_end(title: str) -> TitleEnd | None:
    """The end ``title`` names (``Connections from the Jamf Pro Server``); ``None`` for any
    other heading, and for one that names a second end (``Connections from A to B``)."""
    match = _TITLE_END.match(normalise(title))
    if match is None or re.search(r"\b(?:from|to)\b", match.group(2), re.IGNORECASE):
        return None
    way = Direction.OUTBOUND if match.group(1).lower() == "from" else Direction.INBOUND
    return TitleEnd(name=title[match.start(2) : match.end(2)], direction=way)
