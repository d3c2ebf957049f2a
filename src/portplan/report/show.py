"""A product rendered back in its vendor document's own shape (``portplan show``).

Per-component documents (Shopping) become one table per component with Port, Traffic, Notes and
Configurable; flat documents (Smart ID) become one table with interface, from, to, subcomponent,
external and internal port, and comment.  A last column, Condition, says when portplan considers
the row required.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portplan.model.columns import Column, ColumnField
from portplan.model.product import Flow, Layout, Product, Section
from portplan.report.machine import document
from portplan.report.show_cells import (
    INTERFACE,
    TRAFFIC,
    VendorColumns,
    configurable_text,
    group_rows,
    join_words,
    port_words,
    row_conditions,
    unique,
    vendor_row,
)
from portplan.report.text import csv_text, markdown_line, markdown_table, rich_table_text

__all__ = ["ShownTable", "show_tables", "shown_tables_text"]

PER_COMPONENT_COLUMNS = ("Port", "Traffic", "Notes", "Configurable", "Condition")
FLAT_COLUMNS = (
    "Firewall Interface",
    "From",
    "To main component",
    "To subcomponent",
    "External Listening Port",
    "Internal Listening Port",
    "Protocol and Comment",
    "Condition",
)
#: portplan's own last column: when it takes the row as required
CONDITION = "Condition"
_EXTRA = Column(field=ColumnField.EXTRA)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShownTable:
    """One table of the vendor document: its title, the text before it, and its rows."""

    id: str
    title: str
    note: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: the flow ids of each row (a vendor row may be several flows: ``client-smtp``, ...)
    flows: tuple[tuple[str, ...], ...] = ()


def _port_column(product: Product, flow: Flow) -> str:
    proto = flow.protocol.value.upper()
    if flow.icmp:
        text = f"{proto} {join_words([t.value for t in flow.icmp])}"
    else:
        items = flow.ports or (flow.published.ports if flow.published else ())
        text = f"{proto} {port_words(product, items)}"
    if flow.dynamic is not None:
        label = f"{flow.service} " if flow.service else ""
        return f"{label}{text} (initially) then the {flow.dynamic} dynamic range"
    return f"{text} ({flow.service})" if flow.service else text


def _notes_text(parts: Sequence[Flow]) -> str:
    """The purposes, then the notes, of a row's parts, each once."""
    notes = unique(n for f in parts for n in f.notes)
    return " ".join([*unique(f.purpose for f in parts), *(f"Note: {n}" for n in notes)])


def _traffic(flow: Flow) -> str:
    text = TRAFFIC[flow.traffic] if flow.traffic else ""
    return f"{text} (loopback)" if flow.loopback else text


def _per_component_row(product: Product, parts: Sequence[Flow]) -> tuple[str, ...]:
    # every part's own words, each once: a part may go the other way, or say another thing
    return (
        join_words(unique(_port_column(product, f) for f in parts)),
        join_words(unique(_traffic(f) for f in parts)),
        _notes_text(parts),
        " ".join(unique(configurable_text(f) for f in parts)),
        row_conditions(product, parts),
    )


def _flat_row(product: Product, parts: Sequence[Flow]) -> tuple[str, ...]:
    first = parts[0]
    destination = product.components[first.destination[0]]
    main = product.main_component(first.destination[0])
    external = unique(
        f"{f.protocol.value.upper()} {port_words(product, f.published.ports)}"
        for f in parts
        if f.published
    )
    # an ICMP part has no port: its messages stand in its port (``ICMP echo-request``), as
    # in the per-component Port column, or the row would say neither ICMP nor what it allows
    internal = unique(
        f"{f.protocol.value.upper()} {port_words(product, f.ports)}"
        if f.ports
        else f"{f.protocol.value.upper()} {join_words([t.value for t in f.icmp])}"
        for f in parts
        if f.ports or f.icmp
    )
    to_main = product.components[main].name
    to_sub = destination.name if destination.parent is not None else "-"
    every = list(dict.fromkeys(d for f in parts for d in f.destination))
    if len(every) > 1:
        to_sub = join_words([product.components[d].name for d in every])
    notes = unique(f"Note: {n}" for f in parts for n in f.notes)
    # no Configurable column: the vendor says it in the comment, after the row's text
    # (Smart ID's "These port numbers can NOT be changed."), like the purpose, once per row;
    # every part's own (a part may come from elsewhere, or say another thing)
    said = unique(f.configurable.note or "" for f in parts)
    sources = unique(product.full_name(s) for f in parts for s in f.source)
    return (
        join_words(unique(INTERFACE[f.interface] for f in parts if f.interface)) or "-",
        join_words(sources),
        to_main,
        to_sub,
        " ".join(external) or "-",
        " ".join(internal) or "-",
        " ".join([*unique(f.purpose for f in parts), *said, *notes]),
        row_conditions(product, parts),
    )


def _extra_headings(flows: Sequence[Flow], shown: Sequence[str]) -> list[str]:
    """Headings of the vendor's free columns (flow ``columns``) that ``shown`` does not hold."""
    return [h for h in unique(h for f in flows for h in f.columns) if h not in shown]


def _table(product: Product, section: Section | None, flows: Sequence[Flow]) -> ShownTable:
    """The vendor table of ``section`` (or the whole document when it has no sections)."""
    spec = (section.columns if section else None) or product.document.columns
    rows: list[tuple[str, ...]] = []
    grouped = group_rows(flows)
    if spec is not None:
        vendor = VendorColumns(product, section, spec)
        columns = vendor.headings()
        rows = [vendor_row(vendor, parts) for parts in grouped]
        extras = _extra_headings(flows, columns)
        columns += (*extras,)
        rows = [
            (*r, *(vendor.cell(h, _EXTRA, p) for h in extras))
            for r, p in zip(rows, grouped, strict=True)
        ]
        if not vendor.has(ColumnField.CONDITION):
            columns += (CONDITION,)
            rows = [(*r, row_conditions(product, p)) for r, p in zip(rows, grouped, strict=True)]
    else:
        per_component = product.document.layout is Layout.PER_COMPONENT
        render = _per_component_row if per_component else _flat_row
        base = PER_COMPONENT_COLUMNS if per_component else FLAT_COLUMNS
        extras = _extra_headings(flows, base)
        columns = (*base[:-1], *extras, base[-1])
        for parts in grouped:
            cells = render(product, parts)
            free = (" ".join(unique(f.columns.get(h, "") for f in parts)) for h in extras)
            rows.append((*cells[:-1], *free, cells[-1]))
    return ShownTable(
        id=section.id if section else "ports",
        title=section.title if section else product.document.title,
        note=section.note if section else None,
        columns=columns,
        rows=tuple(rows),
        flows=tuple(tuple(f.id for f in parts) for parts in grouped),
    )


def show_tables(product: Product) -> list[ShownTable]:
    """The product's tables in the shape of its vendor document: a table per section (one for
    a document without sections), in the vendor's columns when the product names them."""
    if not product.sections:
        return [_table(product, None, product.flows)]
    return [
        _table(product, s, [f for f in product.flows if f.section == s.id])
        for s in product.sections
    ]


def shown_tables_text(
    tables: Sequence[ShownTable], fmt: str, *, heading: str, notes: Sequence[str] = (), width: int
) -> str:
    """Render ``portplan show`` tables in one of the output formats."""
    if fmt == "json":
        return document(
            "show",
            {
                "product": heading,
                "notes": list(notes),
                "tables": [
                    {
                        "id": t.id,
                        "title": t.title,
                        "note": t.note,
                        "columns": list(t.columns),
                        "rows": [list(row) for row in t.rows],
                    }
                    for t in tables
                ],
            },
        )
    if fmt == "csv":
        return _csv(tables)
    if fmt == "md":
        parts = [f"# {markdown_line(heading)}\n", *(f"{markdown_line(n)}\n" for n in notes)]
        for table in tables:
            if len(tables) > 1 or not heading.startswith(table.title):  # not the document's own
                parts.append(f"## {markdown_line(table.title)}\n")
            if table.note:
                parts.append(f"{markdown_line(table.note)}\n")
            parts.append(markdown_table(table.columns, table.rows))
        return "\n".join(parts)
    out = [f"{heading}\n", *(f"{note}\n" for note in notes)]
    for table in tables:
        out.append(
            rich_table_text(table.title, table.columns, table.rows, width=width, caption=table.note)
        )
    return "\n".join(out)


def _csv(tables: Sequence[ShownTable]) -> str:
    """One CSV of every table: a first column naming the table when there are several, and
    every table's headings (in the order they first appear) when the tables differ."""
    if len(tables) <= 1:
        return csv_text(tables[0].columns if tables else (), tables[0].rows if tables else ())
    headings = unique(h for t in tables for h in t.columns)
    rows: list[tuple[str, ...]] = []
    for table in tables:
        index = {h: i for i, h in enumerate(table.columns)}
        rows.extend(
            (table.title, *(row[index[h]] if h in index else "" for h in headings))
            for row in table.rows
        )
    return csv_text(("Table", *headings), rows)
