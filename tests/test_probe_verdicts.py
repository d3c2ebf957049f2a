"""Verdicts of single probes where the kernel could fool a prober: each verdict rests on what
came back from the destination, never on what this machine did to itself.

Real sockets on loopback only, in this machine's namespace or in a namespace the test makes
(the project's network-safety rule).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable
from typing import TypeVar

import pytest

import netns
from portplan.model.protocol import Protocol
from portplan.probe import verify as verify_module
from portplan.probe.checks import FlowCheck
from portplan.probe.dns import NameLookup
from portplan.probe.identify import Identification
from portplan.probe.outcomes import Outcome, PortProbe
from portplan.probe.rows import PortRanges, RemoteRow
from portplan.probe.verify import run_checks
from portplan.probe.wire import RESET_ONCE_ACCEPTED, probe_once

T = TypeVar("T")

#: probes UDP ports of 127.0.0.1 (the arguments), with a second look
_SELF = """
import asyncio, json, sys
from portplan.model.protocol import Protocol
from portplan.probe.engine import PortProbe, probe_all
ports = [int(p) for p in sys.argv[1:]]
probes = [PortProbe(address="127.0.0.1", port=p, protocol=Protocol.UDP, payload=b"portplan-listen")
          for p in ports]
results = asyncio.run(probe_all(probes, timeout=0.3))
print(json.dumps([[r.outcome.value, r.evidence.note, r.reply.decode()] for r in results]))
"""


@pytest.mark.netns
def test_a_udp_datagram_the_kernel_sends_to_its_own_socket_is_no_answer() -> None:
    # loopback rows and ports in the ephemeral range: the kernel may choose the probed port as
    # the source port, and the datagram then comes back to the probe's own socket; in a
    # namespace whose ephemeral range is that one port, it always does
    with netns.guard(), netns.namespace() as name:
        netns.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                   "net.ipv4.ip_local_port_range=40000 40000"])  # fmt: skip
        done = subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, "-c", _SELF, "40000"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ((outcome, note, reply),) = json.loads(done.stdout)
    assert (outcome, reply) == ("closed", "")
    assert note == (
        "the kernel chose the probed port as the source port, so the datagram would reach "
        "the probe's own socket: nothing is bound there (not sent)"
    )


#: probes UDP ports of 127.0.0.1 (the arguments) at once, 20 times: the outcomes of each run
_CROSSED = """
import asyncio, json, sys
from portplan.model.protocol import Protocol
from portplan.probe.engine import PortProbe, probe_all
from portplan.probe.listen import LISTENER_PROBE
ports = [int(p) for p in sys.argv[1:]]
runs = []
for _ in range(20):
    probes = [PortProbe(address="127.0.0.1", port=p, protocol=Protocol.UDP, payload=LISTENER_PROBE)
              for p in ports]
    results = asyncio.run(probe_all(probes, timeout=0.3, second_look=False))
    runs.append([[r.outcome.value, r.reply.decode()] for r in results])
print(json.dumps(runs))
"""


@pytest.mark.netns
def test_another_probes_datagram_is_no_answer() -> None:
    # two probes of this machine's own ports in its ephemeral range, on a host whose closed
    # ports stay silent (no ICMP errors leave it): the kernel may give probe A (to port X)
    # the source port that probe B probes, and B the source port X; B's datagram then
    # reaches A's socket, connected to X, and would be read as X's answer.  With an
    # ephemeral range of just the two probed ports, it does whenever neither probe got its
    # own port as its source port
    with netns.guard("nft"), netns.crossing_namespace(40000, 40001) as name:
        inside = ["ip", "netns", "exec", name]
        done = subprocess.run(
            [*inside, sys.executable, "-c", _CROSSED, "40000", "40001"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert [r for r in runs if any(outcome == "open" for outcome, _reply in r)] == []
    # the crossing did happen (each probe silent, neither got its own port), and was not
    # taken for an answer
    assert [["open|filtered", ""]] * 2 in runs, runs


#: probes port 9998 and 9999 of 127.0.0.1 over UDP and TCP: each outcome, and as expected blocked
_RARE_ICMP = """
import asyncio, json
from portplan.model.protocol import Protocol
from portplan.probe.engine import PortProbe
from portplan.probe.outcomes import as_blocked
from portplan.probe.wire import probe_once
async def main():
    found = []
    for protocol in (Protocol.UDP, Protocol.TCP):
        for port in (9998, 9999):
            probe = PortProbe(address="127.0.0.1", port=port, protocol=protocol,
                              payload=b"portplan-verify ")
            result = await probe_once(probe, 1.0)
            found.append([result.outcome.value, as_blocked(result).outcome.value,
                          result.evidence.icmp])
    return found
print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.netns
def test_an_icmp_unreachable_of_a_rarer_code_is_a_reject_not_a_local_error() -> None:
    # ICMP destination unreachable, code 8 (host isolated, the old administratively
    # prohibited) and code 5 (source route failed): the kernel reports ENONET and EOPNOTSUPP,
    # errors this machine never raises of its own for a probe; the ICMP message came back
    # about the probe, so it was sent, and something said no
    with netns.guard("nft"), netns.namespace() as name:
        inside = ["ip", "netns", "exec", name]
        netns.run([*inside, "nft", "add table inet no; add chain inet no in "
                   "{ type filter hook input priority 0; }; "
                   "add rule inet no in th dport 9998 reject with icmp 8; "
                   "add rule inet no in th dport 9999 reject with icmp 5"])  # fmt: skip
        done = subprocess.run(
            [*inside, sys.executable, "-c", _RARE_ICMP],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    icmp = ["ICMP type 3 code 8 from 127.0.0.1", "ICMP type 3 code 5 from 127.0.0.1"] * 2
    assert json.loads(done.stdout) == [["rejected", "rejected", i] for i in icmp]


async def _reset_once_accepted(work: Awaitable[T]) -> T:
    """Run ``work`` against ``_LISTENER``, closed (a reset to the connection in its queue) as
    soon as the probe's handshake has completed, before the probe reads its socket."""
    task = asyncio.ensure_future(work)
    while not select.select([_LISTENER[0]], [], [], 0)[0]:
        await asyncio.sleep(0)
    _LISTENER[0].close()
    return await task


_LISTENER: list[socket.socket] = []


def _listener() -> int:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    _LISTENER[:] = [listener]
    return int(listener.getsockname()[1])


def test_a_connection_reset_once_accepted_is_an_open_port_not_a_refusal() -> None:
    # the SYN went through and the service accepted (a reset comes only once connected: in
    # SYN_SENT a reset is ECONNREFUSED): the path is open, whatever the service did next
    probe = PortProbe(address="127.0.0.1", port=_listener(), protocol=Protocol.TCP)
    result = asyncio.run(_reset_once_accepted(probe_once(probe, 1.0)))
    assert (result.outcome, result.evidence.errno) == (Outcome.OPEN, "ECONNRESET")
    assert result.evidence.note == RESET_ONCE_ACCEPTED
    blocked = FlowCheck(row=_row(probe.port, None), probe=probe, result=result, expect_blocked=True)
    assert not blocked.passed  # never "blocked" on a path that is open


def test_a_service_reset_once_accepted_is_not_identified() -> None:
    port = _listener()
    probe = PortProbe(address="127.0.0.1", port=port, protocol=Protocol.TCP)
    check = FlowCheck(row=_row(port, "http"), probe=probe)
    work = run_checks([check], timeout=1.0, concurrency=8, secrets={}, second_look=False,
                      deadline=time.monotonic() + 30)  # fmt: skip
    asyncio.run(_reset_once_accepted(work))
    assert check.outcome is Outcome.OPEN
    assert check.identification is not None
    assert (check.identification.protocol, check.identification.error) == (
        None,
        "the service reset the connection once it was accepted",
    )
    assert not check.passed
    assert not any("deadline" in note for note in check.notes)


def _row(port: int, app_protocol: str | None) -> RemoteRow:
    return RemoteRow(
        key="p/web",
        reference="",
        source="client",
        destination="server",
        destination_component="server",
        destination_addresses=(ipaddress.ip_network("127.0.0.1/32"),),
        protocol=Protocol.TCP,
        app_protocol=app_protocol,
        ports=PortRanges(((port, port),)),
    )


def test_a_dynamic_rpc_port_is_probed_from_the_source_its_mapper_was() -> None:
    # the endpoint mapper's check came from a source known by name only (what the name
    # resolved to is how report --verify credits its row): so does each port it names
    row = RemoteRow(
        key="p/rpc", reference="", source="client", destination="server",
        destination_component="server",
        destination_addresses=(ipaddress.ip_network("127.0.0.1/32"),), protocol=Protocol.TCP,
        app_protocol="msrpc", ports=PortRanges(((135, 135), (49152, 65535))),
    )  # fmt: skip
    lookup = NameLookup(name="client.example", addresses=("127.0.0.2",))
    probe = PortProbe(address="127.0.0.1", port=135, protocol=Protocol.TCP, source="127.0.0.2")
    mapper = FlowCheck(row=row, probe=probe, source_lookup=lookup)
    extra: list[FlowCheck] = []
    found = Identification(
        expected="msrpc", protocol="msrpc", details={"dynamic_ports": "49700,1025"}
    )
    verify_module._identified(mapper, found, {("p/rpc", "127.0.0.1", 135)}, extra)
    (follow_up,) = extra
    assert (follow_up.probe.port, follow_up.probe.source) == (49700, "127.0.0.2")
    assert follow_up.source_lookup == lookup
    assert "1025" in mapper.notes[-1]  # named, not probed: the plan does not hold it


#: probes TCP and UDP port 5555 of the address given, from the namespace it runs in
_REJECTED = """
import asyncio, json, sys
from portplan.model.protocol import Protocol
from portplan.probe.engine import PortProbe, probe_all
probes = [PortProbe(address=sys.argv[1], port=5555, protocol=p)
          for p in (Protocol.TCP, Protocol.UDP)]
results = asyncio.run(probe_all(probes, timeout=1.0, second_look=False))
print(json.dumps([[r.outcome.value, r.evidence.errno, r.evidence.icmp] for r in results]))
"""


@pytest.mark.netns
def test_a_firewall_that_rejects_with_protocol_unreachable_rejects() -> None:
    # nftables and iptables offer `reject with icmp type prot-unreachable`: the ICMP error
    # arrives (ENOPROTOOPT), so the probe left this machine and was rejected on the way
    with netns.guard("nft"), netns.topology() as topo:
        src = topo.add_node("src", [ipaddress.ip_address("192.0.2.2")])
        dst = topo.add_node("dst", [ipaddress.ip_address("198.51.100.2")])
        topo.nft(dst, "table inet t {\n chain input {\n  type filter hook input priority 0;\n"
                      "  meta l4proto { tcp, udp } th dport 5555 reject with icmp prot-unreachable"
                      "\n }\n}\n")  # fmt: skip
        done = subprocess.run(
            ["ip", "netns", "exec", src.netns, sys.executable, "-c", _REJECTED, "198.51.100.2"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for outcome, code, icmp in json.loads(done.stdout):
        assert (outcome, code) == ("rejected", "ENOPROTOOPT")
        assert icmp == "ICMP type 3 code 2 from 198.51.100.2"


#: probes TCP ports of 127.0.0.1 (the arguments after the first) at once, N times (the first):
#: the outcomes and notes of each run
_MET = """
import asyncio, json, sys
from portplan.model.protocol import Protocol
from portplan.probe.engine import PortProbe, probe_all
runs = []
for _ in range(int(sys.argv[1])):
    probes = [PortProbe(address="127.0.0.1", port=int(p), protocol=Protocol.TCP)
              for p in sys.argv[2:]]
    results = asyncio.run(probe_all(probes, timeout=0.3, second_look=False))
    runs.append([[r.outcome.value, r.evidence.note] for r in results])
print(json.dumps(runs))
"""


def _met(port_range: str, runs: int, *ports: int) -> list[list[list[str]]]:
    """What :data:`_MET` found in a namespace whose ephemeral range is ``port_range`` and
    whose closed ports stay silent (its outgoing TCP resets dropped)."""
    with netns.guard("nft"), netns.namespace() as name:
        inside = ["ip", "netns", "exec", name]
        netns.run([*inside, "sysctl", "-q", "-w", f"net.ipv4.ip_local_port_range={port_range}"])
        netns.run([*inside, "nft", "add table inet quiet; add chain inet quiet out "
                   "{ type filter hook output priority 0; }; add rule inet quiet out "
                   "tcp flags rst drop"])  # fmt: skip
        done = subprocess.run(
            [*inside, sys.executable, "-c", _MET, str(runs), *map(str, ports)],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: list[list[list[str]]] = json.loads(done.stdout)
    return found


@pytest.mark.netns
def test_two_tcp_probes_of_this_machine_never_meet_each_other() -> None:
    # probe A (to 40000) given source port 40002 while probe B (to 40002) is given 40000:
    # each SYN reaches the other probe's socket, still trying (nothing refuses it: resets are
    # dropped), and a TCP simultaneous open connects the two probes, both read open.  With an
    # ephemeral range of 40000-40003, it did in a quarter to a third of the runs
    runs = _met("40000 40003", 20, 40000, 40002)
    assert [r for r in runs if ["open", None] in r] == []
    # nor does a probe take the port it probes (it would connect to itself, refused): each
    # is silent, as a port is where resets are dropped
    silent = ["filtered", "no answer within 0.3 s; not probed again (--no-second-look)"]
    assert runs == [[silent, silent]] * 20


@pytest.mark.netns
def test_a_probe_of_this_machine_left_only_probed_ports_as_its_source_is_not_sent() -> None:
    # the ephemeral range is the ports probed: any source port the kernel gives would be a
    # probed port, so no probe is sent
    note = (
        "not sent: every source port the kernel offered (at most 32) is a port this run "
        "probes on this machine, where a probe sent from it could meet that port's own probe "
        "(a TCP simultaneous open, which reads open); probe fewer of this machine's ports in "
        "its ephemeral range (net.ipv4.ip_local_port_range) at once"
    )
    ((first, second),) = _met("40000 40001", 1, 40000, 40001)
    assert first == second == ["local-error", note]
