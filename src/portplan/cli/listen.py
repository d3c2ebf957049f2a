"""``portplan listen``: temporary listeners on every port this host must accept."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from collections.abc import Sequence
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan.cli._exit import ExitCode, Terminated
from portplan.cli._log import log
from portplan.cli._options import InputPath, Seconds, common_options, on_option, option
from portplan.cli._plan import load_plan, require_host, require_managed
from portplan.plan import Plan
from portplan.probe.destinations import named_addresses
from portplan.probe.dns import DNS_TIMEOUT, resolve_names
from portplan.probe.listen import Binding, listen, listen_plan
from portplan.probe.local import is_own, own_addresses

__all__ = ["listen_cmd"]

#: ports that could not be opened for one reason named each; more are said in one line
_EACH_AT_MOST = 8


@click.command("listen")
@click.argument("deployment", type=InputPath(path_type=Path))
@on_option(
    "The deployment host this machine is; its inbound ports are opened here.",
    required=True,
    renamed="--host",
)
@option(
    "--duration",
    type=Seconds(1, 86400),
    default=600,
    show_default=True,
    help="Seconds to listen; Ctrl-C stops earlier.",
)
@common_options
def listen_cmd(deployment: Path, on: str, duration: float) -> None:
    """Open temporary listeners on every port this host must accept (TCP greet, UDP reply).

    Proves the network path before the product is installed: `portplan verify` from the
    sources recognises them. A UDP listener answers verify's datagram alone, never with more
    bytes than it got. Ports already in use are reported and left alone; exit status 1 when
    any port could not be opened (at once when none could), 130 when Ctrl-C stops it early
    (143 for SIGTERM).
    """
    plan, _inputs = load_plan(deployment)
    require_host(on, plan.hosts, deployment)
    require_managed(plan, on, "--on", deployment)
    mine = own_addresses(plan, on) or _named_own_addresses(plan, on)
    network = plan.hosts[on].is_network
    if not mine and not network:
        raise UsageError(f"this machine has none of the addresses of {on}; run listen on {on}")
    bindings = listen_plan(plan, on, mine).bindings
    if not bindings and network and any(r.destination == on for r in plan.rows_of(on)):
        # (a network's members' own loopback flows have listeners all the same)
        raise UsageError(
            f"{on} is a network of machines ({_networks(plan, on)}), not one machine: verify "
            "sends no probe into a network, whose machines it does not know one by one, so "
            "no listener there is ever reached; once the product runs, check a machine of "
            f"it with portplan audit --host {on} there"
        )
    if not bindings:
        raise UsageError(f"the plan has no flow into {on}")

    def ready(opened: list[Binding], failed: list[tuple[Binding, str]]) -> None:
        # said once every socket is bound, so whoever waits for it can start probing
        shared: dict[str, list[Binding]] = {}
        for binding, reason in failed:
            shared.setdefault(reason, []).append(binding)
        for binding, reason in failed:
            if len(shared[reason]) <= _EACH_AT_MOST:
                log.warning(
                    "not listening on %s/%d of %s (%s): %s",
                    binding.protocol.value,
                    binding.port,
                    binding.address,
                    ", ".join(binding.flows),
                    reason,
                )
        for reason, group in shared.items():  # thousands of ports over a limit: one line
            if len(group) > _EACH_AT_MOST:
                named = ", ".join(f"{b.protocol.value}/{b.port} of {b.address}" for b in group[:3])
                log.warning(
                    "not listening on %s (%s and %d more): %s",
                    _ports(group),
                    named,
                    len(group) - 3,
                    reason,
                )
        if not opened:  # stopped at once: never said to listen for the duration
            click.echo(
                f"portplan: none of {on}'s {_ports([b for b, _ in failed])} could be opened: "
                "nothing listens",
                err=True,
            )
            return
        click.echo(
            f"portplan: listening on {_ports(opened)} of {on} for {duration:g} s (Ctrl-C stops)",
            err=True,
        )

    opened, failed, stopped_by = listen(bindings, duration, ready=ready)
    log.info("stopped; %d listened, %d could not", len(opened), len(failed))
    if stopped_by == signal.SIGINT:  # ended early: the exit status every command gives
        raise KeyboardInterrupt
    if stopped_by is not None:
        raise Terminated(stopped_by)
    if failed:  # a path that cannot be proven: say so in the exit status too
        raise click.exceptions.Exit(ExitCode.DIFFERENCE)


def _networks(plan: Plan, on: str) -> str:
    """The networks of the host ``on``, for a message."""
    return ", ".join(str(n) for n in plan.hosts[on].addresses)


def _named_own_addresses(plan: Plan, on: str) -> list[str]:
    """For a host known by name only, the addresses its name resolves to here that are this
    machine's (where ``verify`` from the sources will reach it), never a loopback one (no
    source reaches it); a name that does not resolve, or to none of these, is said so."""
    host = plan.hosts[on]
    if not host.by_name_only or not host.dns_name:
        return []
    lookup = asyncio.run(resolve_names([host.dns_name], timeout=DNS_TIMEOUT))[host.dns_name]
    if not lookup.resolved:
        raise UsageError(
            f"{on} is known by its name only, and {host.dns_name} does not resolve here "
            f"({lookup.error}); run listen where it resolves, on {on}"
        )
    resolved = named_addresses(lookup)
    # a loopback address (/etc/hosts often maps this machine's own name to 127.0.1.1) is
    # this machine's, but no source reaches a listener there
    looped = [a for a in resolved if ipaddress.ip_address(a).is_loopback]
    mine = [address for address in resolved if address not in looped and is_own(address)]
    if not mine and looped:
        kind = "a loopback address" if len(looped) == 1 else "loopback addresses"
        others = [a for a in resolved if a not in looped]
        besides = f", and to {', '.join(others)}, none of them this machine's" if others else ""
        raise UsageError(
            f"{on} is known by its name only, and {host.dns_name} resolves here to "
            f"{', '.join(looped)}, {kind} that no source reaches{besides}; make the name "
            "resolve here to the address the sources reach (/etc/hosts may map this machine's "
            f"own name to 127.0.1.1), or declare {on}'s addresses in the deployment"
        )
    if not mine:
        raise UsageError(
            f"{on} is known by its name only, and {host.dns_name} resolves here to "
            f"{', '.join(resolved) or 'no address a machine can hold'}, none of them this "
            f"machine's; run listen on {on}"
        )
    return mine


def _ports(bindings: Sequence[Binding]) -> str:
    """How many ports ``bindings`` are, and on how many addresses where a port is bound on
    several (a socket per address): "1 port(s) on 2 addresses (2 sockets)"."""
    ports = len({(b.protocol, b.port) for b in bindings})
    if ports == len(bindings):
        return f"{ports} port(s)"
    addresses = len({b.address for b in bindings})
    return f"{ports} port(s) on {addresses} addresses ({len(bindings)} sockets)"
