"""A host's listening sockets against the plan: what must listen, and what listens unplanned.

For every planned row that ends on the host, the ports its service listens on (the internal
ports where a port is published as another) must have a socket that the row's destination
address reaches: a wildcard of the family, the address itself, or an IPv6 wildcard that is
dual-stack for IPv4 (where the destination is a network, an address inside it; where the host
is known by its name only, any socket off loopback).  The sockets of a cluster or a network are
one machine's: one of the row's addresses (or networks) of each family must be reached, not
each.  Each port of a run of up to 64 must listen itself (``verify`` and ``listen`` probe each
of them); a longer run (as the plan holds them) is a range where the service may listen, a port
per instance (Elastic Cloud Enterprise's 18000-18999): one socket in it that the address
reaches serves the range, and a range with none is one finding, never one per port.  The part of
a row that is a dynamic range (Windows RPC) is where services take ports as they start: nothing
must listen there, and whatever does is planned.  Loopback rows need a socket that 127.0.0.1
reaches.  Findings:

* ``planned-not-listening``: nothing listens on the port at all (in the range: on none of its
  ports);
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

__all__ = ["EACH_PORT_UP_TO", "audit_listening"]

_LOOPBACK = ipaddress.ip_network("127.0.0.1/32")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


#: sockets a finding names at most (a range may have hundreds on loopback)
_SHOWN_SOCKETS = 4
#: the longest run of ports whose every port must listen: verify and listen probe each port of
#: a row of up to this many (``probe.listen.MAX_PORTS_PER_ROW``) and sample a longer one; a
#: longer run is a range where the service may listen
EACH_PORT_UP_TO = 64


def _ports(row: PlannedFlow) -> tuple[list[tuple[int, int]], set[int]]:
    """The runs of ports a row's service listens on (``(start, end)``, a single port where
    they are equal), and the ports of its dynamic range."""
    dynamic = set(row.dynamic_ports) if row.dynamic_ports is not None else set()
    runs: list[tuple[int, int]] = []
    for port in sorted(p for p in row.listening_ports if p not in dynamic):
        if runs and runs[-1][1] == port - 1:
            runs[-1] = (runs[-1][0], port)
        else:
            runs.append((port, port))
    return runs, dynamic


def _targets(row: PlannedFlow) -> list[Network]:
    """Where the row's sources connect to: each address, or network, a socket must reach (none
    for a host known by its name only: any socket the network reaches)."""
    if row.loopback:
        return [_LOOPBACK]
    return list(row.destination_addresses)


def _shown(targets: Sequence[Network]) -> str:
    if not targets:
        return "an address the network reaches"
    return ", ".join(
        str(t.network_address) if t.num_addresses == 1 else f"an address of {t}" for t in targets
    )


def _ranges(ports: Sequence[int]) -> str:
    out: list[str] = []
    for port in sorted(ports):
        if out and out[-1].split("-")[-1] == str(port - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{port}"
        else:
            out.append(str(port))
    return ",".join(out)


def _sockets(found: Sequence[Socket]) -> str:
    """The sockets a finding names, the first few of them."""
    named = list(dict.fromkeys(str(s) for s in found))
    shown = ", ".join(named[:_SHOWN_SOCKETS])
    if len(named) > _SHOWN_SOCKETS:
        shown += f" and {len(named) - _SHOWN_SOCKETS} more"
    return shown


def _fault(
    present: Sequence[Socket], targets: Sequence[Network], group: bool
) -> FindingKind | None:
    """What is wrong with the sockets of a port, or of a range taken together (``None``:
    every target reaches one of them, or, where the sockets are one machine of a ``group``,
    one target of each family; without targets, a socket off loopback does)."""
    if not present:
        return FindingKind.PLANNED_NOT_LISTENING
    if not targets and any(not s.loopback for s in present):
        return None
    reached = [any(s.reaches(t) for s in present) for t in targets]
    if group:  # one member: it holds one of the addresses (networks) of each family
        families = {t.version for t in targets}
        served = {t.version for t, ok in zip(targets, reached, strict=True) if ok}
        if targets and served == families:
            return None
    elif targets and all(reached):
        return None
    reachable = [s for s in present if not s.loopback]
    return FindingKind.OTHER_ADDRESS if reachable else FindingKind.LOOPBACK_ONLY


def audit_listening(
    plan: Plan, host: str, sockets: Sequence[Socket], *, source: str
) -> AuditResult:
    """Compare the sockets listening on ``host`` (read from ``source``) with the plan."""
    result = AuditResult(host=host, subject="listening", platform=source, files=(source,))
    rows = [r for r in plan.rows_of(host) if r.destination == host]
    # a cluster's, or a network's, sockets are one machine's: it holds one of the addresses
    # of each family
    group = plan.hosts[host].is_group
    result.checked = len(rows)
    by_port: dict[tuple[str, int], list[Socket]] = {}
    for socket in sockets:
        by_port.setdefault((socket.protocol, socket.port), []).append(socket)
    planned: set[tuple[str, int]] = set()
    dynamic: dict[str, list[set[int]]] = {"tcp": [], "udp": []}
    said: set[tuple[FindingKind, str]] = set()

    def report(kind: FindingKind, message: str, row: PlannedFlow) -> None:
        if (kind, message) in said:
            return  # the same flow from another source: said once
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

    for row in rows:
        protocol = row.protocol.value
        runs, extra = _ports(row)
        if not row.loopback:
            planned |= {(protocol, p) for start, end in runs for p in range(start, end + 1)}
            if extra:
                dynamic[protocol].append(extra)
        lacking: dict[FindingKind, list[int]] = {}
        seen: dict[FindingKind, list[Socket]] = {}
        targets = _targets(row)
        shown = _shown(targets)
        for start, end in runs:
            if end - start < EACH_PORT_UP_TO:  # each port must listen
                for port in range(start, end + 1):
                    present = by_port.get((protocol, port), [])
                    kind = _fault(present, targets, group)
                    if kind is not None:
                        lacking.setdefault(kind, []).append(port)
                        seen.setdefault(kind, []).extend(present)
                continue
            # a range: where the service may listen, a port per instance; one socket serves it
            present = [
                s
                for (kind_of, port), found in sorted(by_port.items())
                if kind_of == protocol and start <= port <= end
                for s in found
            ]
            kind = _fault(present, targets, group)
            span = f"{protocol} {start}-{end}"
            if kind == FindingKind.PLANNED_NOT_LISTENING:
                report(
                    kind,
                    f"nothing listens on any of the {end - start + 1} ports of the range "
                    f"{span} for {row.key}",
                    row,
                )
            elif kind is not None:
                loopback = kind == FindingKind.LOOPBACK_ONLY
                but = "only loopback listens" if loopback else "it listens elsewhere"
                report(
                    kind,
                    f"{row.key} needs a socket in the range {span} on {shown}, but {but}: "
                    f"{_sockets(present)}",
                    row,
                )
        for kind, ports in lacking.items():
            on = _sockets(seen.get(kind, []))
            message = {
                FindingKind.PLANNED_NOT_LISTENING: f"nothing listens on {protocol} "
                f"{_ranges(ports)} for {row.key}",
                FindingKind.LOOPBACK_ONLY: f"{row.key} needs {protocol} {_ranges(ports)} on "
                f"{shown}, but only loopback listens: {on}",
                FindingKind.OTHER_ADDRESS: f"{row.key} needs {protocol} {_ranges(ports)} on "
                f"{shown}, but it listens elsewhere: {on}",
            }[kind]
            report(kind, message, row)
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
