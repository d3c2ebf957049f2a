"""The shape of ``nft -j list ruleset`` output, checked before it is read, and its expressions
shown as text.

The reader (:mod:`.nftables`) relies on the objects nft prints: a list of objects, each
table, chain, rule, set or map an object with its names as text, a rule's statements each an
object of one key.  A file of another shape is an error naming where in the document it
strays; a condition inside a rule whose values cannot be read makes only that rule
unreadable (:func:`reason`).
"""

from __future__ import annotations

import json
from typing import Any

from portplan._errors import AuditError
from portplan._text import shown

__all__ = [
    "Unreadable",
    "changed_by_rules",
    "check_document",
    "flags",
    "reason",
    "rewritten",
    "rule_text",
    "text_of",
]

_HINT = "give the output of `nft -j list ruleset`"
_NAMES = {
    "table": ("family", "name"),
    "chain": ("family", "table", "name"),
    "rule": ("family", "table", "chain"),
    "set": ("family", "table", "name"),
    "map": ("family", "table", "name"),
}
_CHAIN_TEXT = ("hook", "type", "policy")


class Unreadable(Exception):
    """A condition the audit cannot turn into a set exactly."""


class _Stray(Exception):
    """Where the document strays from nft's shape, and how."""

    def __init__(self, at: str, what: str) -> None:
        super().__init__(f"{what}, at {at}")


def text_of(value: Any) -> str:
    """A JSON expression as short readable text (for rule texts and messages)."""
    try:
        return _text(value)
    except (KeyError, TypeError, AttributeError, ValueError):
        return shown(json.dumps(value, separators=(",", ":")), 80)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        if "payload" in value:
            payload = value["payload"]
            if "base" in payload:  # raw bits of a header, as nft writes them: @nh,96,32
                return f"@{payload['base']},{payload['offset']},{payload['len']}"
            return f"{payload['protocol']} {payload['field']}"
        for key in ("meta", "ct"):
            if key in value:
                return f"{key} {value[key].get('key')}"
        if "prefix" in value:
            return f"{value['prefix']['addr']}/{value['prefix']['len']}"
        if "range" in value:
            return "-".join(str(v) for v in value["range"])
        if "set" in value:
            return "{ " + ", ".join(_text(v) for v in value["set"]) + " }"
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def rule_text(exprs: list[dict[str, Any]]) -> str:
    """A rule's statements (checked by :func:`check_document`) as nft-like text."""
    parts = []
    for expr in exprs:
        (kind,) = expr.keys()
        body = expr[kind]
        if kind == "match":
            op = body.get("op", "==")
            shown_op = "" if op in ("==", "in") else f"{op} "
            parts.append(f"{text_of(body.get('left'))} {shown_op}{text_of(body.get('right'))}")
        elif kind in ("jump", "goto"):
            parts.append(f"{kind} {body.get('target')}")
        elif body is None:
            parts.append(kind)
        else:
            parts.append(f"{kind} {text_of(body)}")
    return " ".join(parts)


def reason(exc: Exception, condition: Any) -> str:
    """Why a condition is unreadable: what the reader said, or that nft prints no such
    shape."""
    if isinstance(exc, Unreadable):
        return str(exc)
    return f"{text_of(condition)} (a condition of a shape nft does not print)"


def flags(body: dict[str, Any]) -> set[str]:
    """A set's or a map's flags (nft prints one as a word, several as a list)."""
    found = body.get("flags", [])
    return {found} if isinstance(found, str) else set(found)


#: header fields whose rewrite makes a packet another one for the rules after it
_ADDRESSED = frozenset({"saddr", "daddr", "sport", "dport"})
#: the same as bits of a raw payload (``@nh,128,32 set ...``): the addresses of IPv4 (96-159)
#: and IPv6 (64-319) in the network header, the ports in the transport header
_ADDRESSED_BITS = {"nh": (64, 320), "th": (0, 32)}


def rewritten(kind: str, value: Any) -> str | None:
    """What a statement rewrites of what later rules match on, as the audit says it; ``None``
    when it rewrites nothing they read: a destination NAT (``dnat``, ``redirect``,
    ``tproxy``), or an address or a port that a stateless NAT sets (``ip daddr set``,
    ``tcp dport set``: a ``mangle`` of the header, or of its raw bits, ``@nh,128,32 set``)."""
    if kind in ("dnat", "redirect", "tproxy"):
        return f"{kind}: the destination is rewritten"
    key = value.get("key") if kind == "mangle" and isinstance(value, dict) else None
    payload = key.get("payload") if isinstance(key, dict) else None
    if isinstance(payload, dict) and payload.get("field") in _ADDRESSED:
        return f"{text_of(key)} set: the header is rewritten (stateless NAT)"
    if isinstance(payload, dict) and payload.get("base") in _ADDRESSED_BITS:
        start, end = _ADDRESSED_BITS[payload["base"]]
        offset, length = payload.get("offset"), payload.get("len")
        if not isinstance(offset, int) or not isinstance(length, int):
            return f"{text_of(key)} set: the header may be rewritten (stateless NAT)"
        if offset < end and offset + length > start:
            return f"{text_of(key)} set: an address or a port may be rewritten (stateless NAT)"
    return None


def changed_by_rules(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """The sets and maps (family, table, name) whose members the rules change as packets pass:
    ``add @NAME``, ``update @NAME``, ``delete @NAME``, a meter.  nft lists such a set without
    the flag ``dynamic``, so its listed members are a moment's, not what the rules match."""
    found: set[tuple[str, str, str]] = set()
    for item in items:
        body = item.get("rule")
        if not isinstance(body, dict):
            continue
        for expr in body.get("expr", []):
            ((kind, value),) = expr.items()
            if not isinstance(value, dict):
                continue
            name = value.get("name") if kind == "meter" else value.get(kind)
            if kind in ("set", "map", "meter") and isinstance(name, str):
                found.add((body["family"], body["table"], name.removeprefix("@")))
    return found


def check_document(data: Any, name: str) -> list[dict[str, Any]]:
    """The objects of ``nft -j list ruleset`` output; :class:`AuditError` naming where the
    document strays from nft's shape."""
    try:
        if not isinstance(data, dict) or not isinstance(data.get("nftables"), list):
            raise _Stray("the top level", 'not an object whose "nftables" is a list')
        items: list[dict[str, Any]] = data["nftables"]
        for index, item in enumerate(items):
            _item(item, f"nftables[{index}]")
    except _Stray as exc:
        raise AuditError(f"{name}: cannot be read as nft JSON: {exc}; {_HINT}") from None
    return items


def _item(item: Any, at: str) -> None:
    if not isinstance(item, dict):
        raise _Stray(at, f"{shown(item, 40)} is not an object")
    for kind, names in _NAMES.items():
        if kind not in item:
            continue
        body = item[kind]
        here = f"{at}.{kind}"
        if not isinstance(body, dict):
            raise _Stray(here, f"{shown(body, 40)} is not an object")
        for key in names:
            if not isinstance(body.get(key), str):
                raise _Stray(f"{here}.{key}", f"{shown(body.get(key), 40)} is not a name")
        if kind == "chain":
            for key in _CHAIN_TEXT:
                if key in body and not isinstance(body[key], str):
                    raise _Stray(f"{here}.{key}", f"{shown(body[key], 40)} is not a word")
        elif kind == "rule":
            _statements(body.get("expr", []), f"{here}.expr")
        elif kind in ("set", "map"):
            _set(body, here, verdicts=kind == "map" and body.get("map") == "verdict")


def _set(body: dict[str, Any], at: str, *, verdicts: bool) -> None:
    found = body.get("flags", [])
    if not isinstance(found, str) and not (
        isinstance(found, list) and all(isinstance(f, str) for f in found)
    ):
        raise _Stray(f"{at}.flags", f"{shown(found, 40)} is not a list of flags")
    elements = body.get("elem", [])
    if not isinstance(elements, list):
        raise _Stray(f"{at}.elem", f"{shown(elements, 40)} is not a list")
    if verdicts:
        for index, element in enumerate(elements):
            _entry(element, f"{at}.elem[{index}]")


def _entry(element: Any, at: str) -> None:
    """One entry of a verdict map: ``[key, {"accept": null}]``."""
    if not (
        isinstance(element, list)
        and len(element) == 2
        and isinstance(element[1], dict)
        and len(element[1]) == 1
    ):
        raise _Stray(at, f"{shown(element, 40)} is not a [key, verdict] pair")


def _statements(exprs: Any, at: str) -> None:
    if not isinstance(exprs, list):
        raise _Stray(at, f"{shown(exprs, 40)} is not a list of statements")
    for index, expr in enumerate(exprs):
        here = f"{at}[{index}]"
        if not isinstance(expr, dict) or len(expr) != 1:
            raise _Stray(here, f"{shown(expr, 40)} is not a statement (an object of one key)")
        ((kind, body),) = expr.items()
        if kind == "match" and not (isinstance(body, dict) and "left" in body and "right" in body):
            raise _Stray(f"{here}.match", f"{shown(body, 40)} is not a match (left, op, right)")
        if kind in ("jump", "goto") and not (
            isinstance(body, dict) and isinstance(body.get("target"), str)
        ):
            raise _Stray(f"{here}.{kind}", f"{shown(body, 40)} names no target chain")
        if kind == "vmap":
            _vmap(body, f"{here}.vmap")


def _vmap(body: Any, at: str) -> None:
    if not isinstance(body, dict) or "key" not in body or "data" not in body:
        raise _Stray(at, f"{shown(body, 40)} is not a verdict map (key, data)")
    data = body["data"]
    if isinstance(data, str):
        return  # a named map: @NAME
    entries = data.get("set") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise _Stray(f"{at}.data", f"{shown(data, 40)} is neither @NAME nor a set of entries")
    for index, element in enumerate(entries):
        _entry(element, f"{at}.data.set[{index}]")
