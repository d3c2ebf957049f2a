"""A row that is a heading inside its table: one cell written in it, spanning columns.

Vendors head the groups of a port list with a row of one cell merged or ``colspan``-ed over
the table (``Public facing ports``), or over all but the last columns with the rest written
empty (``<td colspan="2">DataStax Enterprise public ports</td><td>&nbsp;</td>``).  The span
copies the category's text into the Port, Protocol and Description columns alike, where it is
no reading of a port: such a row is listed and drafts no flow.
"""

from __future__ import annotations

from portplan.importer._tables import Row

__all__ = ["category"]


def category(row: Row) -> str | None:
    """What to say of ``row`` when it is a category heading: one cell written (not a copy),
    spanning at least one further column, and every other cell a copy of it or empty; else
    ``None``.  A spanning cell beside any written one is an ordinary row."""
    first, *rest = row.cells
    if not rest or first.origin is not None or not first.text:
        return None
    copies = sum(c.origin == first.where for c in rest)
    if not copies or any(c.origin != first.where and c.text for c in rest):
        return None
    if copies == len(rest):
        span = "spanning the whole table"
    else:
        span = f"spanning {copies + 1} of the table's {len(row.cells)} columns, the others empty,"
    return (
        f"{first.text!r}: a row of one cell {span} is a heading inside it (a category of the "
        "rows below), read as no flow; model what it says of them by hand"
    )
