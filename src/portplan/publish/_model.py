"""The diagram model: nodes, one edge per pair with an aggregated label, and clusters.

A :class:`Diagram` is built from a plan (components, hosts or zones of a deployment) or from a
product (its components), and rendered as DOT, Mermaid or D2 text; Graphviz lays DOT out.
It holds text only, in a stable order, so the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Cluster", "Diagram", "Edge", "Node", "NodeKind", "Status", "View", "worst"]


class View(StrEnum):
    """What a node of the diagram stands for."""

    COMPONENT = "component"  #: a component of a product (placed on hosts, in a deployment)
    HOST = "host"  #: a host of the deployment, in its zone
    ZONE = "zone"  #: a zone: the edges are what its firewall must open


class NodeKind(StrEnum):
    """How a node is drawn: the kind of component it is or holds."""

    COMPONENT = "component"
    EXTERNAL = "external"
    CLIENT = "client"
    INGRESS = "ingress"
    GROUP = "group"
    ZONE = "zone"


class Status(StrEnum):
    """What an overlay found for a flow, from worst to best (see :func:`worst`)."""

    FAILED = "failed"  #: a check failed, or a finding says the flow is wrong
    WARNING = "warning"  #: a finding worth a look that does not fail the flow
    UNCHECKED = "unchecked"  #: the overlay names the flow but did not check it (not probed)
    PASSED = "passed"  #: every check of the flow passed


_ORDER = {status: rank for rank, status in enumerate(Status)}


def worst(statuses: Iterable[Status]) -> Status | None:
    """The worst of ``statuses``, or ``None`` when there is none."""
    return min(statuses, key=_ORDER.__getitem__, default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """A box around nodes: a zone, or a main component with its subcomponents."""

    id: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A component, host or zone."""

    id: str  #: stable name: ``shopping-6.1/website``, ``shop01``, ``servers``
    label: tuple[str, ...]  #: lines: the name first, then where it runs or what it holds
    kind: NodeKind
    cluster: str | None  #: the :attr:`Cluster.id` it is drawn in
    tooltip: str
    rows: tuple[int, ...] = ()  #: indexes of the plan rows that start or end here


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """Everything one node must reach on another: one edge per ordered pair."""

    source: str
    target: str
    label: tuple[str, ...]  #: one part per protocol: ``("TCP 443, 8443", "UDP 1812")``
    conditional: bool  #: every flow on the edge depends on a condition (drawn dashed)
    tooltip: str  #: the flows, with their services and conditions
    flows: tuple[str, ...]  #: the flow ids (``product/flow``) on the edge
    rows: tuple[int, ...] = ()  #: indexes of the plan rows it stands for
    status: Status | None = None  #: the worst overlay status of its rows, if any

    @property
    def label_text(self) -> str:
        """The label on one line: ``TCP 443, 8443 · UDP 1812``."""
        return " · ".join(self.label)


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagram:
    """Nodes, edges and clusters in a stable order, with a title and notes on what is left out."""

    title: str
    view: View
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[Cluster, ...] = ()
    notes: tuple[str, ...] = ()

    def with_status(self, statuses: Mapping[int, Status], *, results: bool = False) -> Diagram:
        """The diagram with each edge marked with the worst status of its rows; a row of an
        edge with others marked that has none (no results name it) is unchecked, so an edge
        never reads passed for rows nobody verified.  With ``results`` (results were given),
        an edge no results name is unchecked too, never drawn plain as if nothing were
        asked of it; without, it stays unmarked (the drawing of a plan alone)."""
        edges = tuple(
            replace(
                e,
                status=worst(statuses.get(r, Status.UNCHECKED) for r in e.rows)
                if results or any(r in statuses for r in e.rows)
                else None,
            )
            for e in self.edges
        )
        return replace(self, edges=edges)
