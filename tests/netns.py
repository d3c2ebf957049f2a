"""Network namespaces for integration tests: hosts on one bridge, listeners and probes.

:func:`topology` builds a :class:`Topology` and always tears it down.  Each node is a network
namespace with one veth pair to a "switch" namespace that holds a Linux bridge, so nodes reach
each other at layer 2 whatever their addresses: every address is a /32 (or /128, without DAD)
on the node's ``eth0`` and both default routes point at that interface.  Nothing is created in
the caller's own namespace and the bridge has no way out, so traffic cannot leave the topology;
probes are refused unless they aim at loopback, a link-local address or an address of a node.

Listeners and probes are stdlib-only Python scripts run with ``ip netns exec``.  A listener
accepts TCP and echoes UDP on given addresses and ports until its stdin closes.  A prober runs
many probes concurrently (asyncio, bounded concurrency, a timeout per probe) and prints one
result per probe as JSON: ``open``, ``refused``, ``timeout`` (TCP), ``echo``, ``none`` (UDP),
``reply``, ``none`` (ICMP: a request of the probe's type, echo or timestamp, answered by the
matching reply, through a raw socket), or ``error:ERRNO`` (a local firewall refusing the send,
for instance).

Namespaces are named ``pp-<creator pid, hex>-<random>-<n>``; :func:`remove_stale_namespaces`
deletes namespaces of exactly that shape whose creating process is gone and that are older
than ten minutes (left by a crashed run).  :func:`namespace` (or :meth:`Topology.new_namespace`)
gives bare namespaces of the same shape, for tests that wire their own links.  :func:`guard`
wraps a module's namespace tests: skip where they cannot run, clear stale namespaces, and
check that none was left behind.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PREFIX = "pp-"
_NAME_RE = re.compile(r"^pp-([0-9a-f]+)-[0-9a-f]{4}-\d+$")
COMMAND_TIMEOUT = 20.0  #: seconds any single command may take
READY_TIMEOUT = 15.0  #: seconds a listener may take to bind everything
TCP_TIMEOUT = 1.0  #: seconds a TCP connect may take before it counts as ``timeout``
UDP_TIMEOUT = 0.6  #: seconds to wait for a UDP echo before it counts as ``none``
CONCURRENCY = 256  #: probes in flight per prober process
STALE_AGE = 600.0  #: seconds after which a namespace of a dead run counts as stale

#: Results that mean the traffic went through.
PASSED = frozenset({"open", "echo", "reply"})
#: ICMP requests a probe may send (its ``port`` is the type), and the reply type of each
ICMP_REQUESTS = {4: {8: 0, 13: 14}, 6: {128: 129}}

#: Documentation networks (RFC 5737, RFC 3849): the only addresses a topology is given.
DOCUMENTATION: tuple[Network, ...] = (
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
    ipaddress.ip_network("2001:db8::/32"),
)


class NetnsError(RuntimeError):
    """A command of the harness failed."""


def run(
    argv: Sequence[str], *, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a command; raise :class:`NetnsError` with its output if it fails or hangs."""
    try:
        result = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise NetnsError(f"{' '.join(argv)} did not finish in {timeout} s") from exc
    if result.returncode != 0:
        raise NetnsError(
            f"{' '.join(argv)} exited with {result.returncode}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def unavailable(*tools: str) -> str | None:
    """Why namespace tests cannot run here (``None`` when they can)."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    missing = [tool for tool in ("ip", *tools) if shutil.which(tool) is None]
    if missing:
        return f"network namespace tests need {', '.join(missing)} on PATH"
    name = f"{PREFIX}{os.getpid():x}-{secrets.token_hex(2)}-0"
    try:
        run(["ip", "netns", "add", name])
    except NetnsError as exc:
        return f"cannot create a network namespace: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def namespaces() -> list[str]:
    """Names of every network namespace ``ip netns`` knows."""
    output = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces(min_age: float = STALE_AGE) -> list[str]:
    """Delete namespaces this harness made in runs whose process is gone; return their names.

    Only names of this harness's shape, whose creating process no longer exists, and that are
    older than ``min_age`` seconds (a process in another PID namespace looks gone from here).
    """
    removed = []
    for name in namespaces():
        match = _NAME_RE.match(name)
        if match is None or _alive(int(match.group(1), 16)):
            continue
        try:
            age = time.time() - os.stat(f"/run/netns/{name}").st_mtime
        except OSError:
            continue
        if age < min_age:
            continue
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        removed.append(name)
    return removed


def own_namespaces() -> list[str]:
    """Namespaces this process made that still exist (none, once every topology is closed)."""
    mine = f"{PREFIX}{os.getpid():x}-"
    return [name for name in namespaces() if name.startswith(mine)]


@contextlib.contextmanager
def guard(*tools: str) -> Iterator[None]:
    """Around a module's namespace tests: skip (with the reason) where namespaces cannot be
    built with ``ip`` and ``tools``, delete stale ones first, and never leak one."""
    reason = unavailable(*tools)
    if reason is not None:
        pytest.skip(reason)
    remove_stale_namespaces()
    yield
    assert own_namespaces() == [], "namespaces were left behind"


@dataclass(frozen=True, slots=True)
class Probe:
    """Try to reach ``destination:port`` over ``protocol``, from ``source`` if given."""

    protocol: str  #: ``tcp``, ``udp``, or ``icmp`` (ICMPv6 to an IPv6 address; port: the type)
    destination: Address
    port: int
    source: Address | None = None

    def as_json(self) -> list[object]:
        return [
            self.protocol,
            str(self.destination),
            self.port,
            None if self.source is None else str(self.source),
        ]


@dataclass(slots=True)
class Node:
    """One namespace of a topology, with the addresses on its ``eth0``."""

    name: str
    netns: str
    addresses: list[Address] = field(default_factory=list)


_LISTEN_SCRIPT = r"""
import asyncio, json, sys

class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

async def accept(reader, writer):
    writer.close()

async def main():
    loop = asyncio.get_running_loop()
    keep = []
    for protocol, host, port in json.loads(sys.stdin.readline()):
        if protocol == "tcp":
            keep.append(await asyncio.start_server(accept, host, port, backlog=1024))
        else:
            keep.append(await loop.create_datagram_endpoint(Echo, local_addr=(host, port)))
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # serve until the test closes stdin

asyncio.run(main())
"""

_PROBE_SCRIPT = r"""
import asyncio, errno, json, socket, struct, sys

def failure(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return "error:" + errno.errorcode.get(exc.errno or 0, str(exc.errno))

async def tcp(host, port, source, timeout):
    local = (source, 0) if source else None
    try:
        connect = asyncio.open_connection(host, port, local_addr=local)
        _reader, writer = await asyncio.wait_for(connect, timeout)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return failure(exc)
    writer.close()
    return "open"

class Client(asyncio.DatagramProtocol):
    def __init__(self, reply):
        self.reply = reply
    def datagram_received(self, data, addr):
        if not self.reply.done():
            self.reply.set_result("echo")
    def error_received(self, exc):
        if not self.reply.done():
            self.reply.set_result(failure(exc))

async def udp(host, port, source, timeout):
    loop = asyncio.get_running_loop()
    reply = loop.create_future()
    local = (source, 0) if source else None
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Client(reply), remote_addr=(host, port), local_addr=local)
    except OSError as exc:
        return failure(exc)
    try:
        transport.sendto(b"portplan probe")
        return await asyncio.wait_for(reply, timeout)
    except TimeoutError:
        return "none"
    finally:
        transport.close()

def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

async def icmp(host, kind, source, timeout, ident):
    # a raw socket sees every ICMP message the namespace gets: take the reply of this probe's
    # type and identifier, from the address it was sent to
    v6 = ":" in host
    family = socket.AF_INET6 if v6 else socket.AF_INET
    replies = {8: 0, 13: 14, 128: 129}
    try:
        kind_of = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
        sock = socket.socket(family, socket.SOCK_RAW, kind_of)
    except OSError as exc:
        return failure(exc)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        if source:
            sock.bind((source, 0))
        body = struct.pack("!HH", ident, 1) + (b"\0" * 12 if kind == 13 else b"portplan probe")
        head = struct.pack("!BBH", kind, 0, 0) + body
        packet = head if v6 else struct.pack("!BBH", kind, 0, checksum(head)) + body
        await loop.sock_sendto(sock, packet, (host, 0))
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            try:
                data, sender = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), left)
            except TimeoutError:
                break
            message = data if v6 else data[(data[0] & 0x0F) * 4:]
            if (
                len(message) >= 8
                and message[0] == replies[kind]
                and struct.unpack("!H", message[4:6])[0] == ident
                and sender[0].split("%")[0] == host
            ):
                return "reply"
        return "none"
    except OSError as exc:
        return failure(exc)
    finally:
        sock.close()

async def main():
    job = json.loads(sys.stdin.read())
    gate = asyncio.Semaphore(job["concurrency"])
    idents = iter(range(1, 65536))
    async def one(protocol, host, port, source):
        async with gate:
            if protocol == "tcp":
                return await tcp(host, port, source, job["tcp_timeout"])
            if protocol == "icmp":
                return await icmp(host, port, source, job["tcp_timeout"], next(idents))
            return await udp(host, port, source, job["udp_timeout"])
    results = await asyncio.gather(*(one(*p) for p in job["probes"]))
    json.dump(results, sys.stdout)

asyncio.run(main())
"""


class Topology:
    """Namespaces on one bridge (and bare ones, :meth:`new_namespace`).  Build it with
    :func:`topology`, which tears it down."""

    def __init__(self) -> None:
        self.tag = f"{PREFIX}{os.getpid():x}-{secrets.token_hex(2)}"
        self.nodes: dict[str, Node] = {}
        self._namespaces: list[str] = []
        self._processes: list[subprocess.Popen[str]] = []
        self._owners: dict[Address, str] = {}
        self._switch: str | None = None

    # -- building -------------------------------------------------------------------------

    def new_namespace(self) -> str:
        """A new namespace with only ``lo`` (up), deleted with the topology."""
        name = f"{self.tag}-{len(self._namespaces)}"
        self._namespaces.append(name)  # before creating it, so close() removes a half-made one
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def _sysctl(self, netns: str, *settings: str) -> None:
        run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *settings])

    def _switch_namespace(self) -> str:
        if self._switch is None:
            switch = self.new_namespace()
            # the switch only forwards frames; it sends nothing of its own
            self._sysctl(switch, "net.ipv6.conf.all.disable_ipv6=1")
            run(
                [
                    "ip", "-n", switch, "link", "add", "br0", "type", "bridge",
                    "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0",
                ]
            )  # fmt: skip
            run(["ip", "-n", switch, "link", "set", "br0", "up"])
            self._switch = switch
        return self._switch

    def add_node(self, name: str, addresses: Iterable[Address] = ()) -> Node:
        """A new namespace cabled to the switch, with ``addresses`` on its ``eth0``."""
        if name in self.nodes:
            raise NetnsError(f"node {name!r} exists already")
        switch = self._switch_namespace()
        netns = self.new_namespace()
        self._sysctl(
            netns,
            "net.ipv6.conf.default.disable_ipv6=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.accept_dad=0",
        )
        port = f"p{len(self.nodes)}"
        veth = ["type", "veth", "peer", "eth0", "netns", netns]
        run(["ip", "-n", switch, "link", "add", port, *veth])
        run(["ip", "-n", switch, "link", "set", port, "master", "br0", "up"])
        run(["ip", "-n", netns, "link", "set", "eth0", "up"])
        run(["ip", "-n", netns, "-4", "route", "add", "default", "dev", "eth0"])
        run(["ip", "-n", netns, "-6", "route", "add", "default", "dev", "eth0"])
        node = self.nodes[name] = Node(name=name, netns=netns)
        for address in addresses:
            self.add_address(node, address)
        return node

    def add_address(self, node: Node, address: Address) -> None:
        """Put another address on a node (to stand for another member of a group, say)."""
        owner = self._owners.get(address)
        if owner is not None:
            raise NetnsError(f"{address} is on node {owner!r} already")
        if not any(address in net for net in DOCUMENTATION):
            raise NetnsError(f"{address} is not a documentation address (RFC 5737/3849)")
        self._owners[address] = node.name
        node.addresses.append(address)
        spec = [f"{address}/32"] if address.version == 4 else [f"{address}/128", "nodad"]
        run(["ip", "-n", node.netns, "addr", "add", spec[0], "dev", "eth0", *spec[1:]])

    def link_local(self, node: Node) -> ipaddress.IPv6Address:
        """The node's IPv6 link-local address on ``eth0`` (with its scope), once usable."""
        for _attempt in range(50):  # DAD is off, so this is at once; bounded all the same
            shown = run(["ip", "-n", node.netns, "-6", "-j", "addr", "show", "dev", "eth0"])
            for info in json.loads(shown.stdout)[0].get("addr_info", []):
                if info.get("scope") == "link" and not info.get("tentative"):
                    return ipaddress.IPv6Address(f"{info['local']}%eth0")
            time.sleep(0.05)
        raise NetnsError(f"{node.name} has no usable link-local address")

    # -- using ----------------------------------------------------------------------------

    def exec(
        self, node: Node, argv: Sequence[str], *, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a node's namespace."""
        return run(["ip", "netns", "exec", node.netns, *argv], stdin=stdin)

    def nft(self, node: Node, ruleset: str, *, check_only: bool = False) -> None:
        """Load (or with ``check_only`` only check, ``nft -c``) a ruleset in a node."""
        self.exec(node, ["nft", *(["-c"] if check_only else []), "-f", "-"], stdin=ruleset)

    def load(self, node: Node, host: str, files: Mapping[str, str]) -> None:
        """Load a host's rendered files in a node: ``<host>.nft`` with nft, or the address
        sets first (``<host>.ipset``) and then each family's iptables table."""
        for suffix, argv in (
            ("nft", ["nft", "-f", "-"]),
            ("ipset", ["ipset", "restore"]),
            ("v4", ["iptables-restore", "-w", "5"]),
            ("v6", ["ip6tables-restore", "-w", "5"]),
        ):
            text = files.get(f"{host}.{suffix}")
            if text is not None:
                self.exec(node, argv, stdin=text)

    def nft_json(self, node: Node) -> str:
        """The node's ruleset as the kernel holds it, ``nft -j list ruleset``."""
        return self.exec(node, ["nft", "-j", "list", "ruleset"]).stdout

    def listen(self, node: Node, endpoints: Iterable[tuple[str, Address, int]]) -> None:
        """Accept TCP / echo UDP on each ``(protocol, address, port)`` until teardown."""
        spec = [[protocol, str(address), port] for protocol, address, port in endpoints]
        process = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, sys.executable, "-I", "-c", _LISTEN_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._processes.append(process)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(spec) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            process.kill()
            _, stderr = process.communicate(timeout=5)
            raise NetnsError(f"listener in {node.name} did not start: {stderr.strip()}")

    def probe(self, jobs: Mapping[str, Sequence[Probe]]) -> dict[str, list[str]]:
        """Run each node's probes (node name → probes), all nodes at once; results in order."""
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            futures = {
                name: pool.submit(self._probe, name, probes) for name, probes in jobs.items()
            }
            return {name: future.result() for name, future in futures.items()}

    def _probe(self, name: str, probes: Sequence[Probe]) -> list[str]:
        for p in probes:
            target = p.destination
            if not (target.is_loopback or target.is_link_local or target in self._owners):
                raise NetnsError(f"refusing to probe {target}: not an address of the topology")
        job = {
            "probes": [p.as_json() for p in probes],
            "concurrency": CONCURRENCY,
            "tcp_timeout": TCP_TIMEOUT,
            "udp_timeout": UDP_TIMEOUT,
        }
        waves = len(probes) // CONCURRENCY + 1
        budget = 10 + 2 * waves * max(TCP_TIMEOUT, UDP_TIMEOUT)
        netns = self.nodes[name].netns
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-I", "-c", _PROBE_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._processes.append(process)
        try:
            stdout, stderr = process.communicate(json.dumps(job), timeout=budget)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise NetnsError(f"probes from {name} did not finish in {budget} s") from None
        if process.returncode != 0:
            raise NetnsError(f"probes from {name} failed: {stderr.strip()}")
        results: list[str] = json.loads(stdout)
        if len(results) != len(probes):
            raise NetnsError(f"probes from {name}: {len(results)} results for {len(probes)}")
        return results

    # -- tearing down ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process started here and delete every namespace; safe to call twice."""
        for process in self._processes:
            _stop(process)
        self._processes.clear()
        for netns in reversed(self._namespaces):
            # a process still inside would keep the namespace alive after `ip netns del`
            pids = subprocess.run(
                ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        self._namespaces.clear()
        self.nodes.clear()
        self._switch = None


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def topology() -> Iterator[Topology]:
    """A :class:`Topology` that is torn down however the block ends."""
    built = Topology()
    try:
        yield built
    finally:
        built.close()


def hold_addresses(ns: str, *addresses: str) -> None:
    """Put documentation ``addresses`` on the loopback interface of a bare namespace, so that
    the machine the namespace stands for holds them, as a deployment's host does (nothing
    leaves the namespace: it has no other interface)."""
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not any(address in net for net in DOCUMENTATION):
            raise NetnsError(f"{address} is not a documentation address (RFC 5737/3849)")
    for text in addresses:
        spec = [f"{text}/32"] if ":" not in text else [f"{text}/128", "nodad"]
        run(["ip", "-n", ns, "addr", "add", spec[0], "dev", "lo", *spec[1:]])


@contextlib.contextmanager
def namespace() -> Iterator[str]:
    """One bare namespace (only ``lo``, up), named like every other namespace of this harness;
    deleted however the block ends, with any process still inside killed first."""
    with topology() as built:
        yield built.new_namespace()


@contextlib.contextmanager
def crossing_namespace(first: int, last: int) -> Iterator[str]:
    """A bare :func:`namespace` whose ephemeral ports are ``first`` to ``last`` and whose closed
    ports stay silent (no ICMP destination unreachable leaves it): where two exchanges with its
    own ports may be given each other's port as their source port, and meet."""
    with namespace() as name:
        inside = ["ip", "netns", "exec", name]
        run([*inside, "sysctl", "-q", "-w", f"net.ipv4.ip_local_port_range={first} {last}"])
        run([*inside, "nft", "add table inet quiet; add chain inet quiet out "
             "{ type filter hook output priority 0; }; add rule inet quiet out "
             "icmp type destination-unreachable drop"])  # fmt: skip
        yield name


# -- addresses for the hosts of a deployment ------------------------------------------------


def _candidates(network: Network, *, from_top: bool) -> Iterator[Address]:
    """Usable addresses of a network, from either end, at most 4096 of them."""
    if network.num_addresses <= 2:  # a single address, or a /31 (/127) point-to-point pair
        members: list[Address] = list(network)
        yield from (reversed(members) if from_top else members)
        return
    first = 1
    last = network.num_addresses - 2 if network.version == 4 else network.num_addresses - 1
    count = min(last - first + 1, 4096)
    for i in range(count):
        yield network[last - i] if from_top else network[first + i]


def pick_address(network: Network, taken: Iterable[Address], *, from_top: bool = False) -> Address:
    """An address inside ``network`` that is not ``taken`` (the first or last free one)."""
    used = set(taken)
    for candidate in _candidates(network, from_top=from_top):
        if candidate not in used:
            return candidate
    raise NetnsError(f"no free address left in {network}")


def outsider_addresses(in_use: Iterable[Network], taken: Iterable[Address]) -> list[Address]:
    """One address per documentation network that no network ``in_use`` covers."""
    networks = list(in_use)
    used = set(taken)
    found: list[Address] = []
    for doc in DOCUMENTATION:
        space = doc if doc.version == 4 else ipaddress.ip_network("2001:db8:ffff::/120")
        free = (
            a
            for a in _candidates(space, from_top=True)
            if a not in used and not any(a in n for n in networks)
        )
        address = next(free, None)
        if address is not None:
            found.append(address)
    return found
