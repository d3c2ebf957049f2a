"""Tokens of a port, protocol or direction cell, with their offsets in the cell's text.

Dashes of every kind read as ``-`` and the spaces a word processor puts in (no-break, thin)
as spaces; the replacement keeps each character's offset, so a message can point at the text
as the vendor wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ONE_VERSION_ICMP",
    "PROTOCOL_WORDS",
    "REFERENCES",
    "Token",
    "names_port",
    "normalise",
    "one_version_icmp",
    "tokens",
]

_SAME_LENGTH = str.maketrans(
    {
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\t": " ",
        "\r": "\n",
    }
)

_TOKEN = re.compile(
    r"(?P<num>[0-9]+)"
    r"|(?P<word>[A-Za-z_](?:[A-Za-z0-9_*+]|[.'-](?=[A-Za-z0-9_]))*)"
    r"|(?P<dash>-)"
    r"|(?P<punct>[,;:/()\[\]&+<>])"
    r"|(?P<nl>\n)"
    r"|(?P<space> +)"
    r"|(?P<other>.)",
    re.ASCII | re.DOTALL,
)

#: the transport names a cell can hold
PROTOCOL_WORDS = frozenset({"tcp", "udp", "icmp"})
#: words after which a number refers to the document, not a port: (see note 2), (table 3)
REFERENCES = frozenset(
    {"note", "notes", "footnote", "footnotes", "see", "table", "step", "figure", "fig",
     "section", "chapter", "page", "version", "v", "rfc"}
)  # fmt: skip
_JOINED = re.compile(r"[*+]")
#: ICMP of one IP version in one word: ``ICMPv6``, ``ICMP6``, ``ICMP-v4``, ``IPv6-ICMP``
_ICMP_VERSION = re.compile(r"icmp[-_]?(?:ip)?v?[46]|(?:ip)?v?[46][-_]?icmp", re.IGNORECASE)
#: an IP version: ``IPv6``, ``v4``, ``IP6``, ``IPv6-only``
_IP_VERSION = re.compile(r"(?:ip)?v?[46](?:-[a-z]+)?", re.IGNORECASE)
#: what to say of ICMP of one IP version, which the model's ICMP cannot say
ONE_VERSION_ICMP = (
    "ICMP of one IP version, which a flow cannot say: its icmp is ICMP over IPv4 and ICMPv6 "
    "over IPv6 alike, so it would allow both; model the row by hand"
)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind (``num``, ``word``, ``dash``, ``punct``, ``nl``, ``other``), text and
    offsets in the cell."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def protocol(self) -> bool:
        return self.kind == "word" and self.low in PROTOCOL_WORDS

    @property
    def protocolish(self) -> bool:
        """A word that joins a transport's name to more by ``+`` or ``*`` (``TCP+UDP``,
        ``UDP*``), or names ICMP of one IP version (``ICMPv6``): the grammar cannot read it,
        and it is no mere name or note either."""
        return (
            self.kind == "word"
            and not self.protocol
            and (
                any(part.lower() in PROTOCOL_WORDS for part in _JOINED.split(self.text))
                or self.icmp_version
            )
        )

    @property
    def icmp_version(self) -> bool:
        """A word naming ICMP of one IP version: ``ICMPv6``, ``ICMP6``, ``IPv6-ICMP``."""
        return self.kind == "word" and _ICMP_VERSION.fullmatch(self.text) is not None

    @property
    def ip_version(self) -> bool:
        """A word naming an IP version: ``IPv4``, ``IPv6``, ``v6``, ``IP6``."""
        return self.kind == "word" and _IP_VERSION.fullmatch(self.text) is not None

    def is_(self, *texts: str) -> bool:
        """Whether the token is one of ``texts`` (words compared without case)."""
        return self.low in texts


def normalise(text: str) -> str:
    """``text`` with dashes and odd spaces made plain, every character where it was."""
    return text.translate(_SAME_LENGTH)


def tokens(text: str) -> list[Token]:
    """The tokens of ``text`` (normalised), spaces left out."""
    found = []
    for match in _TOKEN.finditer(normalise(text)):
        kind = match.lastgroup or "other"
        if kind != "space":
            found.append(Token(kind, match.group(), match.start(), match.end()))
    return found


def names_port(toks: Sequence[Token], index: int) -> bool:
    """Whether the number at ``index`` may be a port: not one a word before it makes a
    reference to the document (``Note 2``, ``RFC 5424``), nor part of a version (``TLS
    1.2``)."""
    before = toks[index - 1] if index else None
    if before is not None and before.kind == "word" and before.low in REFERENCES:
        return False
    return not _in_version(toks, index)


def _in_version(toks: Sequence[Token], index: int) -> bool:
    """Whether the number at ``index`` is part of ``1.2``: a dot right between it and another
    number."""
    for step in (1, -1):
        dot, other = index + step, index + 2 * step
        if min(dot, other) < 0 or max(dot, other) >= len(toks):
            continue
        left, right = sorted((toks[index], toks[other]), key=lambda t: t.start)
        if (
            toks[dot].text == "."
            and toks[other].kind == "num"
            and left.end == toks[dot].start
            and toks[dot].end == right.start
        ):
            return True
    return False


def one_version_icmp(toks: Sequence[Token]) -> bool:
    """Whether ``toks`` name ICMP of one IP version: a word for it (``ICMPv6``), or ICMP with
    an IP version (``ICMP v6``, ``IPv6 ICMP``, ``ICMP echo (IPv6)``)."""
    return any(t.icmp_version for t in toks) or (
        any(t.is_("icmp", "ping") for t in toks) and any(t.ip_version for t in toks)
    )
