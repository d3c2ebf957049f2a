"""One probe on the wire: a non-blocking socket, its verdict read from the socket itself.

The verdict of a TCP probe comes from the socket (``SO_ERROR`` and whether it is connected)
when it becomes writable or when the timer fires, never from which of two asyncio events won
a race: at short timeouts that race misreports ports.  UDP probes use a connected socket, so
an ICMP port-unreachable surfaces as ``ECONNREFUSED``; with ``IP_RECVERR`` the ICMP type, code
and sender are read from the error queue as evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import select
import socket
import struct
import time
import weakref
from collections.abc import Callable

from portplan.model.protocol import Protocol
from portplan.probe.crossing import NO_CLEAR_PORT, clear_source
from portplan.probe.icmp import ask_for_errors, echo_once, queued_error
from portplan.probe.outcomes import NEVER_LEFT, Evidence, Outcome, PortProbe, PortResult, family_of
from portplan.probe.synproxy import PROXY_OPEN, PROXY_RESET, behind_proxy, proxy_silent
from portplan.probe.tcpinfo import (
    TCP_SYN_SENT,
    never_left,
    read_tries,
    syn_never_left,
    zero_window,
)
from portplan.probe.verdict import judge

__all__ = [
    "NEVER_LEFT",
    "RESET_ONCE_ACCEPTED",
    "SELF_CONNECTED",
    "carry_on",
    "connect_tcp",
    "connected_to_itself",
    "first_bytes",
    "hand_over",
    "peek",
    "probe_once",
]

# a Linux socket option Python's socket module does not name (3.11)
_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

SELF_CONNECTED = (
    "the kernel chose the probed port as the source port, and the connection reached itself: "
    "nothing listens there"
)

#: the note of a TCP probe the service reset once connected (a reset in SYN_SENT is a refusal,
#: ECONNREFUSED; these errors come only once the handshake has completed)
RESET_ONCE_ACCEPTED = "connected, then reset by the service: the port accepted the connection"
_AFTER_HANDSHAKE = frozenset({errno.ECONNRESET, errno.EPIPE})
_UDP_SELF_CONNECTED = (
    "the kernel chose the probed port as the source port, so the datagram would reach the "
    "probe's own socket: nothing is bound there (not sent)"
)

#: SO_LINGER on, 0 s: close with a reset (no TIME_WAIT pile-up, no half-open sessions left)
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)
_POLITE_CLOSE = struct.pack("ii", 0, 0)
#: the least a connection a SYN proxy completed waits for the destination behind it (the
#: least any first look waits)
_PROXY_WAIT = 0.1


def _new_socket(
    probe: PortProbe, kind: socket.SocketKind, *, unbound: bool = False
) -> socket.socket:
    """A probe's socket, bound to its source address unless ``unbound`` (the caller binds)."""
    family = family_of(probe.address)
    sock = socket.socket(family, kind | socket.SOCK_NONBLOCK)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        # the ICMP error that refused or rejected the probe, for its evidence (a TCP reset
        # leaves none): a connected TCP socket stops asking (see _connected)
        ask_for_errors(sock, family)
        if probe.source is not None and not unbound:
            # the source port is chosen at connect() time, per destination: sockets bound
            # to one address (every probe, and silent ports' sockets kept through the SYN's
            # retransmission) would otherwise each hold a port of the ephemeral range
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((probe.source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


class _Readiness:
    """The probe sockets an event loop waits for, in one epoll set of their own that the loop
    reads as a single file.

    Waiting for a socket then costs two ``epoll_ctl`` calls, without the loop's bookkeeping
    of adding and removing a reader or writer (about a sixth of probing time, measured).  Each
    socket is reported once (``EPOLLONESHOT``) and leaves the set when its wait ends.
    """

    __slots__ = ("_poll", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._poll = select.epoll()
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        loop.add_reader(self._poll.fileno(), self._ready)
        weakref.finalize(loop, self._poll.close)

    def _ready(self) -> None:
        for fd, _events in self._poll.poll(0):
            ready = self._waiting.get(fd)
            if ready is not None and not ready.done():
                ready.set_result(True)

    async def wait(self, ready: asyncio.Future[bool], fd: int, write: bool) -> bool:
        self._poll.register(fd, (select.EPOLLOUT if write else select.EPOLLIN) | _ONCE)
        self._waiting[fd] = ready
        try:
            return await ready
        finally:
            if self._waiting.get(fd) is ready:
                del self._waiting[fd]
                # (a socket closed meanwhile left the set with its file: nothing to remove)
                with contextlib.suppress(OSError):
                    self._poll.unregister(fd)


_ONCE = getattr(select, "EPOLLONESHOT", 0)
_EPOLL = hasattr(select, "epoll")
#: each running event loop's :class:`_Readiness` (where the platform has epoll)
_READINESS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Readiness] = (
    weakref.WeakKeyDictionary()
)


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, timeout: float, *, write: bool) -> bool:
    """Whether ``fd`` became ready (writable or readable) within ``timeout``."""
    ready: asyncio.Future[bool] = loop.create_future()

    def settle(value: bool) -> None:
        if not ready.done():
            ready.set_result(value)

    timer = loop.call_later(timeout, settle, False)
    try:
        if _EPOLL:
            readiness = _READINESS.get(loop)
            if readiness is None:
                readiness = _READINESS[loop] = _Readiness(loop)
            return await readiness.wait(ready, fd, write)
        (loop.add_writer if write else loop.add_reader)(fd, settle, True)
        try:
            return await ready
        finally:
            (loop.remove_writer if write else loop.remove_reader)(fd)
    finally:
        timer.cancel()


def _result(
    probe: PortProbe,
    started: float,
    outcome: Outcome,
    code: int | None = None,
    *,
    icmp: str | None = None,
    note: str | None = None,
    reply: bytes = b"",
) -> PortResult:
    """The result of ``probe``, begun at ``started`` (monotonic), with its evidence."""
    return PortResult(
        probe=probe,
        outcome=outcome,
        reply=reply,
        evidence=Evidence(
            errno=errno.errorcode.get(code) if code else None,
            icmp=icmp,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            note=note,
        ),
    )


async def _tcp(
    probe: PortProbe,
    timeout: float,
    *,
    keep: bool = False,
    hold: bool = False,
    avoid: frozenset[int] = frozenset(),
) -> tuple[PortResult, socket.socket | None]:
    """A TCP probe; with ``keep``, an open port's connected socket too, and with ``hold`` a
    silent port's socket, still trying to connect (the caller owns either).  ``avoid``: the
    source ports it must not take (see :mod:`portplan.probe.crossing`)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    result = functools.partial(_result, probe, started)
    try:
        if not avoid:
            sock = _new_socket(probe, socket.SOCK_STREAM)
        else:
            new = functools.partial(_new_socket, probe, socket.SOCK_STREAM, unbound=True)
            if (clear := clear_source(new, probe, avoid)) is None:
                return result(Outcome.LOCAL_ERROR, note=NO_CLEAR_PORT), None
            sock = clear
    except OSError as exc:
        return result(
            Outcome.LOCAL_ERROR, exc.errno, note="could not open or bind the socket"
        ), None
    kept = False
    try:
        code = sock.connect_ex((probe.address, probe.port))
        at_once = code != errno.EINPROGRESS  # the kernel's own verdict: nothing was sent
        if not at_once:
            await _wait(loop, sock.fileno(), timeout, write=True)
            # The socket's own state decides, whichever event came first.
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                try:
                    sock.getpeername()
                except OSError:
                    # a held socket's "never left" is no verdict yet: the second look
                    # confirms it with the window halved (a burst of the kernel's
                    # retransmissions can overflow a local queue too)
                    if not hold and syn_never_left(sock):
                        return result(Outcome.LOCAL_ERROR, note=NEVER_LEFT), None
                    kept = hold
                    silent = result(Outcome.FILTERED, note=f"no answer within {timeout:g} s")
                    return silent, sock if hold else None
        if code in _AFTER_HANDSHAKE:
            return _reset(result, code, sock), None
        if code:
            return _by_error(result, code, sock, probe.address, at_once=at_once), None
        if connected_to_itself(sock):
            return result(Outcome.REFUSED, note=SELF_CONNECTED), None
        opened = result(Outcome.OPEN)
        if zero_window(sock):  # a SYN proxy on the way: the destination has not answered yet
            opened = await _behind(result, sock, probe.address, timeout)
            if opened.outcome is not Outcome.OPEN:
                return opened, None
        kept = keep
        return opened, _connected(sock) if keep else None
    finally:
        if not kept:
            sock.close()


def connected_to_itself(sock: socket.socket) -> bool:
    """Whether a connection to this machine's own address got the probed port as its source
    port: TCP's simultaneous open then connects the socket to itself, and a UDP socket would
    receive its own datagram.  The kernel never picks a port something listens on (or is
    bound to), so nothing listens there (the probe would otherwise have been refused)."""
    try:
        return bool(sock.getsockname()[:2] == sock.getpeername()[:2])
    except OSError:
        return False


async def carry_on(
    probe: PortProbe, sock: socket.socket, started: float, until: float
) -> tuple[PortResult, bool]:
    """The verdict of a silent TCP probe's socket (:func:`connect_tcp` with ``hold``), still
    trying to connect, at monotonic time ``until`` at the latest: an answer when one comes,
    else silence.  The flag says whether the kernel's retransmission of the SYN (1 s after
    it) left this machine before the verdict (for an answer: that the kernel sent it
    again): only then is silence a second look, and only then is the answer counted as a
    second attempt.  The caller owns ``sock`` (an open port's
    connection goes on to be used)."""
    loop = asyncio.get_running_loop()
    result = functools.partial(_result, probe, started)
    if (left := until - time.monotonic()) > 0:
        await _wait(loop, sock.fileno(), left, write=True)
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    tried = read_tries(sock)
    # an answer: whether the SYN was sent again before it came (the count of what is out is
    # gone once the socket has moved on); silence: whether a SYN sent again is out
    again = tried is not None and tried[3] > 0
    if code in _AFTER_HANDSHAKE:
        return _reset(result, code, sock), again
    if code:
        return _by_error(result, code, sock, probe.address), again
    try:
        sock.getpeername()
    except OSError:
        if never_left(tried):
            return result(Outcome.LOCAL_ERROR, note=NEVER_LEFT), False
        again = tried is not None and tried[0] == TCP_SYN_SENT and tried[2] > 0
        waited = until - started
        if not again:
            return result(Outcome.FILTERED, note=f"no answer within {waited:.1f} s"), False
        note = f"no answer to the SYN or to its retransmission within {waited:.1f} s"
        return result(Outcome.FILTERED, note=note), True
    if connected_to_itself(sock):
        return result(Outcome.REFUSED, note=SELF_CONNECTED), again
    if zero_window(sock):  # a SYN proxy on the way: the destination has not answered yet
        wait = max(until - time.monotonic(), _PROXY_WAIT)
        if (opened := await _behind(result, sock, probe.address, wait)).outcome is Outcome.OPEN:
            _connected(sock)
        # silence behind the proxy was one attempt of the destination's: the rounds ask again
        return opened, again and opened.outcome is not Outcome.FILTERED
    _connected(sock)
    return result(Outcome.OPEN), again


def _reset(result: Callable[..., PortResult], code: int, sock: socket.socket) -> PortResult:
    """A reset once connected: the service's (the port accepted the connection), or the
    destination's behind a SYN proxy, which completed the handshake for it (nothing listens
    there, see :mod:`portplan.probe.synproxy`)."""
    if zero_window(sock):
        return result(Outcome.REFUSED, code, note=PROXY_RESET)
    return result(Outcome.OPEN, code, note=RESET_ONCE_ACCEPTED)


async def _behind(
    result: Callable[..., PortResult], sock: socket.socket, address: str, wait: float
) -> PortResult:
    """The verdict of a connection a SYN proxy on the way completed (its SYN-ACK offered no
    window): what the destination behind it said within ``wait`` seconds."""
    began = time.monotonic()
    code = await behind_proxy(sock, wait)
    if code is None:
        return result(Outcome.FILTERED, note=proxy_silent(time.monotonic() - began))
    if code in _AFTER_HANDSHAKE:
        return _reset(result, code, sock)
    if code:
        return _by_error(result, code, sock, address)
    return result(Outcome.OPEN, note=PROXY_OPEN)


def _connected(sock: socket.socket) -> socket.socket:
    """A connected TCP socket that no longer asks for ICMP errors: with ``IP_RECVERR`` the
    kernel would end the connection on an error it otherwise only notes."""
    ask_for_errors(sock, sock.family, ask=False)
    return sock


def _by_error(
    result: Callable[..., PortResult],
    code: int,
    sock: socket.socket,
    address: str,
    *,
    udp: bool = False,
    at_once: bool = False,
) -> PortResult:
    """The result of an error the socket reported (``result``: :func:`_result` of the
    probe), judged with the ICMP message from the socket's error queue (see
    :func:`~portplan.probe.verdict.judge`; ``at_once``: raised by ``connect()`` or
    ``send()``)."""
    verdict = judge(code, queued_error(sock), sock, address, udp=udp, at_once=at_once)
    return result(verdict.outcome, code, icmp=verdict.icmp, note=verdict.note)


def _datagram(payload: bytes) -> bytes:
    """What a UDP probe sends: its payload, then a nonce of its own (16 hex digits), when it
    has a payload.

    A probe of a port of this machine in its ephemeral range may get, as its source port,
    the port another probe probes, while that probe got the port this one probes: each
    probe's datagram then reaches the other's socket, as if the port had answered (where
    nothing there sends an ICMP port unreachable).  A datagram that starts with the payload
    and is not this probe's own is another prober's, never an answer; this probe's own, sent
    back, is (an echo service)."""
    return payload + os.urandom(8).hex().encode() if payload else payload


async def _udp(probe: PortProbe, timeout: float) -> PortResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    result = functools.partial(_result, probe, started)
    try:
        sock = _new_socket(probe, socket.SOCK_DGRAM)
    except OSError as exc:
        return result(Outcome.LOCAL_ERROR, exc.errno, note="could not open or bind the socket")
    with sock:
        try:
            sock.connect((probe.address, probe.port))
            if connected_to_itself(sock):  # its own datagram would be the "answer"
                return result(Outcome.CLOSED, note=_UDP_SELF_CONNECTED)
            sent = _datagram(probe.payload)
            sock.send(sent)
        except OSError as exc:
            return _by_error(result, exc.errno or 0, sock, probe.address, udp=True, at_once=True)
        deadline = started + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not await _wait(loop, sock.fileno(), left, write=False):
                break
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                continue
            except OSError as exc:
                return _by_error(result, exc.errno or 0, sock, probe.address, udp=True)
            if probe.payload and data.startswith(probe.payload) and data != sent:
                continue  # another probe's datagram (see _datagram): no answer
            return result(Outcome.OPEN, reply=data[:512], note=f"{len(data)} bytes answered")
        return result(Outcome.OPEN_FILTERED, note=f"no answer within {timeout:g} s")


async def first_bytes(probe: PortProbe, timeout: float, size: int = 64) -> bytes:
    """What a TCP service sends unprompted within ``timeout`` of connecting (``b""``: none),
    on a connection of its own."""
    deadline = time.monotonic() + timeout
    _probed, sock = await _tcp(probe, timeout, keep=True)
    if sock is None:
        return b""
    with sock:
        return await peek(sock, deadline - time.monotonic(), size)


async def peek(sock: socket.socket, wait: float, size: int = 64) -> bytes:
    """What the peer of the connected ``sock`` sent unprompted within ``wait`` (``b""``: none).

    The bytes stay in the socket (``MSG_PEEK``): an identifier handed the connection next
    reads them as if nobody had looked.
    """
    if wait <= 0 or not await _wait(asyncio.get_running_loop(), sock.fileno(), wait, write=False):
        return b""
    try:
        return sock.recv(size, socket.MSG_PEEK)
    except OSError:
        return b""


async def connect_tcp(
    probe: PortProbe,
    timeout: float,
    *,
    keep: bool = True,
    hold: bool = False,
    avoid: frozenset[int] = frozenset(),
) -> tuple[PortResult, socket.socket | None]:
    """Probe one TCP port once; with ``keep``, for an open port, its connected socket too, and
    with ``hold``, for a silent one, its socket still trying (see :func:`carry_on`).  The
    caller then owns the socket (it closes with a reset unless told otherwise, see
    :func:`hand_over`).  ``avoid``: the source ports it must not take (see
    :class:`~portplan.probe.crossing.Crossing`)."""
    return await _tcp(probe, timeout, keep=keep, hold=hold, avoid=avoid)


def hand_over(sock: socket.socket) -> socket.socket:
    """``sock`` made to close like any client's (a FIN, not the probe's reset), for a
    protocol exchange on the probe's own connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _POLITE_CLOSE)
    return sock


async def probe_once(
    probe: PortProbe, timeout: float, *, avoid: frozenset[int] = frozenset()
) -> PortResult:
    """Probe one port once (an ICMP probe: one echo request, :mod:`portplan.probe.icmp`);
    a TCP probe never from a source port in ``avoid`` (see :mod:`portplan.probe.crossing`)."""
    if probe.protocol is Protocol.TCP:
        return (await _tcp(probe, timeout, avoid=avoid))[0]
    if probe.protocol is Protocol.ICMP:
        return await echo_once(probe, timeout)
    return await _udp(probe, timeout)
