"""Small text helpers every layer shares: did-you-mean hints, port text, one-line text,
control characters made visible."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

__all__ = [
    "EXPECTED_BLOCKED",
    "choice_hint",
    "control_picture",
    "counted",
    "describe_ports",
    "did_you_mean",
    "escaped",
    "format_path",
    "half_surrogate_pair",
    "one_line",
    "shown",
    "terminal_text",
]


#: how the first note of a ``verify --expect-blocked`` probe begins, in every report of it:
#: the mark by which a results document tells such a probe from a probe of a planned row
EXPECTED_BLOCKED = "expected blocked: "


class _Range(Protocol):
    """Anything that prints as a port or a range (``443``, ``18118-18126``)."""

    def __str__(self) -> str: ...


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'website'?"`` when a close match exists, else ``None``."""
    import difflib  # noqa: PLC0415 - only when a name is wrong, not at start-up

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def choice_hint(word: str, choices: Iterable[str], what: str, *, owner: str = "this file") -> str:
    """A hint naming the closest choice, or listing the choices when none is close (``owner``:
    who declares the choices, where there are none)."""
    options = sorted(choices)
    close = did_you_mean(word, options)
    if close:
        return close
    if not options:
        return f"{owner} declares no {what}"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"known {what}: {shown}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``2 files``: a count and its noun, in the plural (``plural``, by default the
    noun and an ``s``) unless the count is one."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def describe_ports(ranges: Iterable[_Range]) -> str:
    """Ports and ranges as written, in their order: ``"135,49152-65535"``."""
    return ",".join(str(r) for r in ranges)


def format_path(path: Iterable[str | int]) -> str:
    """A model path as users read it: ``flows[3].ports[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "the top level"


def one_line(text: str) -> str:
    """Free text made safe for a one-line comment: control characters (line breaks, NUL...)
    become spaces and runs of white space one space, so user text can never start a new line
    of a generated ruleset."""
    import unicodedata  # noqa: PLC0415 - not at start-up

    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(printable.split())


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters: a value the user wrote
    (or an alias expanded) is named, never printed in full."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 15]}... ({len(text)} characters)"


#: what a terminal must not be given as it is: C0 and C1 controls, DEL, and the line and
#: direction marks that move or reorder what follows
_UNSHOWN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def control_picture(match: re.Match[str]) -> str:
    """The character ``match`` found, as a reader can see it: a C0 control as its symbol of
    Unicode's Control Pictures (``\\x1b`` as ``␛``), DEL as ``␡``, anything else U+FFFD."""
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def terminal_text(text: str, *, newlines: bool = True) -> str:
    """``text`` as a terminal should show it: each control character a visible symbol
    (``\\x1b`` as ``␛``, ``\\n`` as ``␊`` unless ``newlines`` are kept), so that a name can
    neither colour, move nor clear the screen, nor start a line of its own."""
    if newlines:
        return "\n".join(_UNSHOWN.sub(control_picture, line) for line in text.split("\n"))
    return _UNSHOWN.sub(control_picture, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str, *, newlines: bool = False) -> str:
    """``text`` for a message, each control character (C0, DEL, C1, the line and direction
    marks) written as its escape (``\\x1b``, ``\\x0d``, ``\\u202e``), so that a file
    name can neither colour, move nor clear the screen nor start a line; letters of any
    script (``é``, ``日本``) stay as they are.  ``newlines``: keep line breaks (a message of
    several lines)."""
    if newlines:
        return "\n".join(_UNSHOWN.sub(_escape, line) for line in text.split("\n"))
    return _UNSHOWN.sub(_escape, text)


#: half of a UTF-16 surrogate pair: JSON's ``\ud800`` escape alone, which ``json`` reads
#: into a string no UTF-8 text can hold
_SURROGATE = re.compile("[\ud800-\udfff]")


def half_surrogate_pair(data: object) -> str | None:
    """Where the first string (or key) of parsed JSON ``data`` holds half a surrogate pair,
    said for an error (``checks[0].outcome holds half of a surrogate pair (\\ud800)``, with
    `` in a key`` for a key); ``None``: nowhere.  Any output of such a string would fail, so
    readers of JSON refuse it with its place."""
    found = _first_half_pair(data)
    if found is None:
        return None
    where, char, in_key = found
    return (
        f"{where or 'the document'} holds half of a surrogate pair "
        f"({char.encode('unicode_escape').decode()}){' in a key' if in_key else ''}"
    )


def _first_half_pair(data: object) -> tuple[str, str, bool] | None:
    """Where the first string (or key) of ``data`` holding half a surrogate pair is, the
    character, and whether it is in a key."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                return where, found.group(), False
        elif isinstance(value, dict):
            items = []
            for key, item in value.items():
                found = _SURROGATE.search(str(key))
                if found:
                    return where, found.group(), True
                items.append((f"{where}.{key}" if where else str(key), item))
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{where}[{i}]", item) for i, item in enumerate(value)]))
    return None
