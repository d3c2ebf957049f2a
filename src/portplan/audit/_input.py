"""Collected files read defensively: JSON and YAML within bounds, port numbers and addresses
checked where they are read, and the boundary of each file, where whatever a reader did not
expect becomes one clear error naming the file and what to collect instead.

A collected file comes from a machine, or from a user's editor: nothing in it is trusted to
have the shape its tool prints.  The readers check the shapes they rely on and say where one
is wrong; :func:`reading` is the safety net for the rest (never a traceback).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from portplan._errors import AuditError, PortplanError
from portplan._text import half_surrogate_pair, one_line, shown
from portplan.load.yamlsrc import MAX_ALIASES, MAX_DEPTH, MAX_EXPANDED
from portplan.spaces import Ranges

__all__ = [
    "FAULTS",
    "MALFORMED",
    "address",
    "check_yaml_bounds",
    "load_json",
    "network",
    "port_number",
    "port_span",
    "reading",
    "what_went_wrong",
]

#: what a reader raises on a value or a shape it did not expect
MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)
#: ... and on nesting deeper than Python's stack
FAULTS = (*MALFORMED, RecursionError)

_MAX_PORT = 65535
_PORT_DIGITS = 5


def what_went_wrong(exc: BaseException) -> str:
    """An unexpected exception of a reader, said plainly (never Python's own jargon)."""
    if isinstance(exc, RecursionError):
        return "lists or objects nested too deeply"
    if isinstance(exc, KeyError):
        return f"{shown(exc.args[0]) if exc.args else 'a key'} is missing"
    text = str(exc)
    if "integer string conversion" in text:
        return "a number far too long to be a port number or an address"
    return shown(one_line(text), 200).strip("'\"")


@contextmanager
def reading(name: str, what: str, hint: str) -> Iterator[None]:
    """The boundary of one collected file: what its reader did not expect becomes
    ``NAME: cannot be read as WHAT: <what went wrong>; HINT``."""
    try:
        yield
    except PortplanError:
        raise
    except FAULTS as exc:
        raise AuditError(
            f"{name}: cannot be read as {what}: {what_went_wrong(exc)}; {hint}"
        ) from exc


def load_json(text: str) -> Any:
    """JSON, with nesting too deep for Python's stack refused as :class:`ValueError` (which
    the callers already report as JSON they cannot read)."""
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except RecursionError:
        raise ValueError("lists or objects nested too deeply") from None
    half = half_surrogate_pair(data)
    if half is not None:  # no finding or report could show it
        raise ValueError(f"{half}, which no text can hold")
    return data


def _number_text(value: object) -> str:
    """A number for a message: a long one by its length (never Python's 4300-digit error)."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value))) if value.bit_length() < 10_000 else None
        if digits is None or digits > 12:
            return f"(a number of {digits or 'thousands of'} digits)"
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value if len(value) <= 12 else f"(a number of {len(value)} digits)"
    return shown(value, 40)


def port_number(value: object, what: str = "port") -> int:
    """A port number (0-65535) written as an integer or as its digits; :class:`AuditError`
    (without a place: the caller adds it) otherwise."""
    number: int | None = None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value) if len(value) <= _PORT_DIGITS else None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or not 0 <= number <= _MAX_PORT:
        raise AuditError(f"{what} {_number_text(value)} is not a port number (0-65535)")
    return number


def port_span(low: object, high: object, what: str = "port range") -> Ranges:
    """The ports from ``low`` to ``high``, each checked, the lower first."""
    first, last = port_number(low), port_number(high)
    if first > last:
        raise AuditError(f"{what} {first}-{last} is reversed: write the lower port first")
    return Ranges.span(first, last)


def network(text: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or a network (host bits allowed), or :class:`AuditError` naming it."""
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        raise AuditError(f"{shown(text, 50)} is not an IP address or network") from None


def address(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """One address, or :class:`AuditError` naming it."""
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        raise AuditError(f"{shown(text, 50)} is not an IP address") from None


def check_yaml_bounds(text: str, name: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_DEPTH`, or with aliases beyond the loader's
    bounds (:data:`MAX_ALIASES`, :data:`MAX_EXPANDED`), before PyYAML's composer (which
    recurses) and the reader (which walks what aliases repeat) see it.  Syntax errors are
    left to the composer, which reports them."""
    stack: list[list[Any]] = []  #: open lists and mappings: [anchor, values in them]
    sizes: dict[str, int] = {}  #: anchor → values it stands for
    aliases = expanded = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            size = 0
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise AuditError(
                        f"{name}:{line}: lists and mappings nested more than {MAX_DEPTH} deep; "
                        "a NetworkPolicy needs a few levels: check the file"
                    )
                stack.append([event.anchor, 1])
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, sizes.get(event.anchor or "", 1)
                aliases += 1
                expanded += size
                if aliases > MAX_ALIASES or expanded > MAX_EXPANDED:
                    raise AuditError(
                        f"{name}:{line}: aliases repeat more than {MAX_EXPANDED} values (or "
                        f"more than {MAX_ALIASES} aliases); write the policies out"
                    )
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][1] += size
    except yaml.YAMLError:
        return
