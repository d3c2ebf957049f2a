"""A diagram as D2 text (https://d2lang.com): containers for clusters, tooltips on nodes."""

from __future__ import annotations

from collections.abc import Sequence

from portplan._text import one_line
from portplan.publish._model import Diagram, NodeKind, Status
from portplan.publish.dot import STATUS_COLOURS

__all__ = ["d2_text"]

_SHAPES: dict[NodeKind, tuple[str, str, str]] = {
    NodeKind.COMPONENT: ("rectangle", "#dbe9f6", "#1f4e78"),
    NodeKind.EXTERNAL: ("cylinder", "#e7e6e6", "#404040"),
    NodeKind.CLIENT: ("oval", "#fff2cc", "#7f6000"),
    NodeKind.INGRESS: ("hexagon", "#e2f0d9", "#385723"),
    NodeKind.GROUP: ("page", "#f2f2f2", "#404040"),
    NodeKind.ZONE: ("rectangle", "#dbe9f6", "#1f4e78"),
}


#: D2's escapes in a double-quoted string; ``$`` escaped, or ``${x}`` is a substitution
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "$": "\\$"})


def _string(text: str) -> str:
    """A D2 double-quoted string of ``text`` on one line: control characters and line breaks
    a space, so no text can end the string, the line or start a substitution."""
    return _label((text,))


def _label(lines: Sequence[str]) -> str:
    """A D2 string of the lines of a label, each :func:`_string` text, joined by ``\\n``."""
    return '"' + "\\n".join(one_line(line).translate(_ESCAPES) for line in lines) + '"'


def d2_text(diagram: Diagram) -> str:
    """The D2 source of ``diagram``; nodes are ``n{i}``, clusters ``c{i}``, in its order."""
    cluster_ids = {c.id: f"c{index}" for index, c in enumerate(diagram.clusters)}
    paths = {}
    for index, node in enumerate(diagram.nodes):
        inside = cluster_ids.get(node.cluster) if node.cluster else None
        paths[node.id] = f"{inside}.n{index}" if inside else f"n{index}"
    lines = [f"# {one_line(diagram.title)}", "direction: right", ""]
    for cluster in diagram.clusters:
        lines.append(f"{cluster_ids[cluster.id]}: {_string(cluster.label)} {{")
        lines.append("  style.stroke-dash: 3")
        lines.append("}")
    for node in diagram.nodes:
        shape, fill, border = _SHAPES[node.kind]
        lines.append(f"{paths[node.id]}: {_label(node.label)} {{")
        lines.append(f"  shape: {shape}")
        lines.append(f"  tooltip: {_string(node.tooltip)}")
        lines.append(f'  style.fill: "{fill}"')
        lines.append(f'  style.stroke: "{border}"')
        lines.append("}")
    for edge in diagram.edges:
        label = _string(" · ".join(edge.label))
        lines.append(f"{paths[edge.source]} -> {paths[edge.target]}: {label} {{")
        if edge.conditional:
            lines.append("  style.stroke-dash: 4")
        if edge.status is not None:
            lines.append(f'  style.stroke: "{STATUS_COLOURS[edge.status]}"')
            if edge.status is Status.FAILED:
                lines.append("  style.stroke-width: 3")
        lines.append("}")
    return "\n".join(lines) + "\n"
