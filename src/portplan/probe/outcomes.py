"""What a probe is and what it found: the outcome taxonomy, with its evidence.

Low-level errors (errno values) are translated once, here, into outcomes.
"""

from __future__ import annotations

import errno
import resource
import socket
from dataclasses import dataclass, replace
from enum import StrEnum

from portplan.model.protocol import Protocol

__all__ = [
    "BLOCKED_OUTCOMES",
    "DROPPED_HERE",
    "NEVER_LEFT",
    "NOT_ROUTED_HERE",
    "NO_NEIGHBOUR",
    "REJECTED_HERE",
    "UDP_SILENCE_NOTE",
    "Evidence",
    "Outcome",
    "PortProbe",
    "PortResult",
    "as_blocked",
    "classify",
    "family_of",
    "not_routed_here",
    "raise_fd_limit",
]


class Outcome(StrEnum):
    """What a probe found."""

    OPEN = "open"  #: TCP connected / UDP answered / ICMP: the matching echo reply came back
    REFUSED = "refused"  #: TCP reset, or ICMP port-unreachable for TCP
    CLOSED = "closed"  #: UDP: ICMP port-unreachable on a connected socket
    FILTERED = "filtered"  #: TCP: silence until the timeout, also when probed again alone
    OPEN_FILTERED = "open|filtered"  #: UDP: silence (never "open" by assumption)
    #: ICMP admin-prohibited, host- or protocol-unreachable (EHOSTUNREACH, EACCES, ENOPROTOOPT;
    #: host isolated and source route failed, ENONET and EOPNOTSUPP)
    REJECTED = "rejected"
    #: ENETUNREACH: no route, or ICMP net-unreachable; an ICMP time exceeded on the way (the
    #: kernel's EHOSTUNREACH, told apart by the ICMP message: see ``wire``); no route here
    #: (:data:`NOT_ROUTED_HERE`) or no host on this machine's link (:data:`NO_NEIGHBOUR`)
    NO_ROUTE = "no-route"
    DNS_ERROR = "dns-error"  #: a name did not resolve
    LOCAL_ERROR = "local-error"  #: the source itself failed (EMFILE, EADDRNOTAVAIL, EPERM...)
    UNFINISHED = "unfinished"  #: the run's deadline came before this port was settled
    #: ``verify --inventory``: Ansible could not reach the source host (nothing was probed)
    SOURCE_UNREACHABLE = "source-unreachable"
    #: ``verify --inventory``: the source was reached but probing there failed or never ran
    NOT_RUN = "not-run"

    @property
    def passes(self) -> bool:
        return self is Outcome.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a probe concluded what it did."""

    errno: str | None = None  #: errno name from the socket
    icmp: str | None = None  #: "ICMP type 3 code 13 from 192.0.2.1" (from the error queue)
    elapsed_ms: float = 0.0
    attempts: int = 1
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortProbe:
    """One (address, protocol, port) to probe, optionally from a given local address.

    An ICMP probe has no port (``None``): it is one echo request (``icmp_type``)."""

    address: str
    port: int | None
    protocol: Protocol
    source: str | None = None
    payload: bytes = b""  #: UDP datagram to send
    icmp_type: str | None = None  #: ICMP: the message sent (``echo-request``, the one probed)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortResult:
    probe: PortProbe
    outcome: Outcome
    evidence: Evidence
    reply: bytes = b""  #: UDP: the first bytes of the answer


_ERRNO_OUTCOMES = {
    errno.ECONNREFUSED: Outcome.REFUSED,
    errno.ECONNRESET: Outcome.REFUSED,
    errno.EHOSTUNREACH: Outcome.REJECTED,
    errno.EACCES: Outcome.REJECTED,
    errno.EHOSTDOWN: Outcome.REJECTED,
    # ICMP protocol unreachable (a firewall's `reject with icmp prot-unreachable`) and ICMPv6
    # parameter problem: an answer from the way, never an error of this machine's own
    errno.ENOPROTOOPT: Outcome.REJECTED,
    errno.EPROTO: Outcome.REJECTED,
    # ICMP host isolated (code 8, the old administratively prohibited) and source route
    # failed (code 5): errors a probe's socket gets only from an ICMP message about it
    errno.ENONET: Outcome.REJECTED,
    errno.EOPNOTSUPP: Outcome.REJECTED,
    errno.ENETUNREACH: Outcome.NO_ROUTE,
    errno.ETIMEDOUT: Outcome.FILTERED,
    errno.EPERM: Outcome.LOCAL_ERROR,  # the source's own firewall dropped the packet
    errno.EMFILE: Outcome.LOCAL_ERROR,
    errno.ENFILE: Outcome.LOCAL_ERROR,
    errno.EADDRNOTAVAIL: Outcome.LOCAL_ERROR,
    errno.EADDRINUSE: Outcome.LOCAL_ERROR,
    errno.ENOBUFS: Outcome.LOCAL_ERROR,
    errno.EAFNOSUPPORT: Outcome.LOCAL_ERROR,
    errno.EINVAL: Outcome.LOCAL_ERROR,
}


#: outcomes that show a connection blocked (``verify --expect-blocked``, and a request that
#: expects ``blocked`` on a managed host): the firewall dropped TCP, something answered no, or
#: a router on the way has no route or a TTL ran out (not this machine's routing or
#: neighbours; its own firewall does count: see :func:`as_blocked`).  Never UDP
#: silence (``open|filtered``): a firewall that drops and a service that does not answer look
#: the same
BLOCKED_OUTCOMES = frozenset(
    {Outcome.FILTERED, Outcome.REJECTED, Outcome.REFUSED, Outcome.CLOSED, Outcome.NO_ROUTE}
)
#: the note of a UDP probe expected blocked: why silence does not pass
UDP_SILENCE_NOTE = (
    "for UDP only an answer that says no (closed, rejected) or no route shows it blocked: "
    "silence (open|filtered) may be a service that does not answer"
)


#: errors the kernel raises at once, when a probe is sent, where its own routing table has no
#: way to the destination: no route (``ENETUNREACH``), an ``unreachable`` route
#: (``EHOSTUNREACH``), a ``prohibit`` route (``EACCES``, as for a broadcast address without
#: ``SO_BROADCAST``).  The route lookup comes before the machine's own firewall, so not even
#: that saw the probe
_UNROUTED = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES})
#: the note of a probe this machine did not send for want of a route (``no-route``)
NOT_ROUTED_HERE = (
    "not sent: this machine has no route to it (its routing table holds none, or an "
    "unreachable or prohibit route; or, EACCES too, the address is a broadcast one on its "
    "link); nothing left this machine"
)
#: the note of a probe whose destination no host answered for on this machine's own link
#: (``no-route``): the kernel's ICMP host (ICMPv6 address) unreachable from this machine itself
NO_NEIGHBOUR = (
    "not sent: no host answered for it on this machine's own link (its ARP or neighbour "
    "discovery failed: the destination is down or absent; or its own firewall rejected it "
    "with a host unreachable, which reads the same); only the lookup left this machine"
)
#: the note of a probe this machine's own firewall (or another egress filter of its own)
#: dropped as it was sent: ``EPERM`` (``local-error``)
DROPPED_HERE = "never left this machine: its own firewall drops it (EPERM)"
#: the note of a TCP probe whose SYN the kernel could not send (``local-error``): the trace a
#: SYN dropped by the source's own firewall leaves (see ``wire``)
NEVER_LEFT = "the SYN was retransmitted but never left this machine (its own firewall drops it)"
#: the note of a probe this machine's own firewall rejected: the ICMP error came from this
#: machine's own address, not from the destination's or the way's
REJECTED_HERE = "rejected by this machine's own firewall: the ICMP error came from this machine"
#: what each note of a probe that never reached the way (``no-route``) becomes when the
#: probe is expected blocked: ``local-error``, since no firewall was tested
_UNPROVEN = {
    NOT_ROUTED_HERE: (
        f"{NOT_ROUTED_HERE}, so no firewall was tested and this proves nothing of them (an "
        "ICMP unreachable from a router or firewall on the way does pass); give this machine "
        "the route the source host has, or run verify on the host"
    ),
    NO_NEIGHBOUR: (
        f"{NO_NEIGHBOUR}, so no firewall was tested and this proves nothing of them: start "
        "the destination, or probe an address a host answers for"
    ),
}
#: the note of a probe expected blocked that the source's own firewall stopped: it passes
_EGRESS = "the source's own egress filtering blocks it (this machine is the source host)"


def not_routed_here(code: int) -> bool:
    """Whether ``code``, raised at once by ``connect()`` or ``send()`` with no ICMP error
    behind it, says this machine has no route to the destination."""
    return code in _UNROUTED


def as_blocked(result: PortResult) -> PortResult:
    """``result`` as the verdict of a probe expected blocked.

    A probe that never reached a firewall proves nothing of them, so it is ``local-error``
    (and fails), as a probe this machine cannot send from the source's address is: one this
    machine did not send for want of a route (:data:`NOT_ROUTED_HERE`), or whose destination
    no host answered for on its own link (:data:`NO_NEIGHBOUR`).  A probe this machine's own
    firewall dropped (:data:`DROPPED_HERE`, :data:`NEVER_LEFT`: ``filtered``) or rejected
    (:data:`REJECTED_HERE`) met the source host's own egress filtering (a probe expected
    blocked leaves only from the source's own address), and passes."""
    note = result.evidence.note
    if result.outcome is Outcome.NO_ROUTE and note in _UNPROVEN:
        evidence = replace(result.evidence, note=_UNPROVEN[note])
        return replace(result, outcome=Outcome.LOCAL_ERROR, evidence=evidence)
    if note in (DROPPED_HERE, NEVER_LEFT, REJECTED_HERE):
        outcome = result.outcome
        if outcome is Outcome.LOCAL_ERROR:  # a drop; a UDP reject (send() said EPERM too)
            outcome = Outcome.REJECTED if note == REJECTED_HERE else Outcome.FILTERED
        evidence = replace(result.evidence, note=f"{note}: {_EGRESS}")
        return replace(result, outcome=outcome, evidence=evidence)
    return result


def classify(code: int, *, udp: bool = False) -> Outcome:
    outcome = _ERRNO_OUTCOMES.get(code, Outcome.LOCAL_ERROR)
    if udp and outcome is Outcome.REFUSED:
        return Outcome.CLOSED
    return outcome


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft open-files limit towards ``wanted`` (within the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def family_of(address: str) -> socket.AddressFamily:
    # probes hold addresses taken from the plan: an IPv6 one is the one with a colon
    return socket.AF_INET6 if ":" in address else socket.AF_INET
