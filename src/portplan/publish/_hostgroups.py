"""Hosts that play the same part, drawn as one box: 34 workstations that each reach the same
servers on the same ports are one box "34 hosts", not 34 boxes and 200 arrows.

Two hosts are equivalent when they are in the same zone, run the same components, and have
the same flows (flow, protocol, ports) to and from equivalent hosts: the coarsest such
partition, found by refining (zone, components) until it is stable.  Every host of a box
then has exactly the box's arrows, so nothing is lost; the tooltip names every host.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from portplan.plan import Plan

__all__ = ["host_groups"]


def host_groups(plan: Plan, rows: Sequence[int]) -> dict[str, tuple[str, ...]]:
    """The hosts of ``rows``, each with the hosts equivalent to it (itself included, in the
    order rows first name them)."""
    order: dict[str, None] = {}
    facts: list[tuple[str, str, tuple[str, str, str, str]]] = []
    roles: dict[str, set[str]] = {}
    for index in rows:
        row = plan.rows[index]
        order.update({row.source: None, row.destination: None})
        what = (row.key, row.protocol.value, str(row.ports), str(row.listen_ports or ""))
        facts.append((row.source, row.destination, what))
        roles.setdefault(row.source, set()).update(
            f"{row.product}/{c}" for c in row.source_components
        )
        roles.setdefault(row.destination, set()).update(
            f"{row.product}/{c}" for c in row.destination_components
        )
    block = {h: (plan.hosts[h].zone or "", tuple(sorted(roles[h]))) for h in order}
    numbered = _number(block, order)
    while True:
        links: dict[str, set[tuple[str, int, tuple[str, str, str, str]]]] = {
            h: set() for h in order
        }
        for source, destination, what in facts:
            links[source].add(("to", numbered[destination], what))
            links[destination].add(("from", numbered[source], what))
        refined = {h: (numbered[h], tuple(sorted(links[h]))) for h in order}
        renumbered = _number(refined, order)
        if len(set(renumbered.values())) == len(set(numbered.values())):
            break
        numbered = renumbered
    members: dict[int, list[str]] = {}
    for host in order:
        members.setdefault(numbered[host], []).append(host)
    return {host: tuple(members[numbered[host]]) for host in order}


def _number(keys: Mapping[str, Hashable], order: dict[str, None]) -> dict[str, int]:
    """Each host's block as a small number, numbered in the order hosts come."""
    numbers: dict[Hashable, int] = {}
    return {h: numbers.setdefault(keys[h], len(numbers)) for h in order}
