"""What changes in the rules a host holds itself where no packet between zones changes.

A zone firewall sees a row's packets: the source's addresses, the destination's, the port the
source connects to.  Some of portplan's rules are the destination's own, and say more: where
the destination's service listens behind a published port (a NetworkPolicy allows the port on
the pods; ``listen`` and ``audit`` use it); which pods an end stands for (a NetworkPolicy
selects its own pods, and names its pod peers, by namespace and labels, in one cluster's
file); which host's rules hold a row (a row new or gone with its host, whose packets other
rows need all the same: a host renamed, its address kept, has its security group, ruleset and
NetworkPolicy under the new name); which rules a host holds per peer address range
(:mod:`portplan.diff._peers`).  When only that changes, the plans still differ:
each such change is given here, to be listed with no packet to open or close, and what
changes in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from portplan.diff._kind import ChangeKind
from portplan.diff._peers import PeerRules, peer_changes
from portplan.model._types import Protocol, network_text
from portplan.model.kubernetes import Kubernetes
from portplan.model.ports import PortSet
from portplan.plan import Plan, PlannedFlow
from portplan.spaces import Ranges, Space, flow_space, port_set_ranges, ports_text

__all__ = ["OwnRules", "pods_text"]


def _listening(rows: Sequence[PlannedFlow]) -> PortSet:
    return PortSet.of(r for row in rows for r in row.listening_ports.ranges)


def _listen(was: Sequence[PlannedFlow], now: Sequence[PlannedFlow]) -> str | None:
    """Where the destination listens behind the published ports, when that changes."""
    if not was or not now:  # (a row new or gone: its packets open or close)
        return None
    if all(row.listen_ports is None for row in (*was, *now)):
        return None  # (it listens where the source connects: the packets say it all)
    before, after = _listening(was), _listening(now)
    if before == after:
        return None
    protocol = now[0].protocol.value
    return f"listens on {protocol}/{after or 'none'}, was {protocol}/{before or 'none'}"


def _unlisted(rows: Sequence[PlannedFlow], listed: Space) -> str | None:
    """What ``rows`` (one key's, one side's) open, as people read it, but what ``listed`` (the
    packets their changes list) holds; none when it holds them all."""
    row = rows[0]
    if not listed:
        return row.opening
    left = Space.empty()
    for each in rows:
        left = left | (_space(each) - listed)
    if not left:
        return None
    ports = Ranges()
    for box in left.boxes:
        ports = ports | box.ports
    if row.protocol is Protocol.ICMP or ports == port_set_ranges(row.ports):
        return row.opening  # (ICMP: the messages by name)
    return f"{row.protocol.value}/{ports_text(ports)}"


def _space(row: PlannedFlow) -> Space:
    return flow_space(
        row.source_addresses, row.destination_addresses, row.protocol, row.ports, row.icmp
    )


def pods_text(k8s: Kubernetes | None) -> str:
    """``prod/web app=client``: the cluster, namespace and labels of pods; ``none``."""
    if k8s is None:
        return "none"
    labels = ",".join(f"{k}={v}" for k, v in k8s.pod_labels.items())
    return f"{k8s.cluster}/{k8s.namespace} {labels}"


def _pods_of(plan: Plan, name: str) -> str:
    """The pods host ``name`` stands for in ``plan`` (``none``: no such host, or no pods)."""
    host = plan.hosts.get(name)
    return pods_text(host.kubernetes if host is not None else None)


def _policy(plan: Plan, name: str) -> Kubernetes | None:
    """The pods host ``name`` has a NetworkPolicy for in ``plan`` (``rules -t kubernetes``
    writes one for each managed host with ``kubernetes:``), or none."""
    host = plan.hosts.get(name)
    return host.kubernetes if host is not None and host.managed else None


def _holders(
    plan: Plan, row: PlannedFlow, hosts: Sequence[str], verb: str, opening: str
) -> list[str]:
    """Whose rules ``verb`` (hold, held) ``opening`` of ``row``, for the hosts added or
    removed, ``hosts``
    (its ends, one or both): a managed destination's own rules (security group, ruleset,
    NetworkPolicy); for a source, the destination's rules for its addresses, and its own only
    with ``--egress`` (a network sends with no rules of its own); a host portplan does not
    manage has none of portplan's."""
    source, destination = row.source, row.destination
    one = len(hosts) == 1

    def own(host: str) -> str:
        return "its own" if one else f"{host}'s own"

    def unmanaged(host: str) -> str:
        return f"{'it' if one else host} is not managed: portplan writes it no rules"

    found = []
    if destination in hosts:
        if plan.unmanaged(destination) is None:
            found.append(f"{own(destination)} rules {verb} {opening}")
        else:
            found.append(unmanaged(destination))
    if source == destination or source not in hosts:
        return found
    if destination not in hosts and plan.unmanaged(destination) is None:
        peer = plan.hosts[source].kubernetes
        pods = plan.hosts[destination].kubernetes
        where = ""
        if row.source_addresses:
            many = "s" if len(row.source_addresses) > 1 else ""
            where = f" for source{many} " + ", ".join(map(network_text, row.source_addresses))
        if peer is not None and pods is not None and peer.cluster == pods.cluster:
            where += " (a NetworkPolicy: for its pods)"
        found.append(f"{destination}'s rules {verb} {opening}{where}")
    if plan.unmanaged(source) is not None:
        found.append(unmanaged(source))
    elif plan.hosts[source].is_network:
        found.append(f"{'it' if one else source} is a network: no rules of its own send it")
    elif any(opening in each for each in found):  # (named already: "it")
        found.append(f"{own(source)} rules {verb} it with --egress")
    else:
        found.append(f"{own(source)} rules {verb} {opening} with --egress")
    return found


class OwnRules:
    """The changes of the rows of one key that only the hosts' own rules show."""

    def __init__(self, old: Plan, new: Plan) -> None:
        self.old, self.new = old, new
        #: the hosts of both plans whose pods change: a policy of theirs, or naming them, does
        self.pods = {
            name
            for name in old.hosts.keys() & new.hosts.keys()
            if old.hosts[name].kubernetes != new.hosts[name].kubernetes
        }
        self.peers = PeerRules(old), PeerRules(new)

    def _pods(self, was: Sequence[PlannedFlow], now: Sequence[PlannedFlow]) -> str | None:
        """The pods an end of the rows stands for, when they change (with or without
        ``--egress``, whichever end: the destination's policy selects them, the source's
        names them as a peer, or selects them for egress)."""
        if not self.pods or not was or not now:
            return None
        if all(row.loopback for row in (*was, *now)):
            return None  # (traffic inside a pod: no NetworkPolicy sees it)
        row = now[0]
        found = [
            f"pods of {name}: {pods_text(self.new.hosts[name].kubernetes)}, were "
            f"{pods_text(self.old.hosts[name].kubernetes)}"
            for name in dict.fromkeys((row.source, row.destination))
            if name in self.pods
        ]
        return "; ".join(found) or None

    def _rehost(
        self, was: Sequence[PlannedFlow], now: Sequence[PlannedFlow], listed: Space
    ) -> str | None:
        """The host added (or removed) with the rows of one side only, whatever end it is,
        and whose rules hold (or held) them: a managed destination's own; for a source, the
        destination's rules for its address, and its own only with ``--egress``; none of
        portplan's for a host it does not manage.  Beside a listed change (``listed``: the
        packets it opens or closes), what of the rows it does not list."""
        if was and now:
            return None
        plan, other = (self.new, self.old) if now else (self.old, self.new)
        row = (now or was)[0]
        hosts = [h for h in dict.fromkeys((row.source, row.destination)) if h not in other.hosts]
        if not hosts:
            return None
        opening = _unlisted(now or was, listed)
        if opening is None:
            return None
        named = " and ".join(f"host {h}" for h in hosts)
        held = "; ".join(_holders(plan, row, hosts, "hold" if now else "held", opening))
        if now:
            return f"{named} added: {held} (other rows needed it)"
        return f"{named} removed: {held} (other rows need it still)"

    def rowless(self) -> list[tuple[str, str]]:
        """The hosts no row leaves or reaches (in either plan; a loopback row stays inside a
        pod) whose NetworkPolicy, which denies all, changes: it selects other pods, or is
        written or no more (pods made or unmade ``managed``, a host added or removed, or
        ``kubernetes:`` added or removed).  Each with what changes, in the deployment's order
        (the new one's, then the hosts removed)."""
        ends = {
            end
            for plan in (self.old, self.new)
            for row in plan.rows
            if not row.loopback
            for end in (row.source, row.destination)
        }
        found = []
        for name in [*self.new.hosts, *(h for h in self.old.hosts if h not in self.new.hosts)]:
            before, after = _policy(self.old, name), _policy(self.new, name)
            if name in ends or before == after:
                continue
            was, now = _pods_of(self.old, name), _pods_of(self.new, name)
            if name not in self.new.hosts or name not in self.old.hosts or was == now:
                pods = was if name not in self.new.hosts else now  # (added, removed, the same)
            else:
                pods = f"{now}, were {was}"
            if before is None:
                policy = "a policy that denies all is written for them"
            elif after is None:
                policy = "its policy, which denied all, is written no more"
            else:
                policy = "its policy, which denies all, selects other pods"
            found.append(
                (name, f"pods of {name}: {pods} (no row leaves or reaches {name}'s pods: {policy})")
            )
        return found

    def changes(
        self, was: Sequence[PlannedFlow], now: Sequence[PlannedFlow], *, listed: Space
    ) -> list[tuple[ChangeKind, str]]:
        """Each change of the rows ``was`` to ``now`` (one key's) with what changes, in words;
        ``listed``: the packets between zones their listed changes open and close (a host's
        own rules per peer range change beyond them where other rows of the zone boundary
        needed, or still need, the rest)."""
        found = []
        if (rehost := self._rehost(was, now, listed)) is not None:
            found.append((ChangeKind.REHOST, rehost))
        if (peer := peer_changes(was, now, *self.peers, listed)) is not None:
            found.append((ChangeKind.PEER, peer))
        listen = _listen(was, now)
        if listen is not None:
            found.append((ChangeKind.LISTEN, listen))
        pods = self._pods(was, now)
        if pods is not None:
            found.append((ChangeKind.PODS, pods))
        return found
