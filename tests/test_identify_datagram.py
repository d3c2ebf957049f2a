"""The datagram exchange every UDP identifier shares (DNS, NTP, SNMP, RADIUS), where the kernel
could fool it: a datagram counts only when it came from the probed port, never when this
machine sent it to itself.

Real sockets on loopback, in a namespace the test makes (the project's network-safety rule):
its ephemeral port range is narrowed to the probed ports so that the kernel's choice of source
port, rare elsewhere, happens every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import netns

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
