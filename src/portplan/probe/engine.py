"""The async port prober: honest outcomes, each with its evidence.

The verdict of a TCP probe comes from the socket itself (``SO_ERROR`` and whether it is
connected) when it becomes writable or when the timer fires, never from which of two asyncio
events won a race: at short timeouts that race misreports ports.  UDP probes use a connected
socket, so an ICMP port-unreachable surfaces as ``ECONNREFUSED``; with ``IP_RECVERR`` the ICMP
type, code and sender are read from the error queue as evidence.

Linux rate-limits ICMP errors (about 6 at once, then 1 per second per peer), so the ports
that stay silent in the first pass are probed again, in rounds a second apart, before they are
called ``filtered`` (TCP) or ``open|filtered`` (UDP); see :func:`probe_all`.  A round's wait
also outlasts the kernel's first SYN retransmission (1 s), which tells a SYN the source's own
firewall drops (the kernel swallows its EPERM) from one lost on the way.

Low-level errors are translated once, here, into the outcome taxonomy.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import resource
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from portplan.model._types import Protocol

__all__ = [
    "Evidence",
    "Outcome",
    "PortProbe",
    "PortResult",
    "family_of",
    "first_bytes",
    "probe_all",
]

# Linux socket constants Python's socket module does not name.
IP_RECVERR = 11
IPV6_RECVERR = 25
MSG_ERRQUEUE = 0x2000
_SO_EE_ORIGIN_ICMP = 2
_SO_EE_ORIGIN_ICMP6 = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_TCP_SYN_SENT = 2
_TCP_INFO_SIZE = 40  # struct tcp_info up to tcpi_retrans (u8 fields, then u32 from offset 8)

#: probes of one destination address at once to start with (more, before it has answered,
#: looks like an attack and meets limits); the window then grows as probes complete
PER_DESTINATION = 5
#: a second look at silent ports starts this long after the destination's last ICMP error
#: (rate limit: 1 per second per peer) and waits at least this long (SYN retransmitted at 1 s)
RATE_LIMIT_WAIT = 1.2
#: the shortest first-pass wait once a destination's round-trip time is known
MIN_TIMEOUT = 0.1
#: file descriptors left for everything but probes (the --concurrency cap keeps below it)
FD_RESERVE = 64
#: a round of second looks starts this many probes of a destination every ROUND_SPREAD s
ROUND_PART = 256
ROUND_SPREAD = 0.05
#: the note of a TCP probe whose SYN the kernel could not send (see :func:`_syn_never_left`)
NEVER_LEFT = "the SYN was retransmitted but never left this machine (its own firewall drops it)"


class Outcome(StrEnum):
    """What a probe found."""

    OPEN = "open"  #: TCP connected / UDP answered
    REFUSED = "refused"  #: TCP reset, or ICMP port-unreachable for TCP
    CLOSED = "closed"  #: UDP: ICMP port-unreachable on a connected socket
    FILTERED = "filtered"  #: TCP: silence until the timeout, also when probed again alone
    OPEN_FILTERED = "open|filtered"  #: UDP: silence (never "open" by assumption)
    REJECTED = "rejected"  #: ICMP admin-prohibited or host-unreachable (EHOSTUNREACH, EACCES)
    NO_ROUTE = "no-route"  #: ENETUNREACH: no route, or ICMP net-unreachable
    DNS_ERROR = "dns-error"  #: a name did not resolve
    LOCAL_ERROR = "local-error"  #: the source itself failed (EMFILE, EADDRNOTAVAIL, EPERM...)

    @property
    def passes(self) -> bool:
        return self is Outcome.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a probe concluded what it did."""

    errno: str | None = None  #: errno name from the socket
    icmp: str | None = None  #: "type 3 code 13 from 192.0.2.1" (UDP, from the error queue)
    elapsed_ms: float = 0.0
    attempts: int = 1
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortProbe:
    """One (address, protocol, port) to probe, optionally from a given local address."""

    address: str
    port: int
    protocol: Protocol
    source: str | None = None
    payload: bytes = b""  #: UDP datagram to send


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


def _classify(code: int, *, udp: bool = False) -> Outcome:
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


#: SO_LINGER on, 0 s: close with a reset (no TIME_WAIT pile-up, no half-open sessions left)
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def _new_socket(probe: PortProbe, kind: socket.SocketKind) -> socket.socket:
    family = family_of(probe.address)
    sock = socket.socket(family, kind | socket.SOCK_NONBLOCK)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        else:
            level, option = (
                (socket.IPPROTO_IPV6, IPV6_RECVERR)
                if family == socket.AF_INET6
                else (socket.IPPROTO_IP, IP_RECVERR)
            )
            sock.setsockopt(level, option, 1)
        if probe.source is not None:
            sock.bind((probe.source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, timeout: float, *, write: bool) -> bool:
    """Whether ``fd`` became ready (writable or readable) within ``timeout``."""
    ready: asyncio.Future[bool] = loop.create_future()

    def settle(value: bool) -> None:
        if not ready.done():
            ready.set_result(value)

    (loop.add_writer if write else loop.add_reader)(fd, settle, True)
    timer = loop.call_later(timeout, settle, False)
    try:
        return await ready
    finally:
        timer.cancel()
        (loop.remove_writer if write else loop.remove_reader)(fd)


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


async def _tcp(probe: PortProbe, timeout: float) -> PortResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    result = functools.partial(_result, probe, started)
    try:
        sock = _new_socket(probe, socket.SOCK_STREAM)
    except OSError as exc:
        return result(Outcome.LOCAL_ERROR, exc.errno, note="could not open or bind the socket")
    with sock:
        code = sock.connect_ex((probe.address, probe.port))
        if code == 0:
            return result(Outcome.OPEN)
        if code != errno.EINPROGRESS:
            return result(_classify(code), code)
        await _wait(loop, sock.fileno(), timeout, write=True)
        # The socket's own state decides, whichever event came first.
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            return result(_classify(code), code)
        try:
            sock.getpeername()
        except OSError:
            if _syn_never_left(sock):
                return result(Outcome.LOCAL_ERROR, note=NEVER_LEFT)
            return result(Outcome.FILTERED, note=f"no answer within {timeout:g} s")
        return result(Outcome.OPEN)


def _syn_never_left(sock: socket.socket) -> bool:
    """Whether the kernel retransmitted the SYN and could not send it (Linux ``TCP_INFO``).

    A SYN dropped by the source's own firewall fails inside the kernel (EPERM) and the socket
    never reports it: connect() just waits.  The trace it leaves is a retransmission attempt
    (``tcpi_retransmits``) without a retransmitted segment in flight (``tcpi_retrans``, which
    the kernel counts only for a segment that left).
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return False
    if len(info) < _TCP_INFO_SIZE:
        return False
    state, _ca_state, retransmits = info[0], info[1], info[2]
    (retrans,) = struct.unpack_from("=I", info, 36)
    return state == _TCP_SYN_SENT and retransmits > 0 and retrans == 0


def _icmp_detail(sock: socket.socket) -> str | None:
    """ICMP type, code and sender from the socket's error queue, if any."""
    try:
        _data, ancillary, _flags, _address = sock.recvmsg(512, 512, MSG_ERRQUEUE)
    except OSError:
        return None
    for _level, _kind, payload in ancillary:
        if len(payload) < _EXTENDED_ERR.size:
            continue
        _err, origin, icmp_type, icmp_code, _pad, _info, _d = _EXTENDED_ERR.unpack_from(payload)
        if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
            continue
        offender = payload[_EXTENDED_ERR.size :]
        sender = _sockaddr_text(offender)
        kind = "ICMPv6" if origin == _SO_EE_ORIGIN_ICMP6 else "ICMP"
        return f"{kind} type {icmp_type} code {icmp_code}" + (f" from {sender}" if sender else "")
    return None


def _sockaddr_text(raw: bytes) -> str | None:
    if len(raw) >= 8 and int.from_bytes(raw[:2], "little") == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if len(raw) >= 24 and int.from_bytes(raw[:2], "little") == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


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
            sock.send(probe.payload)
        except OSError as exc:
            return result(_classify(exc.errno or 0, udp=True), exc.errno, icmp=_icmp_detail(sock))
        deadline = started + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not await _wait(loop, sock.fileno(), left, write=False):
                break
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                continue
            except OSError as exc:
                return result(
                    _classify(exc.errno or 0, udp=True), exc.errno, icmp=_icmp_detail(sock)
                )
            return result(Outcome.OPEN, reply=data[:512], note=f"{len(data)} bytes answered")
        return result(Outcome.OPEN_FILTERED, note=f"no answer within {timeout:g} s")


async def first_bytes(probe: PortProbe, timeout: float, size: int = 64) -> bytes:
    """What a TCP service sends unprompted within ``timeout`` of connecting (``b""``: none)."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    try:
        sock = _new_socket(probe, socket.SOCK_STREAM)
    except OSError:
        return b""
    with sock:
        if sock.connect_ex((probe.address, probe.port)) not in (0, errno.EINPROGRESS):
            return b""
        if not await _wait(loop, sock.fileno(), timeout, write=True):
            return b""
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return b""
        left = deadline - time.monotonic()
        if left <= 0 or not await _wait(loop, sock.fileno(), left, write=False):
            return b""
        try:
            return sock.recv(size)
        except OSError:
            return b""


async def probe_once(probe: PortProbe, timeout: float) -> PortResult:
    """Probe one port once."""
    if probe.protocol is Protocol.TCP:
        return await _tcp(probe, timeout)
    return await _udp(probe, timeout)


_SILENT = (Outcome.FILTERED, Outcome.OPEN_FILTERED)
#: outcomes that an ICMP error brought (the kind of answer the kernel rate-limits)
_BY_ICMP = (Outcome.REJECTED, Outcome.NO_ROUTE, Outcome.CLOSED)
#: outcomes that say something about the path (a round-trip sample, a reason to grow the window)
_ANSWERS = (Outcome.OPEN, Outcome.REFUSED, *_BY_ICMP)


class _Destination:
    """One destination address: its window of probes at once and its round-trip time.

    The window starts at ``PER_DESTINATION`` and grows by one with every probe that completes
    (an answer, or silence), as TCP's slow start does, up to ``limit``; it halves when a port
    that was silent answers when probed again (the first probe was lost, not dropped).  The
    round-trip time is estimated as RFC 6298 does; the first-pass timeout is ``srtt + 4 *
    rttvar``, at least :data:`MIN_TIMEOUT` and at most the caller's timeout.
    """

    __slots__ = ("busy", "last_icmp", "limit", "rttvar", "srtt", "start", "window")

    def __init__(self, start: int, limit: int) -> None:
        self.start = max(1, min(start, limit))
        self.window = float(self.start)
        self.limit = limit
        self.busy = 0
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.last_icmp: float | None = None  #: when an ICMP error from this address last came

    def timeout(self, ceiling: float) -> float:
        if self.srtt is None:
            return ceiling
        return min(ceiling, max(MIN_TIMEOUT, self.srtt + 4 * self.rttvar))

    def completed(self, result: PortResult) -> None:
        if result.outcome in _ANSWERS:
            sample = result.evidence.elapsed_ms / 1000
            if self.srtt is None:
                self.srtt, self.rttvar = sample, sample / 2
            else:
                self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - sample)
                self.srtt = 0.875 * self.srtt + 0.125 * sample
            if result.outcome in _BY_ICMP:
                self.last_icmp = time.monotonic()
        if result.outcome in _ANSWERS or result.outcome in _SILENT:
            self.window = min(float(self.limit), self.window + 1)

    def lost(self, window: float | None = None) -> None:
        """Halve the window (or ``window``, what it was when the loss happened)."""
        self.window = max(float(self.start), (self.window if window is None else window) / 2)


async def _probe_pass(
    items: Sequence[tuple[int, PortProbe]],
    states: dict[str, _Destination],
    everyone: asyncio.Semaphore,
    timeout: Callable[[_Destination], float],
    done: Callable[[int, PortResult], None],
    *,
    pace: tuple[int, float] | None = None,
) -> None:
    """Probe ``items`` (index, probe), each destination within its window; report each result.

    ``pace`` (count, seconds): start at most ``count`` probes of a destination per ``seconds``.
    """
    loop = asyncio.get_running_loop()
    slots: dict[str, list[float]] = {}  # pace: [start of the current slot, probes started in it]
    waking: set[str] = set()
    queues: dict[str, deque[tuple[int, PortProbe]]] = {}
    for item in items:
        queues.setdefault(item[1].address, deque()).append(item)
    finished: asyncio.Queue[tuple[int, PortResult | BaseException, _Destination]]
    finished = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()

    async def one(index: int, probe: PortProbe, state: _Destination) -> None:
        try:
            async with everyone:
                result: PortResult | BaseException = await probe_once(probe, timeout(state))
        except Exception as exc:  # handed to the scheduler, which raises it
            result = exc
        finished.put_nowait((index, result, state))

    def wake(address: str) -> None:
        waking.discard(address)
        fill(address)

    def paced(address: str) -> bool:
        """Whether the pace lets one more probe start now (if not, ``fill`` runs again later)."""
        if pace is None:
            return True
        count, seconds = pace
        now = loop.time()
        slot = slots.setdefault(address, [now, 0])
        if now - slot[0] >= seconds:
            slot[0], slot[1] = now, 0
        if slot[1] < count:
            slot[1] += 1
            return True
        if address not in waking:
            waking.add(address)
            loop.call_later(slot[0] + seconds - now, wake, address)
        return False

    def fill(address: str) -> None:
        state, queue = states[address], queues[address]
        while queue and state.busy < int(state.window) and paced(address):
            index, probe = queue.popleft()
            state.busy += 1
            task = loop.create_task(one(index, probe, state))
            running.add(task)
            task.add_done_callback(running.discard)

    for address in queues:
        fill(address)
    for _ in range(len(items)):
        index, result, state = await finished.get()
        state.busy -= 1
        if isinstance(result, BaseException):
            raise result
        state.completed(result)
        done(index, result)
        fill(result.probe.address)


async def probe_all(
    probes: Sequence[PortProbe],
    *,
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    progress: Callable[[PortResult], None] | None = None,
) -> list[PortResult]:
    """Probe every port, then look again at the silent ones; results in input order.

    First pass: every port, at most ``concurrency`` at once and, per destination address, a
    window that starts at :data:`PER_DESTINATION` and grows while probes complete (see
    :class:`_Destination`).  Until a destination has answered, a probe waits ``timeout``; then
    the wait adapts to its round-trip time (never below :data:`MIN_TIMEOUT`).

    Second look (``second_look``): silence may be an ICMP error the destination's kernel
    rate-limited (a burst of 6, then 1 per second), or a SYN the source's own firewall
    dropped.  So the silent ports of each destination are probed again in rounds, all of them
    at once, each round starting at least :data:`RATE_LIMIT_WAIT` after the last ICMP error
    from that destination (a token is then free: if any of them is rejected, one error comes
    back) and waiting at least that long (the kernel retransmits a SYN after 1 s, which shows
    a local drop).  A round that brings no new answer ends it: what is still silent is
    ``filtered`` (TCP) or ``open|filtered`` (UDP).
    """
    # every probe holds a file descriptor: stay below the open-files limit (a hard limit of
    # 1,024 is common in containers), with room for the interpreter's own
    concurrency = max(1, min(concurrency, raise_fd_limit() - FD_RESERVE))
    everyone = asyncio.Semaphore(concurrency)
    states = {
        address: _Destination(PER_DESTINATION, concurrency)
        for address in dict.fromkeys(p.address for p in probes)
    }
    results: list[PortResult | None] = [None] * len(probes)
    silent: dict[str, list[int]] = {}

    def first(index: int, result: PortResult) -> None:
        if result.outcome in _SILENT and second_look:
            silent.setdefault(result.probe.address, []).append(index)
            return
        if result.outcome in _SILENT:
            note = f"{result.evidence.note}; not probed again (--no-second-look)"
            result = replace(result, evidence=replace(result.evidence, note=note))
        results[index] = result
        if progress is not None:
            progress(result)

    await _probe_pass(
        list(enumerate(probes)), states, everyone, lambda s: s.timeout(timeout), first
    )
    await asyncio.gather(
        *(
            _second_look(states[address], indices, probes, results, everyone, timeout, progress)
            for address, indices in silent.items()
        )
    )
    return [r for r in results if r is not None]


async def _second_look(
    state: _Destination,
    indices: list[int],
    probes: Sequence[PortProbe],
    results: list[PortResult | None],
    everyone: asyncio.Semaphore,
    timeout: float,
    progress: Callable[[PortResult], None] | None,
) -> None:
    """Rounds of probes of one destination's silent ports, until a round brings nothing new.

    A SYN that "never left" (:data:`NEVER_LEFT`) is the source's own firewall, or a burst of
    the kernel's retransmissions overflowing a local queue (the timers of a round fire
    together).  It is believed only when it happens again with the window halved, down to
    where it started.
    """
    wait = max(timeout, RATE_LIMIT_WAIT)
    attempts = dict.fromkeys(indices, 1)
    last: dict[int, PortResult] = {}
    answered: list[int] = []  # in the current round
    retry: list[int] = []  # in the current round: to be asked again before believing it
    window: float  # the current round's window

    def seen(index: int, result: PortResult) -> None:
        attempts[index] += 1
        last[index] = result
        if result.evidence.note == NEVER_LEFT and window > state.start:
            retry.append(index)
        elif result.outcome not in _SILENT:
            answered.append(index)
            if result.outcome in (Outcome.OPEN, Outcome.REFUSED):
                state.lost()  # the first probe was lost on the way, not dropped

    def final(indices: Iterable[int]) -> None:
        for index in indices:
            result = last[index]
            result = replace(result, evidence=replace(result.evidence, attempts=attempts[index]))
            results[index] = result
            if progress is not None:
                progress(result)

    states = {probes[indices[0]].address: state}
    remaining = indices
    while remaining:
        if state.last_icmp is not None:
            await asyncio.sleep(max(0.0, state.last_icmp + RATE_LIMIT_WAIT - time.monotonic()))
        answered.clear()
        retry.clear()
        window = state.window
        # the kernel's retransmissions of a round fire together (its timers are coalesced):
        # spread the round's SYNs so that the retransmissions do not overflow a local queue
        await _probe_pass(
            [(i, probes[i]) for i in remaining],
            states,
            everyone,
            lambda _state: wait,
            seen,
            pace=(ROUND_PART, ROUND_SPREAD),
        )
        final(answered)
        asked_again = set(retry)
        if retry:
            state.lost(window)
        if not answered:  # nothing new: what is still silent stays so
            final(i for i in remaining if i not in asked_again)
            remaining = retry[:]
        else:
            done = set(answered)
            remaining = [i for i in remaining if i not in done]
