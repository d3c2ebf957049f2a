"""Which planned flows start here, what to probe for them, and what the probes mean.

``portplan verify`` works out the planned rows whose source is this machine (one of its
addresses is a source address, or ``--from HOST``), probes each destination address and port
of those rows, identifies the service where the plan names its protocol, and maps every result
back to its flow id and vendor row.  It only ever probes addresses the plan holds.

A destination host with a ``dns_name`` is reached by name: the name is resolved first (see
:mod:`portplan.probe.dns`), its declared addresses are probed as usual, and what DNS says
that the deployment does not is reported as ``dns-error`` without a packet sent: an address
the deployment does not declare for the host, or a name that does not resolve.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from portplan._errors import VerifyError
from portplan.model.protocol import Protocol
from portplan.probe.bynames import (
    MAX_NAME_ADDRESSES,
    address_version,
    name_checks,
    resolve_checks,
)
from portplan.probe.checks import FlowCheck, Skipped, attach
from portplan.probe.destinations import (
    ANYWHERE,
    Origins,
    probe_ports,
    row_aim,
    unverifiable_reason,
)
from portplan.probe.dns import DNS_TIMEOUT, NameLookup
from portplan.probe.ending import cut_short, default_deadline, not_probed
from portplan.probe.engine import (
    FIRST_BYTES_WAIT,
    RESET_ONCE_ACCEPTED,
    Outcome,
    PortProbe,
    PortResult,
    first_bytes,
    hand_over,
    interrupted,
    peek,
    probe_all,
)
from portplan.probe.icmp import ECHO_REQUEST
from portplan.probe.identify import (
    ANSWER,
    REGISTRY,
    UDP_IDENTIFIERS,
    UDP_ONLY,
    Identification,
    OpenConnection,
    ProbeContext,
    identify,
)
from portplan.probe.listen import LISTENER_PROBE, LISTENER_TOKEN
from portplan.probe.local import route_lookups

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "MAX_NAME_ADDRESSES",
    "THROUGH",
    "FlowCheck",
    "Skipped",
    "default_deadline",
    "name_checks",
    "not_from_host",
    "not_its_loopback",
    "plan_checks",
    "run_checks",
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
UNCHECKED = "the port answered; that the service is the one the plan names is not checked"
#: why an open port the service reset once connected is not identified
_RESET_UNIDENTIFIED = "the service reset the connection once it was accepted"

#: the protocol a port of a row speaks when the row's protocol reaches it through another:
#: MS-RPC's named pipes over SMB on 445 (WMI/DCOM rows list "TCP 135 and 445"), where no RPC
#: bind is answered
THROUGH: dict[tuple[str | None, int | None], str] = {("msrpc", 445): "smb"}

#: identifications at once: each is work for both ends (a TLS handshake takes about a
#: millisecond of CPU on each), and one that waits behind too many others on a busy machine
#: would run out of time on a healthy service
IDENTIFY_AT_ONCE = 256


async def run_checks(
    checks: list[FlowCheck],
    *,
    timeout: float,
    concurrency: int,
    second_look: bool = True,
    secrets: Mapping[str, bytes],
    identify_services: bool = True,
    progress: Callable[[PortResult], None] | None = None,
    deadline: float | None = None,
) -> bool:
    """Resolve names, probe every check, identify what answers; follow the RPC mapper.
    Whether the run was interrupted: its task cancelled (``asyncio.run`` does it on Ctrl-C),
    it stops there and every check not settled is ``unfinished``, with that reason.

    Destination names are resolved first, each within the probe ``timeout`` but at least
    :data:`DNS_TIMEOUT`; checks that DNS alone decides (``dns-error``) are never probed.

    A TCP port found open is identified on the probe's own connection while probing goes on
    (at most :data:`IDENTIFY_AT_ONCE` at once):
    by the identifier of the protocol the plan names, or else by what the service sends
    unprompted within the round-trip time the destination showed (``portplan listen``'s
    token).  An identification that fails is checked for that token on a connection of its
    own (a listener's token may come after the identifier has spoken).  A silent UDP port is
    asked in its own protocol once probing is done, when its identifier speaks UDP
    (:data:`UDP_IDENTIFIERS`); a protocol identified over TCP only leaves a UDP port as
    probed.  The dynamic ports an RPC endpoint mapper names are probed when the plan holds
    them, and only named otherwise.
    ``deadline`` (a :func:`time.monotonic` time) ends the run: ports not settled are
    ``unfinished``, and so are open (or silent UDP) ports not yet identified as the plan asks.
    """
    try:
        await resolve_checks(checks, timeout=max(DNS_TIMEOUT, timeout))
    except asyncio.CancelledError:
        not_probed(checks)
        return True
    pending = [c for c in checks if c.result is None]
    extra: list[FlowCheck] = []
    probed = {(c.row.key, c.probe.address, c.probe.port) for c in checks}
    followed: set[int] = set()  # open TCP ports whose connection was used to the end

    def context(check: FlowCheck, connection: OpenConnection | None = None) -> ProbeContext:
        port = check.probe.port
        if port is None:  # only open TCP and UDP ports are identified
            raise ValueError(f"{check.row.key}: an ICMP echo has no service to identify")
        # the name the product reaches the destination by: TLS asks for it (SNI) and HTTP
        # names it (Host); never an address (RFC 6066 section 3), nor the name's final dot
        name = check.dns_name.removesuffix(".") if check.dns_name else None
        return ProbeContext(
            address=check.probe.address,
            port=port,
            timeout=max(timeout, 2.0),
            server_name=name,
            source_address=check.probe.source,
            secrets=secrets,
            connection=connection,
        )

    identifying = asyncio.Semaphore(max(1, min(concurrency, IDENTIFY_AT_ONCE)))

    def identifier(check: FlowCheck) -> str | None:
        """The protocol to identify ``check``'s port by, if any."""
        wanted = identify_services and not check.expect_blocked
        protocol = check.row.app_protocol if wanted else None
        return THROUGH.get((protocol, check.probe.port), protocol) if protocol else None

    async def on_open(index: int, result: PortResult, sock: socket.socket, wait: float) -> None:
        check = pending[index]
        protocol, found = identifier(check), None
        if protocol in UDP_ONLY:
            check.notes.append(f"{protocol} is identified over UDP only: the TCP port is open")
        elif protocol is not None and REGISTRY.find(protocol) is not None:
            connection = OpenConnection(hand_over(sock))
            async with identifying:
                found = await identify(protocol, context(check, connection))
        if found is None:  # nothing to identify it by: is it `portplan listen`?
            check.temporary_listener = (await peek(sock, wait)).startswith(LISTENER_TOKEN)
        elif not found.matches and await _is_listener(check.probe, timeout):
            check.temporary_listener = True
        else:
            _identified(check, found, probed, extra)
        followed.add(index)

    results = await probe_all(
        [c.probe for c in pending],
        timeout=timeout,
        concurrency=concurrency,
        second_look=second_look,
        progress=progress,
        deadline=deadline,
        opened=on_open,
    )
    attach(pending, results)
    stopped = interrupted()
    for index, check in enumerate(pending):
        tcp_open = check.probe.protocol is Protocol.TCP and check.outcome is Outcome.OPEN
        if tcp_open and index not in followed:
            protocol = identifier(check)
            tcp_too = protocol and protocol not in UDP_ONLY and REGISTRY.find(protocol)
            known = protocol if tcp_too else None
            if check.result is not None and check.result.evidence.note == RESET_ONCE_ACCEPTED:
                if known is not None:  # nothing answered in the protocol the plan names
                    check.identification = Identification(
                        expected=known, protocol=None, error=_RESET_UNIDENTIFIED
                    )
            else:
                cut_short(check, known, stopped)

    asked: set[int] = set()  # UDP checks whose identification has ended (or never began)

    async def ask(index: int, check: FlowCheck) -> None:
        await ask_udp(check)
        asked.add(index)  # not when cancelled: the deadline came first

    async def ask_udp(check: FlowCheck) -> None:
        """A UDP port identified in its own protocol (silence may be a service that only
        answers what it understands)."""
        result, protocol = check.result, identifier(check)
        if result is None or check.temporary_listener or protocol is None:
            return
        if result.outcome not in (Outcome.OPEN, Outcome.OPEN_FILTERED):
            return
        if protocol not in UDP_IDENTIFIERS:
            if REGISTRY.find(protocol) is not None:
                check.notes.append(
                    f"{protocol} is identified over TCP only: the UDP port stays "
                    f"{result.outcome.value}"
                )
            return
        async with identifying:
            found = await identify(protocol, context(check))
        if found is None:
            return
        # an answer in its own protocol, even one that proves nothing (a wrong secret), came
        # from the port: it is reachable; silence stays silence, and the identification says
        # what else it may be
        answered = found.matches or ANSWER in found.details
        if result.outcome is Outcome.OPEN_FILTERED and answered:
            note = (
                f"{found.protocol} answered"
                if found.matches
                else f"answered the {protocol} request, not in a way that identifies it"
            )
            check.result = replace(
                result, outcome=Outcome.OPEN, evidence=replace(result.evidence, note=note)
            )
        _identified(check, found, probed, extra)

    udp = [c for c in pending if c.probe.protocol is Protocol.UDP]
    if not stopped:
        asking = asyncio.gather(*(ask(i, c) for i, c in enumerate(udp)))
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait_for(asking, left)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            stopped = True
    for index, check in enumerate(udp):  # (every one is asked unless cut short)
        protocol = None if check.temporary_listener else identifier(check)
        own = protocol if protocol in UDP_IDENTIFIERS else None
        silent = own is not None and check.outcome is Outcome.OPEN_FILTERED
        if index not in asked and (check.outcome is Outcome.OPEN or silent):
            cut_short(check, own, stopped)
    for check in pending:  # a protocol no identifier knows: the port is all that is checked
        named = None if check.temporary_listener else identifier(check)
        if named and not REGISTRY.find(named) and check.outcome is Outcome.OPEN:
            check.notes.append(f"{named} is not identified (verify knows no way to): {UNCHECKED}")
    if extra and stopped:
        not_probed(extra)
    elif extra:
        attach(
            extra,
            await probe_all(
                [c.probe for c in extra],
                timeout=timeout,
                concurrency=concurrency,
                second_look=second_look,
                deadline=deadline,
            ),
        )
        stopped = interrupted()
    checks.extend(extra)
    return stopped


async def _is_listener(probe: PortProbe, timeout: float) -> bool:
    """Whether ``portplan listen`` answers ``probe``'s port, asked on a connection of its own."""
    return (await first_bytes(probe, min(timeout, FIRST_BYTES_WAIT))).startswith(LISTENER_TOKEN)


def _identified(
    check: FlowCheck,
    found: Identification,
    probed: set[tuple[str, str, int | None]],
    extra: list[FlowCheck],
) -> None:
    """Record what identified ``check``'s port; the dynamic RPC ports an endpoint mapper
    names become checks of their own (``extra``) when the plan holds them."""
    check.identification = found
    ports = found.details.get("dynamic_ports", "")
    outside = []
    for port in (int(p) for p in ports.split(",") if p.strip().isdigit()):
        key = (check.row.key, check.probe.address, port)
        if key in probed:
            continue
        if port not in check.row.ports:  # the plan does not hold it: named, not probed
            outside.append(port)
            continue
        probed.add(key)
        follow_up = FlowCheck(
            row=check.row,
            probe=replace(check.probe, port=port),
            dns_name=check.dns_name,
            lookup=check.lookup,
            source_lookup=check.source_lookup,  # sent from where the mapper's check was
        )
        follow_up.notes.append("dynamic RPC port named by the endpoint mapper")
        extra.append(follow_up)
    if outside:
        shown = ", ".join(map(str, outside[:10])) + (", ..." if len(outside) > 10 else "")
        check.notes.append(
            f"the endpoint mapper names {len(outside)} port(s) the plan does not hold "
            f"(not probed): {shown}"
        )
