"""Publishing a plan or a product for people: component diagrams and results overlays.

A :class:`Diagram` of a plan (:func:`plan_diagram`, by component, host or zone) or of a product
(:func:`product_diagram`) renders as DOT (:func:`dot_text`; Graphviz lays it out as SVG or PNG
with :func:`layout`), Mermaid (:func:`mermaid_parts`, split under Mermaid's limits) or D2
(:func:`d2_text`).  Overlays read the JSON documents of ``verify`` (and, as they come,
``audit`` and ``diff``) into findings on the plan's rows (:func:`read_overlay`,
:func:`overlay_rows`).  The HTML report (``portplan.report.html``) is built from these.
"""

from portplan.publish._from_plan import plan_diagram
from portplan.publish._from_product import product_diagram
from portplan.publish._model import Cluster, Diagram, Edge, Node, NodeKind, Status, View
from portplan.publish.d2 import d2_text
from portplan.publish.dot import dot_text
from portplan.publish.graphviz import LAYOUT_FORMATS, layout
from portplan.publish.mermaid import MERMAID_MAX_EDGES, mermaid_parts
from portplan.publish.overlay import (
    OVERLAY_READERS,
    Finding,
    Overlay,
    RowFindings,
    overlay_rows,
    read_overlay,
)

__all__ = [
    "LAYOUT_FORMATS",
    "MERMAID_MAX_EDGES",
    "OVERLAY_READERS",
    "Cluster",
    "Diagram",
    "Edge",
    "Finding",
    "Node",
    "NodeKind",
    "Overlay",
    "RowFindings",
    "Status",
    "View",
    "d2_text",
    "dot_text",
    "layout",
    "mermaid_parts",
    "overlay_rows",
    "plan_diagram",
    "product_diagram",
    "read_overlay",
]
