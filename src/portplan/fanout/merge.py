"""Every host's records back into one verification, with honest outcomes for the hosts
that could not probe."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from ipaddress import ip_address
from typing import Any

from portplan._errors import FanoutError
from portplan.fanout.engine import ENGINE_VERSION, INSTALL, other_engine
from portplan.fanout.work import Fanout, SourceWork
from portplan.probe.engine import INTERRUPTED
from portplan.probe.identify.base import Identification, bounded
from portplan.probe.identify.certificate import TlsFacts, describe_certificate
from portplan.probe.identify.tls import CERTIFICATE_DER, version_warnings
from portplan.probe.outcomes import Evidence, Outcome, PortResult
from portplan.probe.records import check_from_record
from portplan.probe.rows import CheckRow
from portplan.probe.verification import Verification
from portplan.probe.verify import FlowCheck

__all__ = ["HostResult", "host_result", "merge"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostResult:
    """What Ansible said of one source host: its records, or why there are none."""

    records: tuple[dict[str, Any], ...] = ()
    outcome: Outcome | None = None  #: ``source-unreachable`` or ``not-run`` when it failed
    reason: str | None = None  #: Ansible's message when it failed
    elapsed: float | None = None  #: seconds the host spent probing


#: why a host's records are not used when one of them is of a probe it was not asked for
_UNASKED = (
    "none of its results are used (another version of the collection, or not the host it "
    "stands for?)"
)


def host_result(res: Mapping[str, Any]) -> HostResult:
    """What a source's probe task that Ansible reported ok returned: its records, or
    ``not-run`` with the reason when another portplan's engine probed
    (:func:`other_engine`), or when it is not what the probe module returns (a list of
    records, and the seconds it took)."""
    other = other_engine(res.get(ENGINE_VERSION))
    if other is not None:
        return HostResult(
            outcome=Outcome.NOT_RUN,
            reason=f"{other}: none of its results are used; {INSTALL}",
        )
    checks, elapsed = res.get("checks"), res.get("elapsed")
    if not isinstance(checks, list) or not all(isinstance(r, dict) for r in checks):
        why = "its checks are not a list of records"
    elif elapsed is not None and (
        isinstance(elapsed, bool) or not isinstance(elapsed, int | float)
    ):
        why = f"its elapsed is not a number of seconds: {elapsed!r}"
    else:
        return HostResult(records=tuple(checks), elapsed=elapsed)
    return HostResult(
        outcome=Outcome.NOT_RUN, reason=f"returned a malformed result ({why}); {_UNASKED}"
    )


def _read_certificate(ident: Identification | None) -> Identification | None:
    """The certificate a managed host returned as DER, read here (it has no cryptography),
    its details and warnings where portplan's own process puts them: the details in the DER's
    place, the warnings after the TLS session's own; :func:`bounded`, as on the host."""
    if ident is None or CERTIFICATE_DER not in ident.details:
        return bounded(ident) if ident is not None else None
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
    return bounded(replace(ident, details=details, warnings=warnings))


def _failed(check: FlowCheck, outcome: Outcome, reason: str) -> FlowCheck:
    """``check`` decided without a probe: its source could not probe."""
    return replace(
        check,
        result=PortResult(
            probe=check.probe, outcome=outcome, evidence=Evidence(attempts=0, note=reason)
        ),
        notes=list(check.notes),
    )


#: a row's key, source, destination and protocol, as a record names them
_Row = tuple[str, str, str, str]


def _rows(fanout: Fanout) -> dict[_Row, CheckRow]:
    rows: dict[_Row, CheckRow] = {}
    for work in fanout.sources.values():
        for check in work.checks:
            row = check.row
            rows.setdefault((row.key, row.source, row.destination, row.protocol.value), row)
    return rows


#: a planned probe: its row (key, source, destination, protocol), destination and port
_Target = tuple[str, str, str, str, str, int | None]


def _target(check: FlowCheck, address: str) -> _Target:
    row = check.row
    return (row.key, row.source, row.destination, row.protocol.value, address, check.probe.port)


class _Asked:
    """The probes one source host was asked for, and which of them it has reported."""

    def __init__(self, work: SourceWork) -> None:
        self.work = work
        self.planned = {_target(c, c.probe.address): c for c in work.checks}
        #: (row, address) of the planned probes: an RPC endpoint mapper's dynamic port is
        #: probed there too when the row holds it (portplan.probe.verify)
        self.aims = {t[:5] for t in self.planned}
        #: (row, port) of the planned probes: a destination's name that resolves to an
        #: address the deployment does not declare (or not at all) adds a dns-error record
        #: there, at that address (or name), beside the planned ones (portplan.probe.bynames)
        self.row_ports = {(t[:4], t[5]) for t in self.planned}
        self.reported: set[_Target] = set()

    def take(self, check: FlowCheck) -> None:
        """Mark the planned probe ``check`` (read from a record) reports; :class:`FanoutError`
        (saying what it reports) when it reports none."""
        port = check.probe.port
        row_port = (_target(check, "")[:4], port)
        if check.outcome is Outcome.DNS_ERROR and check.dns_name and row_port in self.row_ports:
            return
        # a name resolved on the host: a record per address it resolved to
        for address in dict.fromkeys([check.probe.address, check.dns_name]):
            if address is None:
                continue
            target = _target(check, address)
            if target in self.planned:
                self.reported.add(target)
                return
            if target[:5] in self.aims and port is not None and port in check.row.ports:
                return
        shown = "/".join(
            (check.row.key, check.row.source, check.row.destination, check.probe.protocol.value)
        )
        raise FanoutError(
            f"returned a result for {shown} at {check.probe.address} port {port}, which it "
            "was not asked to probe"
        )

    def missing(self) -> list[FlowCheck]:
        """The planned probes no record reports, but a cluster member's probes of itself.

        The member that probes a mesh row (a cluster to itself) leaves its own address out
        (portplan.probe.remote); which member the inventory host is, the controller cannot
        tell.  So an address of the source left out of every mesh row is the member's own
        when it is the only one of its family left out that way; any other is missing.
        """
        own = {a for request in self.work.requests for a in request["source_addresses"]}

        def mesh_own(target: _Target) -> bool:
            return target[1] == target[2] and target[4] in own

        unreported = [t for t in self.planned if t not in self.reported]
        probed = {t[4] for t in self.reported if mesh_own(t)}
        left_out = {t[4] for t in unreported if mesh_own(t)} - probed
        itself = set()
        for family in (4, 6):
            found = [a for a in left_out if ip_address(a).version == family]
            if len(found) == 1:
                itself.update(found)
        return [self.planned[t] for t in unreported if not (mesh_own(t) and t[4] in itself)]


def _host_checks(
    work: SourceWork, records: tuple[dict[str, Any], ...], rows: Mapping[_Row, CheckRow]
) -> list[FlowCheck]:
    """The checks one host's records report, then its planned probes no record reports
    (``not-run``); :class:`FanoutError` when a record is of a probe it was not asked for."""
    asked = _Asked(work)
    checks: list[FlowCheck] = []
    for number, record in enumerate(records, 1):
        try:
            key = (record["flow"], record["source"], record["destination"], record["protocol"])
            row = rows.get(key)
            if row is None or row.source != work.host:
                raise FanoutError(
                    f"returned a result for {'/'.join(map(str, key))}, which it was not asked "
                    "to probe"
                )
            check = check_from_record(record, row)
            check.identification = _read_certificate(check.identification)
        except (KeyError, TypeError, ValueError) as exc:
            what = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            raise FanoutError(f"returned a malformed result (record {number}: {what})") from exc
        asked.take(check)
        checks.append(check)
    name = work.inventory_host.name
    checks.extend(
        _failed(c, Outcome.NOT_RUN, f"{name}: returned no result for this probe")
        for c in asked.missing()
    )
    return checks


def merge(
    fanout: Fanout, results: Mapping[str, HostResult], *, interrupted: bool = False
) -> Verification:
    """One verification of every source: each host's records, in plan order of the sources.

    Every planned probe is in it: a probe the host returned no record of is ``not-run``.  A
    host that returned a record of a probe this verification did not plan for it has not
    done what it was asked (another version of the collection, or not the host it stands
    for): none of its records is used, and each of its probes is ``not-run`` with what it
    returned; the other hosts' results stand.  When the run was ``interrupted`` (Ctrl-C), a
    host that had not reported yet is ``unfinished``.
    """
    missing = (
        HostResult(outcome=Outcome.UNFINISHED, reason=f"not reported: {INTERRUPTED}")
        if interrupted
        else HostResult(outcome=Outcome.NOT_RUN, reason="Ansible reported nothing for this host")
    )
    rows = _rows(fanout)
    checks: list[FlowCheck] = []
    for host, work in fanout.sources.items():
        result = results.get(host) or missing
        name = work.inventory_host.name
        if result.outcome is not None:
            reason = result.reason or "no reason given"
            checks.extend(_failed(c, result.outcome, f"{name}: {reason}") for c in work.checks)
            continue
        try:
            checks.extend(_host_checks(work, result.records, rows))
        except FanoutError as exc:
            reason = f"{name}: {exc}; {_UNASKED}"
            checks.extend(_failed(c, Outcome.NOT_RUN, reason) for c in work.checks)
    return Verification(
        sources=tuple(fanout.sources),
        checks=tuple(checks),
        skipped=tuple(fanout.skipped),
        interrupted=interrupted,
    )
