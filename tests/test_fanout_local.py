"""``verify --inventory`` through real Ansible on a local connection: two deployment hosts on
loopback addresses, each an inventory host that is this machine.  What the run leaves behind
on the hosts (listener files, Ansible's async job files) is checked here; the SSH fan-out
itself is tested in test_verify_inventory.py."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest
import yaml

from portplan import load_plan
from portplan.fanout import verify_inventory
from portplan.probe.outcomes import Outcome

#: seconds the listener a run started may take to stop once the run is over
STOP_WAIT = 15.0

PRODUCT = {
    "id": "pair",
    "name": "Pair",
    "version": "1",
    "document": {"title": "Pair ports"},
    "components": {"client": {"name": "Client"}, "server": {"name": "Server"}},
    "flows": [
        {"id": "web", "row": 1, "from": "client", "to": "server", "protocol": "tcp",
         "ports": "PORT", "purpose": "the client reaches the server"},
    ],
}  # fmt: skip


@pytest.fixture
def port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        found: int = probe.getsockname()[1]
    return found


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of the test's own for Ansible's async job files (ANSIBLE_ASYNC_DIR)."""
    path = tmp_path / "async"
    monkeypatch.setenv("ANSIBLE_ASYNC_DIR", str(path))
    return path


def _lab(tmp_path: Path, port: int) -> tuple[Path, Path]:
    (tmp_path / "pair.yaml").write_text(
        yaml.safe_dump(PRODUCT, sort_keys=False).replace("PORT", str(port))
    )
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "name": "pair",
                "hosts": {"a": {"addresses": ["127.0.0.2"]}, "b": {"addresses": ["127.0.0.3"]}},
                "products": {
                    "pair": {"file": "pair.yaml", "components": {"client": "a", "server": "b"}}
                },
            },
            sort_keys=False,
        )
    )
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"a": local, "b": local}}}))
    return deployment, inventory


def _free(port: int) -> bool:
    with socket.socket() as again:
        try:
            again.bind(("127.0.0.3", port))
        except OSError:
            return False
    return True


def test_listeners_leave_nothing_behind(tmp_path: Path, jobs: Path, port: int) -> None:
    deployment, inventory = _lab(tmp_path, port)
    before = set(Path("/tmp").glob("portplan-listen-*"))
    run = verify_inventory(load_plan(deployment), inventory, listeners=True, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.OPEN and check.temporary_listener, check
    assert run.listener_problems == []
    ends = time.monotonic() + STOP_WAIT
    while not _free(port) and time.monotonic() < ends:
        time.sleep(0.2)
    assert _free(port), "the temporary listener is still up"
    assert set(Path("/tmp").glob("portplan-listen-*")) == before
    left = sorted(p.name for p in jobs.iterdir()) if jobs.exists() else []
    assert left == [], f"Ansible's async job files left in {jobs}"
