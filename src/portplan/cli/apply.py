"""``portplan apply``: this host's ruleset, checked, applied, and rolled back unless confirmed."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
from pathlib import Path

import click
from click.core import ParameterSource

from portplan._errors import ApplyError, LockoutError, PortplanError, UsageError
from portplan.cli._exit import ExitCode
from portplan.cli._log import log
from portplan.cli._options import (
    InputPath,
    common_options,
    default_action_option,
    on_option,
    option,
    renamed_option,
)
from portplan.cli._plan import load_plan, require_host, require_managed
from portplan.cli.rules import target_option
from portplan.plan import Plan
from portplan.probe.local import local_addresses, own_addresses, single_address, source_hosts
from portplan.targets import DefaultAction, RuleOptions
from portplan.targets.apply import (
    KEPT,
    Confirmation,
    applier_for,
    discard_saved,
    lockout_problems,
    other_target_ruleset,
    restore_saved,
)

__all__ = ["apply_cmd"]


@click.command("apply")
@click.argument("deployment", type=InputPath(path_type=Path), required=False)
@on_option("The deployment host this machine is; its ruleset is applied here.", renamed="--host")
@target_option(default="nftables", show_default=True)
@option("--egress", is_flag=True, help="Also filter what the host sends.")
@default_action_option()
@option(
    "--confirm-timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    help="Seconds to confirm before the old ruleset comes back.",
)
@renamed_option(
    "--timeout", "--confirm-timeout", dest="timeout_renamed", type=click.IntRange(1, 3600)
)
@option(
    "--check",
    "check_only",
    is_flag=True,
    help="Only check the ruleset with the platform's checker; change nothing.",
)
@option(
    "--force",
    is_flag=True,
    help="Apply even if this machine holds none of the host's addresses, the plan gives no "
    "management access to this host, or would not accept again an SSH session open here whose "
    "owner cannot be told (SSH_CONNECTION unset). Never when it cuts the session "
    "SSH_CONNECTION names.",
)
@option(
    "--restore-saved",
    "restore_requested",
    is_flag=True,
    allow_from_autoenv=False,  # an action on this host's saved copy: typed, never inherited
    help="Load back the ruleset an apply saved and could not restore (kept under "
    "/run/portplan), as its rollback would have; without DEPLOYMENT and --on.",
)
@option(
    "--discard-saved",
    "discard_requested",
    is_flag=True,
    allow_from_autoenv=False,  # an action on this host's saved copy: typed, never inherited
    help="Remove the ruleset an apply saved and could not restore, once you have put the "
    "firewall right yourself; the firewall is left as it is. Without DEPLOYMENT and --on.",
)
@common_options
def apply_cmd(
    deployment: Path | None,
    on: str | None,
    target_name: str,
    egress: bool,
    default_action: str,
    confirm_timeout: int,
    timeout_renamed: int | None,
    check_only: bool,
    force: bool,
    restore_requested: bool,
    discard_requested: bool,
) -> None:
    """Apply this host's ruleset: check it, apply it, roll back unless confirmed in time.

    What the new ruleset replaces is saved first, and proven to load back. After applying,
    type 'yes' within --confirm-timeout seconds to keep the new one (what was typed at the
    terminal before is discarded); anything else, end of input or silence restores the
    saved ruleset (exit status 1), and so does a watchdog at the
    deadline if this process is killed or its session hangs up. Ctrl-C, SIGTERM and SIGHUP
    restore at once. A ruleset the checker refuses is never applied (exit status 3), nor one
    for a host whose addresses this machine does not hold, one that would leave no management
    access, or one that would cut your SSH session (exit status 2; --force overrides the first
    two, and, where SSH_CONNECTION is unset, other SSH sessions open here; never your own).
    If restoring fails (exit status 3), the saved copy is kept, and apply refuses to
    run until --restore-saved loads it back or --discard-saved removes it.
    """
    if restore_requested or discard_requested:
        _settle_saved(restore=restore_requested, discard=discard_requested)
        return
    if deployment is None:
        raise click.UsageError("Missing argument 'DEPLOYMENT'.")
    if on is None:
        raise click.UsageError("Missing option '--on'.")
    if _is_standard_input(deployment) and not check_only:
        # read for the deployment, standard input would answer 'no' at once: a load and a
        # rollback for nothing
        raise click.UsageError(
            "apply reads the 'yes' that keeps the new ruleset from standard input, so the "
            f"deployment cannot come from it ({deployment}): give its file, with standard "
            "input left to the answer (--check takes it there)"
        )
    confirm_timeout = timeout_renamed or confirm_timeout
    plan, _inputs = load_plan(deployment)
    require_host(on, plan.hosts, deployment)
    require_managed(plan, on, "--on", deployment)
    options = RuleOptions(egress=egress, default=DefaultAction(default_action))
    applier = applier_for(plan, on, target_name, options)
    applier.check()
    log.info("%s ruleset for %s passes the checker", target_name, on)
    # (--check too: a ruleset that passes is no good here while the other one filters)
    if leftover := other_target_ruleset(target_name):
        raise UsageError(leftover)
    if check_only:
        return
    elsewhere = _not_this_machine(plan, on)
    if elsewhere and not force:
        raise UsageError(f"{elsewhere}; nothing was changed. {_ELSEWHERE_ADVICE}")
    problems = lockout_problems(plan, on, egress=egress)
    session_cut = [p for p in problems if not p.forcible]
    if session_cut or (problems and not force):
        raise LockoutError([p.text for p in problems], forcible=not session_cut)
    # forced: said, never skipped in silence (nor inherited unnoticed)
    if elsewhere:
        log.warning("%s overrides the check that this is %s: %s", _forced_by(), on, elsewhere)
    for problem in problems:
        log.warning("%s overrides a lockout check: %s", _forced_by(), problem.text)
    if egress and os.environ.get("SSH_CONNECTION"):
        # said before the load: after it, on a host where nothing tracked connections yet,
        # the session's next packet out reads as a new connection the output chain drops
        # until the operator's next keystroke (docs/targets.md)
        click.echo(
            "portplan: with --egress this SSH session may show no prompt until you type: "
            "should none show, type 'yes' and Enter all the same.",
            err=True,
        )
    change = Confirmation(target_name, applier, confirm_timeout)
    try:
        change.begin()
    except PortplanError:
        raise
    except BaseException:  # a signal: before the load, or held while loading, delivered after
        if change.changing:
            log.warning("stopped while applying: the previous ruleset is restored.")
        else:
            log.warning("stopped before the new ruleset was loaded: nothing was changed.")
        raise
    kept = False
    try:
        _drop_typed_ahead()
        click.echo(
            f"portplan: applied. Type 'yes' within {confirm_timeout} s to keep it; "
            "otherwise the previous ruleset comes back.",
            err=True,
        )
        confirmed = _confirmed(confirm_timeout, change.watchdog_ended)
        if confirmed:
            kept = change.keep()
        else:
            change.roll_back()
    except PortplanError:
        raise
    except BaseException:  # Ctrl-C, SIGTERM, SIGHUP, SIGQUIT: the old ruleset comes back now
        if change.outcome == KEPT:  # (one held while the confirmation was recorded)
            log.warning("stopped after the new ruleset was confirmed: it is kept.")
        else:
            change.roll_back()
            log.warning("stopped: the previous ruleset is restored.")
        raise
    if kept:
        log.info("kept.")
        return
    if confirmed is None:  # the watchdog ended: it restored at the deadline, or was killed
        if change.watchdog_status != 0:
            raise ApplyError(
                f"the watchdog ended before the new ruleset was confirmed (exit status "
                f"{change.watchdog_status}: killed?); without it nothing would restore the "
                "previous ruleset should this process die, so it is restored now; apply again"
            )
        log.warning("not confirmed: the previous ruleset was restored at the deadline.")
    elif confirmed:
        log.warning("confirmed too late: the previous ruleset was restored at the deadline.")
    else:
        log.warning("not confirmed: the previous ruleset is restored.")
    raise click.exceptions.Exit(ExitCode.DIFFERENCE)


_ELSEWHERE_ADVICE = (
    "Run apply on that host, or name with --on the host this machine is; give --force only "
    "if this machine is that host and will hold its addresses later (a virtual address a "
    "cluster manager moves here)"
)


def _not_this_machine(plan: Plan, on: str) -> str | None:
    """Why ``on`` is not this machine: it has single addresses and this machine (in its
    network namespace) holds none of them, nor an address in one of its networks; ``None``
    when one is held, or the host has only networks or a DNS name, which say nothing of one
    machine.  A special-purpose address (``0.0.0.0``, a multicast one) is never held, as for
    listen and verify."""
    addresses = plan.host_addresses(on)
    singles = [a for a in (single_address(n) for n in addresses) if a]
    local = local_addresses()
    holding = source_hosts(plan, local)  # (an address of theirs, or in one of their networks)
    if not singles or on in holding or own_addresses(plan, on, local):
        return None
    hosts = [h for h in holding if h != on]
    held = f"; its addresses are those of {', '.join(hosts)} of the deployment" if hosts else ""
    declared = ", ".join(single_address(n) or str(n) for n in addresses)
    return (
        f"this machine holds none of {on}'s addresses ({declared}) in this network "
        f"namespace{held}: {on}'s ruleset, which accepts connections to its addresses only, is "
        "for another machine"
    )


def _forced_by() -> str:
    """What gave --force: the command line, or the environment (PORTPLAN_APPLY_FORCE)."""
    source = click.get_current_context().get_parameter_source("force")
    if source is ParameterSource.ENVIRONMENT:
        return "PORTPLAN_APPLY_FORCE, set in the environment,"
    return "--force"


def _settle_saved(*, restore: bool, discard: bool) -> None:
    """--restore-saved, --discard-saved: the saved copy a failed restore left on this host."""
    if restore and discard:
        raise click.UsageError("--restore-saved and --discard-saved exclude each other.")
    flag = "--restore-saved" if restore else "--discard-saved"
    # what was typed, not what the environment fills in (PORTPLAN_APPLY_ON names the host)
    ctx = click.get_current_context()
    typed = [
        "DEPLOYMENT" if param.name == "deployment" else param.opts[0]
        for param in ctx.command.params
        if param.name not in ("restore_requested", "discard_requested", "debug", "verbose", "quiet")
        and param.name is not None
        and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    ]
    if typed:
        raise click.UsageError(
            f"{flag} takes no DEPLOYMENT and no other apply option (given: {', '.join(typed)}): "
            "it acts on the ruleset saved on this host."
        )
    if restore:
        saved = restore_saved()
        log.info(
            "restored the %s ruleset saved in %s; apply may run again.", saved.target, saved.folder
        )
        return
    saved = discard_saved()
    log.warning(
        "removed the %s ruleset saved in %s (its restore had failed: %s); the firewall is left "
        "as it is, and apply may run again.",
        saved.target,
        saved.folder,
        saved.reason,
    )


def _is_standard_input(deployment: Path) -> bool:
    """Whether the deployment is read from standard input: ``-``, or the file standard input
    is (``/dev/stdin``, ``< deployment.yaml``)."""
    if str(deployment) == "-":
        return True
    try:
        given, answer = os.stat(deployment), os.fstat(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # (no such file: load_plan says so)
        return False
    return (given.st_dev, given.st_ino) == (answer.st_dev, answer.st_ino)


def _drop_typed_ahead() -> None:
    """Discard what waits unread at the terminal: typed before the new ruleset was in force,
    a 'yes' there would prove nothing about the session it leaves.  (Piped input is kept: a
    script answers in advance.)"""
    stream = sys.stdin
    try:
        if stream is None or stream.closed or not os.isatty(fd := stream.fileno()):
            return
        with contextlib.suppress(OSError):  # (not our controlling terminal: nobody stops)
            if os.tcgetpgrp(fd) != os.getpgrp():
                return  # in the background, flushing the terminal would stop us (SIGTTOU)
        termios.tcflush(fd, termios.TCIFLUSH)
    except (OSError, ValueError, termios.error):
        return


#: longer than any answer there is: a line this long without its end is no 'yes'
_LONGEST_ANSWER = 64


def _confirmed(timeout: int, watchdog_ended: int | None) -> bool | None:
    """Whether the operator types 'yes' on standard input within ``timeout`` seconds; ``None``
    when the watchdog ends first (``watchdog_ended`` is readable then).

    The deadline wins whatever the input does: it is read as it comes, not a line at a time,
    so a line that never ends (a pipe left open after ``ye``) is no 'yes' at the deadline.
    The end of input ends the answer (``printf yes`` says yes; nothing at all says no)."""
    stream = sys.stdin
    if stream is None or stream.closed:
        return False
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return False
    watched = [] if watchdog_ended is None else [watchdog_ended]
    deadline = time.monotonic() + timeout
    typed = b""
    while b"\n" not in typed and len(typed) <= _LONGEST_ANSWER:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ready, _, _ = select.select([fd, *watched], [], [], left)
            if watchdog_ended is not None and watchdog_ended in ready:
                return None
            if not ready:
                return False
            chunk = os.read(fd, 256)
        except (OSError, ValueError):
            return False
        if not chunk:  # the end of input
            break
        typed += chunk
    return typed.split(b"\n", 1)[0].decode(errors="replace").strip().lower() == "yes"
