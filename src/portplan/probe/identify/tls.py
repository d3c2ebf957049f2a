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
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from importlib import import_module
from typing import Any

from portplan.probe.identify._exchange import Findings, Stream, connect, run_exchange
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "CERTIFICATE_DER",
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
    if not der:
        return details, (*warnings, "peer sent no certificate")
    reader = _certificate_reader()
    if reader is None:
        details[CERTIFICATE_DER] = base64.b64encode(der).decode("ascii")
        return details, warnings
    certificate = reader(der, server_name)
    return details | certificate.details, (*warnings, *certificate.warnings)


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
    async with connect(ctx, tls=client_context(alpn), server_hostname=ctx.server_name) as stream:
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
        async with open_tls(ctx, found):
            found.complete = True

    return await run_exchange("tls", ctx, talk)
