"""``portplan diff``: what changes between two plans, as packets to open and to close."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from portplan import pipeline
from portplan._errors import UsageError
from portplan.cli._exit import ExitCode
from portplan.cli._files import is_stdio, read_input, width, write_output
from portplan.cli._log import log
from portplan.cli._options import InputPath, common_options, format_option, option, output_option
from portplan.diff import diff_plans
from portplan.load.deployment import Bundle, load_deployment, swap_products
from portplan.load.revision import at_revision, is_revision
from portplan.plan import Plan
from portplan.report.diff import diff_csv, diff_json, diff_junit, diff_table, diff_xlsx
from portplan.targets.aws_delta import aws_delta
from portplan.targets.base import RuleOptions
from portplan.targets.hostview import rule_hosts

__all__ = ["diff_cmd"]


@contextlib.contextmanager
def _side(spec: str) -> Iterator[tuple[Path, str | None]]:
    """A side's deployment file (``git:REV:path`` checked out for the block) and its text."""
    if is_revision(spec):
        with at_revision(spec) as path:
            yield path, None
        return
    name, text = read_input(Path(spec))
    yield name, text


def _swaps(swaps: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--product OLD=NEW`` options as (OLD, NEW) pairs."""
    pairs = []
    given: dict[str, str] = {}
    for swap in swaps:
        old, sep, new = swap.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--product {swap!r}: write OLD_ID=NEW_ID or OLD_ID=FILE")
        if old in given:  # the later swap would replace the earlier one without a word
            raise UsageError(
                f"--product {old} is given twice, with two products ({given[old]!r}, "
                f"{swap!r}); give it once"
            )
        given[old] = swap
        pairs.append((old, new))
    return pairs


def _load(
    path: Path,
    text: str | None,
    swaps: list[tuple[str, str]] | None = None,
    renamed: dict[str, str] | None = None,
    *,
    name: str | None = None,
) -> tuple[Bundle, Plan]:
    """A side's deployment and its plan; with ``swaps`` made, if any (``renamed`` gets old id
    -> new id); ``name``: what its warnings name it by (``git:REV:path``, not its temporary
    copy), if not by ``path``."""
    if swaps:
        bundle, swapped = swap_products(path, text, swaps)
        if renamed is not None:
            renamed.update(swapped)
    else:
        bundle = load_deployment(path, text)
    plan = pipeline.plan_bundle(bundle)
    for warning in plan.warnings:
        log.warning("%s: %s", name or path, warning)
    return bundle, plan


def _warn_of_rulesets_left(old: Plan, new: Plan) -> None:
    """Name each host that gets a ruleset in ``old`` and none in ``new``, and each
    NetworkPolicy ``old`` writes that ``new`` does not: what was applied keeps filtering, and
    keeps its openings, until someone replaces or removes it; no change of the report does
    that (``kubectl apply -f`` never deletes a policy the file no longer holds)."""
    keeps = set(rule_hosts(new))
    policies = _policies(new)
    for host in rule_hosts(old):
        if host in keeps or old.hosts[host].kubernetes is not None:  # (pods: their policy)
            continue
        if host not in new.hosts:
            why = "is no longer in the deployment"
        elif new.unmanaged(host) is not None:
            why = "is no longer managed"
        elif new.rows_of(host):  # a network that only sends: the rows of its own are gone
            why = "is a network of machines that no row of the new plan ends on (it only sends)"
        else:
            why = "takes part in no row of the new plan"
        log.warning(
            "host %s %s, so the new plan writes no ruleset for it: a ruleset applied there "
            "from the old plan keeps filtering and keeps its openings until it is replaced or "
            "removed on that machine (docs/targets.md: 'A host that leaves the plan')",
            host,
            why,
        )
    for cluster, namespace, host in _policies(old):
        if (cluster, namespace, host) not in policies:
            log.warning(
                "the NetworkPolicy portplan-%s in namespace %s of cluster %s is not in the new "
                "plan's policies, and `kubectl apply -f` of them leaves it in force with its "
                "openings: delete it (kubectl delete networkpolicy portplan-%s -n %s)",
                host,
                namespace,
                cluster,
                host,
                namespace,
            )


def _policies(plan: Plan) -> dict[tuple[str, str, str], None]:
    """The NetworkPolicies ``rules -t kubernetes`` writes for ``plan``: (cluster, namespace,
    host), in plan order."""
    return {
        (k8s.cluster, k8s.namespace, name): None
        for name, host in plan.hosts.items()
        if (k8s := host.kubernetes) is not None and host.managed
    }


@click.command("diff")
@click.argument("old", type=InputPath(path_type=str))
@click.argument("new", type=InputPath(path_type=str), required=False)
@option(
    "--product",
    "swaps",
    multiple=True,
    metavar="OLD=NEW",
    help="Swap a product of the new side: a catalog id or a product file for product OLD "
    "(repeatable). Without NEW, the new side is OLD with the swap.",
)
@option(
    "--delta",
    type=click.Choice(["aws"]),
    help="Instead of the report: the commands that take what the target generated for OLD to "
    "what it generates for NEW (aws: AWS CLI authorize/revoke of security-group rules), with "
    "the report's exit status.",
)
@option("--egress", is_flag=True, help="With --delta only: the rules are generated with --egress.")
@format_option(
    "table",
    "json",
    "csv",
    "xlsx",
    "junit",
    help="Output format of the report (not of --delta); csv and xlsx are the delta.",
)
@output_option("Write to PATH ('-': standard output; required for xlsx on a terminal).")
@common_options
def diff_cmd(
    old: str,
    new: str | None,
    swaps: tuple[str, ...],
    delta: str | None,
    egress: bool,
    fmt: str,
    output: str | None,
    overwrite: bool,
) -> None:
    """Compare two plans: what to open, what to close; exit 1 when they differ.

    OLD and NEW are deployment files, '-' (standard input, one side), or a file at a git
    revision, git:REV:PATH (with its product files as they were). Changes are
    computed on packet sets: open, close, widen, narrow, readdress, moved (to another zone
    boundary), listen (the same packets, the destination listening on another port behind
    them), pods (the same packets, an end standing for other Kubernetes pods), rehost (the
    same packets, held by the own rules of a host added or removed) or peer (the same packets,
    a host's own rule per peer range changed: a security group's), each with its causes
    (vendor row, feature, parameter, dynamic range, component placement, host address, name,
    zone, pods or managed).
    """
    if new is None and not swaps:
        raise UsageError("give NEW, or --product OLD=NEW to swap a product in OLD")
    if old == "-" and new == "-":
        raise UsageError(
            "only one side can come from standard input: give the other as a file, or as "
            "git:REV:PATH"
        )
    if egress and delta is None:
        raise UsageError(
            "--egress goes with --delta (the target's rules generated with --egress); the "
            "report compares the plans' flows, which --egress does not change: drop --egress, "
            "or add --delta aws"
        )
    if delta is not None and fmt != "table":
        raise UsageError(
            f"--format {fmt} does not apply to --delta {delta}, which writes a shell script; "
            "drop one of them"
        )
    if fmt == "xlsx" and is_stdio(output) and sys.stdout.isatty():
        raise UsageError("xlsx is binary; give -o FILE.xlsx or redirect standard output")
    pairs = _swaps(swaps)
    # product files swapped in are read too, whichever side (or revision) they go into
    inputs = [Path(new_id) for _old, new_id in pairs if Path(new_id).is_file()]
    renamed: dict[str, str] = {}
    with _side(old) as (old_path, old_text):
        shown = old if is_revision(old) else None
        old_bundle, old_plan = _load(old_path, old_text, name=shown)
        if not is_revision(old):  # (standard input is never written over anyway)
            inputs.extend(old_bundle.files)
        if new is None:
            new_bundle, new_plan = _load(old_path, old_text, pairs, renamed, name=shown)
        else:
            with _side(new) as (new_path, new_text):
                shown = new if is_revision(new) else None
                new_bundle, new_plan = _load(new_path, new_text, pairs, renamed, name=shown)
                if not is_revision(new):
                    inputs.extend(new_bundle.files)
    names = (old, new if new is not None else f"{old} with {', '.join(swaps)}")
    _warn_of_rulesets_left(old_plan, new_plan)
    found = diff_plans(
        old_plan, new_plan, old_side=old_bundle, new_side=new_bundle, names=names, renamed=renamed
    )
    data: bytes
    if delta is not None:  # (the exit status is still the plans' difference)
        data = aws_delta(old_plan, new_plan, RuleOptions(egress=egress), names=names).encode()
    elif fmt == "json":
        data = diff_json(found).encode()
    elif fmt == "csv":
        data = diff_csv(found).encode()
    elif fmt == "xlsx":
        data = diff_xlsx(found)
    elif fmt == "junit":
        data = diff_junit(found).encode()
    else:
        data = diff_table(found, width=width()).encode()
    write_output(output, data, inputs, overwrite=overwrite)
    if not found.identical:
        raise click.exceptions.Exit(ExitCode.DIFFERENCE)
