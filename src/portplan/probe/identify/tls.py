"""TLS: the handshake, and what the peer's certificate says.

The handshake sends SNI (``ctx.server_name``) and does not verify the chain: an identifier
reports what answers, it does not refuse to look.  The certificate is read instead (RFC 5280):
subject, subjectAltName, issuer, validity, and the negotiated version and cipher; what an
operator should act on becomes a warning: expired or expiring within
:data:`EXPIRY_WARNING_DAYS`, not yet valid, self-signed (issuer equals subject), or not naming
``ctx.server_name`` (matched as RFC 6125 says: subjectAltName first, one wildcard label at most).

:func:`open_tls` and :func:`start_tls` are the helpers other identifiers build on (HTTPS, LDAPS,
SMTPS, PostgreSQL's SSLRequest...): they record the TLS facts in the exchange's findings.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from portplan.probe.identify._exchange import Findings, Stream, connect, run_exchange
from portplan.probe.identify.base import Identification, ProbeContext

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "TlsFacts",
    "client_context",
    "describe_certificate",
    "identify_tls",
    "name_matches",
    "open_tls",
    "start_tls",
]

#: a certificate that expires within this many days is worth a warning
EXPIRY_WARNING_DAYS = 30

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """Details and warnings read from a TLS session or certificate."""

    details: dict[str, str]
    warnings: tuple[str, ...]


def client_context(alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A client context that completes the handshake with any certificate, so it can be read."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def _to_ascii(name: str) -> str:
    name = name.rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _wildcard_matches(pattern: str, host: str) -> bool:
    # RFC 6125 6.4.3: the wildcard is the whole left-most label and matches exactly one label;
    # never a wildcard over a bare public suffix such as "*.com".
    if not pattern.startswith("*.") or "*" in pattern[2:] or "." not in pattern[2:]:
        return False
    label, dot, rest = host.partition(".")
    return bool(dot and label) and rest == pattern[2:]


def name_matches(
    server_name: str, dns_names: Iterable[str], ip_addresses: Iterable[_IpAddress] = ()
) -> bool:
    """Whether a certificate naming ``dns_names`` and ``ip_addresses`` is for ``server_name``."""
    try:
        address = ipaddress.ip_address(server_name)
    except ValueError:
        host = _to_ascii(server_name)
        for name in dns_names:
            pattern = _to_ascii(name)
            if pattern == host or _wildcard_matches(pattern, host):
                return True
        return False
    return address in set(ip_addresses)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_certificate(
    der: bytes, server_name: str | None = None, *, now: datetime | None = None
) -> TlsFacts:
    """Subject, names, issuer and validity of a DER certificate, with the warnings they call for."""
    now = now or datetime.now(UTC)
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject, cert.issuer
        details = {
            "subject": subject.rfc4514_string(),
            "issuer": issuer.rfc4514_string(),
            "not_before": _utc(cert.not_valid_before_utc),
            "not_after": _utc(cert.not_valid_after_utc),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(":"),
        }
        try:
            san: x509.SubjectAlternativeName | None = cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            san = None
    except ValueError as exc:  # malformed DER or extension: itself a finding
        return TlsFacts({"certificate": f"unreadable: {exc}"}, ("certificate cannot be parsed",))

    warnings: list[str] = []
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not_after < now:
        days = (now - not_after).days
        warnings.append(f"certificate expired on {_utc(not_after)} ({days} days ago)")
    elif (not_after - now).days < EXPIRY_WARNING_DAYS:
        days = (not_after - now).days
        warnings.append(f"certificate expires in {days} days, on {_utc(not_after)}")
    if not_before > now:
        warnings.append(f"certificate is not valid before {_utc(not_before)}")
    if subject == issuer:
        warnings.append("self-signed certificate (issuer equals subject)")

    if san is not None:
        dns_names = san.get_values_for_type(x509.DNSName)
        ip_addresses = [
            a
            for a in san.get_values_for_type(x509.IPAddress)
            if isinstance(a, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ]
        shown = [f"DNS:{n}" for n in dns_names] + [f"IP:{a}" for a in ip_addresses]
        details["sans"] = ", ".join(shown)
    else:
        warnings.append("certificate has no subjectAltName: clients ignoring the CN reject it")
        dns_names = [str(a.value) for a in subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
        ip_addresses = []
        shown = [f"CN:{n}" for n in dns_names]
    if server_name and not name_matches(server_name, dns_names, ip_addresses):
        names = ", ".join(shown) or "no name"
        warnings.append(f"certificate does not name {server_name} (it names {names})")
    return TlsFacts(details, tuple(warnings))


def describe_session(ssl_object: ssl.SSLObject, server_name: str | None) -> TlsFacts:
    """The negotiated version, cipher and ALPN protocol, and the peer's certificate."""
    details: dict[str, str] = {}
    if version := ssl_object.version():
        details["tls_version"] = version
    if cipher := ssl_object.cipher():
        details["cipher"] = cipher[0]
    if alpn := ssl_object.selected_alpn_protocol():
        details["alpn"] = alpn
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return TlsFacts(details, ("peer sent no certificate",))
    certificate = describe_certificate(der, server_name)
    return TlsFacts(details | certificate.details, certificate.warnings)


def _record(found: Findings, stream: Stream, ctx: ProbeContext) -> None:
    ssl_object = stream.writer.get_extra_info("ssl_object")
    facts = describe_session(ssl_object, ctx.server_name)
    found.protocol = "tls"
    found.details.update(facts.details)
    found.warnings.extend(facts.warnings)


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
