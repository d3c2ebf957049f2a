"""`portplan apply` as `commit confirmed`, in network namespaces: whatever ends the wait for
'yes' (SIGKILL, SIGTERM, SIGHUP, SIGINT, SIGQUIT), the previous ruleset (tables, chains, sets
and their members) is back within the timeout plus one second; iptables' two families and its
address sets go and come back as one unit; and rules nft cannot load back (iptables-nft's
xtables compat expressions) are never touched."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import examples
import netns

pytestmark = pytest.mark.netns

PORTPLAN = [sys.executable, "-m", "portplan"]
TIMEOUT = 3  #: --confirm-timeout of these tests, in seconds
SMART_ID = examples.EXAMPLES / "smart-id-nexus.yaml"
SHOPPING = examples.EXAMPLES / "shopping-contoso.yaml"
DA01 = "192.0.2.40"  #: the address of da01 in SMART_ID
ADMIN_PC = "198.51.100.5"  #: the address of admin-pc in SHOPPING

#: what was running before: an operator's own table, and an older portplan table
NFT_BEFORE = """\
table inet operator {
\tchain input {
\t\ttype filter hook input priority 0; policy accept;
\t\ttcp dport 2222 accept
\t}
}
table inet portplan {
\tset old_peers {
\t\ttype ipv4_addr
\t\telements = { 192.0.2.250 }
\t}
\tchain input {
\t\ttype filter hook input priority 0; policy accept;
\t\tip saddr @old_peers tcp dport 9999 accept
\t}
}
"""
#: an older filter table and an older portplan set (its members must come back)
IPTABLES_BEFORE = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT
COMMIT
"""
IP6TABLES_BEFORE = IPTABLES_BEFORE.replace("2222", "2223")


def run_in(ns: str, *argv: str, stdin: str | None = None) -> str:
    return netns.run(["ip", "netns", "exec", ns, *argv], stdin=stdin).stdout


def nft_state(ns: str) -> str:
    """The ruleset, one table after the other in name order (a table deleted and loaded again
    comes last in `nft list ruleset`; that is no change)."""
    text = run_in(ns, "nft", "list", "ruleset")
    tables = re.split(r"^(?=table )", text, flags=re.MULTILINE)
    return "".join(sorted(t for t in tables if t.strip()))


def iptables_state(ns: str, suffix: str = "") -> str:
    """Both filter tables and every address set, without counters and save dates; ``suffix``
    ``-legacy`` reads the tables of the legacy tools."""
    parts = [
        run_in(ns, f"iptables{suffix}-save", "-t", "filter"),
        run_in(ns, f"ip6tables{suffix}-save", "-t", "filter"),
        run_in(ns, "ipset", "save"),
    ]
    lines = [
        line.split(" [")[0]
        for text in parts
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]
    return "\n".join(lines)


@pytest.fixture
def nft_namespace() -> Iterator[str]:
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    with netns.namespace() as name:
        netns.hold_addresses(name, DA01)  # this namespace is da01 (SMART_ID)
        run_in(name, "nft", "-f", "-", stdin=NFT_BEFORE)
        yield name


@pytest.fixture
def iptables_namespace() -> Iterator[str]:
    reason = netns.unavailable("nft") or netns.unavailable("ipset")
    if reason:
        pytest.skip(reason)
    with netns.namespace() as name:
        netns.hold_addresses(name, ADMIN_PC)  # this namespace is admin-pc (SHOPPING)
        run_in(name, "ipset", "create", "portplan_v4_1", "hash:net", "family", "inet")
        run_in(name, "ipset", "add", "portplan_v4_1", "192.0.2.250")
        run_in(name, "iptables-restore", stdin=IPTABLES_BEFORE)
        run_in(name, "ip6tables-restore", stdin=IP6TABLES_BEFORE)
        yield name


def held(ns: str, *addresses: str) -> str:
    """``ns``, once it holds ``addresses`` (the host's: apply refuses another machine)."""
    netns.hold_addresses(ns, *addresses)
    return ns


@contextlib.contextmanager
def applying(ns: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`portplan apply` in the namespace, once it waits for 'yes'; ended and its pipes closed
    when the block ends, however it ends."""
    process = start_apply(ns, *args)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def start_apply(
    ns: str, *args: str, env: dict[str, str] | None = None, timeout: int = TIMEOUT
) -> subprocess.Popen[str]:
    """`portplan apply` in the namespace, waiting (``timeout`` seconds) for 'yes' that never
    comes."""
    environment = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    environment.update(env or {})
    process = subprocess.Popen(
        ["ip", "netns", "exec", ns, *PORTPLAN, "apply", *args, "--confirm-timeout", str(timeout)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    said = ""
    while "Type 'yes'" not in said:
        line = process.stderr.readline()
        assert line or process.poll() is None, f"apply ended early: {said}"
        assert time.monotonic() < deadline, said
        said += line
    return process


def apply_once(ns: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`portplan apply` in the namespace with no input (nothing confirms), to its end."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, *PORTPLAN, "apply", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the process, closing its pipes; its exit status and the rest of its stderr."""
    try:
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    return process.returncode, err


def expected_status(signum: int) -> int:
    """How portplan ends on a signal: killed outright by SIGKILL, 130 on Ctrl-C, 128+N."""
    if signum == signal.SIGKILL:
        return -signal.SIGKILL  # (Popen's way of saying "killed by a signal")
    return 130 if signum == signal.SIGINT else 128 + signum


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition`` until it holds; the seconds it took (fails after ``seconds``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "not in time"
        time.sleep(0.05)
    return time.monotonic() - start


def no_watchdog_left() -> bool:
    found = subprocess.run(
        ["pgrep", "-f", "portplan.targets.apply.watchdog"], capture_output=True, check=False
    )
    return found.returncode != 0


SIGNALS = [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT]


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_nftables_comes_back_whatever_ends_the_wait(nft_namespace: str, signum: int) -> None:
    before = nft_state(nft_namespace)
    with applying(nft_namespace, str(SMART_ID), "--on", "da01") as process:
        applied = time.monotonic()
        assert "management/ssh" in nft_state(nft_namespace)  # the new ruleset is in force
        process.send_signal(signum)
        took = wait_for(lambda: nft_state(nft_namespace) == before, TIMEOUT + 1)
        if signum != signal.SIGKILL:  # caught: restored at once, not at the deadline
            assert time.monotonic() - applied < TIMEOUT, took
        status, err = finish(process)
    assert status == expected_status(signum), err
    wait_for(no_watchdog_left, 10)
    assert nft_state(nft_namespace) == before


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_iptables_and_its_sets_come_back_whatever_ends_the_wait(
    iptables_namespace: str, signum: int
) -> None:
    before = iptables_state(iptables_namespace)
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    with applying(iptables_namespace, *args) as process:
        applied = time.monotonic()
        now = iptables_state(iptables_namespace)
        assert "shopping-6.1/console-sql" in now  # the new rules, with their own sets...
        assert re.search(r"^add portplan_v4_[0-9a-f]{12} 192\.0\.2\.10$", now, re.MULTILINE)
        assert "add portplan_v4_1 192.0.2.250" in now  # ...beside the old one, left alone
        process.send_signal(signum)
        wait_for(lambda: iptables_state(iptables_namespace) == before, TIMEOUT + 1)
        if signum != signal.SIGKILL:
            assert time.monotonic() - applied < TIMEOUT
        status, err = finish(process)
    assert status == expected_status(signum), err
    wait_for(no_watchdog_left, 10)
    assert iptables_state(iptables_namespace) == before


def test_an_unconfirmed_iptables_apply_brings_back_the_old_set_members(
    iptables_namespace: str,
) -> None:
    before = iptables_state(iptables_namespace)
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    with applying(iptables_namespace, *args) as process:
        assert process.stdin is not None
        process.stdin.write("no\n")
        process.stdin.flush()
        status, err = finish(process)
    assert status == 1, err
    assert "not confirmed: the previous ruleset is restored" in err
    assert iptables_state(iptables_namespace) == before
    assert "add portplan_v4_1 192.0.2.250" in before


def test_a_failing_second_family_brings_both_back(iptables_namespace: str, tmp_path: Path) -> None:
    real = shutil.which("ip6tables-restore")
    assert real is not None
    wrapper = tmp_path / "ip6tables-restore"
    # fails the real load of portplan's IPv6 rules, as a kernel refusing them would; the
    # checker's --test and every other load go to the real tool
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --test "*) exec {real} "$@";; esac\n'
        "input=$(cat)\n"
        'case "$input" in *"portplan ip6tables-restore ruleset"*)\n'
        '  echo "ip6tables-restore: line 9 failed" >&2; exit 1;; esac\n'
        f'printf "%s\\n" "$input" | exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    before = iptables_state(iptables_namespace)
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    env.pop("SSH_CONNECTION", None)
    result = apply_once(iptables_namespace, *args, env=env)
    assert result.returncode == 3, result.stderr
    assert "the previous ruleset is back" in result.stderr
    assert iptables_state(iptables_namespace) == before
    wait_for(no_watchdog_left, 10)


def test_compat_rules_of_iptables_nft_are_never_touched(nft_namespace: str) -> None:
    if shutil.which("iptables-nft") is None:
        pytest.skip("iptables-nft is not installed")
    # a rule nft can list but not load back ("unsupported xtables compat expression")
    run_in(nft_namespace, "iptables-nft", "-A", "INPUT", "-m", "recent", "--name", "x", "--set")
    before = nft_state(nft_namespace)
    assert "xt match" in before or "recent" in before
    with applying(nft_namespace, str(SMART_ID), "--on", "da01") as process:
        assert process.stdin is not None
        process.stdin.write("no\n")
        process.stdin.flush()
        status, err = finish(process)
    assert status == 1, err
    assert nft_state(nft_namespace) == before  # the compat rule, the operator's table, all


def _slow_wrapper(folder: Path, tool: str, loading: str, marker: Path) -> dict[str, str]:
    """A ``tool`` in ``folder`` that, on the load ``loading`` (a shell ``case`` pattern of its
    arguments and input), loads for real, then touches ``marker`` and takes 3 s to return:
    a signal can arrive while apply is loading.  The environment that puts it first."""
    real = shutil.which(tool)
    assert real is not None
    wrapper = folder / tool
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" -c "*|*" --test "*) exec {real} "$@";; esac\n'  # checks
        # nft reads a ruleset only from `-f -`; the restore tools always read one
        f'case "{tool} $* " in *" -f - "*|*-restore*) ;; *) exec {real} "$@";; esac\n'
        "input=$(cat)\n"
        f'case " $* $input" in {loading})\n'
        f'  printf "%s\\n" "$input" | {real} "$@"; status=$?\n'
        f"  touch {marker}; sleep 3; exit $status;;\n"
        "esac\n"
        f'printf "%s\\n" "$input" | exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{folder}:{os.environ['PATH']}"
    return env


#: the real load of each target's new ruleset (not a check, a save or a restore)
SLOW_LOADS = {
    "nftables": ("nft", '*" -f - "*"table inet portplan {"*'),
    "iptables": ("ip6tables-restore", '*"portplan ip6tables-restore ruleset"*'),
}


WHILE_LOADING = [signal.SIGTERM, signal.SIGINT, signal.SIGKILL]


@pytest.mark.parametrize("signum", WHILE_LOADING, ids=[s.name for s in WHILE_LOADING])
@pytest.mark.parametrize("target", sorted(SLOW_LOADS))
def test_a_signal_while_loading_brings_the_previous_ruleset_back(
    request: pytest.FixtureRequest, target: str, signum: int, tmp_path: Path
) -> None:
    if target == "nftables":
        ns = request.getfixturevalue("nft_namespace")
        args: tuple[str, ...] = (str(SMART_ID), "--on", "da01")
        state = nft_state
    else:
        ns = request.getfixturevalue("iptables_namespace")
        args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
        state = iptables_state
    marker = tmp_path / "loading"
    env = _slow_wrapper(tmp_path, *SLOW_LOADS[target], marker)
    before = state(ns)
    process = subprocess.Popen(
        ["ip", "netns", "exec", ns, *PORTPLAN, "apply", *args, "--confirm-timeout", "30"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        wait_for(marker.exists, 60)
        assert state(ns) != before  # loading: (part of) the new ruleset is in force
        process.send_signal(signum)
        status, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert status == expected_status(signum), err
    if signum == signal.SIGKILL:  # the watchdog sees its owner gone, and the load died with it
        wait_for(lambda: state(ns) == before, 5)
    else:
        assert "stopped while applying: the previous ruleset is restored" in err
    assert state(ns) == before  # at once: not at a deadline minutes away
    wait_for(no_watchdog_left, 10)


def test_a_second_apply_is_refused_while_the_first_waits(nft_namespace: str) -> None:
    before = nft_state(nft_namespace)
    with applying(nft_namespace, str(SMART_ID), "--on", "da01") as first:
        applied = nft_state(nft_namespace)
        env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
        second = apply_once(nft_namespace, str(SMART_ID), "--on", "da01", "--egress", env=env)
        assert second.returncode == 3, second.stderr
        assert "another portplan apply on this host is still waiting" in second.stderr
        assert "Traceback" not in second.stderr
        assert nft_state(nft_namespace) == applied  # the second one changed nothing
        assert first.stdin is not None
        first.stdin.write("no\n")
        first.stdin.flush()
        status, err = finish(first)
    assert status == 1, err
    assert nft_state(nft_namespace) == before  # the first one's rollback is the real previous
    wait_for(no_watchdog_left, 10)


def test_applies_in_two_network_namespaces_do_not_wait_for_each_other(
    nft_namespace: str,
) -> None:
    with (
        netns.namespace() as other,
        applying(nft_namespace, str(SMART_ID), "--on", "da01") as first,
        applying(held(other, DA01), str(SMART_ID), "--on", "da01") as second,
    ):
        for process in (first, second):
            assert process.stdin is not None
            process.stdin.write("no\n")
            process.stdin.flush()
            status, err = finish(process)
            assert status == 1, err
    wait_for(no_watchdog_left, 10)


#: an IPv4 filter table written with nft: iptables-save shows its SSH rule without the set
NATIVE_FILTER = """\
table ip filter {
\tset admins {
\t\ttype ipv4_addr
\t\telements = { 192.0.2.250 }
\t}
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr @admins tcp dport 22 accept
\t\ttcp dport 2222 accept
\t}
}
"""


def no_portplan_table(ns: str) -> None:
    """Remove the fixture's older portplan nftables table: with it in force, apply -t iptables
    refuses before anything else (tests/test_apply_other_target.py)."""
    run_in(ns, "nft", "delete", "table", "inet", "portplan")


def test_iptables_refuses_a_filter_table_iptables_save_cannot_show(nft_namespace: str) -> None:
    if (
        "nf_tables"
        not in subprocess.run(
            ["iptables-save", "-V"], capture_output=True, text=True, check=False
        ).stdout
    ):
        pytest.skip("the iptables tools here are not the nf_tables ones")
    no_portplan_table(nft_namespace)
    run_in(nft_namespace, "nft", "-f", "-", stdin=NATIVE_FILTER)
    before = nft_state(nft_namespace)
    assert "-s 192.0.2.250" not in run_in(nft_namespace, "iptables-save", "-t", "filter")
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    result = apply_once(nft_namespace, *args, env=env)
    assert result.returncode == 3, result.stderr
    assert "the running IPv4 filter table holds what iptables-save cannot show" in result.stderr
    assert "set admins" in result.stderr and "chain INPUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert nft_state(nft_namespace) == before  # nothing was changed


def test_iptables_applies_over_tables_iptables_nft_made_itself(nft_namespace: str) -> None:
    # iptables-nft makes a built-in chain only when a rule needs it, where iptables-save names
    # all three: that, and its compat expressions, are no reason to refuse
    no_portplan_table(nft_namespace)
    run_in(nft_namespace, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT")
    run_in(nft_namespace, "iptables", "-A", "INPUT", "-m", "recent", "--name", "x", "--set")
    before = iptables_state(nft_namespace)
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    with applying(nft_namespace, *args) as process:
        assert "shopping-6.1/console-sql" in iptables_state(nft_namespace)
        assert process.stdin is not None
        process.stdin.write("no\n")
        process.stdin.flush()
        status, err = finish(process)
    assert status == 1, err
    assert iptables_state(nft_namespace) == before
    assert "--dport 2222" in before and "-m recent" in before


def _process_state(pid: int) -> str:
    """A process's state letter (``Z``: ended, not yet waited for by its parent)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def test_a_killed_apply_its_parent_has_not_waited_for_is_rolled_back_at_once(
    nft_namespace: str,
) -> None:
    # a parent busy elsewhere leaves a killed portplan a zombie: still in /proc, with its pid
    # and start time, but it can confirm nothing; the watchdog must not wait for the deadline
    before = nft_state(nft_namespace)
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=60)
    try:
        assert "management/ssh" in nft_state(nft_namespace)
        process.kill()  # SIGKILL, and no wait(): Popen reaps only in poll(), wait(), communicate()
        wait_for(lambda: _process_state(process.pid) == "Z", 5)
        wait_for(lambda: nft_state(nft_namespace) == before, 5)  # not 60 s
        assert _process_state(process.pid) == "Z"  # (restored while nobody had waited for it)
    finally:
        finish(process)
    wait_for(no_watchdog_left, 10)


def test_a_put_back_that_fails_once_gets_a_second_try_from_the_saved_copy(
    iptables_namespace: str, tmp_path: Path
) -> None:
    # the new IPv6 rules fail to load after the IPv4 ones went in; putting the IPv4 table back
    # fails once (a busy lock, a kernel out of memory): the host must not stay half new
    tried = tmp_path / "tried"
    here = f'[ "$(ip netns identify)" = {iptables_namespace} ]'  # (not in a scratch namespace)
    for tool, matches, when in (
        ("ip6tables-restore", "portplan ip6tables-restore ruleset", "true"),
        # the saved IPv4 table (iptables-save's header), the first time it is loaded back here
        ("iptables-restore", "Generated by iptables-save", f"{here} && [ ! -e {tried} ]"),
    ):
        real = shutil.which(tool)
        assert real is not None
        wrapper = tmp_path / tool
        wrapper.write_text(
            "#!/bin/sh\n"
            f'case " $* " in *" --test "*) exec {real} "$@";; esac\n'
            "input=$(cat)\n"
            f'if case "$input" in *"{matches}"*) {when};; *) false;; esac; then\n'
            f"  [ {tool} = iptables-restore ] && touch {tried}\n"
            f'  echo "{tool}: line 9 failed" >&2; exit 1\n'
            "fi\n"
            f'printf "%s\\n" "$input" | exec {real} "$@"\n'
        )
        wrapper.chmod(0o755)
    before = iptables_state(iptables_namespace)
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    env["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    result = apply_once(iptables_namespace, *args, env=env)
    assert result.returncode == 3, result.stderr
    assert iptables_state(iptables_namespace) == before  # both families, and the sets
    assert tried.exists()  # (putting the IPv4 table back did fail once)
    said = " ".join(result.stderr.split())
    assert "applying with ip6tables-restore failed" in said
    assert "ip6tables-restore: line 9 failed; the previous ruleset is back" in said
    wait_for(no_watchdog_left, 10)


def _watchdog_of(ns: str) -> tuple[int, Path]:
    """The pid of the watchdog running in ``ns``, and its state folder."""
    for pid in netns.run(["ip", "netns", "pids", ns]).stdout.split():
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"portplan.targets.apply.watchdog" in argv:
                return int(pid), Path(
                    argv[argv.index(b"portplan.targets.apply.watchdog") + 1].decode()
                )
    raise AssertionError(f"no watchdog in {ns}")


def test_a_killed_watchdog_brings_the_previous_ruleset_back_at_once(nft_namespace: str) -> None:
    # without its watchdog, nothing would restore the saved ruleset should portplan itself be
    # killed (SIGKILL, the OOM killer): it is restored now rather than kept waiting for 'yes'
    before = nft_state(nft_namespace)
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=60)
    try:
        pid, folder = _watchdog_of(nft_namespace)
        assert folder.is_dir()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: nft_state(nft_namespace) == before, 5)  # not 60 s
        status, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert status == 3, err
    assert "the watchdog ended before the new ruleset was confirmed" in " ".join(err.split())
    assert not folder.exists()  # (the watchdog had no time to remove it: portplan did)
