"""JUnit XML (diff, verify, audit) is well-formed XML 1.0 whatever text it carries: the
characters XML forbids are shown as visible symbols, never written raw."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

import examples
from portplan.audit import AuditResult, Finding, FindingKind
from portplan.cli import cli
from portplan.report.audit import audit_junit

#: every character XML 1.0 forbids that a Python string can hold and encode
FORBIDDEN = "".join(chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)) + "\ufffe\uffff"


def test_a_product_name_with_control_characters_gives_well_formed_diff_junit(
    tmp_path: Path,
) -> None:
    name = "Ctl\x01\x0b\x1b[31mRED"
    old = examples.hostile_deployment(tmp_path, product=name, name="old")
    new = examples.hostile_deployment(tmp_path, product=name, version="1.1", ports=5433, name="new")
    result = CliRunner().invoke(cli, ["diff", str(old), str(new), "--format", "junit"])
    assert result.exit_code == 1, result.stderr
    suite = ET.fromstring(result.stdout_bytes)
    failures = [f.text or "" for f in suite.iter("failure")]
    assert failures and all("Ctl\u2401\u240b\u241b[31mRED 1.0 -> 1.1" in f for f in failures)


def test_audit_junit_shows_every_forbidden_character() -> None:
    finding = Finding(
        kind=FindingKind.EXTRA, host="h1", direction="inbound", message=f"rule {FORBIDDEN}!"
    )
    result = AuditResult(host="h1", subject="ruleset", platform="nftables", files=("x",))
    result.findings.append(finding)
    suite = ET.fromstring(audit_junit([result]).encode())
    (failure,) = suite.iter("failure")
    shown = "".join(chr(0x2400 + c) for c in range(0x20) if c not in (0x9, 0xA, 0xD))
    assert failure.text == f"rule {shown}\ufffd\ufffd!"
