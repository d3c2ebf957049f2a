"""A deployment as an Ansible inventory: its machines, their roles, zones and platforms.

Each host of one machine (one address per family, or several of one machine) is an inventory
host named after it, with ``ansible_host`` (its first address), ``portplan_host`` (the
deployment host it is, so a renamed inventory host still maps back), ``portplan_addresses``
(when it has more than one), ``portplan_zone`` and ``portplan_platform``.  Groups name what
runs there: ``<product>_<component>`` for each component placed on it, ``zone_<zone>`` and
``platform_<platform>``, with every character Ansible does not allow in a group name turned
into ``_``; two names that become one group, or a group named like a host (Ansible's own
``all`` and ``ungrouped`` too), are refused (Ansible would take them for one).  Hosts that
stand for networks (a client subnet) or clusters have no one machine to manage: the
inventory lists them in a comment, to be added as member machines with ``portplan_host``.  A
host known by name only is reached by its ``dns_name``; hosts the deployment does not manage
(``managed: false``: a CDN, a cloud service) are left out, and named in a comment.

The output is deterministic (the deployment's order) and is what ``hosts_from: ansible:PATH``
reads back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from portplan._errors import ModelPath, PlanError, Problem
from portplan._text import one_line
from portplan.model.deployment import Deployment, Host

__all__ = ["group_name", "inventory_yaml"]

_NOT_IN_GROUP_NAMES = re.compile(r"[^A-Za-z0-9_]")


def group_name(*parts: str) -> str:
    """An Ansible group name (letters, digits, underscores, not starting with a digit)."""
    name = _NOT_IN_GROUP_NAMES.sub("_", "_".join(parts))
    return f"_{name}" if name[:1].isdigit() else name


#: the groups every Ansible inventory has, and what they hold beyond every host
_ANSIBLE_GROUPS = {"all": "", "ungrouped": " in no other group"}


def _refuse_clashes(
    deployment: Deployment, machines: Mapping[str, Host], groups: Mapping[str, object]
) -> None:
    """:class:`PlanError` for every group name two things of the deployment would share (zones
    ``dmz-a`` and ``dmz_a`` are both ``zone_dmz_a``), and every host named like a group (its
    own, or Ansible's ``all`` and ``ungrouped``): Ansible would merge them, and a play aimed
    at one would run on both."""
    origins: dict[str, list[tuple[str, ModelPath]]] = {}

    def origin(group: str, what: str, path: ModelPath) -> None:
        if group in groups and what not in (w for w, _ in origins.get(group, [])):
            origins.setdefault(group, []).append((what, path))

    for name in machines:
        origin(name, f"host {name!r}", ("hosts", name))
    for product, binding in deployment.products.items():
        for component in binding.components:
            origin(
                group_name(product, component),
                f"component {component!r} of {product}",
                ("products", product, "components", component),
            )
    for name, host in machines.items():
        if host.zone:
            origin(group_name("zone", host.zone), f"zone {host.zone!r}", ("hosts", name, "zone"))
        if host.platform:
            origin(
                group_name("platform", host.platform),
                f"platform {host.platform!r}",
                ("hosts", name, "platform"),
            )
    problems = [
        Problem(
            path=("hosts", name),
            message=f"host {name!r} is named like Ansible's own group {name}, which holds "
            f"every host{within}: Ansible takes them for one, and a play aimed at the host "
            f"would run on every machine of the inventory{within}",
            hint="rename the host",
            at_key=True,
        )
        for name, within in _ANSIBLE_GROUPS.items()
        if name in machines
    ]
    problems += [
        Problem(
            path=path,
            message=(
                f"{what} becomes the Ansible group {group}, the name of {first}"
                if first.startswith("host ")
                else f"{what} and {first} both become the Ansible group {group} (a character "
                "other than a letter, a digit or '_' becomes '_')"
            )
            + ": Ansible takes them for one, and a play aimed at one would run on both",
            hint="rename one of them",
            at_key=path[0] != "hosts" or len(path) == 2,
        )
        for group, ((first, _), *others) in origins.items()
        for what, path in others
    ]
    if problems:
        raise PlanError(problems)


def inventory_yaml(deployment: Deployment) -> str:
    """The Ansible inventory (YAML) of ``deployment``'s machines and their roles."""
    managed = {name: host for name, host in deployment.hosts.items() if host.managed}
    unmanaged = [name for name, host in deployment.hosts.items() if not host.managed]
    machines = {name: host for name, host in managed.items() if not host.is_group}
    groups = [name for name, host in managed.items() if host.is_group]
    hosts: dict[str, dict[str, Any]] = {}
    for name, host in machines.items():
        addresses = [str(n.network_address) for n in host.addresses]
        reach = addresses[0] if addresses else host.dns_name  # a host known by name only
        entry: dict[str, Any] = {"ansible_host": reach, "portplan_host": name}
        if len(addresses) > 1:
            entry["portplan_addresses"] = addresses
        if host.zone:
            entry["portplan_zone"] = host.zone
        if host.platform:
            entry["portplan_platform"] = host.platform
        hosts[name] = entry
    children: dict[str, dict[str, Any]] = {}

    def member(group: str, host: str) -> None:
        children.setdefault(group, {"hosts": {}})["hosts"][host] = None

    for product, binding in deployment.products.items():
        for component, placed in binding.components.items():
            for placed_on in placed:
                if placed_on in machines:
                    member(group_name(product, component), placed_on)
    for name, host in machines.items():
        if host.zone:
            member(group_name("zone", host.zone), name)
        if host.platform:
            member(group_name("platform", host.platform), name)
    _refuse_clashes(deployment, machines, children)
    header = [
        f"# Ansible inventory of deployment {one_line(deployment.name)}, written by portplan "
        "inventory."
    ]
    if groups:
        clusters = any(deployment.hosts[name].cluster for name in groups)
        kinds = "networks or clusters" if clusters else "networks"
        header.append(
            f"# Hosts that are {kinds}, to add as member machines with portplan_host: "
            + ", ".join(
                f"{name} ({', '.join(str(n) for n in deployment.hosts[name].addresses)})"
                for name in groups
            )
        )
    if unmanaged:
        header.append(
            "# Hosts this deployment does not manage (managed: false), left out: "
            + ", ".join(unmanaged)
        )
    body = {"all": {"hosts": hosts, "children": children}}
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=100)
    return "\n".join(header) + "\n" + text.replace(": null\n", ":\n")
