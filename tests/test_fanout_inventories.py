"""``verify --inventory`` with several inventories, merged as ``ansible-playbook -i A -i B``
merges them, and the go-live playbook passing on every ``-i`` it was given.

Both hosts are this machine (``ansible_connection: local``) on loopback addresses of their
own, each in an inventory file of its own: a run that read the first inventory only names the
other's host as missing (exit 2).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from ansible_env import environment, tool
from machine import document
from test_fanout_local import _both_ways, _lab, jobs, port

__all__ = ["jobs", "port"]  # the fixtures, used by name


def _one_inventory_each(tmp_path: Path, inventory: Path) -> list[Path]:
    """The lab's inventory cut into one file per host, each keeping the host's variables."""
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    paths = []
    for name, variables in hosts.items():
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump({"all": {"hosts": {name: variables}}}))
        paths.append(path)
    return paths


@pytest.fixture
def servers(port: int) -> Iterator[None]:
    """The service of both ways' flows: listening on a's and b's addresses."""
    with ExitStack() as stack:
        for address in ("127.0.0.2", "127.0.0.3"):
            server = stack.enter_context(socket.socket())
            server.bind((address, port))
            server.listen()
        yield


def test_every_inventory_given_is_read(
    tmp_path: Path, jobs: Path, port: int, servers: None
) -> None:
    deployment, inventory = _lab(tmp_path, port)
    _both_ways(tmp_path, port)
    first, second = _one_inventory_each(tmp_path, inventory)
    argv = [sys.executable, "-m", "portplan", "verify", str(deployment), "--timeout", "0.5",
            "--format", "json"]  # fmt: skip
    done = subprocess.run(
        [*argv, "--inventory", str(first), "--inventory", str(second)],
        env=environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = document(done.stdout, "verify")
    assert sorted((c["flow"], c["source"], c["outcome"]) for c in report["checks"]) == [
        ("pair/back", "b", "open"),
        ("pair/web", "a", "open"),
    ]
    # the same through the environment, the paths apart as for PATH
    done = subprocess.run(
        argv,
        env=environment(PORTPLAN_VERIFY_INVENTORY=f"{first}:{second}"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # one inventory alone lacks the other's host, and the message names what was read
    done = subprocess.run(
        [*argv, "--inventory", str(first)],
        env=environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"deployment host 'b' is not in the inventory {first}" in done.stderr


def test_a_host_missing_from_every_inventory_names_them_all(tmp_path: Path, port: int) -> None:
    deployment, inventory = _lab(tmp_path, port)
    _both_ways(tmp_path, port)  # b is a source too
    first, _second = _one_inventory_each(tmp_path, inventory)
    again = tmp_path / "again.yml"
    again.write_text(first.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "portplan", "verify", str(deployment),
         "--inventory", str(first), "--inventory", str(again)],
        env=environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert (
        f"deployment host 'b' is not in the inventories {first} and {again}: add an "
        "inventory host named 'b'"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_the_go_live_playbook_passes_every_inventory_on(
    tmp_path: Path, jobs: Path, port: int
) -> None:
    # --listen: the playbook's verify opens the temporary listeners itself
    deployment, inventory = _lab(tmp_path, port)
    _both_ways(tmp_path, port)
    first, second = _one_inventory_each(tmp_path, inventory)
    done = subprocess.run(
        [tool("ansible-playbook"), "-i", str(first), "-i", str(second),
         "portplan.portplan.go_live",
         "-e", json.dumps({
             "portplan_deployment": str(deployment),
             "portplan": f"{sys.executable} -m portplan",
             "portplan_become": False,
             "portplan_verify_args": ["--timeout", "0.5"],
         })],
        cwd=tmp_path,
        env={**environment(), "PWD": str(tmp_path)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Every planned flow passed." in done.stdout, done.stdout
    report = document((tmp_path / "go-live.json").read_text(), "verify")
    assert sorted((c["source"], c["outcome"]) for c in report["checks"]) == [
        ("a", "open"),
        ("b", "open"),
    ]
    assert sorted(p.name for p in (tmp_path / "facts").iterdir()) == ["a.json", "b.json"]
