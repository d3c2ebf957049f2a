"""What kind of change a row's change is, as a firewall sees it."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ChangeKind"]


class ChangeKind(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    WIDEN = "widen"
    NARROW = "narrow"
    READDRESS = "readdress"
    MOVED = "moved"
    #: the packets between zones stay; the port the destination listens on behind the port
    #: the source connects to changes (what a NetworkPolicy, ``listen`` and ``audit`` use)
    LISTEN = "listen"
    #: the packets between zones stay; the pods an end stands for change (its Kubernetes
    #: cluster, namespace or pod labels): what a NetworkPolicy selects or names as a peer; or
    #: the deny-all policy of a host no row leaves or reaches selects other pods, or is written
    #: or no more (no flow)
    PODS = "pods"
    #: the packets between zones stay, needed by other rows; the row is new or gone with a
    #: host of its own added or removed (a host renamed): the rules that hold it go by the
    #: hosts' names (a managed destination's own; for a source, the destination's rules for
    #: its addresses, and its own with ``--egress``)
    REHOST = "rehost"
    #: the packets between zones stay, needed by other rows; a host's own rule per peer
    #: address range (a security group's: one per source range, with ``--egress`` one per
    #: destination range) gains or loses ports: a host bound, unbound or re-addressed inside
    #: a subnet another row comes from
    PEER = "peer"

    @property
    def opens(self) -> bool:
        return self in (ChangeKind.OPEN, ChangeKind.WIDEN)
