"""Two plans compared as packet sets: what a firewall must newly open, and may close.

Rows are matched by what they are — flow, source host, destination host, protocol — and rows
that are the same on both sides are set aside without set algebra (most of a large plan).  The
rows of one such key are compared together, however many each side has (a product flow and a
management access of one name, say): none is lost.  For every other key the new packets are
those its new rows hold and its old rows did not; of them,
only those *no* row of the old plan already needed on the same zone boundary (the rows' source
and destination zones) are a change a firewall sees (loopback
packets are each host's own: only the host's rows need them; the packets to a host known by
DNS name only are compared by the name) (two flows that
need the same packets, such as a vendor's row repeated in two tables, change nothing when one
of them goes).  Likewise for the packets to close.  A change is:

* ``open``: a row that is new; ``close``: a row that is gone;
* ``widen`` / ``narrow``: a row that needs more / fewer packets (a range from 49152-65535 to
  1024-65535 reads "widen ... port 1024-49151"); a row that gains some ports and loses others
  is both;
* ``readdress``: a row whose ports stay and whose addresses change (a host re-addressed);
* ``moved``: a row whose source or destination zone changes: the packets it keeps are
  closed on the old zone boundary's firewall and opened on the new one's, less what other rows
  of that boundary still need (or already needed) (a host moved from
  zone ``data`` to ``users2``: from PAN-OS rules ``users`` to ``data`` to rules ``users`` to
  ``users2``; a Cisco or Junos filter ``portplan-from-users`` holds both boundaries);
* ``listen``: a row whose packets between zones stay, and whose destination listens on other
  ports behind the published ones; ``pods``: a row whose packets stay, and one of whose ends
  stands for other pods (Kubernetes cluster, namespace or labels), or a host no row leaves or
  reaches whose policy, which denies all, changes (other pods; the host made or unmade managed,
  added or removed: no flow, no protocol); ``rehost``: a row new or
  gone with a host added or removed, whose packets other rows need all the same (a host
  renamed); ``peer``: a row whose packets other rows need all the same, and which changes a
  host's own rule per peer address range (a security group's: a host inside a subnet another
  row comes from), or beside a listed change the packets of the row that other rows of its
  boundary needed or still need, which its hosts' own rules gain or lose all the same
  (:mod:`portplan.diff._own`, :mod:`portplan.diff._peers`): no packet to open or close, a
  ``detail`` that says what changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import NamedTuple

from portplan.diff._causes import Causes, Side
from portplan.diff._kind import ChangeKind
from portplan.diff._own import OwnRules
from portplan.model._types import Network
from portplan.model.deployment import Host
from portplan.plan import Plan, PlannedFlow
from portplan.spaces import Ranges, Space, flow_space, networks_ranges

__all__ = ["Change", "ChangeKind", "PlanDiff", "diff_plans"]


@dataclass(slots=True, kw_only=True)
class Change:
    """One row's change as a firewall sees it."""

    kind: ChangeKind
    flow: str  #: the flow key (``product/flow``); empty for a host no row leaves or reaches
    source: str
    destination: str
    protocol: str | None  #: none for a host no row leaves or reaches (kind ``pods``)
    reference: str
    opened: Space  #: packets to permit newly
    closed: Space  #: packets no longer needed
    causes: tuple[str, ...]
    #: other flows whose rows change the same packets (listed once, under the first)
    also: list[str] = field(default_factory=list)
    #: the DNS name of an end known by name only: its addresses in ``opened`` and ``closed``
    #: stand for the name (every address of a family), and outputs show the name instead
    source_name: str | None = None
    destination_name: str | None = None
    #: the zones of the rows whose packets the change is about (the new side's; a ``close``:
    #: the old side's): which zone-boundary firewall holds the rule
    source_zone: str | None = None
    destination_zone: str | None = None
    #: whether the zones changed; then the old side's, where ``closed`` is taken out
    zone_moved: bool = False
    old_source_zone: str | None = None
    old_destination_zone: str | None = None
    #: a change only the hosts' own rules show (``listen``, ``pods``, ``rehost``): what changes,
    #: in words; it opens and closes no packet between zones
    detail: str | None = None


@dataclass(slots=True, kw_only=True)
class PlanDiff:
    """Every change between two plans, in the new plan's row order, then the old one's."""

    old: str  #: how the old side was named
    new: str
    changes: list[Change] = field(default_factory=list)
    rows_compared: int = 0
    already_needed: int = 0  #: rows that changed, but whose packets other rows still need

    @property
    def identical(self) -> bool:
        return not self.changes

    def counts(self) -> tuple[int, int, int]:
        """How many changes open, close, and readdress."""
        opened = sum(c.kind.opens for c in self.changes)
        closed = sum(c.kind in (ChangeKind.CLOSE, ChangeKind.NARROW) for c in self.changes)
        return opened, closed, len(self.changes) - opened - closed

    def summary(self) -> str:
        opened, closed, changed = self.counts()
        if self.identical:
            return "identical: nothing to open, nothing to close"
        return f"{opened} to open, {closed} to close, {changed} to change"


_Key = tuple[str, str, str, str]  #: flow key, source, destination, protocol


class _Scope(NamedTuple):
    """Where a row's packets are comparable with another's: loopback packets (127.0.0.0/8 and
    ::1 on both ends) are each host's own, so only the rows of one host compare; an end known
    by DNS name only has no addresses, so its rows compare by the name."""

    loopback: str | None  #: the host a loopback row stays on
    source_name: str | None = None  #: the DNS name of a source known by name only
    destination_name: str | None = None


def _name(hosts: Mapping[str, Host], host: str, addresses: tuple[Network, ...]) -> str | None:
    found = hosts.get(host)
    return found.dns_name if found is not None and not addresses else None


#: the scope of nearly every row: both ends have addresses, and it leaves its host
_PLAIN = _Scope(loopback=None)


def _scope(row: PlannedFlow, hosts: Mapping[str, Host]) -> _Scope:
    if row.source_addresses and row.destination_addresses and not row.loopback:
        return _PLAIN
    return _Scope(
        loopback=row.destination if row.loopback else None,
        source_name=_name(hosts, row.source, row.source_addresses),
        destination_name=_name(hosts, row.destination, row.destination_addresses),
    )


def _by_scope(
    rows: Sequence[PlannedFlow], hosts: Mapping[str, Host]
) -> dict[_Scope, list[PlannedFlow]]:
    out: dict[_Scope, list[PlannedFlow]] = {}
    for row in rows:
        out.setdefault(_scope(row, hosts), []).append(row)
    return out


#: what an end known by name only stands for in its row's packets: every address of the
#: families of the other end (IPv4 alone when neither end has addresses).  Such packets are
#: compared only with those of rows of the same names (:class:`_Scope`), and outputs show the
#: name, never these addresses.
_BY_NAME: tuple[Network, ...] = (ip_network("0.0.0.0/0"), ip_network("::/0"))


def _ends(row: PlannedFlow, scope: _Scope) -> tuple[tuple[Network, ...], tuple[Network, ...]]:
    sources, destinations = row.source_addresses, row.destination_addresses
    if scope.source_name is None and scope.destination_name is None:
        return sources, destinations
    fill = _BY_NAME if sources or destinations else _BY_NAME[:1]
    if scope.source_name is not None:
        sources = fill
    if scope.destination_name is not None:
        destinations = fill
    return sources, destinations


def _key(row: PlannedFlow, renamed: Mapping[str, str] | None = None) -> _Key:
    flow = row.key
    if renamed and row.product in renamed:
        flow = renamed[row.product] + flow[len(row.product) :]
    return (flow, row.source, row.destination, row.protocol.value)


def _space(row: PlannedFlow, scope: _Scope) -> Space:
    sources, destinations = _ends(row, scope)
    return flow_space(sources, destinations, row.protocol, row.ports, row.icmp)


def _same(a: PlannedFlow, b: PlannedFlow) -> bool:
    return (
        a.ports == b.ports
        and a.icmp == b.icmp
        and a.source_addresses == b.source_addresses
        and a.destination_addresses == b.destination_addresses
        and a.loopback == b.loopback
        and a.source_zone == b.source_zone
        and a.destination_zone == b.destination_zone
    )


def _addressed(row: PlannedFlow) -> bool:
    """Whether both ends of ``row`` have addresses (no end known by name only)."""
    return bool(row.source_addresses and row.destination_addresses)


def _zones(rows: Sequence[PlannedFlow]) -> tuple[str | None, str | None]:
    return (rows[0].source_zone, rows[0].destination_zone) if rows else (None, None)


_Zones = tuple[str | None, str | None]  #: source zone, destination zone
#: the boundary of loopback packets: none (they stay on their host, whatever its zone)
_ON_HOST: _Zones = (None, None)


def _boundary(zones: _Zones, scope: _Scope) -> _Zones:
    """The zone boundary whose firewall holds a row's packets: ``zones``, but none for
    loopback packets, which rows of the same host need whatever its zone."""
    return _ON_HOST if scope.loopback is not None else zones


class _Needed:
    """The packets the rows of one plan need, found by protocol, scope, zones and destination
    addresses.  A packet is needed on a zone boundary (the source zone's and destination
    zone's firewall): rows of other zones need it on other firewalls.  Loopback packets are
    needed on their host, whatever its zone."""

    def __init__(self, rows: Iterable[PlannedFlow], hosts: Mapping[str, Host]) -> None:
        self.groups: dict[tuple[str, _Scope, _Zones, tuple[Network, ...]], list[PlannedFlow]] = {}
        for row in rows:
            scope = _scope(row, hosts)
            zones = _boundary((row.source_zone, row.destination_zone), scope)
            group = (row.protocol.value, scope, zones, _ends(row, scope)[1])
            self.groups.setdefault(group, []).append(row)
        self._ranges: dict[tuple[Network, ...], dict[int, Ranges]] = {}
        self._spaces: dict[int, Space] = {}

    def _destinations(self, addresses: tuple[Network, ...]) -> dict[int, Ranges]:
        found = self._ranges.get(addresses)
        if found is None:
            found = self._ranges[addresses] = {f: networks_ranges(addresses, f) for f in (4, 6)}
        return found

    def without(
        self, space: Space, protocol: str, scope: _Scope, zones: _Zones, skip: _Key | None = None
    ) -> Space:
        """``space`` less every packet some row of this plan (but ``skip``) needs in ``scope``
        between ``zones``."""
        for (proto, where, between, addresses), rows in self.groups.items():
            if not space:
                break
            if proto != protocol or where != scope or between != zones:
                continue
            ranges = self._destinations(addresses)
            if not any(b.destinations.overlaps(ranges[b.family]) for b in space.boxes):
                continue
            for row in rows:
                if skip is not None and _key(row) == skip:
                    continue
                found = self._spaces.get(id(row))
                if found is None:
                    found = self._spaces[id(row)] = _space(row, scope)
                space = space - found
        return space


def _union(rows: Sequence[PlannedFlow], scope: _Scope) -> Space:
    out = Space.empty()
    for row in rows:
        out = out | _space(row, scope)
    return out


def _kind(
    old: Sequence[PlannedFlow], new: Sequence[PlannedFlow], opened: Space, closed: Space
) -> list[tuple[ChangeKind, Space, Space]]:
    if not old:
        return [(ChangeKind.OPEN, opened, Space.empty())] if opened else []
    if not new:
        return [(ChangeKind.CLOSE, Space.empty(), closed)] if closed else []
    moved = [(r.source_addresses, r.destination_addresses) for r in old] != [
        (r.source_addresses, r.destination_addresses) for r in new
    ]
    same_ports = [(r.ports, r.icmp) for r in old] == [(r.ports, r.icmp) for r in new]
    if opened and closed and moved and same_ports:
        return [(ChangeKind.READDRESS, opened, closed)]
    out = []
    if opened:
        out.append((ChangeKind.WIDEN, opened, Space.empty()))
    if closed:
        out.append((ChangeKind.NARROW, Space.empty(), closed))
    return out


def _scopes(
    was: Sequence[PlannedFlow],
    now: Sequence[PlannedFlow],
    old_hosts: Mapping[str, Host],
    new_hosts: Mapping[str, Host],
) -> Iterator[tuple[_Scope, list[PlannedFlow], list[PlannedFlow]]]:
    """The rows of one key, old and new, by scope; none where they are the same."""
    same = len(was) == len(now) and all(map(_same, was, now))
    if same and all(map(_addressed, now)):
        return  # (unchanged rows with addresses at both ends: nearly all, set aside first)
    old_parts, new_parts = _by_scope(was, old_hosts), _by_scope(now, new_hosts)
    if same and list(old_parts) == list(new_parts):
        return  # (a name-only end whose name is the same)
    for scope in [*new_parts, *(s for s in old_parts if s not in new_parts)]:
        yield scope, old_parts.get(scope, []), new_parts.get(scope, [])


def _packets(
    key: _Key,
    scope: _Scope,
    was: Sequence[PlannedFlow],
    now: Sequence[PlannedFlow],
    needed: tuple[_Needed, _Needed],
    causes: Causes,
) -> list[Change]:
    """The changes of the packets the rows of one key and scope need, ``was`` to ``now``,
    less what other rows of the other plan need (``needed``: the old plan's, the new one's)."""
    needed_before, needed_after = needed
    old_space, new_space = _union(was, scope), _union(now, scope)
    protocol = key[3]
    old_zones, new_zones = _zones(was), _zones(now)
    new_boundary, old_boundary = _boundary(new_zones, scope), _boundary(old_zones, scope)
    opened = needed_before.without(new_space - old_space, protocol, scope, new_boundary, key)
    closed = needed_after.without(old_space - new_space, protocol, scope, old_boundary, key)
    kinds = _kind(was, now, opened, closed)
    # (loopback packets stay on their host: no zone boundary holds them)
    moved = bool(was and now) and old_boundary != new_boundary
    if moved and (kept := old_space & new_space):
        # opened on the new boundary, closed on the old, but what other rows there
        # already needed or still need
        moved_in = needed_before.without(kept, protocol, scope, new_zones, key)
        moved_out = needed_after.without(kept, protocol, scope, old_zones, key)
        if moved_in or moved_out:
            kinds.append((ChangeKind.MOVED, moved_in, moved_out))
    if not kinds:
        return []
    row = (now or was)[0]  # one side holds the scope
    why = tuple(causes.explain(row, key[1], key[2]))
    return [
        Change(
            kind=kind,
            flow=key[0],
            source=key[1],
            destination=key[2],
            protocol=protocol,
            reference=row.reference,
            opened=opening,
            closed=closing,
            causes=why,
            source_name=scope.source_name,
            destination_name=scope.destination_name,
            source_zone=(new_zones if now else old_zones)[0],
            destination_zone=(new_zones if now else old_zones)[1],
            zone_moved=moved,
            old_source_zone=old_zones[0] if moved else None,
            old_destination_zone=old_zones[1] if moved else None,
        )
        for kind, opening, closing in kinds
    ]


def diff_plans(
    old: Plan,
    new: Plan,
    *,
    old_side: Side | None = None,
    new_side: Side | None = None,
    names: Sequence[str] = ("old", "new"),
    renamed: Mapping[str, str] | None = None,
) -> PlanDiff:
    """Every change from ``old`` to ``new``; the sides' models, when given, name the causes.

    ``renamed`` maps a product id of the old side to the id that stands for it in the new one
    (a product version swapped: ``shopping-6.1`` to ``shopping-6.2``), so that their flows are
    compared row by row.
    """
    result = PlanDiff(old=names[0], new=names[1])
    renames = dict(renamed or {})
    before: dict[_Key, list[PlannedFlow]] = {}
    for r in old.rows:
        before.setdefault(_key(r, renames), []).append(r)
    after: dict[_Key, list[PlannedFlow]] = {}
    for r in new.rows:
        after.setdefault(_key(r), []).append(r)
    result.rows_compared = len(set(before) | set(after))
    causes = Causes(old_side, new_side, renames)
    needed = _Needed(old.rows, old.hosts), _Needed(new.rows, new.hosts)
    seen = _Seen()
    own = OwnRules(old, new)
    for key in [*after, *(k for k in before if k not in after)]:
        all_was, all_now = before.get(key, []), after.get(key, [])
        listed = Space.empty()  # (what the key's changes open and close, shared or not)
        for scope, was, now in _scopes(all_was, all_now, old.hosts, new.hosts):
            changes = _packets(key, scope, was, now, needed, causes)
            if not changes:
                result.already_needed += 1
            for change in changes:
                listed = listed | change.opened | change.closed
            result.changes.extend(c for c in changes if seen.add(c))
        for kind, detail in own.changes(all_was, all_now, listed=listed):
            # (no packet between zones changes: nothing for _Seen to share out)
            row = (all_now or all_was)[0]
            result.changes.append(
                Change(
                    kind=kind,
                    flow=key[0],
                    source=key[1],
                    destination=key[2],
                    protocol=key[3],
                    reference=row.reference,
                    opened=Space.empty(),
                    closed=Space.empty(),
                    causes=tuple(causes.explain(row, key[1], key[2])),
                    detail=detail,
                    source_zone=row.source_zone,
                    destination_zone=row.destination_zone,
                )
            )
    for host, detail in own.rowless():
        # (a host no row leaves or reaches: no flow, no protocol; its policy is its own)
        zone = (new.hosts.get(host) or old.hosts[host]).zone  # (a host removed: the old zone)
        result.changes.append(
            Change(
                kind=ChangeKind.PODS,
                flow="",
                source=host,
                destination=host,
                protocol=None,
                reference="",
                opened=Space.empty(),
                closed=Space.empty(),
                causes=tuple(causes.hosts((host,))),
                detail=detail,
                source_zone=zone,
                destination_zone=zone,
            )
        )
    return result


class _Seen:
    """The packets earlier changes open or close, so that two flows that newly need the same
    packets (a vendor row repeated in two tables) give one change, naming both."""

    def __init__(self) -> None:
        self.by_end: dict[tuple[str, str, str | None], list[Change]] = {}

    def add(self, change: Change) -> bool:
        """Take out of ``change`` what earlier changes hold; whether anything is left."""
        earlier = self.by_end.setdefault((change.source, change.destination, change.protocol), [])
        opened, closed = change.opened, change.closed
        for other in earlier:
            shared = other.opened.overlaps(opened) or other.closed.overlaps(closed)
            if not shared:
                continue
            opened, closed = opened - other.opened, closed - other.closed
            if other.flow != change.flow and change.flow not in other.also:
                other.also.append(change.flow)
        if not opened and not closed:
            return False
        change.opened, change.closed = opened, closed
        earlier.append(change)
        return True
