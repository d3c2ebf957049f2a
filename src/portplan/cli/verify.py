"""``portplan verify``: prove from this machine that every planned flow starting here works."""

from __future__ import annotations

import os
from pathlib import Path

import click

from portplan._errors import Diagnostic, InputError, UsageError
from portplan._text import counted
from portplan.cli._exit import ExitCode
from portplan.cli._files import width, write_output
from portplan.cli._log import log
from portplan.cli._options import (
    InputPath,
    Seconds,
    common_options,
    format_option,
    on_option,
    option,
    output_option,
)
from portplan.cli._plan import load_plan, require_host
from portplan.cli._progress import ProgressBar, wants_progress
from portplan.load.reading import read_bytes
from portplan.plan import plan_digest
from portplan.probe.outcomes import Outcome
from portplan.probe.verification import Verification, verify
from portplan.report.verify import verify_json, verify_junit, verify_table

__all__ = ["verify_cmd"]

#: source hosts a warning names before it counts the rest
_NAMED = 5


@click.command("verify")
@click.argument("deployment", type=InputPath(path_type=Path))
@on_option(
    "The deployment host this machine is; its flows are verified (default: the hosts this "
    "machine's addresses belong to).",
    renamed="--from",
)
@option(
    "--from-address",
    "from_addresses",
    multiple=True,
    metavar="ADDRESS",
    help="Send from ADDRESS, an address of the --on host (one per family, repeatable); for a "
    "cluster host, it says which member this machine is, whose peers it probes. Default: "
    "this machine's own addresses of the host.",
)
@option(
    "--flow",
    "flows",
    multiple=True,
    metavar="ID",
    help="Only this flow, by flow id or row key (repeatable). With --expect-blocked, only "
    "what must stay blocked around it: the ports beside its ranges, its ports from this host "
    "where another source is planned, and the forbidden: connections towards its "
    "destinations; forbidden/ID names one forbidden: connection alone.",
)
@option(
    "--timeout",
    type=Seconds(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds a probe waits for an answer. Once a destination has answered, the first "
    "look adapts to its round-trip time (at least 0.1 s); a silent TCP port then waits for "
    "the kernel's retransmission of its SYN (1 s), a round of second looks at least 1.2 s.",
)
@option(
    "--concurrency",
    type=click.IntRange(1, 8192),
    default=2048,
    show_default=True,
    help="Probes at once (kept below the open-files limit). Each destination address starts "
    "with 5 at once; its window grows as its probes complete and halves when a probe turns "
    "out to have been lost.",
)
@option(
    "--second-look/--no-second-look",
    default=True,
    show_default=True,
    help="Look again at silent ports before calling them filtered (a lost SYN, a "
    "rate-limited ICMP error or the source's own firewall can look like silence): through "
    "the kernel's retransmission of a TCP SYN, and in rounds a second apart. "
    "--no-second-look reports silence at once, as nmap --max-retries 0 does: faster, "
    "but such ports then read as filtered (not with --expect-blocked).",
)
@option(
    "--deadline",
    type=Seconds(1, 86400),
    metavar="SECONDS",
    help="End the whole run after SECONDS; ports not settled by then are reported as "
    "unfinished (and fail). Default: a minute plus 1.5 s per port of the busiest "
    "destination, at most an hour.",
)
@option("--no-identify", is_flag=True, help="Only probe; do not identify services.")
@option(
    "--expect-blocked",
    is_flag=True,
    help="Also probe what the plan does not hold and must stay blocked: the ports beside each "
    "planned range, other sources' planned ports, and the deployment's forbidden: list. Each "
    "passes only when blocked: filtered, rejected, refused, closed or no-route (a router on "
    "the way without a route), also by the source's own firewall; UDP silence, "
    "open|filtered, proves nothing; a probe this machine has no route for, or whose address "
    "no host answers for on its own link, is local-error: no firewall was tested.",
)
@option(
    "--radius-secret-file",
    type=InputPath(path_type=Path, dir_okay=False),
    help="File holding the RADIUS shared secret (or set PORTPLAN_RADIUS_SECRET).",
)
@option(
    "--snmp-community-file",
    type=InputPath(path_type=Path, dir_okay=False),
    help="File holding an SNMP community (or set PORTPLAN_SNMP_COMMUNITY): snmp ports are then "
    "also asked an SNMPv2c GetRequest, the community in clear text as the product's own poll "
    "sends it. Most agents drop a wrong community silently (the port stays open|filtered), "
    "and many then send their managers an authenticationFailure trap: an alarm.",
)
@option(
    "--inventory",
    multiple=True,
    type=InputPath(path_type=Path),
    help="Verify from every source host at once, through Ansible: each deployment host is the "
    "inventory host of its name, or the one whose variable portplan_host names it "
    "(needs the portplan.portplan collection and pip install 'portplan[ansible]'). Give it "
    "again for more inventories, merged as ansible-playbook -i A -i B merges them.",
)
@option(
    "--limit",
    metavar="PATTERN",
    help="With --inventory: only the hosts this Ansible pattern selects; the flows of the "
    "sources it leaves out are listed as not probed.",
)
@option(
    "--forks",
    type=click.IntRange(1, 500),
    help="With --inventory: sources Ansible works on at once (default: 10, or fewer sources).",
)
@option(
    "--listen",
    is_flag=True,
    help="With --inventory: open temporary listeners on the destinations first (stopped when "
    "the sources are done).",
)
@format_option("table", "json", "junit", help="Report format.")
@output_option("Write the report to PATH ('-': standard output).")
@common_options
def verify_cmd(
    deployment: Path,
    on: str | None,
    from_addresses: tuple[str, ...],
    flows: tuple[str, ...],
    timeout: float,
    concurrency: int,
    second_look: bool,
    deadline: float | None,
    no_identify: bool,
    expect_blocked: bool,
    radius_secret_file: Path | None,
    snmp_community_file: Path | None,
    inventory: tuple[Path, ...],
    limit: str | None,
    forks: int | None,
    listen: bool,
    fmt: str,
    output: str | None,
    overwrite: bool,
) -> None:
    """Probe every planned flow that starts on this machine; exit 1 if any fails.

    Outcomes: open, refused, filtered, rejected, no-route, local-error; UDP: open, closed,
    open|filtered; ICMP (an echo request, ping): open (the matching echo reply), rejected,
    filtered, no-route, local-error; dns-error where a host's dns_name does not resolve, or
    resolves to an address the deployment does not declare (never probed); unfinished where
    --deadline came first. Names are resolved first, 32 at once, each within --timeout (at
    least 2 s). Only addresses the plan holds are probed; a host known by name only is
    probed at what its name resolves to.

    Not probed, with the reason: ICMP messages other than echo requests, rows from anywhere
    (any client) or from hosts with managed: false, networks, and a cluster's own member. A
    run that probes nothing verifies nothing: exit 1.

    Ctrl-C stops probing and still writes the report of what was probed until then, the
    probes not settled unfinished (JSON: "interrupted": true; JUnit: the suite property
    interrupted, each unsettled probe an error), and exits 130; a second
    Ctrl-C stops at once, without a report.

    With --inventory, every source host of an Ansible inventory probes its own flows, all at
    once, and the report merges them; a source Ansible cannot reach is source-unreachable,
    one where probing fails not-run, with Ansible's reason. With --limit, the flows of the
    sources it leaves out are listed as not probed. Ctrl-C reports the sources that had
    answered, the others' probes unfinished.
    """
    plan, inputs = load_plan(deployment)
    if on is not None:
        require_host(on, plan.hosts, deployment)
    secrets = {}
    for name, path, variable in (
        ("radius", radius_secret_file, "PORTPLAN_RADIUS_SECRET"),
        ("snmp", snmp_community_file, "PORTPLAN_SNMP_COMMUNITY"),
    ):
        value = _read_secret(path, variable)
        if value:
            secrets[name] = value
    community = secrets.get("snmp", b"")
    if len(community) > MAX_COMMUNITY:  # every snmp row would fail to send (EMSGSIZE)
        raise InputError(
            [
                Diagnostic(
                    file=snmp_community_file or Path("PORTPLAN_SNMP_COMMUNITY"),
                    line=None,
                    column=None,
                    message=f"holds a community of {len(community):,} bytes: an SNMP message "
                    f"that carries it does not fit in one UDP datagram ({MAX_COMMUNITY:,} "
                    "bytes at most here)",
                    hint="give the community the agents are configured with",
                )
            ]
        )
    show_progress = wants_progress() and fmt == "table" and output is None
    with ProgressBar(show_progress, "probing") as advance:
        if inventory:
            if expect_blocked:
                raise UsageError(
                    "--expect-blocked probes from this machine: run it with --on, not --inventory"
                )
            if on is not None or from_addresses:
                raise UsageError(
                    "--on and --from-address go without --inventory: they say which "
                    "host this machine is, --inventory verifies from every host"
                )
            # Ansible's fan-out (and the certificate reader it needs) only for --inventory
            from portplan.fanout import verify_inventory  # noqa: PLC0415 - 75 ms of start-up

            fanned = verify_inventory(
                plan,
                inventory,
                limit=limit,
                flows=flows,
                listeners=listen,
                forks=forks,
                timeout=timeout,
                concurrency=concurrency,
                second_look=second_look,
                identify_services=not no_identify,
                secrets=secrets,
                deadline=deadline,
                progress=advance,
            )
            for problem in fanned.listener_problems:
                log.warning("%s", problem)
            left_out = fanned.fanout.left_out
            if left_out:
                named = ", ".join(left_out[:_NAMED])
                more = len(left_out) - _NAMED
                log.warning(
                    "--limit %s left out %s (%s): their flows are listed as not probed, "
                    "not verified",
                    limit,
                    counted(len(left_out), "source host"),
                    named + (f" and {more} more" if more > 0 else ""),
                )
            log.info(
                "%s in %.1f s, of which %.2f s probing on the slowest",
                counted(len(fanned.fanout.sources), "source"),
                fanned.wall,
                fanned.probing,
            )
            found: Verification = fanned.verification
        else:
            if limit is not None or forks is not None or listen:
                raise UsageError("--limit, --forks and --listen go with --inventory")
            found = verify(
                plan,
                sources=None if on is None else (on,),
                flows=flows,
                timeout=timeout,
                concurrency=concurrency,
                second_look=second_look,
                identify_services=not no_identify,
                secrets=secrets,
                progress=advance,
                deadline=deadline,
                expect_blocked=expect_blocked,
                from_addresses=from_addresses,
            )
    if fmt == "json":
        text = verify_json(
            found.checks,
            found.skipped,
            deployment=plan.deployment,
            plan_digest=plan_digest(plan),
            interrupted=found.interrupted,
        )
    elif fmt == "junit":
        text = verify_junit(found.checks, found.skipped, interrupted=found.interrupted)
    else:
        text = verify_table(found.checks, found.skipped, width=width())
    write_output(output, text.encode(), inputs, overwrite=overwrite)
    if found.interrupted:
        unsettled = sum(c.outcome is Outcome.UNFINISHED for c in found.checks)
        log.warning(
            "interrupted: the report holds what was probed until Ctrl-C; %s not settled "
            "(unfinished)",
            counted(unsettled, "probe"),
        )
        raise click.exceptions.Exit(ExitCode.INTERRUPTED)
    if not found.checks:
        log.warning(
            "nothing was probed: every planned flow from here is listed as not probed, with "
            "why; nothing is verified"
        )
    if not found.passed:
        raise click.exceptions.Exit(ExitCode.DIFFERENCE)


#: the longest SNMP community verify sends: the GetRequest around it must fit in one UDP
#: datagram (65,507 bytes over IPv4), with room for its header and the two variable names
MAX_COMMUNITY = 65_000


def _read_secret(path: Path | None, variable: str) -> bytes | None:
    """The secret in ``path`` (read as every input is: a regular file of bounded size), or
    in the environment ``variable``; a file that holds none is an error, not a silent run
    without the secret."""
    if path is not None:
        data, problems = read_bytes(path, expected="a file holding the secret", stdin=False)
        if data is None:
            raise InputError(problems)
        if not data.strip():
            raise InputError(
                [
                    Diagnostic(
                        file=path,
                        line=None,
                        column=None,
                        message="is empty: it holds no secret",
                        hint=f"write the secret in it, or set {variable} instead",
                    )
                ]
            )
        return data.strip()
    # as the octets the environment holds: a secret need not be UTF-8 (an SNMP community is
    # an OCTET STRING), and encoding it back would fail, naming its odd byte and its place
    value = os.environ.get(variable)
    return os.fsencode(value) if value else None
