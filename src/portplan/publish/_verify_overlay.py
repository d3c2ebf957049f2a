"""The overlay of ``portplan verify --format json``: each probe's outcome on its flow's row."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from portplan._text import EXPECTED_BLOCKED
from portplan.model.deployment import FORBIDDEN
from portplan.publish._findings import Document, Finding, Overlay, Probe
from portplan.publish._model import Status

__all__ = ["VerifyReader"]

_TEXT = (str, type(None))
#: the outcomes of a probe expected blocked (``verify --expect-blocked``) that pass, and the
#: only ones (docs/verify.md; the prober's ``BLOCKED_OUTCOMES``): UDP silence never does
_BLOCKED = frozenset({"filtered", "rejected", "refused", "closed", "no-route"})


def _text(doc: Document, value: object, where: str) -> str:
    if not isinstance(value, str):
        raise doc.fail(where, f"is {type(value).__name__}")
    return value


def _evidence(doc: Document, check: Mapping[str, Any], where: str) -> str:
    """``tcp/1433 192.0.2.20: filtered; no answer; 2 attempts; 1000 ms`` (an ICMP probe:
    ``icmp echo-request 192.0.2.20: open; ...``)."""
    address = doc.get(check, "address", _TEXT, where) or doc.get(check, "dns_name", _TEXT, where)
    protocol = doc.get(check, "protocol", str, where)
    port = doc.get(check, "port", (int, type(None)), where)
    outcome = doc.get(check, "outcome", _TEXT, where) or "not probed"
    # `portplan listen` answered, not the service (its identification never ran): as verify says
    if "temporary_listener" in check and doc.get(check, "temporary_listener", bool, where):
        outcome += " (temporary listener)"
    probed = f"{protocol}/{port}" if port is not None else f"{protocol} {check.get('icmp_type')}"
    parts = [f"{probed} {address or ''}".rstrip() + f": {outcome}"]
    evidence = doc.get(check, "evidence", (dict, type(None)), where)
    if evidence is not None:
        here = f"{where}.evidence"
        for key in ("errno", "icmp", "note"):
            value = doc.get(evidence, key, _TEXT, here)
            if value:
                parts.append(value)
        attempts = doc.get(evidence, "attempts", int, here)
        if attempts > 1:
            parts.append(f"{attempts} attempts")
        parts.append(f"{doc.get(evidence, 'elapsed_ms', (int, float), here):g} ms")
    ident = doc.get(check, "identification", (dict, type(None)), where)
    if ident is not None:
        here = f"{where}.identification"
        if doc.get(ident, "matches", bool, here):  # the service proven, not the port alone
            parts.append(f"identified {doc.get(ident, 'protocol', str, here)}")
        else:
            found = doc.get(ident, "protocol", _TEXT, here)
            parts.append(
                f"expected {doc.get(ident, 'expected', str, here)}, {found or 'nothing'} answered"
            )
        # what answered (banner, server, certificate) and what to act on, as verify shows them
        details = doc.get(ident, "details", dict, here) if "details" in ident else {}
        for key, value in details.items():
            parts.append(f"{key}={_text(doc, value, f'{here}.details.{key}')}")
        warnings = doc.get(ident, "warnings", list, here) if "warnings" in ident else []
        for index, warning in enumerate(warnings):
            parts.append(f"warning: {_text(doc, warning, f'{here}.warnings[{index}]')}")
        error = doc.get(ident, "error", _TEXT, here)
        if error:
            parts.append(error)
    parts.extend(str(n) for n in doc.get(check, "notes", list, where))
    return "; ".join(parts)


def _resolved(
    doc: Document, lookup: Mapping[str, Any] | None, where: str
) -> tuple[str, ...] | None:
    """The addresses a lookup (``dns``) found; ``None`` without one."""
    if lookup is None:
        return None
    addresses = doc.get(lookup, "addresses", list, where)
    for index, address in enumerate(addresses):
        _address(doc, address, f"{where}.addresses[{index}]")
    return tuple(addresses)


def _address(doc: Document, value: object, where: str) -> None:
    """Refuse ``value`` unless it is an IP address written as text (``ip_address`` would take
    the number 5 for 0.0.0.5)."""
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        raise doc.fail(where, f"is not an IP address ({value!r})") from None


def _probe(doc: Document, check: Mapping[str, Any], where: str) -> Probe:
    # format_version 1.1 says what a name-only source's name resolved to; before, nothing
    source = (
        doc.get(check, "source_dns", (dict, type(None)), where) if "source_dns" in check else None
    )
    here = f"{where}.source_dns"
    port = doc.get(check, "port", (int, type(None)), where)
    if port is not None and not 1 <= port <= 65535:
        raise doc.fail(f"{where}.port", f"is {port}, not a port (1-65535)")
    address = doc.get(check, "address", _TEXT, where)
    source_address = doc.get(check, "source_address", _TEXT, where)
    for key, value in (("address", address), ("source_address", source_address)):
        if value is not None:
            _address(doc, value, f"{where}.{key}")
    return Probe(
        port=port,
        address=address,
        dns_name=doc.get(check, "dns_name", _TEXT, where),
        source_address=source_address,
        resolved=_resolved(doc, doc.get(check, "dns", (dict, type(None)), where), f"{where}.dns"),
        source_name=None if source is None else doc.get(source, "name", str, here),
        source_resolved=_resolved(doc, source, here),
    )


def _expected_blocked(doc: Document, check: Mapping[str, Any], where: str) -> bool:
    """Whether the check probes what must stay blocked (``verify --expect-blocked``): its
    first note says so, as every such probe's does.  It names the planned row it is next to
    (or another source's row), so it is not about that row."""
    notes = doc.get(check, "notes", list, where)
    return bool(notes) and str(notes[0]).startswith(EXPECTED_BLOCKED)


def _consistent(
    doc: Document, check: Mapping[str, Any], where: str, *, passed: bool, expected: bool
) -> None:
    """Refuse a check whose ``passed`` its outcome cannot give (an edited or corrupted
    document): a probe expected blocked passes exactly when its outcome is one of
    :data:`_BLOCKED`; a planned probe passes only when the port is ``open`` and what answered,
    where it was identified, is the service the plan names."""
    outcome = doc.get(check, "outcome", _TEXT, where)
    if expected and passed != (outcome in _BLOCKED):
        # what verify --expect-blocked writes: passed exactly for these outcomes
        said = "true" if passed else "false"
        why = "cannot pass" if passed else "passes"
        raise doc.fail(
            f"{where}.passed",
            f"is {said} for outcome {outcome!r} of a probe expected blocked, which {why} "
            f"(only {', '.join(sorted(_BLOCKED))} pass as blocked)",
        )
    if not passed or expected:
        return
    if outcome != "open":
        # only an open port passes a planned row: a pass on anything else is a probe
        # expected blocked whose mark is gone, never a row verified
        raise doc.fail(
            f"{where}.passed", f"is true for outcome {outcome!r} of a probe not expected blocked"
        )
    ident = doc.get(check, "identification", (dict, type(None)), where)
    if ident is not None and not doc.get(ident, "matches", bool, f"{where}.identification"):
        raise doc.fail(
            f"{where}.passed",
            "is true for a port whose service was not identified as the plan names it "
            "(identification.matches is false)",
        )


class VerifyReader:
    """Reads ``verify`` documents: a passed probe passes its row, a failed one fails it, a row
    not probed is marked unchecked with the reason.  A probe of what must stay blocked
    (``--expect-blocked``) is a finding on no row: blocked passes, anything else fails."""

    kind = "verify"
    title = "Verification"
    majors = frozenset({1})
    made_by = "portplan verify DEPLOYMENT --format json -o RESULTS.json"

    def read(self, document: Document) -> Overlay:
        findings = []
        for where, check in document.items("checks"):
            passed = document.get(check, "passed", bool, where)
            expected = _expected_blocked(document, check, where)
            outcome = document.get(check, "outcome", _TEXT, where)
            _consistent(document, check, where, passed=passed, expected=expected)
            findings.append(
                Finding(
                    flow=document.get(check, "flow", str, where),
                    source=document.get(check, "source", str, where),
                    destination=document.get(check, "destination", str, where),
                    protocol=document.get(check, "protocol", str, where),
                    status=Status.PASSED if passed else Status.FAILED,
                    outcome=outcome or "not probed",
                    evidence=_evidence(document, check, where),
                    probe=_probe(document, check, where),
                    expected_blocked=expected,
                )
            )
        skipped = document.items("not_probed")
        for where, item in skipped:
            # format_version 1.1 names the row's source; before, the row of every source
            source = document.get(item, "source", str, where) if "source" in item else None
            flow = document.get(item, "flow", str, where)
            findings.append(
                Finding(
                    flow=flow,
                    source=source,
                    destination=document.get(item, "destination", str, where),
                    protocol=None,
                    status=Status.UNCHECKED,
                    outcome="not probed",
                    evidence=document.get(item, "reason", str, where),
                    # a part of a forbidden connection (forbidden/ID, which no product may
                    # name) is no row of the plan: it is not proven blocked
                    expected_blocked=flow.startswith(f"{FORBIDDEN}/"),
                )
            )
        planned = [f for f in findings if not f.expected_blocked]
        passed = sum(f.status is Status.PASSED for f in planned)
        failed = sum(f.status is Status.FAILED for f in planned)
        # a forbidden connection not probed is counted below, as not proven blocked
        unprobed = sum(f.status is Status.UNCHECKED for f in planned)
        summary = f"{passed} passed, {failed} failed, {unprobed} not probed"
        blocked = [f for f in findings if f.expected_blocked]
        if blocked:
            held = sum(f.status is Status.PASSED for f in blocked)
            unproven = len(blocked) - held
            summary += f"; of what must stay blocked, {held} blocked, {unproven} not proven blocked"
        # format_version 1.1 names the deployment and the plan's digest; older documents do not
        data = document.data
        deployment = document.get(data, "deployment", str, "") if "deployment" in data else None
        digest = document.get(data, "plan_digest", str, "") if "plan_digest" in data else None
        return Overlay(
            kind=self.kind,
            title=self.title,
            origin=document.origin,
            summary=summary,
            findings=tuple(findings),
            deployment=deployment,
            plan_digest=digest,
        )
