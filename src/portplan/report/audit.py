"""Audit results as a terminal table, JSON, CSV and JUnit, and the annotated ruleset copy."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from typing import Any

from portplan.audit import KINDS_OF, AuditResult, Finding, FindingKind, RuleServes
from portplan.report.junit import junit_xml
from portplan.report.machine import document
from portplan.report.text import csv_text, rich_table_text
from portplan.spaces import ICMPS, PORTED, Box, Packet, Space

__all__ = [
    "annotated_copy",
    "audit_csv",
    "audit_json",
    "audit_junit",
    "audit_table",
    "packet_record",
    "space_records",
    "summary_line",
]

CSV_COLUMNS = ("host", "kind", "direction", "flow", "peer", "rule", "line", "example", "message")


def _cidrs(ranges: Any, family: int) -> list[str]:
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    out = []
    for low, high in ranges:
        for network in ipaddress.summarize_address_range(make(low), make(high)):
            out.append(str(network))
    return out


def _intervals(ranges: Any) -> list[list[int]]:
    return [[low, high] for low, high in ranges]


def _box_record(box: Box) -> dict[str, Any]:
    ported = box.protocols.issubset(PORTED)
    icmp = box.protocols.issubset(ICMPS)
    return {
        "family": box.family,
        "sources": _cidrs(box.sources, box.family),
        "destinations": _cidrs(box.destinations, box.family),
        "protocols": _intervals(box.protocols),
        "ports": _intervals(box.ports) if ported else None,
        "icmp": _intervals(box.ports) if icmp else None,
    }


def space_records(space: Space | None) -> list[dict[str, Any]]:
    """A packet set as JSON records, one per box of its normalised form, every one (a cut
    list would name less than a finding holds, or a change opens or closes)."""
    if space is None:
        return []
    return [_box_record(b) for b in space.normalised().boxes]


def packet_record(packet: Packet | None) -> dict[str, Any] | None:
    if packet is None:
        return None
    return {
        "family": packet.family,
        "source": str(packet.source),
        "destination": str(packet.destination),
        "protocol": packet.protocol,
        "port": packet.port,
        "icmp_type": packet.icmp[0] if packet.icmp else None,
        "icmp_code": packet.icmp[1] if packet.icmp else None,
    }


def _finding_record(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "host": finding.host,
        "direction": finding.direction,
        "flow": finding.flow,
        "peer": finding.peer,
        "rule": finding.rule,
        "rule_text": finding.rule_text,
        "line": finding.line,
        "message": finding.message,
        "packets": space_records(finding.packets),
        "example": packet_record(finding.example),
    }


def _counts(findings: Sequence[Finding]) -> dict[str, int]:
    found = Counter(f.kind.value for f in findings)
    return {kind.value: found.get(kind.value, 0) for kind in FindingKind}


#: what a summary line calls each audit's ``subject``: a host audited live has one of each
SUBJECTS = {"ruleset": "firewall", "listening": "listening sockets"}


def summary_line(result: AuditResult) -> str:
    """``da01 firewall: 2 missing, 1 extra (12 planned flows checked)`` or ``... no
    findings``; ``da01 listening sockets: ...`` for the sockets."""
    counts = {k: n for k, n in _counts(result.findings).items() if n}
    said = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no findings"
    subject = SUBJECTS.get(result.subject, result.subject)
    return f"{result.host} {subject}: {said} ({result.checked} planned flows checked)"


def audit_json(results: Sequence[AuditResult]) -> str:
    """Every finding with its packets and an example (``portplan schema audit``)."""
    return document(
        "audit",
        {
            "audits": [
                {
                    "host": r.host,
                    "subject": r.subject,
                    "platform": r.platform,
                    "files": list(r.files),
                    "checked": r.checked,
                    "passed": r.passed,
                    "counts": _counts(r.findings),
                    "findings": [_finding_record(f) for f in r.findings],
                    "notes": list(r.notes),
                }
                for r in results
            ],
            "passed": all(r.passed for r in results),
        },
    )


def _example(finding: Finding) -> str:
    return str(finding.example) if finding.example is not None else ""


def audit_table(results: Sequence[AuditResult], *, width: int) -> str:
    out = []
    for result in results:
        rows = [
            (f.kind.value, f.direction, f.flow or "", f.rule or "", _example(f), f.message)
            for f in result.findings
        ]
        if rows:
            out.append(
                rich_table_text(
                    f"Audit of {result.host} ({result.subject}, {result.platform})",
                    ("finding", "direction", "flow", "rule", "example", "why"),
                    rows,
                    width=width,
                )
            )
        out.extend(f"note: {note}\n" for note in result.notes)
        out.append(summary_line(result) + "\n")
    return "".join(out)


def audit_csv(results: Sequence[AuditResult]) -> str:
    rows = [
        (
            f.host,
            f.kind.value,
            f.direction,
            f.flow or "",
            f.peer or "",
            f.rule or "",
            "" if f.line is None else str(f.line),
            _example(f),
            f.message,
        )
        for r in results
        for f in r.findings
    ]
    return csv_text(CSV_COLUMNS, rows)


def audit_junit(results: Sequence[AuditResult]) -> str:
    """One test case per host and kind of finding; a failure per kind that has findings."""
    suite = ET.Element("testsuite", name="portplan audit")
    tests = failures = 0
    for result in results:
        for kind in KINDS_OF[result.subject]:
            found = [f for f in result.findings if f.kind is kind]
            case = ET.SubElement(
                suite, "testcase", classname=f"{result.host}.{result.subject}", name=kind.value
            )
            tests += 1
            if found:
                failures += 1
                failure = ET.SubElement(
                    case, "failure", message=f"{len(found)} {kind.value} finding(s)"
                )
                failure.text = "\n".join(f.message for f in found)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    return junit_xml(suite)


def _annotation(rule: RuleServes) -> str:
    if rule.effect == "serves":
        return "portplan: serves " + ", ".join(rule.flows)
    return f"portplan: {rule.effect}"


def annotated_copy(result: AuditResult, texts: dict[str, str]) -> dict[str, str]:
    """Each ruleset file with a comment above every rule naming the flows it serves, or "not
    in plan"; a ruleset without lines (nft JSON) as a listing of its rules."""
    by_line: dict[tuple[str, int], RuleServes] = {}
    listing: list[str] = []
    for rule in result.rules:
        if rule.line is not None:
            by_line[(rule.where.rsplit(":", 1)[0], rule.line)] = rule
        else:
            listing.append(f"# {_annotation(rule)}\n{rule.where}: {rule.text}")
    out: dict[str, str] = {}
    for name, text in texts.items():
        lines = []
        for number, line in enumerate(text.splitlines(), 1):
            found = by_line.get((name, number))
            if found is not None:
                lines.append(f"# {_annotation(found)}")
            lines.append(line)
        if any((name, n) in by_line for n in range(1, len(lines) + 1)):
            out[name] = "\n".join(lines) + "\n"
    if listing:
        out[f"{result.host}.rules.txt"] = "\n".join(listing) + "\n"
    return out
