"""``portplan inventory``: the Ansible inventory of a deployment's machines and their roles."""

from __future__ import annotations

from pathlib import Path

import click

from portplan._errors import InputError, PlanError
from portplan.cli._files import read_input, write_output
from portplan.cli._options import InputPath, common_options, output_option
from portplan.load.deployment import load_deployment
from portplan.report.inventory import inventory_yaml

__all__ = ["inventory_cmd"]


@click.command("inventory")
@click.argument("deployment", type=InputPath(path_type=Path))
@output_option("Write the inventory to PATH ('-': standard output).")
@common_options
def inventory_cmd(deployment: Path, output: str | None, overwrite: bool) -> None:
    """Write an Ansible inventory of DEPLOYMENT's machines, grouped by role, zone and platform.

    Each machine is an inventory host of its name with ansible_host, portplan_host and, when
    it has several, portplan_addresses; groups are PRODUCT_COMPONENT, zone_ZONE and
    platform_PLATFORM. Hosts that are networks (a client subnet) are listed in a comment: add
    member machines with portplan_host. A deployment reads it back with hosts_from:
    ansible:PATH, and portplan verify --inventory uses it.
    """
    name, text = read_input(deployment)
    bundle = load_deployment(name, text)
    inputs = list(bundle.files)  # (the inventory of hosts_from among them)
    try:
        text = inventory_yaml(bundle.deployment)
    except PlanError as exc:  # names Ansible would take for one: located where they are written
        found = bundle.diagnostics(exc.problems)
        raise InputError(sorted(found, key=lambda d: (d.line or 0, d.column or 0))) from None
    write_output(output, text.encode(), inputs, overwrite=overwrite)
