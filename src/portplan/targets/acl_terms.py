"""The zone-boundary ACL terms of a plan: what each zone firewall must permit, and checks
that keep every term exact before Aerleon renders it (:mod:`portplan.targets.acl`)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from portplan._errors import TargetError
from portplan.model._types import Network, Protocol
from portplan.model.icmp import icmp_numbers
from portplan.model.ports import MAX_PORT, MIN_PORT, PortRange, PortSet
from portplan.plan import Plan
from portplan.targets.hostview import collapse, family_icmp, name_only_refusal

__all__ = [
    "NEIGHBOUR_DISCOVERY",
    "TERM_NAME_MAX",
    "AclTerm",
    "Boundary",
    "FilterFile",
    "Permits",
    "boundary_terms",
    "digest",
    "expected_permits",
    "files_per_boundary",
    "files_per_source_zone",
    "fit",
    "icmp_set",
    "with_neighbour_discovery",
]

#: Term names stay within PAN-OS's limit for the service objects named after them
#: (``service-<term>-<protocol>``, at most 63 characters).
TERM_NAME_MAX = 51
_ZONE_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
#: what a zone-boundary ACL is, when an end of a row is known by name only
_NAME_ONLY = (
    "a zone-boundary ACL rendered through Aerleon (whose Cisco IOS, Junos and PAN-OS "
    "generators write no FQDN address objects)"
)
#: (flow, protocol, ports, ICMP messages, family): the rows of one term
_TermKey = tuple[str, Protocol, PortSet, tuple[str, ...], int]

#: (family, protocol, source network, destination network) → ports permitted; for protocol
#: ``icmp`` (ICMPv6 in family 6) the ICMP type numbers, held as a port set (see :func:`icmp_set`)
Permits = dict[tuple[int, str, Network, Network], PortSet]
#: every ICMP type, 0-255
ICMP_ALL = (0, 255)


@dataclass(frozen=True, slots=True, order=True)
class Boundary:
    """Traffic from hosts of one zone to hosts of another."""

    source_zone: str
    destination_zone: str

    @property
    def stem(self) -> str:
        return f"{self.source_zone}-to-{self.destination_zone}"


@dataclass(frozen=True, slots=True)
class FilterFile:
    """The filters of one file (one per address family): those of the interface facing
    ``source_zone``, holding every boundary from it (``destination_zone`` None: Cisco IOS,
    Junos, where an interface takes one filter per family and direction), or those of one
    boundary (PAN-OS, whose rules name both zones)."""

    source_zone: str
    destination_zone: str | None
    boundaries: tuple[Boundary, ...]  #: sorted; all from ``source_zone``

    @property
    def stem(self) -> str:
        """The file's name without its suffix, and the filters' names without ``portplan-``."""
        if self.destination_zone is None:
            return f"from-{self.source_zone}"
        return f"{self.source_zone}-to-{self.destination_zone}"

    @property
    def scope(self) -> str:
        """What its final deny covers: ``from admin``, ``from admin to dmz``."""
        to = "" if self.destination_zone is None else f" to {self.destination_zone}"
        return f"from {self.source_zone}{to}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AclTerm:
    """Permit ``protocol``/``ports`` from every source host to every destination host."""

    name: str
    family: int  #: 4 or 6: every address below is of this family
    protocol: Protocol
    ports: PortSet  #: empty for ICMP
    icmp: tuple[str, ...] = ()  #: ICMP: the family's message names (``("any",)``: every type)
    sources: tuple[tuple[str, tuple[Network, ...]], ...]  #: (host, its addresses), by host
    destinations: tuple[tuple[str, tuple[Network, ...]], ...]
    flow: str  #: the flow key
    purpose: str
    reference: str

    def permits(self) -> Iterator[tuple[int, str, Network, Network, PortSet]]:
        allowed = self.ports
        if self.protocol is Protocol.ICMP:
            numbers = icmp_numbers(self.icmp, self.family)
            allowed = icmp_set([ICMP_ALL] if numbers is None else [(n, n) for n in numbers])
        for _src_host, src_nets in self.sources:
            for src in src_nets:
                for _dst_host, dst_nets in self.destinations:
                    for dst in dst_nets:
                        yield self.family, self.protocol.value, src, dst, allowed


def files_per_source_zone(
    boundaries: Mapping[Boundary, tuple[AclTerm, ...]],
) -> dict[FilterFile, tuple[AclTerm, ...]]:
    """One file per source zone, with the terms of every boundary from it (boundaries in
    order, each one's terms in order)."""
    by_zone: dict[str, list[Boundary]] = {}
    for boundary in sorted(boundaries):
        by_zone.setdefault(boundary.source_zone, []).append(boundary)
    return {
        FilterFile(zone, None, tuple(group)): tuple(t for b in group for t in boundaries[b])
        for zone, group in by_zone.items()
    }


def files_per_boundary(
    boundaries: Mapping[Boundary, tuple[AclTerm, ...]],
) -> dict[FilterFile, tuple[AclTerm, ...]]:
    """One file per boundary, with its terms."""
    return {
        FilterFile(b.source_zone, b.destination_zone, (b,)): boundaries[b]
        for b in sorted(boundaries)
    }


def icmp_set(spans: Iterable[tuple[int, int]]) -> PortSet:
    """ICMP type numbers (0-255) as a port set: the set arithmetic of ports, for the types an
    ACL permits (as :mod:`portplan.spaces` holds ICMP types in its port dimension).  Built
    without the 1-65535 check of ports, since type 0 (echo-reply) is a type."""
    return PortSet.of(PortRange.model_construct(start=a, end=b) for a, b in spans)


#: IPv6 neighbour solicitations and advertisements (ICMPv6 135 and 136, by Aerleon's names):
#: a Cisco IOS IPv6 ACL permits them implicitly, unless an explicit deny comes first
NEIGHBOUR_DISCOVERY = {135: "neighbor-solicit", 136: "neighbor-advertisement"}


def with_neighbour_discovery(expected: Permits) -> Permits:
    """``expected`` and IPv6 neighbour discovery from anywhere to anywhere, which the IPv6
    filters of interface ACLs accept ahead of their final deny."""
    everywhere = ipaddress.ip_network("::/0")
    key = (6, Protocol.ICMP.value, everywhere, everywhere)
    found = icmp_set((n, n) for n in NEIGHBOUR_DISCOVERY)
    return {**expected, key: expected[key] | found if key in expected else found}


def expected_permits(terms: Iterable[AclTerm]) -> Permits:
    """What a list of terms permits, per (family, protocol, source, destination)."""
    permits: Permits = {}
    for term in terms:
        for family, protocol, src, dst, ports in term.permits():
            key = (family, protocol, src, dst)
            known = permits.get(key)
            # the term's own port set object where one term covers the key (most keys)
            permits[key] = ports if known is None or known is ports else known | ports
    return permits


# -- the plan as zone boundaries ----------------------------------------------------------------


def _check_network(network: object, where: str) -> None:
    if not isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
        raise TargetError(f"{where}: {network!r} is not an IP network")
    text = str(network)
    try:
        again = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise TargetError(f"{where}: {text!r} is not a valid network: {exc}") from exc
    if again != network:
        raise TargetError(f"{where}: {text!r} does not read back as the same network")


def _check_ports(ports: PortSet, where: str) -> None:
    if not ports.ranges:
        raise TargetError(f"{where}: no ports (a rule without ports would allow every port)")
    for r in ports.ranges:
        if not (MIN_PORT <= r.start <= r.end <= MAX_PORT):
            raise TargetError(f"{where}: port range {r.start}-{r.end} is outside 1-65535")


def _check_zone(zone: str, where: str) -> None:
    if not _ZONE_RE.match(zone):
        raise TargetError(f"{where}: zone {zone!r} is not a lower-case identifier")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "flow"


def digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


def fit(name: str, limit: int) -> str:
    """``name`` if short enough, else a prefix of it and a digest of the whole."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9].rstrip('-_')}-{digest(name)}"


def boundary_terms(plan: Plan) -> dict[Boundary, tuple[AclTerm, ...]]:
    """The rows that cross a zone boundary, as exact terms, boundary by boundary (sorted).

    Rows of one flow leg, protocol, port set and family are grouped by destination host; the
    destinations that the very same set of sources reaches form one term, so the term's
    sources x destinations are exactly rows of the plan.  Raises :class:`TargetError` for
    anything that does not validate.
    """
    # boundary → (flow, protocol, ports, ICMP messages, family) → destination → {source: None}
    # (an ordered set)
    groups: dict[Boundary, dict[_TermKey, dict[str, dict[str, None]]]]
    groups = {}
    # Validation and address splitting are done once per host, port set and flow leg, not per
    # row: a plan of a few thousand hosts has hundreds of thousands of rows.
    hosts: dict[str, tuple[tuple[Network, ...], tuple[Network, ...], tuple[Network, ...]]] = {}
    checked_ports: dict[int, PortSet] = {}  # id → the port set (kept alive, so ids stay unique)
    checked_facts: set[int] = set()
    facts_alive: list[object] = []
    boundaries: dict[tuple[str, str], Boundary] = {}
    about: dict[str, tuple[str, str]] = {}

    def host_nets(
        host: str, addresses: tuple[Network, ...], where: str
    ) -> tuple[tuple[Network, ...], tuple[Network, ...]]:
        known = hosts.get(host)
        if known is None:
            for network in addresses:
                _check_network(network, where)
            known = hosts[host] = (addresses, collapse(addresses, 4), collapse(addresses, 6))
        elif known[0] is not addresses and known[0] != addresses:
            raise TargetError(f"{where}: host {host} appears with different addresses")
        return known[1], known[2]

    for row in plan.rows:
        if row.loopback or row.source_zone is None or row.destination_zone is None:
            continue
        if row.source_zone == row.destination_zone:
            continue
        where = f"{row.key} ({row.source} -> {row.destination})"
        boundary = boundaries.get((row.source_zone, row.destination_zone))
        if boundary is None:
            _check_zone(row.source_zone, where)
            _check_zone(row.destination_zone, where)
            boundary = Boundary(row.source_zone, row.destination_zone)
            boundaries[row.source_zone, row.destination_zone] = boundary
        if id(row.facts) not in checked_facts:
            if row.protocol not in (Protocol.TCP, Protocol.UDP, Protocol.ICMP):
                raise TargetError(f"{where}: protocol {row.protocol!r} is not tcp, udp or icmp")
            checked_facts.add(id(row.facts))
            facts_alive.append(row.facts)
            about.setdefault(row.key, (row.purpose, row.reference))
        if id(row.ports) not in checked_ports and row.protocol is not Protocol.ICMP:
            _check_ports(row.ports, where)
            checked_ports[id(row.ports)] = row.ports
        for end, known in (
            (row.source, row.source_addresses),
            (row.destination, row.destination_addresses),
        ):
            if not known:
                raise name_only_refusal(plan, row, end, _NAME_ONLY)
        src_nets = host_nets(row.source, row.source_addresses, where)
        dst_nets = host_nets(row.destination, row.destination_addresses, where)
        for family, src, dst in ((4, src_nets[0], dst_nets[0]), (6, src_nets[1], dst_nets[1])):
            if not src or not dst:
                continue  # no traffic of this family can flow between these two hosts
            icmp = family_icmp(row.protocol, row.icmp, family)
            if row.protocol is Protocol.ICMP and not icmp:
                continue  # no such message in this family (packet-too-big over IPv4)
            flows = groups.get(boundary)
            if flows is None:
                flows = groups[boundary] = {}
            key = (row.key, row.protocol, row.ports, icmp, family)
            by_destination = flows.get(key)
            if by_destination is None:
                by_destination = flows[key] = {}
            by_destination.setdefault(row.destination, {})[row.source] = None

    def nets(host: str, family: int) -> tuple[Network, ...]:
        return hosts[host][1 if family == 4 else 2]

    result: dict[Boundary, tuple[AclTerm, ...]] = {}
    # unique across the deployment: a Cisco or Junos filter holds the terms of every boundary
    # from its zone, and Aerleon's service objects (and PAN-OS's) are named after the terms
    names: set[str] = set()
    for boundary in sorted(groups):
        terms: list[AclTerm] = []
        for (flow, protocol, ports, icmp, family), by_destination in groups[boundary].items():
            # destinations reached by the very same sources share a term
            by_sources: dict[tuple[str, ...], list[str]] = {}
            for destination, reaching in by_destination.items():
                by_sources.setdefault(tuple(sorted(reaching)), []).append(destination)
            for sources, destinations in by_sources.items():
                dsts = tuple(sorted(destinations))
                name = (
                    fit(_slug(flow), TERM_NAME_MAX - 9)
                    + "-"
                    + digest(
                        boundary, family, flow, protocol.value, str(ports), *icmp, sources, dsts
                    )
                )
                if name in names:  # a digest collision: refuse rather than guess
                    raise TargetError(f"two terms would both be named {name}")
                names.add(name)
                purpose, reference = about[flow]
                terms.append(
                    AclTerm(
                        name=name,
                        family=family,
                        protocol=protocol,
                        ports=ports,
                        icmp=icmp,
                        sources=tuple((h, nets(h, family)) for h in sources),
                        destinations=tuple((h, nets(h, family)) for h in dsts),
                        flow=flow,
                        purpose=purpose,
                        reference=reference,
                    )
                )
        result[boundary] = tuple(terms)
    return result
