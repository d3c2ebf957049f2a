"""What happens to `portplan apply` while the new ruleset loads, in network namespaces: a
watchdog that restores the saved ruleset before the load has ended (its state folder gone,
as after a clean-up of its folder; `systemctl stop` of the unit, which sends SIGTERM to
apply and its watchdog alike) restored a ruleset the load then replaced; apply must not
leave the new one in force, unconfirmed, with nothing left to restore it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from test_apply_rollback import (
    PORTPLAN,
    SHOPPING,
    SMART_ID,
    _process_state,
    _watchdog_of,
    expected_status,
    finish,
    iptables_namespace,
    iptables_state,
    nft_namespace,
    nft_state,
    wait_for,
)

pytestmark = pytest.mark.netns

__all__ = ["iptables_namespace", "nft_namespace"]  # (fixtures, used by name)

#: seconds the load of the new ruleset takes in these tests
SLOW = 5


def _slow_load(ns: str, tool: str, new: str, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A ``tool`` that, in ``ns``, loads the new ruleset (its input holds ``new``) only after
    :data:`SLOW` seconds, touching a file as it starts waiting: the environment that puts it
    first, and that file.  Checks (``-c``, ``--test``) and everything else run at once."""
    real = shutil.which(tool)
    assert real is not None
    loading = tmp_path / "loading"
    wrapper = tmp_path / tool
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" -c "*|*" --test "*|*" --help "*|*" list "*) exec {real} "$@";; esac\n'
        f'[ "$(ip netns identify)" = {ns} ] || exec {real} "$@"\n'
        "input=$(cat)\n"
        f'case "$input" in *"{new}"*) touch {loading}; sleep {SLOW};; esac\n'
        f'printf "%s\\n" "$input" | exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    return env, loading


CASES = {
    # the applier, the tool slowed, what its new ruleset holds, the namespace, how to read it
    "nftables": (
        ("-t", "nftables", str(SMART_ID), "--on", "da01"),
        "nft",
        "portplan nftables ruleset",
        "nft_namespace",
        nft_state,
    ),
    "iptables": (  # the last family: sets and IPv4 went in before it
        ("-t", "iptables", str(SHOPPING), "--on", "admin-pc", "--egress", "--force"),
        "ip6tables-restore",
        "portplan ip6tables-restore ruleset",
        "iptables_namespace",
        iptables_state,
    ),
}


@pytest.mark.parametrize("stop", ["folder-removed", "systemctl-stop"])
@pytest.mark.parametrize("case", CASES)
def test_a_watchdog_that_restores_during_the_load_does_not_leave_the_new_ruleset(
    case: str, stop: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    args, tool, new, fixture, state = CASES[case]
    ns: str = request.getfixturevalue(fixture)
    read: Callable[[str], str] = state
    env, loading = _slow_load(ns, tool, new, tmp_path)
    before = read(ns)
    process = subprocess.Popen(
        ["ip", "netns", "exec", ns, *PORTPLAN, "apply", *args],
        stdin=subprocess.PIPE,  # (left open: nothing confirms, nothing refuses)
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        wait_for(loading.exists, 60)
        pid, folder = _watchdog_of(ns)
        if stop == "folder-removed":
            shutil.rmtree(folder)  # the watchdog restores at once: the load has not ended yet
        else:  # both: apply holds it until the load ends, the watchdog restores at once
            os.kill(process.pid, signal.SIGTERM)  # (`ip netns exec` ran portplan in its place)
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: _process_state(pid) == "Z", SLOW - 1)  # (ended before the load)
        assert process.poll() is None
        status, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    said = " ".join(err.split())
    assert read(ns) == before, said  # not the new ruleset, unconfirmed
    assert "Traceback" not in err
    if stop == "folder-removed":
        assert status == 3, said
        assert "before the new one had loaded" in said and "the previous ruleset is back" in said
    else:
        assert status == expected_status(signal.SIGTERM), said
        assert "stopped while applying: the previous ruleset is restored" in said
    assert not folder.exists()  # restored: no saved copy waits
