"""What every UDP identifier shares: a request in a datagram of its own, tried twice, and
the datagrams that come back judged one by one.

A UDP identifier (RADIUS, DNS, NTP, SNMP) sends its request from a socket of its own,
connected to the port, so that only datagrams from the probed address and port reach it, and
the kernel hands it the ICMP errors about them.  A request left unanswered for a third of the
time is sent once more as a new request (a new id or nonce: RFC 5997 forbids retransmitting a
Status-Server, and a new nonce keeps the first request's late answer apart from nothing).  A
request may be several datagrams sent at once (SNMP asks in two versions).  Each
datagram is the identifier's to judge: the one that identifies the service ends the exchange,
an answer to another request is ignored, and anything else raises
:class:`~portplan.probe.identify._exchange.NotThisProtocol`.

The socket asks for the ICMP errors about what it sends (``IP_RECVERR``), so that an ICMP
error about the request says what it is and who sent it, and is judged as it is when it meets
the probe's own datagram (:func:`~portplan.probe.verdict.judge`, the one judgement of both): a
port unreachable from the destination (nothing is bound there: ``closed``); an administratively
prohibited, a protocol unreachable, a host isolated..., or a port unreachable from a router or
firewall on the way or from this machine's own firewall (``rejected``); a host unreachable from
this machine's own address (its neighbour lookup failed: ``no-route``).  The identification
carries that verdict (:data:`UNREACHABLE`), the ICMP message (:data:`ICMP`), the error's errno
(:data:`ERRNO`) and what it means (:data:`MEANING`); the errors the kernel reports only when
asked (a soft error: a host or network unreachable, a time exceeded) are ignored, as they were
before it was asked.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

from portplan.probe.icmp import IcmpError, ask_for_errors, queued_error
from portplan.probe.identify._exchange import NotThisProtocol
from portplan.probe.identify.base import ERRNO, ICMP, MEANING, UNREACHABLE, ProbeContext
from portplan.probe.outcomes import Outcome, family_of
from portplan.probe.verdict import judge

__all__ = ["CLOSED", "SELF_CONNECTED", "ask"]

CLOSED = "closed (ICMP port unreachable)"
#: the soft ICMP errors, by IP version and type (``None``: every code), which Linux reports to
#: a connected UDP socket only when it asks for them (``IP_RECVERR``): network and host
#: unreachable, source route failed, the TOS ones; IPv6's no route, beyond scope and address
#: unreachable; a time exceeded (IPv4 type 11, IPv6 type 3)
_SOFT: dict[int, dict[int, frozenset[int] | None]] = {
    4: {3: frozenset({0, 1, 5, 11, 12}), 11: None},
    6: {1: frozenset({0, 2, 3}), 3: None},
}
#: a port of this machine in its ephemeral range: the kernel may choose it as the request's
#: source port (it never chooses a port something is bound to), and the request would then
#: come back to the identifier's own socket as if the port had answered
SELF_CONNECTED = (
    "closed (nothing is bound there: the kernel chose the probed port as the request's "
    "source port, so the request would reach this socket itself; not sent)"
)

#: the requests the exchanges of this process have out: one of them that comes to another
#: exchange is never an answer.  Two exchanges with this machine's own ports in its ephemeral
#: range may cross, one asking port A from port B while the other asks B from A; where
#: nothing is bound at A or B and no ICMP error comes (a firewall that drops), each request
#: reaches the other's socket, from the very port that socket asks.
_OUT: set[bytes] = set()


class _Datagrams(asyncio.DatagramProtocol):
    """Datagrams from the port and socket errors (ICMP unreachable on the connected socket),
    in order.

    A socket bound to ``--from-address`` before it is connected takes datagrams from anyone
    until it is connected, and the kernel keeps them for it: only those from the address and
    port it is connected to are the port's."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        #: a datagram, or a socket error with the ICMP message behind it when there is one
        self.queue: asyncio.Queue[bytes | _Error] = asyncio.Queue()
        self.peer: tuple[str | int, ...] | None = None
        #: a request is being sent: an error reported now was raised by ``send()``
        self.sending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peer = transport.get_extra_info("peername")

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.peer is None or tuple(addr[:2]) != tuple(self.peer[:2]):
            return  # not from the port (see above)
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # one ICMP message per error reported: the kernel reports the next one queued next
        found = queued_error(self.sock)
        if not isinstance(exc, OSError) or (found is not None and _soft(found)):
            return
        self.queue.put_nowait((exc, found, self.sending))


#: a socket error, the ICMP message behind it, and whether ``send()`` raised it
_Error = tuple[OSError, IcmpError | None, bool]


def _soft(found: IcmpError) -> bool:
    """Whether an ICMP error is one the kernel reports only when asked (see :data:`_SOFT`)."""
    version, icmp_type, code, _sender = found
    kinds = _SOFT.get(version, {})
    if icmp_type not in kinds:
        return False
    codes = kinds[icmp_type]
    return codes is None or code in codes


def _unreachable(
    ctx: ProbeContext,
    sock: socket.socket,
    error: OSError,
    found: IcmpError,
    at_once: bool,
) -> NotThisProtocol:
    """What an ICMP error about the request means, judged as the probe's own datagram's is
    (:func:`~portplan.probe.verdict.judge`, ``docs/verify.md``): ``closed`` from the
    destination's port unreachable, ``rejected`` from a reject (the destination's
    administratively prohibited, anything on the way's, this machine's own firewall's),
    ``no-route`` where this machine's neighbour lookup failed..."""
    verdict = judge(error.errno or 0, found, sock, ctx.address, udp=True, at_once=at_once)
    details = {
        ICMP: verdict.icmp or "",
        UNREACHABLE: verdict.outcome.value,
        ERRNO: errno.errorcode.get(error.errno or 0, str(error.errno)),
        MEANING: verdict.meaning,
    }
    if verdict.outcome is Outcome.CLOSED:
        return NotThisProtocol(CLOSED, details=details)
    return NotThisProtocol(f"{verdict.outcome.value} ({verdict.meaning})", details=details)


async def ask(
    ctx: ProbeContext,
    request: Callable[[], bytes | tuple[bytes, ...]],
    judge: Callable[[bytes], bool],
    *,
    unanswered: Callable[[], None] | None = None,
) -> None:
    """Send ``request()`` to the port (a tuple: each of its datagrams, in order), and once more
    (``request()`` again: a new request) after a third of ``ctx.timeout``; give each datagram
    that comes to ``judge`` until it says ``True`` (``False``: not an answer to a request
    sent, ignored).

    An ICMP error (other than a soft one) ends it with the verdict a probe would get (see
    :func:`_unreachable`); another socket error as what it was.  A
    socket the kernel connected to itself (see :data:`SELF_CONNECTED`) sends nothing, and a
    request another exchange of this process has out (see :data:`_OUT`) is never judged.
    Without ``unanswered`` the exchange waits until the caller's time limit; with it,
    ``unanswered()`` is called at two thirds of ``ctx.timeout`` (it may raise what the
    datagrams ignored meanwhile mean), and then :class:`TimeoutError` is raised.
    """
    loop = asyncio.get_running_loop()
    family = family_of(ctx.address)
    sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    try:
        ask_for_errors(sock, family)
        if ctx.source_address:
            sock.bind((ctx.source_address, 0))
        sock.connect((ctx.address, ctx.port))
        transport, datagrams = await loop.create_datagram_endpoint(
            lambda: _Datagrams(sock), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    mine: set[bytes] = set()

    def send() -> None:
        data = request()
        for datagram in (data,) if isinstance(data, bytes) else data:
            mine.add(datagram)
            _OUT.add(datagram)
            datagrams.sending = True  # (an error send() raises is reported at once)
            try:
                transport.sendto(datagram)
            finally:
                datagrams.sending = False

    try:
        if transport.get_extra_info("sockname")[:2] == transport.get_extra_info("peername")[:2]:
            raise NotThisProtocol(SELF_CONNECTED)
        send()
        start = loop.time()
        second_try: float | None = start + ctx.timeout / 3
        end = start + ctx.timeout * 2 / 3 if unanswered is not None else None
        while True:
            until = second_try if second_try is not None else end
            wait = None if until is None else max(0.0, until - loop.time())
            try:
                # what came already first: a wait of 0 s times out before looking (3.11)
                item = datagrams.queue.get_nowait() if datagrams.queue.qsize() else None
                if item is None:
                    item = await asyncio.wait_for(datagrams.queue.get(), wait)
            except TimeoutError:
                if second_try is not None:
                    second_try = None
                    send()
                    continue
                if unanswered is not None:
                    unanswered()
                raise
            if isinstance(item, tuple):
                error, found, at_once = item
                if found is not None:  # an ICMP message: what it says of the port
                    raise _unreachable(ctx, sock, error, found, at_once)
                if isinstance(error, ConnectionRefusedError):  # its sender unknown
                    raise NotThisProtocol(CLOSED)
                raise NotThisProtocol(f"{type(error).__name__}: {error}")
            if item in _OUT and item not in mine:
                continue  # another exchange's request (see _OUT): no answer
            if judge(item):
                return
    finally:
        _OUT.difference_update(mine)
        transport.close()
