"""Every host's records back into one verification, with honest outcomes for the hosts
that could not probe."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from portplan.fanout.work import Fanout
from portplan.probe.identify.base import Identification
from portplan.probe.identify.certificate import TlsFacts, describe_certificate
from portplan.probe.identify.tls import CERTIFICATE_DER, version_warnings
from portplan.probe.outcomes import Evidence, Outcome, PortResult
from portplan.probe.records import check_from_record
from portplan.probe.rows import CheckRow
from portplan.probe.verification import Verification
from portplan.probe.verify import FlowCheck

__all__ = ["HostResult", "merge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostResult:
    """What Ansible said of one source host: its records, or why there are none."""

    records: tuple[dict[str, Any], ...] = ()
    outcome: Outcome | None = None  #: ``source-unreachable`` or ``not-run`` when it failed
    reason: str | None = None  #: Ansible's message when it failed
    elapsed: float | None = None  #: seconds the host spent probing


def _read_certificate(ident: Identification | None) -> Identification | None:
    """The certificate a managed host returned as DER, read here (it has no cryptography),
    its details and warnings where portplan's own process puts them: the details in the DER's
    place, the warnings after the TLS session's own."""
    if ident is None or CERTIFICATE_DER not in ident.details:
        return ident
    encoded = ident.details[CERTIFICATE_DER]
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        facts = TlsFacts({"certificate": "unreadable: not base64"}, ("certificate unread",))
    else:
        facts = describe_certificate(der)
    details: dict[str, str] = {}
    for key, value in ident.details.items():
        details.update(facts.details if key == CERTIFICATE_DER else {key: value})
    lead = len(version_warnings(ident.details.get("tls_version")))
    warnings = (*ident.warnings[:lead], *facts.warnings, *ident.warnings[lead:])
    return replace(ident, details=details, warnings=warnings)


def _failed(check: FlowCheck, outcome: Outcome, reason: str) -> FlowCheck:
    """``check`` decided without a probe: its source could not probe."""
    return replace(
        check,
        result=PortResult(
            probe=check.probe, outcome=outcome, evidence=Evidence(attempts=0, note=reason)
        ),
        notes=list(check.notes),
    )


def _rows(fanout: Fanout) -> dict[tuple[str, str, str, str], CheckRow]:
    rows: dict[tuple[str, str, str, str], CheckRow] = {}
    for work in fanout.sources.values():
        for check in work.checks:
            row = check.row
            rows.setdefault((row.key, row.source, row.destination, row.protocol.value), row)
    return rows


def merge(fanout: Fanout, results: Mapping[str, HostResult]) -> Verification:
    """One verification of every source: each host's records, in plan order of the sources.

    A record that names a row this verification did not plan is refused
    (:class:`ValueError`): a host only ever reports what it was asked.
    """
    rows = _rows(fanout)
    checks: list[FlowCheck] = []
    for host, work in fanout.sources.items():
        result = results.get(host) or HostResult(
            outcome=Outcome.NOT_RUN, reason="Ansible reported nothing for this host"
        )
        if result.outcome is not None:
            reason = result.reason or "no reason given"
            name = work.inventory_host.name
            checks.extend(_failed(c, result.outcome, f"{name}: {reason}") for c in work.checks)
            continue
        for record in result.records:
            key = (record["flow"], record["source"], record["destination"], record["protocol"])
            row = rows.get(key)
            if row is None or row.source != host:
                raise ValueError(
                    f"{work.inventory_host.name} returned a result for {'/'.join(key)}, "
                    "which it was not asked to probe"
                )
            check = check_from_record(record, row)
            check.identification = _read_certificate(check.identification)
            checks.append(check)
    return Verification(
        sources=tuple(fanout.sources),
        checks=tuple(checks),
        skipped=tuple(fanout.skipped),
    )
