"""What to probe of one planned row, from where: its ports or ICMP message, its destination
addresses, and why any part of it is not probed.

* **ICMP**: a row that allows ``echo-request`` (or ``any``) is probed with one echo request per
  address; the other ICMP messages (destination unreachable, time exceeded...) are answers
  that routers and hosts send about other traffic, which no probe can ask for: they are
  reported as not probed, never as passed.
* **Known by name only** (a host with a ``dns_name`` and no address): the name is resolved at
  probe time and what it resolves to is probed (see :mod:`portplan.probe.verify`).
* **Between the members of a group** (a row from a cluster host to itself): this machine is one
  member, and it probes the *other* members' addresses; a network's members are not known one
  by one, so a network is never probed as a mesh.
* **From a host portplan does not manage** (``managed: false``, and ``anywhere``, the clients a
  listener-only row allows when the deployment does not place ``any``): no verification runs
  there, so its rows are reported as not probed.

Standard library only: the prober is bundled into the Ansible collection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portplan._errors import VerifyError
from portplan.model.addresses import network_text, special_kind
from portplan.model.protocol import Protocol
from portplan.probe.dns import NameLookup
from portplan.probe.icmp import ECHO_TYPES
from portplan.probe.listen import sample_ports
from portplan.probe.local import is_own, own_addresses, single_address

if TYPE_CHECKING:  # types only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan, PlannedFlow

__all__ = [
    "ANYWHERE",
    "Aim",
    "Origins",
    "named_addresses",
    "probe_ports",
    "row_aim",
    "unverifiable_reason",
]

#: the synthetic host a listener-only row comes from (``portplan.plan.ANYWHERE``, named again
#: here because the prober bundled for Ansible cannot import the plan)
ANYWHERE = "anywhere"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NOT_ECHO = (
    "verify sends ICMP echo requests (ping) only; the other ICMP messages are answers routers "
    "and hosts send about other traffic, which no probe can ask for"
)


def unverifiable_reason(row: PlannedFlow) -> str:
    """Why a row from a host portplan does not manage is not probed."""
    if row.source == ANYWHERE:
        return (
            "from anywhere (any client: the vendor names only the listener, and the deployment "
            "does not place 'any'): no verification runs on 'anywhere'; to probe this row, "
            "place 'any' on the client hosts (components: {any: [HOST]}) and verify from one"
        )
    return (
        f"from {row.source}, which portplan does not manage (managed: false): no verification "
        "runs there"
    )


def probe_ports(row: PlannedFlow) -> tuple[list[int | None], str | None, str | None]:
    """(the ports to probe, a note when a range is sampled, why part of the row is not probed).

    An ICMP row probes one echo request (port ``None``) when it allows ``echo-request``.
    """
    if row.protocol is Protocol.ICMP:
        types = row.facts.icmp
        echo: list[int | None] = [None] if ECHO_TYPES.intersection(types) else []
        if "any" in types:
            return echo, None, f"ICMP types other than echo-request (icmp: any): {_NOT_ECHO}"
        others = [t for t in types if t not in ECHO_TYPES]
        return echo, None, (f"ICMP {', '.join(others)}: {_NOT_ECHO}" if others else None)
    ports = list(row.ports)
    chosen = sample_ports(ports)
    note = (
        f"{len(chosen)} of the {len(ports)} ports probed (range sampled)"
        if len(chosen) < len(ports)
        else None
    )
    return list(chosen), note, None


@dataclass(slots=True, kw_only=True)
class Aim:
    """The destination addresses of one row to probe, a name to resolve, and what is left."""

    addresses: list[str] = field(default_factory=list)
    #: a host known by name only: resolved at probe time, what it resolves to is probed
    by_name: str | None = None
    reasons: list[str] = field(default_factory=list)  #: why (part of) the row is not probed


class Origins:
    """Where this machine sends from, per source host: the address to bind per family and,
    for a group of machines (a cluster), the member this machine is.

    ``chosen``: the addresses the operator named (``verify --from-address``), else this
    machine's own addresses of the host (``local``, or those it can bind).  ``here`` is false
    when each source host probes for itself (``verify --inventory``): it then picks its own
    addresses and leaves itself out of a mesh, and nothing is decided here.  ``lookups``:
    what the names of sources known by name only resolved to (:func:`named_addresses`);
    such a host's addresses are those.
    """

    def __init__(
        self,
        plan: Plan,
        local: Collection[_Address],
        chosen: Sequence[str] = (),
        *,
        here: bool = True,
        lookups: Mapping[str, NameLookup] | None = None,
    ) -> None:
        self.plan = plan
        self.local = local
        self.chosen = [str(ipaddress.ip_address(a)) for a in chosen]
        self.here = here
        self.lookups = lookups or {}
        self._own: dict[str, list[str]] = {}

    def own(self, host: str) -> list[str]:
        """The host's single addresses this machine sends from, in the deployment's order
        (for a host known by name only, in the resolver's)."""
        if host not in self._own:
            lookup = self.lookups.get(host)
            if lookup is not None and not self.plan.host_addresses(host):
                named = named_addresses(lookup)
                self._own[host] = [
                    a
                    for a in (self.chosen or named)
                    if a in named and (self.chosen or is_own(a, self.local))
                ]
            elif self.chosen:
                singles = {
                    a for a in (single_address(n) for n in self.plan.host_addresses(host)) if a
                }
                self._own[host] = [a for a in self.chosen if a in singles]
            else:
                self._own[host] = own_addresses(self.plan, host, self.local)
        return self._own[host]

    def holds(self, host: str) -> bool:
        """Whether this machine is (a machine of) ``host``: it sends from one of its single
        addresses, or holds an address in one of its networks (a clients subnet)."""
        if self.own(host):
            return True
        networks = [n for n in self.plan.host_addresses(host) if n.num_addresses > 1]
        return any(a.version == n.version and a in n for n in networks for a in self.local)

    def member(self, host: str) -> str | None:
        """The member of a group host this machine is (``None``: none of them);
        :class:`VerifyError` when it holds several members' addresses."""
        own = self.own(host)
        if len(own) > 1:
            raise VerifyError(
                f"this machine holds the addresses of several members of {host} "
                f"({', '.join(own)}), each a machine of its own: say which member it is "
                "with --from-address ADDRESS"
            )
        return own[0] if own else None

    def bind(
        self,
        host: str,
        family: int,
        among: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None,
    ) -> str | None:
        """The address to send from to a destination of ``family`` (``None``: the kernel's);
        with ``among``, only one of those networks holds (none of them: ``None``)."""
        if not self.here:
            return None
        if self.plan.hosts[host].is_group:
            member = self.member(host)
            candidates = [member] if member is not None else []
        else:
            candidates = self.own(host)
        return next(
            (
                a
                for a in candidates
                if (address := ipaddress.ip_address(a)).version == family
                and (among is None or any(address in n for n in among if n.version == family))
            ),
            None,
        )


def named_addresses(lookup: NameLookup) -> list[str]:
    """The addresses a name resolved to that a machine can be (special-purpose ones left out:
    binding to ``0.0.0.0`` is the kernel's choice, not the name's address)."""
    return [a for a in lookup.addresses if special_kind(ipaddress.ip_network(a)) is None]


def _networks(row: PlannedFlow) -> list[str]:
    """The networks among the row's destination addresses (of machines not known one by one)."""
    return [
        network_text(n)
        for n in row.destination_addresses
        if n.num_addresses > 1 and special_kind(n) is None
    ]


def _mesh(row: PlannedFlow, origins: Origins, singles: list[str], aim: Aim) -> list[str]:
    """The members a member of the row's group probes: every other one."""
    networks = _networks(row)
    if networks:
        aim.reasons.append(
            f"between the members of {row.destination}: the machines of {', '.join(networks)} "
            "are not known one by one, so none is probed (declare each member's address, "
            "with cluster: true, to probe them)"
        )
    if not origins.here:  # each member leaves itself out (verify --inventory)
        return singles
    member = origins.member(row.source)
    if member is None:
        if singles:
            aim.reasons.append(
                f"between the members of {row.destination}: this machine is none of them "
                f"(none of {', '.join(singles)} is its own), so a probe from here would not "
                "come from a member; run verify on a member (or name its address with "
                "--from-address)"
            )
        return []
    return [a for a in singles if a != member]


def row_aim(row: PlannedFlow, origins: Origins) -> Aim:
    """What to probe of ``row``'s destination, and why any of it is not probed."""
    aim = Aim()
    if row.loopback:
        aim.addresses = ["127.0.0.1"]
        return aim
    host = origins.plan.hosts[row.destination]
    if not row.destination_addresses and host.dns_name is not None:
        aim.by_name = host.dns_name
        return aim
    special = [
        f"{network_text(n)} ({kind.value})"
        for n in row.destination_addresses
        if (kind := special_kind(n)) is not None
    ]
    if special:
        aim.reasons.append(f"special-purpose destination {', '.join(special)}: never probed")
    singles = [
        a for n in row.destination_addresses if special_kind(n) is None and (a := single_address(n))
    ]
    if row.source == row.destination:
        aim.addresses = _mesh(row, origins, singles, aim)
        return aim
    aim.addresses = singles
    if not singles and not special:
        aim.reasons.append(
            "the destination is a network, not one address: its machines are not known one by "
            "one, so none is probed; check what reaches them with portplan audit --host "
            f"{row.destination} on one of them"
        )
    elif singles:
        networks = _networks(row)
        if networks:
            aim.reasons.append(
                f"the destination's network {', '.join(networks)}: its machines are not known "
                "one by one, so none is probed"
            )
    return aim
