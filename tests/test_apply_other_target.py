"""`portplan apply` after switching targets, in network namespaces: the ruleset an apply of
the other host target loaded (`table inet portplan`, or portplan's iptables filter tables)
would keep filtering beside the new one, unseen by the lockout checks, so apply and --check
refuse while it is there (exit status 2, nothing changed), and the way out they name works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import examples
import netns
from applying import apply_da01 as apply

pytestmark = pytest.mark.netns

PORTPLAN = [sys.executable, "-m", "portplan"]
SMART_ID = examples.EXAMPLES / "smart-id-nexus.yaml"


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace holding da01's address, as da01 does."""
    reason = netns.unavailable("nft", "iptables-restore", "ip6tables-restore")
    if reason:
        pytest.skip(reason)
    with netns.namespace() as name:
        netns.hold_addresses(name, "192.0.2.40")
        yield name


def run_in(ns: str, *argv: str, stdin: str | None = None) -> str:
    return netns.run(["ip", "netns", "exec", ns, *argv], stdin=stdin).stdout


def rendered(target: str, tmp_path: Path) -> dict[str, str]:
    """da01's files of ``target``, as `portplan rules` writes them."""
    out = tmp_path / target
    out.mkdir()
    subprocess.run(
        [*PORTPLAN, "rules", str(SMART_ID), "-t", target, "--host", "da01", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return {path.name: path.read_text() for path in out.iterdir()}


def state(ns: str) -> str:
    """Every table of nftables (iptables-nft's too) and the legacy filter tables."""
    parts = [run_in(ns, "nft", "list", "ruleset")]
    for save in ("iptables-legacy-save", "ip6tables-legacy-save"):
        if shutil.which(save):
            parts.append(re.sub(r"(?m)^#.*\n", "", run_in(ns, save)))
    return "\n".join(parts)


def commands(said: str) -> list[str]:
    """The commands between backquotes that the refusal gives for removing the ruleset."""
    return [c for c in re.findall(r"`([^`]+)`", said) if not c.startswith("portplan ")]


def test_iptables_is_refused_while_portplans_nftables_table_filters(
    namespace: str, tmp_path: Path
) -> None:
    (nft,) = rendered("nftables", tmp_path).values()
    run_in(namespace, "nft", "-f", "-", stdin=nft)
    before = state(namespace)
    for check in ((), ("--check",)):
        refused = apply(namespace, "-t", "iptables", "--confirm-timeout", "1", *check)
        assert refused.returncode == 2, refused.stderr
        said = " ".join(refused.stderr.split())
        assert "table inet portplan" in said and "nothing was changed" in said
        assert "Traceback" not in said
        assert state(namespace) == before
    # the way out it names: look, then delete the table; then apply goes ahead (and, not
    # confirmed, rolls back)
    assert commands(said) == ["nft list table inet portplan", "nft delete table inet portplan"]
    for command in commands(said):
        run_in(namespace, *command.split())
    went = apply(namespace, "-t", "iptables", "--confirm-timeout", "1")
    assert went.returncode == 1 and "previous ruleset is restored" in went.stderr, went.stderr


def test_nftables_is_refused_while_portplans_iptables_tables_filter(
    namespace: str, tmp_path: Path
) -> None:
    files = rendered("iptables", tmp_path)
    run_in(namespace, "iptables-restore", stdin=files["da01.v4"])
    run_in(namespace, "ip6tables-restore", stdin=files["da01.v6"])
    before = state(namespace)
    for check in ((), ("--check",)):
        refused = apply(namespace, "-t", "nftables", "--confirm-timeout", "1", *check)
        assert refused.returncode == 2, refused.stderr
        said = " ".join(refused.stderr.split())
        assert "apply -t iptables" in said and "nothing was changed" in said
        assert "IPv4" in said and "IPv6" in said and "Traceback" not in said
        assert state(namespace) == before
    steps = [c for c in commands(said) if " -P " in c]
    assert steps, said
    for step in steps:  # policies before flushing: no moment drops the session
        for command in step.split(" && "):
            run_in(namespace, *command.split())
    went = apply(namespace, "-t", "nftables", "--confirm-timeout", "1")
    assert went.returncode == 1 and "previous ruleset is restored" in went.stderr, went.stderr


def test_an_operators_own_tables_do_not_count(namespace: str) -> None:
    """Filter tables of the operator's own (no rule of portplan's) and other nftables tables
    are no reason to refuse."""
    run_in(
        namespace,
        "iptables-restore",
        stdin="*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n"
        '-A INPUT -p tcp --dport 22 -m comment --comment "ssh" -j ACCEPT\nCOMMIT\n',
    )
    run_in(namespace, "nft", "add", "table", "inet", "operator")
    for target in ("nftables", "iptables"):
        checked = apply(namespace, "-t", target, "--check")
        assert checked.returncode == 0, checked.stderr


def test_an_operators_accepting_table_with_a_loopback_comment_does_not_count(
    namespace: str,
) -> None:
    """A rule commented `loopback` in a table of the operator's whose policies accept: it
    drops nothing beside the nftables table, and is no ruleset of portplan's (whose tables
    have drop policies).  Before: refused as `apply -t iptables`'s ruleset, "its INPUT policy
    drops", with the advice to flush the operator's chains."""
    run_in(
        namespace,
        "iptables-restore",
        stdin="*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        '-A INPUT -i lo -m comment --comment "loopback" -j ACCEPT\nCOMMIT\n',
    )
    checked = apply(namespace, "-t", "nftables", "--check")
    assert checked.returncode == 0, checked.stderr


def test_portplans_table_with_its_input_policy_accepting_still_counts(
    namespace: str, tmp_path: Path
) -> None:
    """Portplan's iptables ruleset with INPUT set to ACCEPT since still drops what it forwards
    (FORWARD DROP), and says so."""
    files = rendered("iptables", tmp_path)
    run_in(namespace, "iptables-restore", stdin=files["da01.v4"])
    run_in(namespace, "iptables", "-P", "INPUT", "ACCEPT")
    refused = apply(namespace, "-t", "nftables", "--check")
    assert refused.returncode == 2, refused.stderr
    said = " ".join(refused.stderr.split())
    assert "apply -t iptables" in said and "policies drop (FORWARD)" in said, said


def test_iptables_is_refused_while_the_other_backends_portplan_tables_filter(
    namespace: str, tmp_path: Path
) -> None:
    """portplan's iptables ruleset loaded with the other backend's tools (the alternatives
    switched since, a distribution upgrade): apply -t iptables saves, replaces and rolls back
    only the tables of the tools `iptables-restore` names, so that one kept filtering beside
    the new ruleset, unseen by the lockout checks.  Before: applied (and kept) beside it."""
    version = subprocess.run(
        ["iptables-save", "-V"], capture_output=True, text=True, check=True
    ).stdout
    other = "legacy" if "nf_tables" in version else "nft"
    if not shutil.which(f"iptables-{other}-restore"):
        pytest.skip(f"the {other} iptables tools are not installed")
    files = rendered("iptables", tmp_path)
    run_in(namespace, f"iptables-{other}-restore", stdin=files["da01.v4"])
    run_in(namespace, f"ip6tables-{other}-restore", stdin=files["da01.v6"])
    before = state(namespace)
    for check in ((), ("--check",)):
        refused = apply(namespace, "-t", "iptables", "--confirm-timeout", "1", *check)
        assert refused.returncode == 2, refused.stderr
        said = " ".join(refused.stderr.split())
        assert f"the {other} iptables backend's filter tables hold a ruleset" in said, said
        assert f"(iptables-{other})" in said and f"(ip6tables-{other})" in said, said
        assert "nothing was changed" in said and "Traceback" not in said
        assert state(namespace) == before
    steps = [c for c in commands(said) if " -P " in c]
    assert steps, said
    for step in steps:  # the way out it names: policies before flushing
        for command in step.split(" && "):
            run_in(namespace, *command.split())
    went = apply(namespace, "-t", "iptables", "--confirm-timeout", "1")
    assert went.returncode == 1 and "previous ruleset is restored" in went.stderr, went.stderr
