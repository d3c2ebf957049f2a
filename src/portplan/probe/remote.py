"""Probing on a managed host: probe requests in, ``verify --format json`` records out.

This is what the Ansible collection's ``probe`` module runs (it ships this package, bundled by
``scripts/build-collection.py``), and what ``portplan verify --inventory`` asks each source
host to do.  A request carries the facts of one planned row and one destination address, as
the controller planned them (:func:`request_of`); the host probes from its own addresses,
resolves destination names itself (as the product would from there) and identifies services
as ``portplan verify`` does, through the same :func:`~portplan.probe.verify.run_checks`.

A request may also expect the path to be ``blocked``: it then passes when the port is refused,
closed, filtered, rejected or unroutable on the way, or stopped by the host's own firewall,
and fails when it opens, when the source itself failed (also for want of a route, or when no
host answers for the address on its own link: no firewall was tested), and for UDP silence
(``open|filtered`` proves nothing either way).

Standard library only (a managed host needs nothing but Python 3.11).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Mapping, Sequence
from typing import Any

from portplan.model.addresses import special_kind
from portplan.model.protocol import Protocol
from portplan.probe.icmp import ECHO_REQUEST
from portplan.probe.listen import LISTENER_PROBE
from portplan.probe.local import is_local
from portplan.probe.outcomes import BLOCKED_OUTCOMES, Evidence, Outcome, PortProbe, PortResult
from portplan.probe.planned import not_from_host, not_its_loopback
from portplan.probe.records import check_record
from portplan.probe.rows import PortRanges, RemoteRow
from portplan.probe.verify import FlowCheck, default_deadline, run_checks

__all__ = ["BLOCKED", "EXPECTATIONS", "RequestError", "probe_requests", "request_of"]

#: what a request may expect of its ports
EXPECTATIONS = ("open", "blocked")
#: outcomes that prove a path blocked (an answer that says no, or silence over TCP): the
#: same as ``verify --expect-blocked``'s
BLOCKED = BLOCKED_OUTCOMES
_BLOCKED_NOTE = "expected to be blocked"
#: what to do about a managed host that holds none of its source host's addresses
_ASTRAY_FIX = (
    "is the inventory host this source's machine? check its ansible_host and portplan_host"
)


class RequestError(ValueError):
    """A probe request that cannot be probed as given (the message says which and why)."""


def request_of(
    check: FlowCheck,
    source_addresses: Sequence[str],
    planned_ports: Sequence[str],
    *,
    loopback: bool,
) -> dict[str, Any]:
    """The request that has a managed host probe ``check`` (planned on the controller).

    ``source_addresses`` are the source host's own single addresses: the host binds to the
    first of them it has, per address family, as ``portplan verify`` does at home.
    ``planned_ports`` are every port of the row (``"135"``, ``"49152-65535"``): the dynamic
    ports an RPC endpoint mapper names are probed only when the plan holds them.
    ``loopback``: whether the row is a loopback row (on the host's own 127.0.0.1), probed
    from the kernel's choice; any other row goes from the source's own address, also to a
    loopback address (a lab on 127.0.0.0/8).
    """
    row = check.row
    icmp = {"icmp_type": check.probe.icmp_type} if check.probe.icmp_type else {}
    return {
        **icmp,
        "flow": row.key,
        "reference": row.reference,
        "source": row.source,
        "destination": row.destination,
        "destination_component": row.destination_component,
        "destination_addresses": [str(n) for n in row.destination_addresses],
        "address": check.address,  # None: a host known by name only, resolved there
        "dns_name": check.dns_name,
        "source_addresses": list(source_addresses),
        "protocol": check.probe.protocol.value,
        "ports": [] if check.probe.port is None else [check.probe.port],
        "planned_ports": list(planned_ports),
        "identify": row.app_protocol,
        "expect": "open",
        "notes": list(check.notes),
        "loopback": loopback,
    }


def _field(request: Mapping[str, Any], index: int, name: str, kind: type) -> Any:
    value = request.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise RequestError(f"probe {index + 1}: {name!r} must be a {kind.__name__}: {value!r}")
    return value


def _optional_text(request: Mapping[str, Any], index: int, name: str) -> str | None:
    return None if request.get(name) is None else _field(request, index, name, str)


def _ports(request: Mapping[str, Any], where: str, protocol: Protocol) -> list[int | None]:
    """The ports a request probes: one echo request (no port) for ICMP."""
    ports = request.get("ports")
    if protocol is Protocol.ICMP:
        icmp_type = request.get("icmp_type") or ECHO_REQUEST
        if icmp_type != ECHO_REQUEST:
            raise RequestError(f"{where}: an ICMP probe sends an {ECHO_REQUEST}, not {icmp_type!r}")
        if ports:
            raise RequestError(f"{where}: an ICMP probe has no ports: {ports!r}")
        return [None]
    if request.get("icmp_type") is not None:  # it would be ignored: say so
        raise RequestError(f"{where}: icmp_type is for an ICMP probe, not a {protocol.value} one")
    if not isinstance(ports, list) or not ports:
        raise RequestError(f"{where}: 'ports' must be a list of ports")
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise RequestError(f"{where}: no port {port!r}")
    return list(dict.fromkeys(ports))


def _planned(request: Mapping[str, Any], where: str, ports: list[int | None]) -> PortRanges:
    planned = request.get("planned_ports") or [str(p) for p in ports if p is not None]
    try:
        return PortRanges(
            tuple(
                (int(first), int(last or first))
                for first, _dash, last in (str(text).partition("-") for text in planned)
            )
        )
    except ValueError as exc:
        raise RequestError(
            f"{where}: 'planned_ports' must be ports or ranges (49152-65535): {planned!r}"
        ) from exc


def _bind(own: Sequence[str], version: int, binds: dict[str, str | None]) -> str | None:
    """The first of ``own`` of IP ``version`` this host can send from (``binds`` caches)."""
    for candidate in own:
        if ipaddress.ip_address(candidate).version == version:
            if candidate not in binds:
                binds[candidate] = candidate if is_local(candidate) else None
            if binds[candidate] is not None:
                return candidate
    return None


def _checks(
    request: Mapping[str, Any], index: int, binds: dict[str, str | None]
) -> list[FlowCheck]:
    """The checks of one request (one per port), validated.

    A request without an ``address`` is for a host known by name only: its ``dns_name`` is
    resolved here and what it resolves to is probed.  In a row between the members of a
    group (source and destination the same host), this host leaves out its own address.
    """
    text = {n: _field(request, index, n, str) for n in ("flow", "source", "destination")}
    where = f"probe {index + 1} ({text['flow']})"
    dns_name = _optional_text(request, index, "dns_name")
    try:
        protocol = Protocol(_field(request, index, "protocol", str))
        given = _optional_text(request, index, "address")
        if given is None and dns_name is None:
            raise RequestError(f"{where}: give the 'address' to probe, or the 'dns_name'")
        address = str(ipaddress.ip_address(given)) if given is not None else None
        kind = special_kind(ipaddress.ip_network(address)) if address is not None else None
        if kind is not None:
            raise RequestError(
                f"{where}: {address} is a special-purpose address ({kind.value}), no single "
                "machine to reach: never probed"
            )
        declared = tuple(
            ipaddress.ip_network(n, strict=False)
            for n in request.get("destination_addresses") or ([address] if address else [])
        )
        if address is not None and not any(ipaddress.ip_address(address) in n for n in declared):
            raise RequestError(
                f"{where}: {address} is not among the destination's addresses "
                f"({', '.join(map(str, declared))}): never probed"
            )
        own = [str(ipaddress.ip_address(a)) for a in request.get("source_addresses") or []]
    except ValueError as exc:
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"{where}: {exc}") from exc
    ports = _ports(request, where, protocol)
    expect = request.get("expect") or "open"
    if expect not in EXPECTATIONS:
        raise RequestError(
            f"{where}: expect must be one of {', '.join(EXPECTATIONS)}, not {expect!r}"
        )
    row = RemoteRow(
        key=text["flow"],
        reference=str(request.get("reference") or ""),
        source=text["source"],
        destination=text["destination"],
        destination_component=str(request.get("destination_component") or ""),
        destination_addresses=declared,
        protocol=protocol,
        app_protocol=None if expect == "blocked" else _optional_text(request, index, "identify"),
        ports=_planned(request, where, ports),
    )
    # a loopback row, as the controller says (a request that does not say: one to a
    # loopback address): it is probed on this host's own loopback, from the kernel's choice
    said = request.get("loopback")
    if said is not None and not isinstance(said, bool):
        raise RequestError(f"{where}: 'loopback' must be true or false, not {said!r}")
    loopback = (
        said
        if said is not None
        else address is not None and ipaddress.ip_address(address).is_loopback
    )
    if address is None:  # resolved first; sent from this host's address of its family
        bind = None
        own_sources = tuple(a for v in (4, 6) if (a := _bind(own, v, binds)) is not None)
        # this host holds none of the source's addresses: it is not the source
        astray = bool(own) and not own_sources
    else:
        if text["source"] == text["destination"] and address in own and is_local(address):
            return []  # a member of a group (a cluster) does not probe itself
        family = ipaddress.ip_address(address).version
        bind = None if loopback else _bind(own, family, binds)
        own_sources = ()
        astray = (
            not loopback
            and bind is None
            and any(ipaddress.ip_address(a).version == family for a in own)
        )
    notes = [str(n) for n in request.get("notes") or []]
    # what `portplan verify --on SOURCE` does on a machine that is not it: a planned probe
    # goes from this host's address, with a note; a blocked one is not sent (a firewall that
    # blocks this host proves nothing of the source); a loopback row is not this host's
    undecided: tuple[Outcome, str] | None = None
    if loopback and own and all(_bind(own, v, binds) is None for v in (4, 6)):
        why = not_its_loopback(text["source"], fix=_ASTRAY_FIX)
        undecided = (Outcome.NOT_RUN, f"not probed: {why}")
    elif astray and expect == "blocked":
        undecided = (Outcome.LOCAL_ERROR, _not_sent(text["source"]))
    elif astray:
        notes.append(not_from_host(text["source"], address or str(dns_name), fix=_ASTRAY_FIX))
    if expect == "blocked":
        notes.append(_BLOCKED_NOTE)
    checks = []
    for port in ports:
        check = FlowCheck(
            row=row,
            probe=PortProbe(
                address=address if address is not None else str(dns_name),
                port=port,
                protocol=protocol,
                source=bind,
                payload=LISTENER_PROBE if protocol is Protocol.UDP else b"",
                icmp_type=ECHO_REQUEST if protocol is Protocol.ICMP else None,
            ),
            dns_name=dns_name,
            own_sources=own_sources,
            expect_blocked=expect == "blocked",
        )
        check.notes.extend(notes)
        if undecided is not None:
            outcome, why = undecided
            check.result = PortResult(
                probe=check.probe, outcome=outcome, evidence=Evidence(attempts=0, note=why)
            )
        checks.append(check)
    return checks


def _not_sent(source: str) -> str:
    return (
        f"not sent: this host holds none of {source}'s addresses of that family, so a probe "
        f"from here would not come from {source} as the firewalls see it, and a firewall that "
        f"blocks it would prove nothing of {source} ({_ASTRAY_FIX})"
    )


def _record(check: FlowCheck) -> dict[str, Any]:
    record = check_record(check)
    if _BLOCKED_NOTE in check.notes:
        record["passed"] = check.outcome in BLOCKED and not check.temporary_listener
    return record


def probe_requests(
    requests: Sequence[Mapping[str, Any]],
    *,
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    identify_services: bool = True,
    secrets: Mapping[str, bytes] | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Probe every request from this machine: ``checks`` (records), ``passed``, ``failed``.

    ``deadline`` bounds the whole run, in seconds (default: as ``portplan verify``'s,
    :func:`~portplan.probe.verify.default_deadline`); ports not settled by then are
    ``unfinished``.  :class:`RequestError` for a request that cannot be probed as given,
    before anything is probed.
    """
    binds: dict[str, str | None] = {}
    checks = [c for i, r in enumerate(requests) for c in _checks(r, i, binds)]
    seconds = default_deadline(checks) if deadline is None else deadline
    asyncio.run(
        run_checks(
            checks,
            timeout=timeout,
            concurrency=concurrency,
            second_look=second_look,
            secrets=secrets or {},
            identify_services=identify_services,
            deadline=time.monotonic() + seconds,
        )
    )
    records = [_record(c) for c in checks]
    passed = sum(bool(r["passed"]) for r in records)
    return {"checks": records, "passed": passed, "failed": len(records) - passed}
