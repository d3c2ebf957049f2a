"""The cells of ``portplan show``: one vendor row (the flows that make it) as the text of each
column, in the shapes of the vendor tables the model keeps (``document.columns`` and a
section's ``columns``, ``portplan.model.columns``), and the words every layout shares.

A vendor row is every flow with its section and row: the parts of a row (TCP and UDP, several
destinations, several port/protocol pairs) are written into one line of the table, each value
once: ``TCP and UDP`` over ``514``, not the port twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from portplan.model._types import ParamRef
from portplan.model.columns import Column, ColumnField
from portplan.model.ports import PortRange
from portplan.model.product import Flow, Interface, Product, Section, Traffic
from portplan.model.protocol import Protocol

__all__ = [
    "INTERFACE",
    "NO_PORT",
    "TRAFFIC",
    "VendorColumns",
    "condition_text",
    "configurable_text",
    "group_rows",
    "join_words",
    "port_words",
    "row_conditions",
    "unique",
    "vendor_row",
]

#: a port cell with no port of its column (the vendor's ``--``)
NO_PORT = "-"
TRAFFIC = {
    Traffic.INBOUND: "Inbound",
    Traffic.OUTBOUND: "Outbound",
    Traffic.INBOUND_OUTBOUND: "Inbound/Outbound",
}
INTERFACE = {
    Interface.EXTERNAL: "External",
    Interface.INTERNAL: "Internal",
    Interface.INTERNAL_AND_EXTERNAL: "Internal and external",
    Interface.INTERNAL_OR_EXTERNAL: "Internal or external",
}


def unique(items: Iterable[str]) -> list[str]:
    """The non-empty items, each once, in order."""
    return list(dict.fromkeys(i for i in items if i))


def join_words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` as the vendor writes lists."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def port_words(product: Product, items: Iterable[PortRange | ParamRef]) -> str:
    """Ports as the vendor writes them: a parameter by its default (``6162 or 2500-3300``
    when the vendor names alternatives), or ``[name]`` when the document leaves it open."""
    words: list[str] = []
    for item in items:
        if isinstance(item, ParamRef):
            param = product.parameters[item.name]
            if param.default:
                text = join_words([str(r) for r in param.default])
                if param.allowed:
                    text += " or " + join_words([str(r) for r in param.allowed])
                words.append(text)
            else:
                words.append(f"[{item.name}]")
        else:
            words.append(str(item))
    return join_words(words)


def configurable_text(flow: Flow) -> str:
    return flow.configurable.note or flow.configurable.kind.value.capitalize()


def condition_text(product: Product, flow: Flow) -> str:
    section = product.section(flow.section) if flow.section else None
    parts = [str(c) for c in (section.condition if section else None, flow.condition) if c]
    if not parts:
        return "always"
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


def row_conditions(product: Product, parts: Sequence[Flow]) -> str:
    """The condition of a vendor row; for a row of several parts, each part's own."""
    texts = [condition_text(product, f) for f in parts]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(
        f"part {f.part or i + 1}: {t}" for i, (f, t) in enumerate(zip(parts, texts, strict=True))
    )


def group_rows(flows: Iterable[Flow]) -> list[list[Flow]]:
    """The vendor rows of some flows, in row order, each the flows of its parts in part order."""
    groups: dict[tuple[str | None, int], list[Flow]] = {}
    for flow in flows:
        groups.setdefault((flow.section, flow.row), []).append(flow)
    return [
        sorted(g, key=lambda f: f.part or 0)
        for _, g in sorted(groups.items(), key=lambda item: item[0][1])
    ]


class VendorColumns:
    """A vendor table's columns (heading and what it holds), ready to write rows in."""

    def __init__(self, product: Product, section: Section | None, spec: dict[str, Column]):
        self.product = product
        self.section = section
        self.columns: list[tuple[str, Column]] = list(spec.items())
        fields = {c.field for _, c in self.columns}
        self.has = fields.__contains__

    def headings(self) -> tuple[str, ...]:
        return tuple(h for h, _ in self.columns)

    # -- who ------------------------------------------------------------------------------------

    def _names(self, ids: Iterable[str], *, main: bool = False) -> str:
        p = self.product
        names = (p.components[p.main_component(i)].name if main else p.full_name(i) for i in ids)
        return join_words(unique(names))

    def _perspective_in(self, ids: Iterable[str]) -> bool:
        me = self.section.perspective if self.section else None
        return me is not None and any(self.product.main_component(i) == me or i == me for i in ids)

    def _own_is_source(self, flow: Flow) -> bool:
        """Whether the row is the source's (an outbound row, or one from the perspective);
        otherwise it is the listener's."""
        if flow.traffic is not None and flow.traffic is not Traffic.INBOUND_OUTBOUND:
            return flow.traffic is Traffic.OUTBOUND
        return self._perspective_in(flow.source) and not self._perspective_in(flow.destination)

    def _own(self, flow: Flow) -> tuple[str, ...]:
        """The end whose row it is: the direction's own end, the perspective, the listener."""
        return flow.source if self._own_is_source(flow) else flow.destination

    def _peer(self, flow: Flow) -> tuple[str, ...]:
        """The other end: the source of an inbound row, the destination of an outbound one."""
        return flow.destination if self._own_is_source(flow) else flow.source

    # -- ports ----------------------------------------------------------------------------------

    def _ports(self, flow: Flow, items: Iterable[PortRange | ParamRef], named: bool) -> str:
        if flow.protocol is Protocol.ICMP:
            text = join_words([t.value for t in flow.icmp])
        else:
            text = port_words(self.product, items)
            if flow.dynamic is not None:
                text += f" (initially) then the {flow.dynamic} dynamic range"
        return f"{flow.protocol.value.upper()} {text}" if named else text

    def _port_cell(self, parts: Sequence[Flow], column: Column) -> str:
        named = column.protocol is None and not self.has(ColumnField.PROTOCOL)
        texts = []
        for flow in parts:
            if column.protocol is not None and flow.protocol is not column.protocol:
                continue
            published = flow.published.ports if flow.published else None
            if column.field is ColumnField.PUBLISHED_PORT:
                items = published
            elif self.has(ColumnField.PUBLISHED_PORT):
                items = flow.ports
            else:
                items = flow.ports or published
            if items is not None or flow.protocol is Protocol.ICMP:
                texts.append(self._ports(flow, items or (), named))
        return _join_parts(unique(texts)) or NO_PORT

    def _protocol(self, flow: Flow) -> str:
        name = flow.protocol.value.upper()
        if flow.service and not self.has(ColumnField.SERVICE):
            return f"{name} ({flow.service})"
        return name

    # -- cells ----------------------------------------------------------------------------------

    def _description(self, parts: Sequence[Flow]) -> str:
        words = unique(f.purpose for f in parts)
        if not self.has(ColumnField.NOTES):
            words += [f"Note: {n}" for n in unique(n for f in parts for n in f.notes)]
        return " ".join(words)

    def _parameters(self, parts: Sequence[Flow]) -> str:
        params = self.product.parameters
        hows = (params[n].how or n for f in parts for n in f.parameter_names())
        return "; ".join(unique(hows))

    def cell(self, heading: str, column: Column, parts: Sequence[Flow]) -> str:
        """The text of one column of the vendor row made by ``parts``."""
        f = column.field
        if f is ColumnField.SOURCE:
            return self._names(s for p in parts for s in p.source)
        if f is ColumnField.DESTINATION:
            ids = [d for p in parts for d in p.destination]
            return self._names(ids, main=self.has(ColumnField.SUBCOMPONENT))
        if f is ColumnField.SUBCOMPONENT:
            comps = self.product.components
            subs = [d for p in parts for d in p.destination if comps[d].parent is not None]
            return join_words(unique(comps[d].name for d in subs)) or NO_PORT
        if f is ColumnField.PEER:
            return self._names(i for p in parts for i in self._peer(p))
        if f is ColumnField.COMPONENT:
            return self._names(i for p in parts for i in self._own(p))
        if f is ColumnField.SERVICE:
            return join_words(unique(p.service or "" for p in parts))
        if f in (ColumnField.PORT, ColumnField.PUBLISHED_PORT):
            return self._port_cell(parts, column)
        if f is ColumnField.PROTOCOL:
            return join_words(unique(self._protocol(p) for p in parts))
        if f is ColumnField.DIRECTION:
            return join_words(unique(_direction(p) for p in parts))
        if f is ColumnField.DESCRIPTION:
            return self._description(parts)
        if f is ColumnField.CONDITION:
            return row_conditions(self.product, parts)
        if f is ColumnField.NOTES:
            return " ".join(unique(n for p in parts for n in p.notes))
        if f is ColumnField.CONFIGURABLE:
            return " ".join(unique(configurable_text(p) for p in parts))
        if f is ColumnField.PARAMETER:
            return self._parameters(parts)
        if f is ColumnField.INTERFACE:
            return join_words(unique(INTERFACE[p.interface] for p in parts if p.interface))
        return " ".join(unique(p.columns.get(heading, "") for p in parts))


def _join_parts(texts: Sequence[str]) -> str:
    """The ports of a row's parts: ``TCP 8890 and UDP 53``; ``;`` between parts that are lists
    themselves (``TCP 111 and 2049; UDP 111 and 2049``)."""
    if any(" and " in t for t in texts):
        return "; ".join(texts)
    return join_words(texts)


def _direction(flow: Flow) -> str:
    text = TRAFFIC[flow.traffic] if flow.traffic else ""
    return f"{text} (loopback)" if flow.loopback else text


def vendor_row(columns: VendorColumns, parts: Sequence[Flow]) -> tuple[str, ...]:
    """One vendor row in the table's columns."""
    return tuple(columns.cell(h, c, parts) for h, c in columns.columns)
