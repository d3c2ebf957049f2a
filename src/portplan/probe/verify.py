"""Probing the checks verify planned (:mod:`portplan.probe.planned`), and what the probes mean.

:func:`run_checks` probes each destination address and port of the rows whose source is this
machine, identifies the service where the plan names its protocol, and maps every result back
to its flow id and vendor row.  It only ever probes the addresses its checks hold.

A destination host with a ``dns_name`` is reached by name: the name is resolved first (see
:mod:`portplan.probe.dns`), its declared addresses are probed as usual, and what DNS says
that the deployment does not is reported as ``dns-error`` without a packet sent: an address
the deployment does not declare for the host, or a name that does not resolve.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from portplan.model.protocol import Protocol
from portplan.probe.bynames import MAX_NAME_ADDRESSES, name_checks, resolve_checks
from portplan.probe.checks import FlowCheck, Skipped, attach
from portplan.probe.dns import DNS_TIMEOUT
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
from portplan.probe.identify import (
    ANSWER,
    ERRNO,
    ICMP,
    MEANING,
    REGISTRY,
    UDP_IDENTIFIERS,
    UDP_ONLY,
    UNREACHABLE,
    Identification,
    OpenConnection,
    ProbeContext,
    identify,
)
from portplan.probe.listen import LISTENER_TOKEN

__all__ = [
    "MAX_NAME_ADDRESSES",
    "THROUGH",
    "FlowCheck",
    "Skipped",
    "default_deadline",
    "name_checks",
    "run_checks",
]


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
        # from the port: it is reachable; an ICMP port unreachable says no as it does to a
        # probe (so does any other ICMP error but a soft one); silence stays silence, and the
        # identification says what else it may be
        answered = found.matches or ANSWER in found.details
        if result.outcome is Outcome.OPEN_FILTERED and UNREACHABLE in found.details:
            check.result = _unreachable(result, found, protocol)
        elif result.outcome is Outcome.OPEN_FILTERED and answered:
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


def _unreachable(result: PortResult, found: Identification, protocol: str) -> PortResult:
    """A silent UDP port's result once its identification's request met an ICMP error
    (``found.details``, see :data:`UNREACHABLE`): the verdict the probe's own datagram would
    have got (``closed``, ``rejected``, ``no-route``...: its ICMP error may have been held
    back, the kernel limits them; or the service or a firewall changed between the two), with
    the request's errno and ICMP message as evidence and a note that says what it means (who
    rejected it: the destination, a router or firewall on the way, this machine's own
    firewall; or this machine's neighbour lookup that failed)."""
    outcome = Outcome(found.details[UNREACHABLE])
    note = (
        f"the {protocol} identification's request met {found.details.get(MEANING, outcome)} "
        f"(the probe's own datagram met silence: {result.evidence.note})"
    )
    evidence = replace(
        result.evidence,
        errno=found.details.get(ERRNO),
        icmp=found.details.get(ICMP),
        note=note,
    )
    return replace(result, outcome=outcome, evidence=evidence)


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
