"""The plan as one host's firewall sees it: what it must accept, and (optionally) send.

Rows are grouped by service — address family, protocol, port set, loopback — so a ruleset grows
with the number of distinct services, not with hosts x ports.  Within a group the remote
addresses are the union of the rows' peers, which is exact because every row of the group
allows the same ports towards the same local addresses.  IPv4 and IPv6 are always kept apart:
a rule never mixes families.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from portplan._errors import TargetError
from portplan._text import choice_hint, one_line
from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_text, icmp_types
from portplan.model.ports import PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.targets.base import LINUX_HOST_CAPABILITIES, RuleOptions, Scope, Target

__all__ = [
    "EVERYWHERE",
    "LOOPBACK_SETTINGS",
    "NOTE_MAX",
    "Direction",
    "HostRule",
    "HostView",
    "LinuxHostTarget",
    "collapse",
    "family_icmp",
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
#: the longest comment line naming one flow and its purpose
NOTE_MAX = 200
#: every address of a family: a peer that is anywhere (the synthetic host, or 0.0.0.0/0)
EVERYWHERE: Mapping[int, Network] = {
    4: ipaddress.ip_network("0.0.0.0/0"),
    6: ipaddress.ip_network("::/0"),
}


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


def is_everywhere(networks: tuple[Network, ...], family: int) -> bool:
    """Whether collapsed ``networks`` are every address of ``family`` (a peer from anywhere):
    a rule then needs no address match on that side."""
    return networks == (EVERYWHERE[family],)


def family_icmp(protocol: Protocol, names: tuple[str, ...], family: int) -> tuple[str, ...]:
    """The ICMP messages of ``names`` that exist in ``family``: ``("any",)`` for every type,
    empty when none does (``packet-too-big`` over IPv4); empty for TCP and UDP too."""
    if protocol is not Protocol.ICMP:
        return ()
    kinds = icmp_types(names, family)
    return ("any",) if kinds is None else tuple(kind.value for kind in kinds)


def name_only_refusal(plan: Plan, row: PlannedFlow, host: str, what: str) -> TargetError:
    """The refusal of a row whose end ``host`` is known by its DNS name only, where ``what``
    (a host ruleset, a security group) has to match that end by address."""
    name = plan.hosts[host].dns_name
    return TargetError(
        f"flow {row.key} ({row.source} -> {row.destination}): host {host!r} is known by its DNS "
        f"name only ({name}), and {what} matches addresses, not names: give {host} its "
        "addresses in the deployment ('addresses:')"
    )


def collapse(networks: Iterable[Network], family: int) -> tuple[Network, ...]:
    """The networks of one family (4 or 6), collapsed: the same addresses in fewest networks,
    sorted."""
    if family == 4:
        v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
        return tuple(ipaddress.collapse_addresses(v4))
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return tuple(ipaddress.collapse_addresses(v6))


def note_line(flow: str, purpose: str, prefix: str = "") -> str:
    """``# <prefix><flow>: <purpose>``, one comment line of at most :data:`NOTE_MAX`."""
    return f"# {prefix}{flow}: {one_line(purpose)}"[:NOTE_MAX]


def note_lines(flows: Iterable[str], purposes: Iterable[str]) -> list[str]:
    """One comment line per flow naming its purpose, without trailing blanks."""
    return [
        note_line(flow, purpose).rstrip() for flow, purpose in zip(flows, purposes, strict=True)
    ]


def unreachable_note(row: PlannedFlow, family: int) -> str:
    """A row that cannot be placed: this end has no address of ``family`` (4 or 6)."""
    return f"{row.key} ({row.source} -> {row.destination}: IPv{family})"


def unreachable_lines(notes: Iterable[str]) -> list[str]:
    """The comment lines of a ruleset's header naming the rows it could not place."""
    return [f"# not reachable (no address of that family here): {note}" for note in notes]


def loopback_note(row: PlannedFlow) -> str:
    """A loopback row, for targets that need no rule for it: flow, protocol and ports."""
    if row.protocol is Protocol.ICMP:
        return f"{row.key} (ICMP {icmp_text(row.icmp)})"
    return f"{row.key} ({row.protocol.value.upper()} {row.ports})"


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

    Every destination of a planned row, and every single machine that only sends (its ruleset
    still closes what it must not accept, and filters what it sends with egress).  A group — a
    network standing for many machines, such as a client subnet — gets one only when rows end
    on it (its members' loopback flows, a mesh between its members): "the Internet" needs no
    ruleset of portplan's.  Hosts portplan does not manage (``managed: false``, and the
    synthetic host ``anywhere``) never get one: :func:`skipped_hosts` names them.
    """
    skipped = {name for name in plan.hosts if plan.unmanaged(name) is not None}
    groups = {name for name, host in plan.hosts.items() if host.is_group}
    seen: dict[str, None] = {}
    for row in plan.rows:
        if row.destination not in skipped:
            seen.setdefault(row.destination)
        if row.source not in groups and row.source not in skipped:
            seen.setdefault(row.source)
    return tuple(seen)


def skipped_hosts(plan: Plan) -> dict[str, str]:
    """The hosts of the plan's rows that get no ruleset because portplan does not manage
    them, each with the reason, in plan order."""
    skipped: dict[str, str] = {}
    for row in plan.rows:
        for host in (row.source, row.destination):
            why = plan.unmanaged(host)
            if why is not None:
                skipped.setdefault(host, why)
    return skipped


# Rows share their hosts' address tuples: split each tuple by family once (keyed by identity,
# the tuples live as long as the plan that holds them).
_FamilySplit = dict[int, tuple[tuple[Network, ...], tuple[Network, ...], tuple[Network, ...]]]


def _by_family(
    cache: _FamilySplit, networks: tuple[Network, ...], family: int
) -> tuple[Network, ...]:
    entry = cache.get(id(networks))
    if entry is None or entry[0] is not networks:
        entry = (
            networks,
            tuple(n for n in networks if n.version == 4),
            tuple(n for n in networks if n.version == 6),
        )
        cache[id(networks)] = entry
    return entry[1] if family == 4 else entry[2]


def host_view(plan: Plan, host: str, addresses: tuple[Network, ...], *, egress: bool) -> HostView:
    """Group the rows that end (and, with ``egress``, start) on ``host`` into rules.

    A row whose other end (or this host) is known by its DNS name only cannot be matched by
    address: it is refused (:func:`name_only_refusal`), never turned into a broader rule."""
    groups: dict[_Key, list[tuple[PlannedFlow, tuple[Network, ...]]]] = {}
    unreachable: list[str] = []
    split: _FamilySplit = {}

    def add(
        direction: Direction,
        row: PlannedFlow,
        peers: tuple[Network, ...],
        local: tuple[Network, ...],
    ) -> None:
        if not row.loopback:
            for end, nets in (
                (row.source, row.source_addresses),
                (row.destination, row.destination_addresses),
            ):
                if not nets:
                    raise name_only_refusal(plan, row, end, "a host ruleset")
        for family in (4, 6):
            peer_nets = _by_family(split, peers, family)
            if not peer_nets:
                continue
            local_nets = _by_family(split, local, family)
            if not local_nets:
                unreachable.append(unreachable_note(row, family))
                continue
            icmp = family_icmp(row.protocol, row.icmp, family)
            if row.protocol is Protocol.ICMP and not icmp:
                continue  # no such message in this family (packet-too-big over IPv4)
            key = _Key(direction, family, row.protocol, row.ports, icmp, row.loopback, local_nets)
            groups.setdefault(key, []).append((row, peer_nets))

    for row in plan.rows_of(host):
        if row.destination == host:
            add(Direction.INBOUND, row, row.source_addresses, row.destination_addresses)
        if egress and row.source == host and not row.loopback:
            add(Direction.OUTBOUND, row, row.destination_addresses, row.source_addresses)

    rules = []
    for key, members in groups.items():
        flows: dict[str, str] = {}
        for row, _peers in members:
            flows.setdefault(row.key, row.purpose)
        rules.append(
            HostRule(
                direction=key.direction,
                family=key.family,
                protocol=key.protocol,
                ports=key.ports,
                icmp=key.icmp,
                loopback=key.loopback,
                local=collapse(key.local, key.family),
                peers=collapse((n for _row, peers in members for n in peers), key.family),
                flows=tuple(flows),
                purposes=tuple(flows.values()),
            )
        )
    return HostView(
        host=host,
        deployment=plan.deployment,
        addresses=addresses,
        rules=tuple(rules),
        unreachable=tuple(dict.fromkeys(unreachable)),
    )
