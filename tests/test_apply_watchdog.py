"""The watchdog's failures are never silent: a restore that fails at the deadline leaves the
state folder and its outcome, and the applying process reports it instead of "restored"."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netns
from portplan._errors import ApplyError
from portplan.targets.apply.nftables import NftablesApplier
from portplan.targets.apply.outcome import RESTORED, settle


def test_a_restore_that_failed_at_the_deadline_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "outcome").write_text(f"{RESTORED}: failed: nft: syntax error")
    for keep in (True, False):
        with pytest.raises(ApplyError, match="could not restore the previous ruleset"):
            settle(tmp_path, NftablesApplier({}), {"table": b""}, keep=keep)


def test_a_restore_whose_tool_fails_to_run_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not only a tool that exits non-zero: one that is gone, or does not finish in time
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    with pytest.raises(ApplyError, match="restoring the previous ruleset failed: nft is not"):
        settle(tmp_path, NftablesApplier({}), {"table": b""}, keep=False)
    outcome = (tmp_path / "outcome").read_text()
    assert outcome.startswith(f"{RESTORED}: failed: nft is not installed"), outcome
    # a 'yes' that comes after is told, not "kept"
    with pytest.raises(ApplyError, match="could not restore the previous ruleset"):
        settle(tmp_path, NftablesApplier({}), {"table": b""}, keep=True)


@pytest.mark.netns
def test_the_watchdog_keeps_its_folder_when_restoring_fails(tmp_path: Path) -> None:
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "apply-test"
    folder.mkdir()
    state = {
        "target": "nftables",
        "deadline": 0.0,  # long past: restore at once
        "saved": {
            "table": base64.b64encode(b"table inet portplan { this is no ruleset }").decode()
        },
    }
    (folder / "state.json").write_text(json.dumps(state))
    with netns.namespace() as ns:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "portplan.targets.apply.watchdog",
             str(folder)],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.stdout.strip() == "ready"
    assert done.returncode == 1
    outcome = (folder / "outcome").read_text()
    assert outcome.startswith(f"{RESTORED}: failed: restoring the previous portplan table"), outcome
    assert (folder / "state.json").exists()


@pytest.mark.netns
@pytest.mark.parametrize("gone", ["state", "folder"])
def test_a_watchdog_whose_state_is_gone_restores_at_once(tmp_path: Path, gone: str) -> None:
    # the safety net holds when its state does not: a deleted state file or folder (a
    # clean-up of /tmp, a full disk) ended the watchdog with a traceback, restoring nothing
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "apply-test"
    folder.mkdir()
    state = {
        "target": "nftables",
        "deadline": time.monotonic() + 600,  # far off: only the lost state may end the wait
        "saved": {"table": ""},  # no portplan table before this apply
    }
    (folder / "state.json").write_text(json.dumps(state))
    with netns.namespace() as ns:
        netns.run(["ip", "netns", "exec", ns, "nft", "add", "table", "inet", "portplan"])
        watchdog = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "portplan.targets.apply.watchdog",
             str(folder)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert watchdog.stdout is not None
            assert watchdog.stdout.readline().strip() == "ready"
            if gone == "state":
                (folder / "state.json").unlink()
            else:
                shutil.rmtree(folder)
            _, err = watchdog.communicate(timeout=30)
        finally:
            if watchdog.poll() is None:
                watchdog.kill()
                watchdog.wait()
        tables = netns.run(["ip", "netns", "exec", ns, "nft", "list", "tables"]).stdout
    assert watchdog.returncode == 0, err
    assert "inet portplan" not in tables
    assert not folder.exists()


@pytest.mark.netns
def test_a_watchdog_whose_apply_is_gone_before_it_is_ready_leaves_nothing(tmp_path: Path) -> None:
    # portplan killed while its watchdog starts: it never read 'ready', so it loaded nothing;
    # the watchdog ended on the broken pipe with a traceback and left its folder, which the
    # next apply took for an apply never settled ("the ruleset in force may be the
    # unconfirmed new one") and refused to run until --restore-saved
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "apply-test"
    folder.mkdir()
    state = {
        "target": "nftables",
        "deadline": time.monotonic() + 600,
        "saved": {"table": ""},  # a restore would delete the table below
    }
    (folder / "state.json").write_text(json.dumps(state))
    with netns.namespace() as ns:
        netns.run(["ip", "netns", "exec", ns, "nft", "add", "table", "inet", "portplan"])
        read, write = os.pipe()
        os.close(read)  # nobody will read 'ready'
        try:
            done = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, "-m",
                 "portplan.targets.apply.watchdog", str(folder)],
                stdout=write, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                timeout=60, check=False,
            )  # fmt: skip
        finally:
            os.close(write)
        tables = netns.run(["ip", "netns", "exec", ns, "nft", "list", "tables"]).stdout
    assert (done.returncode, done.stderr) == (0, "")
    assert not folder.exists()
    assert "inet portplan" in tables  # nothing was loaded: nothing restored
