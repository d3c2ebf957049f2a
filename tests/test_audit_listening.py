"""``portplan audit --sockets`` and ``--live``: listening sockets against the plan.

Stored samples (``tests/data/sockets``, collected on real machines and re-keyed to the
examples' documentation addresses): ``ss -tulpnH`` of Smart ID's da01, ``netstat -ano`` of
Contoso's cm01 (with Windows' dynamic RPC ports, which the plan's range holds) and the Windows
JSON of Contoso's shop01.  Then live, in a network namespace standing for da01, with real
listeners: planned ones on a dual-stack and an IPv4 wildcard, one on loopback only, one on an
IPv6-only wildcard, one missing, and one nobody planned; the namespace also loads da01's
generated nftables ruleset, so the ruleset audit of ``--live`` is clean.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import examples
import machine
import netns
from portplan import load_plan
from portplan.audit.listening import EACH_PORT_UP_TO, audit_listening
from portplan.audit.sockets import read_sockets
from portplan.cli import cli
from portplan.probe.listen import MAX_PORTS_PER_ROW
from portplan.targets import RuleOptions, get_target

DATA = examples.EXAMPLES.parent / "tests" / "data" / "sockets"


def kinds(example: str, host: str, sample: str) -> set[tuple[str, str | None, str]]:
    """(kind, flow, the socket or ports named) of every finding."""
    path = DATA / sample
    sockets = read_sockets(path.read_text(), str(path))
    result = audit_listening(examples.example_plan(example), host, sockets, source=str(path))
    return {(f.kind.value, f.flow, f.message.split(": ")[-1]) for f in result.findings}


def test_ss_sample_of_da01() -> None:
    found = kinds("smart-id-nexus", "da01", "da01-ss.txt")
    image = "smart-id-21.04/da-distribution-image"
    lcp = "smart-id-21.04/da-lcp-admin"
    assert found == {
        ("loopback-only", image, "tcp 127.0.0.1:9443 by java (pid 1893)"),
        ("planned-not-listening", lcp, f"nothing listens on tcp 8300 for {lcp}"),
        (
            "other-address",
            "smart-id-21.04/da-lcp-policy-access-point",
            "tcp 192.0.2.41:8301 by java (pid 1893)",
        ),
        (
            "listening-not-planned",
            None,
            "tcp 0.0.0.0:5432 by postgres (pid 1022) listens, but no planned flow ends on "
            "da01 tcp/5432",
        ),
    }
    # the admin service answers on the dual-stack wildcard (*:8443): IPv4 reaches it


def test_netstat_sample_of_cm01_understands_the_dynamic_rpc_range() -> None:
    found = kinds("shopping-contoso", "cm01", "cm01-netstat-ano.txt")
    unplanned = {message.split(" listens")[0] for kind, _f, message in found}
    assert {kind for kind, _f, _m in found} == {"listening-not-planned"}
    # 49664, 49665 and 49702 are RPC endpoints inside cm01's range 49152-65535: planned
    assert unplanned == {
        "tcp 0.0.0.0:5985 by pid 4",
        "tcp 192.0.2.40:139 by pid 4",
        "udp 0.0.0.0:123 by pid 1388",
        "udp 0.0.0.0:3389 by pid 1176",
        "udp 192.0.2.40:137 by pid 4",
    }


def test_windows_json_sample_of_shop01() -> None:
    found = kinds("shopping-contoso", "shop01", "shop01-windows.json")
    assert {m.split(" listens")[0] for _k, _f, m in found} == {
        "tcp 0.0.0.0:135 by svchost (pid 992)",
        "tcp 0.0.0.0:80 by System (pid 4)",
        "udp 0.0.0.0:123 by svchost (pid 1388)",
    }


def test_cli_sockets_json_and_bad_input() -> None:
    runner = CliRunner()
    deployment = str(examples.EXAMPLES / "smart-id-nexus.yaml")
    result = runner.invoke(
        cli,
        ["audit", deployment, "--host", "da01", "--sockets", f"ss:{DATA / 'da01-ss.txt'}",
         "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1
    (audit,) = machine.document(result.stdout, "audit")["audits"]
    assert audit["subject"] == "listening"
    assert audit["counts"]["planned-not-listening"] == 1
    result = runner.invoke(cli, ["audit", deployment, "--host", "da01", "--sockets", deployment])
    assert result.exit_code == 2 and "not a socket list" in result.stderr


def test_each_summary_line_says_whether_it_is_the_firewall_or_the_sockets() -> None:
    # a clean ruleset and a socket list with findings: "da01: no findings" alone read as if
    # the whole host were clean, one line above the socket findings
    rules = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default"
    result = CliRunner().invoke(
        cli,
        ["audit", str(examples.EXAMPLES / "smart-id-nexus.yaml"), "--host", "da01",
         "--ruleset", str(rules / "da01.v4"), "--ruleset", str(rules / "da01.v6"),
         "--sockets", f"ss:{DATA / 'da01-ss.txt'}"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    summaries = [line for line in result.stdout.splitlines() if line.startswith("da01")]
    assert summaries == [
        "da01 firewall: no findings (8 planned flows checked)",
        "da01 listening sockets: 1 planned-not-listening, 1 listening-not-planned,"
        " 1 loopback-only, 1 other-address (8 planned flows checked)",
    ]


ECE = Path(__file__).resolve().parent / "data" / "vendor-docs" / "elastic-cloud-enterprise-2.6"


def test_a_range_is_where_a_service_may_listen_not_ports_that_must_all(tmp_path: Path) -> None:
    # Elastic Cloud Enterprise's allocator: 1000-port ranges, a port per instance. One socket
    # in a range serves it; a range with none is one finding, never one per port (an allocator
    # with a few instances gave a finding naming every gap, thousands of lines in the table)
    roles = {"allocator": "alloc01", "coordinator": "c01", "proxy": "p01", "director": "d01"}
    hosts = {host: {"addresses": [f"192.0.2.{40 + n}"]} for n, host in enumerate(roles.values())}
    product = {"file": str(ECE / "product.yaml"), "components": roles}
    plan = examples.plan_from_data(
        {"name": "ece", "hosts": hosts, "products": {"ece-2.6": product}}, tmp_path
    )
    lines = ["tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*"]
    lines += [f"tcp LISTEN 0 128 0.0.0.0:{p} 0.0.0.0:*" for p in (18001, 18017, 18502)]
    lines += ["tcp LISTEN 0 128 127.0.0.1:20010 0.0.0.0:*"]  # 20000-20999: loopback only
    lines += [f"tcp LISTEN 0 128 127.0.0.1:{p} 0.0.0.0:*" for p in range(19000, 19600, 2)]
    sockets = read_sockets("\n".join(lines), "ss.txt", "ss")
    result = audit_listening(plan, "alloc01", sockets, source="ss.txt")
    key = "ece-2.6/"
    on = "on 192.0.2.40, but only loopback listens"
    instance = f"needs a socket in the range tcp 20000-20999 {on}: tcp 127.0.0.1:20010"
    # 18000-18999 has three instances: served, for each of the three flows that end there
    assert {(f.kind.value, f.flow, f.message) for f in result.findings} == {
        (
            "loopback-only",
            key + "node-transport",
            f"{key}node-transport needs a socket in the range tcp 19000-19999 {on}: "
            "tcp 127.0.0.1:19000, tcp 127.0.0.1:19002, tcp 127.0.0.1:19004, "
            "tcp 127.0.0.1:19006 and 296 more",
        ),
        ("loopback-only", key + "proxy-to-instances", f"{key}proxy-to-instances {instance}"),
        ("loopback-only", key + "elasticsearch-tls", f"{key}elasticsearch-tls {instance}"),
        (
            "planned-not-listening",
            key + "apm-server",
            "nothing listens on any of the 1000 ports of the range tcp 21000-21999 for "
            f"{key}apm-server",
        ),
        (
            "planned-not-listening",
            key + "services-forwarder",
            f"nothing listens on tcp 9244 for {key}services-forwarder",
        ),
    }


def test_each_port_of_a_short_run_must_listen_as_verify_probes_each() -> None:
    # web is TCP 18080 and 18081, radius UDP 18118-18126: runs of 2 and 9 ports, which verify
    # and listen probe port by port; one socket of the run does not serve the others
    plan = load_plan(str(Path(__file__).resolve().parent / "data" / "loop-deployment.yaml"))
    lines = ["tcp LISTEN 0 128 0.0.0.0:18080 0.0.0.0:*"]
    lines += [f"udp UNCONN 0 0 0.0.0.0:{p} 0.0.0.0:*" for p in range(18118, 18127) if p != 18120]
    sockets = read_sockets("\n".join(lines), "ss.txt", "ss")
    result = audit_listening(plan, "server", sockets, source="ss.txt")
    missing = {f.message for f in result.findings if f.kind.value == "planned-not-listening"}
    assert missing == {
        "nothing listens on tcp 18081 for loop-1.0/web",
        "nothing listens on udp 18120 for loop-1.0/radius",
        "nothing listens on tcp 18090 for loop-1.0/closed",  # no socket given for these two
        "nothing listens on tcp 22 for management/ssh",
    }
    assert EACH_PORT_UP_TO == MAX_PORTS_PER_ROW  # the audit's runs are verify's rows


# -- live, in a namespace ------------------------------------------------------------------------

LISTENERS = r"""
import socket, sys
keep = []
def tcp(family, address, port, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((address, port)); s.listen(); keep.append(s)
def udp(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((address, port)); keep.append(s)
tcp(socket.AF_INET6, "::", 8443, v6only=0)      # planned, dual-stack: IPv4 reaches it
tcp(socket.AF_INET6, "::", 4443, v6only=1)      # planned, but IPv6 only: other address
tcp(socket.AF_INET, "127.0.0.1", 9443)          # planned, loopback only
tcp(socket.AF_INET, "0.0.0.0", 8301)            # planned
tcp(socket.AF_INET, "0.0.0.0", 22)              # planned
tcp(socket.AF_INET, "0.0.0.0", 5432)            # nobody planned it
for port in range(18118, 18127):
    udp("0.0.0.0", port)                        # planned (RADIUS)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def da01() -> Iterator[netns.Node]:
    with netns.guard("nft", "ss"), netns.topology() as topo:
        node = topo.add_node("da01", [ipaddress.ip_address("192.0.2.40")])
        plan = examples.example_plan("smart-id-nexus")
        (ruleset,) = get_target("nftables").render(plan, RuleOptions(hosts=("da01",))).values()
        topo.nft(node, ruleset)
        with subprocess.Popen(
            ["ip", "netns", "exec", node.netns, sys.executable, "-c", LISTENERS],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        ) as process:  # fmt: skip
            try:
                assert process.stdout is not None
                assert process.stdout.readline().strip() == "ready"
                yield node
            finally:
                process.kill()


@pytest.mark.netns
def test_live_listening_and_ruleset_of_a_namespace(da01: netns.Node) -> None:
    deployment = examples.EXAMPLES / "smart-id-nexus.yaml"
    done = subprocess.run(
        ["ip", "netns", "exec", da01.netns, sys.executable, "-m", "portplan", "audit",
         str(deployment), "--host", "da01", "--live", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    ruleset, listening = machine.document(done.stdout, "audit")["audits"]
    assert ruleset["subject"] == "ruleset" and ruleset["passed"], json.dumps(ruleset)
    found = {(f["kind"], f["flow"]) for f in listening["findings"]}
    assert found == {
        ("other-address", "smart-id-21.04/da-policy-xpi"),
        ("loopback-only", "smart-id-21.04/da-distribution-image"),
        ("planned-not-listening", "smart-id-21.04/da-lcp-admin"),
        ("listening-not-planned", None),
    }
    unplanned = [f for f in listening["findings"] if f["kind"] == "listening-not-planned"]
    # the listener runs as sys.executable: python or python3, as pytest itself was started
    name = Path(sys.executable).name
    assert f"tcp 0.0.0.0:5432 by {name} (pid " in unplanned[0]["message"]


@pytest.mark.netns
def test_live_refuses_another_host(da01: netns.Node) -> None:
    deployment = examples.EXAMPLES / "smart-id-nexus.yaml"
    done = subprocess.run(
        ["ip", "netns", "exec", da01.netns, sys.executable, "-m", "portplan", "audit",
         str(deployment), "--host", "idm01", "--live"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "none of its addresses belongs to host 'idm01'" in done.stderr


def test_ss_before_iproute2_4_13_names_the_ipv4_wildcard_star(tmp_path: Path) -> None:
    # legacy-ss-4.11.txt: `ss -tulpn` of iproute2 4.11 (RHEL 7's), built from its source, of
    # real sockets in a namespace holding 192.0.2.3 and 2001:db8::3: 0.0.0.0:22 and :123 print
    # as `*`, the dual-stack [::]:8443 as `:::8443`, [2001:db8::3]:8301 unbracketed. It was
    # read as the `*` of later ss (dual-stack): IPv6 reached 22 and 123, IPv4 not 8443
    product = tmp_path / "old.yaml"
    flows = [("ssh", "tcp", 22), ("web", "tcp", 8443), ("api", "tcp", 8301), ("time", "udp", 123)]
    product.write_text(
        "id: old-1\nname: Old\nversion: '1'\ndocument: {title: Old ports}\n"
        "components:\n  pc: {name: PC, kind: client}\n  srv: {name: Server}\nflows:\n"
        + "".join(
            f"  - {{id: {flow}, row: {n}, from: pc, to: srv, protocol: {proto}, ports: {port},"
            " purpose: Calls.}\n"
            for n, (flow, proto, port) in enumerate(flows, 1)
        )
    )
    plan = examples.plan_from_data(
        {
            "name": "legacy",
            "hosts": {
                "pc": {"addresses": ["203.0.113.9"]},
                "srv": {"addresses": ["192.0.2.3", "2001:db8::3"]},
            },
            "products": {"old-1": {"file": str(product), "components": {"pc": "pc", "srv": "srv"}}},
        },
        tmp_path,
    )
    path = DATA / "legacy-ss-4.11.txt"
    sockets = read_sockets(path.read_text(), str(path))
    found = audit_listening(plan, "srv", sockets, source=str(path)).findings
    on = "on 192.0.2.3, 2001:db8::3, but it listens elsewhere"
    assert {(f.kind.value, f.message) for f in found} == {
        ("other-address", f"old-1/ssh needs tcp 22 {on}: tcp 0.0.0.0:22 by python3 (pid 3838)"),
        (
            "other-address",
            f"old-1/api needs tcp 8301 {on}: tcp [2001:db8::3]:8301 by python3 (pid 3838)",
        ),
        (
            "other-address",
            f"old-1/time needs udp 123 {on}: udp 0.0.0.0:123 by python3 (pid 3838)",
        ),
    }
    # netstat's rule: `:::8443` takes IPv4 too where the host's bindv6only is 0 (Linux's default)
    strict = read_sockets(path.read_text(), str(path), bindv6only=True)
    found = audit_listening(plan, "srv", strict, source=str(path)).findings
    assert any(f.message.startswith("old-1/web needs tcp 8443 on 192.0.2.3") for f in found)


def test_ss_before_iproute2_4_13_without_ipv6_sockets_is_told_by_its_ipv4_peer() -> None:
    # the IPv4 lines of legacy-ss-4.11.txt alone (a RHEL 7 host with no IPv6 socket): no
    # unbracketed IPv6 address tells it, but ss 4.11 prints an IPv4 socket's peer `*:*` where
    # later ss prints `0.0.0.0:*` (this machine's iproute2 6.1 does).  `*:22` was read as the
    # dual-stack `*` of later ss: IPv6 reached 22 and 123, a false clean
    path = DATA / "legacy-ss-4.11.txt"
    lines = path.read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if "::" not in line)
    assert "*:22" in text and "127.0.0.1:9443" in text and "::" not in text
    wildcards = [s for s in read_sockets(text, "v4only.txt") if s.address.is_unspecified]
    assert {(s.protocol, str(s.address), s.port, s.dual_stack) for s in wildcards} == {
        ("udp", "0.0.0.0", 123, False),
        ("tcp", "0.0.0.0", 22, False),
    }
    # later ss: the `*` of a dual-stack socket beside an IPv4 socket's `0.0.0.0:*` peer
    later = "tcp LISTEN 0 128 127.0.0.1:9443 0.0.0.0:*\ntcp LISTEN 0 128 *:22 *:*\n"
    (dual,) = [s for s in read_sockets(later, "new.txt") if s.address.is_unspecified]
    assert (str(dual.address), dual.dual_stack) == ("::", True)


def test_a_member_of_a_dual_stack_cluster_needs_an_address_of_each_family(
    tmp_path: Path,
) -> None:
    # a cluster's sockets are one member's: one of its addresses must be reached, but one of
    # each family the plan gives it (IPv6 clients connect to an IPv6 member address); a member
    # listening on its IPv4 address alone was clean while IPv6 clients reach nothing
    product = tmp_path / "es.yaml"
    product.write_text(
        "id: es-1\nname: ES\nversion: '1'\ndocument: {title: ES ports}\n"
        "components:\n  pc: {name: PC, kind: client}\n  es: {name: ES}\nflows:\n"
        "  - {id: query, row: 1, from: pc, to: es, protocol: tcp, ports: 9200, purpose: Calls.}\n"
    )
    plan = examples.plan_from_data(
        {
            "name": "dual",
            "hosts": {
                "pc": {"addresses": ["203.0.113.9", "2001:db8:9::9"]},
                "es": {
                    "addresses": ["192.0.2.3", "192.0.2.4", "2001:db8::3", "2001:db8::4"],
                    "cluster": True,
                },
            },
            "products": {"es-1": {"file": str(product), "components": {"pc": "pc", "es": "es"}}},
        },
        tmp_path,
    )

    def found(ss: str) -> set[str]:
        sockets = read_sockets(ss, "member.txt")
        return {f.kind.value for f in audit_listening(plan, "es", sockets, source="m").findings}

    v4 = "tcp LISTEN 0 128 192.0.2.3:9200 0.0.0.0:*\n"
    v6 = "tcp LISTEN 0 128 [2001:db8::3]:9200 [::]:*\n"
    assert found(v4) == {"other-address"}
    assert found(v6) == {"other-address"}
    assert found(v4 + v6) == set()  # one member: an address of each family, not each address
    assert found("tcp LISTEN 0 128 *:9200 *:*\n") == set()
