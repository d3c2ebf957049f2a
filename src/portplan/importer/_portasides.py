"""What a port cell holds that is no port, each part reported and its tokens left out before
the grammar reads the rest: struck-through text (``~~8080~~``), IPv6 addresses
(``2001:db8::1``) and lines that are notes (``Note Port 80 is sent on to port 443.``); and
an arrow (:func:`arrow_fault`), which leaves no port of the cell to read.
"""

from __future__ import annotations

import re

from portplan.importer._lexer import Token
from portplan.importer.ports import Fault

__all__ = ["arrow_fault", "unaddressed", "unnoted", "unstruck"]

#: struck-through text, as the readers write it (``~~8080~~``: a port the vendor withdrew)
_STRUCK = re.compile(r"~~.*?~~", re.DOTALL)
#: what ends a word run into struck text: ``44~~3~~`` is struck whole, ``~~8080~~, 8443`` not
_APART = " \t\n,;"


def unstruck(text: str, toks: list[Token], faults: list[Fault]) -> list[Token]:
    """The tokens of ``text`` but struck-through text, each struck span reported; a number or
    a word run into it (``44~~3~~``, ``443~~,8443~~``) is struck with it, never read apart."""
    spans = []
    for match in _STRUCK.finditer(text):
        start, end = _widened(text, *match.span())
        spans.append((start, end))
        message = f"could not read {text[start:end]!r}: struck-through text"
        faults.append(Fault(start=start, end=end, message=message))
    return _outside(toks, spans)


def _widened(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` widened to the words run into it (up to :data:`_APART`)."""
    while start > 0 and text[start - 1] not in _APART:
        start -= 1
    while end < len(text) and text[end] not in _APART:
        end += 1
    return start, end


def _outside(toks: list[Token], spans: list[tuple[int, int]]) -> list[Token]:
    """The tokens that start in none of ``spans``."""
    return [t for t in toks if not any(s <= t.start < e for s, e in spans)]


#: a line that is a note of the cell: ``Note Port 80 is sent on to port 443.``, ``NOTE: ...``
_NOTE_LINE = re.compile(
    r"^[ \t]*(?:notes?|nb)\b[ \t]*:?[ \t]*[A-Za-z].*$", re.IGNORECASE | re.MULTILINE
)


def unnoted(text: str, toks: list[Token], faults: list[Fault]) -> list[Token]:
    """The tokens of ``text`` but those of lines that are notes, each such line reported: the
    ports and words of a note (``Note Ports 80 and 443 serve the Admin web applications``,
    ``Note Whether this port is used depends on the route table.``) are remarks on the ports
    above them, never ports or parameters of their own."""
    spans = [match.span() for match in _NOTE_LINE.finditer(text)]
    for start, end in spans:
        message = f"{text[start:end].strip()!r} is a note, not ports: model what it says by hand"
        faults.append(Fault(start=start, end=end, message=message))
    return _outside(toks, spans)


#: what may be an IPv6 address: hexadecimal groups between colons, at least two colons
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def unaddressed(text: str, toks: list[Token], faults: list[Fault]) -> list[Token]:
    """The tokens of ``text`` but IPv6 addresses, each reported with what is run into it
    (``[2001:db8::1]:443``, ``2001:db8::/32``, ``fe80::1%eth0``): its groups are no ports
    (``2001:db8::1`` is not port 2001), and a port run into it is the address's to say."""
    spans = []
    for match in _IPV6.finditer(text):
        written = match.group()
        if "::" not in written and written.count(":") != 7:  # 8000:8100 is a range
            continue
        start, end = _widened(text, *match.span())
        spans.append((start, end))
        message = f"could not read {text[start:end]!r}: an IPv6 address, not a port"
        faults.append(Fault(start=start, end=end, message=message))
    return _outside(toks, spans)


#: an arrow: ``--->``, ``<---``, ``<--->``, ``->``, ``=>``, ``<==``, ``<=>``, ``-- >``, ``→``;
#: not ``<=`` alone, a bound (``443 (version <= 7)``)
_ARROW = re.compile(r"<\s?(?:-+|={2,})\s?>?|<=>|[-=]+\s?>|[\u2190-\u21ff]")


def arrow_fault(text: str) -> Fault | None:
    """The fault of a port cell that holds an arrow (``1433 --->``, ``5723 <---``, ``161,162
    <--->``: Operations Manager writes the way the connection opens beside its ports), or
    ``None``.  The arrow may point against the table's columns (``<---``: the right-hand
    system connects), which the import does not read from a port cell: reading the ports
    alone drafted them from the left-hand system to the right-hand one, the opposite of what
    the vendor wrote; so none is read."""
    match = _ARROW.search(text)
    if match is None:
        return None
    return Fault(
        start=0,
        end=len(text),
        message=f"{' '.join(text.split())!r}: the arrow {match.group()!r} says which way the "
        "connection opens, which the import does not read from a port cell; no port of it is "
        "read: model the row by hand",
    )
