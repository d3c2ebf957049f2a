"""The async port prober: every probe of a verification, scheduled, each with an honest
outcome and its evidence (one probe on the wire is :mod:`portplan.probe.wire`).

Linux rate-limits ICMP errors (about 6 at once, then 1 per second per peer), so the ports
that stay silent in the first pass are probed again, in rounds a second apart, before they are
called ``filtered`` (TCP) or ``open|filtered`` (UDP); see :func:`probe_all`.  A round's wait
also outlasts the kernel's first SYN retransmission (1 s), which tells a SYN the source's own
firewall drops (the kernel swallows its EPERM) from one lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace

from portplan.model.protocol import Protocol
from portplan.probe.outcomes import (
    BLOCKED_OUTCOMES,
    Evidence,
    Outcome,
    PortProbe,
    PortResult,
    family_of,
    raise_fd_limit,
)
from portplan.probe.wire import (
    NEVER_LEFT,
    connect_tcp,
    first_bytes,
    hand_over,
    peek,
    probe_once,
)

__all__ = [
    "BLOCKED_OUTCOMES",
    "Evidence",
    "Opened",
    "Outcome",
    "PortProbe",
    "PortResult",
    "family_of",
    "first_bytes",
    "hand_over",
    "peek",
    "probe_all",
    "probe_once",
]

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
#: the longest an open port is given to send its first bytes unprompted (``portplan listen``)
FIRST_BYTES_WAIT = 0.5
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


#: what becomes of a TCP port found open, on the probe's own connection: called with the
#: probe's index, its result, the connected socket (which the engine closes afterwards) and how
#: long to wait for the service to speak first (the destination's adaptive timeout, at most
#: :data:`FIRST_BYTES_WAIT`); it runs while probing goes on
Opened = Callable[[int, PortResult, socket.socket, float], Awaitable[None]]


#: a probe done: its index, its result (or the error it raised), its destination, and the
#: connection of an open port that is kept
_Finished = tuple[int, "PortResult | BaseException", "_Destination", "socket.socket | None"]


class _Run:
    """What the passes of one run share: the file descriptors (a probe's socket, and an open
    port's connection while ``opened`` uses it) and the connections being used.

    Probes in flight are at most ``concurrency``.  A kept connection moves to a budget of its
    own, the open-files limit beyond what probing may use (``spare``), so that connections
    kept for a while do not hold probing back; where the limit leaves no room beyond probing,
    a kept connection keeps its probe's slot instead.
    """

    __slots__ = ("first_wait", "following", "held", "opened", "probing", "spare")

    def __init__(
        self, concurrency: int, spare: int, opened: Opened | None, first_wait: float
    ) -> None:
        self.probing = asyncio.Semaphore(concurrency)
        self.spare = spare
        self.held = 0  #: kept connections in the spare budget
        self.opened = opened
        self.first_wait = first_wait
        self.following: set[asyncio.Task[None]] = set()

    def follow(
        self, opened: Opened, index: int, result: PortResult, sock: socket.socket, wait: float
    ) -> None:
        """Hand an open port's connection, with its file descriptor, to ``opened``.

        The probe's slot is still taken: it is given back if the connection fits the spare
        budget, and otherwise once the connection is done with.
        """
        spare = self.held < self.spare
        if spare:
            self.held += 1
            self.probing.release()

        async def use() -> None:
            try:
                with sock:
                    await opened(index, result, sock, wait)
            finally:
                if spare:
                    self.held -= 1
                else:
                    self.probing.release()

        task = asyncio.get_running_loop().create_task(use())
        self.following.add(task)
        task.add_done_callback(self.following.discard)

    async def settle(self) -> None:
        """Wait until every handed-over connection is done with."""
        while self.following:
            await asyncio.gather(*self.following)

    async def stop(self) -> None:
        """Cut every handed-over connection short (the deadline, or an error)."""
        for task in self.following:
            task.cancel()
        if self.following:
            await asyncio.gather(*self.following, return_exceptions=True)


async def _probe_pass(
    items: Sequence[tuple[int, PortProbe]],
    states: dict[str, _Destination],
    run: _Run,
    timeout: Callable[[_Destination], float],
    done: Callable[[int, PortResult], None],
    *,
    pace: tuple[int, float] | None = None,
) -> None:
    """Probe ``items`` (index, probe), each destination within its window; report each result.

    ``pace`` (count, seconds): start at most ``count`` probes of a destination per ``seconds``.
    A TCP port found open keeps its connection when the run has an ``opened``; it is handed
    over once the result is reported.
    """
    loop = asyncio.get_running_loop()
    slots: dict[str, list[float]] = {}  # pace: [start of the current slot, probes started in it]
    waking: set[str] = set()
    queues: dict[str, deque[tuple[int, PortProbe]]] = {}
    for item in items:
        queues.setdefault(item[1].address, deque()).append(item)
    finished: asyncio.Queue[_Finished] = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()
    everyone, opened = run.probing, run.opened

    async def one(index: int, probe: PortProbe, state: _Destination) -> None:
        await everyone.acquire()
        sock: socket.socket | None = None
        try:
            if opened is not None and probe.protocol is Protocol.TCP:
                result, sock = await connect_tcp(probe, timeout(state))
            else:
                result = await probe_once(probe, timeout(state))
        except Exception as exc:  # handed to the scheduler, which raises it
            finished.put_nowait((index, exc, state, None))
            return
        finally:
            if sock is None:  # a kept connection keeps its slot until it is done with
                everyone.release()
        finished.put_nowait((index, result, state, sock))

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

    try:
        for address in queues:
            fill(address)
        for _ in range(len(items)):
            index, result, state, sock = await finished.get()
            state.busy -= 1
            if isinstance(result, BaseException):
                raise result
            state.completed(result)
            if sock is not None and opened is not None:
                run.follow(opened, index, result, sock, state.timeout(run.first_wait))
            done(index, result)
            fill(result.probe.address)
    finally:  # cut short (the deadline): no probe goes on, every socket is closed
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        while not finished.empty():  # connections of open ports nobody took over
            _index, _result, _state, left = finished.get_nowait()
            if left is not None:
                left.close()
                everyone.release()


async def probe_all(
    probes: Sequence[PortProbe],
    *,
    timeout: float = 1.0,
    concurrency: int = 2048,
    second_look: bool = True,
    progress: Callable[[PortResult], None] | None = None,
    deadline: float | None = None,
    opened: Opened | None = None,
) -> list[PortResult]:
    """Probe every port, then look again at the silent ones; results in input order.

    ``deadline`` (a :func:`time.monotonic` time) ends the whole run: a port not settled by
    then is ``unfinished``, with what was seen of it (silence on a first look, or nothing).

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

    ``opened``: what to do with each open TCP port on the probe's own connection (see
    :data:`Opened`), while probing goes on; the run ends when every such use has ended.
    """
    # every probe holds a file descriptor: stay below the open-files limit (a hard limit of
    # 1,024 is common in containers), with room for the interpreter's own
    room = raise_fd_limit() - FD_RESERVE
    concurrency = max(1, min(concurrency, room))
    run = _Run(concurrency, max(0, room - concurrency), opened, min(timeout, FIRST_BYTES_WAIT))
    states = {
        address: _Destination(PER_DESTINATION, concurrency)
        for address in dict.fromkeys(p.address for p in probes)
    }
    results: list[PortResult | None] = [None] * len(probes)
    silent: dict[str, list[int]] = {}
    seen: dict[int, PortResult] = {}  #: first-look silence, kept for a deadline's report

    def first(index: int, result: PortResult) -> None:
        if result.outcome in _SILENT and second_look:
            silent.setdefault(result.probe.address, []).append(index)
            seen[index] = result
            return
        if result.outcome in _SILENT:
            note = f"{result.evidence.note}; not probed again (--no-second-look)"
            result = replace(result, evidence=replace(result.evidence, note=note))
        results[index] = result
        if progress is not None:
            progress(result)

    async def look() -> None:
        await _probe_pass(list(enumerate(probes)), states, run, lambda s: s.timeout(timeout), first)
        await asyncio.gather(
            *(
                _second_look(states[address], ixs, probes, results, run, timeout, progress)
                for address, ixs in silent.items()
            )
        )
        await run.settle()

    try:
        if deadline is None:
            await look()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(look(), max(0.0, deadline - time.monotonic()))
    finally:
        await run.stop()
    for index, result in enumerate(results):
        if result is None:
            results[index] = unfinished = _unfinished(probes[index], seen.get(index))
            if progress is not None:
                progress(unfinished)
    return [r for r in results if r is not None]


def _unfinished(probe: PortProbe, silent: PortResult | None) -> PortResult:
    """The result of a port the deadline came before: what was seen, and that it is open."""
    if silent is None:
        return PortResult(
            probe=probe,
            outcome=Outcome.UNFINISHED,
            evidence=Evidence(attempts=0, note="not probed before the deadline (--deadline)"),
        )
    note = f"silent on the first look ({silent.outcome.value} so far); the deadline came first"
    return replace(silent, outcome=Outcome.UNFINISHED, evidence=replace(silent.evidence, note=note))


async def _second_look(
    state: _Destination,
    indices: list[int],
    probes: Sequence[PortProbe],
    results: list[PortResult | None],
    run: _Run,
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
            run,
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
