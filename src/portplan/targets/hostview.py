"""The plan as one host's firewall sees it: what it must accept, and (optionally) send.

Rows are grouped by service — address family, protocol, port set, loopback — so a ruleset grows
with the number of distinct services, not with hosts x ports.  Within a group the remote
addresses are the union of the rows' peers, which is exact because every row of the group
allows the same ports towards the same local addresses.  IPv4 and IPv6 are always kept apart:
a rule never mixes families.

The parts every target writes alike (collapsed networks, ICMP per family, comment notes) are
:mod:`._ruleparts`'s; this module re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from portplan._errors import TargetError
from portplan._text import choice_hint
from portplan.model._types import Network, Protocol
from portplan.model.ports import PortSet
from portplan.plan import HostEnd, Leg, LegEnd, Plan, PlannedFlow, SourceEnd, plan_legs
from portplan.targets._ruleparts import (
    EVERYWHERE,
    NOTE_MAX,
    collapse,
    family_icmp,
    header_name,
    is_everywhere,
    loopback_note,
    name_only_refusal,
    note_line,
    note_lines,
    unreachable_lines,
    unreachable_note,
)
from portplan.targets.base import LINUX_HOST_CAPABILITIES, RuleOptions, Scope, Target

__all__ = [
    "DHCPV6_COMMENT",
    "DHCPV6_REQUEST_COMMENT",
    "DHCPV6_SERVERS",
    "EVERYWHERE",
    "LINK_LOCAL",
    "LOOPBACK_SETTINGS",
    "MLD_COMMENT",
    "MLD_REPORTS",
    "MLD_REPORT_COMMENT",
    "NOTE_MAX",
    "Direction",
    "HostRule",
    "HostView",
    "LinuxHostTarget",
    "ViewCache",
    "collapse",
    "family_icmp",
    "header_name",
    "host_view",
    "hosts_to_render",
    "is_everywhere",
    "loopback_note",
    "name_only_refusal",
    "note_line",
    "note_lines",
    "rule_hosts",
    "skipped_hosts",
    "unreachable_lines",
    "unreachable_note",
]

#: settings (`--set KEY=VALUE`) of the Linux host firewalls, with their allowed values:
#: ``loopback=all`` accepts everything on ``lo``; ``planned`` only the planned loopback flows
LOOPBACK_SETTINGS: Mapping[str, tuple[str, ...]] = {"loopback": ("all", "planned")}
#: IPv6 link traffic every Linux host ruleset accepts ahead of the plan, from the link only
#: (``LINK_LOCAL``), which conntrack cannot tie to anything the host sent: the router's
#: multicast listener queries (ICMPv6 130, hop limit 1) and DHCPv6 replies (UDP 547 to 546)
LINK_LOCAL = "fe80::/10"
MLD_COMMENT = "IPv6 multicast listener queries"
DHCPV6_COMMENT = "DHCPv6 replies"
#: and, with egress, what the host itself sends on the link that conntrack cannot tie to
#: anything it received: its multicast listener reports, from a link-local address or, before
#: it has one (duplicate address detection), from ``::`` (RFC 3590), hop limit 1, each type to
#: the one destination RFC 3810 and RFC 2710 give it (MLDv2 reports to ``ff02::16``, MLDv1
#: reports to the group reported, dones to ``ff02::2``), by the type's nft name and number
MLD_REPORTS: tuple[tuple[str, int, str], ...] = (
    ("mld2-listener-report", 143, "ff02::16"),
    ("mld-listener-report", 131, "ff00::/8"),
    ("mld-listener-done", 132, "ff02::2"),
)
MLD_REPORT_COMMENT = "IPv6 multicast listener reports"
#: and its DHCPv6 client's messages to the servers of the link (RFC 8415: UDP 546 to 547, to
#: All_DHCP_Relay_Agents_and_Servers), from a link-local address
DHCPV6_SERVERS = "ff02::1:2"
DHCPV6_REQUEST_COMMENT = "DHCPv6 requests"


class LinuxHostTarget(Target):
    """Base of the Linux host firewalls (nftables, iptables): one ruleset per host."""

    scope = Scope.HOST
    capabilities = LINUX_HOST_CAPABILITIES
    settings = LOOPBACK_SETTINGS

    def unknown_setting(self, key: str, extra: Mapping[str, str]) -> str:
        return f"{self.name} has no setting {key!r}; " + choice_hint(key, self.settings, "settings")

    def accept_loopback(self, options: RuleOptions) -> bool:
        """Whether all loopback traffic is accepted (after refusing bad settings)."""
        self.check_options(options)
        return options.extra.get("loopback", "all") == "all"


def hosts_to_render(plan: Plan, options: RuleOptions) -> Iterator[str]:
    """The hosts to render: those of ``--host``, or else every host that needs a ruleset.

    A name the deployment does not have, and a host portplan does not manage, are refused when
    the iteration reaches them."""
    for host in options.hosts or rule_hosts(plan):
        if host not in plan.hosts:
            raise TargetError(
                f"no host {host!r} in deployment {plan.deployment}; "
                + choice_hint(host, plan.hosts, "hosts")
            )
        why = plan.unmanaged(host)
        if why is not None:
            raise TargetError(f"no ruleset for {host}: {why}")
        yield host


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRule:
    """Allow ``protocol``/``ports`` between ``local`` (this host) and ``peers``."""

    direction: Direction
    family: int  #: 4 or 6
    protocol: Protocol
    ports: PortSet  #: empty for ICMP
    #: ICMP: the family's message names (``("any",)``: every type); empty for TCP and UDP
    icmp: tuple[str, ...] = ()
    loopback: bool  #: on ``lo``; always inbound (renderers add its output side with egress)
    local: tuple[Network, ...]  #: this host's addresses of the family (destination when inbound)
    peers: tuple[Network, ...]  #: the other ends, collapsed and sorted
    flows: tuple[str, ...]  #: flow keys, in plan order
    purposes: tuple[str, ...]  #: one per flow key


class _Key(NamedTuple):
    direction: Direction
    family: int
    protocol: Protocol
    ports: PortSet
    icmp: tuple[str, ...]
    loopback: bool
    local: tuple[Network, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostView:
    """Everything one host's ruleset must allow, and what could not be placed."""

    host: str
    deployment: str
    addresses: tuple[Network, ...]
    rules: tuple[HostRule, ...]
    unreachable: tuple[str, ...]  #: rows whose peer family this host has no address in


def rule_hosts(plan: Plan) -> tuple[str, ...]:
    """Hosts that need a ruleset, in plan order.

    Every destination of a planned row, and every machine that only sends, a single one or the
    members of a cluster (its ruleset still closes what it must not accept, and filters what
    it sends with egress).  A network standing for many machines, such as a client subnet,
    gets one only when rows end on it (its members' loopback flows, a mesh between its
    members): "the Internet" needs no ruleset of portplan's.  Hosts portplan does not manage
    (``managed: false``, and the synthetic host ``anywhere``) never get one:
    :func:`skipped_hosts` names them.
    """
    skipped = {name for name in plan.hosts if plan.unmanaged(name) is not None}
    networks = {name for name, host in plan.hosts.items() if host.is_network}
    seen: dict[str, None] = {}
    for end, first in _ends_in_plan_order(plan):
        # row by row, the destination and then the source
        if end.destination not in skipped:
            seen.setdefault(end.destination)
        if first:
            for source in end.sources:
                if source.name not in networks and source.name not in skipped:
                    seen.setdefault(source.name)
    return tuple(seen)


def skipped_hosts(plan: Plan) -> dict[str, str]:
    """The hosts of the plan's rows that get no ruleset because portplan does not manage
    them, each with the reason, in plan order."""
    unmanaged = {name: why for name in plan.hosts if (why := plan.unmanaged(name)) is not None}
    skipped: dict[str, str] = {}
    if not unmanaged:
        return skipped
    for end, first in _ends_in_plan_order(plan):
        # row by row, the source and then the destination: the first source, the
        # destination, then the other sources
        names = [end.sources[0].name, end.destination]
        if first:
            names += [source.name for source in end.sources[1:]]
        for name in names:
            if name in unmanaged and name not in skipped:
                skipped[name] = unmanaged[name]
    return skipped


def _ends_in_plan_order(plan: Plan) -> Iterator[tuple[LegEnd, bool]]:
    """Every leg end of the plan in plan order, and whether its list of sources is met for
    the first time: the ends of many hosts share one list, and a list met before names no
    host it did not name then.  (The plan holds the lists, so their identities stay theirs.)"""
    listed: set[int] = set()
    for leg in plan_legs(plan).legs:
        for end in leg.ends:
            first = id(end.sources) not in listed
            if first:
                listed.add(id(end.sources))
            yield end, first


# Rows share their hosts' address tuples: split each tuple by family once (keyed by identity,
# the tuples live as long as the plan that holds them).
_FamilySplit = dict[int, tuple[tuple[Network, ...], tuple[Network, ...], tuple[Network, ...]]]


class ViewCache:
    """What the host views of one render share (pass one to every :func:`host_view` of a
    plan): each address tuple split by family, and each set of peers collapsed, once."""

    __slots__ = ("collapsed", "listed", "split")

    def __init__(self) -> None:
        self.split: _FamilySplit = {}
        #: a list of sources (by identity: the leg ends of many hosts share one) -> its peers'
        #: address tuples, and whether each has an address (see :meth:`sources`)
        self.listed: dict[int, tuple[tuple[SourceEnd, ...], list[tuple[Network, ...]], bool]] = {}
        #: (family, the identities of the peer tuples) -> their networks collapsed; the tuples
        #: themselves are kept too, so that an identity is never reused while cached
        self.collapsed: dict[
            tuple[int, frozenset[int]], tuple[tuple[Network, ...], list[tuple[Network, ...]]]
        ] = {}

    def sources(self, sources: tuple[SourceEnd, ...]) -> tuple[list[tuple[Network, ...]], bool]:
        """The address tuples of ``sources``, and whether every one has an address."""
        found = self.listed.get(id(sources))
        if found is None or found[0] is not sources:
            peers = [source.addresses for source in sources]
            found = self.listed[id(sources)] = (sources, peers, all(peers))
        return found[1], found[2]

    def peers(self, family: int, tuples: list[tuple[Network, ...]]) -> tuple[Network, ...]:
        key = (family, frozenset(map(id, tuples)))
        found = self.collapsed.get(key)
        if found is None:
            found = self.collapsed[key] = (
                collapse((n for t in tuples for n in t), family),
                tuples,
            )
        return found[0]


def _split(
    cache: _FamilySplit, networks: tuple[Network, ...]
) -> tuple[tuple[Network, ...], tuple[Network, ...], tuple[Network, ...]]:
    """``(networks, its IPv4 ones, its IPv6 ones)``, worked out once per tuple."""
    entry = cache.get(id(networks))
    if entry is None or entry[0] is not networks:
        entry = (
            networks,
            tuple(n for n in networks if n.version == 4),
            tuple(n for n in networks if n.version == 6),
        )
        cache[id(networks)] = entry
    return entry


def _by_family(
    cache: _FamilySplit, networks: tuple[Network, ...], family: int
) -> tuple[Network, ...]:
    entry = _split(cache, networks)
    return entry[1] if family == 4 else entry[2]


def _name_only(plan: Plan, row: PlannedFlow) -> TargetError:
    """The refusal of ``row``, one of whose ends is known by its DNS name only."""
    end = row.destination if row.source_addresses else row.source
    return name_only_refusal(plan, row, end, "a host ruleset")


class _Gathered:
    """The rows of one flow leg that touch a host in one direction, while a view is made."""

    __slots__ = ("outbound", "peers", "positions", "sample", "segments")

    def __init__(self, outbound: bool, sample: PlannedFlow) -> None:
        self.outbound = outbound
        self.sample = sample  #: a row of them (they share all but the peer)
        self.positions: list[int] = []  #: of each row, in the plan
        self.peers: list[tuple[Network, ...]] = []  #: of each row: the other end's addresses
        #: where the rows are: a leg end's rows (``None``) or one of them (its source's index)
        self.segments: list[tuple[Leg, LegEnd, int | None]] = []

    def rows(self) -> list[PlannedFlow]:
        """The rows, made afresh (for the notes of the rows that cannot be placed)."""
        return [
            leg.row(end, index)
            for leg, end, source in self.segments
            for index in (range(len(end.sources)) if source is None else (source,))
        ]


def _in_plan_order(touching: HostEnd) -> tuple[int, bool]:
    # (the row of a mesh from a host to itself: towards it first, then from it)
    return touching.position, touching.source is not None


def _first_by_name(end: LegEnd) -> int:
    """The first row of ``end`` with an end known by its DNS name only."""
    if not end.addresses:
        return 0
    return next(i for i, source in enumerate(end.sources) if not source.addresses)


def host_view(
    plan: Plan,
    host: str,
    addresses: tuple[Network, ...],
    *,
    egress: bool,
    cache: ViewCache | None = None,
) -> HostView:
    """Group the rows that end (and, with ``egress``, start) on ``host`` into rules.

    ``cache``: shared by the views of one render, so that what many hosts share (the 4,800
    clients that reach every portal) is worked out once.

    A row whose other end (or this host) is known by its DNS name only cannot be matched by
    address: it is refused (:func:`name_only_refusal`), never turned into a broader rule."""
    cache = cache if cache is not None else ViewCache()
    split = cache.split
    # The rows of one flow leg towards (or from) this host share their facts, ports and this
    # host's addresses, and differ only in the peer: the plan keeps them so (plan._legs), a
    # leg end at a time.  Positions (plan order) keep the rules, their flows and the notes in
    # plan order.
    index = plan_legs(plan)
    touching = index.ends_to(host)
    if egress:
        touching = sorted((*touching, *index.ends_from(host)), key=_in_plan_order)
    legs: dict[int, _Gathered] = {}
    for position, leg, end, source in touching:
        facts = leg.facts
        if source is None:  # the rows of the end reach this host
            peers, addressed = cache.sources(end.sources)
            if not facts.loopback and not (addressed and end.addresses):
                raise _name_only(plan, leg.row(end, _first_by_name(end)))
            ident = (id(facts) << 129) | (id(end.ports) << 65) | (id(end.addresses) << 1)
            gathered = legs.get(ident)
            if gathered is None:
                gathered = legs[ident] = _Gathered(False, leg.row(end, 0))
            gathered.positions.extend(range(position, position + len(peers)))
            gathered.peers.extend(peers)
            gathered.segments.append((leg, end, None))
        elif not facts.loopback:  # a row from this host, with egress
            local = end.sources[source].addresses
            if not (local and end.addresses):
                raise _name_only(plan, leg.row(end, source))
            ident = (id(facts) << 129) | (id(end.ports) << 65) | (id(local) << 1) | 1
            gathered = legs.get(ident)
            if gathered is None:
                gathered = legs[ident] = _Gathered(True, leg.row(end, source))
            gathered.positions.append(position)
            gathered.peers.append(end.addresses)
            gathered.segments.append((leg, end, source))
    # (position, direction, family) of a leg's first row in a family, the rule's key, a row
    # of the leg, the peers' networks of that family
    parts: list[tuple[tuple[int, int, int], _Key, PlannedFlow, list[tuple[Network, ...]]]] = []
    unreachable: list[tuple[tuple[int, int, int], str]] = []
    for gathered in legs.values():
        outbound, sample, positions = gathered.outbound, gathered.sample, gathered.positions
        direction = Direction.OUTBOUND if outbound else Direction.INBOUND
        local = sample.source_addresses if outbound else sample.destination_addresses
        ends = [_split(split, networks) for networks in gathered.peers]
        for family in (4, 6):
            found = [end[1] for end in ends] if family == 4 else [end[2] for end in ends]
            first = next((i for i, nets in enumerate(found) if nets), None)
            if first is None:
                continue
            local_nets = _by_family(split, local, family)
            if not local_nets:
                rows = gathered.rows()
                unreachable.extend(
                    ((positions[i], outbound, family), unreachable_note(rows[i], family))
                    for i, nets in enumerate(found)
                    if nets
                )
                continue
            icmp = family_icmp(sample.protocol, sample.icmp, family)
            if sample.protocol is Protocol.ICMP and not icmp:
                continue  # no such message in this family (packet-too-big over IPv4)
            key = _Key(
                direction, family, sample.protocol, sample.ports, icmp, sample.loopback, local_nets
            )
            order = (positions[first], outbound, family)
            parts.append((order, key, sample, [nets for nets in found if nets]))
    groups: dict[_Key, tuple[dict[str, str], list[tuple[Network, ...]]]] = {}
    for _order, rule, sample, leg_peers in sorted(parts, key=lambda part: part[0]):
        group = groups.get(rule)
        if group is None:
            group = groups[rule] = ({}, [])
        group[0].setdefault(sample.key, sample.purpose)
        group[1].extend(leg_peers)
    rules = [
        HostRule(
            direction=key.direction,
            family=key.family,
            protocol=key.protocol,
            ports=key.ports,
            icmp=key.icmp,
            loopback=key.loopback,
            local=collapse(key.local, key.family),
            peers=cache.peers(key.family, peers),
            flows=tuple(flows),
            purposes=tuple(flows.values()),
        )
        for key, (flows, peers) in groups.items()
    ]
    notes = [note for _order, note in sorted(unreachable, key=lambda item: item[0])]
    return HostView(
        host=host,
        deployment=plan.deployment,
        addresses=addresses,
        rules=tuple(rules),
        unreachable=tuple(dict.fromkeys(notes)),
    )
