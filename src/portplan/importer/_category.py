"""A row that is a heading inside its table: one cell written in it, spanning columns.

Vendors head the groups of a port list with a row of one cell merged or ``colspan``-ed over
the table (``Public facing ports``), or over all but the last columns with the rest written
empty (``<td colspan="2">DataStax Enterprise public ports</td><td>&nbsp;</td>``).  The span
copies the category's text into the Port, Protocol and Description columns alike, where it is
no reading of a port: such a row is listed and drafts no flow.  Where nothing can span (Markdown,
CSV), the heading is a row of one written cell naming no port, the others empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from portplan.importer._portread import read_ports
from portplan.importer._tables import Row
from portplan.importer.columns import ColumnRole, Field

__all__ = ["category"]

#: what a lone port may have beside it and still be a row: a note in parentheses (``8443
#: (optional)``), a footnote mark (``8444*``, ``443^1`` as a superscript reads, ``22†``)
_ASIDE = re.compile(r"\([^()]*\)|\^\w+|[*†‡¹²³\u2070-\u2079]+")


def category(row: Row, roles: Sequence[ColumnRole | None]) -> str | None:
    """What to say of ``row`` when it is a category heading: one cell written (not a copy),
    spanning at least one further column, and every other cell a copy of it or empty; or, in a
    table of several columns, one cell written under a port column and the others empty, that
    is not plain ports (a group heading where nothing can span: ``| Public facing ports | |
    |``, ``| Tier 2 ports | |``, which the port grammar would read as a port the deployment
    sets, or port 2 with notes); else ``None``.  A spanning cell beside any written one is an
    ordinary row, and so is a lone port (``7001``, ``TCP 7002``)."""
    first, *rest = row.cells
    written = [c for c in row.cells if c.text]
    if rest and len(written) == 1 and written[0].origin is None:
        (lone,) = written
        role = roles[lone.column - 1] if lone.column <= len(roles) else None
        ports = role is not None and role.field in (Field.PORT, Field.PUBLISHED_PORT)
        if ports and not _plain_ports(lone.text):
            return (
                f"{lone.text!r}: a row of one written cell that names no port, the others "
                "empty, is a heading inside the table (a category of the rows below), read as "
                "no flow; model what it says of them by hand"
            )
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


def _plain_ports(text: str) -> bool:
    """Whether ``text`` reads as ports and transports only, a note in parentheses or a
    footnote mark aside: some port, and no word beside them (a named port, an unreadable part,
    the words of a heading), so that a row of it alone is a port (``8443 (optional)``, not
    ``Tier 2 ports``)."""
    bare = _ASIDE.sub(" ", text)
    if not any(ch.isdigit() for ch in bare):
        return False
    reading = read_ports(bare)
    return not reading.faults and all(
        t.ports is not None and t.parameter is None and not t.notes for t in reading.terms
    )
