"""A rollback brings back the counters of the previous ruleset, in network namespaces: the
packet and byte counts of iptables' rules (nft's counters come back with the table listing)."""

from __future__ import annotations

import pytest

from test_apply_rollback import (
    SHOPPING,
    finish,
    iptables_namespace,
    run_in,
    start_apply,
)

pytestmark = pytest.mark.netns

__all__ = ["iptables_namespace"]  # (a fixture, used by name)

#: the previous IPv4 filter table, as if its rule had matched 7 packets of 700 bytes
COUNTED = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
[7:700] -A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT
COMMIT
"""


def test_an_iptables_rollback_keeps_the_rule_counters(iptables_namespace: str) -> None:
    run_in(iptables_namespace, "iptables-restore", "--counters", stdin=COUNTED)
    counted = "[7:700] -A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT"
    assert counted in run_in(iptables_namespace, "iptables-save", "-c", "-t", "filter")
    args = (str(SHOPPING), "--on", "admin-pc", "-t", "iptables", "--egress", "--force")
    process = start_apply(iptables_namespace, *args)
    try:
        assert process.stdin is not None
        process.stdin.write("no\n")
        process.stdin.flush()
    finally:
        status, err = finish(process)
    assert status == 1, err
    assert counted in run_in(iptables_namespace, "iptables-save", "-c", "-t", "filter")
