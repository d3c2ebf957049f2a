"""The async port prober: every probe of a verification, scheduled, each with an honest
outcome and its evidence (one probe on the wire is :mod:`portplan.probe.wire`, one pass of
probes :mod:`portplan.probe._pass`).

Linux rate-limits ICMP errors (about 6 at once, then 1 per second per peer), so the ports
that stay silent in the first pass are looked at again before they are called ``filtered``
(TCP) or ``open|filtered`` (UDP); see :func:`probe_all`.  A silent TCP port's socket carries
on through the kernel's first retransmission of its SYN (1 s), which is its second look
where no ICMP error came in the run; the others are probed again in rounds a second apart.
A round's wait also outlasts the kernel's first SYN retransmission, which tells a SYN the
source's own firewall drops (the kernel swallows its EPERM) from one lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace

from portplan.probe._pass import (
    MIN_TIMEOUT,
    PER_DESTINATION,
    SILENT,
    Destination,
    Opened,
    Run,
    probe_pass,
)
from portplan.probe.crossing import Crossing
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
    RESET_ONCE_ACCEPTED,
    carry_on,
    first_bytes,
    hand_over,
    peek,
    probe_once,
)

__all__ = [
    "BLOCKED_OUTCOMES",
    "DEADLINE_CAME",
    "INTERRUPTED",
    "MIN_TIMEOUT",
    "PER_DESTINATION",
    "RESET_ONCE_ACCEPTED",
    "Destination",
    "Evidence",
    "Opened",
    "Outcome",
    "PortProbe",
    "PortResult",
    "family_of",
    "first_bytes",
    "hand_over",
    "interrupted",
    "peek",
    "probe_all",
    "probe_once",
]

#: a second look at silent ports starts this long after the destination's last ICMP error
#: (rate limit: 1 per second per peer) and waits at least this long (SYN retransmitted at 1 s)
RATE_LIMIT_WAIT = 1.2
#: when the kernel sends a SYN that got no answer again (its initial retransmission timeout),
#: and how late its timer may fire (the timer wheel rounds 1 s up by up to 8 jiffies: 80 ms
#: at HZ=100, 64 ms at HZ=1000, more under load)
SYN_RETRANSMISSION = 1.0
RETRANSMISSION_SLACK = 0.1
#: file descriptors left for everything but probes (the --concurrency cap keeps below it)
FD_RESERVE = 64
#: a round of second looks starts this many probes of a destination every ROUND_SPREAD s
ROUND_PART = 256
ROUND_SPREAD = 0.05
#: a first pass whose silent ports carry on starts at most this many probes (of all
#: destinations together) every CARRY_SPREAD s: the kernel fires the retransmission timers of
#: 32 to 64 ms together, and a burst of more than about 1,000 SYNs overflows a local queue
#: (they never leave)
CARRY_PART = 400
CARRY_SPREAD = 0.032
#: the longest an open port is given to send its first bytes unprompted (``portplan listen``)
FIRST_BYTES_WAIT = 0.5
#: why a port is ``unfinished``: the run's deadline, or an interruption (Ctrl-C), came first
DEADLINE_CAME = "the deadline came first"
INTERRUPTED = "the run was interrupted first (Ctrl-C)"

#: a silent first-pass port's socket, carried on through the kernel's SYN retransmission: the
#: probe's index, its verdict, and whether the retransmission left (see ``wire.carry_on``)
_Carried = tuple[int, PortResult, bool]


#: the note of a SYN that never left, seen on a first look and not asked again
_NEVER_LEFT_ONCE = (
    "the SYN was retransmitted but never left this machine (its own firewall drops it, or a "
    "burst of the kernel's retransmissions overflowed a local queue); not probed again "
    "(--no-second-look)"
)


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
    So does the cancellation of the task that runs it (``asyncio.run`` cancels it on Ctrl-C):
    the results come back all the same, the unsettled ports ``unfinished`` with a note that
    the run was interrupted, and the task stays cancelling (``Task.cancelling()``) so that its
    caller can tell (see :func:`interrupted`).

    First pass: every port, at most ``concurrency`` at once and, per destination address, a
    window that starts at :data:`PER_DESTINATION` and grows while probes complete (see
    :class:`~portplan.probe._pass.Destination`).  Until a destination has answered, a probe
    waits ``timeout``; then the wait adapts to its round-trip time (never below
    :data:`MIN_TIMEOUT`).

    Second look (``second_look``): silence may be an ICMP error the destination's kernel
    rate-limited (a burst of 6, then 1 per second), a SYN lost on the way, or a SYN the
    source's own firewall dropped.  A silent TCP port's socket is not closed when its wait is
    over: it carries on through the kernel's retransmission of the SYN, 1 s after it, and an
    adaptive wait more (where the open-files limit leaves room beyond probing; a port
    without that room goes straight to the rounds below).  When the retransmission left this
    machine and still nothing came back, and no ICMP error came back in the whole run, the
    port is ``filtered`` with two attempts.  Every other silent port is probed again in rounds
    (UDP; a retransmission that never left; a destination where a port answered only to its
    retransmission; every port once an ICMP error came), all of a destination's at once,
    each round starting at least
    :data:`RATE_LIMIT_WAIT` after the last ICMP error from that destination (a token is then
    free: if any of them is rejected, one error comes back) and waiting at least that long
    (the kernel retransmits a SYN after 1 s, which shows a local drop).  A round that brings
    no new answer ends it: what is still silent is ``filtered`` (TCP) or ``open|filtered``
    (UDP).

    ``opened``: what to do with each open TCP port on the probe's own connection (see
    :data:`~portplan.probe._pass.Opened`), while probing goes on; the run ends when every such
    use has ended.
    """
    # every probe holds a file descriptor: stay below the open-files limit (a hard limit of
    # 1,024 is common in containers), with room for the interpreter's own
    room = raise_fd_limit() - FD_RESERVE
    concurrency = max(1, min(concurrency, room))
    run = Run(
        concurrency,
        max(0, room - concurrency),
        opened,
        min(timeout, FIRST_BYTES_WAIT),
        Crossing(probes),
    )
    states = {
        address: Destination(PER_DESTINATION, concurrency)
        for address in dict.fromkeys(p.address for p in probes)
    }
    results: list[PortResult | None] = [None] * len(probes)
    silent: dict[str, list[int]] = {}
    seen: dict[int, PortResult] = {}  #: first-look silence, kept for a deadline's report
    carried: dict[str, list[asyncio.Future[_Carried | None]]] = {}
    answered: set[str] = set()  #: destinations where a port answered only as it carried on

    def report(index: int, result: PortResult) -> None:
        results[index] = result
        if progress is not None:
            progress(result)

    def first(index: int, result: PortResult) -> None:
        if result.outcome in SILENT and second_look:
            silent.setdefault(result.probe.address, []).append(index)
            seen[index] = result
            return
        if result.outcome in SILENT:
            note = f"{result.evidence.note}; not probed again (--no-second-look)"
            result = replace(result, evidence=replace(result.evidence, note=note))
        elif not second_look and result.evidence.note == NEVER_LEFT:  # seen once, unconfirmed
            result = replace(result, evidence=replace(result.evidence, note=_NEVER_LEFT_ONCE))
        report(index, result)

    def held(
        index: int, result: PortResult, state: Destination
    ) -> Callable[[socket.socket], Awaitable[None]]:
        seen[index] = result
        verdict: asyncio.Future[_Carried | None] = asyncio.get_running_loop().create_future()
        carried.setdefault(result.probe.address, []).append(verdict)
        started = time.monotonic() - result.evidence.elapsed_ms / 1000
        retransmitted = started + SYN_RETRANSMISSION + RETRANSMISSION_SLACK
        until = max(started + timeout, retransmitted + state.timeout(timeout))

        async def use(sock: socket.socket) -> None:
            try:
                answer, again = await carry_on(result.probe, sock, started, until)
            except Exception as exc:  # raised where the verdicts are awaited
                verdict.set_exception(exc)
                return
            if answer.outcome is Outcome.FILTERED or answer.evidence.note == NEVER_LEFT:
                verdict.set_result((index, answer, again))
                return
            # an answer is final at once (a deadline may come before the others settle)
            answered.add(result.probe.address)
            state.answered_again(answer, again)
            report(index, _attempts(answer, 2 if again else 1))
            verdict.set_result(None)
            if answer.outcome is Outcome.OPEN and opened is not None and not answer.evidence.errno:
                # (an open port the service reset has no connection left to use)
                await opened(index, answer, sock, state.timeout(run.first_wait))

        return use

    async def look() -> None:
        await probe_pass(
            list(enumerate(probes)),
            states,
            run,
            lambda s: s.timeout(timeout),
            first,
            pace=(CARRY_PART, CARRY_SPREAD) if second_look else None,
            pace_all=True,
            held=held if second_look else None,
        )
        rounds = await _carried_on(carried, states, answered, report)
        for address, indices in silent.items():
            rounds.setdefault(address, {}).update(dict.fromkeys(indices, 1))
        await asyncio.gather(
            *(
                _second_look(states, address, tries, probes, results, run, timeout, progress)
                for address, tries in rounds.items()
                if tries
            )
        )
        await run.settle()

    why = DEADLINE_CAME
    try:
        if deadline is None:
            await look()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(look(), max(0.0, deadline - time.monotonic()))
    except asyncio.CancelledError:  # Ctrl-C: what was found so far is the run's result
        why = INTERRUPTED
    finally:
        await run.stop()
    for index, result in enumerate(results):
        if result is None:
            results[index] = unfinished = _unfinished(probes[index], seen.get(index), why)
            if progress is not None:
                progress(unfinished)
    return [r for r in results if r is not None]


async def _carried_on(
    carried: dict[str, list[asyncio.Future[_Carried | None]]],
    states: dict[str, Destination],
    answered: set[str],
    report: Callable[[int, PortResult], None],
) -> dict[str, dict[int, int]]:
    """Settle the silent first-pass ports that carried on through the SYN's retransmission
    (those that answered then are reported already, ``None``); return those the rounds must
    ask again, per destination: index, attempts so far.

    Silence through a retransmission that left is reported ``filtered``, unless a port of
    that destination answered only then (``answered``), or an ICMP error came in the run
    (the rate limit may have kept the retransmissions unanswered).  Silence without a
    retransmission that left (not yet sent, or :data:`NEVER_LEFT`) is no second look: the
    rounds give it one.
    """
    rounds: dict[str, dict[int, int]] = {}
    twice: dict[str, list[tuple[int, PortResult]]] = {}
    for address, verdicts in carried.items():
        tries = rounds.setdefault(address, {})
        for verdict in await asyncio.gather(*verdicts):
            if verdict is None:
                continue
            index, result, retransmitted = verdict
            if result.outcome is Outcome.FILTERED and retransmitted:
                twice.setdefault(address, []).append((index, _attempts(result, 2)))
            else:
                tries[index] = 2 if retransmitted else 1
    icmp = _last_icmp(states) is not None
    for address, silent in twice.items():
        for index, result in silent:
            if icmp or address in answered:
                rounds[address][index] = result.evidence.attempts
            else:
                report(index, result)
    return rounds


def _attempts(result: PortResult, attempts: int) -> PortResult:
    return replace(result, evidence=replace(result.evidence, attempts=attempts))


def interrupted() -> bool:
    """Whether the task running this was cancelled (Ctrl-C, in ``asyncio.run``) and went on
    to report what it had found (:func:`probe_all` does)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _unfinished(probe: PortProbe, silent: PortResult | None, why: str) -> PortResult:
    """The result of a port the deadline (or an interruption, ``why``) came before: what was
    seen, and that it is open."""
    if silent is None:
        note = "not probed before the deadline (--deadline)"
        return PortResult(
            probe=probe,
            outcome=Outcome.UNFINISHED,
            evidence=Evidence(
                attempts=0, note=note if why == DEADLINE_CAME else f"not probed: {why}"
            ),
        )
    note = f"silent on the first look ({silent.outcome.value} so far); {why}"
    return replace(silent, outcome=Outcome.UNFINISHED, evidence=replace(silent.evidence, note=note))


def _last_icmp(states: dict[str, Destination]) -> float | None:
    """When an ICMP error about any destination last came (a router rate-limits its errors
    to this machine across every destination behind it)."""
    return max((s.last_icmp for s in states.values() if s.last_icmp is not None), default=None)


async def _second_look(
    every: dict[str, Destination],
    address: str,
    tries: dict[int, int],
    probes: Sequence[PortProbe],
    results: list[PortResult | None],
    run: Run,
    timeout: float,
    progress: Callable[[PortResult], None] | None,
) -> None:
    """Rounds of probes of the silent ports of destination ``address`` (``tries``: index,
    attempts so far; ``every``: each destination of the run), until a round brings nothing
    new.

    A SYN that "never left" (:data:`NEVER_LEFT`) is the source's own firewall, or a burst of
    the kernel's retransmissions overflowing a local queue (the timers of a round fire
    together).  It is believed only when it happens again with the window halved, down to
    where it started.
    """
    wait = max(timeout, RATE_LIMIT_WAIT)
    attempts = dict(tries)
    last: dict[int, PortResult] = {}
    answered: list[int] = []  # in the current round
    retry: list[int] = []  # in the current round: to be asked again before believing it
    window: float  # the current round's window

    def seen(index: int, result: PortResult) -> None:
        attempts[index] += 1
        last[index] = result
        if result.evidence.note == NEVER_LEFT and window > state.start:
            retry.append(index)
        elif result.outcome not in SILENT:
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

    state = every[address]
    remaining = list(tries)
    states = {address: state}
    starved = False
    while remaining:
        last_icmp = _last_icmp(every) if starved else state.last_icmp
        if last_icmp is not None:
            await asyncio.sleep(max(0.0, last_icmp + RATE_LIMIT_WAIT - time.monotonic()))
        begun = time.monotonic()
        answered.clear()
        retry.clear()
        window = state.window
        # the kernel's retransmissions of a round fire together (its timers are coalesced):
        # spread the round's SYNs so that the retransmissions do not overflow a local queue
        await probe_pass(
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
        # an ICMP error about another destination in the meantime may have used the token
        # an answer here needed (a router's limit covers every destination behind it)
        latest = _last_icmp(every)
        starved = not answered and latest is not None and latest > begun
        if not answered and not starved:  # nothing new: what is still silent stays so
            final(i for i in remaining if i not in asked_again)
            remaining = retry[:]
        else:
            done = set(answered)
            remaining = [i for i in remaining if i not in done]
