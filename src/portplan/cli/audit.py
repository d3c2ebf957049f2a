"""``portplan audit``: a host's firewall ruleset (and listening sockets) against the plan."""

from __future__ import annotations

import os
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan._text import escaped
from portplan.audit import AuditResult, audit_ruleset
from portplan.audit.collect import (
    BOUNDARY_KINDS,
    KIND_HOLDS,
    RULESET_KINDS,
    RulesetFile,
    live_ruleset,
    read_ruleset,
    ruleset_kind,
)
from portplan.audit.listening import audit_listening
from portplan.audit.sockets import SOCKET_KINDS, Socket, live_sockets, read_sockets
from portplan.cli._exit import ExitCode
from portplan.cli._files import is_stdio, width, write_files, write_output
from portplan.cli._log import log
from portplan.cli._options import (
    InputPath,
    common_options,
    format_option,
    namespace_option,
    option,
    output_option,
)
from portplan.cli._plan import load_plan, require_host, ruleset_file
from portplan.plan import Plan
from portplan.probe.local import local_addresses
from portplan.report.audit import annotated_copy, audit_csv, audit_json, audit_junit, audit_table

__all__ = ["audit_cmd"]


def _require_this_machine(plan: Plan, host: str) -> None:
    """``--live`` reads this machine: it must be ``host``."""
    local = local_addresses()
    if not any(a in n for n in plan.host_addresses(host) for a in local if a.version == n.version):
        raise UsageError(
            f"--live reads this machine, but none of its addresses belongs to host {host!r}; "
            "run it on that host, or collect the files there and give them with --ruleset"
        )


def _refuse_other_kinds(files: list[RulesetFile], host: str | None) -> None:
    """A zone boundary's access lists for ``--boundary`` only (``host`` None), a host's own
    ruleset for ``--host`` only: either read as the other would be judged from the wrong
    traffic."""
    for file in files:
        kind = file.kind or ruleset_kind(file.text, file.name)
        holds = KIND_HOLDS[kind]
        if host is None and kind not in BOUNDARY_KINDS:
            raise UsageError(
                f"{file.name} holds {holds}, a host's own firewall: portplan reads it for what "
                "reaches that host, never for what it forwards between zones, so it cannot "
                "judge a zone boundary. --boundary reads a zone firewall's Cisco IOS or ASA "
                "access lists (--ruleset cisco:FILE); audit this ruleset with --host HOST, the "
                "host it was collected on"
            )
        if host is not None and kind in BOUNDARY_KINDS:
            raise UsageError(
                f"{file.name} holds {holds}, a zone firewall's filter: it sees only what crosses "
                f"a zone boundary, not everything that reaches {host}; audit it with --boundary "
                "SRC-ZONE:DST-ZONE instead of --host"
            )


@click.command("audit")
@click.argument("deployment", type=InputPath(path_type=Path))
@option(
    "--host",
    "host",
    metavar="HOST",
    help="The deployment host the ruleset (or sockets) belong to.",
)
@option(
    "--boundary",
    metavar="SRC-ZONE:DST-ZONE",
    help="Instead of --host: the zone boundary a network firewall's access lists filter "
    "(--ruleset cisco:FILE, and no other kind: a host's ruleset is read for what reaches "
    "that host, never for what it forwards); the plan's rows that cross it are compared.",
)
@option(
    "--ruleset",
    "rulesets",
    multiple=True,
    metavar="[KIND:]FILE",
    help="A ruleset collected on HOST (repeatable: iptables-save, ip6tables-save and ipset "
    "save together): nft -j list ruleset, nft list ruleset, iptables-save, ip6tables-save, "
    "ipset save, NetworkPolicy YAML, aws ec2 describe-security-groups JSON, the Windows "
    "firewall JSON of docs/audit.md, or Cisco IOS/ASA access lists (with --boundary only, "
    "and only they with it). KIND (" + ", ".join(RULESET_KINDS) + ") names the "
    "format when its content does not tell.",
)
@namespace_option("--ruleset")
@option(
    "--sockets",
    "sockets_file",
    metavar="[KIND:]FILE",
    help="The listening sockets collected on HOST: ss -tulpnH, netstat -ano (Windows), "
    "netstat -tulpnW, or the Windows JSON of docs/audit.md. KIND ("
    + ", ".join(SOCKET_KINDS)
    + ") names the format when its content does not tell.",
)
@option(
    "--bindv6only",
    type=click.Choice(["0", "1"]),
    default="0",
    show_default=True,
    help="HOST's net.ipv6.bindv6only, for netstat output and ss before iproute2 4.13, which "
    "do not say whether a [::] socket takes IPv4 too (0: it does).",
)
@option(
    "--live",
    is_flag=True,
    help="Read this machine (which must be HOST): its running ruleset (nft -j list ruleset, "
    "or iptables-save where rules need it; needs root) and its listening sockets, each unless "
    "--ruleset or --sockets gives it.",
)
@option(
    "--egress",
    is_flag=True,
    help="The ruleset also filters what HOST sends (as rules --egress writes): audit that too.",
)
@option(
    "--annotate",
    type=click.Path(),  # text, not a Path: a trailing '/' (a folder is meant) must survive
    metavar="PATH",
    help="Also write a copy of the ruleset with a comment above each rule naming the flows "
    "it serves, or 'not in plan', 'blocks', 'no effect here', 'dormant table: sees no "
    "packet', 'forwarded traffic only: not the host's own', 'no base chain leads here: sees "
    "no packet' (a directory when there are several files).",
)
@format_option("table", "json", "csv", "junit", help="Report format.")
@output_option("Write the report to PATH ('-': standard output).")
@common_options
def audit_cmd(
    deployment: Path,
    host: str | None,
    boundary: str | None,
    rulesets: tuple[str, ...],
    namespace: str | None,
    sockets_file: str | None,
    bindv6only: str,
    live: bool,
    egress: bool,
    annotate: str | None,
    fmt: str,
    output: str | None,
    overwrite: bool,
) -> None:
    """Audit HOST against the plan: its firewall and its sockets; exit 1 on any finding.

    Ruleset findings: missing (a planned flow not permitted, naming the rule or policy that stops
    it), partial (permitted in part), extra (permitted beyond the plan: the rule and an example
    packet), shadowed (a rule earlier rules of the other verdict always decide), unreadable (a
    rule whose conditions cannot be read exactly: findings are then bounds). Rulesets are
    compared as exact packet sets, never as text. Socket findings: planned-not-listening,
    loopback-only, other-address (a planned port bound elsewhere), listening-not-planned.
    """
    if annotate == "":  # `--annotate "$DIR"` with DIR unset: not the current folder
        raise UsageError("--annotate is empty; give a file name, or a folder (ending in '/')")
    if annotate is not None and output is not None and _one_file(annotate, output):
        # refused before the copy is written: the report would be refused after it, or
        # written over it
        raise UsageError(f"--annotate and -o name one file, {escaped(annotate)}: give each its own")
    if namespace is not None and (boundary is not None or not rulesets):
        raise UsageError(
            "--namespace says where the NetworkPolicies of --ruleset kubernetes:FILE are when "
            "they name no namespace: it goes with such a file and --host"
        )
    plan, read = load_plan(deployment)
    if boundary is not None:
        _audit_boundary(plan, deployment, boundary, host, rulesets, fmt, output, overwrite)
        return
    if host is None:
        raise UsageError("say which host: --host HOST (or --boundary SRC-ZONE:DST-ZONE)")
    require_host(host, plan.hosts, deployment)
    if not rulesets and not sockets_file and not live:
        raise UsageError(
            "say what to audit: --ruleset FILE, --sockets FILE (collected on HOST), or --live"
        )
    if live and rulesets and sockets_file:
        raise UsageError("--live reads what --ruleset and --sockets do not give: drop one")
    if live:
        _require_this_machine(plan, host)
    inputs = list(read)
    # the sockets are read first: a file it cannot read writes no annotated copy either
    sockets = _sockets(sockets_file, live, bindv6only == "1", inputs)
    results: list[AuditResult] = []
    if rulesets or live:
        texts: dict[str, str] = {}
        if rulesets:
            files = []
            for spec in rulesets:
                path, file = ruleset_file(spec)
                inputs.append(path)
                texts[file.name] = file.text
                files.append(file)
            _refuse_other_kinds(files, host)
            ruleset = read_ruleset(files, plan, host, namespace=namespace)
        else:
            ruleset = live_ruleset()
        result = audit_ruleset(plan, host, ruleset, egress=egress, annotate=annotate is not None)
        results.append(result)
        if annotate is not None:
            copies = annotated_copy(result, texts)
            names = {name: Path(name).name for name in copies}
            if len(set(names.values())) < len(names):
                raise UsageError("two ruleset files have one name: --annotate cannot write both")
            write_files(
                f"{annotate.rstrip(os.sep)}{os.sep}" if len(copies) > 1 else annotate,
                {names[n]: t for n, t in copies.items()},
                inputs,
                overwrite=overwrite,
            )
    if sockets is not None:
        found, source = sockets
        results.append(audit_listening(plan, host, found, source=source))
    _report(results, fmt, output, inputs, overwrite)


def _sockets(
    sockets_file: str | None, live: bool, bindv6only: bool, inputs: list[Path]
) -> tuple[list[Socket], str] | None:
    """The listening sockets to audit and where they come from (``--sockets FILE``, added to
    ``inputs``, else this machine's with ``--live``); ``None`` when neither says so."""
    if sockets_file:
        path, file = ruleset_file(
            sockets_file, SOCKET_KINDS, "the listening sockets collected on the host"
        )
        inputs.append(path)
        return read_sockets(file.text, file.name, file.kind, bindv6only=bindv6only), file.name
    if live:
        return live_sockets(), "this machine (live)"
    return None


def _one_file(annotate: str, output: str) -> bool:
    """Whether ``--annotate`` and ``-o`` are one file (spelt alike, or linked)."""
    if is_stdio(output):
        return False
    if os.path.abspath(annotate) == os.path.abspath(output):
        return True
    try:
        return os.path.samefile(annotate, output)
    except OSError:  # one of them is not there yet
        return False


def _report(
    results: list[AuditResult],
    fmt: str,
    output: str | None,
    inputs: list[Path],
    overwrite: bool,
) -> None:
    """Write the results in ``fmt``; exit 1 when any audit has a finding."""
    for result in results:
        for note in result.notes:
            log.warning("%s", note)
    if fmt == "json":
        text = audit_json(results)
    elif fmt == "csv":
        text = audit_csv(results)
    elif fmt == "junit":
        text = audit_junit(results)
    else:
        text = audit_table(results, width=width())
    write_output(output, text.encode(), inputs, overwrite=overwrite)
    if not all(r.passed for r in results):
        raise click.exceptions.Exit(ExitCode.DIFFERENCE)


def _audit_boundary(
    plan: Plan,
    deployment: Path,
    boundary: str,
    host: str | None,
    rulesets: tuple[str, ...],
    fmt: str,
    output: str | None,
    overwrite: bool,
) -> None:
    """The access lists of a zone boundary against the rows that cross it."""
    source, sep, destination = boundary.partition(":")
    zones = {h.zone for h in plan.hosts.values() if h.zone}
    if not sep or source not in zones or destination not in zones:
        raise UsageError(
            f"--boundary {boundary!r}: write SRC-ZONE:DST-ZONE with zones of the deployment "
            f"({', '.join(sorted(zones)) or 'it declares none'})"
        )
    if host is not None or not rulesets:
        raise UsageError("--boundary takes the access lists with --ruleset, and no --host")
    inputs = [deployment]
    files = []
    for spec in rulesets:
        path, file = ruleset_file(spec)
        inputs.append(path)
        files.append(file)
    _refuse_other_kinds(files, None)
    ruleset = read_ruleset(files, plan)
    name = f"{source} -> {destination}"
    result = audit_ruleset(plan, name, ruleset, boundary=(source, destination))
    _report([result], fmt, output, inputs, overwrite)
