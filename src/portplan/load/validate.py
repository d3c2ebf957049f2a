"""Turn pydantic's validation errors into located, actionable diagnostics."""

from __future__ import annotations

import difflib
import functools
import types
import typing
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from portplan._errors import ConditionSyntaxError, Diagnostic, ModelPath
from portplan._text import choice_hint, format_path, shown
from portplan.load.yamlsrc import SourceMap
from portplan.model._types import HOST_PATTERN, PRODUCT_ID_PATTERN
from portplan.model.kubernetes import NAMESPACE_PATTERN

M = TypeVar("M", bound=BaseModel)


def _data_path(data: Any, loc: tuple[int | str, ...]) -> ModelPath:
    """Keep the parts of a pydantic location that exist in the data (drops union/function tags)."""
    path: list[str | int] = []
    current = data
    for named in loc:
        part: Any = named
        if isinstance(current, list):
            found = isinstance(part, int) and 0 <= part < len(current)
        else:
            found = isinstance(current, dict) and part in current
        if not found and isinstance(current, dict) and part != "[key]":
            # a key YAML read as null or a number: pydantic names it as text ('None', '1.5')
            part = next((k for k in current if not isinstance(k, str) and str(k) == part), part)
            found = part in current
        if not found:
            continue  # a union member's or validator's name, not a place in the data
        current = current[part]
        path.append(part)
    return tuple(path)


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_at(root: type[BaseModel], path: ModelPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for listing its allowed keys)."""
    candidates: list[Any] = [root]
    for part in path:
        following: list[Any] = []
        for cand in candidates:
            origin = typing.get_origin(cand)
            if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
                for name, info in cand.model_fields.items():
                    if part in (name, info.alias):
                        following.extend(_unwrap(info.annotation))
            elif origin is dict:
                following.extend(_unwrap(typing.get_args(cand)[1]))
            elif origin in (tuple, list) and isinstance(part, int):
                following.extend(_unwrap(typing.get_args(cand)[0]))
        candidates = following
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


#: what a name of each pattern is, and how to write one, where it differs from an id's
_NAMES = {
    HOST_PATTERN: (
        "host name",
        "use letters of either case, digits, '_', '.' and '-', starting with a letter or digit",
    ),
    PRODUCT_ID_PATTERN: (
        "product id",
        "use lower-case letters, digits, '_', '-' and '.', starting with a letter, as in "
        "shopping-6.1",
    ),
    NAMESPACE_PATTERN: (
        "Kubernetes namespace",
        "use lower-case letters, digits and '-', starting and ending with a letter or digit, "
        "at most 63",
    ),
}


#: what YAML read a plain key as, when it is not text
_NOT_TEXT = {
    type(None): "no value (null)",
    bool: "a switch (true or false)",
    int: "a number",
    float: "a number",
}


def _describe(
    error: Any, path: ModelPath, root: type[BaseModel], prefix: ModelPath
) -> tuple[str, str, bool, int]:
    """(message, hint, at_key, column_offset) for one pydantic error at ``path`` in the file."""
    kind = error["type"]
    where = format_path(path)
    if kind == "extra_forbidden":
        key = path[-1] if path else "?"
        allowed = _allowed(root, path, prefix)
        return (
            f"unknown key {shown(key)} in {format_path(path[:-1])}",
            choice_hint(str(key), allowed, "keys here") + "; `portplan schema` lists them all",
            True,
            0,
        )
    if kind == "string_type" and error["loc"][-1:] == ("[key]",):
        key = error["input"]
        spelt = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
        what = _NOT_TEXT.get(type(key), f"a {type(key).__name__}")
        return (
            f"{format_path(path[:-1])}: the key {spelt} is read as {what}, not as a name",
            "put the key in quotes to make it text, or write the name meant",
            True,
            0,
        )
    if kind == "missing":
        missing = error["loc"][-1]
        return (
            f"{where} lacks the required key {missing!r}",
            f"add '{missing}:' to it",
            False,
            0,
        )
    if kind == "string_pattern_mismatch":
        what, hint = _NAMES.get(
            error.get("ctx", {}).get("pattern"),
            ("name", "use lower-case letters, digits, '_' and '-', starting with a letter"),
        )
        return f"{where}: {shown(error['input'])} is not a valid {what}", hint, False, 0
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return (
            f"{where}: {shown(error['input'])} is not allowed",
            f"use one of {expected}",
            False,
            0,
        )
    if kind == "value_error":
        exc = error.get("ctx", {}).get("error")
        offset = exc.offset if isinstance(exc, ConditionSyntaxError) else 0
        return f"{where}: {exc}", _value_hint(exc), False, offset
    if kind in ("tuple_type", "list_type"):
        return (
            f"{where}: expected a list, found {type(error['input']).__name__}",
            "write a YAML list: [a, b] or one '- item' line per entry",
            False,
            0,
        )
    # pydantic says "tuple" for what the user wrote as a YAML list
    message = error["msg"].replace("Tuple", "List").replace("tuple", "list")
    return (
        f"{where}: {message[0].lower()}{message[1:]}",
        "see `portplan schema` for the format",
        False,
        0,
    )


def _value_hint(exc: object) -> str:
    text = str(exc)
    if isinstance(exc, ConditionSyntaxError):
        return "join feature names with 'and', 'or', 'not' and parentheses: 'a and not b'"
    if "outside" in text:
        return "ports run from 1 to 65535"
    if "reversed" in text:
        return "write the lower port first"
    if "special-purpose address" in text:
        return "give the machine's own unicast address"
    if "scoped IPv6 address" in text:
        return "firewall rules match addresses, not interfaces"
    if "host bits" in text or "CIDR" in text:
        return "write an address such as 192.0.2.10 or a network such as 198.51.100.0/24"
    if "an empty list names no host" in text:
        return (
            "name the hosts; where leaving the key out has a meaning (management 'to': every "
            "managed host; forbidden 'from': every host), leave it out for that"
        )
    if "neither on or off nor a choice" in text:
        return "write true or false, or for a feature with choices one of them"
    if "stands for one machine" in text:
        return "give the machine a host of its own with its address, or remove dns_name"
    if "Kubernetes label" in text:
        return "write the label as the pods carry it: `kubectl get pods --show-labels` lists them"
    if "DNS name" in text:
        return "write a host name such as shop01.example.com: labels of letters, digits and '-'"
    return "correct the value"


def validate(
    model: type[M], data: Any, source: SourceMap, what: str
) -> tuple[M | None, list[Diagnostic]]:
    """Validate ``data`` against ``model``; every error becomes a located diagnostic."""
    if not isinstance(data, dict):
        return None, [
            source.diagnostic(
                (),
                f"a {what} file must be a YAML mapping at the top level",
                f"start with the keys of a {what} (see `portplan schema {what}`)",
            )
        ]
    other = _other_kind(what, set(data))
    if other is not None:
        return None, [source.diagnostic((), *other)]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, diagnostics_of(exc, model, data, source)


def _other_kind(what: str, keys: set[Any]) -> tuple[str, str] | None:
    """(message, hint) for a file given where the other kind is needed (a product to matrix,
    a deployment to show), said once instead of once per key: when its keys are that kind's
    only."""
    if what == "deployment" and "flows" in keys and not keys & {"hosts", "products"}:
        return (
            "a product file (it has 'flows:'), not a deployment",
            "give the deployment that binds it to machines: with 'hosts:' and 'products:' "
            "(see `portplan schema deployment`)",
        )
    if what == "product" and "hosts" in keys and not keys & {"flows", "components"}:
        return (
            "a deployment file (it has 'hosts:'), not a product",
            "give a product file, or a catalog id (`portplan catalog` lists them)",
        )
    return None


def valid_field(model: type[BaseModel], field: str, value: Any) -> Any | None:
    """``value`` validated as the field ``field`` of ``model`` on its own, or ``None`` when it
    is not valid: a part of a file that failed ``model`` which can still be used (its
    problems are that validation's to report, not this one's)."""
    try:
        return _field_adapter(model, field).validate_python(value)
    except ValidationError:
        return None


@functools.cache
def _field_adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    info = model.model_fields[field]  # its type with its constraints (``min_length``...)
    return TypeAdapter(Annotated[info.annotation, info])


def diagnostics_of(
    exc: ValidationError,
    model: type[BaseModel],
    data: Any,
    source: SourceMap,
    prefix: ModelPath = (),
) -> list[Diagnostic]:
    """Located diagnostics for a validation error of ``data`` (found at ``prefix`` in its file)."""
    errors = [(prefix + _data_path(data, e["loc"]), e) for e in exc.errors()]
    # a mistyped key is one problem, not also "required key missing" for the key it meant
    meant = {
        (path[:-1], suggestion)
        for path, e in errors
        if e["type"] == "extra_forbidden" and path
        for suggestion in difflib.get_close_matches(str(path[-1]), _allowed(model, path, prefix))
    }
    problems: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for path, error in errors:
        if error["type"] == "missing" and (path, error["loc"][-1]) in meant:
            continue
        if error["type"] == "too_short" and any(
            p[: len(path)] == path and len(p) > len(path) for p, _ in errors
        ):
            continue  # the list is short only because its items failed; they are reported
        message, hint, at_key, offset = _describe(error, path, model, prefix)
        at_key = at_key or "[key]" in error["loc"]  # a mapping key is wrong, not its value
        identity = (path, message)
        if identity in seen:
            continue
        seen.add(identity)
        problems.append(source.diagnostic(path, message, hint, at_key=at_key, column_offset=offset))
    return problems


def _allowed(model: type[BaseModel], path: ModelPath, prefix: ModelPath) -> list[str]:
    found = _model_at(model, path[len(prefix) : -1])
    return _keys_of(found) if found else []
