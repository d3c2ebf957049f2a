"""After a restore that failed, in network namespaces: the watchdog ends as soon as the
outcome is recorded (the apply lock with it), and no apply runs over the saved copy the
failure left until the operator restores it (``apply --restore-saved``) or clears it
(``apply --discard-saved``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import netns
from portplan.targets.apply.confirmed import state_root
from test_apply_rollback import (
    DA01,
    PORTPLAN,
    SHOPPING,
    SMART_ID,
    apply_once,
    finish,
    iptables_namespace,
    nft_namespace,
    nft_state,
    run_in,
    start_apply,
)

pytestmark = pytest.mark.netns

__all__ = ["iptables_namespace", "nft_namespace"]  # (fixtures, used by name)


def _watchdogs(ns: str) -> list[int]:
    """The watchdogs running in ``ns``."""
    found = []
    for pid in netns.run(["ip", "netns", "pids", ns]).stdout.split():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"portplan.targets.apply.watchdog" in argv:
            found.append(int(pid))
    return found


def _folders() -> set[Path]:
    return set(state_root().glob("apply-*"))


@pytest.fixture
def broken_restore(nft_namespace: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """An ``nft`` whose load of the new ruleset goes in and then reports a failure (a tool cut
    short after its commit), and whose restore of the saved table fails while the file it
    yields exists (a broken tool the operator mends later), in ``nft_namespace`` only: the
    environment that puts it first, and that file.  State folders the test leaves are removed."""
    real = shutil.which("nft")
    assert real is not None
    broken = tmp_path / "broken"
    broken.touch()
    wrapper = tmp_path / "nft"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" -c "*) exec {real} "$@";; *" -f - "*) ;; *) exec {real} "$@";; esac\n'
        f'[ "$(ip netns identify)" = {nft_namespace} ] || exec {real} "$@"\n'
        "input=$(cat)\n"
        'case "$input" in\n'
        # the saved table (the fixture's old_peers set): a restore
        f"*old_peers*) if [ -e {broken} ]; then\n"
        '  echo "nft: restore broken (test)" >&2; exit 1; fi;;\n'
        f'*"table inet portplan {{"*) printf "%s\\n" "$input" | {real} "$@"\n'
        '  echo "nft: load cut short (test)" >&2; exit 1;;\n'
        "esac\n"
        f'printf "%s\\n" "$input" | exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    before = _folders()
    try:
        yield env, broken
    finally:
        for folder in _folders() - before:
            shutil.rmtree(folder, ignore_errors=True)


def test_the_watchdog_ends_once_a_failed_restore_is_recorded(
    nft_namespace: str, broken_restore: tuple[dict[str, str], Path]
) -> None:
    env, _broken = broken_restore
    before = nft_state(nft_namespace)
    result = apply_once(nft_namespace, str(SMART_ID), "--on", "da01", env=env)
    assert result.returncode == 3, result.stderr
    said = " ".join(result.stderr.split())
    assert "load cut short (test); and restoring the previous ruleset failed" in said
    assert nft_state(nft_namespace) != before  # the new ruleset stayed in force
    # nothing is left for the watchdog to do: apply ends once it has, and the lock with it
    assert _watchdogs(nft_namespace) == []


def _fail_once(ns: str, env: dict[str, str]) -> Path:
    """An apply whose load goes in and whose restore fails: the folder that keeps the copy."""
    before = _folders()
    result = apply_once(ns, str(SMART_ID), "--on", "da01", env=env)
    assert result.returncode == 3, result.stderr
    said = " ".join(result.stderr.split())
    (folder,) = _folders() - before
    assert f"the saved copy is kept in {folder}/state.json" in said
    assert "`portplan apply --restore-saved`" in said and "`portplan apply --discard-saved`" in said
    return folder


def test_no_apply_runs_over_a_saved_copy_a_failed_restore_kept(
    nft_namespace: str, broken_restore: tuple[dict[str, str], Path]
) -> None:
    env, broken = broken_restore
    before = nft_state(nft_namespace)
    folder = _fail_once(nft_namespace, env)
    stuck = nft_state(nft_namespace)
    assert stuck != before
    # a second apply would save the stuck ruleset as "the previous one", and roll back to it
    second = apply_once(nft_namespace, str(SMART_ID), "--on", "da01", "--egress", env=env)
    assert second.returncode == 3, second.stderr
    said = " ".join(second.stderr.split())
    assert "an earlier apply on this host could not restore the ruleset it had saved" in said
    assert "nft: restore broken (test)" in said and f"{folder}/state.json" in said
    assert "Traceback" not in said
    assert nft_state(nft_namespace) == stuck and folder.is_dir()  # nothing changed
    # restoring while the tool is still broken: told, and the copy stays
    again = apply_once(nft_namespace, "--restore-saved", env=env)
    assert again.returncode == 3, again.stderr
    assert "restoring the saved nftables ruleset failed again" in again.stderr
    assert folder.is_dir() and nft_state(nft_namespace) == stuck
    broken.unlink()  # the operator mends the tool
    restored = apply_once(nft_namespace, "--restore-saved", env=env)
    assert restored.returncode == 0, restored.stderr
    assert f"restored the nftables ruleset saved in {folder}" in restored.stderr
    assert nft_state(nft_namespace) == before and not folder.exists()
    # and apply runs again (its load is still cut short, and now rolled back)
    third = apply_once(nft_namespace, str(SMART_ID), "--on", "da01", env=env)
    assert third.returncode == 3, third.stderr
    assert "load cut short (test); the previous ruleset is back" in third.stderr
    assert nft_state(nft_namespace) == before


def test_a_discarded_saved_copy_is_removed_and_the_firewall_left_alone(
    nft_namespace: str, broken_restore: tuple[dict[str, str], Path]
) -> None:
    env, _broken = broken_restore
    folder = _fail_once(nft_namespace, env)
    stuck = nft_state(nft_namespace)
    discarded = apply_once(nft_namespace, "--discard-saved", env=env)
    assert discarded.returncode == 0, discarded.stderr
    said = " ".join(discarded.stderr.split())
    assert f"removed the nftables ruleset saved in {folder}" in said
    assert "nft: restore broken (test)" in said  # what it was, said once more
    assert not folder.exists() and nft_state(nft_namespace) == stuck
    nothing = apply_once(nft_namespace, "--discard-saved", env=env)
    assert nothing.returncode == 3, nothing.stderr
    assert "no saved ruleset waits to be restored on this host" in nothing.stderr


def test_a_saved_copy_waits_only_in_its_own_network_namespace(
    nft_namespace: str, broken_restore: tuple[dict[str, str], Path]
) -> None:
    env, _broken = broken_restore
    folder = _fail_once(nft_namespace, env)
    with netns.namespace() as other:
        netns.hold_addresses(other, DA01)  # da01 too
        result = apply_once(other, str(SMART_ID), "--on", "da01", env=env)
        assert result.returncode == 1, result.stderr  # applied, not confirmed, rolled back
        restore = apply_once(other, "--restore-saved", env=env)
        assert restore.returncode == 3, restore.stderr
        assert "no saved ruleset waits" in restore.stderr
    assert folder.is_dir()


@pytest.mark.parametrize(
    "args",
    [
        ("--restore-saved", "--discard-saved"),
        ("--restore-saved", str(SMART_ID)),
        ("--discard-saved", "--on", "da01"),
        ("--restore-saved", "-t", "iptables"),
        ("--discard-saved", "--force"),
        ("--on", "da01"),
        (str(SMART_ID),),
    ],
)
def test_saved_copy_options_are_checked(args: tuple[str, ...]) -> None:
    result = subprocess.run(
        [*PORTPLAN, "apply", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_saved_copy_options_ignore_what_the_environment_fills_in(nft_namespace: str) -> None:
    # PORTPLAN_APPLY_ON names the host an operator applies on; it made --restore-saved, the
    # way out of a failed restore, refuse as if --on had been typed
    env = {**os.environ, "PORTPLAN_APPLY_ON": "da01"}
    for flag in ("--restore-saved", "--discard-saved"):
        result = apply_once(nft_namespace, flag, env=env)
        assert result.returncode == 3, result.stderr
        assert "no saved ruleset waits to be restored on this host" in result.stderr


def test_an_apply_killed_with_its_watchdog_blocks_the_next_until_restored(
    nft_namespace: str,
) -> None:
    # portplan and its watchdog both killed (the OOM killer, systemctl kill -s KILL): nobody
    # recorded an outcome, the new ruleset stays unconfirmed, and the next apply took it for
    # "the previous one", to restore should it not be confirmed
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    before = nft_state(nft_namespace)
    folders = _folders()
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=60)
    try:
        [watchdog] = _watchdogs(nft_namespace)
        os.kill(process.pid, signal.SIGKILL)  # first: it would restore on its watchdog's end
        os.kill(watchdog, signal.SIGKILL)
    finally:
        finish(process)
    [orphan] = _folders() - folders
    try:
        assert not (orphan / "outcome").exists()
        assert nft_state(nft_namespace) != before  # the unconfirmed ruleset is in force
        refused = apply_once(nft_namespace, str(SMART_ID), "--on", "da01", env=env)
        assert refused.returncode == 3, refused.stderr
        assert "never settled" in refused.stderr, refused.stderr
        restored = apply_once(nft_namespace, "--restore-saved", env=env)
        assert restored.returncode == 0, restored.stderr
        assert nft_state(nft_namespace) == before
        assert not orphan.exists()
    finally:
        shutil.rmtree(orphan, ignore_errors=True)


def test_a_restore_tool_that_is_gone_does_not_keep_the_other_family_new(
    iptables_namespace: str, tmp_path: Path
) -> None:
    # iptables-restore is gone when the rollback comes (an upgrade replacing it, say): the
    # IPv6 table and the address sets, whose tools are there, must come back all the same;
    # they stayed new, as the missing tool ended the whole restore before it reached them
    tools = tmp_path / "tools"  # every command of this machine but iptables-restore
    tools.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for command in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if command.name != "iptables-restore" and not (tools / command.name).exists():
                (tools / command.name).symlink_to(command)
    real = shutil.which("iptables-restore")
    assert real is not None
    first = tmp_path / "first"
    first.mkdir()
    wrapper = first / "iptables-restore"
    # loads portplan's IPv4 rules for real, then is gone; everything else goes to the real tool
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --test "*|*" --help "*) exec {real} "$@";; esac\n'
        "input=$(cat)\n"
        'case "$input" in *"portplan iptables-restore ruleset"*)\n'
        f'  printf "%s\\n" "$input" | {real} "$@"; status=$?; rm -f "$0"; exit $status;; esac\n'
        f'printf "%s\\n" "$input" | exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    v6_before = run_in(iptables_namespace, "ip6tables-save", "-t", "filter")
    sets_before = run_in(iptables_namespace, "ipset", "save")
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{first}:{tools}"
    folders = _folders()
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    try:
        result = apply_once(iptables_namespace, *args, env=env)
        assert not wrapper.exists()  # (the new IPv4 rules went in)
        assert result.returncode == 3, result.stderr
        said = " ".join(result.stderr.split())
        assert "iptables-restore is not installed" in said
        assert "portplan apply --restore-saved" in said  # the copy is kept, for the operator
        assert "shopping-6.1/console-sql" in run_in(iptables_namespace, "iptables-save")
        # what could be put back was
        strip = re.compile(r"(?m)^#.*\n| \[\d+:\d+\]")
        after = run_in(iptables_namespace, "ip6tables-save", "-t", "filter")
        assert strip.sub("", after) == strip.sub("", v6_before)
        # the old set as it was; the new one stays, with its own members, as the new IPv4
        # rules that could not be put back still name it (its members must never be the old
        # ones: those rules would then match the old plan's peers)
        sets_after = run_in(iptables_namespace, "ipset", "save")
        assert set(sets_before.splitlines()) <= set(sets_after.splitlines())
        rules = run_in(iptables_namespace, "iptables-save", "-t", "filter")
        (in_force,) = set(re.findall(r"--match-set (\S+) ", rules))
        assert set(re.findall(r"(?m)^create (\S+) ", sets_after)) == {"portplan_v4_1", in_force}
        assert f"add {in_force} 192.0.2.10\n" in sets_after
    finally:
        for folder in _folders() - folders:
            shutil.rmtree(folder, ignore_errors=True)
