"""``portplan matrix``: the flow matrix of a deployment, and why each vendor row is in or out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan.cli._files import is_stdio, width, write_output
from portplan.cli._options import (
    InputPath,
    common_options,
    format_option,
    hosts_option,
    namespace_option,
    option,
    output_option,
)
from portplan.cli._plan import load_plan, require_host, ruleset_file
from portplan.cli._progress import ProgressBar, wants_progress
from portplan.plan import Plan
from portplan.report.matrix import explain_text, write_matrix

__all__ = ["matrix_cmd"]


@click.command("matrix")
@click.argument("deployment", type=InputPath(path_type=Path))
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
@option(
    "--against",
    "against",
    multiple=True,
    metavar="[KIND:]FILE",
    help="Mark each row of the --host hosts permitted already (and by which rules), partly "
    "or not, by this ruleset collected on them (as audit --ruleset reads it; repeatable).",
)
@hosts_option("With --against: the hosts the ruleset is for (repeatable; their rows only).")
@namespace_option("--against")
@option(
    "--still-to-open",
    is_flag=True,
    help="With --against: leave out the rows the ruleset permits in full.",
)
@common_options
def matrix_cmd(
    deployment: Path,
    fmt: str,
    output: str | None,
    overwrite: bool,
    explain: tuple[str, ...],
    against: tuple[str, ...],
    hosts: tuple[str, ...],
    namespace: str | None,
    still_to_open: bool,
) -> None:
    """Expand DEPLOYMENT into its concrete flow matrix: who must reach whom, on what.

    DEPLOYMENT may be '-' to read it from standard input (product files it names are then
    found relative to the current folder).
    """
    if explain and fmt != "table":  # a script asking for JSON must not be handed text
        raise UsageError(
            f"--explain says in text why a flow is in or out; it has no --format {fmt} "
            "(leave --format out)"
        )
    plan, inputs = load_plan(deployment)
    if explain:
        texts = []
        for flow in explain:
            decision = plan.decision(flow)
            if decision is None:
                raise UsageError(plan.no_decision(flow))
            texts.append(explain_text(plan, decision))
        write_output(output, "\n".join(texts).encode(), inputs, overwrite=overwrite)
        return
    if against or hosts or still_to_open or namespace is not None:
        marked = _against(plan, deployment, against, namespace, hosts, still_to_open, fmt)
        read = [*inputs, *(ruleset_file(spec)[0] for spec in against)]
        write_output(output, marked, read, overwrite=overwrite)
        return
    if fmt == "xlsx" and is_stdio(output) and sys.stdout.isatty():
        raise UsageError("xlsx is binary; give -o FILE.xlsx or redirect standard output")
    columns = width()
    with ProgressBar(fmt == "xlsx" and wants_progress(), "writing the workbook") as advance:
        write_output(
            output,
            lambda out: write_matrix(plan, fmt, out, width=columns, progress=advance),
            inputs,
            overwrite=overwrite,
        )


def _against(
    plan: Plan,
    deployment: Path,
    against: tuple[str, ...],
    namespace: str | None,
    hosts: tuple[str, ...],
    still_to_open: bool,
    fmt: str,
) -> bytes:
    """The matrix of ``hosts`` marked with what the ruleset ``against`` permits already (its
    NetworkPolicies that name no namespace in ``namespace``)."""
    if not against or not hosts:
        raise UsageError("--against FILE needs --host HOST (the host the ruleset is for)")
    if fmt == "xlsx":
        raise UsageError("--against writes table, csv, md or json")
    for host in hosts:
        require_host(host, plan.hosts, deployment)
    # the ruleset readers only for --against: a plain matrix does not load them
    from portplan.audit.collect import HOST_READ, read_ruleset  # noqa: PLC0415
    from portplan.audit.ruleset import Coverage, coverage  # noqa: PLC0415
    from portplan.report.against import against_bytes  # noqa: PLC0415

    files = [ruleset_file(spec)[1] for spec in against]
    ruleset = read_ruleset(files, plan, hosts[0], namespace=namespace)
    found: dict[int, Coverage] = {}
    for host in hosts:
        if host != hosts[0] and ruleset.platform in HOST_READ:  # the policies of its own pods
            found.update(coverage(plan, host, read_ruleset(files, plan, host, namespace=namespace)))
        else:
            found.update(coverage(plan, host, ruleset))
    return against_bytes(plan, found, fmt, width=width(), still_to_open=still_to_open)
