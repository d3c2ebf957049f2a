"""``portplan targets`` and ``portplan rules``: the firewall platforms, and a deployment's rules
for one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from portplan._errors import UsageError
from portplan.cli._files import width, write_files
from portplan.cli._log import log
from portplan.cli._options import (
    InputPath,
    common_options,
    default_action_option,
    format_option,
    hosts_option,
    option,
    output_option,
)
from portplan.cli._plan import load_plan, require_host, require_managed
from portplan.report.listing import targets_listing
from portplan.targets import REGISTRY, DefaultAction, RuleOptions, Scope, get_target
from portplan.targets.hostview import skipped_hosts

__all__ = ["rules_cmd", "settings_of", "target_option", "targets_cmd"]

F = TypeVar("F", bound=Callable[..., Any])


@click.command("targets")
@format_option("table", "json")
@common_options
def targets_cmd(fmt: str) -> None:
    """List the firewall targets and what each can express."""
    plugins = REGISTRY.plugins()
    found = [(get_target(name), plugins[name].origin) for name in sorted(plugins)]
    click.echo(targets_listing(found, fmt, width=width()), nl=False)


def target_option(**kwargs: Any) -> Callable[[F], F]:
    """``-t/--target TARGET``: a firewall platform of ``portplan targets``."""
    return option(
        "--target",
        "-t",
        "target_name",
        metavar="TARGET",
        help="Firewall platform (see `portplan targets`).",
        **kwargs,
    )


def settings_of(settings: tuple[str, ...]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a mapping."""
    extra: dict[str, str] = {}
    given: dict[str, str] = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {setting!r}: write KEY=VALUE")
        key, value = key.strip(), value.strip()
        if key in given and extra[key] != value:  # the later one would win without a word
            raise UsageError(
                f"--set {key} is given twice, with two values ({given[key]!r}, {setting!r}); "
                "give it once"
            )
        given[key] = setting
        extra[key] = value
    return extra


@click.command("rules")
@click.argument("deployment", type=InputPath(path_type=Path))
@target_option(required=True)
@hosts_option("Render this host only (repeatable); host-scoped targets.")
@option("--all-hosts", is_flag=True, help="Render every host that takes part in the plan.")
@option(
    "--egress",
    is_flag=True,
    help="Also filter what each host sends (default: only what it accepts).",
)
@default_action_option()
@option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Target-specific setting (see docs/targets.md), e.g. loopback=planned.",
)
@output_option(
    "Write to PATH (one file) or into the directory PATH (several); '-': standard output."
)
@common_options
def rules_cmd(
    deployment: Path,
    target_name: str,
    hosts: tuple[str, ...],
    all_hosts: bool,
    egress: bool,
    default_action: str,
    settings: tuple[str, ...],
    output: str | None,
    overwrite: bool,
) -> None:
    """Generate firewall rules for DEPLOYMENT: exactly the planned flows, nothing broader."""
    target = get_target(target_name)
    extra = settings_of(settings)
    if hosts and all_hosts:  # one of them would be dropped without a word
        raise UsageError(
            "--host and --all-hosts together: give --host HOST (repeatable) for some hosts, or "
            "--all-hosts for every one"
        )
    if target.scope is Scope.HOST and not hosts and not all_hosts:
        raise UsageError(
            f"target {target.name} writes one ruleset per host: give --host HOST or --all-hosts"
        )
    if target.scope is Scope.DEPLOYMENT and (hosts or all_hosts):
        raise UsageError(
            f"target {target.name} writes files for the whole deployment, not a ruleset per "
            f"host: {'--host' if hosts else '--all-hosts'} does not apply; leave it out"
        )
    plan, inputs = load_plan(deployment)
    for host in hosts:
        require_host(host, plan.hosts, deployment)
        require_managed(plan, host, "--host", deployment)
    options = RuleOptions(
        hosts=hosts, egress=egress, default=DefaultAction(default_action), extra=extra
    )
    files = target.render(plan, options)
    if target.scope is Scope.HOST and not hosts:  # say which hosts get none, and why
        for host, why in skipped_hosts(plan).items():
            log.info("no ruleset for %s: %s", host, why)
    write_files(output, files, inputs, overwrite=overwrite)
