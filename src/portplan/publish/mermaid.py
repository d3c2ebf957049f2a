"""A diagram as Mermaid flowchart text, split into parts that Mermaid will draw.

Mermaid refuses a diagram of more than 500 edges (its ``maxEdges``) or 50,000 characters (its
``maxTextSize``).  A larger diagram is written as several complete flowcharts, each within
both limits; the edges of one source node stay together where they fit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from portplan._text import one_line
from portplan.publish._model import Diagram, Edge, NodeKind, Status
from portplan.publish.dot import STATUS_COLOURS

__all__ = ["MERMAID_MAX_EDGES", "MERMAID_MAX_TEXT", "mermaid_parts"]

#: Mermaid's default limits (``maxEdges``, ``maxTextSize``)
MERMAID_MAX_EDGES = 500
MERMAID_MAX_TEXT = 50_000
#: room kept in each part for the header, the class definitions and the subgraph lines
_HEADROOM = 4_000

_CLASSES: dict[NodeKind, str] = {
    NodeKind.COMPONENT: "fill:#dbe9f6,stroke:#1f4e78,color:#000",
    NodeKind.EXTERNAL: "fill:#e7e6e6,stroke:#404040,color:#000,stroke-width:2px",
    NodeKind.CLIENT: "fill:#fff2cc,stroke:#7f6000,color:#000",
    NodeKind.INGRESS: "fill:#e2f0d9,stroke:#385723,color:#000",
    NodeKind.GROUP: "fill:#f2f2f2,stroke:#404040,color:#000,stroke-dasharray:3 3",
    NodeKind.ZONE: "fill:#dbe9f6,stroke:#1f4e78,color:#000",
}
#: node shapes: ``open``, ``close`` brackets
_SHAPES: dict[NodeKind, tuple[str, str]] = {
    NodeKind.COMPONENT: ("(", ")"),
    NodeKind.EXTERNAL: ("[(", ")]"),
    NodeKind.CLIENT: ("([", "])"),
    NodeKind.INGRESS: ("{{", "}}"),
    NodeKind.GROUP: ("[[", "]]"),
    NodeKind.ZONE: ("[", "]"),
}


#: Mermaid's entities for what would end a quoted label, be read as HTML (``<``, and ``&``,
#: which would make ``&amp;`` show as ``&``), be read as one of Mermaid's own entities
#: (``#``: ``#lt;`` shows as ``<``), or start a ``%%{init}%%`` directive (Mermaid looks for
#: those anywhere in the text)
_ENTITIES = str.maketrans(
    {'"': "#quot;", "<": "#lt;", ">": "#gt;", "%": "#37;", "&": "#amp;", "#": "#35;"}
)


def _text(text: str) -> str:
    """Text for a quoted Mermaid label, on one line, its special characters as entities."""
    return one_line(text).translate(_ENTITIES)


def _title(text: str) -> str:
    """The front matter's title: a YAML double-quoted scalar (JSON's escapes are YAML's) on
    one line, ``%`` escaped too so that it never starts a directive."""
    return json.dumps(one_line(text), ensure_ascii=False).replace("%", "\\u0025")


def _edge_line(edge: Edge, ids: dict[str, str]) -> str:
    arrow = "-.->" if edge.conditional else "-->"
    label = _text(" · ".join(edge.label))
    return f'  {ids[edge.source]} {arrow}|"{label}"| {ids[edge.target]}'


def _split(edges: Sequence[Edge], ids: dict[str, str], budget: int) -> list[list[int]]:
    """Edge indexes per part: at most MERMAID_MAX_EDGES and ``budget`` characters of edges
    each, a source node's edges kept together when they fit in one part."""
    by_source: dict[str, list[int]] = {}
    for index, edge in enumerate(edges):
        by_source.setdefault(edge.source, []).append(index)
    parts: list[list[int]] = [[]]
    size = 0
    for group in by_source.values():
        lengths = [len(_edge_line(edges[i], ids)) + 1 for i in group]
        fits = len(group) <= MERMAID_MAX_EDGES and sum(lengths) <= budget
        if fits and (
            len(parts[-1]) + len(group) > MERMAID_MAX_EDGES or size + sum(lengths) > budget
        ):
            parts.append([])
            size = 0
        for index, length in zip(group, lengths, strict=True):
            if len(parts[-1]) >= MERMAID_MAX_EDGES or size + length > budget:
                parts.append([])
                size = 0
            parts[-1].append(index)
            size += length
    return [p for p in parts if p] or [[]]


def mermaid_parts(diagram: Diagram) -> list[str]:
    """The diagram as one Mermaid flowchart, or several when it is past Mermaid's limits."""
    ids = {node.id: f"n{index}" for index, node in enumerate(diagram.nodes)}
    nodes = {node.id: node for node in diagram.nodes}
    node_lines = {}
    for node in diagram.nodes:
        opening, closing = _SHAPES[node.kind]
        label = "<br/>".join(_text(line) for line in node.label)
        node_lines[node.id] = f'{ids[node.id]}{opening}"{label}"{closing}'
    budget = MERMAID_MAX_TEXT - _HEADROOM - sum(len(line) + 5 for line in node_lines.values())
    budget = max(budget, MERMAID_MAX_TEXT // 4)  # huge node lists: parts then hold fewer edges
    parts = _split(diagram.edges, ids, budget)
    texts = []
    for number, part in enumerate(parts, start=1):
        edges = [diagram.edges[i] for i in part]
        used = dict.fromkeys(n for e in edges for n in (e.source, e.target)) if part else nodes
        title = diagram.title + (f" (part {number} of {len(parts)})" if len(parts) > 1 else "")
        lines = ["---", f"title: {_title(title)}", "---", "flowchart LR"]
        clusters = {c.id: c for c in diagram.clusters}
        grouped: dict[str | None, list[str]] = {}
        for node_id in used:
            grouped.setdefault(nodes[node_id].cluster, []).append(node_lines[node_id])
        for index, cluster in enumerate(diagram.clusters):
            members = grouped.pop(cluster.id, [])
            if members:
                lines.append(f'  subgraph c{index}["{_text(clusters[cluster.id].label)}"]')
                lines.extend(f"    {line}" for line in members)
                lines.append("  end")
        lines.extend(f"  {line}" for members in grouped.values() for line in members)
        lines.extend(_edge_line(edge, ids) for edge in edges)
        for position, edge in enumerate(edges):
            if edge.status is not None:
                colour = STATUS_COLOURS[edge.status]
                width = "3px" if edge.status is Status.FAILED else "1.5px"
                lines.append(f"  linkStyle {position} stroke:{colour},stroke-width:{width}")
        kinds = dict.fromkeys(nodes[n].kind for n in used)
        for kind in kinds:
            lines.append(f"  classDef kind_{kind.value} {_CLASSES[kind]}")
            of_kind = ",".join(ids[n] for n in used if nodes[n].kind is kind)
            lines.append(f"  class {of_kind} kind_{kind.value}")
        texts.append("\n".join(lines) + "\n")
    return texts
