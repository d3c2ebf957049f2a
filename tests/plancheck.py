"""What a plan allows, host by host, and the end-to-end check of a firewall target.

The oracle reads the plan the way a per-host firewall must implement it.  A host accepts a new
connection when some row *ending on it* names the connection's source address, destination
address, protocol and port (a loopback row only over ``lo``).  With egress filtering, the
source host must also have a row *starting on it* that names the same.  Addresses are matched
by containment, so a machine inside a group's network (a client subnet) is that group.

:func:`build_lab` puts a deployment in namespaces (see ``netns``): one node per host with an
address inside each of its networks, a second address in every group network, and an
"outsider" node whose documentation addresses no host covers.  Every node listens on TCP and
UDP on the ports the plan opens towards it (a sample of long ranges) and on the ports just
outside them.  :func:`matrix` probes every node from every address of every other node;
:func:`run` compares what passed with the oracle.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from netns import (
    PASSED,
    Address,
    Network,
    Node,
    Probe,
    Topology,
    outsider_addresses,
    pick_address,
)
from portplan.model import Protocol
from portplan.model.icmp import icmp_numbers
from portplan.model.ports import MAX_PORT, MIN_PORT, PortSet
from portplan.plan import Plan, PlannedFlow

OUTSIDER = "~outsider"  #: node name of the outsider (not a valid host name, so never a host's)
PROTOCOLS = ("tcp", "udp")
WHOLE = 12  #: ranges of at most this many ports are probed port by port; longer ones sampled
LOOPBACK_ADDRESSES: tuple[Address, ...] = (
    ipaddress.ip_address("127.0.0.1"),
    ipaddress.ip_address("::1"),
)


# -- the oracle -------------------------------------------------------------------------------


def contains(networks: Iterable[Network], address: Address) -> bool:
    """Whether an address is in one of the networks (of its own IP version)."""
    return any(n.version == address.version and address in n for n in networks)


def admits(
    row: PlannedFlow, source: Address, destination: Address, protocol: str, port: int
) -> bool:
    """Whether one plan row names this connection (``icmp``: ``port`` is the ICMP type, of
    ICMPv6 for an IPv6 destination)."""
    if row.protocol is Protocol.ICMP:
        types = icmp_numbers(row.icmp, destination.version)
        named = protocol == "icmp" and (types is None or port in types)
    else:
        named = row.protocol.value == protocol and port in row.ports
    return (
        named
        and contains(row.source_addresses, source)
        and contains(row.destination_addresses, destination)
    )


def inbound(
    plan: Plan,
    host: str,
    source: Address,
    destination: Address,
    protocol: str,
    port: int,
    *,
    lo: bool = False,
) -> list[PlannedFlow]:
    """Rows ending on ``host`` that let this connection in (loopback rows only over ``lo``)."""
    return [
        row
        for row in plan.rows
        if row.destination == host
        and (lo or not row.loopback)
        and admits(row, source, destination, protocol, port)
    ]


def outbound(
    plan: Plan,
    host: str,
    source: Address,
    destination: Address,
    protocol: str,
    port: int,
    *,
    lo: bool = False,
) -> list[PlannedFlow]:
    """Rows starting on ``host`` that let it send this connection (loopback only over ``lo``)."""
    return [
        row
        for row in plan.rows
        if row.source == host
        and (lo or not row.loopback)
        and admits(row, source, destination, protocol, port)
    ]


# -- ports to probe ---------------------------------------------------------------------------


def sample(ports: PortSet) -> set[int]:
    """The ports of a set worth probing: every port of a short range, ends and middle of long."""
    found: set[int] = set()
    for r in ports.ranges:
        if r.size <= WHOLE:
            found.update(range(r.start, r.end + 1))
        else:
            found.update({r.start, r.start + 1, (r.start + r.end) // 2, r.end - 1, r.end})
    return found


def neighbours(ports: PortSet) -> set[int]:
    """The ports just outside each range of a set (that are not in the set)."""
    around = {p for r in ports.ranges for p in (r.start - 1, r.end + 1)}
    return {p for p in around if MIN_PORT <= p <= MAX_PORT and p not in ports}


# -- the lab ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Lab:
    """A deployment in namespaces, listening on every port worth probing."""

    topo: Topology
    plan: Plan
    nodes: dict[str, Node]  #: host name → node
    ports: dict[str, set[int]]  #: node name → ports listened on (TCP and UDP, every address)
    loopback_ports: dict[str, set[int]]  #: node name → ports listened on at 127.0.0.1 and ::1


def add_hosts(topo: Topology, plan: Plan) -> dict[str, Node]:
    """A node for every host of the plan (an address inside each of its networks, a second
    one in every group network), and the outsider node; the hosts' nodes by host name."""
    taken: set[Address] = set()
    nodes: dict[str, Node] = {}
    for name, host in plan.hosts.items():
        addresses: list[Address] = []
        for network in host.addresses:
            addresses.append(pick_address(network, taken))
            taken.add(addresses[-1])
            if network.num_addresses > 1:  # another member of the group
                addresses.append(pick_address(network, taken, from_top=True))
                taken.add(addresses[-1])
        nodes[name] = topo.add_node(name, addresses)
    everything = [n for host in plan.hosts.values() for n in host.addresses]
    topo.add_node(OUTSIDER, outsider_addresses(everything, taken))
    return nodes


def build_lab(topo: Topology, plan: Plan) -> Lab:
    """Namespaces for every host of the plan and an outsider, with listeners started."""
    nodes = add_hosts(topo, plan)
    ports: dict[str, set[int]] = defaultdict(set)
    loopback_ports: dict[str, set[int]] = defaultdict(set)
    for row in plan.rows:
        wanted = sample(row.ports) | neighbours(row.ports)
        (loopback_ports if row.loopback else ports)[row.destination].update(wanted)
    ports[OUTSIDER] = set().union(*ports.values())  # what any host might try to reach
    for name, node in topo.nodes.items():
        endpoints = [
            (protocol, address, port)
            for address in node.addresses
            for port in sorted(ports[name])
            for protocol in PROTOCOLS
        ]
        endpoints += [
            (protocol, address, port)
            for address in LOOPBACK_ADDRESSES
            for port in sorted(loopback_ports[name])
            for protocol in PROTOCOLS
        ]
        if endpoints:
            topo.listen(node, endpoints)
    return Lab(
        topo=topo, plan=plan, nodes=nodes, ports=dict(ports), loopback_ports=dict(loopback_ports)
    )


# -- the probe matrix -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One probe from a node, and whether the plan says it must pass."""

    source: str  #: node name
    destination: str  #: node name
    probe: Probe
    expected: bool
    reason: str  #: why: the rows that allow it, or what is wrong with it

    def describe(self) -> str:
        p = self.probe
        via = f"{p.source} " if p.source is not None else ""
        return (
            f"{self.source} {via}-> {self.destination} {p.destination} {p.protocol}/{p.port}: "
            f"{'planned' if self.expected else 'not planned'} ({self.reason})"
        )


def _why_not(
    lab: Lab, source: Address, dst_host: str, destination: Address, protocol: str, port: int
) -> str:
    rows = [
        r
        for r in lab.plan.rows
        if r.destination == dst_host
        and not r.loopback
        and contains(r.destination_addresses, destination)
    ]
    if any(r.protocol.value == protocol and port in r.ports for r in rows):
        return "wrong source"
    from_here = [r for r in rows if contains(r.source_addresses, source)]
    if any(r.protocol.value == protocol for r in from_here):
        return "wrong port"
    if any(port in r.ports for r in from_here):
        return "wrong protocol"
    return "nothing planned"


def _classify(
    lab: Lab,
    managed: Collection[str],
    egress: bool,
    link: tuple[str, Address, str, Address],
    protocol: str,
    port: int,
) -> Check:
    """Whether one probe between two nodes must pass, and why."""
    src_name, source, dst_name, destination = link
    args = (source, destination, protocol, port)
    probe = Probe(protocol, destination, port, source)
    allowed_in: list[PlannedFlow] = []
    allowed_out: list[PlannedFlow] = []
    if dst_name in managed:
        allowed_in = inbound(lab.plan, dst_name, *args)
        if not allowed_in:
            why = _why_not(lab, source, dst_name, destination, protocol, port)
            return Check(src_name, dst_name, probe, False, why)
    if egress and src_name in managed:
        allowed_out = outbound(lab.plan, src_name, *args)
        if not allowed_out:
            why = "the source's egress plan does not name it"
            return Check(src_name, dst_name, probe, False, why)
    keys = dict.fromkeys(r.key for r in allowed_in or allowed_out)
    return Check(src_name, dst_name, probe, True, ", ".join(keys) or "unfiltered ends")


def matrix(
    lab: Lab, *, managed: Collection[str], egress: bool, loopback_all: bool = True
) -> list[Check]:
    """Every node probes every other node, from each of its addresses; plus loopback probes.

    ``managed`` are the hosts that got rules; the others (and the outsider) filter nothing.
    """
    nodes = lab.topo.nodes
    links = [
        (src_name, source, dst_name, destination)
        for src_name, src_node in nodes.items()
        for source in src_node.addresses
        for dst_name, dst_node in nodes.items()
        if dst_name != src_name
        for destination in dst_node.addresses
        if destination.version == source.version
    ]
    checks = [
        _classify(lab, managed, egress, link, protocol, port)
        for link in links
        for port in sorted(lab.ports.get(link[2], ()))
        for protocol in PROTOCOLS
    ]
    for name, ports in lab.loopback_ports.items():
        for address, port, protocol in itertools.product(
            LOOPBACK_ADDRESSES, sorted(ports), PROTOCOLS
        ):
            args = (address, address, protocol, port)
            rows_in = inbound(lab.plan, name, *args, lo=True)
            rows_out = outbound(lab.plan, name, *args, lo=True)
            ok = loopback_all or (bool(rows_in) and (not egress or bool(rows_out)))
            keys = ", ".join(dict.fromkeys(r.key for r in rows_in))
            why = keys or ("all loopback traffic is allowed" if ok else "not planned")
            probe = Probe(protocol, address, port)
            checks.append(Check(name, name, probe, ok, f"loopback: {why}"))
    return checks


def probe_all(topo: Topology, checks: Sequence[Check]) -> list[str]:
    """Run the checks' probes (each source node in one process); results in order."""
    jobs: dict[str, list[Probe]] = defaultdict(list)
    where: list[tuple[str, int]] = []
    for check in checks:
        where.append((check.source, len(jobs[check.source])))
        jobs[check.source].append(check.probe)
    results = topo.probe(jobs)
    return [results[node][index] for node, index in where]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of every check of a matrix."""

    checks: tuple[Check, ...]
    results: tuple[str, ...]

    def wrong(self) -> list[str]:
        """Checks whose result contradicts the plan, described."""
        return [
            f"{check.describe()}: got {result}"
            for check, result in zip(self.checks, self.results, strict=True)
            if check.expected != (result in PASSED)
        ]

    def __iter__(self) -> Iterator[tuple[Check, str]]:
        return iter(zip(self.checks, self.results, strict=True))

    def find(
        self,
        source: str,
        destination: str,
        protocol: str,
        port: int,
        *,
        source_address: Address | None = None,
        version: int = 4,
    ) -> str:
        """The result of one probe, picked by node names (first address of ``version``)."""
        for check, result in self:
            p = check.probe
            if (
                check.source == source
                and check.destination == destination
                and p.protocol == protocol
                and p.port == port
                and p.destination.version == version
                and (source_address is None or p.source == source_address)
            ):
                return result
        raise LookupError(f"no probe {source} -> {destination} {protocol}/{port} in the matrix")


def run(lab: Lab, checks: Sequence[Check]) -> Outcome:
    """Probe; probes the plan allows that did not pass are tried once more (a lost packet)."""
    results = probe_all(lab.topo, checks)
    again = [
        i
        for i, (c, r) in enumerate(zip(checks, results, strict=True))
        if c.expected and r not in PASSED
    ]
    if again:
        retried = probe_all(lab.topo, [checks[i] for i in again])
        for i, result in zip(again, retried, strict=True):
            results[i] = result
    return Outcome(tuple(checks), tuple(results))


def uncovered_rows(lab: Lab, checks: Sequence[Check]) -> list[str]:
    """Plan rows (non-loopback) with a sampled port that no expected-open probe exercises.

    A row counts as covered when a probe from its source host's node to its destination host's
    node, on its protocol and each sampled port, is expected to pass.  Rows whose ends share
    no IP version cannot carry traffic and are skipped.
    """
    exercised = {
        (c.source, c.destination, c.probe.protocol, c.probe.port) for c in checks if c.expected
    }
    missing = []
    for row in lab.plan.rows:
        if row.loopback:
            continue
        versions = {a.version for a in row.source_addresses} & {
            a.version for a in row.destination_addresses
        }
        if not versions:
            continue
        for port in sorted(sample(row.ports)):
            if (row.source, row.destination, row.protocol.value, port) not in exercised:
                missing.append(f"{row.key} {row.source} -> {row.destination} {port}")
    return missing


def needs_rules(plan: Plan) -> set[str]:
    """The hosts a host-firewall target writes rules for.

    Every host a row ends on, and every single machine that sends; a group that only sends
    (the Internet, a client subnet) is not portplan's to filter.
    """
    receiving = {row.destination for row in plan.rows}
    sending = {row.source for row in plan.rows if not plan.hosts[row.source].is_group}
    return receiving | sending


def assert_exact(lab: Lab, outcome: Outcome) -> None:
    """Every row is exercised, blocked probes of every kind exist, and no probe contradicts."""
    checks = outcome.checks
    assert uncovered_rows(lab, checks) == [], "some plan rows are not probed"
    blocked_reasons = {c.reason for c in checks if not c.expected}
    assert {"wrong source", "wrong port", "wrong protocol"} <= blocked_reasons
    wrong = outcome.wrong()
    assert wrong == [], f"{len(wrong)} of {len(checks)} probes contradict the plan:\n" + "\n".join(
        wrong[:60]
    )


# -- the examples -----------------------------------------------------------------------------

#: Hand-written expectations (source node, destination node, protocol, port, passes), read
#: from the example files rather than computed from the plan, so they also check the oracle.
SPOT_CHECKS: dict[str, list[tuple[str, str, str, int, bool]]] = {
    "smart-id-nexus": [
        # the RADIUS range to the Authentication service on da01, and its neighbours
        ("radius-clients", "da01", "udp", 18118, True),
        ("radius-clients", "da01", "udp", 18122, True),
        ("radius-clients", "da01", "udp", 18126, True),
        ("radius-clients", "da01", "udp", 18117, False),
        ("radius-clients", "da01", "udp", 18127, False),
        ("radius-clients", "da01", "tcp", 18118, False),  # wrong protocol
        ("internet", "da01", "udp", 18118, False),  # wrong source
        (OUTSIDER, "da01", "udp", 18122, False),
        # Traefik publishes Identity Manager; the backend port is for Traefik only
        ("internet", "traefik01", "tcp", 443, True),
        ("internet", "traefik01", "tcp", 444, False),
        ("internet", "traefik01", "udp", 443, False),
        ("traefik01", "idm01", "tcp", 7071, True),
        ("traefik01", "idm01", "tcp", 7074, True),
        ("traefik01", "idm01", "tcp", 7075, False),
        ("internet", "idm01", "tcp", 7071, False),
        ("da01", "pgsql01", "tcp", 5433, True),
        ("da01", "pgsql01", "tcp", 5432, False),
        ("idm01", "pgsql01", "tcp", 5433, False),
        ("admin-net", "da01", "tcp", 22, True),
        ("admin-net", "da01", "udp", 22, False),
        (OUTSIDER, "da01", "tcp", 22, False),
        ("internet", "da01", "tcp", 22, False),
    ],
    "shopping-contoso": [
        ("clients", "shop01", "tcp", 8443, True),
        ("cm01", "shop01", "tcp", 8443, True),
        ("admin-pc", "shop01", "tcp", 8443, True),  # 198.51.100.5 is in the client subnet
        ("sql01", "shop01", "tcp", 8443, False),
        ("clients", "shop01", "tcp", 8444, False),
        ("clients", "shop01", "udp", 8443, False),
        (OUTSIDER, "shop01", "tcp", 8443, False),
        # the dynamic RPC range of cm01 (Windows Server 2016): 49152-65535
        ("shop01", "cm01", "tcp", 49152, True),
        ("shop01", "cm01", "tcp", 57343, True),
        ("shop01", "cm01", "tcp", 65535, True),
        ("shop01", "cm01", "tcp", 49151, False),
        ("shop01", "cm01", "udp", 49152, False),
        ("admin-pc", "cm01", "tcp", 65534, True),
        ("clients", "cm01", "tcp", 49152, False),
        ("shop01", "dc01", "tcp", 636, True),
        ("shop01", "dc01", "tcp", 3269, True),
        ("shop01", "dc01", "tcp", 3270, False),
        ("clients", "dc02", "tcp", 389, True),
        ("clients", "dc02", "tcp", 3389, False),
        ("admin-pc", "dc02", "tcp", 3389, True),
        ("clients", "clients", "tcp", 8000, True),  # the loopback agent
    ],
}


def check_spots(outcome: Outcome, spots: list[tuple[str, str, str, int, bool]]) -> list[str]:
    """The hand-written expectations the probes contradict, described."""
    wrong = []
    for source, destination, protocol, port, passes in spots:
        result = outcome.find(source, destination, protocol, port)
        if (result in PASSED) != passes:
            want = "pass" if passes else "be blocked"
            wrong.append(f"{source} -> {destination} {protocol}/{port} should {want}: {result}")
    return wrong


def link_local_before_and_after(
    topo: Topology, plan: Plan, host: str, neighbour: str, apply: Callable[[Node], None]
) -> tuple[list[str], list[str]]:
    """Probe ``host``'s IPv6 link-local address from ``neighbour``, before and after ``apply``.

    Every IPv6-enabled machine has a link-local address, whether or not the deployment lists
    an IPv6 address for it; the plan names no flow to it, so after the rules nothing may pass.
    The probes go to the ports the plan opens on ``host`` (over IPv4), on TCP and UDP.
    """
    nodes = {}
    taken: set[Address] = set()
    for name in (host, neighbour):
        addresses = [pick_address(n, taken) for n in plan.hosts[name].addresses]
        taken.update(addresses)
        nodes[name] = topo.add_node(name, addresses)
    target = topo.link_local(nodes[host])
    ports = sorted({p for row in plan.rows if row.destination == host for p in sample(row.ports)})
    topo.listen(nodes[host], [(proto, target, port) for port in ports for proto in PROTOCOLS])
    probes = [Probe(proto, target, port) for port in ports for proto in PROTOCOLS]
    before = topo.probe({neighbour: probes})[neighbour]
    apply(nodes[host])
    after = topo.probe({neighbour: probes})[neighbour]
    return before, after


# -- free text in the plan ------------------------------------------------------------------


def _renamed(plan: Plan) -> Plan:
    return dataclasses.replace(plan, deployment="bank\nadd table inet injected\n# the rest")


def _nul_in_purpose(plan: Plan) -> Plan:
    rows = tuple(
        dataclasses.replace(r, facts=dataclasses.replace(r.facts, purpose="RADIUS\x00 requests"))
        for r in plan.rows
    )
    return dataclasses.replace(plan, rows=rows)


#: Plans whose free text (deployment name, flow purposes) holds what a rules file must not
#: take literally; rendered, they must load and mean the same as the untouched plan.
TAMPERS: dict[str, Callable[[Plan], Plan]] = {
    "line break in the deployment name": _renamed,
    "NUL in a flow purpose": _nul_in_purpose,
}
