"""Plain YAML scalars as portplan reads them: the YAML 1.2 core schema, strictly.

``yes`` is text, ``2024-02-30`` is text, ``80:22`` is text; numbers that YAML 1.1 tools would
read differently (``0443``, octal in YAML 1.1) or that are not plain decimals (``0x1bb``,
``0o773``) are refused, naming the oddity (see :mod:`portplan.load.yamlsrc`).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NOT_JUST_TEXT", "Oddity", "resolve_scalar"]

#: The most digits of an integer (a port has 5).
_MAX_DIGITS = 18

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_SPECIAL_FLOATS = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
}
#: the first characters of the plain scalars that may be more than text (see resolve_scalar)
NOT_JUST_TEXT = frozenset("0123456789+-.~nNtTfF")
_OTHER_BASE = re.compile(r"[-+]?0[oOxXbB][0-9a-fA-F_]+", re.ASCII)


class Oddity(ValueError):
    """A plain scalar portplan will not guess the meaning of; the message names the oddity."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def resolve_scalar(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema, strictly (see the module)."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text or text[0] not in "0123456789+-.":
        return text
    if _INT.fullmatch(text):
        digits = text.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0":
            octal = f"octal {int(digits, 8)}" if set(digits) <= set("01234567") else "an error"
            raise Oddity(
                f"{text!r} has a leading zero: YAML 1.1 tools read it as {octal}, "
                f"YAML 1.2 as {int(text)}",
                f"write it without the leading zero ({int(text)}), or quote it if it is text",
            )
        if len(digits) > _MAX_DIGITS:
            raise Oddity(
                f"a number of {len(digits)} digits is longer than any value here",
                "check the value",
            )
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if _OTHER_BASE.fullmatch(text):
        raise Oddity(
            f"{text!r} is a number in another base than 10",
            "write numbers in decimal (443, not 0x1bb), or quote the value if it is text",
        )
    return text
