"""``portplan audit --sockets`` of what ``ss -tulpnH`` prints for real sockets, bound in a
network namespace the test creates (and deletes, however the test ends).

A host known by its name only, or by a network, has no single address a socket must cover: a
socket the network reaches must listen all the same, never one on loopback only or on an
address outside the host's network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import machine
import netns
from portplan.cli import cli

pytestmark = pytest.mark.netns

#: binds every socket its arguments name (``tcp|udp ADDRESS PORT [DEVICE]``; ``tcp ADDRESS PORT
#: connected``: a listener and a connection to it; ``udp ADDRESS PORT connected``: connected to
#: port 9 of the address, nothing sent), says so, then holds them until its stdin closes
LISTENERS = r"""
import socket, sys
keep = []
for spec in sys.argv[1:]:
    kind, address, port, *device = spec.split()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # over the last test's TIME-WAIT
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if device and device != ["connected"]:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device[0].encode())
    scope = socket.if_nametoindex(device[0]) if device and address.startswith("fe80") else 0
    s.bind((address, int(port), 0, scope) if family == socket.AF_INET6 else (address, int(port)))
    if kind == "tcp":
        s.listen()
    keep.append(s)
    if kind == "tcp" and device == ["connected"]:  # and a connection to it, both ends
        client = socket.create_connection((address, int(port)))
        keep += [client, s.accept()[0]]
    elif device == ["connected"]:  # a UDP socket that takes datagrams of one peer only
        s.connect((address, 9))
print("ready", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def listening(name: str, *specs: str, ss: str = "ss -tulpnH") -> Iterator[str]:
    """``ss -tulpnH`` (or the command ``ss``) of namespace ``name`` while sockets ``specs``
    listen in it."""
    argv = ["ip", "netns", "exec", name, sys.executable, "-c", LISTENERS, *specs]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as held:
        try:
            assert held.stdout is not None and held.stdout.readline().strip() == "ready"
            yield netns.run(["ip", "netns", "exec", name, *ss.split()]).stdout
        finally:
            held.kill()


def findings(
    deployment: Path, host: str, ss: str, directory: Path, kind: str = "ss"
) -> set[tuple[str, str, str]]:
    """(kind, flow, message with pids left out) of every socket finding on ``host`` from the
    listing ``ss`` (of ``kind``)."""
    listing = directory / "sockets.txt"
    listing.write_text(ss)
    sockets = ["--sockets", f"{kind}:{listing}", "--format", "json"]
    result = CliRunner().invoke(cli, ["audit", str(deployment), "--host", host, *sockets])
    assert result.exit_code in (0, 1), result.output
    (found,) = machine.document(result.stdout, "audit")["audits"]
    return {
        (f["kind"], f["flow"] or "", re.sub(r" \(pid \d+\)", "", f["message"]))
        for f in found["findings"]
    }


def audit(deployment: Path, host: str, ss: str, directory: Path) -> set[tuple[str, str]]:
    """(kind, the message after its "but") of every finding on a planned row of ``host``
    (the other host's socket is not planned here)."""
    found = findings(deployment, host, ss, directory)
    return {(kind, message.split(" but ")[-1]) for kind, flow, message in found if flow}


def deployment(directory: Path) -> Path:
    """To pc: www (by name only) serves tcp/18443, net (a /28) tcp/18444, es (a cluster of
    two machines) tcp/18445, nets (two /28: a machine is in one of them) tcp/18446."""
    flows = {"site": ("https", 18443), "api": ("rest", 18444), "search": ("query", 18445)}
    flows["store"] = ("save", 18446)
    (directory / "web.yaml").write_text(
        "id: web-1\nname: Web\nversion: '1'\ndocument: {title: Web ports}\n"
        "components:\n  browser: {name: Browser, kind: client}\n"
        + "".join(f"  {c}: {{name: {c}}}\n" for c in flows)
        + "flows:\n"
        + "".join(
            f"  - {{id: {flow}, row: {n}, from: browser, to: {c}, protocol: tcp, ports: {port},"
            " purpose: Calls.}\n"
            for n, (c, (flow, port)) in enumerate(flows.items(), 1)
        )
    )
    path = directory / "deployment.yaml"
    path.write_text(
        "name: reach\nhosts:\n  pc: {addresses: [203.0.113.9]}\n"
        "  www: {dns_name: www.portplan.test}\n  net: {addresses: [192.0.2.0/28]}\n"
        "  es: {addresses: [192.0.2.3, 192.0.2.4], cluster: true}\n"
        "  nets: {addresses: [198.51.100.0/28, 203.0.113.0/28]}\n"
        "products:\n  web-1:\n    file: web.yaml\n"
        "    components: {browser: pc, site: www, api: net, search: es, store: nets}\n"
    )
    return path


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[str, ipaddress.IPv6Address]]:
    """A namespace holding 192.0.2.3 and 198.51.100.1, and its link-local address."""
    with netns.guard("ss"), netns.topology() as topo:
        built = topo.add_node("host", [ipaddress.ip_address("192.0.2.3")])
        topo.add_address(built, ipaddress.ip_address("198.51.100.1"))
        yield built.netns, topo.link_local(built)


def test_a_host_by_name_or_network_needs_a_socket_the_network_reaches(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    name, _link_local = node
    path = deployment(tmp_path)
    # before: a socket on loopback only, or outside the host's network, served the row
    with listening(name, "tcp 127.0.0.1 18443", "tcp 198.51.100.1 18444") as ss:
        python = Path(sys.executable).name
        assert audit(path, "www", ss, tmp_path) == {
            ("loopback-only", f"only loopback listens: tcp 127.0.0.1:18443 by {python}")
        }
        assert audit(path, "net", ss, tmp_path) == {
            ("other-address", f"it listens elsewhere: tcp 198.51.100.1:18444 by {python}")
        }
    # a wildcard, or an address inside the network, serves it
    with listening(name, "tcp 0.0.0.0 18443", "tcp 192.0.2.3 18444") as ss:
        assert audit(path, "www", ss, tmp_path) == set()
        assert audit(path, "net", ss, tmp_path) == set()


def test_a_socket_bound_to_a_device_is_read(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    # ss names the device after the address: [fe80::1]%eth0:546 (a DHCPv6 client on every
    # such host), *%eth0:18445, 0.0.0.0%eth0:18446; the whole listing was refused for them
    name, link_local = node
    path = deployment(tmp_path)
    address = str(link_local).split("%")[0]
    specs = (f"udp {address} 546 eth0", "tcp :: 18445 eth0", "tcp 0.0.0.0 18446 eth0")
    with listening(name, *specs) as ss:
        assert ss.count("%eth0:") == 3, ss
        python = Path(sys.executable).name
        unplanned = "listens, but no planned flow ends on net"
        assert findings(path, "net", ss, tmp_path) == {
            ("listening-not-planned", "", f"udp [{address}]:546 by {python} {unplanned} udp/546"),
            (
                "listening-not-planned",
                "",
                f"tcp [::]:18445 (dual-stack: also IPv4) by {python} {unplanned} tcp/18445",
            ),
            ("listening-not-planned", "", f"tcp 0.0.0.0:18446 by {python} {unplanned} tcp/18446"),
            ("planned-not-listening", "web-1/rest", "nothing listens on tcp 18444 for web-1/rest"),
        }


def test_ss_of_every_socket_lists_only_the_listening_ones(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    # `ss -tuanpH` also lists connections (ESTAB): each end of one was read as a listener, the
    # client's ephemeral port reported as listening-not-planned
    name, _link_local = node
    path = deployment(tmp_path)
    with listening(
        name, "tcp 192.0.2.3 18444 connected", "tcp 0.0.0.0 18443", ss="ss -tuanpH"
    ) as ss:
        assert ss.count("ESTAB") == 2, ss
        assert findings(path, "net", ss, tmp_path) == {
            (
                "listening-not-planned",
                "",
                f"tcp 0.0.0.0:18443 by {Path(sys.executable).name} listens, but no planned "
                "flow ends on net tcp/18443",
            )
        }


def test_a_machine_of_a_group_needs_one_of_the_group_s_addresses(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    # the sockets are one machine's: a member of a cluster holds one of its addresses, a
    # machine of a group of networks is in one of them; the others were reported elsewhere
    name, _link_local = node
    path = deployment(tmp_path)
    with listening(name, "tcp 192.0.2.3 18445", "tcp 198.51.100.1 18446") as ss:
        assert audit(path, "es", ss, tmp_path) == set()
        assert audit(path, "nets", ss, tmp_path) == set()
    with listening(name, "tcp 127.0.0.1 18445", "tcp 192.0.2.3 18446") as ss:
        assert {kind for kind, _m in audit(path, "es", ss, tmp_path)} == {"loopback-only"}
        assert {kind for kind, _m in audit(path, "nets", ss, tmp_path)} == {"other-address"}


def test_netstat_of_every_socket_lists_only_the_listening_ones(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    # `netstat -tuanp` lists a connected UDP socket (ESTABLISHED), which takes datagrams of
    # its one peer only: it was read as a listener, reported listening-not-planned
    name, _link_local = node
    path = deployment(tmp_path)
    specs = ("udp 192.0.2.3 18447 connected", "tcp 192.0.2.3 18444 connected")
    with listening(name, *specs, ss="netstat -tuanp") as netstat:
        assert netstat.count("ESTABLISHED") == 3, netstat
        assert findings(path, "net", netstat, tmp_path, "netstat") == set()


def test_netstat_without_w_cuts_a_long_ipv6_address_short(
    node: tuple[str, ipaddress.IPv6Address], tmp_path: Path
) -> None:
    # netstat (net-tools) cuts an address to its 23 columns without -W: 2001:db8:aaaa:bbbb:
    # cccc:dddd:eeee:10 port 8443 prints as 2001:db8:aaaa:bbbb:8443, refused as "not an IP
    # address"; fe80::d0ac:e2ff:fe38:d9ec port 546 as fe80::d0ac:e2ff:fe3:546, another valid
    # address read silently. Such a listing is refused, saying to collect it with -W
    long = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:10"
    path = deployment(tmp_path)
    if shutil.which("netstat") is None:
        pytest.skip("needs netstat (net-tools)")
    name, _link_local = node
    netns.run(["ip", "-n", name, "addr", "add", f"{long}/128", "dev", "lo", "nodad"])
    with listening(name, f"tcp {long} 8443", ss="netstat -tulpn") as cut:
        assert "2001:db8:aaaa:bbbb:8443 " in cut, cut
        listing = tmp_path / "netstat.txt"
        listing.write_text(cut)
        argv = ["audit", str(path), "--host", "net", "--sockets", f"netstat:{listing}"]
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 2, result.output
        assert "netstat cuts a long IPv6 address short" in result.stderr
        assert "collect `netstat -tulpnW`" in result.stderr
    with listening(name, f"tcp {long} 8443", ss="netstat -tulpnW") as wide:
        assert findings(path, "net", wide, tmp_path, "netstat") >= {
            (
                "listening-not-planned",
                "",
                f"tcp [{long}]:8443 by {Path(sys.executable).name} listens, but no planned "
                "flow ends on net tcp/8443",
            )
        }
