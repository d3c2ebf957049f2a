"""A diagram as D2 text (https://d2lang.com): containers for clusters, tooltips on nodes."""

from __future__ import annotations

import json

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


def _string(text: str) -> str:
    """A D2 double-quoted string (JSON's escapes are D2's)."""
    return json.dumps(text, ensure_ascii=False)


def d2_text(diagram: Diagram) -> str:
    """The D2 source of ``diagram``; nodes are ``n{i}``, clusters ``c{i}``, in its order."""
    cluster_ids = {c.id: f"c{index}" for index, c in enumerate(diagram.clusters)}
    paths = {}
    for index, node in enumerate(diagram.nodes):
        inside = cluster_ids.get(node.cluster) if node.cluster else None
        paths[node.id] = f"{inside}.n{index}" if inside else f"n{index}"
    lines = [f"# {diagram.title}", "direction: right", ""]
    for cluster in diagram.clusters:
        lines.append(f"{cluster_ids[cluster.id]}: {_string(cluster.label)} {{")
        lines.append("  style.stroke-dash: 3")
        lines.append("}")
    for node in diagram.nodes:
        shape, fill, border = _SHAPES[node.kind]
        lines.append(f"{paths[node.id]}: {_string(chr(10).join(node.label))} {{")
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
