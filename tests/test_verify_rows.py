"""`portplan verify` for the rows vendors write beyond TCP and UDP between two machines: ICMP echo,
listener-only rows (from ``anywhere``), unmanaged sources, hosts known by name only and the
members of a cluster reaching each other.  On loopback addresses of this machine (127.0.0.0/8
and ::1) only; the kernel answers echo requests there itself.  The namespace tests of ICMP
echo through a firewall are in test_verify_icmp.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import machine
from portplan import load_plan
from portplan.cli import cli
from portplan.model.product import ANYWHERE
from portplan.model.protocol import Protocol
from portplan.plan import Plan
from portplan.probe import destinations, icmp
from portplan.probe.blocked import blocked_probes
from portplan.probe.dns import NameLookup
from portplan.probe.engine import probe_all
from portplan.probe.local import source_hosts
from portplan.probe.outcomes import Outcome, PortProbe
from portplan.probe.planned import plan_checks
from portplan.probe.remote import RequestError, probe_requests
from portplan.probe.remote import _checks as _remote_checks
from portplan.probe.verify import MAX_NAME_ADDRESSES, FlowCheck, name_checks

PRODUCT: dict[str, Any] = {
    "id": "rows",
    "name": "Rows",
    "version": "1",
    "document": {"title": "Rows ports"},
    "components": {
        "client": {"name": "Client", "kind": "client"},
        "monitor": {"name": "Monitor", "kind": "client"},
        "server": {"name": "Server"},
        "node": {"name": "Node"},
        "repo": {"name": "Repository"},
        "cdn": {"name": "CDN edge"},
    },
    "flows": [
        {"id": "ping", "row": 1, "from": "monitor", "to": "server", "protocol": "icmp",
         "purpose": "the monitor pings the server"},
        {"id": "pmtu", "row": 2, "from": "client", "to": "server", "protocol": "icmp",
         "icmp": ["destination-unreachable", "time-exceeded"], "purpose": "path MTU"},
        {"id": "diag", "row": 3, "from": "client", "to": "server", "protocol": "icmp",
         "icmp": ["any"], "purpose": "diagnostics"},
        {"id": "web", "row": 4, "to": "server", "protocol": "tcp", "ports": 8080,
         "purpose": "listener only: any client"},
        {"id": "gossip", "row": 5, "from": "node", "to": "node", "protocol": "tcp",
         "ports": "PORT", "purpose": "cluster members talk to each other"},
        {"id": "fetch", "row": 6, "from": "client", "to": "repo", "protocol": "tcp",
         "ports": "PORT", "purpose": "fetch updates"},
        {"id": "purge", "row": 7, "from": "cdn", "to": "server", "protocol": "tcp",
         "ports": 8081, "purpose": "the CDN purges"},
    ],
}  # fmt: skip


@pytest.fixture
def port() -> Iterator[int]:
    """A free TCP port, its listeners on 127.0.0.1, 127.0.0.4 and 127.0.0.6 (a member the
    test leaves out of its probes never listens: 127.0.0.5)."""
    sockets = []
    try:
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        number = first.getsockname()[1]
        sockets.append(first)
        for address in ("127.0.0.4", "127.0.0.6"):
            other = socket.socket()
            other.bind((address, number))
            sockets.append(other)
        for sock in sockets:
            sock.listen(8)
        yield number
    finally:
        for sock in sockets:
            sock.close()


def _deployment(tmp_path: Path, port: int, **hosts: dict[str, Any]) -> Path:
    product = yaml.safe_dump(PRODUCT, sort_keys=False).replace("PORT", str(port))
    (tmp_path / "rows.yaml").write_text(product)
    deployment = {
        "name": "rows",
        "hosts": {
            "src": {"addresses": ["127.0.0.2"]},
            "mon": {"addresses": ["127.0.0.7", "::1"]},
            "srv": {"addresses": ["127.0.0.3", "::1"]},
            "nodes": {"addresses": ["127.0.0.4", "127.0.0.5", "127.0.0.6"], "cluster": True},
            "repo": {"dns_name": "localhost", "managed": False},
            "edge": {"addresses": ["127.0.0.8"], "managed": False},
            **hosts,
        },
        "products": {
            "rows": {
                "file": "rows.yaml",
                "components": {
                    "client": "src",
                    "monitor": "mon",
                    "server": "srv",
                    "node": "nodes",
                    "repo": "repo",
                    "cdn": "edge",
                },
            }
        },
    }
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


def _verify(deployment: Path, *args: str, fmt: str = "json") -> Result:
    return CliRunner().invoke(
        cli, ["verify", str(deployment), "--format", fmt, "--timeout", "0.3", *args]
    )


def _report(result: Result, status: int) -> dict[str, Any]:
    assert result.exit_code == status, result.output
    return machine.document(result.stdout, "verify")


def _not_probed(report: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in report["not_probed"]:
        found.setdefault(item["flow"], []).append(item["reason"])
    return found


# ---------------------------------------------------------------------------------------------
# ICMP echo


def test_an_icmp_echo_row_is_probed_with_an_echo_request_per_address(
    tmp_path: Path, port: int
) -> None:
    report = _report(_verify(_deployment(tmp_path, port), "--on", "mon"), 0)
    checks = {(c["flow"], c["address"]): c for c in report["checks"]}
    assert set(checks) == {("rows/ping", "127.0.0.3"), ("rows/ping", "::1")}
    for (_flow, address), check in checks.items():
        assert (check["protocol"], check["port"], check["icmp_type"]) == (
            "icmp",
            None,
            "echo-request",
        )
        assert (check["outcome"], check["passed"]) == ("open", True), check
        assert check["source_address"] == ("127.0.0.7" if "." in address else "::1")
        note = check["evidence"]["note"]
        assert note.startswith(f"echo reply from {address} ("), note
        assert note.endswith(("(ping socket)", "(raw socket)")), note
    assert report["passed"] == 2
    table = _verify(_deployment(tmp_path, port), "--on", "mon", fmt="table")
    assert table.exit_code == 0, table.output
    assert "icmp echo-request" in table.stdout
    junit = _verify(_deployment(tmp_path, port), "--on", "mon", fmt="junit")
    assert "mon -&gt; 127.0.0.3 icmp echo-request" in junit.stdout


def test_icmp_messages_other_than_echo_are_not_probed_and_never_pass(
    tmp_path: Path, port: int
) -> None:
    deployment = _deployment(tmp_path, port)
    report = _report(_verify(deployment, "--on", "src", "--flow", "pmtu", "--flow", "diag"), 0)
    # diag allows any type: its echo request is probed, the rest is said not to be
    assert {(c["flow"], c["address"]) for c in report["checks"]} == {("rows/diag", "127.0.0.3")}
    assert all(c["outcome"] == "open" for c in report["checks"])
    reasons = _not_probed(report)
    # src has no IPv6 address: no rule, and no probe, can carry the flow to ::1
    assert (
        "src has no IPv6 address, so this flow cannot reach ::1 (no firewall rule can be "
        "written for it either): not probed"
    ) in reasons["rows/diag"]
    assert reasons["rows/pmtu"] == [
        "ICMP destination-unreachable, time-exceeded: verify sends ICMP echo requests (ping) "
        "only; the other ICMP messages are answers routers and hosts send about other "
        "traffic, which no probe can ask for"
    ]
    assert reasons["rows/diag"][0].startswith(
        "ICMP types other than echo-request (icmp: any): verify sends ICMP echo requests"
    )
    assert report["passed"] == 1  # the not-probed rows are not counted as passed


def test_icmp_echo_outcomes_from_errors_and_quotes() -> None:
    # destination unreachable: the network part is no-route, the rest (a firewall's reject)
    # rejected; time exceeded on the way is no-route
    assert icmp._error_outcome(4, 3, 13) is Outcome.REJECTED  # admin prohibited
    assert icmp._error_outcome(4, 3, 3) is Outcome.REJECTED  # nftables' default reject
    assert icmp._error_outcome(4, 3, 1) is Outcome.REJECTED  # host unreachable
    assert icmp._error_outcome(4, 3, 0) is Outcome.NO_ROUTE
    assert icmp._error_outcome(4, 11, 0) is Outcome.NO_ROUTE
    assert icmp._error_outcome(6, 1, 1) is Outcome.REJECTED  # admin prohibited
    assert icmp._error_outcome(6, 1, 4) is Outcome.REJECTED  # port unreachable
    assert icmp._error_outcome(6, 1, 0) is Outcome.NO_ROUTE
    assert icmp._error_outcome(6, 3, 0) is Outcome.NO_ROUTE
    # an ICMPv4 error counts for a probe only when it quotes its identifier and sequence
    request = icmp._request(4, 0x1234, 77, b"portplan echo 12345678")
    assert icmp._checksum(request) == 0  # a valid checksum sums to zero
    quoted_ip = bytes([0x45]) + bytes(19)
    error = struct.pack("!BBHI", 3, 13, 0, 0) + quoted_ip + request[:8]
    assert icmp._quotes(error, 4, 0x1234, 77)
    assert not icmp._quotes(error, 4, 0x1234, 78)
    assert not icmp._quotes(error, 4, 0x4321, 77)
    assert not icmp._quotes(error[:30], 4, 0x1234, 77)
    v6_request = icmp._request(6, 9, 5, b"x")
    v6_error = struct.pack("!BBHI", 1, 1, 0, 0) + bytes(40) + v6_request[:8]
    assert icmp._quotes(v6_error, 6, 9, 5)
    assert not icmp._quotes(v6_error, 6, 10, 5)


def test_an_echo_reply_counts_only_when_it_matches() -> None:
    probe = PortProbe(address="127.0.0.3", port=None, protocol=Protocol.ICMP)
    echo = icmp._Echo(probe, 1.0)
    echo.identifier = 4242
    reply = struct.pack("!BBHHH", 0, 0, 0, 4242, echo.sequence) + echo.payload
    ip = bytes([0x45]) + bytes(19)
    found = echo.read(ip + reply, "127.0.0.3", raw=True)
    assert found is not None and found.outcome is Outcome.OPEN
    assert echo.read(ip + reply, "127.0.0.9", raw=True) is None  # from elsewhere
    other_id = struct.pack("!BBHHH", 0, 0, 0, 4243, echo.sequence) + echo.payload
    assert echo.read(ip + other_id, "127.0.0.3", raw=True) is None
    other_seq = struct.pack("!BBHHH", 0, 0, 0, 4242, echo.sequence ^ 1) + echo.payload
    assert echo.read(ip + other_seq, "127.0.0.3", raw=True) is None
    other_payload = struct.pack("!BBHHH", 0, 0, 0, 4242, echo.sequence) + b"someone else"
    assert echo.read(ip + other_payload, "127.0.0.3", raw=True) is None
    request = struct.pack("!BBHHH", 8, 0, 0, 4242, echo.sequence) + echo.payload
    assert echo.read(ip + request, "127.0.0.3", raw=True) is None  # our own request, looped


# ---------------------------------------------------------------------------------------------
# anywhere and unmanaged sources


def test_anywhere_and_unmanaged_hosts_are_no_place_to_verify_from(
    tmp_path: Path, port: int
) -> None:
    deployment = _deployment(tmp_path, port)
    done = _verify(deployment, "--on", "anywhere")
    assert done.exit_code == 2, done.output
    assert "'anywhere' stands for any client" in done.output
    assert "components: {any: [HOST]}" in done.output
    for host in ("edge", "repo"):
        done = _verify(deployment, "--on", host)
        assert done.exit_code == 2, done.output
        assert f"{host} is a system portplan does not manage (managed: false)" in done.output
    # this machine's addresses never make it 'anywhere' (0.0.0.0/0 holds them all), nor an
    # unmanaged host
    plan = load_plan(deployment)
    assert ANYWHERE in plan.hosts
    assert destinations.ANYWHERE == ANYWHERE  # named again for the prober bundled for Ansible
    local = [ipaddress.ip_address("127.0.0.8"), ipaddress.ip_address("192.0.2.99")]
    assert source_hosts(plan, local) == ()


def test_rows_from_anywhere_are_reported_not_probed_with_the_way_to_probe_them(
    tmp_path: Path, port: int
) -> None:
    deployment = _deployment(tmp_path, port)
    report = _report(_verify(deployment, "--on", "mon"), 0)
    assert _not_probed(report)["rows/web"] == [
        "from anywhere (any client: the vendor names only the listener, and the deployment "
        "does not place 'any'): no verification runs on 'anywhere'; to probe this row, place "
        "'any' on the client hosts (components: {any: [HOST]}) and verify from one"
    ]
    assert "purge" not in str(report["not_probed"])  # the CDN's rows are not this host's
    # asked for by flow, a row from an unmanaged host says why it is not probed (and a run
    # that probed nothing verified nothing: exit 1)
    report = _report(_verify(deployment, "--on", "mon", "--flow", "purge"), 1)
    assert report["checks"] == []
    assert _not_probed(report) == {
        "rows/purge": [
            "from edge, which portplan does not manage (managed: false): no verification runs there"
        ]
    }


def test_expect_blocked_leaves_alone_what_anywhere_allows_and_pings_only_where_unplanned(
    tmp_path: Path, port: int
) -> None:
    plan = load_plan(_deployment(tmp_path, port))
    from_src = list(blocked_probes(plan, "src", {ipaddress.ip_address("127.0.0.2")}))
    probed = {(p.address, p.protocol.value, p.port) for _row, p, _why in from_src}
    # web (8080) is planned from anywhere, which holds src: never expected blocked from src
    assert ("127.0.0.3", "tcp", 8080) not in probed
    # the monitor's ping is planned from mon only; src has its own echo (diag: any)
    assert ("127.0.0.3", "icmp", None) not in probed
    assert ("::1", "icmp", None) not in probed
    from_mon = list(blocked_probes(plan, "mon", {ipaddress.ip_address("127.0.0.7")}))
    pings = [(r.key, p.address) for r, p, _why in from_mon if p.protocol.value == "icmp"]
    assert pings == []  # mon's echo is planned
    plan_without_diag = _plan_without(tmp_path, port, "diag")
    from_src = list(blocked_probes(plan_without_diag, "src", {ipaddress.ip_address("127.0.0.2")}))
    pings = sorted(
        (r.key, p.address, p.icmp_type, why) for r, p, why in from_src if p.protocol.value == "icmp"
    )
    # (src has no IPv6 address: ::1 is not probed from it)
    assert pings == [
        ("rows/ping", "127.0.0.3", "echo-request", "expected blocked: rows/ping is planned "
         "from mon, not from src")
    ]  # fmt: skip


def _plan_without(tmp_path: Path, port: int, flow: str) -> Plan:
    kept = [f for f in PRODUCT["flows"] if f["id"] != flow]
    folder = tmp_path / f"without-{flow}"
    folder.mkdir()
    original = PRODUCT["flows"]
    PRODUCT["flows"] = kept
    try:
        return load_plan(_deployment(folder, port))
    finally:
        PRODUCT["flows"] = original


# ---------------------------------------------------------------------------------------------
# hosts known by name only


def test_a_host_known_by_name_only_is_probed_where_its_name_resolves(
    tmp_path: Path, port: int
) -> None:
    report = _report(_verify(_deployment(tmp_path, port), "--on", "src", "--flow", "fetch"), 0)
    checks = report["checks"]
    resolved = checks[0]["dns"]["addresses"]
    assert "127.0.0.1" in resolved
    assert sorted(c["address"] for c in checks) == sorted(resolved)
    for check in checks:
        assert (check["destination"], check["dns_name"]) == ("repo", "localhost")
        assert check["port"] == port
        assert (
            f"localhost is known by name only: it resolves to {check['address']}"
            in (check["notes"])
        )
    v4 = next(c for c in checks if c["address"] == "127.0.0.1")
    assert (v4["outcome"], v4["passed"], v4["source_address"]) == ("open", True, "127.0.0.2")


def _placeholders(tmp_path: Path, port: int) -> list[FlowCheck]:
    plan = load_plan(_deployment(tmp_path, port, src={"addresses": ["127.0.0.2", "::1"]}))
    checks, _skipped = plan_checks(plan, ["src"], flows=["fetch"])
    assert [(c.probe.address, c.address, c.own_sources) for c in checks] == [
        ("localhost", None, ("127.0.0.2", "::1"))
    ]
    return checks


def test_what_a_name_only_host_resolves_to_is_probed_within_bounds(
    tmp_path: Path, port: int
) -> None:
    many = tuple(f"198.51.100.{n}" for n in range(1, 21))
    lookup = NameLookup(name="localhost", addresses=("::1", "233.252.0.1", "0.0.0.0", *many))
    checks = name_checks(_placeholders(tmp_path, port), {"localhost": lookup})
    probed = [(c.address, c.probe.source) for c in checks if c.result is None]
    assert probed == [("::1", "::1")] + [(a, "127.0.0.2") for a in many[: MAX_NAME_ADDRESSES - 1]]
    first = next(c for c in checks if c.result is None)
    assert "198.51.100.20" in " ".join(first.notes)  # named, not probed
    refused = {c.address: c.result for c in checks if c.result is not None}
    assert set(refused) == {"233.252.0.1", "0.0.0.0"}
    assert all(r is not None and r.outcome is Outcome.DNS_ERROR for r in refused.values())
    multicast = refused["233.252.0.1"]
    assert multicast is not None
    assert multicast.evidence.note == (
        "localhost resolves to 233.252.0.1, a special-purpose address (multicast): never probed"
    )
    missing = NameLookup(name="localhost", error="no such name (EAI_NONAME)")
    (failed,) = name_checks(_placeholders(tmp_path, port), {"localhost": missing})
    assert failed.address is None and failed.result is not None
    assert failed.result.outcome is Outcome.DNS_ERROR
    assert failed.result.evidence.note == "localhost: no such name (EAI_NONAME)"


# ---------------------------------------------------------------------------------------------
# the members of a cluster


def test_a_member_of_a_cluster_probes_the_other_members(tmp_path: Path, port: int) -> None:
    deployment = _deployment(tmp_path, port)
    # on loopback this machine can send from every member's address: it must say which it is
    done = _verify(deployment, "--on", "nodes")
    assert done.exit_code == 2, done.output
    assert "several members of nodes (127.0.0.4, 127.0.0.5, 127.0.0.6)" in done.output
    assert "--from-address" in done.output
    report = _report(_verify(deployment, "--on", "nodes", "--from-address", "127.0.0.5"), 0)
    assert [(c["address"], c["source_address"], c["outcome"]) for c in report["checks"]] == [
        ("127.0.0.4", "127.0.0.5", "open"),
        ("127.0.0.6", "127.0.0.5", "open"),
    ]
    # another member leaves itself out in turn (127.0.0.5 does not listen: refused)
    report = _report(_verify(deployment, "--on", "nodes", "--from-address", "127.0.0.4"), 1)
    assert [(c["address"], c["outcome"]) for c in report["checks"]] == [
        ("127.0.0.5", "refused"),
        ("127.0.0.6", "open"),
    ]
    for wrong, says in (
        ("127.0.0.9", "is not an address of nodes"),
        ("not-an-address", "not an IP address; name one the deployment declares for the host"),
    ):
        done = _verify(deployment, "--on", "nodes", "--from-address", wrong)
        assert done.exit_code == 2, done.output
        assert says in done.output


def test_a_network_is_never_probed_as_a_mesh(tmp_path: Path, port: int) -> None:
    deployment = _deployment(
        tmp_path, port, nodes={"addresses": ["127.0.0.4", "127.0.1.0/29"], "cluster": True}
    )
    plan = load_plan(deployment)
    local = {ipaddress.ip_address("127.0.0.4")}
    checks, skipped = plan_checks(plan, ["nodes"], local=local, from_addresses=["127.0.0.4"])
    assert checks == []  # its only single address is this member's own
    assert [s.reason for s in skipped if s.row.flow_id == "gossip"] == [
        "between the members of nodes: the machines of 127.0.1.0/29 are not known one by one, "
        "so none is probed (declare each member's address, with cluster: true, to probe them)"
    ]


def test_on_a_managed_host_a_member_leaves_itself_out_and_resolves_names_itself(
    port: int,
) -> None:
    base = {"reference": "", "destination_component": "node", "planned_ports": [str(port)]}
    requests = [
        # a mesh row: 127.0.0.5 is one of the members' addresses and this host's own (every
        # loopback address is), so it is left out: a member does not probe itself
        {**base, "flow": "rows/gossip", "source": "nodes", "destination": "nodes",
         "address": "127.0.0.5", "destination_addresses": ["127.0.0.5/32"],
         "source_addresses": ["127.0.0.5"], "protocol": "tcp", "ports": [port]},
        {**base, "flow": "rows/fetch", "source": "src", "destination": "repo",
         "dns_name": "localhost", "source_addresses": ["127.0.0.2"], "protocol": "tcp",
         "ports": [port]},
        {**base, "flow": "rows/ping", "source": "mon", "destination": "srv",
         "address": "127.0.0.3", "protocol": "icmp", "ports": [], "icmp_type": "echo-request"},
    ]  # fmt: skip
    found = probe_requests(requests, timeout=0.3)
    records = {(r["flow"], r["address"]): r for r in found["checks"]}
    assert ("rows/gossip", "127.0.0.5") not in records
    fetched = records["rows/fetch", "127.0.0.1"]
    assert (fetched["outcome"], fetched["source_address"]) == ("open", "127.0.0.2")
    pinged = records["rows/ping", "127.0.0.3"]
    assert (pinged["outcome"], pinged["port"], pinged["icmp_type"]) == (
        "open",
        None,
        "echo-request",
    )


NOT_FROM_SRC = "sent from the address this machine's kernel chose for "


def test_on_a_managed_host_that_holds_none_of_the_sources_addresses_the_probe_says_so(
    port: int,
) -> None:
    # the inventory host (this machine) holds none of src's addresses (198.51.100.7, RFC
    # 5737): what it sends does not come from src as the firewalls see it, and its records
    # say so, as `verify --on src` does at home
    base = {"reference": "", "destination_component": "repo", "planned_ports": [str(port)],
            "source": "src", "destination": "repo", "source_addresses": ["198.51.100.7"],
            "protocol": "tcp", "ports": [port]}  # fmt: skip
    found = probe_requests([{**base, "flow": "rows/fetch", "dns_name": "localhost"}], timeout=0.3)
    assert found["checks"]
    for record in found["checks"]:
        assert record["source_address"] is None
        assert any(
            n.startswith(NOT_FROM_SRC + "localhost: ") and "none of src's addresses" in n
            for n in record["notes"]
        ), record["notes"]
    # an address (planned only here: nothing is sent to 192.0.2.80)
    (check,) = _remote_checks({**base, "flow": "rows/fetch", "address": "192.0.2.80"}, 0, {})
    assert check.probe.source is None
    assert any(
        n.startswith(NOT_FROM_SRC + "192.0.2.80: ")
        and "none of src's addresses" in n
        and n.endswith("check its ansible_host and portplan_host)")
        for n in check.notes
    ), check.notes
    # a host that holds the source's address sends from it, without the note
    (check,) = _remote_checks(
        {**base, "flow": "rows/fetch", "address": "192.0.2.80", "source_addresses": ["127.0.0.2"]},
        0,
        {},
    )
    assert check.probe.source == "127.0.0.2"
    assert not any(n.startswith(NOT_FROM_SRC) for n in check.notes)


def test_echo_probes_need_no_port_and_refuse_other_messages() -> None:

    base = {"flow": "f", "source": "a", "destination": "b", "address": "127.0.0.1"}
    for wrong, says in (
        ({"protocol": "icmp", "ports": [1]}, "an ICMP probe has no ports"),
        ({"protocol": "icmp", "icmp_type": "timestamp"}, "sends an echo-request"),
        ({"protocol": "tcp", "ports": []}, "'ports' must be a list of ports"),
        ({"protocol": "tcp", "ports": [1], "address": None}, "give the 'address'"),
    ):
        with pytest.raises(RequestError, match=says):
            probe_requests([{**base, **wrong}], timeout=0.1)


def test_the_engine_probes_echo_requests_like_ports() -> None:

    probes = [
        PortProbe(address=a, port=None, protocol=Protocol.ICMP, icmp_type="echo-request")
        for a in ("127.0.0.1", "::1", "127.0.0.9")
    ]
    results = asyncio.run(probe_all(probes, timeout=0.5))
    assert [r.outcome for r in results] == [Outcome.OPEN] * 3


def test_a_probe_this_machine_cannot_send_from_its_host_says_so(tmp_path: Path, port: int) -> None:
    # this machine holds no address of src's (198.51.100.7, RFC 5737): the kernel picks the
    # source, and the check must not read as if src had sent it
    deployment = _deployment(tmp_path, port, src={"addresses": ["198.51.100.7"]})
    report = _report(_verify(deployment, "--on", "src", "--flow", "diag"), 0)
    (check,) = report["checks"]
    assert check["source_address"] is None
    assert any(
        note.startswith("sent from 127.0.0.1, the address this machine's kernel chose for ")
        and "127.0.0.3: " in note
        and "none of src's addresses of that family" in note
        for note in check["notes"]
    ), check["notes"]


def test_a_name_only_address_of_a_family_this_machine_cannot_send_from_says_so(
    tmp_path: Path, port: int
) -> None:
    # src sends from 127.0.0.2 only: ::1, which the name also resolves to, goes from the
    # kernel's choice of address, and the check must not read as if src had sent it
    plan = load_plan(_deployment(tmp_path, port))
    placeholders, _skipped = plan_checks(plan, ["src"], flows=["fetch"])
    assert [c.own_sources for c in placeholders] == [("127.0.0.2",)]
    lookup = NameLookup(name="localhost", addresses=("127.0.0.1", "::1"))
    checks = {c.address: c for c in name_checks(placeholders, {"localhost": lookup})}
    assert checks["127.0.0.1"].probe.source == "127.0.0.2"
    assert not any("kernel" in note for note in checks["127.0.0.1"].notes)
    assert checks["::1"].probe.source is None
    assert (
        "sent from the address this machine's kernel chose for ::1: src sends from no IPv6 "
        "address here (127.0.0.2), so the probe does not come from src as the firewalls see it"
    ) in checks["::1"].notes


def test_a_managed_host_that_is_not_the_source_sends_no_blocked_probe_and_no_loopback_one(
    port: int,
) -> None:
    """As `verify --on` at home: a probe expected blocked is not sent (a firewall that blocks
    this host proves nothing of the source) and fails; a loopback row is not this host's,
    and is not run. Nothing is sent here: each is decided before probing."""
    base = {"reference": "", "destination_component": "repo", "planned_ports": [str(port)],
            "source": "src", "destination": "repo", "source_addresses": ["198.51.100.7"],
            "protocol": "tcp", "ports": [port]}  # fmt: skip
    blocked = {**base, "flow": "rows/fetch", "address": "192.0.2.80", "expect": "blocked"}
    loopback = {**base, "flow": "rows/fetch", "address": "127.0.0.1"}
    found = probe_requests([blocked, loopback], timeout=0.3)
    records = {r["address"]: r for r in found["checks"]}
    sent = records["192.0.2.80"]
    assert (sent["outcome"], sent["passed"], sent["evidence"]["attempts"]) == (
        "local-error", False, 0
    )  # fmt: skip
    assert sent["evidence"]["note"].startswith("not sent: this host holds none of src's")
    assert not any(n.startswith(NOT_FROM_SRC) for n in sent["notes"])
    home = records["127.0.0.1"]
    assert (home["outcome"], home["passed"], home["evidence"]["attempts"]) == ("not-run", False, 0)
    assert home["evidence"]["note"].startswith("not probed: on src's loopback")
    assert found["failed"] == 2
    # the source's own machine probes both
    mine = {**base, "source_addresses": ["127.0.0.2"]}
    for request in ({**mine, "flow": "rows/fetch", "address": "192.0.2.80", "expect": "blocked"},
                    {**mine, "flow": "rows/fetch", "address": "127.0.0.1"}):  # fmt: skip
        (check,) = _remote_checks(request, 0, {})
        assert check.result is None
