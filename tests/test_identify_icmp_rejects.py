"""A UDP identification's request that meets a hard ICMP error other than a port unreachable (an
administratively prohibited, a protocol unreachable...) reads as the probe's own datagram
meeting the same message would: `rejected`, never left `open|filtered`.

Real packets in a namespace the test makes: the machine holds the client's and the server's
documentation addresses on its loopback, and its nftables input chain rejects the server's
ports with one ICMP message each (sent from the server's address: the destination).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import machine
import netns
from test_verify_identify import _deployment

CLIENT4, SERVER4 = "192.0.2.2", "192.0.2.3"
CLIENT6, SERVER6 = "2001:db8::2", "2001:db8::3"

#: port -> the reject of its rule, by family (``ip`` or ``ip6``)
_REJECTS = {
    5301: ("ip", "icmp type admin-prohibited"),
    5302: ("ip", "icmp type host-prohibited"),
    5303: ("ip", "icmp type net-prohibited"),
    5304: ("ip", "icmp type prot-unreachable"),
    5305: ("ip", "icmpx admin-prohibited"),
    5306: ("ip6", "icmpx admin-prohibited"),
    5307: ("ip6", "icmpv6 type policy-fail"),
    5308: ("ip6", "icmpv6 type admin-prohibited"),
}
_RULESET = "\n".join(
    [
        "table inet pp_rejects {",
        "    chain input {",
        "        type filter hook input priority 0; policy accept;",
        # verify's own probe ("portplan-verify ..."): silence, so that only the request meets it
        "        udp dport 5400-5401 @th,64,64 0x706f7274706c616e drop",
        f"        ip daddr {SERVER4} udp dport 5400 reject with icmp type admin-prohibited",
        f"        ip6 daddr {SERVER6} udp dport 5401 reject with icmpx admin-prohibited",
        *(
            f"        {family} daddr {SERVER4 if family == 'ip' else SERVER6} udp dport {port} "
            f"reject with {reject}"
            for port, (family, reject) in _REJECTS.items()
        ),
        "    }",
        "}",
    ]
)

#: each port of _REJECTS identified by each UDP identifier, and probed: what each found
_BOTH = """
import asyncio, json, sys
from portplan.model.protocol import Protocol
from portplan.probe.identify import ProbeContext, identify
from portplan.probe.outcomes import PortProbe
from portplan.probe.wire import probe_once
async def main():
    found = {}
    for port, server, client in json.loads(sys.argv[1]):
        probe = PortProbe(address=server, port=port, protocol=Protocol.UDP, source=client)
        result = await probe_once(probe, 1.0)
        found[port] = {"probe": [result.outcome.value, result.evidence.errno,
                                 result.evidence.icmp]}
        for protocol in ("dns", "snmp", "ntp", "radius"):
            context = ProbeContext(address=server, port=port, timeout=1.0,
                                   source_address=client, secrets={"radius": b"secret"})
            identification = await identify(protocol, context)
            found[port][protocol] = [identification.protocol, identification.error,
                                     dict(identification.details)]
    return found
print(json.dumps(asyncio.run(main())))
"""

#: the ICMP message each rule sends (IPv4: type 3; IPv6: type 1), its errno, and its name
_SENT = {
    5301: ("ICMP type 3 code 13", "EHOSTUNREACH", "an ICMP administratively prohibited"),
    5302: ("ICMP type 3 code 10", "EHOSTUNREACH", "an ICMP host administratively prohibited"),
    5303: ("ICMP type 3 code 9", "ENETUNREACH", "an ICMP network administratively prohibited"),
    5304: ("ICMP type 3 code 2", "ENOPROTOOPT", "an ICMP protocol unreachable"),
    5305: ("ICMP type 3 code 13", "EHOSTUNREACH", "an ICMP administratively prohibited"),
    5306: ("ICMPv6 type 1 code 1", "EACCES", "an ICMPv6 administratively prohibited"),
    5307: ("ICMPv6 type 1 code 5", "EACCES", "an ICMPv6 source address failed policy"),
    5308: ("ICMPv6 type 1 code 1", "EACCES", "an ICMPv6 administratively prohibited"),
}
_BY_DESTINATION = "the destination rejects it: a firewall of its own, not a router on the way"


def _inside(name: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, *argv],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip


def _lab(name: str) -> None:
    netns.hold_addresses(name, CLIENT4, SERVER4, CLIENT6, SERVER6)
    netns.run(["ip", "netns", "exec", name, "nft", "-f", "-"], stdin=_RULESET)


@pytest.mark.netns
def test_a_request_an_icmp_reject_meets_reads_as_the_probe_that_meets_it() -> None:
    jobs = [
        [port, SERVER4 if family == "ip" else SERVER6, CLIENT4 if family == "ip" else CLIENT6]
        for port, (family, _reject) in _REJECTS.items()
    ]
    with netns.guard("nft"), netns.namespace() as name:
        _lab(name)
        done = _inside(name, ["-c", _BOTH, json.dumps(jobs)])
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for port, server, _client in jobs:
        icmp, errno_name, message = _SENT[port]
        icmp = f"{icmp} from {server}"
        seen = found[str(port)]
        # the probe's own datagram: what the identification's request must read as too
        assert seen["probe"] == ["rejected", errno_name, icmp], (port, seen)
        for protocol in ("dns", "snmp", "ntp", "radius"):
            identified, error, details = seen[protocol]
            meaning = f"{message}: {_BY_DESTINATION}"
            assert (identified, error) == (None, f"rejected ({meaning})"), (port, protocol, seen)
            assert details == {
                "icmp": icmp,
                "unreachable": "rejected",
                "errno": errno_name,
                "meaning": meaning,
            }, (port, protocol, seen)


@pytest.mark.netns
@pytest.mark.parametrize(
    ("client", "server", "port", "icmp", "errno_name", "message"),
    [
        (CLIENT4, SERVER4, 5400, "ICMP type 3 code 13", "EHOSTUNREACH",
         "an ICMP administratively prohibited"),
        (CLIENT6, SERVER6, 5401, "ICMPv6 type 1 code 1", "EACCES",
         "an ICMPv6 administratively prohibited"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("app_protocol", ["dns", "snmp"])
def test_verify_rejects_a_silent_udp_port_whose_identification_is_prohibited(
    tmp_path: Path,
    app_protocol: str,
    client: str,
    server: str,
    port: int,
    icmp: str,
    errno_name: str,
    message: str,
) -> None:
    # the probe's own datagram is dropped (silence: open|filtered); the identification's
    # request meets the destination's admin-prohibited, as a probe would: rejected
    deployment = _deployment(tmp_path, "udp", port, app_protocol, client=client, server=server)
    with netns.guard("nft"), netns.namespace() as name:
        _lab(name)
        done = _inside(name, ["-m", "portplan", "verify", str(deployment), "--on", "client",
                              "--format", "json", "--timeout", "0.5"])  # fmt: skip
    assert done.returncode == 1, done.stderr
    checks = machine.document(done.stdout, "verify")["checks"]
    assert len(checks) == 1, checks
    check = checks[0]
    assert (check["outcome"], check["passed"]) == ("rejected", False), check
    evidence = check["evidence"]
    assert evidence["errno"] == errno_name, evidence
    assert evidence["icmp"] == f"{icmp} from {server}", evidence
    assert evidence["note"].startswith(
        f"the {app_protocol} identification's request met {message}: {_BY_DESTINATION} (the "
        "probe's own datagram met silence: no answer within"
    ), evidence
    assert check["identification"]["details"]["unreachable"] == "rejected", check
