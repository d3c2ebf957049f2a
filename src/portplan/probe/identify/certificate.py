"""A TLS peer's certificate read as RFC 5280 says: subject, names, issuer, validity.

What an operator should act on becomes a warning: expired or expiring within
:data:`EXPIRY_WARNING_DAYS`, not yet valid, self-signed (issuer equals subject), or not naming
the expected server name (matched as RFC 6125 says: subjectAltName first, one wildcard label at
most).  Reading a certificate takes ``cryptography``, so this module stays on the controller:
the prober bundled into the Ansible collection hands the certificate back as DER
(see :mod:`portplan.probe.identify.tls`), and ``portplan verify --inventory`` reads it here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from warnings import catch_warnings, simplefilter

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = ["EXPIRY_WARNING_DAYS", "TlsFacts", "describe_certificate", "name_matches"]

#: a certificate that expires within this many days is worth a warning
EXPIRY_WARNING_DAYS = 30

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: what cryptography raises for a certificate it cannot read: malformed DER, a version X.509
#: does not have, a name attribute of the wrong type (TypeError), and extensions it refuses
#: (two of a kind) or does not support (an x400Address or ediPartyName)
_UNREADABLE = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """Details and warnings read from a TLS session or certificate."""

    details: dict[str, str]
    warnings: tuple[str, ...]


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


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def _utc(moment: datetime) -> str:
    """RFC 3339 UTC text; the year in four digits even below 1000 (strftime's ``%Y`` gives
    ``5`` for the year 5 on glibc, ``0005`` elsewhere)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def describe_certificate(
    der: bytes, server_name: str | None = None, *, now: datetime | None = None
) -> TlsFacts:
    """Subject, names, issuer and validity of a DER certificate, with the warnings they call for."""
    now = now or datetime.now(UTC)
    # cryptography reads some breaches of RFC 5280 with a Python warning (a serial number that
    # is not positive...): findings about the peer, never text on standard error
    with catch_warnings(record=True) as breaches:
        simplefilter("always")
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
        except _UNREADABLE as exc:  # malformed DER or extension: itself a finding
            return TlsFacts(
                {"certificate": f"unreadable: {exc}"}, ("certificate cannot be parsed",)
            )

    warnings: list[str] = []
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not_after < now:
        days = (now - not_after).days
        warnings.append(f"certificate expired on {_utc(not_after)} ({_days(days)} ago)")
    elif (not_after - now).days < EXPIRY_WARNING_DAYS:
        days = (not_after - now).days
        warnings.append(f"certificate expires in {_days(days)}, on {_utc(not_after)}")
    if not_before > now:
        warnings.append(f"certificate is not valid before {_utc(not_before)}")
    if subject == issuer:
        warnings.append("self-signed certificate (issuer equals subject)")
    for breach in breaches:  # the first sentence: the rest is about cryptography's future
        sentence = str(breach.message).partition(". ")[0].rstrip(".")
        warnings.append(f"certificate breaks RFC 5280: {sentence}.")

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
