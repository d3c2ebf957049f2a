"""A bounded resolver: the names of a deployment's hosts, resolved up front, each within a limit.

``portplan verify`` resolves every destination name before it probes anything, as the product's
components would (``getaddrinfo``: ``/etc/hosts``, then DNS, as ``/etc/nsswitch.conf`` says).
At most :data:`MAX_LOOKUPS` names are looked up at once and each is given ``timeout`` seconds;
a resolver error (``socket.gaierror``) becomes a readable reason here, once.

Each lookup runs in a daemon thread of its own rather than in asyncio's default executor
(``loop.getaddrinfo``): ``asyncio.run`` joins that executor's threads before it returns, so a
DNS server that never answers would hold the whole run until the C library's own retries end
(``timeout:5 attempts:2`` per server in ``resolv.conf`` by default), whatever our limit says.
A daemon thread that outlives its limit is abandoned and never delays the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DNS_TIMEOUT", "MAX_LOOKUPS", "NameLookup", "resolve_names"]

#: seconds one name may take to resolve, at least (``portplan verify`` uses its --timeout if longer)
DNS_TIMEOUT = 2.0
#: names looked up at once
MAX_LOOKUPS = 32

_GAI_NAMES = {
    getattr(socket, name): name
    for name in dir(socket)
    if name.startswith("EAI_") and isinstance(getattr(socket, name), int)
}
_GAI_REASONS = {
    "EAI_NONAME": "no such name",
    "EAI_NODATA": "the name has no address",
    "EAI_ADDRFAMILY": "the name has no address of a usable family",
    "EAI_AGAIN": "temporary failure: the DNS server did not answer in time or failed for now",
    "EAI_FAIL": "the DNS server failed",
    "EAI_MEMORY": "out of memory",
    "EAI_SYSTEM": "system error",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NameLookup:
    """What a name resolved to (addresses in the resolver's order, once each), or why not."""

    name: str
    addresses: tuple[str, ...] = ()
    error: str | None = None  #: why it did not resolve: "no such name (EAI_NONAME)"
    elapsed_ms: float = 0.0

    @property
    def resolved(self) -> bool:
        return self.error is None


def _reason(exc: BaseException) -> str:
    """A resolver error in words, with the C library's code name where it has one."""
    if isinstance(exc, socket.gaierror) and exc.errno in _GAI_NAMES:
        code = _GAI_NAMES[exc.errno]
        return f"{_GAI_REASONS.get(code, exc.strerror or 'resolver error')} ({code})"
    return str(exc) or type(exc).__name__


def _address_text(sockaddr: tuple[object, ...]) -> str | None:
    try:
        return str(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
    except ValueError:
        return None


async def _getaddrinfo(name: str) -> list[str]:
    """``socket.getaddrinfo(name)`` in a daemon thread: the addresses, once each, in order."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[list[str]] = loop.create_future()

    def settle(found: list[str] | None, error: BaseException | None) -> None:
        if answer.done():  # the limit passed first: nobody waits any more
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(found or [])

    def work() -> None:
        found: list[str] | None = None
        error: BaseException | None = None
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            texts = (_address_text(info[4]) for info in infos)
            found = list(dict.fromkeys(t for t in texts if t))
        except (OSError, UnicodeError) as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(settle, found, error)

    threading.Thread(target=work, name=f"portplan-resolve-{name}", daemon=True).start()
    return await answer


async def _lookup(name: str, timeout: float, gate: asyncio.Semaphore) -> NameLookup:
    async with gate:
        started = time.monotonic()

        def done(addresses: tuple[str, ...] = (), error: str | None = None) -> NameLookup:
            elapsed = round((time.monotonic() - started) * 1000, 1)
            return NameLookup(name=name, addresses=addresses, error=error, elapsed_ms=elapsed)

        try:
            addresses = await asyncio.wait_for(_getaddrinfo(name), timeout)
        except TimeoutError:
            return done(error=f"no answer within {timeout:g} s")
        except (OSError, UnicodeError) as exc:
            return done(error=_reason(exc))
        if not addresses:
            return done(error="the name has no address")
        return done(addresses=tuple(addresses))


async def resolve_names(
    names: Iterable[str], *, timeout: float = DNS_TIMEOUT, concurrency: int = MAX_LOOKUPS
) -> dict[str, NameLookup]:
    """Resolve every name (each once), at most ``concurrency`` at once, each within ``timeout``."""
    gate = asyncio.Semaphore(max(1, concurrency))
    unique = list(dict.fromkeys(names))
    found = await asyncio.gather(*(_lookup(name, timeout, gate) for name in unique))
    return dict(zip(unique, found, strict=True))
