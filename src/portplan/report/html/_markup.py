"""HTML written by hand, escaped in one place: elements, and tables that the page's script
can sort, search and filter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

__all__ = ["Cell", "Row", "data_table", "el", "filter_bar", "text"]


def text(value: str) -> str:
    """``value`` as HTML text (``&``, ``<``, ``>`` and quotes escaped)."""
    return escape(value, quote=True)


def _attributes(attributes: Mapping[str, str | bool | None]) -> str:
    out = []
    for key, value in attributes.items():
        name = key.rstrip("_").replace("_", "-")
        if value is None or value is False:
            continue
        out.append(f" {name}" if value is True else f' {name}="{text(value)}"')
    return "".join(out)


def el(tag: str, *children: str, **attributes: str | bool | None) -> str:
    """``<tag attributes>children</tag>``; children are HTML already, attribute values text
    (``class_`` for ``class``; ``data_row`` for ``data-row``)."""
    return f"<{tag}{_attributes(attributes)}>{''.join(children)}</{tag}>"


Attributes = Mapping[str, str | bool | None]
Cell = str | tuple[str, Attributes]  #: HTML, or HTML with attributes
Row = tuple[Sequence[Cell], Attributes]  #: a table row's cells, and the row's attributes


def data_table(
    table_id: str,
    caption: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    kind: str,
    unit: str = "rows",
    filtered: bool = True,
    compact: bool = False,
) -> str:
    """A table whose headers sort it; ``rows`` are (cells, row attributes); ``kind`` tells the
    script what a diagram selection filters (``matrix``, ``vendor``, ``other``)."""
    head = "".join(
        el("th", el("button", text(c), type="button", class_="sort"), scope="col") for c in columns
    )
    body = []
    for cells, attributes in rows:
        tds = []
        for cell in cells:
            if isinstance(cell, tuple):
                tds.append(el("td", cell[0], **cell[1]))
            else:
                tds.append(el("td", cell))
        body.append(el("tr", "".join(tds), **attributes))
    return el(
        "div",
        el(
            "table",
            el("caption", text(caption)),
            el("thead", el("tr", head)),
            el("tbody", "\n".join(body)),
            id=table_id,
            class_="data compact" if compact else "data",
            data_kind=kind,
            data_unit=unit,
            data_filtered=filtered,
        ),
        class_="table-wrap",
    )


def filter_bar(
    table_id: str,
    label: str,
    selects: Sequence[tuple[str, str, Sequence[str]]] = (),
    *,
    port: bool = False,
) -> str:
    """Search (and port, and one select per ``(filter, label, choices)``) above a table."""
    parts = [
        el(
            "label",
            text(label),
            f'<input type="search" data-filter="search" id="{text(table_id)}-search">',
        )
    ]
    if port:
        parts.append(
            el(
                "label",
                "Port",
                '<input type="text" inputmode="numeric" data-filter="port" '
                f'id="{text(table_id)}-port" size="6" placeholder="e.g. 443">',
            )
        )
    for name, title, choices in selects:
        options = el("option", "any", value="") + "".join(
            el("option", text(choice), value=choice) for choice in choices
        )
        parts.append(
            el(
                "label",
                text(title),
                el("select", options, data_filter=name, id=f"{table_id}-{name}"),
            )
        )
    parts.append(el("button", "Clear", type="button", class_="clear", data_clear=table_id))
    return el("div", "".join(parts), class_="filters", data_for=table_id, role="search") + el(
        "p", "", id=f"{table_id}-count", class_="count", aria_live="polite"
    )
