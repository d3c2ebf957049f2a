"""A product rendered back in its vendor document's own shape (``portplan show``).

Per-component documents (Shopping) become one table per component with Port, Traffic, Notes and
Configurable; flat documents (Smart ID) become one table with interface, from, to, subcomponent,
external and internal port, and comment.  A last column, Condition, says when portplan considers
the row required.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portplan.model._types import ParamRef
from portplan.model.ports import PortRange
from portplan.model.product import Flow, Interface, Layout, Product, Traffic
from portplan.report.machine import document
from portplan.report.text import csv_text, markdown_table, rich_table_text

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

_TRAFFIC = {
    Traffic.INBOUND: "Inbound",
    Traffic.OUTBOUND: "Outbound",
    Traffic.INBOUND_OUTBOUND: "Inbound/Outbound",
}
_INTERFACE = {
    Interface.EXTERNAL: "External",
    Interface.INTERNAL: "Internal",
    Interface.INTERNAL_AND_EXTERNAL: "Internal and external",
    Interface.INTERNAL_OR_EXTERNAL: "Internal or external",
}


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


def join_words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` as the vendor writes lists."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _port_words(product: Product, items: Iterable[PortRange | ParamRef]) -> str:
    words: list[str] = []
    for item in items:
        if isinstance(item, ParamRef):
            default = product.parameters[item.name].default
            if default:
                words.extend(str(r) for r in default)
            else:
                words.append(f"[{item.name}]")
        else:
            words.append(str(item))
    return join_words(words)


def _port_column(product: Product, flow: Flow) -> str:
    proto = flow.protocol.value.upper()
    items = flow.ports or (flow.published.ports if flow.published else ())
    text = f"{proto} {_port_words(product, items)}"
    if flow.dynamic is not None:
        label = f"{flow.service} " if flow.service else ""
        return f"{label}{text} (initially) then the {flow.dynamic} dynamic range"
    return f"{text} ({flow.service})" if flow.service else text


def _notes_text(flow: Flow) -> str:
    return " ".join([flow.purpose, *(f"Note: {n}" for n in flow.notes)])


def _configurable_text(flow: Flow) -> str:
    return flow.configurable.note or flow.configurable.kind.value.capitalize()


def _condition_text(product: Product, flow: Flow) -> str:
    section = product.section(flow.section) if flow.section else None
    parts = [str(c) for c in (section.condition if section else None, flow.condition) if c]
    if not parts:
        return "always"
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


def _row_conditions(product: Product, parts: Sequence[Flow]) -> str:
    """The condition of a vendor row; for a row of several parts, each part's own."""
    texts = [_condition_text(product, f) for f in parts]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(
        f"part {f.part or i + 1}: {t}" for i, (f, t) in enumerate(zip(parts, texts, strict=True))
    )


def _group_rows(flows: Iterable[Flow]) -> list[list[Flow]]:
    groups: dict[tuple[str | None, int], list[Flow]] = {}
    for flow in flows:
        groups.setdefault((flow.section, flow.row), []).append(flow)
    return [
        sorted(g, key=lambda f: f.part or 0)
        for _, g in sorted(groups.items(), key=lambda item: item[0][1])
    ]


def _per_component(product: Product) -> list[ShownTable]:
    tables = []
    for section in product.sections:
        rows = []
        flows = []
        for parts in _group_rows(f for f in product.flows if f.section == section.id):
            flows.append(tuple(f.id for f in parts))
            first = parts[0]
            traffic = _TRAFFIC[first.traffic] if first.traffic else ""
            if first.loopback:
                traffic += " (loopback)"
            rows.append(
                (
                    join_words([_port_column(product, f) for f in parts]),
                    traffic,
                    _notes_text(first),
                    _configurable_text(first),
                    _row_conditions(product, parts),
                )
            )
        tables.append(
            ShownTable(
                id=section.id,
                title=section.title,
                note=section.note,
                columns=PER_COMPONENT_COLUMNS,
                rows=tuple(rows),
                flows=tuple(flows),
            )
        )
    return tables


def _flat(product: Product) -> list[ShownTable]:
    rows = []
    flows = []
    for parts in _group_rows(product.flows):
        flows.append(tuple(f.id for f in parts))
        first = parts[0]
        destination = product.components[first.destination[0]]
        main = product.main_component(first.destination[0])
        external = [
            f"{f.protocol.value.upper()} {_port_words(product, f.published.ports)}"
            for f in parts
            if f.published
        ]
        internal = [
            f"{f.protocol.value.upper()} {_port_words(product, f.ports)}" for f in parts if f.ports
        ]
        to_main = product.components[main].name
        to_sub = destination.name if destination.parent is not None else "-"
        every = list(dict.fromkeys(d for f in parts for d in f.destination))
        if len(every) > 1:
            to_sub = join_words([product.components[d].name for d in every])
        rows.append(
            (
                _INTERFACE[first.interface] if first.interface else "-",
                join_words([product.full_name(s) for s in first.source]),
                to_main,
                to_sub,
                " ".join(external) or "-",
                " ".join(internal) or "-",
                " ".join([first.purpose, *(f"Note: {n}" for f in parts for n in f.notes)]),
                _row_conditions(product, parts),
            )
        )
    return [
        ShownTable(
            id="ports",
            title=product.document.title,
            note=None,
            columns=FLAT_COLUMNS,
            rows=tuple(rows),
            flows=tuple(flows),
        )
    ]


def show_tables(product: Product) -> list[ShownTable]:
    """The product's tables in the shape of its vendor document."""
    if product.document.layout is Layout.PER_COMPONENT:
        return _per_component(product)
    return _flat(product)


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
        several = len(tables) > 1
        columns = (
            (("Table", *tables[0].columns) if several else tables[0].columns) if tables else ()
        )
        rows = [((t.title, *row) if several else row) for t in tables for row in t.rows]
        return csv_text(columns, rows)
    if fmt == "md":
        parts = [f"# {heading}\n", *(f"{note}\n" for note in notes)]
        for table in tables:
            if len(tables) > 1:
                parts.append(f"## {table.title}\n")
            if table.note:
                parts.append(f"{table.note}\n")
            parts.append(markdown_table(table.columns, table.rows))
        return "\n".join(parts)
    out = [f"{heading}\n", *(f"{note}\n" for note in notes)]
    for table in tables:
        out.append(
            rich_table_text(table.title, table.columns, table.rows, width=width, caption=table.note)
        )
    return "\n".join(out)
