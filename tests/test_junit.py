"""JUnit XML (diff, verify, audit) is well-formed XML 1.0 whatever text it carries: the
characters XML forbids are shown as visible symbols, never written raw; an interrupted
verify says so as CI servers read it."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

import examples
from portplan.audit import AuditResult, Finding, FindingKind
from portplan.cli import cli
from portplan.model.protocol import Protocol
from portplan.probe.checks import FlowCheck
from portplan.probe.outcomes import Evidence, Outcome, PortProbe, PortResult
from portplan.probe.rows import PortRanges, RemoteRow
from portplan.report.audit import audit_junit
from portplan.report.verify import verify_junit

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


def _check(port: int, outcome: Outcome, note: str | None = None) -> FlowCheck:
    probe = PortProbe(address="192.0.2.10", port=port, protocol=Protocol.TCP)
    row = RemoteRow(
        key="p/web",
        reference="",
        source="client",
        destination="server",
        destination_component="server",
        destination_addresses=(ipaddress.ip_network("192.0.2.10/32"),),
        protocol=Protocol.TCP,
        app_protocol=None,
        ports=PortRanges(((port, port),)),
    )
    result = PortResult(probe=probe, outcome=outcome, evidence=Evidence(note=note))
    return FlowCheck(row=row, probe=probe, result=result)


def test_verify_junit_marks_an_interrupted_run_as_ci_servers_read_it() -> None:
    checks = [
        _check(443, Outcome.OPEN),
        _check(444, Outcome.REFUSED),
        _check(445, Outcome.UNFINISHED, "the run was interrupted first (Ctrl-C)"),
    ]
    suite = ET.fromstring(verify_junit(checks, [], interrupted=True).encode())
    # the suite says it broke off; the probe it left unsettled is an error, not a finding
    assert [(p.get("name"), p.get("value")) for p in suite.iter("property")] == [
        ("interrupted", "true")
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    (error,) = cases["client -> 192.0.2.10 tcp/445"].iter("error")
    assert error.get("type") == "interrupted"
    assert error.get("message") == "unfinished: the run was interrupted (Ctrl-C)"
    assert "the run was interrupted first (Ctrl-C)" in (error.text or "")
    assert cases["client -> 192.0.2.10 tcp/445"].find("failure") is None
    assert cases["client -> 192.0.2.10 tcp/444"].find("failure") is not None
    # a run that was not interrupted: no such property, an unfinished probe (--deadline) fails
    whole = ET.fromstring(verify_junit(checks, []).encode())
    assert list(whole.iter("property")) == []
    assert (whole.get("failures"), whole.get("errors")) == ("2", "0")
    assert list(whole.iter("error")) == []
