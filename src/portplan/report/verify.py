"""Verification results as a terminal report, JSON (every field) and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence

from portplan.probe.engine import Outcome
from portplan.probe.records import check_record
from portplan.probe.verify import FlowCheck, Skipped
from portplan.report.junit import junit_xml
from portplan.report.machine import document
from portplan.report.text import rich_table_text

__all__ = ["verify_json", "verify_junit", "verify_table"]


def _status(check: FlowCheck) -> str:
    if check.result is None:
        return "not probed"
    text = check.result.outcome.value
    if check.temporary_listener:
        text += " (temporary listener)"
    ident = check.identification
    if ident is not None and not ident.matches:
        found = ident.protocol or "no " + ident.expected
        text += f", but {found} answered"
    return text


def _evidence(check: FlowCheck) -> str:
    if check.result is None:
        return ""
    evidence = check.result.evidence
    parts = [p for p in (evidence.errno, evidence.icmp, evidence.note) if p]
    # a dns-error was decided by the lookup alone: its time is the lookup's
    lookup = "lookup " if check.result.outcome is Outcome.DNS_ERROR else ""
    parts.append(f"{lookup}{evidence.elapsed_ms:g} ms")
    if evidence.attempts > 1:
        parts.append(f"{evidence.attempts} attempts")
    ident = check.identification
    if ident is not None:
        if ident.matches:  # the service proven, not the port alone (what --no-identify shows)
            parts.append(f"identified {ident.protocol}")
        parts.extend(f"{k}={v}" for k, v in ident.details.items())
        parts.extend(f"warning: {w}" for w in ident.warnings)
        if ident.error:
            parts.append(ident.error)
    parts.extend(check.notes)
    return "; ".join(parts)


def _probed(check: FlowCheck) -> str:
    """What was probed: ``tcp/443``, or the ICMP message (``icmp echo-request``)."""
    probe = check.probe
    if probe.port is None:
        return f"{probe.protocol.value} {probe.icmp_type or ''}".rstrip()
    return f"{probe.protocol.value}/{probe.port}"


def _destination(check: FlowCheck) -> str:
    """The destination host, and the address probed or the name reached it by."""
    if check.dns_name is None:
        return f"{check.row.destination} {check.probe.address}"
    if check.address is None:
        return f"{check.row.destination} {check.dns_name}"
    return f"{check.row.destination} {check.address} ({check.dns_name})"


def verify_table(checks: Sequence[FlowCheck], skipped: Sequence[Skipped], *, width: int) -> str:
    """One row per probe, then counts by destination component and outcome."""
    rows = [
        (
            check.row.key,
            check.row.source,
            _destination(check),
            _probed(check),
            _status(check),
            "pass" if check.passed else "FAIL",
            _evidence(check),
        )
        for check in checks
    ]
    out = [
        rich_table_text(
            "Verification",
            ("flow", "from", "to", "port", "outcome", "result", "evidence"),
            rows,
            width=width,
        )
    ]
    counts = Counter((check.row.destination_component, _status(check)) for check in checks)
    summary = [(component, status, str(n)) for (component, status), n in sorted(counts.items())]
    out.append(rich_table_text("Summary", ("component", "outcome", "probes"), summary, width=width))
    if skipped:
        out.append(
            rich_table_text(
                "Not probed",
                ("flow", "to", "reason"),
                [(s.row.key, s.row.destination, s.reason) for s in skipped],
                width=width,
            )
        )
    passed = sum(check.passed for check in checks)
    out.append(f"{passed} passed, {len(checks) - passed} failed, {len(skipped)} not probed\n")
    return "\n".join(out)


def verify_json(
    checks: Sequence[FlowCheck],
    skipped: Sequence[Skipped],
    *,
    deployment: str,
    plan_digest: str,
    interrupted: bool = False,
) -> str:
    """Every probe with all it found, and the rows not probed (``portplan schema verify``),
    of the plan of ``deployment`` (its name: a report of another deployment refuses them)
    whose digest is ``plan_digest`` (:func:`~portplan.plan.plan_digest`: a report of another
    plan lets no row pass on them); ``interrupted``: Ctrl-C stopped the run, and the report
    holds what was found until then."""
    return document(
        "verify",
        {
            "deployment": deployment,
            "plan_digest": plan_digest,
            "checks": [check_record(c) for c in checks],
            "not_probed": [
                {
                    "flow": s.row.key,
                    "source": s.row.source,
                    "destination": s.row.destination,
                    "reason": s.reason,
                }
                for s in skipped
            ],
            "passed": sum(c.passed for c in checks),
            "failed": sum(not c.passed for c in checks),
            "interrupted": interrupted,
        },
    )


def verify_junit(
    checks: Sequence[FlowCheck], skipped: Sequence[Skipped], *, interrupted: bool = False
) -> str:
    """JUnit XML: each probed flow port is a test case; rows not probed are skipped cases.

    A run Ctrl-C stopped (``interrupted``) says so as CI servers read it: the suite's
    property ``interrupted`` is ``true``, and each probe it left unsettled (``unfinished``) is
    an ``error`` (the run broke off), not a ``failure`` (a finding), counted in ``errors``."""
    broken = [
        interrupted and check.outcome is Outcome.UNFINISHED and not check.passed for check in checks
    ]
    suite = ET.Element(
        "testsuite",
        name="portplan verify",
        tests=str(len(checks) + len(skipped)),
        failures=str(sum(not c.passed and not b for c, b in zip(checks, broken, strict=True))),
        errors=str(sum(broken)),
        skipped=str(len(skipped)),
    )
    if interrupted:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="interrupted", value="true")
    for check, broke in zip(checks, broken, strict=True):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=check.row.key,
            name=f"{check.row.source} -> {check.probe.address} {_probed(check)}",
        )
        if check.result is not None:
            case.set("time", f"{check.result.evidence.elapsed_ms / 1000:.3f}")
        if broke:
            error = ET.SubElement(
                case,
                "error",
                type="interrupted",
                message=f"{_status(check)}: the run was interrupted (Ctrl-C)",
            )
            error.text = _evidence(check)
        elif not check.passed:
            failure = ET.SubElement(case, "failure", message=_status(check))
            failure.text = _evidence(check)
    for item in skipped:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=item.row.key,
            name=f"{item.row.source} -> {item.row.destination}",
        )
        ET.SubElement(case, "skipped", message=item.reason)
    return junit_xml(suite)
