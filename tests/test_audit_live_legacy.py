"""``audit --live`` on a machine where nftables tables and iptables-legacy rules filter at once:
nft never shows the legacy tables, and both filter every packet, so both are read (a legacy
chain's key takes ``legacy`` in front).  Once, the legacy rules were left out without a word:
a legacy ``REDIRECT`` of tcp 2222 to the planned tcp 18080 let the client reach the service on
a port the plan does not name, and a legacy ``DROP`` stopped a planned flow, while the audit of
the machine said its ruleset held no finding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import netns
from portplan._errors import ToolError
from portplan._tools import read_tool

pytestmark = pytest.mark.netns

DEPLOYMENT = Path(__file__).resolve().parent / "data" / "audit" / "deployment.yaml"
#: the server's planned ruleset, exactly what deployment.yaml asks for
NFT = """table inet fw {
  chain input { type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
    ip saddr 10.0.0.2 tcp dport { 18080, 18081, 18090 } ct state new accept
    ip saddr 10.0.0.2 udp dport 18118-18126 accept
  }
}
"""
LEGACY = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -s 10.0.0.2/32 -p tcp -m tcp --dport 2222 -j REDIRECT --to-ports 18080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 18090 -j DROP
COMMIT
"""
#: run in the namespace: the audit of what live_ruleset reads there, as JSON
AUDIT = f"""
import json
from portplan import load_plan
from portplan.audit import audit_ruleset
from portplan.audit.collect import live_ruleset
from portplan.spaces import Packet
import ipaddress
result = audit_ruleset(load_plan({str(DEPLOYMENT)!r}), "server", live_ruleset())
redirected = Packet(4, ipaddress.ip_address("10.0.0.2"), ipaddress.ip_address("10.0.0.3"), 6, 2222)
print(json.dumps([
    [f.kind.value, f.rule, f.flow, f.packets is not None and redirected in f.packets]
    for f in result.findings
]))
"""

#: iptables-save text of the server's planned ruleset (what deployment.yaml asks for)
PLANNED = (
    "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    "-A INPUT -i lo -j ACCEPT\n"
    "-A INPUT -s 10.0.0.2/32 -p tcp -m multiport --dports 18080,18081,18090 -j ACCEPT\n"
    "-A INPUT -s 10.0.0.2/32 -p udp -m udp --dport 18118:18126 -j ACCEPT\n"
    "COMMIT\n"
)


def _audit_in(space: str, env: dict[str, str] | None = None) -> list[list[object]]:
    """The findings of :data:`AUDIT` run in ``space`` (kind, rule, flow, names the redirect)."""
    ran = subprocess.run(
        ["ip", "netns", "exec", space, sys.executable, "-c", AUDIT],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    found: list[list[object]] = json.loads(ran.stdout)
    return found


def test_live_reads_iptables_legacy_rules_beside_nftables() -> None:
    reason = netns.unavailable("nft", "iptables-legacy-restore", "iptables-legacy-save")
    if reason is not None:
        pytest.skip(reason)
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "nft", "-f", "-"], stdin=NFT)
        netns.run(["ip", "netns", "exec", space, "iptables-legacy-restore"], stdin=LEGACY)
        findings = _audit_in(space)
    extra = [f for f in findings if f[0] == "extra"]
    assert extra and all(f[1].startswith("iptables-legacy-save (live):") for f in extra)
    assert any(f[3] for f in extra)  # the redirected port is named
    missing = [f for f in findings if f[0] == "missing"]
    assert [f[2] for f in missing] == ["loop-1.0/closed"]  # tcp 18090, which legacy drops
    assert missing[0][1].startswith("iptables-legacy-save (live):")


def test_live_reads_iptables_legacy_rules_alone() -> None:
    """No nftables table: the legacy rules are read with the legacy tools, also where
    ``iptables-save`` is iptables-nft's (which prints nothing of them: the machine was read as
    filtering nothing, every port of it an ``extra``)."""
    reason = netns.unavailable("iptables-legacy-restore", "iptables-legacy-save")
    if reason is not None:
        pytest.skip(reason)
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "iptables-legacy-restore"], stdin=PLANNED)
        findings = _audit_in(space)
    assert findings == []


def test_live_reads_iptables_legacy_rules_beside_iptables_nft() -> None:
    """iptables-nft's rules with matches nft prints as ``xt`` are read with ``iptables-save``
    (iptables-nft's: it prints none of the legacy tables), and the legacy ones beside them."""
    reason = netns.unavailable(
        "iptables-nft-restore", "iptables-legacy-restore", "iptables-legacy-save"
    )
    if reason is not None:
        pytest.skip(reason)
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "iptables-nft-restore"], stdin=PLANNED)
        netns.run(["ip", "netns", "exec", space, "iptables-legacy-restore"], stdin=LEGACY)
        findings = _audit_in(space)
    assert any(f[0] == "extra" and f[3] for f in findings)  # the legacy REDIRECT
    missing = [f for f in findings if f[0] == "missing"]
    assert [f[2] for f in missing] == ["loop-1.0/closed"]  # tcp 18090, which legacy drops


def test_live_reads_iptables_nft_rules_where_iptables_save_is_the_legacy_one(
    tmp_path: Path,
) -> None:
    """Where ``iptables-save`` is iptables-legacy's (the alternatives name it) and nft holds
    iptables-nft's rules with ``xt`` matches, those are read with ``iptables-nft-save``, and
    the legacy ones beside them.  Once, ``iptables-save`` alone was read: it prints none of
    the tables nft holds, and the machine was read as its legacy rules alone (their accept
    policy letting everything in)."""
    reason = netns.unavailable(
        "iptables-nft-restore", "iptables-nft-save", "iptables-legacy-restore",
        "iptables-legacy-save", "xtables-legacy-multi",
    )  # fmt: skip
    if reason is not None:
        pytest.skip(reason)
    # iptables-save and ip6tables-save as where the alternatives name the legacy tools
    legacy_multi = shutil.which("xtables-legacy-multi")
    assert legacy_multi is not None
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("iptables-save", "ip6tables-save"):
        (tools / tool).symlink_to(legacy_multi)
    env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    with netns.namespace() as space:
        netns.run(["ip", "netns", "exec", space, "iptables-nft-restore"], stdin=PLANNED)
        netns.run(["ip", "netns", "exec", space, "iptables-legacy-restore"], stdin=LEGACY)
        version = subprocess.run(
            ["ip", "netns", "exec", space, "iptables-save", "--version"],
            capture_output=True, text=True, timeout=20, check=True, env=env,
        )  # fmt: skip
        assert "(legacy)" in version.stdout, version.stdout
        findings = _audit_in(space, env)
    extra = [f for f in findings if f[0] == "extra"]
    # only the legacy REDIRECT lets more in: iptables-nft's DROP policy holds the rest
    assert extra and all(f[1].startswith("iptables-legacy-save (live):") for f in extra), extra
    assert any(f[3] for f in extra)  # the redirected port is named
    missing = [f for f in findings if f[0] == "missing"]
    assert [f[2] for f in missing] == ["loop-1.0/closed"]  # tcp 18090, which legacy drops


@pytest.mark.parametrize(
    "tool", ["iptables-nft-save", "ip6tables-nft-save", "iptables-legacy-save"]
)
def test_a_missing_backend_tool_names_its_debian_package(
    tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tools live reads by their backend's name come in Debian's ``iptables`` package: the
    message of one that is missing named a package of the tool's own name, which is none."""
    monkeypatch.setenv("PATH", str(tmp_path))  # (nothing there: the tool is missing)
    with pytest.raises(ToolError) as raised:
        read_tool([tool])
    assert str(raised.value) == f"{tool} is not installed; install it (Debian package iptables)"
