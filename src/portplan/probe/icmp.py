"""ICMP echo on the wire: one ping (ICMP or ICMPv6), its verdict from the answer that matches it.

A planned ICMP flow that allows ``echo-request`` is probed with one echo request to each
destination address.  The socket:

* an unprivileged **ping socket** (``SOCK_DGRAM``, ``IPPROTO_ICMP``/``IPPROTO_ICMPV6``) where
  the kernel allows it: a process whose group is in ``net.ipv4.ping_group_range`` (the one
  setting covers both families; many distributions open it to every group).  The kernel sets
  the echo identifier to the socket's own and hands the socket only the replies and the ICMP
  errors that carry it, so concurrent probes (and other programs' pings) never see each
  other's answers, and no privilege is needed;
* else a **raw socket** (``SOCK_RAW``), which needs root (``CAP_NET_RAW``).  It sees every ICMP
  message the host receives, so an answer counts only when it quotes this probe's identifier,
  sequence number and payload, and comes from the probed address;
* else nothing can be sent: ``local-error`` with the reason (neither setting allows it).

Either socket is connected to the destination and asks for ICMP errors (``IP_RECVERR``), so a
"destination unreachable" about the echo request arrives as an error with its type, code and
sender, as it does for UDP probes.  The verdicts, in the vocabulary of TCP and UDP probes:

* ``open``: an echo reply from the probed address with this probe's identifier, sequence and
  payload.  Nothing else is ever ``open``;
* ``rejected``: an ICMP destination unreachable about the request (administratively prohibited,
  host or port unreachable: a firewall's ``reject``, also this machine's own), or a parameter
  problem;
* ``no-route``: no route here, no host for the address on this machine's own link, or an ICMP
  network unreachable or time exceeded on the way;
* ``filtered``: no answer within the timeout (and none when asked again, see the engine);
* ``local-error``: this machine did not send it (its own firewall drops the request: ``EPERM``;
  no ICMP socket may be opened; the source address cannot be bound).

Standard library only: the prober is bundled into the Ansible collection.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import itertools
import os
import socket
import struct
import time

from portplan.probe.outcomes import (
    DROPPED_HERE,
    NO_NEIGHBOUR,
    NOT_ROUTED_HERE,
    REJECTED_HERE,
    Evidence,
    Outcome,
    PortProbe,
    PortResult,
    classify,
    family_of,
    not_routed_here,
)

__all__ = [
    "ECHO_REQUEST",
    "ECHO_TYPES",
    "TTL_EXPIRED",
    "IcmpError",
    "ask_for_errors",
    "echo_once",
    "from_elsewhere",
    "from_here",
    "icmp_text",
    "is_time_exceeded",
    "open_icmp_socket",
    "queued_error",
]

#: the ICMP type name of the one message ``portplan verify`` sends (the model's name)
ECHO_REQUEST = "echo-request"
#: ICMP type names under which an echo request is allowed (``any``: every type)
ECHO_TYPES = frozenset({ECHO_REQUEST, "any"})

# Linux socket constants Python's socket module does not name.
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_MSG_ERRQUEUE = 0x2000
_SO_EE_ORIGIN_ICMP = 2
_SO_EE_ORIGIN_ICMP6 = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence

#: (request, reply) types of each family
_V4_ECHO, _V6_ECHO = (8, 0), (128, 129)
#: ICMP error types that may quote an echo request, per family: type -> name
_V4_ERRORS = {3: "destination unreachable", 11: "time exceeded", 12: "parameter problem"}
_V6_ERRORS = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
}
#: the ICMP type of "time exceeded", per IP version
_TIME_EXCEEDED = {4: 11, 6: 3}
#: the note of a probe answered by an ICMP time exceeded (the kernel reports it as
#: ``EHOSTUNREACH``, as if the destination had answered): nothing reached the destination
TTL_EXPIRED = (
    "ICMP time exceeded on the way: the probe's time to live ran out before it reached the "
    "destination (a routing loop, or a path longer than its TTL); a routing problem, not an "
    "answer from the destination"
)
#: destination-unreachable codes that say the network cannot be reached (v4: net unreachable,
#: net unknown, net unreachable for the type of service; v6: no route, beyond the source's scope)
_NO_ROUTE_CODES = {4: frozenset({0, 6, 11}), 6: frozenset({0, 2})}
#: the destination unreachable a kernel sends itself when its neighbour lookup (ARP, NDP) finds
#: no host: (type, code) by IP version (v4 host unreachable, v6 address unreachable)
_NO_NEIGHBOUR = {4: (3, 1), 6: (1, 3)}
#: errors that say nothing was sent from here
_NOT_SENT = frozenset({errno.EPERM, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.EINVAL})

#: an ICMP error about what a socket sent, as :func:`queued_error` reads it: (IP version, ICMP
#: type, code, sender; ``None`` when the kernel does not say who sent it)
IcmpError = tuple[int, int, int, str | None]

#: identifiers of raw-socket probes (a ping socket's is the kernel's), distinct within a run
_identifiers = itertools.count(int.from_bytes(os.urandom(2), "big"))


class IcmpUnavailable(OSError):
    """Neither a ping socket nor a raw socket may be opened here."""


def open_icmp_socket(family: socket.AddressFamily) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket of ``family``: (socket, whether it is a ping socket).

    The ping socket first (no privilege, the kernel matches replies); a raw socket where the
    group is outside ``net.ipv4.ping_group_range``; :class:`IcmpUnavailable` when neither.
    """
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        return socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK, proto), True
    except OSError as ping:
        if ping.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
            raise
    try:
        return socket.socket(family, socket.SOCK_RAW | socket.SOCK_NONBLOCK, proto), False
    except PermissionError as raw:
        group = os.getgid()
        raise IcmpUnavailable(
            raw.errno,
            f"cannot open an ICMP socket: group {group} is outside net.ipv4.ping_group_range "
            "(the unprivileged ping socket) and a raw socket needs root (CAP_NET_RAW)",
        ) from raw


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _request(version: int, identifier: int, sequence: int, payload: bytes) -> bytes:
    """An echo request; ICMPv4's checksum is ours to fill in (the kernel does ICMPv6's, and
    a ping socket's in either family)."""
    kind = (_V4_ECHO if version == 4 else _V6_ECHO)[0]
    header = _ECHO.pack(kind, 0, 0, identifier, sequence)
    checksum = _checksum(header + payload) if version == 4 else 0
    return _ECHO.pack(kind, 0, checksum, identifier, sequence) + payload


def _icmp_of(data: bytes, version: int, raw: bool) -> bytes:
    """The ICMP message of a received datagram (a raw IPv4 socket also returns the IP header)."""
    if raw and version == 4:
        if not data:
            return b""
        return data[(data[0] & 0x0F) * 4 :]
    return data


def _quotes(message: bytes, version: int, identifier: int | None, sequence: int) -> bool:
    """Whether an ICMP error message quotes this probe's echo request (raw sockets)."""
    inner = message[8:]  # after the error's own header
    if version == 4:
        if len(inner) < 20:
            return False
        inner = inner[(inner[0] & 0x0F) * 4 :]
    else:
        inner = inner[40:]  # the quoted IPv6 header (an echo request has no extension header)
    if len(inner) < _ECHO.size:
        return False
    kind, _code, _sum, quoted_id, quoted_seq = _ECHO.unpack_from(inner)
    request = (_V4_ECHO if version == 4 else _V6_ECHO)[0]
    return kind == request and quoted_seq == sequence and identifier in (None, quoted_id)


def _error_outcome(version: int, icmp_type: int, code: int) -> Outcome:
    """What an ICMP error about the echo request says (see the module's docstring)."""
    unreachable = 3 if version == 4 else 1
    if icmp_type == unreachable:
        return Outcome.NO_ROUTE if code in _NO_ROUTE_CODES[version] else Outcome.REJECTED
    if is_time_exceeded(version, icmp_type):
        return Outcome.NO_ROUTE
    return Outcome.REJECTED


def is_time_exceeded(version: int, icmp_type: int) -> bool:
    """Whether an ICMP message of IP ``version`` is a time exceeded (a TTL that ran out)."""
    return _TIME_EXCEEDED.get(version) == icmp_type


def _sockaddr_text(raw: bytes) -> str | None:
    if len(raw) >= 8 and int.from_bytes(raw[:2], "little") == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if len(raw) >= 24 and int.from_bytes(raw[:2], "little") == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


def ask_for_errors(sock: socket.socket, family: socket.AddressFamily, *, ask: bool = True) -> None:
    """Have the kernel queue each ICMP error about what ``sock`` sends (``IP_RECVERR``), with
    its type, code and sender, for :func:`queued_error` (UDP and ICMP sockets, and TCP ones
    while they connect); ``ask=False`` stops it."""
    level, option = (
        (socket.IPPROTO_IPV6, _IPV6_RECVERR)
        if family == socket.AF_INET6
        else (socket.IPPROTO_IP, _IP_RECVERR)
    )
    sock.setsockopt(level, option, int(ask))


def queued_error(sock: socket.socket) -> IcmpError | None:
    """(IP version, ICMP type, code, sender) of the ICMP error waiting in the socket's error
    queue (see :func:`ask_for_errors`), if any."""
    try:
        _data, ancillary, _flags, _address = sock.recvmsg(512, 512, _MSG_ERRQUEUE)
    except OSError:
        return None
    for _level, _kind, payload in ancillary:
        if len(payload) < _EXTENDED_ERR.size:
            continue
        _err, origin, icmp_type, code, _pad, _info, _data2 = _EXTENDED_ERR.unpack_from(payload)
        if origin in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
            version = 6 if origin == _SO_EE_ORIGIN_ICMP6 else 4
            return version, icmp_type, code, _sockaddr_text(payload[_EXTENDED_ERR.size :])
    return None


def from_here(found: IcmpError, sock: socket.socket | None, address: str) -> str | None:
    """What an ICMP error (:func:`queued_error`) about a probe of ``sock`` to ``address``
    says when this machine sent it itself: its sender is the probe's own source address (a
    kernel answers its own packets from their source), and the probe was not to that
    address.  Either its neighbour lookup found no host on its own link
    (:data:`~portplan.probe.outcomes.NO_NEIGHBOUR`: a host unreachable, which a firewall of
    its own that rejects with a host unreachable also sends) or its own firewall rejected the
    probe (:data:`~portplan.probe.outcomes.REJECTED_HERE`).  ``None`` for an error from the
    way or from the destination."""
    version, icmp_type, code, sender = found
    try:
        own = sock.getsockname()[0] if sock is not None else ""
    except OSError:
        return None
    if sender is None or not _same_address(sender, own) or _same_address(sender, address):
        return None
    return NO_NEIGHBOUR if (icmp_type, code) == _NO_NEIGHBOUR[version] else REJECTED_HERE


def from_elsewhere(found: IcmpError, address: str) -> str | None:
    """The sender of an ICMP error (:func:`queued_error`) about a probe to ``address`` when
    it is not that address: a router or firewall on the way answered for the destination
    (the destination answers from the address it was sent to).  ``None`` when the
    destination sent it, or the sender is not known."""
    sender = found[3]
    return sender if sender is not None and not _same_address(sender, address) else None


def _same_address(one: str, other: str) -> bool:
    try:
        first = ipaddress.ip_address(one.split("%", maxsplit=1)[0])
        return first == ipaddress.ip_address(other.split("%", maxsplit=1)[0])
    except ValueError:
        return False


def icmp_text(version: int, icmp_type: int, code: int, sender: str | None) -> str:
    """The evidence text of an ICMP message: ``ICMP type 3 code 13 from 192.0.2.1``."""
    kind = "ICMP" if version == 4 else "ICMPv6"
    return f"{kind} type {icmp_type} code {code}" + (f" from {sender}" if sender else "")


class _Echo:
    """One echo request in flight: what it sent, and how to read what comes back."""

    def __init__(self, probe: PortProbe, timeout: float) -> None:
        self.probe = probe
        self.timeout = timeout
        self.version = 6 if family_of(probe.address) == socket.AF_INET6 else 4
        self.address = ipaddress.ip_address(probe.address)
        self.started = time.monotonic()
        self.sequence = int.from_bytes(os.urandom(2), "big")
        self.payload = b"portplan echo " + os.urandom(8)
        self.identifier: int | None = None  #: ours on a raw socket; the kernel's on a ping one
        self.socket = "ping socket"  #: which kind sent it (evidence)

    def result(
        self,
        outcome: Outcome,
        code: int | None = None,
        *,
        icmp: str | None = None,
        note: str | None = None,
    ) -> PortResult:
        return PortResult(
            probe=self.probe,
            outcome=outcome,
            evidence=Evidence(
                errno=errno.errorcode.get(code) if code else None,
                icmp=icmp,
                elapsed_ms=round((time.monotonic() - self.started) * 1000, 1),
                note=note,
            ),
        )

    def failed(self, sock: socket.socket | None, exc: OSError, *, at_once: bool) -> PortResult:
        """The result of an error the socket raised: an ICMP error about the request when
        the error queue holds one, else what the errno says (raised ``at_once``, by
        ``connect()`` or ``send()``, a missing route is this machine's own)."""
        code = exc.errno or 0
        queued = queued_error(sock) if sock is not None else None
        if queued is not None:
            version, icmp_type, icmp_code, _sender = queued
            here = from_here(queued, sock, self.probe.address)
            outcome = _error_outcome(version, icmp_type, icmp_code)
            if here == NO_NEIGHBOUR:
                outcome = Outcome.NO_ROUTE
            return self.result(outcome, code, icmp=icmp_text(*queued), note=here)
        if at_once and not_routed_here(code):
            return self.result(Outcome.NO_ROUTE, code, note=NOT_ROUTED_HERE)
        outcome = classify(code)
        if outcome is Outcome.REFUSED:  # a port unreachable about an echo: a firewall's reject
            outcome = Outcome.REJECTED
        note = None
        if code == errno.EPERM and at_once:
            note = DROPPED_HERE
        elif code in _NOT_SENT:
            note = "the echo request was not sent"
        return self.result(outcome, code, note=note)

    def read(
        self, data: bytes, sender: str, raw: bool, sock: socket.socket | None = None
    ) -> PortResult | None:
        """The result a received message gives, or ``None`` when it is not about this probe
        (``sock``: the socket it came from, for its own address)."""
        message = _icmp_of(data, self.version, raw)
        if len(message) < _ECHO.size:
            return None
        kind, code, _sum, identifier, sequence = _ECHO.unpack_from(message)
        reply = (_V4_ECHO if self.version == 4 else _V6_ECHO)[1]
        if kind == reply:
            mine = (
                sequence == self.sequence
                and message[_ECHO.size :] == self.payload
                and (self.identifier is None or identifier == self.identifier)
                and ipaddress.ip_address(sender.split("%", maxsplit=1)[0]) == self.address
            )
            if not mine:
                return None
            note = f"echo reply from {self.probe.address} ({self.socket})"
            return self.result(Outcome.OPEN, note=note)
        errors = _V4_ERRORS if self.version == 4 else _V6_ERRORS
        if (
            raw
            and kind in errors
            and _quotes(message, self.version, self.identifier, self.sequence)
        ):
            found = (self.version, kind, code, sender.split("%", maxsplit=1)[0])
            here = from_here(found, sock, self.probe.address)
            outcome = _error_outcome(self.version, kind, code)
            return self.result(
                Outcome.NO_ROUTE if here == NO_NEIGHBOUR else outcome,
                icmp=icmp_text(*found),
                note=here,
            )
        return None


async def echo_once(probe: PortProbe, timeout: float) -> PortResult:
    """Send one echo request to ``probe.address`` (from ``probe.source``, when given) and wait
    at most ``timeout`` seconds for its answer (see the module's docstring for the verdicts)."""
    loop = asyncio.get_running_loop()
    echo = _Echo(probe, timeout)
    family = family_of(probe.address)
    try:
        sock, ping = open_icmp_socket(family)
    except OSError as exc:
        note = str(exc.strerror or exc) if isinstance(exc, IcmpUnavailable) else None
        return echo.result(Outcome.LOCAL_ERROR, exc.errno, note=note or "could not open a socket")
    with sock:
        try:
            ask_for_errors(sock, family)
            if probe.source is not None:
                sock.bind((probe.source, 0))
        except OSError as exc:
            return echo.result(
                Outcome.LOCAL_ERROR, exc.errno, note="could not open or bind the socket"
            )
        if not ping:
            echo.identifier = next(_identifiers) & 0xFFFF
            echo.socket = "raw socket"
        packet = _request(echo.version, echo.identifier or 0, echo.sequence, echo.payload)
        try:
            sock.connect((probe.address, 0))
            sock.send(packet)
        except OSError as exc:
            return echo.failed(sock, exc, at_once=True)
        deadline = echo.started + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                data, peer = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), left)
            except TimeoutError:
                break
            except OSError as exc:
                return echo.failed(sock, exc, at_once=False)
            found = echo.read(data, str(peer[0]), not ping, sock)
            if found is not None:
                return found
        return echo.result(Outcome.FILTERED, note=f"no echo reply within {timeout:g} s")
