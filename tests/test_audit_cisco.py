"""``portplan audit --boundary SRC:DST --ruleset cisco:FILE``: a zone firewall's access lists
against the rows that cross the boundary (IOS and ASA syntax).  A file ``portplan rules -t
cisco`` writes holds the ACLs of the interface facing a source zone: it is audited once per
boundary from that zone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import examples
import machine
from portplan import load_plan
from portplan._errors import AuditError
from portplan.audit import FindingKind, audit_ruleset
from portplan.audit.cisco import read_cisco_acls
from portplan.audit.nftables import read_nftables_json
from portplan.cli import cli

CISCO = examples.GOLDEN / "rules" / "cisco"
NEXUS = examples.EXAMPLES / "smart-id-nexus.yaml"


@pytest.mark.parametrize("example", ["shopping-contoso", "smart-id-nexus", "smart-id-k8s"])
@pytest.mark.parametrize("case", ["default", "egress-reject"])
def test_cisco_goldens_have_no_finding(example: str, case: str) -> None:
    plan = examples.example_plan(example)
    files = sorted((CISCO / example / case).glob("*.acl"))
    assert files
    crossing = {
        (r.source_zone, r.destination_zone)
        for r in plan.rows
        if r.source_zone and r.destination_zone and r.source_zone != r.destination_zone
    }
    audited = set()
    for path in files:
        source = path.stem.removeprefix("from-")
        ruleset = read_cisco_acls(path.read_text(), str(path))
        for boundary in sorted(b for b in crossing if b[0] == source):
            result = audit_ruleset(plan, path.stem, ruleset, boundary=boundary)
            assert result.checked > 0
            assert result.findings == [], (path.name, [f.message for f in result.findings])
            audited.add(boundary)
    assert audited == crossing


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_each_finding_names_the_entry(tmp_path: Path) -> None:
    text = (CISCO / "smart-id-nexus" / "default" / "from-dmz.acl").read_text()
    text = text.replace(
        " permit tcp host 198.51.100.20 host 192.0.2.40 eq 8300",
        " deny tcp host 198.51.100.20 host 192.0.2.40 eq 8301\n"
        " permit tcp host 198.51.100.20 host 192.0.2.40 range 8300 8310",
    )
    path = tmp_path / "from-dmz.acl"
    path.write_text(text)
    lines = text.splitlines()
    deny = next(n for n, line in enumerate(lines, 1) if "deny tcp" in line)
    wide = next(n for n, line in enumerate(lines, 1) if "range 8300 8310" in line)
    old = next(
        n
        for n, line in enumerate(lines, 1)
        if line == " permit tcp host 198.51.100.20 host 192.0.2.40 eq 8301"
    )
    code, out, err = run("audit", str(NEXUS), "--boundary", "dmz:internal", "--ruleset",
                         f"cisco:{path}", "--format", "json")  # fmt: skip
    assert code == 1, err
    (audit,) = machine.document(out, "audit")["audits"]
    found = {(f["kind"], f["flow"], f["line"]) for f in audit["findings"]}
    assert found == {
        (FindingKind.MISSING.value, "smart-id-21.04/da-lcp-policy-access-point", deny),
        (FindingKind.EXTRA.value, None, wide),
        (FindingKind.SHADOWED.value, None, old),
    }
    extra = next(f for f in audit["findings"] if f["kind"] == "extra")
    assert extra["example"]["port"] == 8302  # 8301 is the deny's


def test_asa_syntax_and_what_cannot_be_read() -> None:
    text = """\
access-list OUTSIDE-IN remark from the DMZ
access-list OUTSIDE-IN extended permit tcp host 198.51.100.20 host 192.0.2.40 eq 4443
access-list OUTSIDE-IN extended permit tcp 198.51.100.0 255.255.255.0 host 192.0.2.40 eq 9443
access-list OUTSIDE-IN extended permit tcp object-group EDGE host 192.0.2.40 range 8300 8301
access-list OUTSIDE-IN extended permit tcp host 198.51.100.20 host 192.0.2.10 eq 7071
access-list OUTSIDE-IN extended permit tcp host 198.51.100.20 eq 1234 host 192.0.2.10 eq 7072
access-list OUTSIDE-IN extended deny ip any any log
"""
    ruleset = read_cisco_acls(text, "asa.cfg")
    plan = examples.example_plan("smart-id-nexus")
    result = audit_ruleset(plan, "dmz -> internal", ruleset, boundary=("dmz", "internal"))
    kinds = {(f.kind.value, f.line) for f in result.findings}
    assert ("unreadable", 4) in kinds and ("unreadable", 6) in kinds
    # 198.51.100.0/24 is wider than the planned sources of 9443: extra, from the netmask form
    assert any(k == "extra" and line == 3 for k, line in kinds)


def test_boundary_usage_errors() -> None:
    acl = str(CISCO / "smart-id-nexus" / "default" / "from-dmz.acl")
    code, _out, err = run("audit", str(NEXUS), "--boundary", "dmz:nowhere", "--ruleset", acl)
    assert code == 2 and "zones of the deployment" in err
    code, _out, err = run("audit", str(NEXUS), "--ruleset", acl)
    assert code == 2 and "--host" in err


#: a Linux router between the zones: it filters what it forwards (hook forward), and accepts
#: everything addressed to itself (hook input)
_ROUTER_NFT_JSON = """{"nftables": [
 {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "fw", "handle": 1}},
 {"chain": {"family": "inet", "table": "fw", "name": "input", "handle": 1, "type": "filter",
            "hook": "input", "prio": 0, "policy": "accept"}},
 {"chain": {"family": "inet", "table": "fw", "name": "forward", "handle": 2, "type": "filter",
            "hook": "forward", "prio": 0, "policy": "drop"}}
]}
"""
_ROUTER_NFT_TEXT = """table inet fw {
  chain input { type filter hook input priority 0; policy accept; }
  chain forward { type filter hook forward priority 0; policy drop; }
}
"""
_ROUTER_IPTABLES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("router.json", _ROUTER_NFT_JSON, "nftables"),
        ("router.nft", _ROUTER_NFT_TEXT, "nftables"),
        ("router.rules", _ROUTER_IPTABLES, "iptables"),
    ],
    ids=["nft-json", "nft-text", "iptables-save"],
)
def test_a_hosts_ruleset_is_refused_for_a_boundary(
    tmp_path: Path, name: str, text: str, kind: str
) -> None:
    """A host's ruleset is read for what reaches the host itself (input), never for what it
    forwards: judged as a zone boundary, this router, which forwards nothing, would pass every
    planned flow. It is refused, before anything is loaded (an nft text ruleset too)."""
    path = tmp_path / name
    path.write_text(text)
    code, out, err = run("audit", str(NEXUS), "--boundary", "dmz:internal", "--ruleset", str(path))
    assert (code, out) == (2, ""), err
    assert f"{path} holds an {kind} ruleset, a host's own firewall" in err
    assert "--boundary reads a zone firewall's Cisco IOS or ASA access lists" in err
    assert "Traceback" not in err


def test_access_lists_are_refused_for_a_host() -> None:
    """A zone boundary's access lists do not see the traffic within a zone: judged as one host's
    firewall, they would fail the flows that never cross them."""
    acl = CISCO / "smart-id-nexus" / "default" / "from-dmz.acl"
    code, out, err = run("audit", str(NEXUS), "--host", "da01", "--ruleset", f"cisco:{acl}")
    assert (code, out) == (2, ""), err
    assert f"{acl} holds Cisco access lists" in err and "--boundary SRC-ZONE:DST-ZONE" in err


def test_access_lists_are_refused_as_a_hosts_ruleset_for_a_change_request() -> None:
    # matrix --against judged a boundary's access lists as da01's firewall: the flows within
    # the zone, which never cross them, read as still to open (exit 0)
    acl = CISCO / "smart-id-nexus" / "default" / "from-dmz.acl"
    code, out, err = run("matrix", str(NEXUS), "--host", "da01", "--against", f"cisco:{acl}")
    assert (code, out) == (2, ""), err
    assert f"{acl}: cisco access lists are a zone boundary's filter" in err, err
    assert err.count("\n") == 1


def test_the_library_audits_each_ruleset_only_as_what_it_filters() -> None:
    plan = examples.example_plan("smart-id-nexus")
    router = read_nftables_json(_ROUTER_NFT_JSON, "router.json")
    with pytest.raises(AuditError, match=r"router\.json: nftables rules are a host's own firewall"):
        audit_ruleset(plan, "dmz -> internal", router, boundary=("dmz", "internal"))
    acl = CISCO / "smart-id-nexus" / "default" / "from-dmz.acl"
    acls = read_cisco_acls(acl.read_text(), "from-dmz.acl")
    with pytest.raises(AuditError, match="cisco access lists are a zone boundary's filter"):
        audit_ruleset(plan, "da01", acls)


_DUAL = f"""\
name: asa
hosts:
  client: {{addresses: [192.0.2.2, "2001:db8:1::2"], zone: users}}
  server: {{addresses: [192.0.2.3, "2001:db8:2::3"], zone: servers}}
products:
  loop-1.0:
    file: {examples.EXAMPLES.parent / "tests" / "data" / "loop-product.yaml"}
    components: {{client: client, server: server}}
"""
_PLANNED = [
    f"access-list USERS-IN extended permit {proto} host {client} host {server} {ports}"
    for client, server in (("192.0.2.2", "192.0.2.3"), ("2001:db8:1::2", "2001:db8:2::3"))
    for proto, ports in (("tcp", "range 18080 18081"), ("tcp", "eq 18090"),
                         ("udp", "range 18118 18126"))
]  # fmt: skip


def test_an_asa_list_is_one_for_both_families(tmp_path: Path) -> None:
    """ASA 9: 'any' is every IPv4 and IPv6 address, any6 and icmp6 IPv6's, and the list's
    implicit deny holds for both families."""
    path = tmp_path / "deployment.yaml"
    path.write_text(_DUAL)
    plan = load_plan(path)
    text = "\n".join([
        "access-list USERS-IN extended permit tcp any any eq 22",
        *_PLANNED,
        "access-list USERS-IN extended permit icmp6 any6 any6 echo-request",
        "access-list USERS-IN extended permit icmp any4 any4 echo",
    ])  # fmt: skip
    ruleset = read_cisco_acls(text, "asa.cfg")
    result = audit_ruleset(plan, "users -> servers", ruleset, boundary=("users", "servers"))
    extras = {(f.line, str(f.example)) for f in result.findings if f.kind is FindingKind.EXTRA}
    assert extras == {
        (1, "tcp 192.0.2.2 -> 192.0.2.3 port 22"),
        (1, "tcp 2001:db8:1::2 -> 2001:db8:2::3 port 22"),
        (8, "icmpv6 2001:db8:1::2 -> 2001:db8:2::3 type 128 code 0"),
        (9, "icmp 192.0.2.2 -> 192.0.2.3 type 8 code 0"),
    }
    assert {f.kind for f in result.findings} == {FindingKind.EXTRA}
    # only IPv4 entries: IPv6 meets the implicit deny, so each row passes in part
    only_v4 = "\n".join(line for line in _PLANNED if ":" not in line)
    result = audit_ruleset(plan, "users -> servers", read_cisco_acls(only_v4, "asa.cfg"),
                           boundary=("users", "servers"))  # fmt: skip
    assert {f.kind for f in result.findings} == {FindingKind.PARTIAL}
    assert all(f.example and f.example.family == 6 for f in result.findings)


def _extras(folder: Path, text: str) -> set[tuple[int | None, str]]:
    """The extra findings (line, example) of ``text`` at the users -> servers boundary."""
    path = folder / "deployment.yaml"
    path.write_text(_DUAL)
    ruleset = read_cisco_acls(text, "acl.cfg")
    result = audit_ruleset(
        load_plan(path), "users -> servers", ruleset, boundary=("users", "servers")
    )
    assert {f.kind for f in result.findings} <= {FindingKind.EXTRA}
    return {(f.line, str(f.example)) for f in result.findings}


def test_asa_radius_names_the_ports_asa_gives_it(tmp_path: Path) -> None:
    """ASA's literal 'radius' is udp 1645 and 'radius-acct' 1646 (not 1812, 1813)."""
    text = "\n".join([
        *_PLANNED,
        "access-list USERS-IN extended permit udp any4 any4 eq radius",
        "access-list USERS-IN extended permit udp any4 any4 eq radius-acct",
    ])  # fmt: skip
    assert _extras(tmp_path, text) == {
        (7, "udp 192.0.2.2 -> 192.0.2.3 port 1645"),
        (8, "udp 192.0.2.2 -> 192.0.2.3 port 1646"),
    }


def test_an_icmp_type_and_code_match_that_code(tmp_path: Path) -> None:
    """IOS 'permit icmp any any 3 4' is type 3 code 4 (fragmentation needed), not two types."""
    entries = [f" {line.split(' extended ')[1]}" for line in _PLANNED]
    text = "\n".join([
        "ip access-list extended USERS-IN",
        *(e for e in entries if ":" not in e),
        " permit icmp any any 3 4",
        "ipv6 access-list USERS-IN6",
        *(e for e in entries if ":" in e),
        " permit icmp any any 1 4",
    ])  # fmt: skip
    assert _extras(tmp_path, text) == {
        (5, "icmp 192.0.2.2 -> 192.0.2.3 type 3 code 4"),
        (10, "icmpv6 2001:db8:1::2 -> 2001:db8:2::3 type 1 code 4"),
    }


def test_a_running_configuration_is_read_for_its_extended_lists(tmp_path: Path) -> None:
    """`show running-config`: a standard list, an interface and a vty line after the extended
    lists end them; only what is under an extended list is a filter entry."""
    entries = [f" {line.split(' extended ')[1]}" for line in _PLANNED]
    text = "\n".join([
        "hostname fw1",
        "ip access-list extended USERS-IN",
        *(e for e in entries if ":" not in e),
        " permit tcp any any eq 22",
        "ip access-list standard VTY",
        " permit 203.0.113.0 0.0.0.255",
        "ipv6 access-list USERS-IN6",
        *(e for e in entries if ":" in e),
        "interface GigabitEthernet0/1",
        " ip access-group USERS-IN in",
        " permit tcp any any eq 23",
        "line vty 0 4",
        " access-class VTY in",
    ])  # fmt: skip
    assert _extras(tmp_path, text) == {(6, "tcp 192.0.2.2 -> 192.0.2.3 port 22")}


def test_an_entry_outside_any_list_is_an_error() -> None:
    """A permit at the start of a line after `exit` would filter nothing the audit reads."""
    text = "ip access-list extended X\n permit tcp any any eq 22\nexit\npermit tcp any any eq 23\n"
    with pytest.raises(AuditError, match=r"acl.cfg:4: an access-list entry outside any extended"):
        read_cisco_acls(text, "acl.cfg")


def test_a_numbered_standard_list_is_not_the_boundarys_filter(tmp_path: Path) -> None:
    """`access-list 10 permit ...` (1-99, 1300-1999) is a standard list, sources only: a
    running-config that holds one beside the extended list is read for the extended one."""
    entries = [f" {line.split(' extended ')[1]}" for line in _PLANNED]
    text = "\n".join([
        "access-list 10 permit 203.0.113.0 0.0.0.255",
        "access-list 1300 permit host 203.0.113.9",
        "ip access-list extended USERS-IN",
        *(e for e in entries if ":" not in e),
        "ipv6 access-list USERS-IN6",
        *(e for e in entries if ":" in e),
    ])  # fmt: skip
    assert _extras(tmp_path, text) == set()


def test_an_asa_list_named_by_a_number_is_read(tmp_path: Path) -> None:
    """An ASA list's name may be a number of IOS's standard range (`access-list 10 extended
    ...`): it is an extended list all the same, and its extra entry is a finding.  It was
    left out as a numbered standard list, and the configuration read as holding none."""
    text = "\n".join([
        "access-list 10 extended permit tcp any any eq 22",
        *(line.replace("USERS-IN", "10") for line in _PLANNED),
    ])  # fmt: skip
    assert _extras(tmp_path, text) == {
        (1, "tcp 192.0.2.2 -> 192.0.2.3 port 22"),
        (1, "tcp 2001:db8:1::2 -> 2001:db8:2::3 port 22"),
    }


def test_an_asa_standard_list_is_not_the_boundarys_filter(tmp_path: Path) -> None:
    """`access-list VTY standard permit ...` (ASA) matches sources only: it was refused as
    "not an access-list entry"."""
    text = "\n".join([
        "access-list VTY standard permit host 203.0.113.9",
        "access-list VTY remark management stations",
        *_PLANNED,
    ])  # fmt: skip
    assert _extras(tmp_path, text) == set()
