"""Edge labels: the ports of every flow between two nodes, aggregated per protocol.

``TCP 80, 443, website_port=8443 · UDP 1812``: plain ports are merged into ranges, a port
that comes from a configurable parameter (or a dynamic range) is shown with its name, and a
published port that the service does not listen on is shown with where it goes (``443→7071``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from portplan.model._types import ParamRef, Protocol
from portplan.model.ports import PortRange, PortSet, merge_ranges
from portplan.publish._model import Edge

__all__ = ["NO_PORT", "EdgeData", "PortLabel", "item_text", "ports_text", "shown"]

#: where an item without a port (a parameter without a default) sorts: after every port
NO_PORT = 65536
#: at most this many names in a node label, and flows in a tooltip, before "+N more"
_LABEL_NAMES = 3
_TOOLTIP_FLOWS = 15


def shown(names: Sequence[str], limit: int = _LABEL_NAMES) -> str:
    """``a, b, c +2 more``."""
    head = ", ".join(names[:limit])
    return head + (f" +{len(names) - limit} more" if len(names) > limit else "")


def ports_text(ranges: Iterable[PortRange]) -> str:
    """``443, 8443, 18118-18126``."""
    return ", ".join(str(r) for r in ranges)


def item_text(items: Iterable[PortRange | ParamRef], defaults: dict[str, PortSet | None]) -> str:
    """Ports as a product writes them: numbers, and parameters by name with their default."""
    texts = []
    for item in items:
        if isinstance(item, ParamRef):
            value = defaults.get(item.name)
            texts.append(f"{item.name}={ports_text(value.ranges)}" if value else item.name)
        else:
            texts.append(str(item))
    return ", ".join(texts)


def _minus(ranges: Iterable[PortRange], removed: Iterable[PortRange]) -> list[PortRange]:
    """``ranges`` without the ports of ``removed``."""
    out: list[PortRange] = []
    cuts = merge_ranges(removed)
    for r in merge_ranges(ranges):
        start = r.start
        for cut in cuts:
            if cut.end < start or cut.start > r.end:
                continue
            if cut.start > start:
                out.append(PortRange(start=start, end=cut.start - 1))
            start = max(start, cut.end + 1)
            if start > r.end:
                break
        if start <= r.end:
            out.append(PortRange(start=start, end=r.end))
    return out


class _Ports:
    """The ports of one protocol on one edge."""

    def __init__(self) -> None:
        self.plain: list[PortRange] = []
        self.named: dict[str, PortSet | None] = {}
        self.other: dict[str, int] = {}  #: text of mappings (``443→7071``) → sort key

    def text(self) -> str:
        named = [r for value in self.named.values() if value for r in value.ranges]
        items = [(r.start, str(r)) for r in _minus(self.plain, named)]
        for name, value in self.named.items():
            if value:
                items.append((value.ranges[0].start, f"{name}={ports_text(value.ranges)}"))
            else:
                items.append((NO_PORT, name))
        items.extend((key, text) for text, key in self.other.items())
        return ", ".join(text for _key, text in sorted(set(items)))


class PortLabel:
    """The aggregated ports of one edge; :meth:`parts` gives one text per protocol."""

    def __init__(self) -> None:
        self._by_protocol: dict[Protocol, _Ports] = {}

    def _of(self, protocol: Protocol) -> _Ports:
        found = self._by_protocol.get(protocol)
        if found is None:
            found = self._by_protocol[protocol] = _Ports()
        return found

    def add_ports(self, protocol: Protocol, ranges: Iterable[PortRange]) -> None:
        """Plain ports."""
        self._of(protocol).plain.extend(ranges)

    def add_named(self, protocol: Protocol, name: str, ports: PortSet | None) -> None:
        """Ports that come from the parameter or dynamic range ``name`` (``None``: not known
        here, as a parameter without a default or a platform-dependent range in a product)."""
        named = self._of(protocol).named
        known = named.get(name)
        named[name] = ports if known is None else (known | ports if ports else known)

    def add_other(self, protocol: Protocol, text: str, sort_key: int) -> None:
        """A mapping such as ``443→7071`` (published port to listening port)."""
        self._of(protocol).other.setdefault(text, sort_key)

    def parts(self) -> tuple[str, ...]:
        """``("TCP 80, 443", "UDP 1812")``: TCP first, each protocol's ports sorted."""
        return tuple(
            f"{protocol.value.upper()} {self._by_protocol[protocol].text()}"
            for protocol in Protocol
            if protocol in self._by_protocol
        )


@dataclass
class EdgeData:
    """What is known of one edge while its flows are added."""

    label: PortLabel = field(default_factory=PortLabel)
    rows: list[int] = field(default_factory=list)
    flows: dict[str, None] = field(default_factory=dict)  #: flow ids, in order, once each
    lines: dict[str, None] = field(default_factory=dict)  #: the tooltip's lines, once each
    conditional: bool = True

    def add_flow(self, key: str, condition: str | None, line: str) -> None:
        """A flow on the edge, its condition, and its line in the tooltip."""
        self.flows[key] = None
        self.conditional = self.conditional and condition is not None
        self.lines[line + (f"; when {condition}" if condition else "")] = None

    def edge(self, source: str, target: str) -> Edge:
        lines = list(self.lines)
        more = (
            [f"... and {len(lines) - _TOOLTIP_FLOWS} more"] if len(lines) > _TOOLTIP_FLOWS else []
        )
        return Edge(
            source=source,
            target=target,
            label=self.label.parts(),
            conditional=self.conditional,
            tooltip="\n".join([*lines[:_TOOLTIP_FLOWS], *more]),
            flows=tuple(self.flows),
            rows=tuple(self.rows),
        )
