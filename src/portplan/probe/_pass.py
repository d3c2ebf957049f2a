"""One pass of probes: each destination within its window, at most so many at once.

The scheduling that every pass of a run shares (:mod:`portplan.probe.engine` runs the passes):
a window of probes per destination address that grows as TCP's slow start does, a round-trip
estimate that sets how long a probe waits, and the file descriptors of probes and of the
connections kept beyond them (an open port's, for identification; a silent port's, through
the kernel's SYN retransmission).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from portplan.model.protocol import Protocol
from portplan.probe.crossing import Crossing
from portplan.probe.outcomes import Outcome, PortProbe, PortResult
from portplan.probe.wire import connect_tcp, probe_once

__all__ = [
    "ANSWERS",
    "BY_ICMP",
    "MIN_TIMEOUT",
    "PER_DESTINATION",
    "SILENT",
    "Destination",
    "Held",
    "Opened",
    "Run",
    "probe_pass",
]

#: probes of one destination address at once to start with (more, before it has answered,
#: looks like an attack and meets limits); the window then grows as probes complete
PER_DESTINATION = 5
#: the shortest first-pass wait once a destination's round-trip time is known
MIN_TIMEOUT = 0.1
SILENT = (Outcome.FILTERED, Outcome.OPEN_FILTERED)
#: outcomes that an ICMP error brought (the kind of answer the kernel rate-limits)
BY_ICMP = (Outcome.REJECTED, Outcome.NO_ROUTE, Outcome.CLOSED)
#: outcomes that say something about the path (a round-trip sample, a reason to grow the window)
ANSWERS = (Outcome.OPEN, Outcome.REFUSED, *BY_ICMP)


class Destination:
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
        if result.outcome in ANSWERS:
            sample = result.evidence.elapsed_ms / 1000
            if self.srtt is None:
                self.srtt, self.rttvar = sample, sample / 2
            else:
                self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - sample)
                self.srtt = 0.875 * self.srtt + 0.125 * sample
            self._heard(result)
        if result.outcome in ANSWERS or result.outcome in SILENT:
            self.window = min(float(self.limit), self.window + 1)

    def answered_again(self, result: PortResult, retransmitted: bool) -> None:
        """A silent port answered as its socket carried on: no round-trip sample (the wait
        began with the first SYN), but an ICMP error's time, or, when the SYN was sent
        again, the loss of the first one."""
        if not self._heard(result) and retransmitted:
            self.lost()

    def _heard(self, result: PortResult) -> bool:
        """Note when an ICMP error answered (a TCP port refused by ICMP counts too)."""
        if result.outcome in BY_ICMP or result.evidence.icmp is not None:
            self.last_icmp = time.monotonic()
            return True
        return False

    def lost(self, window: float | None = None) -> None:
        """Halve the window (or ``window``, what it was when the loss happened)."""
        self.window = max(float(self.start), (self.window if window is None else window) / 2)


#: what becomes of a TCP port found open, on the probe's own connection: called with the
#: probe's index, its result, the connected socket (which the engine closes afterwards) and how
#: long to wait for the service to speak first (the destination's adaptive timeout, at most
#: the run's ``first_wait``); it runs while probing goes on
Opened = Callable[[int, PortResult, socket.socket, float], Awaitable[None]]
#: what becomes of a silent TCP port's connection that is still trying (see ``probe_pass``):
#: called with the probe's index, its first-look result and its destination, it gives what
#: uses the socket (which the engine closes afterwards)
Held = Callable[[int, PortResult, "Destination"], Callable[[socket.socket], Awaitable[None]]]

#: a probe done: its index, its result (or the error it raised), its destination, and the
#: connection of an open port, or of a silent one, that is kept
_Finished = tuple[int, "PortResult | BaseException", "Destination", "socket.socket | None"]


class Run:
    """What the passes of one run share: the file descriptors (a probe's socket, and a
    connection kept beyond its probe while it is used) and the connections being used.

    Probes in flight are at most ``concurrency``.  A kept connection moves to a budget of its
    own, the open-files limit beyond what probing may use (``spare``), so that connections
    kept for a while do not hold probing back; where the limit leaves no room beyond probing,
    an open port's connection keeps its probe's slot instead, and a silent port's is closed.
    """

    __slots__ = ("crossing", "first_wait", "following", "held", "opened", "probing", "spare")

    def __init__(
        self,
        concurrency: int,
        spare: int,
        opened: Opened | None,
        first_wait: float,
        crossing: Crossing,
    ) -> None:
        self.probing = asyncio.Semaphore(concurrency)
        #: the source ports each probe of this machine must not take (every pass, the
        #: rounds of second looks too: none of the run's probes may meet another)
        self.crossing = crossing
        self.spare = spare
        self.held = 0  #: kept connections in the spare budget
        self.opened = opened
        self.first_wait = first_wait
        self.following: set[asyncio.Task[None]] = set()

    def has_spare(self) -> bool:
        """Whether a kept connection would fit the spare budget now."""
        return self.held < self.spare

    def keep(self, sock: socket.socket, use: Callable[[socket.socket], Awaitable[None]]) -> None:
        """Hand a probe's connection, with its file descriptor, to ``use``, which runs while
        probing goes on; the socket is closed when ``use`` ends.

        The probe's slot is still taken: it is given back if the connection fits the spare
        budget, and otherwise once the connection is done with.
        """
        spare = self.has_spare()
        if spare:
            self.held += 1
            self.probing.release()

        async def run() -> None:
            try:
                with sock:
                    await use(sock)
            finally:
                if spare:
                    self.held -= 1
                else:
                    self.probing.release()

        task = asyncio.get_running_loop().create_task(run())
        self.following.add(task)
        task.add_done_callback(self.following.discard)

    async def settle(self) -> None:
        """Wait until every kept connection is done with."""
        while self.following:
            await asyncio.gather(*self.following)

    async def stop(self) -> None:
        """Cut every kept connection short (the deadline, or an error)."""
        for task in self.following:
            task.cancel()
        if self.following:
            await asyncio.gather(*self.following, return_exceptions=True)


async def probe_pass(
    items: Sequence[tuple[int, PortProbe]],
    states: dict[str, Destination],
    run: Run,
    timeout: Callable[[Destination], float],
    done: Callable[[int, PortResult], None],
    *,
    pace: tuple[int, float] | None = None,
    pace_all: bool = False,
    held: Held | None = None,
) -> None:
    """Probe ``items`` (index, probe), each destination within its window; report each result.

    ``pace`` (count, seconds): start at most ``count`` probes of a destination per ``seconds``
    (with ``pace_all``, of all destinations together).
    A TCP port found open keeps its connection when the run has an ``opened``; it is handed
    over once the result is reported.  With ``held``, a TCP port still silent when its wait
    is over keeps its connection too, still trying, when the spare budget has room: it goes
    to ``held`` instead of being reported (without room, it is reported silent as usual).
    """
    loop = asyncio.get_running_loop()
    slots: dict[str, list[float]] = {}  # pace: [start of the current slot, probes started in it]
    waking: dict[str, set[str]] = {}  # pace: the destinations held back, by slot
    timers: dict[str, asyncio.TimerHandle] = {}  # pace: when a slot's destinations go on
    stopped = False
    queues: dict[str, deque[tuple[int, PortProbe]]] = {}
    for item in items:
        queues.setdefault(item[1].address, deque()).append(item)
    finished: asyncio.Queue[_Finished] = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()
    everyone, opened = run.probing, run.opened
    keep, hold = opened is not None, held is not None

    async def one(index: int, probe: PortProbe, state: Destination) -> None:
        await everyone.acquire()
        sock: socket.socket | None = None
        avoid = run.crossing.avoid(probe)
        try:
            if (keep or hold) and probe.protocol is Protocol.TCP:
                result, sock = await connect_tcp(
                    probe, timeout(state), keep=keep, hold=hold, avoid=avoid
                )
            else:
                result = await probe_once(probe, timeout(state), avoid=avoid)
        except Exception as exc:  # handed to the scheduler, which raises it
            finished.put_nowait((index, exc, state, None))
            return
        finally:
            if sock is None:  # a kept connection keeps its slot until it is done with
                everyone.release()
        finished.put_nowait((index, result, state, sock))

    def wake(key: str) -> None:
        timers.pop(key, None)
        for address in waking.pop(key, ()):
            fill(address)

    def paced(address: str) -> bool:
        """Whether the pace lets one more probe start now (if not, ``fill`` runs again later)."""
        if pace is None:
            return True
        count, seconds = pace
        key = "" if pace_all else address
        now = loop.time()
        slot = slots.setdefault(key, [now, 0])
        if now - slot[0] >= seconds:
            slot[0], slot[1] = now, 0
        if slot[1] < count:
            slot[1] += 1
            return True
        waking.setdefault(key, set()).add(address)
        if key not in timers:
            timers[key] = loop.call_later(slot[0] + seconds - now, wake, key)
        return False

    def fill(address: str) -> None:
        if stopped:  # cut short: a paced destination's timer may still fire
            return
        state, queue = states[address], queues[address]
        while queue and state.busy < int(state.window) and paced(address):
            index, probe = queue.popleft()
            state.busy += 1
            task = loop.create_task(one(index, probe, state))
            running.add(task)
            task.add_done_callback(running.discard)

    def kept(index: int, result: PortResult, state: Destination, sock: socket.socket) -> bool:
        """Hand over a kept connection; whether the result is reported later, by ``held``."""
        if result.outcome is Outcome.OPEN and opened is not None:
            wait = state.timeout(run.first_wait)
            run.keep(sock, lambda s: opened(index, result, s, wait))
            return False
        if held is not None and result.outcome is Outcome.FILTERED and run.has_spare():
            run.keep(sock, held(index, result, state))
            return True
        sock.close()
        everyone.release()
        return False

    try:
        for address in queues:
            fill(address)
        for _ in range(len(items)):
            index, result, state, sock = await finished.get()
            state.busy -= 1
            if isinstance(result, BaseException):
                raise result
            state.completed(result)
            if sock is None or not kept(index, result, state, sock):
                done(index, result)
            fill(result.probe.address)
    finally:  # cut short (the deadline): no probe goes on, every socket is closed
        stopped = True
        for timer in timers.values():
            timer.cancel()
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        while not finished.empty():  # connections nobody took over
            _index, _result, _state, left = finished.get_nowait()
            if left is not None:
                left.close()
                everyone.release()
