"""What a TLS server said in the clear before a handshake failed (RFC 5246, RFC 8446).

Python's ``ssl`` shows nothing of a handshake that did not complete: not the version, not the
certificate, not whether the server asked for the client's certificate.  A TLS 1.2 server that
requires one sends its whole first flight (ServerHello, Certificate, CertificateRequest,
ServerHelloDone) in the clear, and only then refuses the client, which has none, with an alert
or a reset.  :func:`server_flight` reads those records from the bytes a handshake received;
TLS 1.3 encrypts everything after its ServerHello, so there only the version and cipher are
read (and its client does not fail the handshake: the server's alert comes with the first read
after it).
"""

from __future__ import annotations

import ssl
import struct
from contextlib import suppress
from dataclasses import dataclass

__all__ = [
    "CLIENT_CERTIFICATE",
    "CLIENT_CERTIFICATE_ALERTS",
    "NEEDS_CLIENT_CERTIFICATE",
    "Flight",
    "refuses_client",
    "server_flight",
]

#: the detail that says a server requires a client certificate (``required``)
CLIENT_CERTIFICATE = "client_certificate"
#: what that means for an identification
NEEDS_CLIENT_CERTIFICATE = "the server requires a client certificate, and the identifier has none"

_HANDSHAKE, _ALERT = 22, 21
_SERVER_HELLO, _CERTIFICATE, _CERTIFICATE_REQUEST = 2, 11, 13
_SUPPORTED_VERSIONS = 43
_VERSIONS = {
    0x0300: "SSLv3",
    0x0301: "TLSv1",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}
#: the TLS 1.2 alerts a server refuses a client without a certificate with (RFC 5246 7.2.2)
CLIENT_CERTIFICATE_ALERTS = frozenset({40, 42, 43, 44, 45, 46, 48, 116})
#: the same alerts as OpenSSL names them in an error's reason (``TLSV13_ALERT_CERTIFICATE_
#: REQUIRED``): a TLS 1.3 server's refusal comes after the client's side of the handshake
_REFUSAL_REASONS = (
    "ALERT_HANDSHAKE_FAILURE",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_REQUIRED",
)


def refuses_client(exc: ssl.SSLError) -> bool:
    """Whether ``exc`` is an alert a server refuses a client's certificate (or its absence)
    with."""
    reason = str(exc.reason or "").upper()
    return any(reason.endswith(alert) for alert in _REFUSAL_REASONS)


@dataclass(slots=True)
class Flight:
    """What the server sent in the clear."""

    version: str | None = None  #: as Python names it (``TLSv1.2``)
    cipher_suite: int | None = None  #: the IANA number
    certificate: bytes | None = None  #: the server's own certificate (DER), the chain's first
    certificate_requested: bool = False  #: a CertificateRequest came
    alert: int | None = None  #: the description of a fatal alert the server sent in the clear


def _server_hello(body: bytes, flight: Flight) -> None:
    legacy_version, session_length = struct.unpack_from("!H32xB", body)
    at = 35 + session_length
    (flight.cipher_suite,) = struct.unpack_from("!H", body, at)
    version = legacy_version
    at += 3  # the cipher suite, the compression method
    if at + 2 <= len(body):
        (length,) = struct.unpack_from("!H", body, at)
        end, at = min(len(body), at + 2 + length), at + 2
        while at + 4 <= end:
            kind, size = struct.unpack_from("!HH", body, at)
            if kind == _SUPPORTED_VERSIONS and size == 2:
                (version,) = struct.unpack_from("!H", body, at + 4)
            at += 4 + size
    flight.version = _VERSIONS.get(version, f"{version:#06x}")


def _certificate(body: bytes, flight: Flight) -> None:
    # TLS 1.2's Certificate: a 24-bit list length, then 24-bit lengths and DER, leaf first
    if len(body) >= 6:
        size = int.from_bytes(body[3:6], "big")
        if 0 < size <= len(body) - 6:
            flight.certificate = body[6 : 6 + size]


def _handshake_messages(data: bytes, flight: Flight) -> None:
    at = 0
    while at + 4 <= len(data):
        kind, size = data[at], int.from_bytes(data[at + 1 : at + 4], "big")
        body = data[at + 4 : at + 4 + size]
        if len(body) < size:
            return  # cut short: the rest never came
        if kind == _SERVER_HELLO:
            _server_hello(body, flight)
        elif kind == _CERTIFICATE and flight.version != "TLSv1.3":
            _certificate(body, flight)
        elif kind == _CERTIFICATE_REQUEST:
            flight.certificate_requested = True
        at += 4 + size


def server_flight(received: bytes) -> Flight | None:
    """What the server's records in ``received`` (every byte it sent) say in the clear;
    ``None`` when they are no TLS server's (no ServerHello)."""
    flight, handshake, at = Flight(), bytearray(), 0
    while at + 5 <= len(received):
        kind, _version, size = struct.unpack_from("!BHH", received, at)
        fragment = received[at + 5 : at + 5 + size]
        at += 5 + size
        if kind == _HANDSHAKE:
            handshake += fragment
        elif kind == _ALERT and len(fragment) == 2 and fragment[0] == 2:
            flight.alert = fragment[1]
        else:  # ChangeCipherSpec: what follows is encrypted
            break
    with suppress(struct.error):  # a message shorter than its fields: what came before stands
        _handshake_messages(bytes(handshake), flight)
    return flight if flight.version is not None else None
