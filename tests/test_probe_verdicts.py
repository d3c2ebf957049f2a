"""Verdicts of single probes where the kernel could fool a prober: each verdict rests on what
came back from the destination, never on what this machine did to itself.

Real sockets on loopback only, in this machine's namespace or in a namespace the test makes
(the project's network-safety rule).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import netns

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
