"""``portplan diagram``: who talks to whom, as a picture (Graphviz) or as diagram text."""

from __future__ import annotations

import re
import sys

import click

from portplan._errors import UsageError
from portplan.cli._files import is_stdio, write_files, write_output
from portplan.cli._log import log
from portplan.cli._options import (
    InputPath,
    Seconds,
    common_options,
    format_option,
    option,
    output_option,
)
from portplan.cli._plan import load_plan_or_product
from portplan.plan import Plan
from portplan.publish import (
    View,
    d2_text,
    dot_text,
    layout,
    mermaid_parts,
    plan_diagram,
    product_diagram,
)

__all__ = ["diagram_cmd", "layout_timeout_option"]


def layout_timeout_option(function: click.decorators.FC) -> click.decorators.FC:
    """``--layout-timeout``: how long Graphviz may take to lay a diagram out."""
    return option(
        "--layout-timeout",
        type=Seconds(1, 3600),
        default=60.0,
        show_default=True,
        help="Seconds Graphviz's dot may take to lay a diagram out (svg, png).",
    )(function)


@click.command("diagram")
@click.argument("source", type=InputPath(path_type=str), metavar="DEPLOYMENT|PRODUCT")
@format_option(
    "svg",
    "png",
    "dot",
    "mermaid",
    "d2",
    default="svg",
    help="svg and png are laid out by Graphviz's dot; dot, mermaid and d2 are diagram text.",
)
@option(
    "--by",
    "view",
    type=click.Choice([v.value for v in View]),
    default=View.COMPONENT.value,
    show_default=True,
    help="What a box stands for: a component, a host (in its zone), or a zone (the edges are "
    "then what each zone firewall opens). A product has components only.",
)
@option(
    "--flow",
    "flows",
    multiple=True,
    metavar="ID",
    help="Only this flow (product/flow-id or flow-id; repeatable).",
)
@option(
    "--component",
    "components",
    multiple=True,
    metavar="ID",
    help="Only flows from or to this component or its subcomponents, a group standing for "
    "each member, the flows written from a group counting for its members (product/component "
    "or component id; repeatable).",
)
@option(
    "--each-host",
    is_flag=True,
    help="By host: one box per host. By default hosts that play the same part with the same "
    "flows share one box ('34 hosts'), which keeps large deployments readable.",
)
@layout_timeout_option
@output_option(
    "Write to PATH ('-': standard output). Mermaid past its limits is several diagrams: "
    "give -o DIR."
)
@common_options
def diagram_cmd(
    source: str,
    fmt: str,
    view: str,
    flows: tuple[str, ...],
    components: tuple[str, ...],
    each_host: bool,
    layout_timeout: float,
    output: str | None,
    overwrite: bool,
) -> None:
    """Draw DEPLOYMENT or PRODUCT: one edge per pair, with its ports, conditional flows dashed.

    DEPLOYMENT is a deployment file; PRODUCT a catalog id or a product file ('-': standard
    input). An edge is labelled with every port between the pair, per protocol ("TCP 443,
    8443 · UDP 1812"); a configurable port shows its parameter (website_port=8443), a published
    port where it leads (443→7071). Flows through an ingress proxy are drawn source → proxy →
    destination; external systems, clients and proxies have shapes of their own.
    """
    loaded, inputs = load_plan_or_product(source)
    if isinstance(loaded, Plan):
        diagram = plan_diagram(
            loaded, View(view), flows=flows, components=components, group_hosts=not each_host
        )
    else:
        if view != View.COMPONENT.value:
            raise UsageError(
                f"--by {view} needs a deployment: a product on its own has components only"
            )
        diagram = product_diagram(loaded, flows=flows, components=components)
    for note in diagram.notes:
        log.info("%s", note)
    if not diagram.edges:
        log.warning("nothing to draw: no flow between two %ss", view)
    if fmt == "mermaid":
        parts = mermaid_parts(diagram)
        if len(parts) == 1:
            write_output(output, parts[0].encode(), inputs, overwrite=overwrite)
            return
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", diagram.title.split(":")[0]).strip("-")
        log.info(
            "%d edges are past Mermaid's limits: writing %d diagrams",
            len(diagram.edges),
            len(parts),
        )
        write_files(
            output,
            {f"{stem or 'diagram'}-{view}-{n}.mmd": text for n, text in enumerate(parts, 1)},
            inputs,
            overwrite=overwrite,
        )
        return
    if fmt == "d2":
        write_output(output, d2_text(diagram).encode(), inputs, overwrite=overwrite)
        return
    text = dot_text(diagram)
    if fmt == "dot":
        write_output(output, text.encode(), inputs, overwrite=overwrite)
        return
    if fmt == "png" and is_stdio(output) and sys.stdout.isatty():
        raise UsageError("png is binary; give -o FILE.png or redirect standard output")
    write_output(output, layout(text, fmt, timeout=layout_timeout), inputs, overwrite=overwrite)
