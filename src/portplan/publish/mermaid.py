"""A diagram as Mermaid flowchart text, split into parts that Mermaid will draw.

Mermaid refuses a diagram of more than 500 edges (its ``maxEdges``) or 50,000 characters (its
``maxTextSize``, JavaScript's length: a character outside the Basic Multilingual Plane, an
emoji, counts twice).  A larger diagram is written as several complete flowcharts, each within
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
#: (``#``: ``#lt;`` shows as ``<``), start a ``%%{init}%%`` directive (Mermaid looks for
#: those anywhere in the text), or make a label a Markdown string (one that opens with a
#: backtick, which its next backtick ends)
_ENTITIES = str.maketrans(
    {
        '"': "#quot;",
        "<": "#lt;",
        ">": "#gt;",
        "%": "#37;",
        "&": "#amp;",
        "#": "#35;",
        "`": "#96;",
    }
)


def _units(text: str) -> int:
    """The length of ``text`` as Mermaid measures it: in UTF-16 code units (JavaScript's)."""
    return len(text.encode("utf-16-le")) // 2


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


class _Sizes:
    """What each line of a part costs, in characters (its indent and line break counted), so
    that a part is cut before it passes Mermaid's ``maxTextSize``."""

    def __init__(self, diagram: Diagram, ids: dict[str, str], node_lines: dict[str, str]) -> None:
        self.diagram = diagram
        # a box: its line (indented four in a subgraph), and its id in its kind's class line
        self.node = {n: _units(line) + 5 + len(ids[n]) + 1 for n, line in node_lines.items()}
        self.cluster_of = {node.id: node.cluster for node in diagram.nodes}
        self.cluster = {
            c.id: _units(f'  subgraph c{index}["{_text(c.label)}"]\n  end\n')
            for index, c in enumerate(diagram.clusters)
        }
        # the front matter (a title naming its part: " (part 12 of 12)"), and per kind of box
        # its classDef and the start and end of its class line
        title = _title(diagram.title + " (part 9999 of 9999)")
        self.fixed = _units(f"---\ntitle: {title}\n---\nflowchart LR\n") + sum(
            len(f"  classDef kind_{kind.value} {style}\n  class  kind_{kind.value}\n")
            for kind, style in _CLASSES.items()
        )
        style = f"  linkStyle {MERMAID_MAX_EDGES} stroke:#000000,stroke-width:1.5px\n"
        self.edge = [
            _units(_edge_line(edge, ids)) + 1 + (len(style) if edge.status is not None else 0)
            for edge in diagram.edges
        ]

    def added(self, indexes: Sequence[int], nodes: set[str], clusters: set[str]) -> int:
        """What the edges ``indexes`` add to a part already holding ``nodes`` in
        ``clusters``: their lines, and those of the boxes and subgraphs they bring."""
        size = 0
        new_nodes: set[str] = set()
        new_clusters: set[str] = set()
        for index in indexes:
            size += self.edge[index]
            edge = self.diagram.edges[index]
            for node in (edge.source, edge.target):
                if node in nodes or node in new_nodes:
                    continue
                new_nodes.add(node)
                size += self.node[node]
                cluster = self.cluster_of[node]
                if cluster is not None and cluster not in clusters | new_clusters:
                    new_clusters.add(cluster)
                    size += self.cluster.get(cluster, 0)  # none: drawn outside any subgraph
        return size


class _Part:
    """The edges of one part, and the boxes and subgraphs they use."""

    def __init__(self, sizes: _Sizes) -> None:
        self.sizes = sizes
        self.edges: list[int] = []
        self.nodes: set[str] = set()
        self.clusters: set[str] = set()
        self.size = sizes.fixed

    def fits(self, indexes: Sequence[int]) -> bool:
        return (
            len(self.edges) + len(indexes) <= MERMAID_MAX_EDGES
            and self.size + self.sizes.added(indexes, self.nodes, self.clusters) <= MERMAID_MAX_TEXT
        )

    def add(self, index: int) -> None:
        self.size += self.sizes.added([index], self.nodes, self.clusters)
        self.edges.append(index)
        edge = self.sizes.diagram.edges[index]
        for node in (edge.source, edge.target):
            self.nodes.add(node)
            cluster = self.sizes.cluster_of[node]
            if cluster is not None:
                self.clusters.add(cluster)


def _split(sizes: _Sizes) -> list[list[int]]:
    """Edge indexes per part: at most MERMAID_MAX_EDGES edges and, with the boxes, subgraphs
    and lines they bring, at most MERMAID_MAX_TEXT characters (:func:`_units`) each; a source
    node's edges kept together when they fit in one part."""
    by_source: dict[str, list[int]] = {}
    for index, edge in enumerate(sizes.diagram.edges):
        by_source.setdefault(edge.source, []).append(index)
    parts = [_Part(sizes)]
    for group in by_source.values():
        if not parts[-1].fits(group) and _Part(sizes).fits(group):
            parts.append(_Part(sizes))
        for index in group:
            # an edge too large for any part (a box of a huge name) is a part of its own
            if parts[-1].edges and not parts[-1].fits([index]):
                parts.append(_Part(sizes))
            parts[-1].add(index)
    return [p.edges for p in parts if p.edges] or [[]]


def mermaid_parts(diagram: Diagram) -> list[str]:
    """The diagram as one Mermaid flowchart, or several when it is past Mermaid's limits."""
    ids = {node.id: f"n{index}" for index, node in enumerate(diagram.nodes)}
    nodes = {node.id: node for node in diagram.nodes}
    node_lines = {}
    for node in diagram.nodes:
        opening, closing = _SHAPES[node.kind]
        label = "<br/>".join(_text(line) for line in node.label)
        node_lines[node.id] = f'{ids[node.id]}{opening}"{label}"{closing}'
    parts = _split(_Sizes(diagram, ids, node_lines))
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
