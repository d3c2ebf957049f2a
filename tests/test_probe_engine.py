"""The prober's per-destination window and round-trip estimate, and probing in input order.

Real sockets on loopback only (the project's network-safety rule).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

from portplan.model._types import Protocol
from portplan.probe.engine import (
    MIN_TIMEOUT,
    PER_DESTINATION,
    Destination,
    Evidence,
    Outcome,
    PortProbe,
    PortResult,
    probe_all,
)
from portplan.probe.wire import connected_to_itself

PROBE = PortProbe(address="127.0.0.1", port=9, protocol=Protocol.TCP)


def _result(outcome: Outcome, ms: float) -> PortResult:
    return PortResult(probe=PROBE, outcome=outcome, evidence=Evidence(elapsed_ms=ms))


def test_window_starts_small_grows_with_completions_and_halves_on_loss() -> None:
    state = Destination(PER_DESTINATION, limit=12)
    assert state.window == PER_DESTINATION
    for _ in range(3):
        state.completed(_result(Outcome.REFUSED, 0.2))
    state.completed(_result(Outcome.FILTERED, 500))  # silence: no sign of loss either
    assert state.window == PER_DESTINATION + 4
    for _ in range(10):
        state.completed(_result(Outcome.OPEN, 0.2))
    assert state.window == 12  # never beyond the limit
    state.lost()
    assert state.window == 6
    state.lost()
    state.lost()
    assert state.window == PER_DESTINATION  # never below where it started
    # a local failure says nothing about the path
    state.completed(_result(Outcome.LOCAL_ERROR, 0.0))
    assert state.window == PER_DESTINATION


def test_timeout_adapts_to_the_round_trip_within_bounds() -> None:
    state = Destination(PER_DESTINATION, limit=100)
    assert state.timeout(2.0) == 2.0  # nothing known yet: the caller's timeout
    state.completed(_result(Outcome.OPEN, 0.1))
    assert state.timeout(2.0) == MIN_TIMEOUT  # a fast answer: the floor
    slow = Destination(PER_DESTINATION, limit=100)
    slow.completed(_result(Outcome.REFUSED, 300))  # srtt 0.3 s, rttvar 0.15 s
    assert abs(slow.timeout(2.0) - 0.9) < 1e-9
    assert slow.timeout(0.5) == 0.5  # never beyond the caller's timeout
    assert slow.last_icmp is None
    slow.completed(_result(Outcome.REJECTED, 300))
    assert slow.last_icmp is not None  # an ICMP error: the next round waits for the limit


def test_results_come_back_in_input_order() -> None:
    listeners = []
    for _ in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        listeners.append(sock)
    open_ports = {s.getsockname()[1] for s in listeners}
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    closed = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    ports = [closed, *sorted(open_ports)] * 40
    probes = [PortProbe(address="127.0.0.1", port=p, protocol=Protocol.TCP) for p in ports]
    try:
        results = asyncio.run(probe_all(probes, timeout=2.0))
    finally:
        for sock in listeners:
            sock.close()
    assert [r.probe for r in results] == probes
    assert [r.outcome for r in results] == [
        Outcome.OPEN if p in open_ports else Outcome.REFUSED for p in ports
    ]
    assert {r.evidence.attempts for r in results} == {1}


LOW_LIMIT = r"""
import asyncio, resource, socket, sys
from collections import Counter
from portplan.model._types import Protocol
from portplan.probe.engine import PortProbe, probe_all
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # a container's kind of hard limit
spare = socket.socket()
spare.bind(("127.0.0.1", 0))
port = spare.getsockname()[1]
spare.close()
probes = [PortProbe(address="127.0.0.1", port=port, protocol=Protocol.TCP)] * 1500
results = asyncio.run(probe_all(probes, timeout=2.0, concurrency=2048))
print(dict(Counter(r.outcome.value for r in results)))
"""


def test_concurrency_stays_below_the_open_files_limit() -> None:
    # 2,048 at once asked for, 256 file descriptors allowed: no probe may fail with EMFILE
    done = subprocess.run(
        [sys.executable, "-c", LOW_LIMIT], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'refused': 1500}"


def test_a_connection_to_itself_is_no_open_port() -> None:
    # what the kernel does when it picks the probed port as the source port (loopback rows,
    # ports in the ephemeral range): TCP's simultaneous open connects the socket to itself
    with socket.socket() as itself:
        itself.bind(("127.0.0.1", 0))
        itself.connect(itself.getsockname())
        assert connected_to_itself(itself)
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())
        assert not connected_to_itself(client)


def test_a_deadline_stops_a_paced_first_pass() -> None:
    """The first pass is paced (400 probes every 32 ms); a deadline that comes while probes
    wait for their turn ends the run, and none of them starts afterwards: listeners probed
    last, well after the deadline's turn, are never connected to."""
    listeners = []
    for _ in range(20):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        listeners.append(listener)
    late = [s.getsockname()[1] for s in listeners]
    probes = [PortProbe(address="127.0.0.1", port=port, protocol=Protocol.TCP)
              for port in [*range(20000, 25000), *late]]  # fmt: skip

    async def main() -> list[PortResult]:
        results = await probe_all(probes, timeout=0.5, deadline=time.monotonic() + 0.3)
        await asyncio.sleep(2.0)  # past the turns the pace had given the late probes
        return results

    try:
        results = asyncio.run(main())
        connected = 0
        for listener in listeners:
            try:
                listener.accept()[0].close()
                connected += 1
            except BlockingIOError:
                pass
    finally:
        for listener in listeners:
            listener.close()
    assert len(results) == len(probes)
    assert {r.outcome for r in results[-20:]} == {Outcome.UNFINISHED}
    assert connected == 0
