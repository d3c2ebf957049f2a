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
from portplan.audit import FindingKind, audit_ruleset
from portplan.audit.cisco import read_cisco_acls
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
