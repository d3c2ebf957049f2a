"""The async port prober: honest outcomes, each with its evidence.

The verdict of a TCP probe comes from the socket itself (``SO_ERROR`` and whether it is
connected) when it becomes writable or when the timer fires, never from which of two asyncio
events won a race: at short timeouts that race misreports ports.  UDP probes use a connected
socket, so an ICMP port-unreachable surfaces as ``ECONNREFUSED``; with ``IP_RECVERR`` the ICMP
type, code and sender are read from the error queue as evidence.

Linux rate-limits ICMP errors (about 6 at once, then 1 per second per peer), so a port that
stays silent in the concurrent pass is probed again, one at a time and given at least a
second, before it is called ``filtered`` (TCP) or ``open|filtered`` (UDP).  That second wait
also outlasts the kernel's first SYN retransmission (1 s), which tells a SYN the source's own
firewall drops (the kernel swallows its EPERM) from one lost on the way.

Low-level errors are translated once, here, into the outcome taxonomy.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import resource
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from portplan.model._types import Protocol

__all__ = [
    "Evidence",
    "Outcome",
    "PortProbe",
    "PortResult",
    "probe_all",
    "probe_once",
    "raise_fd_limit",
]

# Linux socket constants Python's socket module does not name.
IP_RECVERR = 11
IPV6_RECVERR = 25
MSG_ERRQUEUE = 0x2000
_SO_EE_ORIGIN_ICMP = 2
_SO_EE_ORIGIN_ICMP6 = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_TCP_SYN_SENT = 2
_TCP_INFO_SIZE = 40  # struct tcp_info up to tcpi_retrans (u8 fields, then u32 from offset 8)

#: probes of one destination address at once (more looks like an attack and meets limits)
PER_DESTINATION = 5
#: the re-probe of a silent port waits at least this long (ICMP rate limit: 1 per second)
RATE_LIMIT_WAIT = 1.2


class Outcome(StrEnum):
    """What a probe found."""

    OPEN = "open"  #: TCP connected / UDP answered
    REFUSED = "refused"  #: TCP reset, or ICMP port-unreachable for TCP
    CLOSED = "closed"  #: UDP: ICMP port-unreachable on a connected socket
    FILTERED = "filtered"  #: TCP: silence until the timeout, also when probed again alone
    OPEN_FILTERED = "open|filtered"  #: UDP: silence (never "open" by assumption)
    REJECTED = "rejected"  #: ICMP admin-prohibited or host-unreachable (EHOSTUNREACH, EACCES)
    NO_ROUTE = "no-route"  #: ENETUNREACH: no route, or ICMP net-unreachable
    DNS_ERROR = "dns-error"  #: a name did not resolve
    LOCAL_ERROR = "local-error"  #: the source itself failed (EMFILE, EADDRNOTAVAIL, EPERM...)

    @property
    def passes(self) -> bool:
        return self is Outcome.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a probe concluded what it did."""

    errno: str | None = None  #: errno name from the socket
    icmp: str | None = None  #: "type 3 code 13 from 192.0.2.1" (UDP, from the error queue)
    elapsed_ms: float = 0.0
    attempts: int = 1
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortProbe:
    """One (address, protocol, port) to probe, optionally from a given local address."""

    address: str
    port: int
    protocol: Protocol
    source: str | None = None
    payload: bytes = b""  #: UDP datagram to send


@dataclass(frozen=True, slots=True, kw_only=True)
class PortResult:
    probe: PortProbe
    outcome: Outcome
    evidence: Evidence
    reply: bytes = b""  #: UDP: the first bytes of the answer


_ERRNO_OUTCOMES = {
    errno.ECONNREFUSED: Outcome.REFUSED,
    errno.ECONNRESET: Outcome.REFUSED,
    errno.EHOSTUNREACH: Outcome.REJECTED,
    errno.EACCES: Outcome.REJECTED,
    errno.EHOSTDOWN: Outcome.REJECTED,
    errno.ENETUNREACH: Outcome.NO_ROUTE,
    errno.ETIMEDOUT: Outcome.FILTERED,
    errno.EPERM: Outcome.LOCAL_ERROR,  # the source's own firewall dropped the packet
    errno.EMFILE: Outcome.LOCAL_ERROR,
    errno.ENFILE: Outcome.LOCAL_ERROR,
    errno.EADDRNOTAVAIL: Outcome.LOCAL_ERROR,
    errno.EADDRINUSE: Outcome.LOCAL_ERROR,
    errno.ENOBUFS: Outcome.LOCAL_ERROR,
    errno.EAFNOSUPPORT: Outcome.LOCAL_ERROR,
    errno.EINVAL: Outcome.LOCAL_ERROR,
}


def _classify(code: int, *, udp: bool = False) -> Outcome:
    outcome = _ERRNO_OUTCOMES.get(code, Outcome.LOCAL_ERROR)
    if udp and outcome is Outcome.REFUSED:
        return Outcome.CLOSED
    return outcome


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft open-files limit towards ``wanted`` (within the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


def _new_socket(probe: PortProbe, kind: socket.SocketKind) -> socket.socket:
    family = _family(probe.address)
    sock = socket.socket(family, kind | socket.SOCK_NONBLOCK)
    try:
        if kind == socket.SOCK_STREAM:
            # close with a reset: no TIME_WAIT pile-up, no half-open sessions left behind
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            level, option = (
                (socket.IPPROTO_IPV6, IPV6_RECVERR)
                if family == socket.AF_INET6
                else (socket.IPPROTO_IP, IP_RECVERR)
            )
            sock.setsockopt(level, option, 1)
        if probe.source is not None:
            sock.bind((probe.source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def _wait(loop: asyncio.AbstractEventLoop, fd: int, timeout: float, *, write: bool) -> bool:
    """Whether ``fd`` became ready (writable or readable) within ``timeout``."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if write else loop.add_reader)(fd, wake)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


async def _tcp(probe: PortProbe, timeout: float) -> PortResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    def result(outcome: Outcome, code: int | None = None, note: str | None = None) -> PortResult:
        return PortResult(
            probe=probe,
            outcome=outcome,
            evidence=Evidence(
                errno=errno.errorcode.get(code) if code else None,
                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
                note=note,
            ),
        )

    try:
        sock = _new_socket(probe, socket.SOCK_STREAM)
    except OSError as exc:
        return result(Outcome.LOCAL_ERROR, exc.errno, "could not open or bind the socket")
    with sock:
        code = sock.connect_ex((probe.address, probe.port))
        if code == 0:
            return result(Outcome.OPEN)
        if code != errno.EINPROGRESS:
            return result(_classify(code), code)
        await _wait(loop, sock.fileno(), timeout, write=True)
        # The socket's own state decides, whichever event came first.
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            return result(_classify(code), code)
        try:
            sock.getpeername()
        except OSError:
            if _syn_never_left(sock):
                return result(
                    Outcome.LOCAL_ERROR,
                    None,
                    "the SYN was retransmitted but never left this machine "
                    "(its own firewall drops it)",
                )
            return result(Outcome.FILTERED, None, f"no answer within {timeout:g} s")
        return result(Outcome.OPEN)


def _syn_never_left(sock: socket.socket) -> bool:
    """Whether the kernel retransmitted the SYN and could not send it (Linux ``TCP_INFO``).

    A SYN dropped by the source's own firewall fails inside the kernel (EPERM) and the socket
    never reports it: connect() just waits.  The trace it leaves is a retransmission attempt
    (``tcpi_retransmits``) without a retransmitted segment in flight (``tcpi_retrans``, which
    the kernel counts only for a segment that left).
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return False
    if len(info) < _TCP_INFO_SIZE:
        return False
    state, _ca_state, retransmits = info[0], info[1], info[2]
    (retrans,) = struct.unpack_from("=I", info, 36)
    return state == _TCP_SYN_SENT and retransmits > 0 and retrans == 0


def _icmp_detail(sock: socket.socket) -> str | None:
    """ICMP type, code and sender from the socket's error queue, if any."""
    try:
        _data, ancillary, _flags, _address = sock.recvmsg(512, 512, MSG_ERRQUEUE)
    except OSError:
        return None
    for _level, _kind, payload in ancillary:
        if len(payload) < _EXTENDED_ERR.size:
            continue
        _err, origin, icmp_type, icmp_code, _pad, _info, _d = _EXTENDED_ERR.unpack_from(payload)
        if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
            continue
        offender = payload[_EXTENDED_ERR.size :]
        sender = _sockaddr_text(offender)
        kind = "ICMPv6" if origin == _SO_EE_ORIGIN_ICMP6 else "ICMP"
        return f"{kind} type {icmp_type} code {icmp_code}" + (f" from {sender}" if sender else "")
    return None


def _sockaddr_text(raw: bytes) -> str | None:
    if len(raw) >= 8 and int.from_bytes(raw[:2], "little") == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if len(raw) >= 24 and int.from_bytes(raw[:2], "little") == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


async def _udp(probe: PortProbe, timeout: float) -> PortResult:
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    def result(
        outcome: Outcome,
        code: int | None = None,
        *,
        icmp: str | None = None,
        note: str | None = None,
        reply: bytes = b"",
    ) -> PortResult:
        return PortResult(
            probe=probe,
            outcome=outcome,
            reply=reply,
            evidence=Evidence(
                errno=errno.errorcode.get(code) if code else None,
                icmp=icmp,
                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
                note=note,
            ),
        )

    try:
        sock = _new_socket(probe, socket.SOCK_DGRAM)
    except OSError as exc:
        return result(Outcome.LOCAL_ERROR, exc.errno, note="could not open or bind the socket")
    with sock:
        try:
            sock.connect((probe.address, probe.port))
            sock.send(probe.payload)
        except OSError as exc:
            return result(_classify(exc.errno or 0, udp=True), exc.errno, icmp=_icmp_detail(sock))
        deadline = started + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not await _wait(loop, sock.fileno(), left, write=False):
                break
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                continue
            except OSError as exc:
                return result(
                    _classify(exc.errno or 0, udp=True), exc.errno, icmp=_icmp_detail(sock)
                )
            return result(Outcome.OPEN, reply=data[:512], note=f"{len(data)} bytes answered")
        return result(Outcome.OPEN_FILTERED, note=f"no answer within {timeout:g} s")


async def probe_once(probe: PortProbe, timeout: float) -> PortResult:
    """Probe one port once."""
    if probe.protocol is Protocol.TCP:
        return await _tcp(probe, timeout)
    return await _udp(probe, timeout)


_SILENT = (Outcome.FILTERED, Outcome.OPEN_FILTERED)


async def probe_all(
    probes: Sequence[PortProbe],
    *,
    timeout: float = 1.0,
    concurrency: int = 256,
    per_destination: int = PER_DESTINATION,
    progress: Callable[[PortResult], None] | None = None,
) -> list[PortResult]:
    """Probe every port concurrently, then re-probe silent ones alone; results in input order.

    At most ``concurrency`` probes run at once and ``per_destination`` per address.
    """
    raise_fd_limit()
    everyone = asyncio.Semaphore(concurrency)
    per_address: dict[str, asyncio.Semaphore] = {}

    async def run(probe: PortProbe) -> PortResult:
        gate = per_address.setdefault(probe.address, asyncio.Semaphore(per_destination))
        async with everyone, gate:
            return await probe_once(probe, timeout)

    results = list(await asyncio.gather(*(run(p) for p in probes)))
    # Silence may be a rate-limited ICMP error: ask again, one port at a time.
    again = max(timeout, RATE_LIMIT_WAIT)
    for index, first in enumerate(results):
        if first.outcome in _SILENT:
            second = await probe_once(first.probe, again)
            attempts = first.evidence.attempts + 1
            results[index] = replace(second, evidence=replace(second.evidence, attempts=attempts))
        if progress is not None:
            progress(results[index])
    return results


def probes_for(
    addresses: Iterable[str], ports: Iterable[int], protocol: Protocol, source: str | None = None
) -> list[PortProbe]:
    """Every (address, port) combination as probes."""
    port_list = list(ports)
    return [
        PortProbe(address=a, port=p, protocol=protocol, source=source)
        for a in addresses
        for p in port_list
    ]
