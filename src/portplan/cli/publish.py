"""``portplan report``: a deployment as one self-contained HTML page, with the results of
``verify`` (and of every other kind of results document a report can overlay) laid on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from portplan._errors import InputError, UsageError
from portplan._text import counted
from portplan.cli._files import read_input, write_output
from portplan.cli._log import log
from portplan.cli._options import InputPath, common_options, option, output_option
from portplan.cli._plan import load_plan
from portplan.cli.diagram import layout_timeout_option
from portplan.load.reading import read_text
from portplan.publish import OVERLAY_READERS, Overlay, overlay_rows, read_overlay
from portplan.report.html import PAPER_SIZES, html_report

__all__ = ["report_cmd"]


def _overlay_options(function: Any) -> Any:
    """``--verify FILE`` (repeatable), and one such option for every other kind of results
    document a report can overlay, named after the kind."""
    for kind, reader in sorted(OVERLAY_READERS.items(), reverse=True):
        function = option(
            f"--{kind}",
            f"overlay_{kind}",
            multiple=True,
            type=InputPath(path_type=Path, dir_okay=False),
            metavar="RESULTS.json",
            help=f"Lay these results on the flows ({reader.made_by}; repeatable: one per "
            "machine it ran on; '-': standard input).",
        )(function)
    return function


@click.command("report")
@click.argument("deployment", type=InputPath(path_type=Path))
@_overlay_options
@option(
    "--paper",
    type=click.Choice(sorted(PAPER_SIZES)),
    default="a4",
    show_default=True,
    help="Page size when the report is printed.",
)
@layout_timeout_option
@output_option("Write the HTML to PATH ('-': standard output).")
@common_options
def report_cmd(
    deployment: Path,
    paper: str,
    layout_timeout: float,
    output: str | None,
    overwrite: bool,
    **overlays: Any,
) -> None:
    """Write DEPLOYMENT as one self-contained HTML page: summary, diagram, tables, overlays.

    The page holds a summary (products, vendor documents, hosts, flows, openings per
    firewall), diagrams by component, host and zone (select an arrow or a box to filter the
    tables to its rows), the vendor tables in the vendor's shape, the flow matrix (each row
    with its vendor row; search, sort, filter by component, host, zone, protocol, port,
    condition; an anchor per flow id),
    the vendor rows this deployment does not need and why, and each overlay's outcome per
    flow with its evidence. It needs no network when opened and prints on A4 or Letter.
    """
    plan, read = load_plan(deployment)
    loaded: list[Overlay] = []
    inputs = list(read)
    given: dict[tuple[int, int], Path] = {}
    for kind in sorted(OVERLAY_READERS):
        for path in overlays[f"overlay_{kind}"]:
            _once(path, given)
            name, text = read_input(path)
            if text is None:
                text, problems = read_text(path, expected="a results file of portplan (JSON)")
                if text is None:
                    raise InputError(problems)
            loaded.append(read_overlay(text, str(name), kind))
            inputs.append(path)
    found = overlay_rows(plan, loaded)
    for overlay, notice in found.notices:
        if overlay.plan_digest is None:
            log.info("%s", notice)
        else:
            log.warning("%s", notice)
    if found.unmatched:
        count = len(found.unmatched)
        log.warning(
            "%s %s no row of this plan (made from another deployment?); the report lists "
            "them apart",
            counted(count, "finding"),
            "names" if count == 1 else "name",
        )
    write_output(
        output,
        html_report(plan, loaded, paper=paper, layout_timeout=layout_timeout).encode(),
        inputs,
        overwrite=overwrite,
    )


def _once(path: Path, given: dict[tuple[int, int], Path]) -> None:
    """Refuse a results file given twice (by one name or two): its outcomes would be laid on
    the report twice, each row showing them as two runs that agree."""
    if str(path) == "-":
        return  # read once only, as read_input makes sure
    try:
        found = path.stat()
    except OSError:
        return  # the reader says what is wrong with it
    first = given.setdefault((found.st_dev, found.st_ino), path)
    if first is not path:
        same = "" if str(first) == str(path) else f" (the same file as {first})"
        raise UsageError(
            f"the results file {path} is given twice{same}: its outcomes would be laid on the "
            "report twice; give each results file once"
        )
