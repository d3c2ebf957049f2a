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
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING

from portplan._errors import VerifyError
from portplan.model.addresses import network_text, special_kind
from portplan.model.protocol import Protocol
from portplan.probe.dns import DNS_TIMEOUT, NameLookup, resolve_names
from portplan.probe.engine import (
    BLOCKED_OUTCOMES,
    FIRST_BYTES_WAIT,
    Evidence,
    Outcome,
    PortProbe,
    PortResult,
    first_bytes,
    hand_over,
    peek,
    probe_all,
)
from portplan.probe.identify import (
    REGISTRY,
    Identification,
    OpenConnection,
    ProbeContext,
    identify,
)
from portplan.probe.listen import LISTENER_TOKEN, sample_ports
from portplan.probe.local import own_addresses, single_address
from portplan.probe.rows import CheckRow

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan, PlannedFlow

__all__ = [
    "FlowCheck",
    "Skipped",
    "default_deadline",
    "plan_checks",
    "run_checks",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """A planned row verify cannot probe from here, and why."""

    row: PlannedFlow
    reason: str


@dataclass(slots=True, kw_only=True)
class FlowCheck:
    """One probed (row, destination address, port), its outcome and what answered."""

    row: CheckRow
    probe: PortProbe
    result: PortResult | None = None
    identification: Identification | None = None
    temporary_listener: bool = False  #: a `portplan listen` listener answered
    notes: list[str] = field(default_factory=list)
    #: the destination's DNS name, when the product reaches it by name; for a name that did
    #: not resolve, ``probe.address`` is the name itself (and nothing is probed)
    dns_name: str | None = None
    lookup: NameLookup | None = None  #: what ``dns_name`` resolved to, once resolved
    #: a connection the plan does not hold (``--expect-blocked``): it passes when blocked
    expect_blocked: bool = False

    @property
    def outcome(self) -> Outcome | None:
        return self.result.outcome if self.result else None

    @property
    def address(self) -> str | None:
        """The destination address; ``None`` when it stands for a name that did not resolve."""
        return None if self.probe.address == self.dns_name else self.probe.address

    @property
    def passed(self) -> bool:
        if self.expect_blocked:
            return self.result is not None and self.result.outcome in BLOCKED_OUTCOMES
        if self.result is None or not self.result.outcome.passes:
            return False
        return self.identification is None or self.identification.matches


def plan_checks(
    plan: Plan,
    sources: Sequence[str],
    *,
    flows: Sequence[str] = (),
    local: set[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None,
) -> tuple[list[FlowCheck], list[Skipped]]:
    """The probes that verify the rows starting on ``sources`` (optionally only ``flows``)."""
    local = local if local is not None else set()
    # per source and family: the address to send from, when it is one of this machine's own
    binds: dict[tuple[str, int], str | None] = {}

    def bind(host: str, family: int) -> str | None:
        if (host, family) not in binds:
            own = own_addresses(plan, host, local)
            own = [a for a in own if ipaddress.ip_address(a).version == family]
            binds[host, family] = own[0] if own else None
        return binds[host, family]

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
    skipped: list[Skipped] = []
    for row in plan.rows:
        if row.source not in sources:
            continue
        if wanted and row.key not in wanted and row.flow_id not in wanted:
            continue
        ports = list(row.ports)
        chosen = sample_ports(ports)
        note = (
            f"{len(chosen)} of the {len(ports)} ports probed (range sampled)"
            if len(chosen) < len(ports)
            else None
        )
        special = [
            f"{network_text(n)} ({kind.value})"
            for n in row.destination_addresses
            if (kind := special_kind(n)) is not None
        ]
        targets = (
            ["127.0.0.1"]
            if row.loopback
            else [
                a
                for n in row.destination_addresses
                if special_kind(n) is None and (a := single_address(n))
            ]
        )
        if special and not row.loopback:
            skipped.append(
                Skipped(
                    row=row,
                    reason=f"special-purpose destination {', '.join(special)}: never probed",
                )
            )
        if not targets:
            if not special:
                skipped.append(
                    Skipped(
                        row=row,
                        reason="the destination is a network, not one "
                        "address: probe it from a member with --on",
                    )
                )
            continue
        dns_name = None if row.loopback else plan.hosts[row.destination].dns_name
        # UDP probes carry the `portplan listen` token, which its listeners answer
        payload = LISTENER_TOKEN if row.protocol is Protocol.UDP else b""
        for address in targets:
            family = ipaddress.ip_address(address).version
            source = None if row.loopback else bind(row.source, family)
            for port in chosen:
                check = FlowCheck(
                    row=row,
                    probe=PortProbe(
                        address=address,
                        port=port,
                        protocol=row.protocol,
                        source=source,
                        payload=payload,
                    ),
                    dns_name=dns_name,
                )
                if note:
                    check.notes.append(note)
                checks.append(check)
    return checks, skipped


def _unprobed(check: FlowCheck, address: str, port: int, lookup: NameLookup, why: str) -> FlowCheck:
    """A ``dns-error`` check of ``check``'s row: decided from DNS alone, never probed."""
    probe = PortProbe(address=address, port=port, protocol=check.probe.protocol)
    evidence = Evidence(elapsed_ms=lookup.elapsed_ms, note=why)
    return FlowCheck(
        row=check.row,
        probe=probe,
        result=PortResult(probe=probe, outcome=Outcome.DNS_ERROR, evidence=evidence),
        dns_name=lookup.name,
        lookup=lookup,
    )


def _row_name_checks(row_checks: list[FlowCheck], lookup: NameLookup) -> list[FlowCheck]:
    """The ``dns-error`` checks of one row reached by name, and notes on its probed checks."""
    first = row_checks[0]
    ports = list(dict.fromkeys(c.probe.port for c in row_checks))
    resolved = [ipaddress.ip_address(a) for a in lookup.addresses]
    declared = {n.network_address for n in first.row.destination_addresses}
    for check in row_checks:
        check.lookup = lookup
        if ipaddress.ip_address(check.probe.address) not in resolved:
            check.notes.append(
                f"{lookup.name} does not resolve to this address: the product would not "
                "reach it by name"
            )
    if not lookup.resolved:
        why = f"{lookup.name}: {lookup.error}"
        return [_unprobed(first, lookup.name, port, lookup, why) for port in ports]
    return [
        _unprobed(
            first,
            str(address),
            port,
            lookup,
            f"{lookup.name} resolves to {address}, which the deployment does not declare "
            f"for {first.row.destination}: not probed",
        )
        for address in resolved
        if address not in declared
        for port in ports
    ]


def name_checks(checks: Sequence[FlowCheck], lookups: Mapping[str, NameLookup]) -> list[FlowCheck]:
    """``checks`` with what DNS said of each destination reached by name, row by row.

    Every declared address stays as planned (with a note where the name does not resolve to
    it); each address the name resolves to that the deployment does not declare for the host,
    and a name that does not resolve, add a ``dns-error`` check per port, already decided:
    nothing is ever probed that the plan does not hold.
    """
    rows: dict[int, list[FlowCheck]] = {}
    for check in checks:
        rows.setdefault(id(check.row), []).append(check)
    out: list[FlowCheck] = []
    for row_checks in rows.values():
        pending = [c for c in row_checks if c.result is None]  # not decided already
        name = pending[0].dns_name if pending else None
        lookup = lookups.get(name) if name is not None else None
        added = [] if lookup is None else _row_name_checks(pending, lookup)
        out.extend(chain(row_checks, added))
    return out


async def resolve_checks(checks: list[FlowCheck], *, timeout: float = DNS_TIMEOUT) -> None:
    """Resolve the destination names of ``checks`` up front and add what they say, in place."""
    names = [c.dns_name for c in checks if c.dns_name is not None and c.result is None]
    if names:
        checks[:] = name_checks(checks, await resolve_names(names, timeout=timeout))


def attach(checks: Sequence[FlowCheck], results: Sequence[PortResult]) -> None:
    """Store each probe result on its check (same order)."""
    for check, result in zip(checks, results, strict=True):
        check.result = result
        # the listener answers "<token> <datagram>": a plain echo of our token is not it
        if result.reply.startswith(LISTENER_TOKEN + b" "):
            check.temporary_listener = True


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
) -> None:
    """Resolve names, probe every check, identify what answers; follow the RPC mapper.

    Destination names are resolved first, each within the probe ``timeout`` but at least
    :data:`DNS_TIMEOUT`; checks that DNS alone decides (``dns-error``) are never probed.

    A TCP port found open is identified on the probe's own connection while probing goes on
    (at most :data:`IDENTIFY_AT_ONCE` at once):
    by the identifier of the protocol the plan names, or else by what the service sends
    unprompted within the round-trip time the destination showed (``portplan listen``'s
    token).  An identification that fails is checked for that token on a connection of its
    own (a listener's token may come after the identifier has spoken).  A silent UDP port is
    asked in its own protocol once probing is done.  The dynamic ports an RPC endpoint
    mapper names are probed when the plan holds them, and only named otherwise.
    ``deadline`` (a :func:`time.monotonic` time) ends the run: ports not settled are
    ``unfinished``.
    """
    await resolve_checks(checks, timeout=max(DNS_TIMEOUT, timeout))
    pending = [c for c in checks if c.result is None]
    extra: list[FlowCheck] = []
    probed = {(c.row.key, c.probe.address, c.probe.port) for c in checks}
    followed: set[int] = set()  # open TCP ports whose connection was used to the end

    def context(check: FlowCheck, connection: OpenConnection | None = None) -> ProbeContext:
        return ProbeContext(
            address=check.probe.address,
            port=check.probe.port,
            timeout=max(timeout, 2.0),
            source_address=check.probe.source,
            secrets=secrets,
            connection=connection,
        )

    identifying = asyncio.Semaphore(max(1, min(concurrency, IDENTIFY_AT_ONCE)))

    def identifier(check: FlowCheck) -> str | None:
        """The protocol to identify ``check``'s port by, if any."""
        wanted = identify_services and not check.expect_blocked
        return check.row.app_protocol if wanted and check.row.app_protocol else None

    async def on_open(index: int, result: PortResult, sock: socket.socket, wait: float) -> None:
        check = pending[index]
        protocol, found = identifier(check), None
        if protocol is not None and REGISTRY.find(protocol) is not None:
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
    for index, check in enumerate(pending):
        tcp_open = check.probe.protocol is Protocol.TCP and check.outcome is Outcome.OPEN
        if tcp_open and index not in followed:
            check.notes.append("not identified: the deadline came first")

    async def ask_udp(check: FlowCheck) -> None:
        """A UDP port identified in its own protocol (silence may be a service that only
        answers what it understands)."""
        result, protocol = check.result, identifier(check)
        if result is None or check.temporary_listener or protocol is None:
            return
        if result.outcome not in (Outcome.OPEN, Outcome.OPEN_FILTERED):
            return
        async with identifying:
            found = await identify(protocol, context(check))
        if found is None:
            return
        if result.outcome is Outcome.OPEN_FILTERED:
            if not found.matches:
                return  # still silence: the service did not answer its own protocol
            check.result = replace(
                result,
                outcome=Outcome.OPEN,
                evidence=replace(result.evidence, note=f"{found.protocol} answered"),
            )
        _identified(check, found, probed, extra)

    udp = [c for c in pending if c.probe.protocol is Protocol.UDP]
    asking = asyncio.gather(*(ask_udp(c) for c in udp))
    if deadline is None:
        await asking
    else:
        try:
            await asyncio.wait_for(asking, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            for check in udp:
                if check.identification is None and check.outcome is Outcome.OPEN:
                    check.notes.append("not identified: the deadline came first")
    if extra:
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
        checks.extend(extra)


async def _is_listener(probe: PortProbe, timeout: float) -> bool:
    """Whether ``portplan listen`` answers ``probe``'s port, asked on a connection of its own."""
    return (await first_bytes(probe, min(timeout, FIRST_BYTES_WAIT))).startswith(LISTENER_TOKEN)


def _identified(
    check: FlowCheck,
    found: Identification,
    probed: set[tuple[str, str, int]],
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
        )
        follow_up.notes.append("dynamic RPC port named by the endpoint mapper")
        extra.append(follow_up)
    if outside:
        shown = ", ".join(map(str, outside[:10])) + (", ..." if len(outside) > 10 else "")
        check.notes.append(
            f"the endpoint mapper names {len(outside)} port(s) the plan does not hold "
            f"(not probed): {shown}"
        )


#: the longest a verification runs unless told otherwise (``--deadline``), in seconds
MAX_DEFAULT_DEADLINE = 3600.0


def default_deadline(checks: Sequence[FlowCheck]) -> float:
    """How long a run of ``checks`` may take, unless told: a minute, plus 1.5 s for every
    port of the busiest destination (an ICMP rate limit answers one a second), at most
    :data:`MAX_DEFAULT_DEADLINE`."""
    per_destination: dict[str, int] = {}
    for check in checks:
        address = check.probe.address
        per_destination[address] = per_destination.get(address, 0) + 1
    busiest = max(per_destination.values(), default=0)
    return min(MAX_DEFAULT_DEADLINE, 60.0 + 1.5 * busiest)
