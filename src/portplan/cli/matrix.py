"""``portplan matrix``: the flow matrix of a deployment, and why each vendor row is in or out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan._text import choice_hint
from portplan.cli._files import is_stdio, width, write_output
from portplan.cli._options import common_options, format_option, option, output_option
from portplan.cli._plan import load_plan
from portplan.report.matrix import explain_text, matrix_bytes

__all__ = ["matrix_cmd"]


@click.command("matrix")
@click.argument("deployment", type=click.Path(path_type=Path))
@format_option(
    "table", "csv", "json", "md", "xlsx", help="Output format; csv and xlsx are change requests."
)
@output_option("Write to PATH ('-': standard output; required for xlsx on a terminal).")
@option(
    "--explain",
    "explain",
    metavar="FLOW",
    multiple=True,
    help="Say why FLOW (product/flow-id or flow-id) is in or out, instead of the matrix.",
)
@common_options
def matrix_cmd(
    deployment: Path, fmt: str, output: str | None, overwrite: bool, explain: tuple[str, ...]
) -> None:
    """Expand DEPLOYMENT into its concrete flow matrix: who must reach whom, on what.

    DEPLOYMENT may be '-' to read it from standard input (product files it names are then
    found relative to the current folder).
    """
    plan, inputs = load_plan(deployment)
    if explain:
        texts = []
        for flow in explain:
            decision = plan.decision(flow)
            if decision is None:
                keys = [d.key for d in plan.decisions] + [d.flow_id for d in plan.decisions]
                raise UsageError(
                    f"no flow {flow!r} in this deployment; " + choice_hint(flow, keys, "flows")
                )
            texts.append(explain_text(plan, decision))
        write_output(output, "\n".join(texts).encode(), inputs, overwrite=overwrite)
        return
    if fmt == "xlsx" and is_stdio(output) and sys.stdout.isatty():
        raise UsageError("xlsx is binary; give -o FILE.xlsx or redirect standard output")
    write_output(output, matrix_bytes(plan, fmt, width=width()), inputs, overwrite=overwrite)
