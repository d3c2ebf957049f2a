"""`portplan verify` on paths that fail on the way, in the namespaces of ``test_verify_netns``
(source -- router -- destination): what the outcome says must be where the probe ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import machine
import netns
import test_verify_netns as verify_netns
from ansible_env import COLLECTIONS
from test_verify_netns import ROUTER_SRC_SIDE, UNROUTED_ADDRESS, Lab

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


# ---------------------------------------------------------------------------------------------
# --expect-blocked: a route this machine lacks proves nothing of the firewalls

#: the router says "net unreachable" for this port: an answer from the way, which does block
ROUTER_NO_ROUTE = 2222


def _forbidding(directory: Path) -> Path:
    """The lab's deployment, forbidding src to reach ``ghost`` (which src has no route to:
    TCP, UDP and an echo request) and ``dst`` on :data:`ROUTER_NO_ROUTE`."""
    path = verify_netns._deployment(directory, [("web", "server", "tcp", 8001)])
    deployment = yaml.safe_load(path.read_text())
    deployment["forbidden"] = [
        {"id": "ghost-tcp", "from": "src", "to": "ghost", "ports": 22, "purpose": "No shell."},
        {"id": "ghost-udp", "from": "src", "to": "ghost", "protocol": "udp", "ports": 53,
         "purpose": "No DNS."},
        {"id": "ghost-ping", "from": "src", "to": "ghost", "protocol": "icmp",
         "purpose": "No ping."},
        {"id": "routed", "from": "src", "to": "dst", "ports": ROUTER_NO_ROUTE,
         "purpose": "Not this port."},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


def test_expect_blocked_does_not_pass_on_a_route_this_machine_lacks(
    lab: Lab, tmp_path: Path
) -> None:
    lab.nft(
        lab.router,
        verify_netns._forward(f"tcp dport {ROUTER_NO_ROUTE} reject with icmp type net-unreachable"),
    )
    lab.serve(tcp=(8001, ROUTER_NO_ROUTE))
    done = lab.verify(_forbidding(tmp_path), "--expect-blocked", "--no-identify")
    assert done.returncode == 1, done.stderr
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    # nothing left this machine: no firewall was tested, so it does not pass
    for flow in ("forbidden/ghost-tcp", "forbidden/ghost-udp", "forbidden/ghost-ping"):
        check = checks[flow]
        assert check["address"] == UNROUTED_ADDRESS
        assert (check["outcome"], check["passed"]) == ("local-error", False), check
        assert check["evidence"]["errno"] == "ENETUNREACH", check
        assert check["evidence"]["icmp"] is None
        assert "this machine has no route to it" in check["evidence"]["note"], check
    # a router on the way that says "net unreachable" does block it, as before
    routed = checks["forbidden/routed"]
    assert (routed["outcome"], routed["passed"]) == ("no-route", True), routed
    assert routed["evidence"]["icmp"] == f"ICMP type 3 code 0 from {ROUTER_SRC_SIDE}"
    report = machine.document(done.stdout, "verify")["checks"]
    assert [c["outcome"] for c in report if c["port"] == 8001] == ["open"]  # the planned one


def test_a_probe_this_machine_has_no_route_for_says_so(lab: Lab, tmp_path: Path) -> None:
    # a planned flow: no-route as before (it fails either way), with a note that nothing left
    flows = [("unrouted-tcp", "unrouted", "tcp", 8010), ("unrouted-udp", "unrouted", "udp", 9010)]
    done = lab.verify(verify_netns._deployment(tmp_path, flows))
    assert done.returncode == 1, done.stderr
    for check in verify_netns._checks(done.stdout).values():
        assert (check["outcome"], check["passed"]) == ("no-route", False), check
        assert check["evidence"]["errno"] == "ENETUNREACH"
        assert "this machine has no route to it" in check["evidence"]["note"], check


#: the collection's engine (what a managed host runs), asked to prove blocked what this
#: namespace has no route to: only loopback is up in it, so nothing can leave
COLLECTION_BLOCKED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.portplan.portplan.plugins.module_utils.engine.probe.remote import (
    probe_requests,
)
request = {"flow": "demo/ssh", "reference": "", "source": "client01", "destination": "web01",
           "destination_component": "web", "address": "192.0.2.77", "expect": "blocked"}
found = probe_requests([{**request, "protocol": "tcp", "ports": [22]},
                        {**request, "protocol": "udp", "ports": [53]}], timeout=0.5)
print(json.dumps(found))
"""


def test_the_collection_does_not_pass_a_route_the_host_lacks_as_blocked() -> None:
    with netns.namespace() as bare:
        done = subprocess.run(
            ["ip", "netns", "exec", bare, sys.executable, "-c", COLLECTION_BLOCKED,
             str(COLLECTIONS)],
            capture_output=True, text=True, timeout=60, check=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    found = json.loads(done.stdout)
    assert (found["passed"], found["failed"]) == (0, 2)
    for check in found["checks"]:
        assert (check["outcome"], check["passed"]) == ("local-error", False), check
        assert "this machine has no route to it" in check["evidence"]["note"]


@pytest.mark.parametrize(
    ("kind", "code"),
    [("prohibit", "EACCES"), ("unreachable", "EHOSTUNREACH"), ("blackhole", "EINVAL")],
)
def test_expect_blocked_does_not_pass_on_a_route_type_of_this_machines(
    lab: Lab, tmp_path: Path, kind: str, code: str
) -> None:
    # a route this machine holds that refuses (prohibit), fails (unreachable) or discards
    # (blackhole) the probe: the kernel says so at once, before even its own firewall sees it
    lab.exec(lab.src, "ip", "route", "add", kind, UNROUTED_ADDRESS)
    lab.serve(tcp=(8001, ROUTER_NO_ROUTE))
    done = lab.verify(_forbidding(tmp_path), "--expect-blocked", "--no-identify")
    assert done.returncode == 1, done.stderr
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    for flow in ("forbidden/ghost-tcp", "forbidden/ghost-udp", "forbidden/ghost-ping"):
        check = checks[flow]
        assert (check["outcome"], check["passed"]) == ("local-error", False), check
        assert (check["evidence"]["errno"], check["evidence"]["icmp"]) == (code, None), check
        if kind != "blackhole":
            assert "this machine has no route to it" in check["evidence"]["note"], check


def _quick_neighbours(lab: Lab, namespace: str) -> None:
    """Have ``namespace`` give up on an address no host answers for after one ARP request and
    0.1 s (three and 3 s by default)."""
    for line in lab.exec(namespace, "ip", "-o", "link", "show").splitlines():
        device = line.split(": ")[1].split("@")[0]
        if device != "lo":
            lab.exec(namespace, "sysctl", "-qw", f"net.ipv4.neigh.{device}.mcast_solicit=1",
                     f"net.ipv4.neigh.{device}.retrans_time_ms=100")  # fmt: skip


#: on the source's own link, and on the router's far link: no host answers for either
ABSENT_HERE = "192.0.2.50"
ABSENT_THERE = "198.51.100.50"


def test_a_destination_no_host_answers_for_on_this_link_proves_nothing(
    lab: Lab, tmp_path: Path
) -> None:
    # the kernel's own "host unreachable" (from this machine's address) when its ARP request
    # goes unanswered: the destination is down or absent, and no firewall was tested
    _quick_neighbours(lab, lab.src)
    _quick_neighbours(lab, lab.router)
    path = verify_netns._deployment(tmp_path, [("absent-tcp", "unrouted", "tcp", 8010)])
    deployment = yaml.safe_load(path.read_text())
    deployment["hosts"]["ghost"]["addresses"] = [ABSENT_HERE]
    deployment["hosts"]["far"] = {"addresses": [ABSENT_THERE]}
    deployment["forbidden"] = [
        {"id": "here-tcp", "from": "src", "to": "ghost", "ports": 22, "purpose": "No shell."},
        {"id": "here-udp", "from": "src", "to": "ghost", "protocol": "udp", "ports": 53,
         "purpose": "No DNS."},
        {"id": "here-ping", "from": "src", "to": "ghost", "protocol": "icmp",
         "purpose": "No ping."},
        {"id": "there-tcp", "from": "src", "to": "far", "ports": 22, "purpose": "No shell."},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    # a planned probe: no-route (not rejected: no firewall said so), with a note saying why
    planned = lab.verify(path)
    assert planned.returncode == 1, planned.stderr
    (check,) = verify_netns._checks(planned.stdout).values()
    assert (check["outcome"], check["passed"]) == ("no-route", False), check
    assert check["evidence"]["icmp"] == f"ICMP type 3 code 1 from {verify_netns.SRC_ADDRESS}"
    assert "no host answered for it on this machine's own link" in check["evidence"]["note"]
    done = lab.verify(path, "--expect-blocked", "--no-identify")
    assert done.returncode == 1, done.stderr
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    for flow in ("forbidden/here-tcp", "forbidden/here-udp", "forbidden/here-ping"):
        check = checks[flow]
        assert (check["outcome"], check["passed"]) == ("local-error", False), check
        assert check["evidence"]["errno"] == "EHOSTUNREACH", check
        assert check["evidence"]["icmp"] == f"ICMP type 3 code 1 from {verify_netns.SRC_ADDRESS}"
        assert "so no firewall was tested" in check["evidence"]["note"], check
    # the router's own "host unreachable" reads as a firewall's that rejects with it: it passes
    there = checks["forbidden/there-tcp"]
    assert (there["outcome"], there["passed"]) == ("rejected", True), there
    assert there["evidence"]["icmp"] == f"ICMP type 3 code 1 from {ROUTER_SRC_SIDE}"


#: the source's own firewall: it drops or rejects what the source sends on these ports
SRC_OWN_FIREWALL = f"""
table inet pp_own {{
    chain output {{
        type filter hook output priority 0; policy accept;
        tcp dport 8031 drop
        tcp dport 8032 reject with icmpx admin-prohibited
        udp dport 9031 drop
        udp dport 9032 reject
        ip daddr {verify_netns.DST_ADDRESS} icmp type echo-request drop
    }}
}}
"""


def test_the_sources_own_firewall_blocks_what_is_expected_blocked(lab: Lab, tmp_path: Path) -> None:
    # the source's egress filtering (what `rules --egress` writes): the source cannot reach
    # these, whether its firewall drops or rejects; the probes leave from its own address
    lab.nft(lab.src, SRC_OWN_FIREWALL)
    lab.serve(tcp=(8001, 8031, 8032), udp=(9031, 9032))  # listeners: only the firewall decides
    path = verify_netns._deployment(tmp_path, [("web", "server", "tcp", 8001)])
    deployment = yaml.safe_load(path.read_text())
    deployment["forbidden"] = [
        {
            "id": f"{protocol}-{port}",
            "from": "src",
            "to": "dst",
            "protocol": protocol,
            "ports": port,
            "purpose": "Not from here.",
        }
        for protocol, port in (("tcp", 8031), ("tcp", 8032), ("udp", 9031), ("udp", 9032))
    ] + [{"id": "ping", "from": "src", "to": "dst", "protocol": "icmp", "purpose": "No ping."}]
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))  # fmt: skip
    done = lab.verify(path, "--expect-blocked", "--no-identify")
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    seen = {
        flow: (check["outcome"], check["passed"], check["evidence"]["icmp"])
        for flow, check in checks.items()
        if flow.startswith("forbidden/")
    }
    here = verify_netns.SRC_ADDRESS  # the ICMP errors came from this machine itself
    assert seen == {
        "forbidden/tcp-8031": ("filtered", True, None),
        "forbidden/tcp-8032": ("rejected", True, f"ICMP type 3 code 13 from {here}"),
        "forbidden/udp-9031": ("filtered", True, None),
        "forbidden/udp-9032": ("rejected", True, f"ICMP type 3 code 3 from {here}"),
        "forbidden/ping": ("filtered", True, None),
    }  # fmt: skip
    for flow in seen:
        note = checks[flow]["evidence"]["note"]
        assert note.endswith("the source's own egress filtering blocks it (this machine is "
                             "the source host)"), (flow, note)  # fmt: skip
        assert "own firewall" in note, (flow, note)
    assert done.returncode == 0, done.stderr  # and the planned port is open


#: an address of the source machine itself, a host of its own in the deployment
SRC_OTHER_ADDRESS = "192.0.2.77"


def test_the_sources_own_reject_towards_its_own_address_blocks_what_is_expected_blocked(
    lab: Lab, tmp_path: Path
) -> None:
    # towards an address of this machine the kernel sends its firewall's port unreachable in
    # the destination's name; send() failed at once (EPERM), so nothing left: it is the
    # source's own egress filtering all the same, and passes (it once failed as local-error)
    netns.hold_addresses(lab.src, SRC_OTHER_ADDRESS)
    lab.nft(lab.src, f"""
table inet pp_own {{
    chain output {{
        type filter hook output priority 0; policy accept;
        ip daddr {SRC_OTHER_ADDRESS} udp dport 9033 reject
    }}
}}
""")  # fmt: skip
    lab.serve(tcp=(8001,))
    path = verify_netns._deployment(tmp_path, [("web", "server", "tcp", 8001)])
    deployment = yaml.safe_load(path.read_text())
    deployment["hosts"]["here"] = {"addresses": [SRC_OTHER_ADDRESS]}
    deployment["forbidden"] = [
        {"id": "udp-9033", "from": "src", "to": "here", "protocol": "udp", "ports": 9033,
         "purpose": "Not from here."},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    done = lab.verify(path, "--expect-blocked", "--no-identify")
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    check = checks["forbidden/udp-9033"]
    assert (check["outcome"], check["passed"]) == ("rejected", True), check
    assert check["evidence"]["errno"] == "EPERM", check
    assert check["evidence"]["icmp"] == f"ICMP type 3 code 3 from {SRC_OTHER_ADDRESS}", check
    assert check["evidence"]["note"] == (
        "rejected by this machine's own firewall: the ICMP error came from this machine: the "
        "source's own egress filtering blocks it (this machine is the source host)"
    ), check
    assert done.returncode == 0, done.stderr


def test_a_ttl_that_runs_out_on_the_way_passes_as_blocked(lab: Lab, tmp_path: Path) -> None:
    # time exceeded is the routing of the way saying it cannot deliver, as a router's net
    # unreachable is: the probe left this machine, and the network did not take it there
    lab.nft(lab.router, TTL_RULES)
    lab.serve(tcp=(8001, 8020), udp=(9020,))  # listeners: only the path can fail
    path = verify_netns._deployment(tmp_path, [("web", "server", "tcp", 8001)])
    deployment = yaml.safe_load(path.read_text())
    deployment["forbidden"] = [
        {"id": "tcp", "from": "src", "to": "dst", "ports": 8020, "purpose": "No."},
        {"id": "udp", "from": "src", "to": "dst", "protocol": "udp", "ports": 9020,
         "purpose": "No."},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    done = lab.verify(path, "--expect-blocked", "--no-identify")
    assert done.returncode == 0, done.stderr
    checks = {c["flow"]: c for c in machine.document(done.stdout, "verify")["checks"]}
    for flow in ("forbidden/tcp", "forbidden/udp"):
        check = checks[flow]
        assert (check["outcome"], check["passed"]) == ("no-route", True), check
        assert check["evidence"]["icmp"] == f"ICMP type 11 code 0 from {ROUTER_SRC_SIDE}"


#: the collection's engine (what a managed host runs) in the lab's source namespace, asked to
#: prove blocked: a prohibit route, a destination no host answers for on its link, and what
#: its own firewall drops
COLLECTION_HERE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.portplan.portplan.plugins.module_utils.engine.probe.remote import (
    probe_requests,
)
request = {"flow": "demo/x", "reference": "", "source": "src", "destination": "dst",
           "destination_component": "server", "expect": "blocked", "protocol": "udp"}
found = probe_requests([
    {**request, "address": "203.0.113.9", "ports": [53]},
    {**request, "address": "192.0.2.50", "ports": [53]},
    {**request, "address": "198.51.100.2", "ports": [9031]},
    {**request, "address": "198.51.100.2", "ports": [9032]},
], timeout=0.5)
print(json.dumps(found))
"""


def test_the_collection_judges_what_this_host_did_as_the_local_engine_does(lab: Lab) -> None:
    _quick_neighbours(lab, lab.src)
    lab.exec(lab.src, "ip", "route", "add", "prohibit", UNROUTED_ADDRESS)
    lab.nft(lab.src, SRC_OWN_FIREWALL)
    done = subprocess.run(
        ["ip", "netns", "exec", lab.src, sys.executable, "-c", COLLECTION_HERE,
         str(COLLECTIONS)],
        capture_output=True, text=True, timeout=60, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    found = json.loads(done.stdout)
    seen = [(c["address"], c["outcome"], c["passed"]) for c in found["checks"]]
    assert seen == [
        (UNROUTED_ADDRESS, "local-error", False),
        (ABSENT_HERE, "local-error", False),
        (verify_netns.DST_ADDRESS, "filtered", True),
        (verify_netns.DST_ADDRESS, "rejected", True),
    ], found


# ---------------------------------------------------------------------------------------------
# Ctrl-C: stop probing, report what was found so far, exit 130

#: ports the router lets one new connection a second through: a run of minutes
SLOW = range(24000, 24040)
COUNTER = """
table inet pp_v {
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr 198.51.100.0/24 counter
    }
}
"""


def _interrupted(lab: Lab, tmp_path: Path, fmt: str) -> tuple[int, float, str, str]:
    """``verify`` in ``fmt`` interrupted (SIGINT) while slow ports are unsettled: its exit
    status, how long it took to end, its standard error and its report."""
    lab.nft(
        lab.router,
        verify_netns._forward(
            f"tcp dport {SLOW[0]}-{SLOW[-1]} tcp flags & (syn | ack) == syn "
            "limit rate over 1/second drop"
        ),
    )
    lab.nft(lab.src, COUNTER)
    lab.serve(tcp=(8001,))
    flows = [("web", "server", "tcp", 8001), ("slow", "server", "tcp", f"{SLOW[0]}-{SLOW[-1]}")]
    deployment = verify_netns._deployment(tmp_path, flows)
    run = lab.start(
        lab.src, *verify_netns.PORTPLAN, "verify", str(deployment), "--on", "src",
        "--format", fmt, "--timeout", "0.5", "--no-identify",
    )  # fmt: skip
    waited = time.monotonic() + 30
    while verify_netns._sent(lab) == 0:  # probing has begun
        assert time.monotonic() < waited and run.process.poll() is None, run.err
        time.sleep(0.05)
    time.sleep(1.5)  # the open port is settled; the slow ones are not (about 40 s)
    assert run.process.poll() is None, "the run ended before it was interrupted"
    os.kill(run.pid, signal.SIGINT)
    interrupted = time.monotonic()
    code = run.process.wait(timeout=20)
    took = time.monotonic() - interrupted
    err = run.stop()
    return code, took, err, "".join(run.out)


def test_ctrl_c_stops_probing_and_still_reports_what_was_found(lab: Lab, tmp_path: Path) -> None:
    code, took, err, out = _interrupted(lab, tmp_path, "json")
    assert code == 130, err
    assert took < 5, took  # it stops probing: no waiting for the slow ports
    assert "interrupted: the report holds what was probed until Ctrl-C" in err
    report = machine.document(out, "verify")
    assert report["interrupted"] is True
    checks = {c["port"]: c for c in report["checks"]}
    assert sorted(checks) == [8001, *SLOW]  # every probe is in the report
    assert (checks[8001]["outcome"], checks[8001]["passed"]) == ("open", True)
    unsettled = [c for port, c in checks.items() if c["outcome"] == "unfinished"]
    assert unsettled, checks
    for check in unsettled:
        assert check["passed"] is False
        assert "the run was interrupted first (Ctrl-C)" in check["evidence"]["note"], check
    assert {c["outcome"] for c in checks.values()} <= {"open", "refused", "unfinished"}
    assert (report["passed"], report["failed"]) == (1, len(SLOW))  # refused fails too


def test_ctrl_c_marks_the_junit_report_interrupted(lab: Lab, tmp_path: Path) -> None:
    code, _took, err, out = _interrupted(lab, tmp_path, "junit")
    assert code == 130, err
    suite = ET.fromstring(out)
    assert [(p.get("name"), p.get("value")) for p in suite.iter("property")] == [
        ("interrupted", "true")
    ]
    errors = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert errors, out
    assert suite.get("errors") == str(len(errors))
    for case in errors:
        error = case.find("error")
        assert error is not None and error.get("type") == "interrupted", out
        assert case.find("failure") is None
    assert int(suite.get("tests", "0")) == 1 + len(SLOW)
