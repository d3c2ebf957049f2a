"""What `portplan apply` says when a signal stops it, at each moment, in network namespaces:
before the load nothing was changed; after the confirmation was recorded the new ruleset
is kept (a rollback is not claimed, nor left unsaid)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from test_apply_rollback import (
    PORTPLAN,
    SMART_ID,
    _watchdog_of,
    finish,
    nft_namespace,
    nft_state,
    no_watchdog_left,
    start_apply,
    wait_for,
)

pytestmark = pytest.mark.netns

__all__ = ["nft_namespace"]  # (a fixture, used by name)


def test_stopped_before_the_load_says_nothing_was_changed(
    nft_namespace: str, tmp_path: Path
) -> None:
    # `nft list tables` is where saving what the new ruleset replaces begins: slowed, a
    # signal comes while apply saves, before anything is loaded
    real = shutil.which("nft")
    assert real is not None
    marker = tmp_path / "saving"
    wrapper = tmp_path / "nft"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" list tables "*) touch {marker}; sleep 3;; esac\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    before = nft_state(nft_namespace)
    process = subprocess.Popen(
        ["ip", "netns", "exec", nft_namespace, *PORTPLAN, "apply", str(SMART_ID), "--on", "da01"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        wait_for(marker.exists, 60)
        process.send_signal(signal.SIGTERM)
    finally:
        status, err = finish(process)
    assert status == 128 + signal.SIGTERM, err
    assert "stopped before the new ruleset was loaded: nothing was changed" in err
    assert "restored" not in err
    assert nft_state(nft_namespace) == before
    wait_for(no_watchdog_left, 10)


def test_stopped_once_confirmed_says_the_new_ruleset_is_kept(nft_namespace: str) -> None:
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=30)
    try:
        pid, folder = _watchdog_of(nft_namespace)
        # a watchdog that is slow to end holds apply in recording the confirmation, signals
        # held, until it ends: a SIGTERM then comes once 'kept' is recorded
        os.kill(pid, signal.SIGSTOP)
        assert process.stdin is not None
        process.stdin.write("yes\n")
        process.stdin.flush()
        wait_for((folder / "outcome").exists, 10)
        assert (folder / "outcome").read_text() == "kept"
        process.send_signal(signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    finally:
        status, err = finish(process)
    assert status == 128 + signal.SIGTERM, err
    assert "stopped after the new ruleset was confirmed: it is kept" in err
    assert "management/ssh" in nft_state(nft_namespace)  # it is
    wait_for(no_watchdog_left, 10)


def _apply_in_a_session_of_its_own(ns: str) -> subprocess.Popen[str]:
    """`portplan apply` leading a session (and process group) of its own, as a login shell's
    command does, once it waits for 'yes': a group signal reaches it and not this test."""
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    argv = ["ip", "netns", "exec", ns, *PORTPLAN, "apply", str(SMART_ID), "--on", "da01"]
    process = subprocess.Popen(
        [*argv, "--confirm-timeout", "60"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert process.stderr is not None
    said = ""
    while "Type 'yes'" not in said:
        line = process.stderr.readline()
        assert line, f"apply ended early: {said}"
        said += line
    return process


def test_a_hang_up_of_the_whole_session_and_a_stop_of_its_unit_restore(nft_namespace: str) -> None:
    # a dropped SSH session hangs up its whole process group; `systemctl stop` of the unit
    # or scope sends SIGTERM to every process of its cgroup, the watchdog too (its own
    # session does not take it out of the cgroup): either way the previous ruleset comes back
    before = nft_state(nft_namespace)
    for stop in ("hang-up", "unit-stop"):
        process = _apply_in_a_session_of_its_own(nft_namespace)
        try:
            pid, _folder = _watchdog_of(nft_namespace)
            assert os.getpgid(pid) != process.pid  # (not reached by a group signal)
            if stop == "hang-up":
                os.killpg(process.pid, signal.SIGHUP)
            else:
                for each in (process.pid, pid):
                    os.kill(each, signal.SIGTERM)
            wait_for(lambda: nft_state(nft_namespace) == before, 5)  # not 60 s
        finally:
            status, err = finish(process)
        assert status == 128 + (signal.SIGHUP if stop == "hang-up" else signal.SIGTERM), err
        wait_for(no_watchdog_left, 10)
