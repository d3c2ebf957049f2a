"""Whether a probe's finding is about a plan row as it stands, and what of the row the
findings leave unprobed.

A results document names a row by flow id, source, destination and protocol, which an older
plan or another deployment with the same names shares.  So a passed probe counts for a row
only when what it probed is in the row: a port of the row (none for ICMP), a destination
address the deployment declares for the host (or, for a host known by name only, its name),
sent from one of the source host's addresses.  A pass sent from the address the kernel chose
(the machine held none of the source host's) did not come from the source as the firewalls
see it: it leaves the row unchecked.

And a row passes only when the probes of all the results given cover it together: every
planned port, to every destination address (each declared single address; for a host known
by name only, each address its name resolved to when it was probed), from the source; from
each member where the source is a cluster, whose members are machines of their own (and, in
the row between them, probe each other).  The rest is "not probed" (a sampled range, results
from before the plan changed, a member that did not run verify), and what no probe can cover
says so: a network among the destination's addresses or the cluster's members (their
machines are not known one by one), a name whose lookup the results do not hold.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from portplan.model.addresses import network_text
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
    if probe.source_address is not None and not _from_source(plan, row, probe):
        return False
    if not row.destination_addresses:  # known by name only: what the name resolves to
        name = plan.hosts[row.destination].dns_name
        return name is not None and probe.dns_name == name
    return _within(probe.address, row.destination_addresses)


def _from_source(plan: Plan, row: PlannedFlow, probe: Probe) -> bool:
    """Whether ``probe`` was sent from an address of the row's source: one the deployment
    declares for it, or, for a host known by name only, one its name resolved to where the
    probe was sent (the results say, ``source_dns``)."""
    if row.source_addresses:
        return _within(probe.source_address, row.source_addresses)
    name = plan.hosts[row.source].dns_name
    return (
        name is not None
        and probe.source_name == name
        and probe.source_resolved is not None
        and _canonical(probe.source_address) in {_canonical(a) for a in probe.source_resolved}
    )


def _declared_for(plan: Plan, address: str, besides: str) -> str | None:
    """The host other than ``besides`` the deployment declares ``address`` for, if any: one
    that has it as its address, else one whose network holds it (a clients subnet)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    holding = None
    for name, host in plan.hosts.items():
        if name == besides:
            continue
        for network in host.addresses:
            if network.version == ip.version and ip in network:
                if network.num_addresses == 1:
                    return name
                holding = holding or name
    return holding


def as_placed(plan: Plan, row: PlannedFlow, finding: Finding) -> Finding:
    """``finding`` as it stands on ``row``: a pass not sent from an address of the row's
    source (the kernel chose it, see ``verify``'s note) is unchecked, not passed; and so is a
    pass from a source known by name only whose name resolved to an address the deployment
    declares for another host: as the firewalls see it, that host sent it."""
    probe = finding.probe
    if finding.status is not Status.PASSED or probe is None or row.loopback:
        return finding
    if probe.source_address is None:
        why = f"not sent from an address of {row.source}"
    elif row.source_addresses:
        return finding
    else:
        other = _declared_for(plan, probe.source_address, row.source)
        if other is None:
            return finding
        why = (
            f"{probe.source_name} ({row.source}) resolved to {probe.source_address}, which the "
            f"deployment declares for {other}: the probe came from {other} as the firewalls "
            "see it"
        )
    return replace(
        finding,
        status=Status.UNCHECKED,
        outcome=f"{finding.outcome}, not from {row.source}",
        evidence=f"{why}: {finding.evidence}",
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


_Pair = tuple[str | None, str]  #: (the member of a cluster it comes from, destination address)


def _canonical(address: str | None) -> str | None:
    """``address`` as the plan writes it (``::1``, not ``0::1``); as given if it is none."""
    if address is None:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def _split(networks: Sequence[_Network]) -> tuple[list[str], list[str]]:
    """The single addresses among ``networks``, and the networks of several."""
    singles = [str(n.network_address) for n in networks if n.num_addresses == 1]
    return singles, [network_text(n) for n in networks if n.num_addresses > 1]


def _wanted(plan: Plan, row: PlannedFlow, probes: Sequence[Probe]) -> tuple[list[_Pair], list[str]]:
    """The (source, destination address) pairs ``row`` holds, and why any part of it is beyond
    what probes can cover.  The source is ``None`` for a host that is one machine (any of its
    addresses is it), a member's address for a cluster: each member is a machine of its own."""
    source = plan.hosts[row.source]
    mesh = row.source == row.destination
    if mesh and not source.cluster:  # one machine, or a network: verify probes none of it
        return [], []
    reasons = []
    if not row.destination_addresses:  # known by name only: what its name resolved to
        name = plan.hosts[row.destination].dns_name
        lookups = [p.resolved for p in probes if p.resolved is not None]
        if not lookups:
            reasons.append(
                f"these results do not say what {name} resolved to (dns), so nothing shows "
                f"that every address of {row.destination} was probed"
            )
        destinations = list(dict.fromkeys(_canonical(a) or a for found in lookups for a in found))
    else:
        destinations, networks = _split(row.destination_addresses)
        if networks and not mesh:
            reasons.append(
                f"{row.destination}'s network {', '.join(networks)}: its machines are not known "
                "one by one, so no probe covers it"
            )
    if not source.cluster:
        return [(None, d) for d in destinations], reasons
    members, networks = _split(row.source_addresses)
    if networks:
        reasons.append(
            f"the members of {row.source} in {', '.join(networks)} are not known one by one, "
            "so no results come from each of them: this row cannot be verified"
        )
    version = {a: ipaddress.ip_address(a).version for a in (*members, *destinations)}
    pairs: list[_Pair] = [
        (m, d) for m in members for d in destinations if m != d and version[m] == version[d]
    ]
    if not mesh:  # one no member can reach (as a host without its family cannot): not probed
        reached = {d for _m, d in pairs}
        pairs.extend((None, d) for d in destinations if d not in reached)
    return pairs, reasons


def _missing_pairs(row: PlannedFlow, left: Sequence[_Pair], cluster: bool) -> str | None:
    if not left:
        return None
    if not cluster:
        return f"destination {', '.join(d for _s, d in left)} not probed by these results"
    by_member: dict[str | None, list[str]] = {}
    for member, destination in left:
        by_member.setdefault(member, []).append(destination)
    parts = [
        f"from {m} to {', '.join(ds)}"
        if m is not None
        else f"to {', '.join(ds)} (no member of {row.source} has an address of its family)"
        for m, ds in by_member.items()
    ]
    return (
        f"{'; '.join(parts)} not probed by these results (each member of {row.source} is a "
        "machine of its own: run verify on each, --from-address naming it, and give every file)"
    )


def shortfall(plan: Plan, row: PlannedFlow, findings: Sequence[Finding]) -> Finding | None:
    """An unchecked finding for what of ``row`` the probes among ``findings`` (on this row,
    of every results document given) leave unprobed, or no probe can cover; ``None`` when
    they cover it, or hold no probe."""
    probes = [f.probe for f in findings if f.probe is not None]
    if not probes:
        return None
    cluster = plan.hosts[row.source].cluster and not row.loopback
    probed: dict[_Pair, set[int]] = {}  # the ports probed, by (source, destination)
    for probe in probes:
        address = _canonical(probe.address)
        if address is None:  # a name that did not resolve: nothing was probed
            continue
        ports = probed.setdefault(
            (_canonical(probe.source_address) if cluster else None, address), set()
        )
        if probe.port is not None:
            ports.add(probe.port)
    wanted, reasons = ([], []) if row.loopback else _wanted(plan, row, probes)
    # a port is probed when it was probed on every pair the row holds that was probed at all
    # (a loopback row is probed on 127.0.0.1: its ports are all there is to cover)
    on_pairs = [probed[p] for p in wanted if p in probed]
    common = set.intersection(*on_pairs) if on_pairs else set().union(*probed.values())
    gaps = [
        gap
        for gap in (
            _missing_ports(row, common),
            _missing_pairs(row, [p for p in wanted if p not in probed], cluster),
            *reasons,
        )
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
