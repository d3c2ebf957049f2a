"""``hosts_from: ansible:PATH``: a deployment's host addresses taken from an Ansible inventory.

A deployment that names an inventory need not repeat the addresses Ansible already has: each
host it declares without ``addresses`` takes them from the inventory host of the same name, or
the one whose ``portplan_host`` variable names it: the list in its ``portplan_addresses``
variable, else its ``ansible_host`` (or its inventory name) when that is an IP address.  The
path is relative to the deployment file.  Every host that cannot be resolved is reported at
its line, all at once.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from portplan._errors import Diagnostic, InventoryError, ToolError
from portplan.load.inventory import (
    ADDRESSES_VARIABLE,
    HOST_VARIABLE,
    InventoryHost,
    read_inventory,
)
from portplan.load.revision import revision_path
from portplan.load.yamlsrc import SourceMap

__all__ = ["SCHEME", "fill_hosts", "inventory_files"]

#: the one source of hosts there is: ``hosts_from: ansible:inventory.yml``
SCHEME = "ansible:"


def inventory_files(deployment: Path, hosts_from: str) -> list[Path]:
    """The files the inventory of ``hosts_from`` (``ansible:PATH``, relative to the
    ``deployment`` file) is read from, so that no output is written over one: the file, or
    every file of the folder."""
    path = deployment.parent / hosts_from.removeprefix(SCHEME)
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file())


def _addresses(host: InventoryHost) -> list[str] | str:
    """The addresses an inventory host gives, or why it gives none."""
    listed = host.variables.get(ADDRESSES_VARIABLE)
    if listed is not None:
        values = listed if isinstance(listed, list) else [listed]
        return [str(v) for v in values]
    address = str(host.variables.get("ansible_host", host.name))
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return (
            f"its ansible_host {address!r} is not an IP address; give the addresses in its "
            f"variable {ADDRESSES_VARIABLE}, or under the host in the deployment"
        )
    return [address]


def fill_hosts(path: Path, data: Any, source: SourceMap) -> tuple[Any, list[Diagnostic]]:
    """``data`` with the addresses of its hosts filled in from ``hosts_from`` (if it says
    so); a diagnostic for each host the inventory cannot give addresses to."""
    if not isinstance(data, dict) or data.get("hosts_from") is None:
        return data, []
    where = data["hosts_from"]
    if not isinstance(where, str) or not where.startswith(SCHEME) or where == SCHEME:
        # the model's own validation says what is wrong with it
        return data, []
    inventory_path = revision_path(path, where[len(SCHEME) :], tree=True)
    if isinstance(inventory_path, tuple):
        message, hint = inventory_path
        return data, [
            source.diagnostic(("hosts_from",), f"inventory {where[len(SCHEME) :]} {message}", hint)
        ]
    try:
        inventory = read_inventory(inventory_path)
    except (InventoryError, ToolError) as exc:
        return data, [
            source.diagnostic(
                ("hosts_from",),
                f"cannot take host addresses from {where[len(SCHEME) :]}: {exc}",
                "the path is relative to the deployment file",
            )
        ]
    by_name: dict[str, list[InventoryHost]] = {}
    for host in inventory.values():
        by_name.setdefault(host.stands_for, []).append(host)
    hosts = data.get("hosts")
    if not isinstance(hosts, dict):
        return data, []
    filled: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for name, written in hosts.items():
        if written is not None and not isinstance(written, dict):
            filled[name] = written
            continue
        body = dict(written or {})
        if "addresses" not in body:
            found = by_name.get(str(name), [])
            addresses = (
                f"the inventory has no host {name!r} (nor one with {HOST_VARIABLE}: {name})"
                if not found
                else _addresses(found[0])
                if len(found) == 1
                # several machines (a cluster's members, a subnet's): the first one's address
                # alone would leave the others out of every rule
                else f"{len(found)} inventory hosts stand for it "
                f"({', '.join(h.name for h in found)}), and one's addresses would leave the "
                "others out"
            )
            if not isinstance(addresses, str):
                body["addresses"] = addresses
            # a host with a dns_name may be known by its name alone, as without an inventory
            elif body.get("dns_name") is None or len(found) > 1:
                problems.append(
                    source.diagnostic(
                        ("hosts", name),
                        f"host {name!r} has no addresses, and {where[len(SCHEME) :]} gives "
                        f"none: {addresses}",
                        "give them here under 'addresses:', or in the inventory",
                        at_key=True,
                    )
                )
        filled[name] = body
    return {**data, "hosts": filled}, problems
