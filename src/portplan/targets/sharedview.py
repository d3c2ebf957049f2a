"""The plan as one ruleset that every host loads: each host matches only its own addresses.

A host firewall's input chain sees only packets addressed to the host itself, and its output
chain only packets the host sends.  So a rule that matches both ends — source addresses *and*
destination addresses — means on every host exactly what it means on the one it is about,
and the whole deployment can share one ruleset: one file to distribute, whose size grows with
the deployment's addresses and services, not with hosts x rules.

The rows are turned into rectangles of (source addresses x destination addresses) per service
(protocol, port set): the rows of one service that end on the same address tuple form one
(their sources united), then those with the same sources are united on the destination side,
and finally rules with the same two address sets are united over their ports.  Every step
unites sets that are products of the same factor, so the union is exact: nothing more than the
rows.  Families are never mixed.

It is exact only when the hosts can be told apart by address, so :func:`shared_view` refuses
deployments in which two hosts' addresses overlap, and loopback flows (127.0.0.1 on every
host) unless they are the same on every host or loopback traffic is accepted wholesale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol
from portplan.model.ports import PortSet
from portplan.plan import ANYWHERE_HOST, Plan, PlannedFlow
from portplan.targets.hostview import collapse, family_icmp, name_only_refusal, rule_hosts

__all__ = ["SharedRule", "SharedView", "shared_view"]

_Addresses = tuple[Network, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedRule:
    """Allow ``protocol``/``ports`` from ``sources`` to ``destinations`` (one family)."""

    family: int  #: 4 or 6
    protocol: Protocol
    ports: PortSet  #: empty for ICMP
    icmp: tuple[str, ...] = ()  #: ICMP: the family's message names (``("any",)``: every type)
    loopback: bool
    sources: _Addresses  #: collapsed and sorted
    destinations: _Addresses  #: collapsed and sorted
    flows: tuple[str, ...]  #: flow keys, in plan order
    purposes: tuple[str, ...]  #: one per flow key


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedView:
    deployment: str
    hosts: tuple[str, ...]  #: the hosts the ruleset is for (those that need one)
    rules: tuple[SharedRule, ...]
    loopback_flows: tuple[str, ...]  #: flow keys of loopback rows left to `iif lo accept`
    unreachable: tuple[str, ...]  #: rows whose two ends share no address family


def _check_distinct(plan: Plan, hosts: Iterable[str]) -> None:
    """Refuse when two hosts' addresses overlap: a shared ruleset could not tell them apart."""
    spans = []
    for host in hosts:
        for network in plan.host_addresses(host):
            first, last = int(network.network_address), int(network.broadcast_address)
            spans.append((network.version, first, last, host, network))
    spans.sort(key=lambda s: (s[0], s[1], -s[2]))
    widest: tuple[int, int, int, str, Network] | None = None
    for span in spans:
        overlaps = widest is not None and widest[0] == span[0] and span[1] <= widest[2]
        if widest is not None and overlaps and widest[3] != span[3]:
            raise TargetError(
                f"hosts {widest[3]} ({widest[4]}) and {span[3]} ({span[4]}) have "
                "overlapping addresses, so one ruleset shared by every host cannot tell "
                "them apart; write one ruleset per host instead (without "
                "--set layout=shared)"
            )
        if widest is None or widest[0] != span[0] or span[2] > widest[2]:
            widest = span


#: what a rule allows, before its addresses: protocol, ports, ICMP message names (of the model)
_Service = tuple[Protocol, PortSet, tuple[str, ...]]


def _service(row: PlannedFlow) -> _Service:
    return (row.protocol, row.ports, row.icmp)


def _loopback_services(
    plan: Plan, hosts: tuple[str, ...], rows: list[PlannedFlow]
) -> dict[_Service, list[PlannedFlow]]:
    """The loopback services, when every host has the same ones (else refuse)."""
    per_host: dict[str, set[_Service]] = {host: set() for host in hosts}
    services: dict[_Service, list[PlannedFlow]] = {}
    for row in rows:
        per_host.setdefault(row.destination, set()).add(_service(row))
        services.setdefault(_service(row), []).append(row)
    wanted = set(services)
    for host, found in per_host.items():
        if found != wanted:
            missing = sorted(
                f"{p.value}/{ports or ','.join(icmp)}" for p, ports, icmp in wanted - found
            )
            raise TargetError(
                f"host {host} does not have the loopback flows other hosts have "
                f"({', '.join(missing) or 'it has others'}), so one ruleset shared by every "
                "host cannot hold them with loopback=planned; use loopback=all, or one "
                "ruleset per host"
            )
    return services


@dataclass(slots=True)
class _Ends:
    """Rows of one service that end on one address tuple: their sources and flows."""

    destination: _Addresses
    sources: dict[int, _Addresses]  #: by identity (rows share their hosts' tuples)
    flows: dict[str, str]  #: flow key → purpose


def _rule(
    family: int,
    service: _Service,
    sources: _Addresses,
    destinations: _Addresses,
    flows: dict[str, str],
    *,
    loopback: bool,
) -> SharedRule:
    protocol, ports, icmp = service
    return SharedRule(
        family=family,
        protocol=protocol,
        ports=ports,
        icmp=icmp,
        loopback=loopback,
        sources=sources,
        destinations=destinations,
        flows=tuple(flows),
        purposes=tuple(flows.values()),
    )


def shared_view(plan: Plan, *, loopback_all: bool) -> SharedView:
    """Group every row of the plan into rules that every host can load."""
    hosts = rule_hosts(plan)
    # every host of the deployment, not only those with rows: the file may be loaded on any;
    # but anywhere, which stands for every address, is no host to tell apart
    _check_distinct(plan, (h for h in plan.hosts if plan.hosts[h] is not ANYWHERE_HOST))
    # service → destination address tuple (by identity) → its sources and flows
    services: dict[_Service, dict[int, _Ends]] = {}
    loopback_rows: list[PlannedFlow] = []
    for row in plan.rows:
        if row.loopback:
            loopback_rows.append(row)
            continue
        for end, nets in (
            (row.source, row.source_addresses),
            (row.destination, row.destination_addresses),
        ):
            if not nets:
                raise name_only_refusal(plan, row, end, "a shared host ruleset")
        by_destination = services.setdefault(_service(row), {})
        ends = by_destination.get(id(row.destination_addresses))
        if ends is None:
            ends = by_destination[id(row.destination_addresses)] = _Ends(
                row.destination_addresses, {}, {}
            )
        ends.sources[id(row.source_addresses)] = row.source_addresses
        ends.flows.setdefault(row.key, row.purpose)

    unreachable: dict[str, None] = {}
    # (family, protocol, ICMP messages, sources, destinations) → ports, flows
    merged: dict[
        tuple[int, Protocol, tuple[str, ...], _Addresses, _Addresses],
        tuple[PortSet, dict[str, str]],
    ]
    merged = {}
    # the rows keep the tuples alive, so their ids stay theirs throughout
    collapsed: dict[tuple[int, frozenset[int]], _Addresses] = {}

    def addresses(family: int, tuples: list[_Addresses]) -> _Addresses:
        ident = frozenset(id(t) for t in tuples)
        found = collapsed.get((family, ident))
        if found is None:
            found = collapsed[family, ident] = collapse((n for t in tuples for n in t), family)
        return found

    for (protocol, ports, icmp_names), by_destination in services.items():
        # the same sources → one rectangle over the union of their destinations
        rectangles: dict[frozenset[int], list[_Ends]] = {}
        for ends in by_destination.values():
            rectangles.setdefault(frozenset(ends.sources), []).append(ends)
        for members in rectangles.values():
            source_tuples = list(members[0].sources.values())
            destination_tuples = [ends.destination for ends in members]
            flows: dict[str, str] = {}
            for ends in members:
                flows.update(ends.flows)
            placed = False
            for family in (4, 6):
                sources = addresses(family, source_tuples)
                destinations = addresses(family, destination_tuples)
                if not sources or not destinations:
                    continue
                placed = True
                icmp = family_icmp(protocol, icmp_names, family)
                if protocol is Protocol.ICMP and not icmp:
                    continue  # no such message in this family (packet-too-big over IPv4)
                rule_key = (family, protocol, icmp, sources, destinations)
                found = merged.get(rule_key)
                merged[rule_key] = (
                    (ports, flows) if found is None else (found[0] | ports, found[1] | flows)
                )
            if not placed:
                for key in flows:
                    unreachable.setdefault(f"{key} (no address family in common)")

    rules = [
        _rule(family, (protocol, ports, icmp), sources, destinations, named, loopback=False)
        for (family, protocol, icmp, sources, destinations), (ports, named) in merged.items()
    ]
    left_to_lo: tuple[str, ...] = ()
    if loopback_all:
        left_to_lo = tuple(dict.fromkeys(row.key for row in loopback_rows))
    else:
        for (protocol, ports, names), rows in _loopback_services(
            plan, hosts, loopback_rows
        ).items():
            named = {row.key: row.purpose for row in rows}
            for family in (4, 6):
                local = collapse(rows[0].destination_addresses, family)
                icmp = family_icmp(protocol, names, family)
                if local and (icmp or protocol is not Protocol.ICMP):
                    service = (protocol, ports, icmp)
                    rules.append(_rule(family, service, local, local, named, loopback=True))
    return SharedView(
        deployment=plan.deployment,
        hosts=hosts,
        rules=tuple(rules),
        loopback_flows=left_to_lo,
        unreachable=tuple(unreachable),
    )
