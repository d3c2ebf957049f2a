"""Which planned flows start here, and what to probe for them.

``portplan verify`` works out the planned rows whose source is this machine (one of its
addresses is a source address, or ``--from HOST``): a :class:`FlowCheck` for each
destination address and port of those rows, and each row it cannot probe from here as
:class:`Skipped`, with the reason.  Only addresses the plan holds are ever probed.  The
probing itself, and the identification of what answers, is :mod:`portplan.probe.verify`'s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from portplan._errors import VerifyError
from portplan.model.protocol import Protocol
from portplan.probe.bynames import address_version
from portplan.probe.checks import FlowCheck, Skipped
from portplan.probe.destinations import (
    ANYWHERE,
    Origins,
    probe_ports,
    row_aim,
    unverifiable_reason,
)
from portplan.probe.dns import NameLookup
from portplan.probe.engine import PortProbe
from portplan.probe.icmp import ECHO_REQUEST
from portplan.probe.listen import LISTENER_PROBE
from portplan.probe.local import route_lookups

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "FROM_HOST_FIX",
    "not_from_host",
    "not_its_loopback",
    "plan_checks",
    "within",
]


def plan_checks(
    plan: Plan,
    sources: Sequence[str],
    *,
    flows: Sequence[str] = (),
    local: set[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None,
    from_addresses: Sequence[str] = (),
    here: bool = True,
    source_lookups: Mapping[str, NameLookup] | None = None,
) -> tuple[list[FlowCheck], list[Skipped]]:
    """The probes that verify the rows starting on ``sources`` (optionally only ``flows``).

    ``from_addresses``: the addresses to send from (``verify --from-address``; in a cluster,
    the member this machine is); by default this machine's own addresses of the source host
    (``local``, or those it can bind).  ``here`` is false when each source host probes for
    itself (``verify --inventory``).  ``source_lookups``: what the names of sources known by
    name only resolved to here, by host; such a source sends from an address its name
    resolved to, and each of its checks carries the lookup.  Rows from ``anywhere`` (and,
    when asked for by source or flow, from hosts portplan does not manage) are reported as
    not probed, with the reason; see :mod:`portplan.probe.destinations`.
    """
    lookups = source_lookups or {}
    origins = Origins(
        plan, local if local is not None else set(), from_addresses, here=here, lookups=lookups
    )
    wanted = set(flows)
    if wanted:
        known = {row.key for row in plan.rows} | {row.flow_id for row in plan.rows}
        unknown = sorted(wanted - known)
        if unknown:
            raise VerifyError(
                f"no flow {', '.join(map(repr, unknown))} in the plan; verify probes "
                "only planned flows (`portplan matrix` lists them)"
            )
    checks: list[FlowCheck] = []
    route = route_lookups()  # where the kernel sends from towards each destination address
    skipped: list[Skipped] = []
    for row in plan.rows:
        if wanted and row.key not in wanted and row.flow_id not in wanted:
            continue
        if not plan.hosts[row.source].managed:
            if row.source in sources or row.source == ANYWHERE or wanted:
                skipped.append(Skipped(row=row, reason=unverifiable_reason(row)))
            continue
        if row.source not in sources:
            continue
        if row.loopback and origins.here and not origins.holds(row.source):
            skipped.append(Skipped(row=row, reason=not_its_loopback(row.source)))
            continue
        ports, note, not_probed = probe_ports(row)
        if not_probed is not None:
            skipped.append(Skipped(row=row, reason=not_probed))
        if not ports:
            continue
        aim = row_aim(row, origins)
        skipped.extend(Skipped(row=row, reason=reason) for reason in aim.reasons)
        dns_name = None if row.loopback else plan.hosts[row.destination].dns_name
        # UDP probes carry the `portplan listen` token, which its listeners answer
        payload = LISTENER_PROBE if row.protocol is Protocol.UDP else b""
        icmp_type = ECHO_REQUEST if row.protocol is Protocol.ICMP else None
        if aim.by_name is not None:  # resolved at probe time (see name_checks)
            own = tuple(a for f in (4, 6) if (a := origins.bind(row.source, f)) is not None)
            targets: list[tuple[str, str | None]] = [(aim.by_name, None)]
        else:
            own = ()
            targets = []
            for a in aim.addresses:
                family = address_version(a)
                if not row.loopback and family == 6 and ipaddress.ip_address(a).is_link_local:
                    skipped.append(Skipped(row=row, reason=_link_local(row.destination, a)))
                    continue
                if not row.loopback and family not in _families(plan, row.source):
                    skipped.append(Skipped(row=row, reason=_other_family(row.source, a, family)))
                    continue
                targets.append((a, None if row.loopback else origins.bind(row.source, family)))
        lookup = lookups.get(row.source)
        for address, bound in targets:
            source = bound
            elsewhere = None  # the note of probes this machine sends from another's address
            if source is None and origins.here and not row.loopback and not own:
                chosen = None
                if aim.by_name is None:
                    chosen = route(address)
                if chosen is not None and within(plan, row.source, chosen):
                    # a network (a clients subnet) this machine is in: it is the source
                    source = str(chosen)
                else:
                    elsewhere = not_from_host(row.source, address, lookup, chosen)
            for port in ports:
                probe = PortProbe(
                    address=address,
                    port=port,
                    protocol=row.protocol,
                    source=source,
                    payload=payload,
                    icmp_type=icmp_type,
                )
                check = FlowCheck(
                    row=row, probe=probe, dns_name=dns_name, own_sources=own, source_lookup=lookup
                )
                check.notes.extend(n for n in (note, elsewhere) if n)
                checks.append(check)
    return checks, skipped


def _families(plan: Plan, host: str) -> set[int]:
    """The IP versions of ``host``'s addresses; both when it declares none (known by name)."""
    found: set[int] = {network.version for network in plan.host_addresses(host)}
    return found if found else {4, 6}


def _link_local(destination: str, address: str) -> str:
    return (
        f"{address} ({destination}) is an IPv6 link-local address: it is reached only through an "
        "interface named with it, which a deployment cannot name, so it is not probed; give "
        f"{destination} an address of a wider scope to verify its flows"
    )


def _other_family(source: str, address: str, family: int) -> str:
    return (
        f"{source} has no IPv{family} address, so this flow cannot reach {address} (no "
        "firewall rule can be written for it either): not probed"
    )


def not_its_loopback(
    source: str, *, fix: str = "run verify on the host, or name its address with --from-address"
) -> str:
    """Why a loopback row of ``source`` is not probed on a machine that is not ``source``."""
    return (
        f"on {source}'s loopback: this machine holds none of {source}'s addresses, so its own "
        f"loopback is not {source}'s ({fix})"
    )


def within(plan: Plan, host: str, address: IPAddress) -> bool:
    """Whether ``address`` is in one of ``host``'s networks (a clients subnet this machine is
    in: the kernel's choice then does come from the host)."""
    return any(address in n for n in plan.host_addresses(host) if n.version == address.version)


#: what to do about a probe not sent from its source's address, run by hand
FROM_HOST_FIX = "name the address with --from-address, or run verify on the host"


def not_from_host(
    source: str,
    address: str,
    lookup: NameLookup | None = None,
    chosen: IPAddress | None = None,
    *,
    fix: str = FROM_HOST_FIX,
) -> str:
    """The note of a probe this machine sent from an address that is not ``source``'s
    (``chosen``, the kernel's choice, where it is known)."""
    sent = f"sent from {chosen}, the address" if chosen is not None else "sent from the address"
    if lookup is None:
        whose = f"this machine holds none of {source}'s addresses of that family"
    elif lookup.resolved:
        whose = (
            f"{source} is known by name only, and {lookup.name} resolves to none of this "
            f"machine's addresses of that family ({', '.join(lookup.addresses)})"
        )
    else:
        whose = f"{source} is known by name only, and {lookup.name}: {lookup.error}"
    return (
        f"{sent} this machine's kernel chose for {address}: {whose}, so the "
        f"probe does not come from {source} as the firewalls see it ({fix})"
    )


#: what an open port whose protocol no identifier knows leaves unchecked
