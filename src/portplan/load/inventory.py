"""Ansible inventories: the hosts an inventory names, their variables and groups.

An inventory is read the way Ansible itself reads it, by ``ansible-inventory --list`` (any
format and plugin the operator uses: INI, YAML, a directory, a dynamic script), so portplan
never parses one by hand.  A deployment host is found in an inventory by its own name, or
through the host variable :data:`HOST_VARIABLE` naming it (``portplan_host: clients`` for a
member machine of a client subnet).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portplan._errors import InventoryError, ToolError
from portplan._text import did_you_mean
from portplan._tools import run_bounded
from portplan.load.reading import file_kind

__all__ = [
    "ADDRESSES_VARIABLE",
    "HOST_VARIABLE",
    "INVENTORY_TIMEOUT",
    "InventoryHost",
    "ansible_tool",
    "deployment_hosts",
    "inventory_text",
    "read_inventory",
]

#: the host variable that names the deployment host an inventory host stands for
HOST_VARIABLE = "portplan_host"
#: the host variable that lists a host's addresses, where ``ansible_host`` is not enough
ADDRESSES_VARIABLE = "portplan_addresses"
#: seconds ``ansible-inventory`` may take
INVENTORY_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryHost:
    """One host of an inventory: its name there, variables and groups."""

    name: str
    variables: Mapping[str, Any]
    groups: tuple[str, ...]

    @property
    def stands_for(self) -> str:
        """The deployment host it is: ``portplan_host``, or its own name."""
        value = self.variables.get(HOST_VARIABLE)
        return str(value) if value is not None else self.name


def ansible_tool(name: str) -> str:
    """An Ansible command, beside this Python first (a virtual environment), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ToolError(
            f"{name} is not installed; install Ansible beside portplan: "
            "pip install 'portplan[ansible]'"
        )
    return found


def read_inventory(
    paths: Path | str | Sequence[Path | str], *, limit: str | None = None
) -> dict[str, InventoryHost]:
    """Every host of the inventory at ``paths`` (one, or several that Ansible merges as it
    merges ``-i A -i B``; only the hosts ``limit`` selects, an Ansible host pattern), by
    inventory name, in the inventory's order.

    :class:`InventoryError` when Ansible cannot read it; :class:`ToolError` when
    ``ansible-inventory`` is missing or hangs.
    """
    given = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    for path in given:
        _check_source(path)
    named = inventory_text(given)
    argv = [ansible_tool("ansible-inventory")]
    for source in given:
        argv += ["-i", str(source)]
    argv.append("--list")
    if limit:
        argv += ["--limit", limit]
    # its stdout is the listing alone: an operator's ANSIBLE_VERBOSITY (or ANSIBLE_DEBUG), meant
    # for the playbook's run, would print Ansible's version and debug lines before it
    env = dict(
        os.environ,
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_NOCOLOR="true",
        ANSIBLE_VERBOSITY="0",
        ANSIBLE_DEBUG="false",
    )
    # an inventory script's own children are ended with it when it hangs
    try:
        code, stdout, stderr = run_bounded(argv, timeout=INVENTORY_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(
            f"ansible-inventory did not read {named} within {INVENTORY_TIMEOUT:g} s"
        ) from exc
    if code != 0:
        reason = " ".join(stderr.decode(errors="replace").split()) or f"exit status {code}"
        raise InventoryError(f"Ansible cannot read {named}: {reason}")
    listing: dict[str, Any] = json.loads(stdout.decode(errors="replace"))
    hostvars: dict[str, Any] = listing.get("_meta", {}).get("hostvars", {})
    groups: dict[str, list[str]] = {}
    for group, body in listing.items():
        if group == "_meta" or not isinstance(body, dict):
            continue
        for host in body.get("hosts", []):
            groups.setdefault(host, []).append(group)
    names = list(dict.fromkeys([*groups, *hostvars]))
    return {
        name: InventoryHost(
            name=name,
            variables=hostvars.get(name, {}),
            groups=tuple(sorted(groups.get(name, []))),
        )
        for name in names
    }


def inventory_text(paths: Sequence[Path]) -> str:
    """``the inventory A``, or ``the inventories A and B``: for messages."""
    if len(paths) == 1:
        return f"the inventory {paths[0]}"
    return "the inventories " + ", ".join(map(str, paths[:-1])) + f" and {paths[-1]}"


def _check_source(path: Path) -> None:
    """An inventory source that Ansible can read without hanging or filling memory."""
    if not path.exists():
        raise InventoryError(f"inventory {path} does not exist; check the path")
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO would hang, /dev/zero fill memory
        raise InventoryError(
            f"inventory {path} is {file_kind(mode)}, not a file or a folder; give an inventory "
            "file, a folder of them or an inventory script"
        )


def deployment_hosts(
    inventory: Mapping[str, InventoryHost], wanted: Iterable[str], *, where: str
) -> tuple[dict[str, InventoryHost], list[str]]:
    """The inventory host of each ``wanted`` deployment host, and a problem for each one the
    inventory lacks or has twice (``where`` names the inventory in messages, as
    :func:`inventory_text` does)."""
    by_deployment: dict[str, list[InventoryHost]] = {}
    for host in inventory.values():
        by_deployment.setdefault(host.stands_for, []).append(host)
    found: dict[str, InventoryHost] = {}
    problems: list[str] = []
    for name in wanted:
        candidates = by_deployment.get(name, [])
        if not candidates:
            problems.append(
                f"deployment host {name!r} is not in {where}: add an inventory "
                f"host named {name!r} or one with the variable {HOST_VARIABLE}: {name}"
                + (
                    f" ({hint})"
                    if (hint := did_you_mean(name, [h.name for h in inventory.values()]))
                    else ""
                )
            )
        elif len(candidates) > 1:
            problems.append(
                f"deployment host {name!r} is more than one inventory host in {where} "
                f"({', '.join(h.name for h in candidates)}): keep one, or verify them one at "
                "a time with --limit"
            )
        else:
            found[name] = candidates[0]
    return found, problems
