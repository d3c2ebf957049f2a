"""The report's diagrams: each view laid out by Graphviz as SVG, inlined, with what the page's
script needs to filter the tables to the rows of an edge or a box."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portplan.plan import Plan
from portplan.publish import Diagram, Status, View, dot_text, layout, plan_diagram
from portplan.report.html._markup import el, text

__all__ = ["MAX_LAYOUT_NODES", "diagram_section"]

#: a view with more boxes than this is left out of the report (Graphviz would take minutes and
#: nobody could read it); ``portplan diagram --flow/--component`` draws a part of it
MAX_LAYOUT_NODES = 400

#: what Graphviz writes before the <svg> element, and comments (its version among them)
_PROLOG = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)


def inline_svg(svg: bytes, label: str) -> str:
    """Graphviz's SVG as an element of the page: no XML prolog, doctype or comments, and
    named for assistive technology."""
    body = _COMMENT.sub("", _PROLOG.sub("", svg.decode()))
    return body.replace("<svg ", f'<svg role="img" aria-label="{text(label)}" ', 1)


def _views(plan: Plan) -> list[View]:
    views = [View.COMPONENT, View.HOST]
    if any(host.zone for host in plan.hosts.values()):
        views.append(View.ZONE)
    return views


def diagram_section(
    plan: Plan, statuses: Mapping[int, Status], *, results: bool = False, timeout: float
) -> tuple[str, dict[str, Any]]:
    """The section's HTML, and per view the rows behind each edge and box (by SVG id);
    ``results``: results were given, so an edge none of them name reads unchecked."""
    figures: list[str] = []
    choices: list[str] = []
    data: dict[str, Any] = {}
    shown = set(statuses.values())
    for view in _views(plan):
        diagram: Diagram = plan_diagram(plan, view).with_status(statuses, results=results)
        shown.update(e.status for e in diagram.edges if e.status is not None)
        notes = list(diagram.notes)
        if len(diagram.nodes) > MAX_LAYOUT_NODES:
            notes.insert(
                0,
                f"{len(diagram.nodes)} boxes are too many to draw here; "
                f"portplan diagram --by {view.value} --component or --flow draws a part",
            )
            svg = ""
        elif not diagram.edges:
            svg = ""
        else:
            prefix = f"{view.value}-"
            drawn = layout(dot_text(diagram, id_prefix=prefix), "svg", timeout=timeout)
            svg = inline_svg(drawn, diagram.title)
            names = {node.id: node.label[0] for node in diagram.nodes}
            data[view.value] = {
                "edges": {
                    f"{prefix}e{i}": {
                        "rows": list(edge.rows),
                        "label": f"{names[edge.source]} → {names[edge.target]}: " + edge.label_text,
                    }
                    for i, edge in enumerate(diagram.edges)
                },
                "nodes": {
                    f"{prefix}n{i}": {"rows": list(node.rows), "label": node.label[0]}
                    for i, node in enumerate(diagram.nodes)
                },
            }
        first = not figures
        choices.append(
            el(
                "label",
                f'<input type="radio" name="view" value="{view.value}"'
                + (" checked" if first else "")
                + ">",
                f" by {view.value}",
            )
        )
        caption = el("figcaption", " ".join(text(n) for n in notes)) if notes else ""
        figures.append(
            el(
                "figure",
                svg or el("p", "Nothing to draw in this view.", class_="note"),
                caption,
                class_="diagram",
                data_view=view.value,
                hidden=not first,
            )
        )
    legend = el(
        "ul",
        el("li", el("span", "", class_="swatch"), "flow always needed"),
        el("li", el("span", "", class_="swatch dashed"), "needed because of a condition"),
        *(
            el("li", el("span", "", class_=f"swatch {s.value}"), f"{s.value}")
            for s in Status
            if s in shown
        ),
        class_="legend",
    )
    html = (
        el("h2", "Diagram", id="diagram")
        + el(
            "p",
            "One arrow per pair, labelled with every port between them. Select an arrow or a "
            "box (click, or Tab then Enter) to show only its rows in the tables below.",
            class_="note",
        )
        + el("fieldset", el("legend", "Draw"), *choices, class_="views")
        + legend
        + el(
            "div",
            el("span", "", id="selection-text"),
            " ",
            el("button", "Show all rows", type="button", class_="clear", id="selection-clear"),
            id="selection",
            class_="selection",
            hidden=True,
            aria_live="polite",
        )
        + "".join(figures)
    )
    return el("section", html, class_="diagram", aria_labelledby="diagram"), data
