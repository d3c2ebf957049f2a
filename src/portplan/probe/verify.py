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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING

from portplan._errors import VerifyError
from portplan.model.addresses import special_kind
from portplan.model.protocol import Protocol
from portplan.probe.destinations import (
    ANYWHERE,
    Origins,
    probe_ports,
    row_aim,
    unverifiable_reason,
)
from portplan.probe.dns import DNS_TIMEOUT, NameLookup, resolve_names
from portplan.probe.engine import (
    BLOCKED_OUTCOMES,
    Evidence,
    Outcome,
    PortProbe,
    PortResult,
    first_bytes,
    probe_all,
)
from portplan.probe.icmp import ECHO_REQUEST
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.listen import LISTENER_TOKEN
from portplan.probe.rows import CheckRow

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan, PlannedFlow

#: addresses probed at most for a host known by name only (the rest are named, not probed)
MAX_NAME_ADDRESSES = 16

__all__ = [
    "MAX_NAME_ADDRESSES",
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
    #: a destination known by name only: the addresses this machine sends from (one per
    #: family), one of which is chosen once the name has resolved
    own_sources: tuple[str, ...] = ()

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
    from_addresses: Sequence[str] = (),
    here: bool = True,
) -> tuple[list[FlowCheck], list[Skipped]]:
    """The probes that verify the rows starting on ``sources`` (optionally only ``flows``).

    ``from_addresses``: the addresses to send from (``verify --from-address``; in a cluster,
    the member this machine is); by default this machine's own addresses of the source host
    (``local``, or those it can bind).  ``here`` is false when each source host probes for
    itself (``verify --inventory``).  Rows from ``anywhere`` (and, when asked for by source or
    flow, from hosts portplan does not manage) are reported as not probed, with the reason;
    see :mod:`portplan.probe.destinations`.
    """
    origins = Origins(plan, local if local is not None else set(), from_addresses, here=here)
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
        if wanted and row.key not in wanted and row.flow_id not in wanted:
            continue
        if not plan.hosts[row.source].managed:
            if row.source in sources or row.source == ANYWHERE or wanted:
                skipped.append(Skipped(row=row, reason=unverifiable_reason(row)))
            continue
        if row.source not in sources:
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
        payload = LISTENER_TOKEN if row.protocol is Protocol.UDP else b""
        icmp_type = ECHO_REQUEST if row.protocol is Protocol.ICMP else None
        if aim.by_name is not None:  # resolved at probe time (see name_checks)
            own = tuple(a for f in (4, 6) if (a := origins.bind(row.source, f)) is not None)
            targets: list[tuple[str, str | None]] = [(aim.by_name, None)]
        else:
            own = ()
            targets = [
                (a, None if row.loopback else origins.bind(row.source, _version(a)))
                for a in aim.addresses
            ]
        for address, source in targets:
            for port in ports:
                probe = PortProbe(
                    address=address,
                    port=port,
                    protocol=row.protocol,
                    source=source,
                    payload=payload,
                    icmp_type=icmp_type,
                )
                check = FlowCheck(row=row, probe=probe, dns_name=dns_name, own_sources=own)
                if note:
                    check.notes.append(note)
                checks.append(check)
    return checks, skipped


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def _unprobed(
    check: FlowCheck, address: str, port: int | None, lookup: NameLookup, why: str
) -> FlowCheck:
    """A ``dns-error`` check of ``check``'s row: decided from DNS alone, never probed."""
    probe = PortProbe(
        address=address,
        port=port,
        protocol=check.probe.protocol,
        icmp_type=check.probe.icmp_type,
    )
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


def _by_name_only(pending: list[FlowCheck], lookup: NameLookup) -> list[FlowCheck]:
    """The checks of one row to a host known by name only, once its name has resolved.

    The deployment declares the host by its name alone, so what the name resolves to here,
    now, is the host, as it is for the product: each address is probed, at most
    :data:`MAX_NAME_ADDRESSES` of them, but never a special-purpose one (multicast,
    broadcast, unspecified, IPv4-mapped), which is a ``dns-error``, as is a name that does not
    resolve.
    """
    first = pending[0]
    ports = list(dict.fromkeys(c.probe.port for c in pending))
    if not lookup.resolved:
        why = f"{lookup.name}: {lookup.error}"
        return [_unprobed(first, lookup.name, port, lookup, why) for port in ports]
    out: list[FlowCheck] = []
    usable: list[str] = []
    for text in lookup.addresses:
        kind = special_kind(ipaddress.ip_network(text))
        if kind is None:
            usable.append(text)
            continue
        why = (
            f"{lookup.name} resolves to {text}, a special-purpose address ({kind.value}): "
            "never probed"
        )
        out.extend(_unprobed(first, text, port, lookup, why) for port in ports)
    left = usable[MAX_NAME_ADDRESSES:]
    for index, text in enumerate(usable[:MAX_NAME_ADDRESSES]):
        source = next((a for a in first.own_sources if _version(a) == _version(text)), None)
        for check in pending:
            notes = [*check.notes, f"{lookup.name} is known by name only: it resolves to {text}"]
            if left and index == 0:
                notes.append(
                    f"{lookup.name} resolves to {len(usable)} addresses; the first "
                    f"{MAX_NAME_ADDRESSES} are probed, not {', '.join(left)}"
                )
            probe = replace(check.probe, address=text, source=source)
            out.append(replace(check, probe=probe, lookup=lookup, notes=notes))
    return out


def name_checks(checks: Sequence[FlowCheck], lookups: Mapping[str, NameLookup]) -> list[FlowCheck]:
    """``checks`` with what DNS said of each destination reached by name, row by row.

    Every declared address stays as planned (with a note where the name does not resolve to
    it); each address the name resolves to that the deployment does not declare for the host,
    and a name that does not resolve, add a ``dns-error`` check per port, already decided:
    nothing is ever probed that the plan does not hold.  A host known by name only declares
    no address: its name stands for whatever it resolves to (:func:`_by_name_only`).
    """
    rows: dict[int, list[FlowCheck]] = {}
    for check in checks:
        rows.setdefault(id(check.row), []).append(check)
    out: list[FlowCheck] = []
    for row_checks in rows.values():
        pending = [c for c in row_checks if c.result is None]  # not decided already
        name = pending[0].dns_name if pending else None
        lookup = lookups.get(name) if name is not None else None
        if lookup is None:
            out.extend(row_checks)
        elif pending[0].address is None:  # known by name only: the placeholders are replaced
            out.extend(c for c in row_checks if c.result is not None)
            out.extend(_by_name_only(pending, lookup))
        else:
            out.extend(chain(row_checks, _row_name_checks(pending, lookup)))
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
    """Resolve names, probe every check, then identify what answers; follow the RPC mapper.

    Destination names are resolved first, each within the probe ``timeout`` but at least
    :data:`DNS_TIMEOUT`; checks that DNS alone decides
    (``dns-error``) are never probed.  The dynamic ports an RPC endpoint mapper names are
    probed when the plan holds them, and only named otherwise.  ``deadline`` (a
    :func:`time.monotonic` time) ends the run: ports not settled are ``unfinished``.
    """
    await resolve_checks(checks, timeout=max(DNS_TIMEOUT, timeout))
    pending = [c for c in checks if c.result is None]
    results = await probe_all(
        [c.probe for c in pending],
        timeout=timeout,
        concurrency=concurrency,
        second_look=second_look,
        progress=progress,
        deadline=deadline,
    )
    attach(pending, results)
    gate = asyncio.Semaphore(max(1, min(concurrency, 32)))
    extra: list[FlowCheck] = []
    probed = {(c.row.key, c.probe.address, c.probe.port) for c in checks}

    async def follow(check: FlowCheck) -> None:
        async with gate:
            result, port = check.result, check.probe.port
            if result is None or port is None:  # an ICMP echo: nothing to identify
                return
            tcp_open = check.probe.protocol is Protocol.TCP and result.outcome is Outcome.OPEN
            if tcp_open and (await first_bytes(check.probe, min(timeout, 0.5))).startswith(
                LISTENER_TOKEN
            ):
                check.temporary_listener = True
                return
            if (
                check.temporary_listener
                or check.expect_blocked
                or not identify_services
                or not check.row.app_protocol
            ):
                return
            udp_silent = (
                check.probe.protocol is Protocol.UDP and result.outcome is Outcome.OPEN_FILTERED
            )
            if result.outcome is not Outcome.OPEN and not udp_silent:
                return
            context = ProbeContext(
                address=check.probe.address,
                port=port,
                timeout=max(timeout, 2.0),
                source_address=check.probe.source,
                secrets=secrets,
            )
            found = await identify(check.row.app_protocol, context)
            if found is None:
                return
            if udp_silent:
                if not found.matches:
                    return  # still silence: the service did not answer its own protocol
                check.result = replace(
                    result,
                    outcome=Outcome.OPEN,
                    evidence=replace(result.evidence, note=f"{found.protocol} answered"),
                )
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

    following = asyncio.gather(*(follow(c) for c in pending))
    if deadline is None:
        await following
    else:
        try:
            await asyncio.wait_for(following, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            for check in pending:
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
