"""Component names as vendors write them in a cell, and the ids a draft product gives them.

A cell may name several components (``Keystone, Nova, Glance, Cinder``; ``backup repository
or gateway server``; ``Node and hypervisor``; ``reporting + processing``) or any client
(``Any``, ``All``, ``*``).  ``or earlier``, ``and later`` bound a version: ``View Agent 4.5 or
earlier`` is one name; so is ``Zoom's Meetings and Webinars IP range``, whose set of addresses
after the ``and`` is both parts' (a part with a name of its own, ``Zoom's IP range``, is not).
Words in parentheses stay with the name they follow (``Prism Elements (and optionally Prism
Central if used)`` is one name).  A name that is a DNS name,
a wildcard domain or a URL is a system reached by name (``repository.example.com``,
``*.amazonaws.com``, ``https://api.example.com/v1``).  A footnote mark after a name
(``Hybrid MMR-2*``, ``Database connection *``, ``Relay†``, ``Server (*1)``) is no part of it:
:func:`footnote_marks` says which names of a cell carry one, for the caller to report (the note
may make the row conditional).
"""

from __future__ import annotations

import re
import unicodedata

from portplan.importer._lexer import normalise
from portplan.model._types import MAX_NAME

__all__ = [
    "ANY_WORDS",
    "NONE_WORDS",
    "Ids",
    "footnote_marks",
    "is_dns_name",
    "slug",
    "split_names",
]

#: cells that name any client rather than a component
ANY_WORDS = frozenset({"any", "all", "*", "anyone", "any host", "any client", "everyone"})
#: cells that name nothing
NONE_WORDS = frozenset({"", "-", "--", "n/a", "na", "none"})

#: words after ``or``/``and`` that bound a version, not name a second component: ``View Agent
#: 4.5 or earlier``, ``Windows 2008 and later``
_BOUND = r"(?:earlier|later|newer|older|above|below|higher|lower|greater)\b"
#: a second part that ends in a set of addresses and starts no name of its own (no article,
#: no possessive): the head noun is both parts' (``Zoom's Meetings and Webinars IP range``,
#: ``client and server subnets``), and the whole is one name
_SHARED = (
    r"(?!(?:the|a|an)\s)(?![^\s,;]+['\u2019]s\s)[^,;\n()]*?\b"
    r"(?:ip\s+)?(?:ranges?|subnets?|networks?|addresses|cidrs?|prefixes|blocks?)"
    r"(?=\s*(?:[,;\n]|$))"
)
_SEPARATOR = re.compile(
    rf",(?!\s*(?:(?:and|or)\s+)?{_BOUND})\s*(?:and\s+|or\s+)?|;\s*|\n+"
    rf"|\s+(?:and|or|&|\+)\s+(?!{_BOUND}|{_SHARED})",
    re.IGNORECASE,
)
_DNS = re.compile(
    r"^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]\.?$"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
#: the port after a host's name (``callhome.f5.com:443``)
_HOST_PORT = re.compile(r"(?<=[A-Za-z0-9.]):[0-9]{1,5}$")
_PAREN = re.compile(r"\([^()]*\)")
#: a footnote mark after a name: asterisks, daggers, or an asterisk mark in parentheses; an
#: asterisk right after a dot or colon is an address's wildcard part (``10.1.2.*``), no mark
_MARK = re.compile(r"\s*(?:(?<![.:*])\*+|[†‡]+|\(\*+\d*\))$")


def _unmarked(name: str) -> tuple[str, str]:
    """``name`` without the footnote mark after it, and the mark (``""`` if none); a name
    that is only a mark (``*``, any client) or a wildcard domain keeps it."""
    match = _MARK.search(name)
    if match is None or not name[: match.start()].strip():
        return name, ""
    return name[: match.start()].rstrip(), match.group().strip()


def _parts(text: str) -> list[str]:
    """``text`` cut at the separators that stand outside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            match = _SEPARATOR.match(text, index)
            if match is not None and match.end() > index:
                parts.append(text[start:index])
                start = index = match.end()
                continue
        index += 1
    parts.append(text[start:])
    return [" ".join(p.split()) for p in parts if p.strip()]


def split_names(text: str) -> list[str]:
    """The names a cell holds, in order, once each; ``[]`` for a cell that names nothing.

    A cell that names any client gives ``["*"]``.
    """
    whole = " ".join(normalise(text).split())
    if whole.lower().rstrip(".") in NONE_WORDS:
        return []
    if whole.lower().rstrip(".") in ANY_WORDS:
        return ["*"]
    if is_dns_name(_unmarked(whole)[0]):
        return [_unmarked(whole)[0]]
    names: list[str] = []
    for part in (_unmarked(p)[0] for p in _parts(normalise(text))):
        if names and part.startswith("(") and part.endswith(")"):  # a remark on a line of its own
            names[-1] = f"{names[-1]} {part}"
            continue
        name = "*" if part.lower() in ANY_WORDS else part
        if name.lower() not in NONE_WORDS and name not in names:
            names.append(name)
    return names


def footnote_marks(text: str) -> list[tuple[str, str]]:
    """The names of the cell ``text`` that carry a footnote mark, as written, with the mark."""
    whole = " ".join(normalise(text).split())
    parts = [whole] if is_dns_name(_unmarked(whole)[0]) else _parts(normalise(text))
    return [(part, mark) for part in parts if (mark := _unmarked(part)[1])]


def is_dns_name(name: str) -> bool:
    """Whether ``name`` is a DNS name, a wildcard domain or a URL (not a component's name); a
    DNS name may have its port after it (``callhome.f5.com:443``)."""
    return bool(_DNS.match(_HOST_PORT.sub("", name)) or _URL.match(name))


def slug(text: str, limit: int = MAX_NAME) -> str:
    """An identifier made of ``text``: lower case words joined by ``_`` (parenthesised words
    left out), starting with a letter, at most ``limit`` characters."""
    plain = unicodedata.normalize("NFKD", _PAREN.sub(" ", text) or text)
    ascii_text = plain.encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    if not words:
        words = re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", text).lower())
    ident = "_".join(words) or "unnamed"
    if not ident[0].isalpha():
        ident = f"n{ident}"
    return ident[:limit].rstrip("_")


class Ids:
    """Ids for names: the same name gets the same id, different names different ids."""

    def __init__(self, taken: tuple[str, ...] = ()) -> None:
        self._by_name: dict[str, str] = {}
        self._taken = set(taken)

    def __call__(self, name: str, limit: int = 40) -> str:
        key = " ".join(name.lower().split())
        found = self._by_name.get(key)
        if found is not None:
            return found
        ident = self.fresh(name, limit)
        self._by_name[key] = ident
        return ident

    def alias(self, name: str, ident: str) -> None:
        """Let ``name`` stand for ``ident`` too, unless it stands for another id already."""
        self._by_name.setdefault(" ".join(name.lower().split()), ident)

    def fresh(self, name: str, limit: int = 40) -> str:
        """A new id for ``name``, even when the same name was given one before."""
        base = slug(name, limit - 3)
        ident = base
        counter = 2
        while ident in self._taken:
            ident = f"{base}_{counter}"
            counter += 1
        self._taken.add(ident)
        return ident
