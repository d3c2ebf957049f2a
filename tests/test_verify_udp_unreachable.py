"""verify's identification of a silent UDP port that meets an ICMP port unreachable: the port
is `closed`, as a probe that met it is, never left `open|filtered`.

On loopback addresses of this machine, with the deployment and helpers of
test_verify_identify (client 127.0.0.2, server 127.0.0.3); the server is a thread of this
process that stays silent to the probe's datagram and closes its socket when the DNS query
comes (a service stopped between the probe and the identification; or, as the kernel sees it,
a probe whose ICMP error its rate limit held back), so that the query's second try meets the
kernel's port unreachable.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from portplan.probe.identify import ProbeContext, identify
from portplan.probe.listen import LISTENER_PROBE
from test_verify_identify import SERVER, _deployment, _free_port, _only_check, _verify


@contextmanager
def _closing_on_request(port: int) -> Iterator[threading.Event]:
    """A UDP socket on 127.0.0.3:``port`` that never answers and closes at the first datagram
    that is not verify's probe (set: it has closed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((SERVER, port))
    sock.settimeout(0.1)
    done, closed = threading.Event(), threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            if not data.startswith(LISTENER_PROBE):
                sock.close()
                closed.set()
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield closed
    finally:
        done.set()
        thread.join(10)
        sock.close()


def test_a_silent_udp_port_whose_identification_meets_a_port_unreachable_is_closed(
    tmp_path: Path,
) -> None:
    port = _free_port()
    deployment = _deployment(tmp_path, "udp", port, "dns")
    with _closing_on_request(port) as closed:
        code, report = _verify(deployment, "--flow", "flow")
    assert closed.is_set(), "the DNS query never came"
    check = _only_check(report)
    assert (code, check["outcome"], check["passed"]) == (1, "closed", False), check
    evidence = check["evidence"]
    assert isinstance(evidence, dict), check
    assert evidence["errno"] == "ECONNREFUSED", evidence
    assert evidence["icmp"] == f"ICMP type 3 code 3 from {SERVER}", evidence
    assert evidence["note"].startswith(
        "the dns identification's request met an ICMP port unreachable: nothing is bound there"
    ), evidence
    identification = check["identification"]
    assert isinstance(identification, dict), check
    assert identification["error"] == "closed (ICMP port unreachable)", identification
    assert identification["details"]["unreachable"] == "closed", identification


def test_the_port_unreachable_an_identification_meets_names_its_sender() -> None:
    """Every UDP identifier reads who sent the port unreachable: the destination here."""
    for protocol in ("dns", "ntp", "snmp", "radius"):
        context = ProbeContext(
            address=SERVER, port=_free_port(), timeout=1.0, secrets={"radius": b"secret"}
        )
        found = asyncio.run(identify(protocol, context))
        assert found is not None
        assert (found.protocol, found.error) == (None, "closed (ICMP port unreachable)"), found
        assert dict(found.details) == {
            "icmp": f"ICMP type 3 code 3 from {SERVER}",
            "unreachable": "closed",
            "errno": "ECONNREFUSED",
            "meaning": "an ICMP port unreachable: nothing is bound there",
        }, found
