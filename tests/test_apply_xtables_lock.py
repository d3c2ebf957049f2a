"""`portplan apply -t iptables` with the legacy iptables tools, in a network namespace, while
another program holds the xtables lock: apply waits for it (``-w``) rather than failing.

The lock is a file the legacy tools of the whole machine share (``/run/xtables.lock``):
holding it in a test would stall Docker or fail2ban here.  The tools read its path from
``XTABLES_LOCKFILE``, so the test holds a lock file of its own and gives apply that one."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import netns
from portplan.targets.apply.iptables import XTABLES_WAIT
from test_apply_rollback import (
    ADMIN_PC,
    IP6TABLES_BEFORE,
    IPTABLES_BEFORE,
    SHOPPING,
    apply_once,
    iptables_state,
    run_in,
)

pytestmark = pytest.mark.netns

HOLD = 3.0  #: seconds the lock is held


def test_iptables_apply_waits_for_the_xtables_lock(tmp_path: Path) -> None:
    legacy = shutil.which("xtables-legacy-multi")
    reason = netns.unavailable("ipset", "flock") or (
        None if legacy else "the legacy iptables tools are not installed"
    )
    if reason:
        pytest.skip(reason)
    assert legacy is not None
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save"):
        (tools / tool).symlink_to(legacy)  # (the multi-call binary goes by its name)
    lock = tmp_path / "xtables.lock"
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env.update(PATH=f"{tools}:{os.environ['PATH']}", XTABLES_LOCKFILE=str(lock))
    with netns.namespace() as ns:
        netns.hold_addresses(ns, ADMIN_PC)  # this namespace is admin-pc
        run_in(ns, "iptables-legacy-restore", stdin=IPTABLES_BEFORE)
        run_in(ns, "ip6tables-legacy-restore", stdin=IP6TABLES_BEFORE)
        before = iptables_state(ns, "-legacy")
        holder = subprocess.Popen(["flock", str(lock), "sleep", str(HOLD)])
        try:
            deadline = time.monotonic() + 10
            while subprocess.run(["flock", "-n", str(lock), "true"], check=False).returncode == 0:
                assert time.monotonic() < deadline, "the lock was not taken"
                time.sleep(0.05)
            started = time.monotonic()
            args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
            result = apply_once(ns, *args, "-v", env=env)
            took = time.monotonic() - started
        finally:
            holder.kill()
            holder.wait(timeout=10)
        said = " ".join(result.stderr.split())
        # applied (after the wait), not confirmed, rolled back: not "another app holds the lock"
        assert result.returncode == 1, result.stderr
        assert "not confirmed: the previous ruleset is restored" in said
        assert f"running: iptables-restore -w {XTABLES_WAIT}" in said
        assert f"running: ip6tables-restore -w {XTABLES_WAIT}" in said
        assert took > HOLD - 1  # it did wait for the lock
        assert iptables_state(ns, "-legacy") == before
