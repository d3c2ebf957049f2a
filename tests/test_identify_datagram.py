"""The datagram exchange every UDP identifier shares (DNS, NTP, SNMP, RADIUS), where the kernel
could fool it: a datagram counts only when it came from the probed port, never when this
machine sent it to itself.

Real sockets on loopback (an echo peer on 127.0.0.3, a thread of this process), or in a
namespace the test makes (the project's network-safety rule), whose ephemeral port range is
narrowed to the probed ports so that the kernel's choice of source port, rare elsewhere,
happens every time.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import netns
from portplan.probe.identify import ProbeContext, identify
from portplan.probe.identify._datagram import ask
from test_verify_identify import SERVER, _free_port

#: identifies UDP port 40000 of 127.0.0.1 by each UDP identifier: what each found
_SELF = """
import asyncio, json
from portplan.probe.identify import ProbeContext, identify
async def main():
    found = {}
    for protocol in ("dns", "ntp", "snmp", "radius"):
        context = ProbeContext(address="127.0.0.1", port=40000, timeout=1.0,
                               secrets={"radius": b"loop-test-secret"})
        identification = await identify(protocol, context)
        found[protocol] = [identification.protocol, identification.error,
                           dict(identification.details)]
    return found
print(json.dumps(asyncio.run(main())))
"""


def _inside(name: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, "-c", script, *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip


@pytest.mark.netns
def test_a_request_the_kernel_sends_to_the_identifiers_own_socket_is_no_answer() -> None:
    # a port of this machine in its ephemeral range, nothing bound there: the kernel may choose
    # it as the request's source port, and the request then comes back to the identifier's own
    # socket, which would read it as an answer that is not its protocol and make the port
    # `open`; in a namespace whose ephemeral range is that one port, it always does
    with netns.guard(), netns.namespace() as name:
        netns.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                   "net.ipv4.ip_local_port_range=40000 40000"])  # fmt: skip
        done = _inside(name, _SELF)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for protocol in ("dns", "ntp", "snmp", "radius"):
        identified, error, details = found[protocol]
        assert (identified, details) == (None, {}), found  # no `answer`: the port stays silent
        assert error.startswith("closed (nothing is bound there: the kernel chose"), found


#: identifies UDP ports 40000 (DNS) and 40001 (NTP) of 127.0.0.1 at once, 10 times: what each
#: found, each time
_CROSSED = """
import asyncio, json
from portplan.probe.identify import ProbeContext, identify
async def both():
    found = await asyncio.gather(
        identify("dns", ProbeContext(address="127.0.0.1", port=40000, timeout=0.6)),
        identify("ntp", ProbeContext(address="127.0.0.1", port=40001, timeout=0.6)),
    )
    return [[f.protocol, f.error, dict(f.details)] for f in found]
async def main():
    return [await both() for _ in range(10)]
print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.netns
def test_another_identifiers_request_is_no_answer() -> None:
    # two identifications of this machine's own ports in its ephemeral range, on a host whose
    # closed ports stay silent (no ICMP errors leave it): the kernel may give the one asking
    # port A the source port B, and the one asking B the source port A; each request then
    # reaches the other's socket, from the very port that socket asks, and would be read as
    # an answer that is not its protocol (the port `open`, nothing bound there).  With an
    # ephemeral range of just the two ports, it happens whenever neither got its own port
    with netns.guard("nft"), netns.crossing_namespace(40000, 40001) as name:
        done = _inside(name, _CROSSED)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    answered = [run for run in runs if any("answer" in details for *_, details in run)]
    assert answered == [], answered
    # the crossing did happen (neither got its own port: both silent), and was not taken for
    # an answer
    silent = [run for run in runs if all(error.startswith("no answer") for _, error, _ in run)]
    assert silent, runs


@pytest.mark.parametrize("protocol", ["dns", "ntp", "snmp", "radius"])
def test_an_echo_of_the_request_is_an_answer_that_says_so(protocol: str) -> None:
    """An echo service sends each request back: the port answered (it is `open`), and the
    error says it was our own request, never that a server of the protocol answered (SNMPv3
    with a GetRequest) or that the secret is wrong (RADIUS)."""
    port = _free_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((SERVER, port))
    sock.settimeout(0.1)
    done = threading.Event()

    def echo() -> None:
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(data, peer)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    try:
        context = ProbeContext(
            address=SERVER, port=port, timeout=2.0, secrets={"radius": b"loop-test-secret"}
        )
        found = asyncio.run(identify(protocol, context))
    finally:
        done.set()
        thread.join(10)
        sock.close()
    assert found is not None
    assert found.protocol is None, found
    assert "answer" in found.details, found
    assert found.error is not None and "our own" in found.error, found


#: from 127.0.0.2 (``--from-address``), identifies NTP on 127.0.0.3:5353 (bound, silent) 20
#: times while two processes send datagrams from 127.0.0.5 to 127.0.0.2:40000, the one port
#: of the namespace's ephemeral range: the errors of the identifications that found an answer
_SPRAYED = """
import asyncio, json, socket, subprocess, sys
from portplan.probe.identify import ProbeContext, identify
SPRAY = '''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.5", int(sys.argv[1])))
while True:
    try:
        sock.sendto(b"not from the port", ("127.0.0.2", 40000))
    except OSError:
        pass
'''
senders = [subprocess.Popen([sys.executable, "-c", SPRAY, str(port)]) for port in (50000, 50001)]
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent.bind(("127.0.0.3", 5353))
async def main():
    answered = []
    for _ in range(20):
        context = ProbeContext(address="127.0.0.3", port=5353, timeout=0.2,
                               source_address="127.0.0.2")
        found = await identify("ntp", context)
        if "answer" in found.details:
            answered.append(found.error)
    return answered
try:
    print(json.dumps(asyncio.run(main())))
finally:
    for sender in senders:
        sender.kill()
        sender.wait()
"""


@pytest.mark.netns
def test_a_datagram_from_another_address_is_never_the_ports_answer() -> None:
    # with --from-address the socket is bound before it is connected: in between it takes
    # datagrams from anyone, and the kernel keeps them for it after the connect; a sender
    # that keeps sending to the port the socket will get (the namespace's ephemeral range is
    # that one port) lands some there every time
    with netns.guard(), netns.namespace() as name:
        netns.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                   "net.ipv4.ip_local_port_range=40000 40000"])  # fmt: skip
        done = _inside(name, _SPRAYED)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_an_answer_queued_behind_an_ignored_datagram_past_the_wait_is_read() -> None:
    # a datagram ignored (a stray) whose judging ends after the exchange's wait: the answer
    # that came right behind it is read, never lost to a wait of 0 s, which asyncio 3.11
    # times out before looking at the queue
    port = _free_port()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((SERVER, port))
    peer.settimeout(5)

    def answer_twice() -> None:
        _data, sender = peer.recvfrom(512)
        peer.sendto(b"stray", sender)
        peer.sendto(b"answer", sender)

    thread = threading.Thread(target=answer_twice, daemon=True)
    thread.start()
    context = ProbeContext(address=SERVER, port=port, timeout=0.6)
    judged: list[bytes] = []

    def judge(item: bytes) -> bool:
        judged.append(item)
        if item == b"stray":
            time.sleep(0.6)  # past the two thirds of the timeout the exchange waits
            return False
        return item == b"answer"

    def unanswered() -> None:
        pass

    async def run() -> None:
        await asyncio.wait_for(ask(context, lambda: b"request", judge, unanswered=unanswered), 5)

    try:
        asyncio.run(run())
    finally:
        thread.join(5)
        peer.close()
    assert judged == [b"stray", b"answer"]


#: a silent server on 127.0.0.3:5353 and its DNS identification from 127.0.0.1 (ephemeral
#: ports 40000-40001), while forged ICMP port unreachables from 127.0.0.3 quote a datagram of
#: the kind given: to another port of the host, from another source port, or (the control)
#: from the identification's own source ports to the probed port
_FORGED = r"""
import asyncio, json, socket, struct, sys, threading, time
from portplan.probe.identify import ProbeContext, identify

kind = sys.argv[1]
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.3", 5353))

def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total & 0xFFFF) + (total >> 16)
    return ~(total + (total >> 16)) & 0xFFFF

def ip_header(source, destination, protocol, length):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 1, 0, 64, protocol, 0,
                         socket.inet_aton(source), socket.inet_aton(destination))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]

def unreachable(source_port, destination_port):
    quoted = struct.pack("!HHHH", source_port, destination_port, 8, 0)
    quoted = ip_header("127.0.0.1", "127.0.0.3", 17, len(quoted)) + quoted
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    return ip_header("127.0.0.3", "127.0.0.1", 1, len(icmp)) + icmp

quoting = {
    "another port": [(40000, 5354), (40001, 5354)],
    "another source port": [(40002, 5353), (39999, 5353)],
    "the request": [(40000, 5353), (40001, 5353)],
}[kind]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
stop = threading.Event()

def forge():
    while not stop.is_set():
        for ports in quoting:
            raw.sendto(unreachable(*ports), ("127.0.0.1", 0))
        time.sleep(0.01)

thread = threading.Thread(target=forge)
thread.start()
try:
    found = asyncio.run(identify("dns", ProbeContext(address="127.0.0.3", port=5353, timeout=1.0)))
finally:
    stop.set()
    thread.join()
print(json.dumps([found.error, dict(found.details)]))
"""


@pytest.mark.netns
@pytest.mark.parametrize("kind", ["another port", "another source port"])
def test_a_port_unreachable_about_another_datagram_never_closes_a_silent_port(kind: str) -> None:
    """A UDP identification's request that meets an ICMP port unreachable reads the port
    `closed` (or `rejected`); one about another datagram, to another port of the same host or
    from another source port (an earlier probe's, another exchange's), never reaches its socket:
    the kernel hands a connected socket only the errors that quote its own addresses and
    ports.  The control shows the forged message is delivered when it quotes the request."""
    with netns.guard(), netns.namespace() as name:
        netns.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                   "net.ipv4.ip_local_port_range=40000 40001"])  # fmt: skip
        stray = _inside(name, _FORGED, kind)
        control = _inside(name, _FORGED, "the request")
    assert stray.returncode == 0, stray.stderr
    error, details = json.loads(stray.stdout)
    assert "unreachable" not in details, (error, details)
    assert error.startswith("no answer (open|filtered)"), (error, details)
    assert control.returncode == 0, control.stderr
    error, details = json.loads(control.stdout)
    assert (error, details["unreachable"]) == ("closed (ICMP port unreachable)", "closed"), details
