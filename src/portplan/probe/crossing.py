"""Source ports that keep TCP probes of this machine's own ports from meeting each other.

A probe of a port of this machine's own gets, as its source port, a port of the ephemeral
range, and so may another probe of the same run.  When probe A (to port ``p``) is given port
``q`` as its source while probe B (to ``q``) is given ``p``, A's SYN reaches B's socket and
B's reaches A's: a TCP simultaneous open connects the two probes to each other, and both
ports read ``open`` with nothing listening there (where closed ports stay silent: a firewall
that drops, so that neither SYN is refused before the other is sent).

Such a crossing needs each probe's destination to be the other's source address, so an
address of this machine.  A probe of one (:class:`Crossing`) takes its source port at
``bind()``, before it connects, and never one of the ports the run probes on this machine's
addresses: no probe of the run is then ever sent to another's source port.  Probes of other
machines keep the kernel's choice at ``connect()`` (nothing more to do per probe).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable

from portplan.model.protocol import Protocol
from portplan.probe.outcomes import PortProbe, family_of

__all__ = ["NO_CLEAR_PORT", "TRIES", "Crossing", "clear_source"]

#: how many source ports the kernel is asked for before giving up (each one it gave that is
#: a probed port is held meanwhile, so the next is another)
TRIES = 32
#: the note of a probe that found no source port but ports the run probes here
NO_CLEAR_PORT = (
    f"not sent: every source port the kernel offered (at most {TRIES}) is a port this run "
    "probes on this machine, where a probe sent from it could meet that port's own probe (a "
    "TCP simultaneous open, which reads open); probe fewer of this machine's ports in its "
    "ephemeral range (net.ipv4.ip_local_port_range) at once"
)
_NONE: frozenset[int] = frozenset()


class Crossing:
    """The TCP ports one run probes on addresses of this machine, which none of its probes
    of this machine may take as its source port."""

    __slots__ = ("addresses", "ports")

    def __init__(self, probes: Iterable[PortProbe]) -> None:
        tcp = [p for p in probes if p.protocol is Protocol.TCP and p.port is not None]
        here = {a for a in dict.fromkeys(p.address for p in tcp) if _on_this_machine(a)}
        self.addresses = frozenset(here)
        self.ports = frozenset(p.port for p in tcp if p.address in here and p.port is not None)

    def avoid(self, probe: PortProbe) -> frozenset[int]:
        """The source ports ``probe`` must not take (none, for another machine)."""
        return self.ports if probe.address in self.addresses else _NONE


def _on_this_machine(address: str) -> bool:
    """Whether a packet to ``address`` may be delivered to this machine: it can bind it (an
    address of its interfaces, any of 127.0.0.0/8, a local route's; every address, where the
    kernel binds any: more probes take the guard than need it, never fewer)."""
    try:
        with socket.socket(family_of(address), socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


def clear_source(
    new: Callable[[], socket.socket], probe: PortProbe, avoid: frozenset[int]
) -> socket.socket | None:
    """A socket from ``new`` bound to ``probe``'s source address (or any) and a port the
    kernel chose that is not in ``avoid``; ``None`` when :data:`TRIES` ports in a row, or
    every port the kernel had left, all are."""
    family = family_of(probe.address)
    address = probe.source or ("::" if family == socket.AF_INET6 else "0.0.0.0")
    refused: list[socket.socket] = []
    try:
        for _ in range(TRIES):
            sock = new()
            try:
                sock.bind((address, 0))
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE and refused:  # the rest of the range is taken
                    return None
                raise
            except BaseException:
                sock.close()
                raise
            if sock.getsockname()[1] not in avoid:
                return sock
            refused.append(sock)  # held until the end: the kernel offers another port next
        return None
    finally:
        for sock in refused:
            sock.close()
