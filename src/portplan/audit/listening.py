"""A host's listening sockets against the plan: what must listen, and what listens unplanned.

For every planned row that ends on the host, the ports its service listens on (the internal
ports where a port is published as another) must each have a socket that the row's destination
address reaches: a wildcard of the family, the address itself, or an IPv6 wildcard that is
dual-stack for IPv4.  The part of a row that is a dynamic range (Windows RPC) is where services
take ports as they start: nothing must listen there, and whatever does is planned.  Loopback
rows need a socket that 127.0.0.1 reaches.  Findings:

* ``planned-not-listening``: nothing listens on the port at all;
* ``loopback-only``: only a socket on loopback, which the network cannot reach;
* ``other-address``: sockets on other addresses only (an IPv6-only wildcard for an IPv4 row);
* ``listening-not-planned``: a socket the network reaches on a port no row ends on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from portplan.audit._findings import AuditResult, Finding, FindingKind
from portplan.audit.sockets import Socket
from portplan.plan import Plan, PlannedFlow

__all__ = ["audit_listening"]

_LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _ports(row: PlannedFlow) -> tuple[set[int], set[int]]:
    """The ports a row's service must listen on, and those of its dynamic range."""
    listen = row.listening_ports
    dynamic = set(row.dynamic_ports) if row.dynamic_ports is not None else set()
    return {p for p in listen if p not in dynamic}, dynamic


def _targets(row: PlannedFlow) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    if row.loopback:
        return [_LOOPBACK]
    return [n.network_address for n in row.destination_addresses if n.num_addresses == 1]


def _ranges(ports: Sequence[int]) -> str:
    out: list[str] = []
    for port in sorted(ports):
        if out and out[-1].split("-")[-1] == str(port - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{port}"
        else:
            out.append(str(port))
    return ",".join(out)


def audit_listening(
    plan: Plan, host: str, sockets: Sequence[Socket], *, source: str
) -> AuditResult:
    """Compare the sockets listening on ``host`` (read from ``source``) with the plan."""
    result = AuditResult(host=host, subject="listening", platform=source, files=(source,))
    rows = [r for r in plan.rows_of(host) if r.destination == host]
    result.checked = len(rows)
    by_port: dict[tuple[str, int], list[Socket]] = {}
    for socket in sockets:
        by_port.setdefault((socket.protocol, socket.port), []).append(socket)
    planned: set[tuple[str, int]] = set()
    dynamic: dict[str, list[set[int]]] = {"tcp": [], "udp": []}
    said: set[tuple[FindingKind, str]] = set()
    for row in rows:
        protocol = row.protocol.value
        wanted, extra = _ports(row)
        if not row.loopback:
            planned |= {(protocol, p) for p in wanted}
            if extra:
                dynamic[protocol].append(extra)
        lacking: dict[FindingKind, list[int]] = {}
        seen: dict[FindingKind, list[Socket]] = {}
        targets = _targets(row)
        for port in sorted(wanted):
            present = by_port.get((protocol, port), [])
            if not present:
                lacking.setdefault(FindingKind.PLANNED_NOT_LISTENING, []).append(port)
                continue
            if not targets or all(any(s.covers(t) for s in present) for t in targets):
                continue
            reachable = [s for s in present if not s.loopback]
            kind = FindingKind.OTHER_ADDRESS if reachable else FindingKind.LOOPBACK_ONLY
            lacking.setdefault(kind, []).append(port)
            seen.setdefault(kind, []).extend(present)
        for kind, ports in lacking.items():
            on = ", ".join(dict.fromkeys(str(s) for s in seen.get(kind, [])))
            shown = ", ".join(str(t) for t in targets)
            message = {
                FindingKind.PLANNED_NOT_LISTENING: f"nothing listens on {protocol} "
                f"{_ranges(ports)} for {row.key}",
                FindingKind.LOOPBACK_ONLY: f"{row.key} needs {protocol} {_ranges(ports)} on "
                f"{shown}, but only loopback listens: {on}",
                FindingKind.OTHER_ADDRESS: f"{row.key} needs {protocol} {_ranges(ports)} on "
                f"{shown}, but it listens elsewhere: {on}",
            }[kind]
            if (kind, message) in said:
                continue  # the same flow from another source: said once
            said.add((kind, message))
            result.findings.append(
                Finding(
                    kind=kind,
                    host=host,
                    direction="inbound",
                    message=message,
                    flow=row.key,
                    peer=row.source,
                )
            )
    reported: set[tuple[str, int]] = set()
    for socket in sockets:
        key = (socket.protocol, socket.port)
        if socket.loopback or key in planned or key in reported:
            continue
        if any(socket.port in ports for ports in dynamic[socket.protocol]):
            continue  # inside a dynamic range the plan holds (Windows RPC)
        reported.add(key)
        result.findings.append(
            Finding(
                kind=FindingKind.NOT_PLANNED,
                host=host,
                direction="inbound",
                message=f"{socket} listens, but no planned flow ends on {host} "
                f"{socket.protocol}/{socket.port}",
                rule=socket.where or None,
            )
        )
    return result
