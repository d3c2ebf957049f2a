"""`portplan verify` through a SYN proxy on the way (the kernel's SYNPROXY, as nftables sets it
up against SYN floods), in the namespaces of ``test_verify_netns`` (source -- router --
destination): the proxy completes every handshake itself, so a connection proves nothing of
the destination until the destination has answered the proxy behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import machine
import test_verify_netns as verify_netns
from test_verify_netns import DST_ADDRESS, Lab

pytestmark = pytest.mark.netns

LISTENING, NOTHING, DROPPED = 8101, 8102, 8103

#: the router answers every SYN towards the destination itself (a SYN cookie), and opens the
#: connection to the destination only once the client has completed the handshake with it
SYNPROXY = f"""
table ip pp_synproxy {{
    chain prerouting {{
        type filter hook prerouting priority raw; policy accept;
        ip daddr {DST_ADDRESS} tcp flags syn notrack
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        ip daddr {DST_ADDRESS} ct state invalid,untracked \\
            synproxy mss 1460 wscale 7 timestamp sack-perm
        ct state invalid drop
    }}
}}
"""
#: the destination's own firewall drops one port: the proxy's SYN to it goes unanswered
DROP = f"""
table inet pp_drop {{
    chain input {{
        type filter hook input priority 0; policy accept;
        tcp dport {DROPPED} drop
    }}
}}
"""


@pytest.fixture
def lab() -> Iterator[Lab]:
    with verify_netns.routed_lab() as built:
        # SYNPROXY needs conntrack to leave the handshake it completed to it
        built.exec(built.router, "sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0")
        built.nft(built.router, SYNPROXY)
        built.nft(built.dst, DROP)
        yield built


def _synproxy_deployment(directory: Path) -> Path:
    flows = [
        ("listening", "server", "tcp", LISTENING),
        ("nothing", "server", "tcp", NOTHING),
        ("dropped", "server", "tcp", DROPPED),
    ]
    path = verify_netns._deployment(directory, flows)
    product = directory / "probe-lab.yaml"
    data = yaml.safe_load(product.read_text())
    data["flows"].append(
        {"id": "shell", "row": 4, "from": "client", "to": "server", "protocol": "tcp",
         "ports": NOTHING, "app_protocol": "ssh", "purpose": "ssh from the client"}
    )  # fmt: skip
    product.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_syn_proxy_on_the_way_does_not_make_every_port_open(lab: Lab, tmp_path: Path) -> None:
    lab.serve(tcp=(LISTENING,))
    done = lab.verify(_synproxy_deployment(tmp_path))
    assert done.returncode == 1, done.stderr
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    # the destination accepted behind the proxy (on this fast link, its answer is there by the
    # time the probe looks)
    listening = checks["probe-lab/listening"]
    assert (listening["outcome"], listening["passed"]) == ("open", True), listening
    # nothing listens there: the destination's reset came through the proxy
    for flow in ("probe-lab/nothing", "probe-lab/shell"):
        nothing = checks[flow]
        assert (nothing["outcome"], nothing["passed"]) == ("refused", False), nothing
        assert nothing["evidence"]["errno"] == "ECONNRESET", nothing
        assert "SYN proxy" in nothing["evidence"]["note"], nothing
        assert "accepted" not in nothing["evidence"]["note"], nothing
    # the destination dropped the proxy's SYN: silence behind the proxy, also on a second look
    dropped = checks["probe-lab/dropped"]
    assert (dropped["outcome"], dropped["passed"]) == ("filtered", False), dropped
    assert "SYN proxy" in dropped["evidence"]["note"], dropped
    assert dropped["evidence"]["attempts"] == 2, dropped


#: the router drops every other SYN towards the destination, the probe's first among them
#: (one port probed): the proxy answers only the kernel's retransmission of it
FIRST_SYN_LOST = f"""
table ip pp_first_syn {{
    chain prerouting {{
        type filter hook prerouting priority -310; policy accept;
        ip daddr {DST_ADDRESS} tcp flags syn numgen inc mod 2 == 0 drop
    }}
}}
"""


def test_a_syn_proxy_answering_the_retransmitted_syn_is_judged_alike(
    lab: Lab, tmp_path: Path
) -> None:
    lab.nft(lab.router, FIRST_SYN_LOST)
    deployment = verify_netns._deployment(tmp_path, [("nothing", "server", "tcp", NOTHING)])
    done = lab.verify(deployment)
    assert done.returncode == 1, done.stderr
    (nothing,) = machine.document(done.stdout, "verify")["checks"]
    assert (nothing["outcome"], nothing["passed"]) == ("refused", False), nothing
    assert nothing["evidence"]["errno"] == "ECONNRESET", nothing
    assert "SYN proxy" in nothing["evidence"]["note"], nothing
