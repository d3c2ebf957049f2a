"""Ansible for the tests: the repository's collection, ansible-core's tools from this
environment, and an environment that finds them."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: the directory that holds ``ansible_collections/portplan/portplan``
COLLECTIONS = REPO
COLLECTION = REPO / "ansible_collections" / "portplan" / "portplan"
BIN = Path(sys.executable).parent
#: where this test process's SSH connections are shared (ControlPersist), a folder per run
_CONTROL = Path(tempfile.mkdtemp(prefix="pp-ansible-cp-"))
atexit.register(shutil.rmtree, _CONTROL, ignore_errors=True)


def tool(name: str) -> str:
    """An Ansible command of this environment (ansible-core is a test dependency)."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed: pip install -c constraints.txt -e .[test]")
    return found


def environment(**extra: str) -> dict[str, str]:
    """The environment Ansible runs in: this collection, this Python, no user configuration,
    SSH connections shared within this run only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "PORTPLAN_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # each run its own SSH master connections: the tests' hosts live in namespaces under
        # the same addresses, and a master kept from another test (or another test process)
        # would carry this run's commands to that test's namespace, or hang with it
        ANSIBLE_SSH_CONTROL_PATH_DIR=tempfile.mkdtemp(dir=_CONTROL),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="true",
    )
    env.update(extra)
    return env
