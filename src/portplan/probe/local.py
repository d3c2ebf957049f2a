"""This machine's own addresses, and the hosts of a plan they make it."""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from portplan.model.addresses import special_kind
from portplan.probe.engine import family_of

if TYPE_CHECKING:  # types only: the prober bundled for Ansible has neither pydantic nor psutil
    from portplan.model._types import Network
    from portplan.plan import Plan

__all__ = [
    "is_local",
    "is_own",
    "kernel_source",
    "local_addresses",
    "own_addresses",
    "route_lookups",
    "single_address",
    "source_hosts",
]


def local_addresses() -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address configured on this machine's interfaces."""
    import psutil  # noqa: PLC0415 - only here: the prober bundled for Ansible is stdlib-only

    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            try:
                found.add(ipaddress.ip_address(entry.address.split("%")[0]))
            except ValueError:
                continue  # link-layer addresses
    return found


def is_local(address: str) -> bool:
    """Whether this machine can send from ``address`` (it binds: an interface address, or any
    127.0.0.0/8 address on Linux; where the kernel binds any address, ``ip_nonlocal_bind``,
    one it routes to itself); not where its family is off, and never a special-purpose
    address, which binds without being one of this machine's (``0.0.0.0`` and ``::`` are
    every address, the kernel then chooses; a multicast or broadcast address names a group):
    a host that declares one is not this machine for it."""
    if not _unicast(address):
        return False
    try:
        with socket.socket(family_of(address), socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    if not _binds_any(family_of(address)):
        return True
    # here the kernel binds addresses it does not hold (the members of a keepalived pair, so
    # that either binds the shared one): an address of this machine is one it routes to
    # itself, sending from it
    found = ipaddress.ip_address(address)
    return found.is_loopback or kernel_source(address) == found


def _binds_any(family: int) -> bool:
    """Whether this machine's kernel lets a program bind an address of ``family`` that it does
    not hold (Linux: ``net.ipv4.ip_nonlocal_bind``, ``net.ipv6.ip_nonlocal_bind``)."""
    version = "ipv6" if family == socket.AF_INET6 else "ipv4"
    try:
        with open(f"/proc/sys/net/{version}/ip_nonlocal_bind", encoding="ascii") as setting:
            return setting.read().strip() != "0"
    except (OSError, ValueError):
        return False


def route_lookups() -> Callable[[str], ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """:func:`kernel_source`, each destination looked up once (for one planning: routes may
    change between runs)."""
    return functools.cache(kernel_source)


def kernel_source(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address this machine's kernel sends from towards ``address`` (a route lookup:
    nothing is sent), or ``None`` where there is no route, or no such family here."""
    try:
        with socket.socket(family_of(address), socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))
            return ipaddress.ip_address(sock.getsockname()[0].split("%")[0])
    except OSError:
        return None


def source_hosts(
    plan: Plan, addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]
) -> tuple[str, ...]:
    """Hosts of the plan that one of ``addresses`` belongs to (exact address or in a group);
    never a host portplan does not manage (``anywhere``'s 0.0.0.0/0 holds every machine)."""
    local = [a for a in addresses if not a.is_loopback and not a.is_link_local]
    found = []
    for name, host in plan.hosts.items():
        if host.managed and any(
            address in network for network in host.addresses for address in local
        ):
            found.append(name)
    return tuple(found)


def single_address(network: Network) -> str | None:
    """The address of a network of one address (``192.0.2.10/32``), else ``None``."""
    return str(network.network_address) if network.num_addresses == 1 else None


def own_addresses(
    plan: Plan,
    host: str,
    local: Collection[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset(),
) -> list[str]:
    """The single addresses of ``host`` that are this machine's own (in ``local``, or it can
    bind them), in the deployment's order."""
    return [
        single
        for single in (single_address(n) for n in plan.host_addresses(host))
        if single and is_own(single, local)
    ]


def is_own(
    address: str, local: Collection[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset()
) -> bool:
    """Whether ``address`` is this machine's: in ``local``, or it can send from it (never a
    special-purpose address: see :func:`is_local`)."""
    return _unicast(address) and (ipaddress.ip_address(address) in local or is_local(address))


def _unicast(address: str) -> bool:
    """Whether ``address`` is one address of one machine: not special-purpose (unspecified,
    broadcast, multicast, IPv4-mapped), nor anything but an IP address."""
    try:
        return special_kind(ipaddress.ip_network(address)) is None
    except ValueError:
        return False
