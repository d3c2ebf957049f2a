"""A probed check as a plain record, and back: the ``checks`` items of ``verify --format json``.

The record is the one shape every probe result takes outside the process that probed it: the
JSON report of ``portplan verify``, the return value of the Ansible collection's ``probe``
module (which runs this same code on a managed host), and what ``portplan verify
--inventory`` reads back from each host (:func:`check_from_record`, given the planned row).
"""

from __future__ import annotations

from typing import Any

from portplan.model.protocol import Protocol
from portplan.probe.dns import NameLookup
from portplan.probe.identify.base import Identification
from portplan.probe.outcomes import Evidence, Outcome, PortProbe, PortResult
from portplan.probe.rows import CheckRow
from portplan.probe.verify import FlowCheck

__all__ = ["check_from_record", "check_record"]


def check_record(check: FlowCheck) -> dict[str, Any]:
    """Every fact of one check, as JSON types (``portplan schema verify``, ``$defs.check``)."""
    result = check.result
    ident = check.identification
    return {
        "flow": check.row.key,
        "reference": check.row.reference,
        "source": check.row.source,
        "destination": check.row.destination,
        "destination_component": check.row.destination_component,
        "address": check.address,
        "dns_name": check.dns_name,
        "source_address": check.probe.source,
        "protocol": check.probe.protocol.value,
        "port": check.probe.port,
        "icmp_type": check.probe.icmp_type,
        "outcome": result.outcome.value if result else None,
        "passed": check.passed,
        "temporary_listener": check.temporary_listener,
        "evidence": None
        if result is None
        else {
            "errno": result.evidence.errno,
            "icmp": result.evidence.icmp,
            "elapsed_ms": result.evidence.elapsed_ms,
            "attempts": result.evidence.attempts,
            "note": result.evidence.note,
        },
        "identification": None
        if ident is None
        else {
            "expected": ident.expected,
            "protocol": ident.protocol,
            "matches": ident.matches,
            "details": dict(ident.details),
            "warnings": list(ident.warnings),
            "error": ident.error,
        },
        "dns": _lookup_record(check.lookup),
        "source_dns": _lookup_record(check.source_lookup),
        "notes": list(check.notes),
    }


def _lookup_record(lookup: NameLookup | None) -> dict[str, Any] | None:
    if lookup is None:
        return None
    return {
        "name": lookup.name,
        "addresses": list(lookup.addresses),
        "error": lookup.error,
        "elapsed_ms": lookup.elapsed_ms,
    }


def _lookup_of(record: dict[str, Any] | None) -> NameLookup | None:
    if record is None:
        return None
    return NameLookup(
        name=record["name"],
        addresses=tuple(record["addresses"]),
        error=record["error"],
        elapsed_ms=float(record["elapsed_ms"]),
    )


def check_from_record(record: dict[str, Any], row: CheckRow) -> FlowCheck:
    """The check a record describes, for ``row`` (the planned row it names).

    :class:`ValueError` or :class:`KeyError` when the record is not one :func:`check_record`
    writes (a wrong outcome or protocol name, a missing key).
    """
    dns_name = record["dns_name"]
    probe = PortProbe(
        # a name that did not resolve stands for the address (see FlowCheck.address)
        address=record["address"] if record["address"] is not None else dns_name,
        port=None if record["port"] is None else int(record["port"]),
        protocol=Protocol(record["protocol"]),
        source=record["source_address"],
        icmp_type=record.get("icmp_type"),  # absent from a collection older than ICMP probes
    )
    evidence = record["evidence"]
    result = (
        None
        if record["outcome"] is None or evidence is None
        else PortResult(
            probe=probe,
            outcome=Outcome(record["outcome"]),
            evidence=Evidence(
                errno=evidence["errno"],
                icmp=evidence["icmp"],
                elapsed_ms=float(evidence["elapsed_ms"]),
                attempts=int(evidence["attempts"]),
                note=evidence["note"],
            ),
        )
    )
    ident = record["identification"]
    return FlowCheck(
        row=row,
        probe=probe,
        result=result,
        identification=None
        if ident is None
        else Identification(
            expected=ident["expected"],
            protocol=ident["protocol"],
            details=dict(ident["details"]),
            warnings=tuple(ident["warnings"]),
            error=ident["error"],
        ),
        temporary_listener=bool(record["temporary_listener"]),
        notes=list(record["notes"]),
        dns_name=dns_name,
        lookup=_lookup_of(record["dns"]),
        source_lookup=_lookup_of(record.get("source_dns")),  # absent from an older collection
    )
