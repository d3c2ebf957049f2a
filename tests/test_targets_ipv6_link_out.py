"""What a host behind a portplan ruleset with ``--egress`` must still send on its own link,
and only that: its multicast listener reports and DHCPv6 requests, with real nft and ip6tables
in namespaces the test creates.

The host's MLD reports (RFC 3810, RFC 2710) and its DHCPv6 client's requests to ``ff02::1:2``
are new to conntrack: nothing the host received is a connection they answer (a report answers
a multicast query, which conntrack leaves untracked, and most are unsolicited).  With egress the
output chain drops what the plan does not name, so without a rule of the ruleset's own a switch
with MLD snooping stops forwarding the host's solicited-node group to it (RFC 4890 section
4.4.1) and the host cannot renew its DHCPv6 address.

The router sniffs its link (a packet socket sees every frame that arrives, before any filter),
answers the host's DHCPv6 request from its link-local address and sends a listener query.  The
host sends, through its own kernel:

* datagrams from its link-local address, port 546, to ``ff02::1:2`` port 547 (the request, which
  must pass) and the same from its global address, from port 545, to port 548, to the router's
  unicast address and to ``ff02::1`` (which must not);
* listener reports it crafts on a raw socket: an MLDv2 report to ``ff02::16``, an MLDv1 report
  to its group, a done to ``ff02::2``, each from its link-local address with hop limit 1 (which
  must pass), and each with one thing changed: hop limit 2, a global source, another
  destination; and a listener query of its own (a host is not a querier: none must pass);
* the reports its kernel sends itself: MLDv2 on joining a group and on the router's query,
  MLDv1 report and done with ``force_mld_version=1``, and, during duplicate address detection of
  a new link-local address, MLDv2 reports from ``::`` (RFC 3590), with the detection's neighbour
  solicitation from ``::`` and the router solicitation that follows it;
* neighbour discovery: its advertisement answering the router's solicitation (before the
  router's unicast reply) and its own solicitation for the router (its neighbour cache flushed,
  before it answers the reply), which the ruleset accepted already (checked here all the same).

Each run is made first without a ruleset: everything the host sends reaches the router when
nothing filters, so what stays out stays out because of the ruleset.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest

import examples
import netns
from portplan.targets import RuleOptions, get_target
from test_targets_ipv6_link import _start

pytestmark = pytest.mark.netns

ROUTER = ipaddress.IPv6Address("2001:db8:4::1")
HOST = ipaddress.IPv6Address("2001:db8:4::2")
NEW_LINK_LOCAL = "fe80::db8:2"  #: the host's link-local address after its address detection

#: what the host's kernel sends, by label, that the ruleset must let out
ADMITTED = {
    "request",  # DHCPv6: link-local, 546 -> ff02::1:2 547
    "answer",  # a datagram back to the router's reply: established, to see the host's NS
    "mld2",  # crafted: 143, link-local -> ff02::16, hop limit 1
    "mld1",  # crafted: 131, link-local -> its group, hop limit 1
    "done",  # crafted: 132, link-local -> ff02::2, hop limit 1
    "kernel mld2 report from link-local",
    "kernel mld2 report from ::",
    "kernel mld1 report",
    "kernel mld1 done",
    "neighbour solicitation",
    "neighbour solicitation from ::",
    "neighbour advertisement",
    "router solicitation",
}
#: and what it must not
BLOCKED = {
    "request-from-global",
    "request-from-545",
    "request-to-548",
    "request-to-unicast",
    "request-to-all-nodes",
    "mld2-hl2",
    "mld2-from-global",
    "mld2-to-all-nodes",
    "mld1-from-global",
    "mld1-to-unicast",
    "done-hl2",
    "done-to-all-nodes",
    "query",
}

# The router: sniffs every frame arriving on its eth0 and labels it; answers the host's DHCPv6
# request from its link-local address (its neighbour cache flushed first, so it solicits the
# host) and sends a listener query; prints the labelled packets when its stdin closes.
_ROUTER_SCRIPT = r"""
import ipaddress, json, select, socket, struct, subprocess, sys
index = socket.if_nametoindex("eth0")
link_local = sys.argv[1]
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
sniff.bind(("eth0", 0))
seen = []
def text(raw):
    return str(ipaddress.IPv6Address(raw))
def label(frame):
    packet = frame[14:]
    next_header, hops = packet[6], packet[7]
    source, destination = text(packet[8:24]), text(packet[24:40])
    rest = packet[40:]
    while next_header in (0, 43, 60):  # hop-by-hop (the router alert), routing, destination
        next_header, rest = rest[0], rest[(rest[1] + 1) * 8:]
    shape = {"src": source, "dst": destination, "hl": hops}
    if next_header == 17:
        sport, dport = struct.unpack("!HH", rest[:4])
        return rest[8:].decode(errors="replace"), dict(shape, sport=sport, dport=dport)
    if next_header != 58:
        return f"protocol {next_header}", shape
    kind = rest[0]
    shape["type"] = kind
    if b"tag:" in rest:
        return rest[rest.index(b"tag:") + 4:].decode(), shape
    if kind == 143:
        origin = "::" if source == "::" else "link-local" if source.startswith("fe80:") else source
        return f"kernel mld2 report from {origin}", shape
    if kind in (131, 132):
        shape["group"] = text(rest[8:24])
        return "kernel mld1 " + ("report" if kind == 131 else "done"), shape
    if kind == 135:
        return "neighbour solicitation" + (" from ::" if source == "::" else ""), shape
    names = {133: "router solicitation", 136: "neighbour advertisement"}
    return names.get(kind, f"icmpv6 {kind}"), shape
def reply(host):
    subprocess.run(["ip", "-6", "neigh", "flush", "dev", "eth0"], check=True)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((link_local, 547, 0, index))
    sock.sendto(b"reply", (host, 546, 0, index))
    sock.close()
    query = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    query.bind((link_local, 0, 0, index))
    query.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    query.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 5, 2, 0, 0, 1, 0]))  # router alert
    # an MLDv2 general query, maximum response delay 500 ms
    query.sendto(struct.pack("!BBHHH16sBBH", 130, 0, 0, 500, 0, bytes(16), 2, 125, 0),
                 ("ff02::1", 0, 0, index))
    query.close()
print("ready", flush=True)
while True:
    ready, _, _ = select.select([sniff, sys.stdin], [], [], 30)
    if not ready or sys.stdin in ready:
        break
    frame, address = sniff.recvfrom(4000)
    if address[2] == socket.PACKET_OUTGOING:
        continue
    name, shape = label(frame)
    seen.append([name, shape])
    if name == "request":
        reply(shape["src"])
print(json.dumps(seen), flush=True)
"""

# The host: sends what must stay in, then its DHCPv6 request; answers the router's reply (its
# neighbour cache flushed first, so it solicits the router); joins a group (an MLDv2 report);
# joins and leaves another as an MLDv1 host; and last replaces its link-local address with a
# new one, under duplicate address detection.
_HOST_SCRIPT = r"""
import socket, struct, subprocess, sys, time
index = socket.if_nametoindex("eth0")
link_local, global_address, router = sys.argv[1], sys.argv[2], sys.argv[3]
new_link_local = sys.argv[4]
def send(sock, data, destination):
    try:
        sock.sendto(data, destination)
    except PermissionError:  # the output chain dropped it
        pass
    sock.close()
def run(*argv):
    subprocess.run(argv, check=True)
def sysctl(setting):
    run("sysctl", "-q", "-w", "net.ipv6.conf.eth0." + setting)
def udp(source, sport, destination, dport, tag):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((source, sport, 0, index))
    send(sock, tag.encode(), (destination, dport, 0, index))
def mld(kind, source, destination, hops, tag, group="ff02::db8:3"):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.bind((source, 0, 0, index))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    if kind == 143:  # MLDv2 report: no record
        body = struct.pack("!BBHHH", kind, 0, 0, 0, 0)
    else:  # MLDv1 report, done, query: maximum response delay, the group
        body = struct.pack("!BBHHH16s", kind, 0, 0, 0, 0, socket.inet_pton(socket.AF_INET6, group))
    send(sock, body + b"tag:" + tag.encode(), (destination, 0, 0, index))
def membership(option, group):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    request = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
    sock.setsockopt(socket.IPPROTO_IPV6, option, request)
    return sock
print("ready", flush=True)
sys.stdin.readline()
udp(global_address, 546, "ff02::1:2", 547, "request-from-global")
udp(link_local, 545, "ff02::1:2", 547, "request-from-545")
udp(link_local, 546, "ff02::1:2", 548, "request-to-548")
udp(link_local, 546, router, 547, "request-to-unicast")
udp(link_local, 546, "ff02::1", 547, "request-to-all-nodes")
mld(143, link_local, "ff02::16", 1, "mld2")
mld(143, link_local, "ff02::16", 2, "mld2-hl2")
mld(143, global_address, "ff02::16", 1, "mld2-from-global")
mld(143, link_local, "ff02::1", 1, "mld2-to-all-nodes")
mld(131, link_local, "ff02::db8:3", 1, "mld1")
mld(131, global_address, "ff02::db8:3", 1, "mld1-from-global")
mld(131, link_local, router, 1, "mld1-to-unicast")
mld(132, link_local, "ff02::2", 1, "done")
mld(132, link_local, "ff02::2", 2, "done-hl2")
mld(132, link_local, "ff02::1", 1, "done-to-all-nodes")
mld(130, link_local, "ff02::1", 1, "query")
client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
client.bind((link_local, 546, 0, index))
try:
    client.sendto(b"request", ("ff02::1:2", 547, 0, index))
    client.settimeout(3)
    data, peer = client.recvfrom(100)
except (PermissionError, socket.timeout):  # dropped on its way out, or no reply
    pass
else:
    run("ip", "-6", "neigh", "flush", "dev", "eth0")
    client.sendto(b"answer", peer)
client.close()
v2 = membership(socket.IPV6_JOIN_GROUP, "ff02::db8:1")
time.sleep(1)  # the router's query is answered, as an MLDv2 host
sysctl("force_mld_version=1")
v1 = membership(socket.IPV6_JOIN_GROUP, "ff02::db8:2")
time.sleep(0.3)
v1.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP,
              socket.inet_pton(socket.AF_INET6, "ff02::db8:2") + struct.pack("@I", index))
time.sleep(0.3)
sysctl("force_mld_version=0")
sysctl("accept_dad=1")
sysctl("dad_transmits=1")
run("ip", "-6", "addr", "del", link_local + "/64", "dev", "eth0")
run("ip", "-6", "addr", "add", new_link_local + "/64", "dev", "eth0")
time.sleep(3)  # detection (up to 1 s delay, 1 s for the solicitation), then the solicitation
print("done", flush=True)
"""


@pytest.fixture(scope="module", autouse=True)
def namespaces_available() -> Iterator[None]:
    with netns.guard("nft", "ip6tables-restore"):
        yield


def _run(files: dict[str, str] | None) -> dict[str, list[dict[str, object]]]:
    """One run in a new topology, with ``files`` loaded on the host (or none): what reached
    the router, by label, with the shape of each packet."""
    with netns.topology() as topo:
        host = topo.add_node("host", [HOST])
        router = topo.add_node("router", [ROUTER])
        if files is not None:
            topo.load(host, "da01", files)
        host_ll = str(topo.link_local(host)).split("%")[0]
        router_ll = str(topo.link_local(router)).split("%")[0]
        sniffing = _start(topo, router, _ROUTER_SCRIPT, router_ll)
        sending = _start(topo, host, _HOST_SCRIPT, host_ll, str(HOST), router_ll, NEW_LINK_LOCAL)
        try:
            host_out, host_err = sending.communicate("go\n", timeout=20)
            assert sending.returncode == 0, host_err
            assert host_out.strip() == "done", host_err
            router_out, router_err = sniffing.communicate("stop\n", timeout=10)
            assert sniffing.returncode == 0, router_err
        finally:
            for process in (sniffing, sending):
                if process.poll() is None:
                    process.kill()
                process.communicate(timeout=5)
    seen: dict[str, list[dict[str, object]]] = {}
    for name, shape in json.loads(router_out):
        seen.setdefault(name, []).append(shape)
    return seen


def _check_shapes(seen: dict[str, list[dict[str, object]]]) -> None:
    """The packets the kernel sent itself have the shape the ruleset admits: reports with hop
    limit 1, each to its own destination, from a link-local address or ``::``."""
    for name, shapes in seen.items():
        for shape in shapes:
            if name.startswith("kernel mld"):
                assert shape["hl"] == 1, (name, shape)
                assert shape["src"] == "::" or str(shape["src"]).startswith("fe80:"), shape
            if name.startswith("kernel mld2"):
                assert shape["dst"] == "ff02::16", shape
            if name == "kernel mld1 report":
                assert shape["dst"] == shape["group"], shape
            if name == "kernel mld1 done":
                assert shape["dst"] == "ff02::2", shape
            if name == "request":
                assert (shape["sport"], shape["dport"], shape["dst"]) == (546, 547, "ff02::1:2")


@pytest.mark.parametrize("target", ["nftables", "iptables"])
def test_the_host_still_speaks_on_its_link_with_egress(target: str) -> None:
    plan = examples.example_plan("smart-id-nexus")
    files = get_target(target).render(plan, RuleOptions(hosts=("da01",), egress=True))

    unfiltered = _run(None)
    lost = sorted((ADMITTED | BLOCKED) - set(unfiltered))
    assert lost == [], f"without a ruleset everything reaches the router: {lost}"
    _check_shapes(unfiltered)

    seen = _run(files)
    _check_shapes(seen)
    dropped = sorted(ADMITTED - set(seen))
    assert dropped == [], f"the host's own link traffic leaves it: {dropped}"
    leaked = sorted(BLOCKED & set(seen))
    assert leaked == [], f"nothing wider leaves it: {leaked}"
