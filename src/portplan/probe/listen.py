"""Temporary listeners: prove the network path before the product is installed.

``portplan listen`` opens every port a host must accept: TCP listeners that greet with a token
and close, UDP sockets that answer ``portplan verify``'s datagram with the same token.
``portplan verify`` recognises the token ("path open, temporary listener"), which is the one way
a UDP path can be proven end to end without the real service.  A UDP listener answers only
verify's datagram, with as many bytes as it got: it is no amplifier for a forged sender, and an
echo service on the port does not pass for it (it sends verify's own marker back).  A port
already in use is never taken over: it is reported and left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import signal
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from portplan.model.addresses import special_kind
from portplan.model.protocol import Protocol
from portplan.probe.engine import FD_RESERVE
from portplan.probe.outcomes import family_of, raise_fd_limit

if TYPE_CHECKING:  # a type only: the prober bundled for Ansible is stdlib-only
    from portplan.plan import Plan

__all__ = [
    "LISTENER_PROBE",
    "LISTENER_TOKEN",
    "Binding",
    "ListenPlan",
    "listen",
    "listen_plan",
    "over_limit",
    "sample_ports",
    "serve",
    "unlistenable",
]

#: ports of one row probed at most; a larger range (the dynamic RPC range) is sampled
MAX_PORTS_PER_ROW = 64
#: the marker a temporary listener answers with (``portplan verify`` recognises it)
LISTENER_TOKEN = b"portplan-listen"
#: what ``portplan verify`` sends a UDP port: a listener answers this datagram alone, with the
#: token in place of its first word (as long as :data:`LISTENER_TOKEN`: the same length)
LISTENER_PROBE = b"portplan-verify "


def sample_ports(ports: Sequence[int]) -> list[int]:
    """At most MAX_PORTS_PER_ROW ports: the ends and evenly spread ones between."""
    if len(ports) <= MAX_PORTS_PER_ROW:
        return list(ports)
    step = (len(ports) - 1) / (MAX_PORTS_PER_ROW - 1)
    return sorted({ports[round(i * step)] for i in range(MAX_PORTS_PER_ROW)})


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    address: str
    port: int
    protocol: Protocol
    flows: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenPlan:
    host: str
    bindings: tuple[Binding, ...]


def listen_plan(plan: Plan, host: str, addresses: Iterable[str]) -> ListenPlan:
    """Every (address, protocol, port) ``host`` must accept, on the given local addresses
    (for a host known by name only, whose rows name no address: those its name resolves to
    here, every one of them); never a special-purpose address among them (see
    :func:`unlistenable`)."""
    local = [a for a in addresses if unlistenable(a) is None]
    found: dict[tuple[str, Protocol, int], list[str]] = {}
    for row in plan.rows_of(host):
        if row.destination != host:
            continue
        ports = sample_ports(list(row.listen_ports if row.listen_ports is not None else row.ports))
        targets = (
            ["127.0.0.1"]
            if row.loopback
            else [
                a
                for a in local
                if any(ipaddress.ip_address(a) in n for n in row.destination_addresses)
            ]
            if row.destination_addresses
            else local
        )
        for address in targets:
            for port in ports:
                found.setdefault((address, row.protocol, port), []).append(row.key)
    bindings = tuple(
        Binding(address=a, port=p, protocol=proto, flows=tuple(dict.fromkeys(keys)))
        for (a, proto, p), keys in found.items()
    )
    return ListenPlan(host=host, bindings=bindings)


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.startswith(LISTENER_PROBE):  # anything else, from anyone, gets nothing
            self.transport.sendto(LISTENER_TOKEN + data[len(LISTENER_TOKEN) :], addr)


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        writer.write(LISTENER_TOKEN + b"\r\n")
        await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def _socket(binding: Binding) -> socket.socket:
    family = family_of(binding.address)
    kind = socket.SOCK_STREAM if binding.protocol is Protocol.TCP else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # lets us bind over TIME_WAIT, never over a live listener (Linux semantics)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((binding.address, binding.port))
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def unlistenable(address: str) -> str | None:
    """Why no listener is opened on ``address``, if none is: it is not an IP address (an
    empty one binds every address), or a special-purpose one, which is no single address of
    this machine (``0.0.0.0`` and ``::`` bind every address, a multicast or broadcast one a
    group)."""
    try:
        kind = special_kind(ipaddress.ip_network(address))
    except ValueError:
        return f"{address!r} is not an IP address of this machine: never listened on"
    if kind is not None:
        return (
            f"{address} is a special-purpose address ({kind.value}), no single address of this "
            "machine: never listened on"
        )
    return None


def over_limit(limit: int) -> str:
    """Why a binding past what the open-files limit ``limit`` holds is not listened on."""
    return (
        f"over the open-files limit ({limit}, {FD_RESERVE} of them kept to accept connections "
        "with): raise the hard limit (ulimit -Hn as root; LimitNOFILE= for a service)"
    )


async def serve(
    bindings: Sequence[Binding],
    duration: float,
    stop: asyncio.Event | None = None,
    ready: Callable[[list[Binding], list[tuple[Binding, str]]], None] | None = None,
) -> tuple[list[Binding], list[tuple[Binding, str]]]:
    """Listen on every binding until ``duration`` passes or ``stop`` is set.

    Returns the bindings that listened and those that could not, with the reason (a port in
    use is reported, never taken over; a binding on no single address of this machine,
    :func:`unlistenable`, is never opened).  ``ready`` is called with the same two lists once
    every socket is bound, before the wait; with none bound, there is no wait.  The open-files
    limit is raised first, as far as the hard limit lets, to hold one socket per binding;
    :data:`FD_RESERVE` descriptors stay free to accept connections with, and the bindings
    past what the limit holds fail with :func:`over_limit`'s reason.
    """
    limit = raise_fd_limit(len(bindings) + FD_RESERVE)
    room = limit - FD_RESERVE
    loop = asyncio.get_running_loop()
    opened: list[Binding] = []
    failed: list[tuple[Binding, str]] = []
    closers: list[asyncio.AbstractServer | asyncio.BaseTransport] = []
    try:
        for binding in bindings:
            refused = unlistenable(binding.address)
            if refused is not None:
                failed.append((binding, refused))
                continue
            if len(closers) >= room:
                failed.append((binding, over_limit(limit)))
                continue
            try:
                sock = _socket(binding)
            except OSError as exc:
                reason = (
                    "in use by another program: left alone"
                    if exc.errno == errno.EADDRINUSE
                    else f"{exc.strerror}"
                )
                failed.append((binding, reason))
                continue
            if binding.protocol is Protocol.TCP:
                closers.append(await asyncio.start_server(_greet, sock=sock))
            else:
                transport, _ = await loop.create_datagram_endpoint(_Echo, sock=sock)
                closers.append(transport)
            opened.append(binding)
        if ready is not None:
            ready(list(opened), list(failed))
        if not opened:  # nothing to listen on: nothing to wait for
            return opened, failed
        waiter = stop or asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout=duration)
    finally:
        for closer in closers:
            closer.close()
    return opened, failed


def listen(
    bindings: Sequence[Binding],
    duration: float,
    *,
    ready: Callable[[list[Binding], list[tuple[Binding, str]]], None] | None = None,
    stop_signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> tuple[list[Binding], list[tuple[Binding, str]], signal.Signals | None]:
    """:func:`serve` until ``duration`` passes or one of ``stop_signals`` arrives (blocking);
    also the signal that stopped it, if one did (every socket is closed either way)."""
    stopped_by: list[signal.Signals] = []

    async def run() -> tuple[list[Binding], list[tuple[Binding, str]]]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping(sig: signal.Signals) -> None:
            stopped_by.append(sig)
            stop.set()

        for sig in stop_signals:
            loop.add_signal_handler(sig, stopping, sig)
        return await serve(bindings, duration, stop, ready)

    opened, failed = asyncio.run(run())
    return opened, failed, (stopped_by[0] if stopped_by else None)
