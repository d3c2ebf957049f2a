"""Prose in a port cell: a sentence the vendor wrote beside the ports (``Allows access from the
sensor, or end user, to the OT sensor``), which names no port; and a paragraph in a cell that
names systems (:func:`is_paragraph`), which names none of them.

A line of the cell, or the words read as a port's name, is prose when it holds two sentences
(``. A``) or when four words or more outside parentheses include an article or a modal verb
(``the``, ``a``, ``must``, ``please``); the words of a name also when longer than a port's name
can be (:data:`MAX_NAME` characters, with no number in it).  A line that states a condition
(``if``, ``when``, ``unless``) is the grammar's to read, and one that refers elsewhere (``see
comments``) is reported as such: neither is prose.  Prose is a fault of the cell:
never a parameter the deployment must set, never split into alternatives at its ``or``, and a
port written in it (``Port 22 from the sensor to the OT sensor``) is not read either, since the
sentence says of it what the import cannot read (here another pair of ends than the row's).

A line is words around a number (:func:`among_words`) when a number stands between a name
before it and a plain word after it (``Windows 2019 servers``, ``Tier 2 ports``, ``Windows
8.1 clients``), or when ``and later``, ``or earlier`` follow it (``Release 7 and later``): a
version, a count or a group, never the port ``SNMP 161``, ``161 SNMP``, ``HTTPS 443 port``
or ``TCP 135 and 445`` are.  Such a line is reported like prose, no port of it read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from portplan.importer._lexer import Token
from portplan.importer._names import is_dns_name
from portplan.importer._portscan import (
    ANY,
    BOUNDS,
    CONDITION,
    DYNAMIC,
    ICMP_NAMES,
    KEYWORDS,
    depth_at,
    label,
    refers_elsewhere,
)
from portplan.importer.ports import Fault
from portplan.model._types import MAX_NAME as MAX_COMPONENT_NAME

__all__ = [
    "MAX_NAME",
    "among_words",
    "is_paragraph",
    "is_prose",
    "prose_fault",
    "without_prose",
]

#: the longest a port's name may be (the corpus' longest is 62 characters: ``ports specified in
#: /etc/sysconfig/nfs - variables MOUNTD_PORT``)
MAX_NAME = 80
#: the end of one sentence and the start of the next
_SENTENCES = re.compile(r"[.!?]\s+[A-Z]")
#: the least words of a sentence ended by a full stop that is never a system's name
_SENTENCE = 6
#: words that make a run of words a sentence rather than a name
_SENTENCE_WORDS = frozenset({"the", "a", "an", "must", "should", "will", "can", "please"})
#: words that bound a version after ``and``/``or`` (``7 and later``): never a port's bound
_VERSION_BOUNDS = frozenset({"later", "earlier", "newer", "older"})
#: words that are the grammar's beside a number (``port 80``, ``type 3 code 4``); ``ports``
#: after one counts them (``Tier 2 ports``)
_BEFORE = frozenset({"port", "ports", "type", "code"})
_AFTER = frozenset({"port", "type", "code"})


def _written(text: str, toks: Sequence[Token]) -> str:
    return " ".join(text[toks[0].start : toks[-1].end].split()) if toks else ""


def is_prose(text: str, toks: Sequence[Token], *, name: bool = False) -> bool:
    """Whether ``toks`` (of ``text``) are prose, the words of a port's ``name`` also when
    longer than one can be; see the module."""
    outer = [t for index, t in enumerate(toks) if depth_at(toks, index) == 0]
    words = [t for t in outer if t.kind == "word"]
    if not words or any(t.is_(*CONDITION) for t in words) or refers_elsewhere(toks):
        return False
    written = _written(text, toks)
    if _SENTENCES.search(written):
        return True
    if len(words) >= 4 and any(t.low in _SENTENCE_WORDS for t in words):
        return True
    return name and len(written) > MAX_NAME and not any(t.kind == "num" for t in outer)


def prose_fault(text: str, toks: Sequence[Token]) -> Fault:
    """The fault of prose ``toks``."""
    return Fault(
        start=toks[0].start,
        end=toks[-1].end,
        message=f"{_written(text, toks)!r} is prose, not a port: model what it says by hand",
    )


def _plain(token: Token, grammar: frozenset[str]) -> bool:
    """Whether ``token`` is a word with no meaning in the port grammar (nor in ``grammar``)."""
    return (
        token.kind == "word"
        and not token.protocol
        and not token.protocolish
        and token.low not in KEYWORDS | BOUNDS | grammar
        and token.low not in ICMP_NAMES
        and not token.is_(*CONDITION, *ANY, *DYNAMIC)  # RPC 135 dynamic: a term of its own
    )


def _outside(toks: Sequence[Token]) -> list[bool]:
    """For each of ``toks``, whether it is outside parentheses and outside a condition (from
    ``if``/``when``/``unless`` to a colon after it, or to the end): a condition's words are
    the grammar's (``443 if Windows 2019 servers are used``)."""
    flags: list[bool] = []
    in_condition = False
    for index, token in enumerate(toks):
        depth = depth_at(toks, index)
        if depth == 0 and token.is_(*CONDITION):
            in_condition = True
        flags.append(depth == 0 and not in_condition and token.text not in "()")
        if depth == 0 and in_condition and token.text == ":":
            in_condition = False
    return flags


def among_words(toks: Sequence[Token]) -> str | None:
    """What words around a number make of the line (see the module), or ``None``."""
    outside = _outside(toks)
    for index, token in enumerate(toks):
        if token.kind != "num" or not outside[index]:
            continue
        end = index + 1  # past a version's dotted parts: 8.1, 7.0.2
        while (
            end + 1 < len(toks)
            and toks[end].text == "."
            and toks[end + 1].kind == "num"
            and toks[end - 1].end == toks[end].start == toks[end + 1].start - 1
        ):
            end += 2
        after = toks[end] if end < len(toks) and outside[end] else None
        if (
            after is not None
            and after.is_("and", "or")
            and end + 1 < len(toks)
            and toks[end + 1].low in _VERSION_BOUNDS
        ):
            written = "".join(t.text for t in toks[index:end])
            return f"bounds a version ({written} {toks[end].text} {toks[end + 1].text})"
        named = any(
            index >= count
            and label(toks, index - count) == count
            and all(
                _plain(t, _BEFORE) and outside[index - count + k]
                for k, t in enumerate(toks[index - count : index])
            )
            for count in (1, 2)
        )
        if named and after is not None and _plain(after, _AFTER):
            return "is words around a number (a version, a count, a group)"
    return None


def without_prose(text: str, toks: list[Token], faults: list[Fault]) -> list[Token]:
    """``toks`` without the lines that are prose or words around a number, a fault added to
    ``faults`` for each."""
    kept: list[Token] = []
    line: list[Token] = []
    for token in [*toks, None]:
        if token is not None and token.kind != "nl":
            line.append(token)
            continue
        if line and is_prose(text, line):
            faults.append(prose_fault(text, line))
        elif line and not refers_elsewhere(line) and (what := among_words(line)):
            written = _written(text, line)
            faults.append(
                Fault(
                    start=line[0].start,
                    end=line[-1].end,
                    message=f"{written!r} {what}, not a port: model what it says by hand",
                )
            )
        else:
            kept.extend(line)
        if token is not None:
            kept.append(token)
        line = []
    return kept


def is_paragraph(text: str, names: Sequence[str]) -> bool:
    """Whether a cell that names systems (a source, a destination), of ``text`` and read as
    ``names``, is a paragraph instead: two sentences, a sentence of several words ended by a
    full stop, or a name longer than a component's may be.  Its parts are no systems.  A DNS
    name is a system however long (up to 253 characters) and with its final dot
    (``host.example.com.``): a cell of DNS names only is never a paragraph."""
    written = " ".join(text.split())
    if names and all(is_dns_name(name) for name in names):
        return False
    return (
        bool(_SENTENCES.search(written))
        or (written.endswith(".") and len(re.findall(r"\w+", written)) >= _SENTENCE)
        or any(len(name) > MAX_COMPONENT_NAME and not is_dns_name(name) for name in names)
    )
