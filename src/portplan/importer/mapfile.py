"""Map files (``--map MAP.yaml``): vendor headings to model fields, for what the built-in
vocabulary does not know (format in :mod:`.columns`).

Every mistake is collected and reported at its line and column with a hint, as for product
files: an unknown field name gets the closest field's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portplan._errors import Diagnostic, InputError
from portplan._text import choice_hint
from portplan.importer._tables import SourceDocument, heading_parts
from portplan.importer.columns import ColumnMap, ColumnRole, Field, heading_key
from portplan.importer.direction import Direction
from portplan.importer.ports import Transport
from portplan.load.yamlsrc import SourceMap, load_yaml

__all__ = ["load_column_map", "unused_headings"]

_KEYS = ("field", "protocol", "direction", "yes_no")
_DIRECTIONS = (Direction.INBOUND, Direction.OUTBOUND, Direction.BOTH)


def _role(
    heading: str, value: Any, where: SourceMap, origin: str, problems: list[Diagnostic]
) -> ColumnRole | None:
    path: tuple[str | int, ...] = (heading,)
    spec = value if isinstance(value, dict) else {"field": value}
    if not isinstance(value, dict | str):
        problems.append(
            where.diagnostic(
                path,
                f"heading {heading!r} maps to {value!r}",
                "map it to a field name, or to {field: ..., protocol: ..., direction: ...}",
            )
        )
        return None
    for key in spec:
        if key not in _KEYS:
            problems.append(
                where.diagnostic(
                    (*path, key),
                    f"unknown key {key!r}",
                    choice_hint(str(key), _KEYS, "keys"),
                    at_key=True,
                )
            )
    fields = [f.value for f in Field]
    name = spec.get("field")
    if name not in fields:
        at = (*path, "field") if isinstance(value, dict) else path
        problems.append(
            where.diagnostic(
                at,
                f"{name!r} is not a field" if name is not None else "no field given",
                choice_hint(str(name), fields, "fields"),
            )
        )
        return None
    protocol = spec.get("protocol")
    if protocol is not None and protocol not in (t.value for t in Transport):
        problems.append(
            where.diagnostic((*path, "protocol"), f"{protocol!r} is not tcp, udp or icmp")
        )
        return None
    direction = spec.get("direction")
    if direction is not None and direction not in (d.value for d in _DIRECTIONS):
        problems.append(
            where.diagnostic(
                (*path, "direction"), f"{direction!r} is not inbound, outbound or both"
            )
        )
        return None
    yes_no = spec.get("yes_no", False)
    if not isinstance(yes_no, bool):
        problems.append(where.diagnostic((*path, "yes_no"), "yes_no is true or false"))
        return None
    return ColumnRole(
        field=Field(name),
        protocol=Transport(protocol) if protocol else None,
        direction=Direction(direction) if direction else None,
        yes_no=yes_no,
        origin=origin,
    )


def load_column_map(path: Path | str, base: ColumnMap | None = None) -> ColumnMap:
    """``base`` (the built-in vocabulary by default) overridden by the map file at ``path``;
    :class:`~portplan.InputError` lists every mistake in the file."""
    file = Path(path)
    data, where, problems = load_yaml(file, expected="a column map file", stdin=False)
    if problems:
        raise InputError(problems)
    if not isinstance(data, dict) or not data:
        raise InputError(
            [
                Diagnostic(
                    file=file,
                    line=1,
                    column=1,
                    message="a map file is a mapping of vendor headings to fields",
                    hint="write lines such as 'Communicates on: extra' or 'TCP Port: "
                    "{field: port, protocol: tcp}'",
                )
            ]
        )
    overrides: dict[str, ColumnRole] = {}
    seen: dict[str, str] = {}
    for heading, value in data.items():
        span = where.key((heading,))
        origin = f"{file}:{span.line}" if span else str(file)
        key = heading_key(str(heading))
        if key in seen:
            problems.append(
                where.diagnostic(
                    (heading,),
                    f"heading {heading!r} is the same as {seen[key]!r} (case, spaces and a "
                    "trailing '?' do not count)",
                    "keep one of them",
                    at_key=True,
                )
            )
            continue
        seen[key] = str(heading)
        role = _role(str(heading), value, where, origin, problems)
        if role is not None:
            overrides[key] = role
    if problems:
        raise InputError(problems)
    return (base or ColumnMap.built_in()).with_overrides(overrides)


def unused_headings(columns: ColumnMap, document: SourceDocument) -> list[tuple[str, str]]:
    """The map file's entries that map no column of ``document``, in the file's order, each as
    its heading (as headings are compared) and where it is written: a
    heading misspelt in the map (or one of another document) changes nothing, and the draft
    would be made as if the map did not say it."""
    used: set[int] = set()
    for table in document.tables:
        for index, heading in enumerate(table.columns):
            if heading:
                used.add(id(columns.role(heading, heading_parts(table.header, index))))
    return [(key, role.origin) for key, role in columns.overrides.items() if id(role) not in used]
