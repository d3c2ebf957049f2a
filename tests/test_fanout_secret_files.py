"""``verify --inventory``'s secrets on disk: ansible-runner writes the environment it starts
ansible-playbook with (the sealed secrets with it) into ``artifacts/<ident>/command`` in the
run's temporary directory; a run killed before it could remove that directory must leave
neither the secret nor its sealed text behind."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from ansible_env import environment
from test_identify_snmp import _peer
from test_identify_snmp_community import _inventory_lab

COMMUNITY = b"pp-left-behind-5e1b"
#: how long the test waits for Ansible to run the probe task
STARTED = 60.0


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (the test's own: portplan's Ansible)."""
    below: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            below += [int(entry.name), *_children(int(entry.name))]
    return below


def _holds_the_secret(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        words = re.findall(rb"[A-Za-z0-9+/]{24,}={0,2}", data)
        sealed = []
        for word in words:
            try:
                sealed.append(base64.b64decode(word))
            except binascii.Error:
                continue
        if COMMUNITY in data or any(COMMUNITY in plain for plain in sealed):
            found.append(str(path.relative_to(folder)))
    return found


def test_a_run_killed_leaves_no_sealed_secret_in_its_temporary_directory(
    tmp_path: Path,
) -> None:
    tmp = tmp_path / "tmp"  # the run's TMPDIR: its temporary directory is made here
    tmp.mkdir()
    with _peer(lambda _data: []) as port:  # silent: the probe task takes its time-out
        deployment, inventory = _inventory_lab(tmp_path, port)
        env = environment(
            PORTPLAN_SNMP_COMMUNITY=COMMUNITY.decode(),
            TMPDIR=str(tmp),
            ANSIBLE_ASYNC_DIR=str(tmp_path / "async"),
        )
        run = subprocess.Popen(
            [
                *(sys.executable, "-m", "portplan", "verify", str(deployment)),
                *("--inventory", str(inventory), "--timeout", "10", "--format", "json"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        below: list[int] = []
        try:
            deadline = time.monotonic() + STARTED
            while time.monotonic() < deadline:  # until Ansible has started the probe task
                shown = list(tmp.glob("portplan-ansible-*/artifacts/*/stdout"))
                if shown and "TASK [" in shown[0].read_text(errors="replace"):
                    break
                assert run.poll() is None, "verify --inventory ended before its probe task"
                time.sleep(0.05)
            else:
                raise AssertionError("Ansible did not start the probe task")
            below = _children(run.pid)
            run.send_signal(signal.SIGKILL)  # as the OOM killer or a power cut would end it
            run.wait()
            left = list(tmp.glob("portplan-ansible-*"))
            assert left, "the killed run left no temporary directory: nothing was tested"
            assert _holds_the_secret(tmp) == [], _holds_the_secret(tmp)
        finally:
            for pid in [run.pid, *below]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            run.wait()
