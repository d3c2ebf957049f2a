"""`portplan verify` on paths that fail on the way, in the namespaces of ``test_verify_netns``
(source -- router -- destination): what the outcome says must be where the probe ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import test_verify_netns as verify_netns
from test_verify_netns import ROUTER_SRC_SIDE, Lab

pytestmark = pytest.mark.netns

#: the router sets the TTL of these probes to 1: it cannot forward them (time exceeded)
TTL_RULES = """
table inet pp_ttl {
    chain prerouting {
        type filter hook prerouting priority -300; policy accept;
        tcp dport 8020 ip ttl set 1
        udp dport 9020 ip ttl set 1
    }
}
"""


@pytest.fixture
def lab() -> Iterator[Lab]:
    with verify_netns.routed_lab() as built:
        yield built


def test_a_ttl_that_runs_out_on_the_way_is_no_route_not_rejected(lab: Lab, tmp_path: Path) -> None:
    # the kernel reports an ICMP time exceeded as EHOSTUNREACH, as it does a firewall's host
    # unreachable; but nothing answered for the destination: the probe died on the way
    lab.nft(lab.router, TTL_RULES)
    lab.serve(tcp=(8020,), udp=(9020,))  # a listener: only the path can fail
    flows = [("looped-tcp", "server", "tcp", 8020), ("looped-udp", "server", "udp", 9020)]
    done = lab.verify(verify_netns._deployment(tmp_path, flows))
    assert done.returncode == 1, done.stderr
    checks = verify_netns._checks(done.stdout)
    assert sorted(checks) == [("tcp", 8020), ("udp", 9020)]
    for check in checks.values():
        assert check["outcome"] == "no-route", check
        assert check["passed"] is False
        assert check["evidence"]["errno"] == "EHOSTUNREACH"
        assert check["evidence"]["icmp"] == f"ICMP type 11 code 0 from {ROUTER_SRC_SIDE}"
        assert "time to live ran out" in check["evidence"]["note"]
