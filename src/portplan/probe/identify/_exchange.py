"""What every stream identifier shares: connect, talk within the time limit, report findings.

An identifier fills a :class:`Findings` as the exchange goes (the protocol as soon as the peer
has proved it, facts, warnings) and names the step it is waiting on, so that when the peer goes
silent, resets or sends garbage half-way the result still says what was learnt and where it
stopped.  :func:`run_exchange` is the one place where the peer's misbehaviour (``OSError``,
TLS errors, an early end of stream, the time limit) turns into an :class:`Identification`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from portplan.probe.identify._flight import (
    CLIENT_CERTIFICATE,
    NEEDS_CLIENT_CERTIFICATE,
    refuses_client,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "Findings",
    "NotThisProtocol",
    "Stream",
    "budget",
    "connect",
    "printable",
    "read_line",
    "run_exchange",
]

#: longest line an identifier reads (status lines, headers, banners, capabilities)
MAX_LINE = 8192
#: how long a clean close (TLS close_notify included) may take before the socket is aborted
CLOSE_GRACE = 1.0


class NotThisProtocol(Exception):
    """The peer answered, but not in the protocol the identifier speaks (the message says how);
    ``details``: what its answer showed nonetheless (they join the findings')."""

    def __init__(self, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})


@dataclass(slots=True)
class Findings:
    """What an exchange has learnt so far; turned into an :class:`Identification` at the end."""

    expected: str
    protocol: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: what the identifier is waiting for, for the error message if it never comes
    step: str = "connection"
    #: everything has been learnt; what goes wrong while saying goodbye is no finding
    complete: bool = False

    def identification(self, error: str | None = None) -> Identification:
        return Identification(
            expected=self.expected,
            protocol=self.protocol,
            details=dict(self.details),
            warnings=tuple(self.warnings),
            error=error,
        )


@dataclass(frozen=True, slots=True)
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the transport has taken it."""
        self.writer.write(data)
        await self.writer.drain()


def printable(data: bytes, limit: int = 80) -> str:
    """The first ``limit`` bytes of an answer, safe to show (``\\xNN`` for the unprintable)."""
    text = data[:limit].decode("ascii", "backslashreplace")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown + ("..." if len(data) > limit else "")


async def read_line(reader: asyncio.StreamReader) -> bytes:
    """One line without its line end; an unterminated last line as it came.

    Raises :class:`asyncio.IncompleteReadError` when the stream has ended with nothing left.
    """
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise
        return exc.partial
    except asyncio.LimitOverrunError as exc:
        raise NotThisProtocol(f"a line longer than {MAX_LINE} bytes") from exc
    return line.rstrip(b"\r\n")


@asynccontextmanager
async def connect(
    ctx: ProbeContext,
    *,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> AsyncIterator[Stream]:
    """A TCP (or TLS) connection to ``ctx``, from ``ctx.source_address`` when set: the probe's
    own connection (``ctx.connection``) the first time, when there is one.

    On a clean exit the connection is closed politely (within :data:`CLOSE_GRACE`); on an
    error or cancellation it is aborted at once.
    """
    name = (server_hostname or "") if tls is not None else None
    sock = ctx.connection.take() if ctx.connection is not None else None
    if sock is not None:
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=tls, server_hostname=name, limit=MAX_LINE
        )
    else:
        local = (ctx.source_address, 0) if ctx.source_address else None
        reader, writer = await asyncio.open_connection(
            ctx.address, ctx.port, local_addr=local, ssl=tls, server_hostname=name, limit=MAX_LINE
        )
    clean = False
    try:
        yield Stream(reader, writer)
        clean = True
    finally:
        if clean:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE)
            except (OSError, TimeoutError):
                writer.transport.abort()
        else:
            writer.transport.abort()


def _describe_ssl_error(exc: ssl.SSLError, found: Findings) -> str:
    reason = str(exc.reason or exc.strerror or exc).lower().replace("_", " ")
    if found.step == "TLS handshake":
        return f"TLS handshake failed: {reason}"
    # after our side of the handshake: a TLS 1.3 server's alert about our (absent) client
    # certificate comes with the first read
    if found.details.get("tls_version") == "TLSv1.3" and refuses_client(exc):
        found.details[CLIENT_CERTIFICATE] = "required"
        return f"{NEEDS_CLIENT_CERTIFICATE}: no {found.step} ({reason})"
    return f"TLS error waiting for {found.step}: {reason}"


def budget(timeout: float) -> float:
    """The time an exchange runs within ``identify``'s ``timeout``."""
    # Inside ``identify``'s own bound, so that this exchange's finding (with what it learnt
    # before the time ran out) is what gets reported, not the generic time-out.
    return timeout - min(0.25, timeout / 4)


async def run_exchange(
    expected: str,
    ctx: ProbeContext,
    talk: Callable[[Findings], Awaitable[None]],
    *,
    silence: str | None = None,
) -> Identification:
    """Run ``talk`` within ``ctx.timeout``; the peer's misbehaviour becomes an error finding.

    ``silence``: what running out of time means, instead of "no <step> within N s".
    """
    found = Findings(expected=expected)
    within = budget(ctx.timeout)
    try:
        async with asyncio.timeout(within):
            await talk(found)
    except NotThisProtocol as exc:
        found.details.update(exc.details)
        return found.identification(str(exc))
    except (TimeoutError, EOFError, OSError) as exc:
        if found.complete:
            return found.identification()
        if isinstance(exc, TimeoutError):
            return found.identification(silence or f"no {found.step} within {within:g} s")
        if isinstance(exc, asyncio.IncompleteReadError):
            got = f" after '{printable(exc.partial)}'" if exc.partial else ""
            return found.identification(f"connection closed waiting for {found.step}{got}")
        if isinstance(exc, ssl.SSLError):
            return found.identification(_describe_ssl_error(exc, found))
        # what the error interrupted: a reset during a TLS handshake has no text of its own
        text = f": {exc}" if str(exc) else ""
        return found.identification(f"{type(exc).__name__} waiting for {found.step}{text}")
    return found.identification()
