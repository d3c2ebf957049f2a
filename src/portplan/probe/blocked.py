"""What must stay blocked: probes of connections the plan does *not* hold, from this machine.

``portplan verify --expect-blocked`` adds, for each source host this machine stands for:

* the ports just outside every planned port range towards each planned destination (a
  ruleset written for a range or a list one port too wide lets them through);
* the planned ports of *other* sources' flows, towards their destinations, where this host is
  not a planned source of them (a ruleset that ignores the source address lets them through);
* every connection the deployment declares ``forbidden:`` from this host, on each of its ports
  (a range of more than 64 sampled: :func:`forbidden_gaps` lists the rest, not proven blocked).

With ``flows`` (``verify --flow``), only what the chosen flows concern: the ports beside
each chosen row of this host, the ports of each chosen row planned from another source, and
the forbidden connections from this host to a destination of a chosen row; a forbidden
connection may be chosen by itself, by the name reports give it (``forbidden/<id>``).

None of them may be in the plan for this host (checked as packet sets), and each must then be
blocked (:data:`~portplan.probe.outcomes.BLOCKED_OUTCOMES`): ``filtered`` (TCP or ICMP
silence), ``rejected`` (ICMP administratively prohibited), ``no-route`` (an ICMP unreachable
or time exceeded from the way), also by the source's own firewall (its egress filtering: the
probe leaves from the source's own address), ``refused`` or, for
UDP, ``closed`` (a reset or a port unreachable: the firewall's reject, or a host where nothing
listens behind the firewall, which a probe cannot tell apart: run ``portplan listen`` on the
destination so that an opening answers ``open``).  ``open`` fails, and so does what proves
nothing: UDP silence (``open|filtered``: a service that does not answer is silent too) and
``local-error`` (no firewall was tested: nothing was sent, for want of a route here, or only
the lookup of a destination no host answers for on this machine's link; see
:func:`~portplan.probe.outcomes.as_blocked`).  Only single addresses the deployment declares are
probed, never a special-purpose one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace

from portplan._text import EXPECTED_BLOCKED
from portplan.model._types import Network, Protocol, special_kind
from portplan.model.addresses import network_text
from portplan.model.deployment import FORBIDDEN
from portplan.model.ports import MAX_PORT, MIN_PORT, PortSet
from portplan.plan import FlowFacts, ForbiddenFlow, Hop, Plan, PlannedFlow
from portplan.probe.destinations import Origins, named_addresses
from portplan.probe.dns import NameLookup
from portplan.probe.engine import BLOCKED_OUTCOMES, PortProbe
from portplan.probe.icmp import ECHO_REQUEST, ECHO_TYPES
from portplan.probe.listen import LISTENER_PROBE, sample_ports
from portplan.probe.local import route_lookups, single_address
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, Space, flow_space, networks_ranges

__all__ = ["BLOCKED_OUTCOMES", "FORBIDDEN", "blocked_probes", "forbidden_gaps", "forbidden_key"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: ports of another source's planned flow probed at most (the ends of its ranges)
_PER_ROW = 4


def forbidden_key(forbidden: ForbiddenFlow) -> str:
    """The name reports (and ``verify --flow``) give a declared forbidden connection."""
    return f"{FORBIDDEN}/{forbidden.id}"


def _edges(ports: PortSet) -> set[int]:
    """The ports just outside each range of a set."""
    around = {p for r in ports.ranges for p in (r.start - 1, r.end + 1)}
    return {p for p in around if MIN_PORT <= p <= MAX_PORT and p not in ports}


def _ends(ports: PortSet) -> list[int]:
    found: list[int] = []
    for r in ports.ranges:
        found += [r.start] if r.start == r.end else [r.start, r.end]
    return sorted(set(found))[:_PER_ROW]


class _Planned:
    """What the plan lets one source host send, as a packet set: its own rows, and the rows
    of every source whose addresses hold one of its own (a group it is a member of, or
    ``anywhere``, which holds every machine)."""

    def __init__(self, plan: Plan, source: str, sources: Sequence[Network]) -> None:
        #: the source host's addresses (of a host known by name only, what its name resolved to)
        self.sources = sources
        self.space = Space.empty()
        #: where the plan lets this host send ICMP echo requests (ICMP rows have no ports):
        #: from which of its addresses, to which
        self.echo: list[tuple[Sequence[Network], Sequence[Network]]] = []
        for row in plan.rows:
            if row.loopback or not (
                row.source == source or _overlap(row.source_addresses, self.sources)
            ):
                continue
            senders = self.sources if row.source == source else row.source_addresses
            if row.protocol is Protocol.ICMP:
                if ECHO_TYPES.intersection(row.facts.icmp):
                    self.echo.append((senders, row.destination_addresses))
                continue
            self.space = self.space | flow_space(
                senders, row.destination_addresses, row.protocol, row.ports
            )

    def holds(
        self, address: str, protocol: Protocol, port: int | None, sender: str | None = None
    ) -> bool:
        """Whether the plan holds any connection from this host to ``address:port`` (an
        echo request, for ICMP): from ``sender``, the address the probe leaves from, when
        it is known (a row from another host inside this one's network, a client of its
        subnet, lets that host through, never the rest of the subnet); else from any of the
        host's addresses."""
        target = ipaddress.ip_address(address)
        froms = self.sources if sender is None else [ipaddress.ip_network(sender)]
        if protocol is Protocol.ICMP:
            return any(
                _overlap(senders, froms) and any(target in n for n in destinations)
                for senders, destinations in self.echo
            )
        family = target.version
        own = networks_ranges(froms, family)
        if not own or port is None:
            return False
        probe = Space.of(
            family,
            sources=own,
            destinations=Ranges.point(int(target)),
            protocols=Ranges.point(PROTOCOL_NUMBERS[protocol.value]),
            ports=Ranges.point(port),
        )
        return probe.overlaps(self.space)


def _source_networks(
    plan: Plan, source: str, lookups: Mapping[str, NameLookup] | None
) -> Sequence[Network]:
    """The addresses of ``source``: those it declares; for a host known by name only, those
    its name resolved to here (none where it did not resolve)."""
    declared = plan.host_addresses(source)
    lookup = (lookups or {}).get(source)
    if declared or lookup is None:
        return declared
    return [ipaddress.ip_network(a) for a in named_addresses(lookup)]


def _overlap(networks: Sequence[Network], others: Sequence[Network]) -> bool:
    """Whether a network of ``networks`` holds an address of ``others`` (same family)."""
    return any(n.version == o.version and n.overlaps(o) for n in networks for o in others)


def _echo(row: PlannedFlow) -> list[int | None]:
    """An ICMP row's one probe (an echo request, no port) when it allows echo requests."""
    return [None] if ECHO_TYPES.intersection(row.facts.icmp) else []


def _forbidden_probes(forbidden: ForbiddenFlow) -> Sequence[int | None]:
    """A forbidden connection's probes: each of its ports (a range of more than
    :data:`~portplan.probe.listen.MAX_PORTS_PER_ROW` sampled, as a planned row's is: see
    :func:`forbidden_gaps`), or an echo request when it forbids echo requests (other ICMP
    messages cannot be probed)."""
    if forbidden.protocol is Protocol.ICMP:
        return [None] if ECHO_TYPES.intersection(forbidden.icmp) else []
    return sample_ports(list(forbidden.ports))


def _sampled(forbidden: ForbiddenFlow) -> str | None:
    """Why part of a forbidden connection's ports is not probed: a sampled range."""
    if forbidden.protocol is Protocol.ICMP:
        return None
    probed, ports = len(_forbidden_probes(forbidden)), forbidden.ports.size
    if probed == ports:
        return None
    return (
        f"{probed} of the {ports} forbidden ports {forbidden.ports} probed (range sampled): "
        f"the other {ports - probed} are not proven blocked"
    )


def _targets(networks: Sequence[Network]) -> list[str]:
    """The single addresses among ``networks`` a probe may go to: never a special-purpose one
    (broadcast, multicast...), which names no machine (``verify`` never probes one)."""
    return [a for n in networks if special_kind(n) is None and (a := single_address(n)) is not None]


def _sent_from(plan: Plan, row: PlannedFlow, source: str) -> PlannedFlow:
    """Another source's ``row`` as probed from ``source``: the probe is ``source``'s, and
    reports must name it, not the host the plan lets through."""
    host = plan.hosts[source]
    return replace(row, source=source, source_addresses=host.addresses, source_zone=host.zone)


def _forbidden_row(
    plan: Plan,
    forbidden: ForbiddenFlow,
    source: str,
    destination: str,
    covered: Sequence[Network] | None = None,
) -> PlannedFlow:
    """A declared forbidden connection as a row of its own (``forbidden/<id>``), for reports;
    ``covered``: the source's addresses it forbids (``None``: all of them)."""
    facts = FlowFacts(
        key=forbidden_key(forbidden),
        product=FORBIDDEN,
        flow_id=forbidden.id,
        hop=Hop.DIRECT,
        destination_component="forbidden",
        protocol=forbidden.protocol,
        loopback=False,
        service=None,
        app_protocol=None,
        tls=False,
        purpose=forbidden.purpose,
        condition=None,
        configurable="no",
        overrides=(),
        interface=None,
        reference="deployment forbidden connection",
    )
    hosts = plan.hosts
    return PlannedFlow(
        facts=facts,
        source=source,
        source_component="forbidden",
        source_addresses=hosts[source].addresses if covered is None else tuple(covered),
        source_zone=hosts[source].zone,
        destination=destination,
        destination_addresses=hosts[destination].addresses,
        destination_zone=hosts[destination].zone,
        ports=forbidden.ports,
        listen_ports=None,
    )


def blocked_probes(
    plan: Plan,
    source: str,
    local: Collection[IPAddress] = frozenset(),
    from_addresses: Sequence[str] = (),
    flows: Collection[str] = (),
    lookups: Mapping[str, NameLookup] | None = None,
) -> Iterator[tuple[PlannedFlow, PortProbe, str]]:
    """Probes that must be blocked from ``source`` (sent from its addresses among ``local``,
    this machine's, or ``from_addresses``), each with the planned row it is next to (a row of
    its own for a declared forbidden connection) and why it is probed; with ``flows`` (row
    keys, flow ids, ``forbidden/<id>``), only those the chosen flows concern (see the
    module's docstring).  ``lookups``: what the names of sources known by name only resolved
    to here (such a source's addresses are those).

    An ICMP row planned from another source, or a forbidden ICMP connection, is probed with
    an echo request (the one ICMP message a probe can send).
    """
    origins = Origins(plan, local, from_addresses, lookups=lookups)
    sources = _source_networks(plan, source, lookups)
    # a host known by name only whose name did not resolve here: every family, sent from
    # none of its addresses (not sent, see verification), never left out unsaid
    families = {n.version for n in sources} or {4, 6}
    bind: dict[int, str | None] = {f: origins.bind(source, f) for f in sorted(families)}
    planned = _Planned(plan, source, sources)
    seen: set[tuple[str, Protocol, int | None]] = set()
    route = route_lookups()

    def leaves_from(address: str, bound: str | None) -> str | None:
        """The address a probe to ``address`` leaves from, as far as it is known here: the
        one bound, else the kernel's choice where a network of the source holds it (a
        clients subnet this machine is in: verification sends from it)."""
        if bound is not None or not origins.here:
            return bound
        chosen = route(address)
        if chosen is None or not any(chosen in n for n in sources if n.version == chosen.version):
            return None
        return str(chosen)

    def probe(
        row: PlannedFlow,
        address: str,
        protocol: Protocol,
        ports: Sequence[int | None],
        why: str,
        binds: Mapping[int, str | None] = bind,
    ) -> Iterator[tuple[PlannedFlow, PortProbe, str]]:
        family = ipaddress.ip_address(address).version
        if family not in binds:
            return
        for port in ports:
            key = (address, protocol, port)
            if key in seen or planned.holds(
                address, protocol, port, leaves_from(address, binds[family])
            ):
                continue
            seen.add(key)
            payload = LISTENER_PROBE if protocol is Protocol.UDP else b""
            yield (
                row,
                PortProbe(
                    address=address,
                    port=port,
                    protocol=protocol,
                    source=binds[family],
                    payload=payload,
                    icmp_type=ECHO_REQUEST if protocol is Protocol.ICMP else None,
                ),
                why,
            )

    rows = _rows(plan, source, flows)
    for row in rows:
        if row.source == source:
            for address in _targets(row.destination_addresses):
                yield from probe(
                    row,
                    address,
                    row.protocol,
                    sorted(_edges(row.ports)),
                    f"{EXPECTED_BLOCKED}beside {row.key}'s ports {row.ports}",
                )
    for row in rows:
        if row.source != source:
            sent_from = _sent_from(plan, row, source)
            for address in _targets(row.destination_addresses):
                yield from probe(
                    sent_from,
                    address,
                    row.protocol,
                    _echo(row) if row.protocol is Protocol.ICMP else _ends(row.ports),
                    f"{EXPECTED_BLOCKED}{row.key} is planned from {row.source}, not from {source}",
                )
    for forbidden, host, covered in _forbidden_towards(plan, source, sources, rows, flows):
        row = _forbidden_row(plan, forbidden, source, host, covered)
        # from a network: sent from an address of the source's that it covers, never another
        # (a firewall that blocks another proves nothing of the entry)
        sender: Mapping[int, str | None] = (
            bind
            if covered is None
            else {f: origins.bind(source, f, covered) for f in {n.version for n in covered}}
        )
        for target in _targets(plan.host_addresses(host)):
            yield from probe(
                row,
                target,
                forbidden.protocol,
                _forbidden_probes(forbidden),
                f"{EXPECTED_BLOCKED}forbidden {forbidden.id} ({forbidden.purpose})",
                sender,
            )


def forbidden_gaps(
    plan: Plan,
    source: str,
    flows: Collection[str] = (),
    lookups: Mapping[str, NameLookup] | None = None,
) -> Iterator[tuple[PlannedFlow, str]]:
    """What :func:`blocked_probes` leaves unprobed of the forbidden connections from
    ``source`` (with ``flows``, of those it probes): each such connection's row towards a
    destination, with why (``lookups`` as for :func:`blocked_probes`).  A probe of part of a
    forbidden connection proves nothing of the rest, so reports list it as not probed, never
    as blocked."""
    sources = _source_networks(plan, source, lookups)
    families = {n.version for n in sources} or {4, 6}
    rows = _rows(plan, source, flows)
    for forbidden, host, covered in _forbidden_towards(plan, source, sources, rows, flows):
        row = _forbidden_row(plan, forbidden, source, host, covered)
        forbids = {4, 6} if covered is None else {n.version for n in covered}
        for reason in (_sampled(forbidden), _not_echo(forbidden)):
            if reason is not None:
                yield row, reason
        for reason in _unprobed_addresses(plan, host, source, families, forbids):
            yield row, reason
    for forbidden, part in _partly(plan, source, sources, flows):
        for host in forbidden.destinations:
            if host != source:
                yield (
                    _forbidden_row(plan, forbidden, source, host),
                    (
                        f"{forbidden.id} forbids part of {source}'s addresses ({part}): no "
                        f"probe from {source} as a whole tells that part apart, so it is not "
                        "proven blocked"
                    ),
                )


def _partly(
    plan: Plan, source: str, sources: Sequence[Network], flows: Collection[str]
) -> Iterator[tuple[ForbiddenFlow, str]]:
    """The forbidden connections from a network inside ``source``'s own (a /25 of the
    clients' /24): the plan forbids the overlap, which :func:`_covered` does not cover."""
    for forbidden in plan.forbidden:
        if _covered(plan, forbidden, source, sources) != () or (
            flows and forbidden_key(forbidden) not in flows
        ):
            continue
        held = [n for h in forbidden.sources for n in plan.host_addresses(h)]
        inside = [n for n in held if any(n.version == s.version and n.overlaps(s) for s in sources)]
        if inside:
            yield forbidden, ", ".join(network_text(n) for n in inside)


def _not_echo(forbidden: ForbiddenFlow) -> str | None:
    """Why the ICMP messages a forbidden connection names beyond echo requests are not
    probed."""
    others = [t for t in forbidden.icmp if t not in ECHO_TYPES]
    if forbidden.protocol is not Protocol.ICMP or not others:
        return None
    return (
        f"forbidden ICMP {', '.join(others)}: verify sends ICMP echo requests (ping) only, and "
        "no probe can ask for the other messages: not proven blocked"
    )


def _unprobed_addresses(
    plan: Plan, host: str, source: str, families: Collection[int], forbids: Collection[int]
) -> Iterator[str]:
    """Why addresses of ``host``, a forbidden connection's destination, get no probe from
    ``source`` (whose addresses are of ``families``; the connection forbids those of
    ``forbids`` from it)."""
    found = plan.hosts[host]
    if not found.addresses:
        yield (
            f"{host} is known by name only ({found.dns_name}): verify --expect-blocked probes "
            f"only the addresses a deployment declares, so none of {host} is proven blocked; "
            "declare its addresses to prove it"
        )
        return
    special = [network_text(n) for n in found.addresses if special_kind(n) is not None]
    if special:
        yield f"special-purpose destination {', '.join(special)}: never probed"
    networks = [
        network_text(n) for n in found.addresses if special_kind(n) is None and n.num_addresses > 1
    ]
    if networks:
        yield (
            f"the destination's network {', '.join(networks)}: its machines are not known one "
            "by one, so none is probed and it is not proven blocked"
        )
    for address in _targets(found.addresses):
        family = ipaddress.ip_address(address).version
        if family in forbids and family not in families:
            yield (
                f"{source} has no IPv{family} address, so it cannot reach {address} (no "
                "firewall rule can be written for it either): not probed"
            )


def _rows(plan: Plan, source: str, flows: Collection[str]) -> list[PlannedFlow]:
    """The planned rows whose neighbours :func:`blocked_probes` probes from ``source``."""
    return [
        r
        for r in plan.rows
        if not r.loopback
        and r.destination != source
        and (not flows or r.key in flows or r.flow_id in flows)
    ]


def _forbidden_towards(
    plan: Plan,
    source: str,
    sources: Sequence[Network],
    rows: Sequence[PlannedFlow],
    flows: Collection[str],
) -> Iterator[tuple[ForbiddenFlow, str, tuple[Network, ...] | None]]:
    """Each forbidden connection from ``source`` (whose addresses are ``sources``) with each
    destination host it is probed towards, and the source's addresses it forbids
    (:func:`_covered`): with ``flows``, a chosen one's, and the others' towards a
    destination of the chosen ``rows``."""
    towards = {r.destination for r in rows}
    for forbidden in plan.forbidden:
        covered = _covered(plan, forbidden, source, sources)
        if covered == ():
            continue
        chosen = not flows or forbidden_key(forbidden) in flows
        for host in forbidden.destinations:
            if host != source and (chosen or host in towards):
                yield forbidden, host, covered


def _covered(
    plan: Plan, forbidden: ForbiddenFlow, source: str, sources: Sequence[Network]
) -> tuple[Network, ...] | None:
    """The addresses of ``source`` (``sources``) that ``forbidden`` forbids it from:
    ``None``, all of them, where it names the host or no host (every host); else those a
    host it names holds (a network of clients the source is one of, as the plan reads it: a
    row from such a source that the entry covers is refused)."""
    if not forbidden.sources or source in forbidden.sources:
        return None
    held = [n for h in forbidden.sources for n in plan.host_addresses(h)]
    return tuple(
        s
        for s in sources
        if any(s.version == n.version and s.subnet_of(n) for n in held)  # type: ignore[arg-type]
    )
