"""The IPv6 link traffic a host ruleset of portplan lets in that conntrack cannot: the router's
multicast listener queries and DHCPv6 replies, in real namespaces, with real nft and ip6tables.

A host behind the ruleset asks for DHCPv6 (to ``ff02::1:2``, as a client's Renew does) and a
router on its link answers from its link-local address, UDP 547 to 546: conntrack holds the
request as one to the multicast address, so the unicast reply is new to it, and only the
ruleset's own rule lets it in.  The router then sends what must stay out: such a datagram from
its global address, to another port or from another port, and multicast listener queries with
hop limit 2 or from a global address; and one query with hop limit 1 from its link-local
address, which must reach the host and be answered with a listener report (the answers an
MLD-snooping switch needs to keep forwarding the host's groups, its solicited-node group and so
the neighbour solicitations for its addresses, RFC 3810 and RFC 4890 section 4.4.1).

Each topology is first run without a ruleset, so every packet is seen to reach the host when
nothing filters (what stays out stays out because of the ruleset, not because it was lost).
The host side sees a packet only after the input hook: UDP sockets, and a raw ICMPv6 socket for
the queries.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

import examples
import netns
from portplan.targets import RuleOptions, get_target

pytestmark = pytest.mark.netns

ROUTER = ipaddress.IPv6Address("2001:db8:4::1")
HOST = ipaddress.IPv6Address("2001:db8:4::2")

#: what the router sends (by the tag the host sees) and whether the ruleset lets it in
EXPECTED = {
    "reply": True,  # the DHCPv6 reply: link-local, 547 -> 546
    "reply-from-global": False,  # 547 -> 546 from the router's global address
    "reply-to-547": False,  # link-local, 547 -> 547
    "reply-from-548": False,  # link-local, 548 -> 546
    "query-hl1": True,  # MLD query from link-local, hop limit 1
    "query-hl2": False,  # the same with hop limit 2
    "query-from-global": False,  # hop limit 1, from the router's global address
}

# The host: asks for DHCPv6 from its link-local address, port 546, to ff02::1:2, then records
# what reaches its ports 546 and 547 and its ICMPv6 socket (multicast listener queries, told
# apart by their maximum response delay) until its stdin closes.
_HOST_SCRIPT = r"""
import json, select, socket, struct, sys
index = socket.if_nametoindex("eth0")
link_local = sys.argv[1]
client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
client.bind((link_local, 546, 0, index))
other = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
other.bind((link_local, 547, 0, index))
icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
print("ready", flush=True)
sys.stdin.readline()
client.sendto(b"renew", ("ff02::1:2", 547, 0, index))
seen = []
while True:
    ready, _, _ = select.select([client, other, icmp, sys.stdin], [], [], 10)
    if not ready or sys.stdin in ready:
        break
    for sock in ready:
        data, peer = sock.recvfrom(2000)
        if sock is icmp:
            if data[0] == 130:
                seen.append("query-" + {1001: "hl1", 1002: "hl2", 1003: "from-global"}.get(
                    struct.unpack("!H", data[4:6])[0], "?"))
        else:
            seen.append(data.decode())
print(json.dumps(seen), flush=True)
"""

# The router: answers the host's request from its link-local address, then sends the rest and
# counts the host's listener reports (MLDv2, to ff02::16) after its query.
_ROUTER_SCRIPT = r"""
import json, socket, struct, sys, time
index = socket.if_nametoindex("eth0")
link_local, global_address = sys.argv[1], sys.argv[2]
def join(sock, group):
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                    socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index))
server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("::", 547))
join(server, "ff02::1:2")
icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
join(icmp, "ff02::16")
print("ready", flush=True)
server.settimeout(5)
request, host = server.recvfrom(100)
def udp(source, sport, dport, tag):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((source, sport, 0, index))
    sock.sendto(tag.encode(), (host[0], dport, 0, index))
    sock.close()
def query(source, hops, delay):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.bind((source, 0, 0, index))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    sock.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 5, 2, 0, 0, 1, 0]))  # router alert
    # an MLDv2 general query: maximum response delay (ms), the unspecified group, QQIC 125
    sock.sendto(struct.pack("!BBHHH16sBBH", 130, 0, 0, delay, 0, bytes(16), 2, 125, 0),
                ("ff02::1", 0, 0, index))
    sock.close()
udp(link_local, 547, 546, "reply")
udp(global_address, 547, 546, "reply-from-global")
udp(link_local, 547, 547, "reply-to-547")
udp(link_local, 548, 546, "reply-from-548")
query(global_address, 1, 1003)
query(link_local, 2, 1002)
query(link_local, 1, 1001)
reports, end = 0, time.time() + 2.5
icmp.settimeout(0.2)
while time.time() < end:
    try:
        data, peer = icmp.recvfrom(2000)
    except socket.timeout:
        continue
    reports += data[0] == 143 and peer[0].split("%")[0] == host[0].split("%")[0]
print(json.dumps({"request": request.decode(), "reports": reports}), flush=True)
"""


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard("nft", "ip6tables-restore"):
        yield


def _start(
    topo: netns.Topology, node: netns.Node, script: str, *args: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["ip", "netns", "exec", node.netns, sys.executable, "-I", "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise netns.NetnsError(f"{node.name}: {process.communicate(timeout=5)[1]}")
    return process


def _exchange(topo: netns.Topology, host: netns.Node, router: netns.Node) -> tuple[set[str], int]:
    """Run the exchange once: what reached the host, and the listener reports it sent."""
    host_ll = str(topo.link_local(host)).split("%")[0]
    router_ll = str(topo.link_local(router)).split("%")[0]
    processes = []
    try:
        routing = _start(topo, router, _ROUTER_SCRIPT, router_ll, str(ROUTER))
        processes.append(routing)
        asking = _start(topo, host, _HOST_SCRIPT, host_ll)
        processes.append(asking)
        assert asking.stdin is not None
        asking.stdin.write("go\n")
        asking.stdin.flush()
        router_out, router_err = routing.communicate(timeout=15)
        assert routing.returncode == 0, router_err
        host_out, host_err = asking.communicate("stop\n", timeout=15)
        assert asking.returncode == 0, host_err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=5)
    said = json.loads(router_out)
    assert said["request"] == "renew"
    return set(json.loads(host_out)), said["reports"]


@pytest.mark.parametrize("target", ["nftables", "iptables"])
def test_link_traffic_conntrack_cannot_see(target: str) -> None:
    plan = examples.example_plan("smart-id-nexus")
    files = get_target(target).render(plan, RuleOptions(hosts=("da01",)))
    with netns.topology() as topo:
        host = topo.add_node("host", [HOST])
        router = topo.add_node("router", [ROUTER])
        seen, reports = _exchange(topo, host, router)
        assert seen == set(EXPECTED), "without a ruleset every packet reaches the host"
        assert reports >= 1

        topo.load(host, "da01", files)
        seen, reports = _exchange(topo, host, router)
        assert seen == {tag for tag, admitted in EXPECTED.items() if admitted}
        assert reports >= 1, "the host answers the router's query"
