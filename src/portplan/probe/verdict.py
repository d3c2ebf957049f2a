"""What an error a socket reported about a datagram (or SYN) it sent means: one judgement for
a probe's own socket (:mod:`portplan.probe.wire`) and for the request a UDP identification
sends from a socket of its own (``identify._datagram``), so that the same ICMP message reads
the same whichever of them met it.

The errno says most (:func:`~portplan.probe.outcomes.classify`); the ICMP message behind it
(type, code and sender, read from the socket's error queue) says the rest: a time exceeded is
the way's routing, not an answer; a message from this machine's own address is its neighbour
lookup that failed or its own firewall's reject; a port unreachable from another address than
the destination's is a router's or firewall's reject on the way, not a closed port; an
administratively prohibited is a reject even where the kernel reports it as a network
unreachable (ICMP code 9).
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from portplan.probe.icmp import (
    TTL_EXPIRED,
    IcmpError,
    from_elsewhere,
    from_here,
    icmp_text,
    is_time_exceeded,
)
from portplan.probe.outcomes import (
    DROPPED_HERE,
    NO_NEIGHBOUR,
    NOT_ROUTED_HERE,
    REJECTED_HERE,
    Outcome,
    classify,
    not_routed_here,
)

__all__ = ["Verdict", "judge"]

#: the note of a port unreachable that a router or firewall on the way sent (``rejected``):
#: its reject, not the destination saying that nothing listens there
_UNREACHABLE_ON_THE_WAY = (
    "port unreachable from %s, on the way, not from the destination: a router or firewall "
    "there rejects it"
)
#: the destination-unreachable codes that say "administratively prohibited", by IP version
#: (v4: network, host, communication; v6: administratively prohibited, source address failed
#: policy, reject route)
_PROHIBITED = {4: (3, frozenset({9, 10, 13})), 6: (1, frozenset({1, 5, 6}))}
#: the names of ICMP messages, by IP version, type and code (``None``: every code)
_NAMES: dict[int, dict[tuple[int, int | None], str]] = {
    4: {
        (3, 0): "network unreachable",
        (3, 1): "host unreachable",
        (3, 2): "protocol unreachable",
        (3, 3): "port unreachable",
        (3, 5): "source route failed",
        (3, 6): "network unknown",
        (3, 7): "host unknown",
        (3, 8): "host isolated",
        (3, 9): "network administratively prohibited",
        (3, 10): "host administratively prohibited",
        (3, 13): "administratively prohibited",
        (3, 14): "host precedence violation",
        (3, 15): "precedence cut-off",
        (11, None): "time exceeded",
        (12, None): "parameter problem",
    },
    6: {
        (1, 0): "no route",
        (1, 1): "administratively prohibited",
        (1, 2): "beyond the scope of the source address",
        (1, 3): "address unreachable",
        (1, 4): "port unreachable",
        (1, 5): "source address failed policy",
        (1, 6): "reject route",
        (2, None): "packet too big",
        (3, None): "time exceeded",
        (4, None): "parameter problem",
    },
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an error means: the ``outcome``, the evidence's ``note`` and ``icmp`` text, and
    ``meaning``: what it says in words, naming the ICMP message when there is one (``an ICMP
    port unreachable: nothing is bound there``)."""

    outcome: Outcome
    note: str | None
    icmp: str | None
    meaning: str


def judge(
    code: int,
    found: IcmpError | None,
    sock: socket.socket | None,
    address: str,
    *,
    udp: bool = False,
    at_once: bool = False,
) -> Verdict:
    """The verdict of error ``code`` that ``sock`` reported about what it sent to ``address``,
    with ``found``, the ICMP message behind it (version, type, code, sender) when there is one.

    An ICMP time exceeded, which the kernel reports as ``EHOSTUNREACH`` as it does a host's or
    a firewall's "host unreachable", is ``no-route``: it died on the way (a routing loop), and
    nothing answered for the destination.  An ICMP error from this machine itself
    (:func:`~portplan.probe.icmp.from_here`) is its neighbour lookup that failed
    (``no-route``) or its own firewall's reject (a note says so; a port unreachable is then
    ``rejected``, not ``closed``).  A port unreachable from a router or firewall on the way
    is ``rejected``, as an administratively prohibited is from anyone.  An error raised
    ``at_once`` (by ``connect()`` or ``send()``) with no ICMP message behind it is this
    machine's own: a route it lacks (``no-route``, not sent), or its own firewall dropping it
    (``EPERM``); ``EPERM`` raised at once with an ICMP error behind it is its own firewall's
    reject, whoever the error names as its sender."""
    if found is not None and is_time_exceeded(found[0], found[1]):
        return _verdict(Outcome.NO_ROUTE, TTL_EXPIRED, found, address)
    here = from_here(found, sock, address) if found is not None else None
    if here == NO_NEIGHBOUR:
        return _verdict(Outcome.NO_ROUTE, here, found, address)
    if found is None and at_once and not_routed_here(code):
        return _verdict(Outcome.NO_ROUTE, NOT_ROUTED_HERE, found, address)
    if at_once and code == errno.EPERM and here is None:
        # nothing left this machine, so an ICMP error behind it is its own firewall's reject,
        # sent in the destination's name where the destination is an address of its own
        here = DROPPED_HERE if found is None else REJECTED_HERE
    outcome = classify(code, udp=udp)
    if found is not None and outcome in (Outcome.REFUSED, Outcome.CLOSED):
        if here is not None:  # this machine's own firewall said no, not the destination
            return _verdict(Outcome.REJECTED, here, found, address)
        way = from_elsewhere(found, address)
        if way is not None:  # not "nothing listens there": something on the way said no
            return _verdict(Outcome.REJECTED, _UNREACHABLE_ON_THE_WAY % way, found, address)
    if found is not None and outcome is Outcome.NO_ROUTE and _prohibited(found):
        outcome = Outcome.REJECTED  # a network administratively prohibited (ENETUNREACH)
    return _verdict(outcome, here, found, address)


def _prohibited(found: IcmpError) -> bool:
    version, icmp_type, code, _sender = found
    unreachable, codes = _PROHIBITED[version]
    return icmp_type == unreachable and code in codes


def _verdict(
    outcome: Outcome,
    note: str | None,
    found: IcmpError | None,
    address: str,
) -> Verdict:
    icmp = icmp_text(*found) if found is not None else None
    return Verdict(outcome, note, icmp, f"{_name(found)}: {_said(outcome, note, found, address)}")


def _name(found: IcmpError | None) -> str:
    """``an ICMP port unreachable``, ``an ICMPv6 administratively prohibited``..."""
    if found is None:
        return "an error with no ICMP message behind it"
    version, icmp_type, code, _sender = found
    names = _NAMES.get(version, {})
    name = names.get((icmp_type, code), names.get((icmp_type, None)))
    kind = "ICMP" if version == 4 else "ICMPv6"
    return f"an {kind} {name}" if name else f"an {kind} error (type {icmp_type} code {code})"


def _said(
    outcome: Outcome,
    note: str | None,
    found: IcmpError | None,
    address: str,
) -> str:
    """What the verdict means, where its note does not say it."""
    if note is not None:
        return note
    if outcome in (Outcome.CLOSED, Outcome.REFUSED):
        return "nothing is bound there" if outcome is Outcome.CLOSED else "nothing listens there"
    way = from_elsewhere(found, address) if found is not None else None
    if found is None or found[3] is None:
        return f"{outcome.value} (who sent it is not known)"
    if outcome is Outcome.REJECTED:
        if way is None:
            return "the destination rejects it: a firewall of its own, not a router on the way"
        return f"{way}, on the way, not the destination, rejects it: a router or firewall there"
    if outcome is Outcome.NO_ROUTE:
        where = "the destination" if way is None else f"{way}, on the way,"
        return f"no route: {where} says the network cannot be reached"
    return f"{outcome.value}: the ICMP message came from {found[3]}"
