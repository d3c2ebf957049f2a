"""`portplan apply` with its state folder on a full file system (``/run`` is a small tmpfs):
filled while apply waits for 'yes', the answer must still be acted on, and what apply says
must be what the host holds.  Each test mounts a tmpfs of its own on ``/run/portplan`` in a
mount namespace of its own (gone with the processes in it), in a network namespace of its
own."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import netns
from test_apply_rollback import (
    SMART_ID,
    finish,
    nft_namespace,
    nft_state,
    no_watchdog_left,
    wait_for,
)

pytestmark = pytest.mark.netns

__all__ = ["nft_namespace"]  # (a fixture, used by name)


def _apply_on_a_small_tmpfs(ns: str) -> subprocess.Popen[str]:
    """`portplan apply` in ``ns`` with ``/run/portplan`` a 64 KiB tmpfs, once it waits for
    'yes' (60 s)."""
    script = (
        "mkdir -p /run/portplan && mount -t tmpfs -o size=64k,mode=700 portplan /run/portplan "
        '&& exec ip netns exec "$0" "$@"'
    )
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, ns,
         sys.executable, "-m", "portplan", "apply", str(SMART_ID), "--on", "da01",
         "--confirm-timeout", "60"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env=env,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    said = ""
    while "Type 'yes'" not in said:
        line = process.stderr.readline()
        assert line or process.poll() is None, f"apply ended early: {said}"
        assert time.monotonic() < deadline, said
        said += line
    return process


def _fill(ns: str) -> None:
    """Fill the tmpfs apply keeps its state on, from apply's own mount namespace."""
    pid = netns.run(["ip", "netns", "pids", ns]).stdout.split()[0]
    filled = subprocess.run(
        ["nsenter", "-t", pid, "-m", "sh", "-c",
         "cat /dev/zero > /run/portplan/fill; df --output=avail /run/portplan | tail -1"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert filled.stdout.strip() == "0", filled.stdout + filled.stderr


@pytest.mark.parametrize(
    ("answer", "status", "said", "kept"),
    [
        ("yes", 0, "kept.", True),
        ("no", 1, "not confirmed: the previous ruleset is restored", False),
    ],
)
def test_an_answer_is_acted_on_and_told_when_the_state_folder_is_full(
    nft_namespace: str, answer: str, status: int, said: str, kept: bool
) -> None:
    if subprocess.run(["which", "nsenter"], capture_output=True, check=False).returncode:
        pytest.skip("nsenter is not installed")
    before = nft_state(nft_namespace)
    process = _apply_on_a_small_tmpfs(nft_namespace)
    try:
        applied = nft_state(nft_namespace)
        assert "management/ssh" in applied  # the new ruleset is in force
        _fill(nft_namespace)
        assert process.stdin is not None
        process.stdin.write(f"{answer}\n")
        process.stdin.flush()
        code, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    wait_for(no_watchdog_left, 10)
    assert nft_state(nft_namespace) == (applied if kept else before), err
    assert (code, said in err) == (status, True), err
    assert "the previous ruleset is restored" not in err or not kept, err
