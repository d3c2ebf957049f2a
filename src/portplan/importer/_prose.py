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
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from portplan.importer._lexer import Token
from portplan.importer._names import is_dns_name
from portplan.importer._portscan import CONDITION, depth_at, refers_elsewhere
from portplan.importer.ports import Fault
from portplan.model._types import MAX_NAME as MAX_COMPONENT_NAME

__all__ = ["MAX_NAME", "is_paragraph", "is_prose", "prose_fault", "without_prose"]

#: the longest a port's name may be (the corpus' longest is 62 characters: ``ports specified in
#: /etc/sysconfig/nfs - variables MOUNTD_PORT``)
MAX_NAME = 80
#: the end of one sentence and the start of the next
_SENTENCES = re.compile(r"[.!?]\s+[A-Z]")
#: the least words of a sentence ended by a full stop that is never a system's name
_SENTENCE = 6
#: words that make a run of words a sentence rather than a name
_SENTENCE_WORDS = frozenset({"the", "a", "an", "must", "should", "will", "can", "please"})


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


def without_prose(text: str, toks: list[Token], faults: list[Fault]) -> list[Token]:
    """``toks`` without the lines that are prose, a fault added to ``faults`` for each."""
    kept: list[Token] = []
    line: list[Token] = []
    for token in [*toks, None]:
        if token is not None and token.kind != "nl":
            line.append(token)
            continue
        if line and is_prose(text, line):
            faults.append(prose_fault(text, line))
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
