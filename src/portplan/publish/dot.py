"""A diagram as Graphviz DOT text, written here byte for byte (golden files compare it).

Left to right, zones (or main components) as clusters, edge labels placed by ``dot`` as
nodes of their own (so they do not overlap), conditional flows dashed, external systems,
clients and ingress proxies each in a shape of their own, and overlay statuses as edge colours.
Every node and edge carries an ``id`` (prefixed, so that several diagrams fit one page) and a
tooltip, which Graphviz keeps in its SVG.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence

from portplan._text import control_picture
from portplan.publish._model import Diagram, Edge, NodeKind, Status

__all__ = ["STATUS_COLOURS", "dot_text", "wrap_label"]

FONT = "DejaVu Sans"
#: shape, fill and border of each kind of node (text is black on every fill: contrast >= 7:1)
_NODE_STYLE: dict[NodeKind, tuple[str, str, str]] = {
    NodeKind.COMPONENT: ("box", "#dbe9f6", "#1f4e78"),
    NodeKind.EXTERNAL: ("box3d", "#e7e6e6", "#404040"),
    NodeKind.CLIENT: ("ellipse", "#fff2cc", "#7f6000"),
    NodeKind.INGRESS: ("hexagon", "#e2f0d9", "#385723"),
    NodeKind.GROUP: ("folder", "#f2f2f2", "#404040"),
    NodeKind.ZONE: ("box", "#dbe9f6", "#1f4e78"),
}
#: edge colours of overlay statuses (and of edges without one)
STATUS_COLOURS: dict[Status | None, str] = {
    Status.FAILED: "#c00000",
    Status.WARNING: "#b35900",
    Status.UNCHECKED: "#7f7f7f",
    Status.PASSED: "#2e7d32",
    None: "#404040",
}
#: edge labels and node lines wrap at this many characters
_WRAP = 34
#: the most bytes of a quoted string (its quotes and escapes included) written for dot:
#: Graphviz 2.43 refuses one of 16383 bytes or more ("longer than 16384?")
_DOT_STRING_MAX = 16_000


#: what dot cannot take in a quoted string (NUL ends it) or writes into its SVG as it is,
#: which no XML reader takes: C0 controls but tab and line feed, DEL, C1 controls, and the
#: two noncharacters XML refuses
_NOT_IN_DOT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks as ``\\n``,
    other control characters as their visible symbols (``\\x1b`` as ``␛``), and ``&`` as
    ``&#38;`` (dot reads ``&amp;`` or ``&lt;`` in a label as the character it names)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
    escaped = escaped.replace("&", "&#38;")
    escaped = _NOT_IN_DOT.sub(control_picture, escaped)
    return '"' + escaped.replace("\n", "\\n") + '"'


def wrap_label(parts: Sequence[str], width: int = _WRAP) -> list[str]:
    """Label lines: each part on its own line, long parts broken after a comma."""
    lines: list[str] = []
    for part in parts:
        lines.extend(textwrap.wrap(part, width, break_long_words=False, break_on_hyphens=False))
    return lines


def _tooltip(text: str) -> str:
    """A tooltip as dot must read it: dot reads a tooltip's backslash escapes twice (``\\\\``
    to ``\\`` with ``\\n``, then ``\\N``, ``\\G``, ``\\L``, ``\\T``... to names), so each
    backslash is written twice before :func:`quote` doubles it again."""
    return text.replace("\\", "\\\\")


def _quoted_tooltip(text: str) -> str:
    return quote(_tooltip(text))


def _cut(text: str, keep: int) -> str:
    return text[:keep] + f" … ({len(text) - keep} characters more)"


def _fitted(text: str, render: Callable[[str], str]) -> str:
    """``text`` as ``render`` quotes it, cut short (saying how much is left out) where dot
    would refuse it as longer than :data:`_DOT_STRING_MAX` bytes: the tooltip of a box of
    thousands of clients names each one.  The longest start that fits is found by halving."""
    whole = render(text)
    if len(whole.encode()) <= _DOT_STRING_MAX:
        return whole
    low, high = 0, len(text)  # low: a start that fits (nothing but the note does)
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(_cut(text, middle)).encode()) <= _DOT_STRING_MAX:
            low = middle
        else:
            high = middle - 1
    return render(_cut(text, low))


def _attributes(values: dict[str, str]) -> str:
    quoted = (_fitted(v, _quoted_tooltip if k == "tooltip" else quote) for k, v in values.items())
    return "[" + ", ".join(f"{k}={v}" for k, v in zip(values, quoted, strict=True)) + "]"


def _edge_attributes(edge: Edge, edge_id: str) -> dict[str, str]:
    values = {
        "id": edge_id,
        "class": "edge-" + (edge.status.value if edge.status else "plain"),
        "label": "\n".join(wrap_label(edge.label)),
        "tooltip": edge.tooltip,
        "color": STATUS_COLOURS[edge.status],
    }
    if edge.status is not None:
        values["fontcolor"] = STATUS_COLOURS[edge.status]
    if edge.status is Status.FAILED:
        values["penwidth"] = "2.4"
    if edge.conditional:
        values["style"] = "dashed"
    return values


def dot_text(diagram: Diagram, *, id_prefix: str = "") -> str:
    """The DOT source of ``diagram``; node and edge ids are ``{id_prefix}n{i}`` and
    ``{id_prefix}e{i}`` in the diagram's order.  With a prefix, the graph's own id is
    ``{id_prefix}graph`` (Graphviz calls every graph ``graph0``, once a page per diagram)."""
    own_id = {"id": f"{id_prefix}graph"} if id_prefix else {}
    out = [
        f"digraph {quote(diagram.title)} {{",
        "  graph "
        + _attributes(
            {
                **own_id,
                "rankdir": "LR",
                "fontname": FONT,
                "fontsize": "12",
                "label": diagram.title,
                "labelloc": "t",
                "nodesep": "0.3",
                "ranksep": "0.8",
                "newrank": "true",
                "outputorder": "edgesfirst",
            }
        )
        + ";",
        "  node "
        + _attributes(
            {"fontname": FONT, "fontsize": "10", "style": "filled", "margin": "0.12,0.06"}
        )
        + ";",
        "  edge " + _attributes({"fontname": FONT, "fontsize": "9", "arrowsize": "0.7"}) + ";",
    ]
    ids = {node.id: f"{id_prefix}n{index}" for index, node in enumerate(diagram.nodes)}
    by_cluster: dict[str | None, list[str]] = {}
    for node in diagram.nodes:
        shape, fill, border = _NODE_STYLE[node.kind]
        lines = [node.label[0], *(w for line in node.label[1:] for w in wrap_label((line,)))]
        attributes = {
            "id": ids[node.id],
            "class": f"node-{node.kind.value}",
            "label": "\n".join(lines),
            "tooltip": node.tooltip,
            "shape": shape,
            "fillcolor": fill,
            "color": border,
        }
        if node.kind in (NodeKind.COMPONENT, NodeKind.ZONE):
            attributes["style"] = "rounded,filled"
        by_cluster.setdefault(node.cluster, []).append(
            f"{quote(node.id)} {_attributes(attributes)};"
        )
    for index, cluster in enumerate(diagram.clusters):
        out.append(f"  subgraph {quote(f'cluster_{index}')} {{")
        out.append(
            "    graph "
            + _attributes(
                {
                    "id": f"{id_prefix}c{index}",
                    "label": cluster.label,
                    "style": "rounded,dashed",
                    "color": "#7f7f7f",
                    "fontcolor": "#404040",
                }
            )
            + ";"
        )
        out.extend(f"    {line}" for line in by_cluster.pop(cluster.id, []))
        out.append("  }")
    out.extend(f"  {line}" for lines in by_cluster.values() for line in lines)
    for index, edge in enumerate(diagram.edges):
        attributes = _edge_attributes(edge, f"{id_prefix}e{index}")
        out.append(f"  {quote(edge.source)} -> {quote(edge.target)} {_attributes(attributes)};")
    out.append("}")
    return "\n".join(out) + "\n"
