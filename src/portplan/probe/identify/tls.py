"""TLS: the handshake, and what the peer's certificate says.

The handshake sends SNI (``ctx.server_name``) and does not verify the chain: an identifier
reports what answers, it does not refuse to look (a server that speaks only TLS 1.0 or 1.1, or
only weak ciphers, is TLS, with a warning for the obsolete version).  The certificate is read
instead, with the negotiated version and cipher (:mod:`portplan.probe.identify.certificate`:
subject, names, issuer, validity, and warnings on what an operator should act on).  The prober
bundled into the Ansible collection cannot read certificates (no ``cryptography`` on a managed
host): it returns the certificate as base64 DER in the ``certificate_der`` detail, for the
controller.

:func:`open_tls` and :func:`start_tls` are the helpers other identifiers build on (HTTPS, LDAPS,
SMTPS, PostgreSQL's SSLRequest...): they record the TLS facts in the exchange's findings.

A server that requires a client certificate (the identifier has none) is TLS all the same,
with the detail ``client_certificate: required``: a TLS 1.2 server refuses the handshake, and
a second one, whose bytes are kept, shows what it sent in the clear before it did (version,
cipher, certificate: :mod:`portplan.probe.identify._flight`); a TLS 1.3 server's refusal
comes after the client's side of the handshake, with the first read.  What the server speaks
inside TLS then cannot be seen: ``https`` or ``ldaps`` reads as ``tls``, with that error.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cache
from importlib import import_module
from typing import Any

from portplan.probe.identify._exchange import (
    Findings,
    NotThisProtocol,
    Stream,
    connect,
    run_exchange,
)
from portplan.probe.identify._flight import (
    CLIENT_CERTIFICATE,
    CLIENT_CERTIFICATE_ALERTS,
    NEEDS_CLIENT_CERTIFICATE,
    refuses_client,
    server_flight,
)
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "CERTIFICATE_DER",
    "ClientCertificateRequired",
    "client_context",
    "identify_tls",
    "open_tls",
    "start_tls",
    "version_warnings",
]

#: the detail that carries the peer's certificate (base64 DER) where it could not be read here
CERTIFICATE_DER = "certificate_der"
#: versions a client still negotiates when the server offers nothing newer, as they are named
_OBSOLETE = {"SSLv3": "SSL 3.0", "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1"}
#: the most of a failed handshake's answer kept to read it (OpenSSL takes a certificate list
#: of at most 100 KiB)
MAX_FLIGHT = 1 << 17
#: how long a TLS 1.3 session waits for the server's verdict on its (absent) certificate, in
#: handshakes' time, and at most, in seconds: the verdict comes one round trip after the
#: client's side of the handshake, which took two (the TCP connection's and TLS 1.3's); a
#: longer wait held every TLS port's identification back (benchmarks/verify.py: 0.1 s of the
#: waiting case's 2 s)
VERDICT_WAIT, MAX_VERDICT_WAIT = 1.0, 1.0


class ClientCertificateRequired(NotThisProtocol):
    """The server refused the handshake for want of a client certificate; what it sent before
    is in the findings."""


def client_context(alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A client context that completes the handshake with any certificate, so it can be read.

    One per ALPN list, shared by every handshake (a context costs about 0.15 ms to make).
    """
    return _client_context(tuple(alpn))


@cache
def _client_context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Every version and cipher OpenSSL still has (Python's default refuses TLS 1.0 and 1.1,
    # and OpenSSL's security level their handshakes): a server that speaks only those is
    # TLS, and what it negotiated is the finding (a warning), not a failed handshake.  A
    # current server still negotiates TLS 1.3 or 1.2.  Anonymous ciphers come last: a server
    # that takes the client's order would otherwise pick one and show no certificate.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:+aNULL:@SECLEVEL=0")
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


@cache
def _certificate_reader() -> Callable[..., Any] | None:
    """:func:`~portplan.probe.identify.certificate.describe_certificate`, or ``None`` in the
    prober bundled into the Ansible collection, which leaves ``cryptography`` (and that module)
    behind: there the certificate goes back as DER, and the controller reads it."""
    name = f"{__package__}.certificate"
    try:
        module = import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module is there but cannot load: a broken install
            raise
        return None
    reader: Callable[..., Any] = module.describe_certificate
    return reader


def version_warnings(version: str | None) -> tuple[str, ...]:
    """The warnings the negotiated TLS ``version`` calls for; a session's first warnings, so
    that the controller puts the certificate's after them (``verify --inventory``)."""
    if version not in _OBSOLETE:
        return ()
    return (
        f"{_OBSOLETE[version]} negotiated: obsolete (RFC 8996), the server offers nothing newer",
    )


def describe_session(
    ssl_object: ssl.SSLObject, server_name: str | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The negotiated version, cipher and ALPN protocol, and the peer's certificate: details
    and warnings."""
    details: dict[str, str] = {}
    if version := ssl_object.version():
        details["tls_version"] = version
    warnings = version_warnings(version)
    if cipher := ssl_object.cipher():
        details["cipher"] = cipher[0]
    if alpn := ssl_object.selected_alpn_protocol():
        details["alpn"] = alpn
    der = ssl_object.getpeercert(binary_form=True)
    return _with_certificate(details, warnings, der, server_name)


def _with_certificate(
    details: dict[str, str], warnings: tuple[str, ...], der: bytes | None, server_name: str | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The session's ``details`` and ``warnings``, and those of its certificate (``der``)."""
    if not der:
        return details, (*warnings, "peer sent no certificate")
    reader = _certificate_reader()
    if reader is None:
        details[CERTIFICATE_DER] = base64.b64encode(der).decode("ascii")
        return details, warnings
    certificate = reader(der, server_name)
    return details | certificate.details, (*warnings, *certificate.warnings)


@cache
def _cipher_names() -> dict[int, str]:
    """OpenSSL's names of the cipher suites the client offers, by their IANA number."""
    return {int(c["id"]) & 0xFFFF: str(c["name"]) for c in client_context().get_ciphers()}


async def _first_flight(ctx: ProbeContext, alpn: Sequence[str]) -> tuple[bytes, bool]:
    """Every byte a server sends in a handshake like :func:`open_tls`'s, on a connection of
    its own, until the handshake ends (at most :data:`MAX_FLIGHT`); and whether it completed."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = client_context(alpn).wrap_bio(incoming, outgoing, server_hostname=ctx.server_name)
    received, completed = bytearray(), False
    try:
        async with connect(ctx) as stream:
            while len(received) < MAX_FLIGHT:
                try:
                    session.do_handshake()
                    ended = completed = True
                except ssl.SSLWantReadError:
                    ended = False
                except ssl.SSLError:
                    ended = True
                if pending := outgoing.read():
                    await stream.send(pending)
                data = b"" if ended else await stream.reader.read(16384)
                if not data:
                    break
                received += data
                incoming.write(data)
    except OSError:  # the reset that ends such a handshake, too
        pass
    return bytes(received), completed


async def _refused_client(ctx: ProbeContext, found: Findings, alpn: Sequence[str]) -> None:
    """Raise :class:`ClientCertificateRequired`, with what the server sent in the clear in
    the findings, when a failed handshake is a server's refusal of a client without a
    certificate: it asked for one, and then refused the handshake (or hung up)."""
    received, completed = await _first_flight(ctx, alpn)
    flight = server_flight(received)
    if flight is None or not flight.certificate_requested or completed:
        return  # no TLS server, or one that did not ask, or took the session this time
    if flight.alert is not None and flight.alert not in CLIENT_CERTIFICATE_ALERTS:
        return
    details: dict[str, str] = {}
    if flight.version is not None:
        details["tls_version"] = flight.version
    if flight.cipher_suite is not None:
        suite = flight.cipher_suite
        details["cipher"] = _cipher_names().get(suite, f"{suite:#06x}")
    warnings = version_warnings(flight.version)
    details, warnings = _with_certificate(details, warnings, flight.certificate, ctx.server_name)
    found.protocol = "tls"
    found.details.update(details)
    found.details[CLIENT_CERTIFICATE] = "required"
    found.warnings.extend(warnings)
    raise ClientCertificateRequired(f"{NEEDS_CLIENT_CERTIFICATE}: the handshake was refused")


def _may_be_refusal(exc: BaseException) -> bool:
    """Whether a handshake that failed with ``exc`` may have been refused for want of a client
    certificate: an alert, or the server hanging up (not a peer that is no TLS server)."""
    if isinstance(exc, ssl.SSLError):
        return refuses_client(exc) or isinstance(exc, ssl.SSLEOFError)
    return isinstance(exc, ConnectionError | EOFError)


def _record(found: Findings, stream: Stream, ctx: ProbeContext) -> None:
    ssl_object = stream.writer.get_extra_info("ssl_object")
    details, warnings = describe_session(ssl_object, ctx.server_name)
    found.protocol = "tls"
    found.details.update(details)
    found.warnings.extend(warnings)


@asynccontextmanager
async def open_tls(
    ctx: ProbeContext, found: Findings, *, alpn: Sequence[str] = ()
) -> AsyncIterator[Stream]:
    """Connect and complete a TLS handshake; record ``protocol="tls"`` and the TLS facts."""
    found.step = "TLS handshake"
    async with AsyncExitStack() as stack:
        tls = connect(ctx, tls=client_context(alpn), server_hostname=ctx.server_name)
        try:
            stream = await stack.enter_async_context(tls)
        except (OSError, EOFError) as exc:
            if _may_be_refusal(exc):
                await _refused_client(ctx, found, alpn)
            raise
        _record(found, stream, ctx)
        yield stream


async def start_tls(stream: Stream, ctx: ProbeContext, found: Findings) -> Stream:
    """Upgrade a connection after STARTTLS, STLS or an SSLRequest; record the TLS facts."""
    found.step = "TLS handshake"
    protocol = found.protocol
    await stream.writer.start_tls(client_context(), server_hostname=ctx.server_name or "")
    _record(found, stream, ctx)
    found.protocol = protocol  # the application protocol was already proven
    return stream


async def identify_tls(ctx: ProbeContext) -> Identification:
    """A TLS handshake of an unnamed application protocol: the session and the certificate."""

    async def talk(found: Findings) -> None:
        began = time.monotonic()
        try:
            async with open_tls(ctx, found) as stream:
                found.complete = True
                if found.details.get("tls_version") == "TLSv1.3":
                    wait = min(MAX_VERDICT_WAIT, VERDICT_WAIT * (time.monotonic() - began))
                    await _verdict(stream, found, wait)
        except ClientCertificateRequired:
            found.complete = True  # a TLS server, whatever it wants of its clients

    return await run_exchange("tls", ctx, talk)


async def _verdict(stream: Stream, found: Findings, wait: float) -> None:
    """Whether a TLS 1.3 server refuses the session for want of a client certificate: its
    alert comes a round trip after the client's side of the handshake ended (otherwise
    session tickets, or the server's first words, or nothing)."""
    try:
        await asyncio.wait_for(stream.reader.read(1), max(wait, 0.05))
    except ssl.SSLError as exc:
        if refuses_client(exc):
            found.details[CLIENT_CERTIFICATE] = "required"
    except (TimeoutError, OSError, EOFError):
        pass
