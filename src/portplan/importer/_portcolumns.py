"""Which end a column headed only ``Port`` belongs to, when a table has one per end.

VMware's tables run ``Source | Port | Target | Port | Protocol``: the same heading twice, the
first the port the source connects from (``*``, or a fixed ``4172``), the second the one the
target listens on.  By its heading alone each is the listener's port, and a draft would open the
source's port on the target too.  The ``Port`` right after the source's column is the source's
port when another ``Port`` follows the destination's column.
"""

from __future__ import annotations

from collections.abc import Sequence

from portplan.importer.columns import ColumnRole, Field, heading_key

__all__ = ["ends_of_ports"]

_PLAIN = frozenset({"port", "ports"})


def _after(roles: Sequence[ColumnRole | None], index: int, field: Field) -> bool:
    previous = roles[index - 1] if index > 0 else None
    return previous is not None and previous.field is field


def ends_of_ports(
    headings: Sequence[str], roles: Sequence[ColumnRole | None]
) -> tuple[ColumnRole | None, ...]:
    """``roles`` with a plain ``Port`` column after the source's column made the source's
    port, when a plain ``Port`` column follows the destination's column (a map file's mapping
    of the heading is kept as it is)."""
    plain = [
        i
        for i, (heading, role) in enumerate(zip(headings, roles, strict=True))
        if role is not None
        and role.field is Field.PORT
        and role.origin == "built-in"
        and heading_key(heading) in _PLAIN
    ]
    if not any(_after(roles, i, Field.DESTINATION) for i in plain):
        return tuple(roles)
    result = list(roles)
    for index in plain:
        if _after(roles, index, Field.SOURCE):
            result[index] = ColumnRole(field=Field.SOURCE_PORT, origin="after the source")
    return tuple(result)
