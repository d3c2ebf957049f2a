"""Whether a probe's finding is about a plan row as it stands, and what of the row the
findings leave unprobed.

A results document names a row by flow id, source, destination and protocol, which an older
plan or another deployment with the same names shares.  So a passed probe counts for a row
only when what it probed is in the row: a port of the row (none for ICMP), a destination
address the deployment declares for the host (or, for a host known by name only, its name),
sent from one of the source host's addresses.  A pass sent from the address the kernel chose
(the machine held none of the source host's) did not come from the source as the firewalls
see it: it leaves the row unchecked.  And a row passes only when the probes cover it: every
planned port and every declared destination address, else the rest is "not probed" (a
sampled range, results from before the plan changed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from portplan.model.ports import PortRange, PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.publish._findings import Finding, Probe
from portplan.publish._model import Status

__all__ = ["as_placed", "holds", "shortfall"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: missing ports listed one by one up to this many; past it, counted
_LISTED = 8


def _within(address: str | None, networks: Sequence[_Network]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


def holds(plan: Plan, row: PlannedFlow, probe: Probe) -> bool:
    """Whether ``probe`` probed something the plan holds for ``row``."""
    if row.protocol.value == "icmp":
        if probe.port is not None:
            return False
    elif probe.port is None or probe.port not in row.ports:
        return False
    if row.loopback:  # probed on 127.0.0.1, from the kernel's choice
        return True
    if probe.source_address is not None and not _within(probe.source_address, row.source_addresses):
        return False
    if not row.destination_addresses:  # known by name only: what the name resolves to
        name = plan.hosts[row.destination].dns_name
        return name is not None and probe.dns_name == name
    return _within(probe.address, row.destination_addresses)


def as_placed(row: PlannedFlow, finding: Finding) -> Finding:
    """``finding`` as it stands on ``row``: a pass not sent from an address of the row's
    source (the kernel chose it, see ``verify``'s note) is unchecked, not passed."""
    probe = finding.probe
    if (
        finding.status is not Status.PASSED
        or probe is None
        or probe.source_address is not None
        or row.loopback
    ):
        return finding
    return replace(
        finding,
        status=Status.UNCHECKED,
        outcome=f"{finding.outcome}, not from {row.source}",
        evidence=f"not sent from an address of {row.source}: {finding.evidence}",
    )


def _missing_ports(row: PlannedFlow, probed: set[int]) -> str | None:
    if row.protocol.value == "icmp":
        return None
    done = sum(1 for port in probed if port in row.ports)
    total = row.ports.size
    if done >= total:
        return None
    if total - done <= _LISTED:
        left = PortSet.of(PortRange(start=p, end=p) for p in row.ports if p not in probed)
        what = f"port{'s' if left.size > 1 else ''} {left}"
    else:
        what = f"{total - done} of its {total} ports"
    return (
        f"{what} not probed by these results ({done} of {total} probed: a range verify "
        "sampled, or results older than the plan)"
    )


def _missing_addresses(row: PlannedFlow, probed: set[str]) -> str | None:
    # a mesh row's member probes the others, never itself; a loopback row probes 127.0.0.1
    if row.loopback or row.source == row.destination:
        return None
    declared = [str(n.network_address) for n in row.destination_addresses if n.num_addresses == 1]
    left = [a for a in declared if a not in probed]
    if not left:
        return None
    return f"destination {', '.join(left)} not probed by these results"


def shortfall(row: PlannedFlow, findings: Sequence[Finding]) -> Finding | None:
    """An unchecked finding for what of ``row`` the probes among ``findings`` (one
    document's, on this row) leave unprobed; ``None`` when they cover it, or hold no probe."""
    probes = [f.probe for f in findings if f.probe is not None]
    if not probes:
        return None
    ports = {p.port for p in probes if p.port is not None}
    addresses = {p.address for p in probes if p.address is not None}
    gaps = [
        gap
        for gap in (_missing_ports(row, ports), _missing_addresses(row, addresses))
        if gap is not None
    ]
    if not gaps:
        return None
    return Finding(
        flow=row.key,
        source=row.source,
        destination=row.destination,
        protocol=row.protocol.value,
        status=Status.UNCHECKED,
        outcome="not probed",
        evidence="; ".join(gaps),
    )
