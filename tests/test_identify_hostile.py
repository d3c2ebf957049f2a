"""Identifiers against hostile or broken peers: answers shaped to break the parser (numbers
too large to print, nesting too deep, certificates cryptography refuses, bytes that other
parsers read as line breaks or digits), and TLS servers of every kind an appliance may be.

Whatever the peer sends is a finding, never an exception: an exception escaping an identifier
loses the whole verification.  Each peer is an asyncio server on 127.0.0.1 at a port the
kernel chooses (plain, or TLS with a certificate made here), closed after the
identification; one test runs ``openssl s_server`` on loopback (marked ``services``).
Nothing listens beyond loopback.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import ssl
import struct
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import servers
from ansible_env import COLLECTIONS
from portplan.fanout.merge import _read_certificate
from portplan.probe.identify import Identification, ProbeContext, bounded, identify
from portplan.probe.identify import _ber as ber
from portplan.probe.identify.base import MAX_DETAIL, MAX_DETAILS, MAX_WARNINGS
from portplan.probe.identify.certificate import describe_certificate
from servers import LOOPBACK, answered

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _answer(protocol: str, answer: bytes) -> Identification:
    """``identify(protocol)`` against a peer that answers its first message with ``answer``."""
    found = asyncio.run(answered(protocol, answer, timeout=2.0))
    assert found is not None
    return found


# --- LDAP -----------------------------------------------------------------------------------

#: an INTEGER of 2,001 octets: more than 4,300 decimal digits, which Python refuses to print
_HUGE = b"\x01" + bytes(2000)


def _ldap_result(tag: int, code: bytes) -> bytes:
    return ber.encode(
        tag, ber.encode(ber.ENUMERATED, code) + ber.encode(4, b"") + ber.encode(4, b"")
    )


def test_an_ldap_message_id_too_large_to_print_is_a_finding() -> None:
    done = _ldap_result(0x65, b"\x00")
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode(ber.INTEGER, _HUGE) + done))
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith("the answer is not LDAP"), found


def test_an_ldap_result_code_too_large_to_print_is_a_finding() -> None:
    done = _ldap_result(0x65, _HUGE)
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode_integer(1) + done))
    assert found.error is not None and "INTEGER of 2001 octets" in found.error, found
    notice = _ldap_result(0x78, _HUGE)
    found = _answer("ldap", ber.encode(ber.SEQUENCE, ber.encode_integer(0) + notice))
    assert found.protocol is None, found
    assert found.error is not None and "INTEGER of 2001 octets" in found.error, found


def _search_entry(values: int) -> bytes:
    """A SearchResultEntry to message 1 whose namingContexts has ``values`` empty values."""
    attribute = ber.encode(
        ber.SEQUENCE, ber.encode(4, b"namingContexts") + ber.encode(ber.SET, b"\x04\x00" * values)
    )
    entry = ber.encode(0x64, ber.encode(4, b"") + ber.encode(ber.SEQUENCE, attribute))
    return ber.encode(ber.SEQUENCE, ber.encode_integer(1) + entry)


def test_an_ldap_answer_larger_than_any_rootdse_is_refused_before_it_is_parsed() -> None:
    # 500,000 values in one 1 MB entry cost about a second of CPU each to decode, in which no
    # other probe of the run advances and the time limit cannot interrupt: 15 of them took an
    # identification with a 10 s limit to 11 s, stalling the event loop 1.4 s at a time
    found = _answer("ldap", _search_entry(500_000))
    assert found.protocol is None, found
    assert found.error == "an LDAP answer of more than 65536 bytes, more than a rootDSE can be"
    # nor in small messages: the whole answer to the search counts
    entry = _search_entry(10_000)
    found = _answer("ldap", entry * 4)
    assert found.protocol == "ldap", found  # the first entries were LDAP
    assert found.error == "an LDAP answer of more than 65536 bytes, more than a rootDSE can be"


# --- what the errors show -------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["ldap", "smb", "tds", "msrpc"])
def test_an_answer_shown_in_an_error_is_escaped_once(protocol: str) -> None:
    # a TLS alert (handshake failure) and zeros: a TLS-only port asked in the clear
    found = _answer(protocol, b"\x15\x03\x03\x00\x02\x02\x28" + bytes(9))
    assert found.protocol is None, found
    assert found.error is not None and "'\\x15\\x03\\x03\\x00" in found.error, found
    assert "\\\\" not in found.error, found  # no backslash shown doubled


# --- AMQP -----------------------------------------------------------------------------------


def _connection_start(properties: bytes) -> bytes:
    """A method frame carrying Connection.Start 0-9 with ``properties`` as its field table."""
    payload = (
        struct.pack("!HHBB", 10, 10, 0, 9)
        + len(properties).to_bytes(4, "big")
        + properties
        + b"\x00\x00\x00\x05PLAIN\x00\x00\x00\x05en_US"
    )
    return struct.pack("!BHI", 1, 0, len(payload)) + payload + b"\xce"


def test_amqp_field_values_nested_thousands_deep_are_a_finding() -> None:
    value = b"V"  # void, inside 3,000 arrays (and then tables): 15 kB, within a frame
    for _ in range(3000):
        value = b"A" + len(value).to_bytes(4, "big") + value
    found = _answer("amqp", _connection_start(b"\x05deepsA" + value[1:]))
    assert found.protocol == "amqp", found  # Connection.Start itself was read
    assert found.warnings == (
        "Connection.Start only partly readable: field values nested more than 32 deep",
    ), found
    table = b"V"
    for _ in range(3000):
        table = b"\x01xF" + len(table).to_bytes(4, "big") + table
    found = _answer("amqp", _connection_start(table[3 + 4 :]))
    assert found.warnings == (
        "Connection.Start only partly readable: field values nested more than 32 deep",
    ), found


# --- HTTP -----------------------------------------------------------------------------------


def test_an_http_head_ends_at_its_first_blank_line_whatever_its_line_ends() -> None:
    # a server that ends its lines with LF alone (RFC 9112 2.2 lets a client accept it),
    # whose body holds header-like text and a CRLF blank line: the body is not the head
    body = b"Strict-Transport-Security: max-age=31536000\r\nServer: in the body\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\nServer: appliance\nContent-Length: %d\n\n" % len(body) + body
    found = _answer("http", answer)
    assert found.protocol == "http", found
    assert found.details["server"] == "appliance", found
    assert "hsts" not in found.details, found


def test_http_header_lines_end_at_line_feeds_only() -> None:
    # UTF-8 'Å' is C3 85, and 0x85 read as Latin-1 is NEL, a line break to str.splitlines;
    # a form feed or a vertical tab is none either
    server = "Åpen\x0cStrict-Transport-Security: max-age=1".encode()
    found = _answer("http", b"HTTP/1.1 200 OK\r\nServer: " + server + b"\r\n\r\n")
    assert found.protocol == "http", found
    assert found.details["server"] == server.decode("latin-1"), found
    assert "hsts" not in found.details, found


# --- SMTP -----------------------------------------------------------------------------------


async def _conversed(protocol: str, greeting: bytes, replies: list[bytes]) -> Identification:
    """``identify(protocol)`` against a peer that greets, then answers each line it reads with
    the next of ``replies``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            writer.write(greeting)
            for reply in replies:
                if not await reader.readline():
                    break
                writer.write(reply)
                await writer.drain()
            await reader.read(4096)
        writer.transport.abort()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        found = await identify(protocol, ProbeContext(address=LOOPBACK, port=port, timeout=2.0))
    assert found is not None
    return found


def test_smtp_reply_codes_are_ascii_digits() -> None:
    # Arabic-Indic digits are digits to Python's int() and to a str pattern's \d
    found = asyncio.run(
        _conversed("smtp", "2\u0662\u0660 mail\r\n".encode(), ["2\u0665\u0660 ok\r\n".encode()])
    )
    assert found.protocol is None, found
    assert found.error is not None and found.error.startswith("not an SMTP reply"), found


# --- TLS: certificates ----------------------------------------------------------------------

Certificate = tuple[bytes, ec.EllipticCurvePrivateKey]  #: DER and the key of its public key

_SAN_OID, _ISSUER_ALT_NAME_OID = bytes.fromhex("0603551d11"), bytes.fromhex("0603551d12")
_VERSION_AND_SERIAL = bytes.fromhex("a003020102020105")  # [0] version v3, serial number 5


def _certificate(
    common_name: str = "odd.example",
    *,
    names: bool = True,
    not_after: datetime = datetime(2040, 1, 1, tzinfo=UTC),
) -> Certificate:
    """A self-signed certificate, version 3, serial number 5, valid from 2020 to ``not_after``;
    with ``names``, a subjectAltName and an issuerAltName, each ``DNS:odd.example``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(5)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
    )
    if names:
        alt: list[x509.GeneralName] = [x509.DNSName("odd.example")]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        builder = builder.add_extension(x509.IssuerAlternativeName(alt), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER), key


def _odd_certificate(kind: str) -> Certificate:
    """A certificate whose names cryptography cannot read: two subjectAltName extensions
    (``duplicate``), or an x400Address in its subjectAltName (``x400``: valid X.509, which
    cryptography does not support).  The edit breaks the signature, which no identifier
    checks."""
    der, key = _certificate()
    if kind == "duplicate":  # the issuerAltName becomes a second subjectAltName
        return der.replace(_ISSUER_ALT_NAME_OID, _SAN_OID), key
    # x400Address [3] (constructed) in place of the dNSName [2] of the same length
    return der.replace(b"\x82\x0bodd.example", b"\xa3\x0b\x04\x09x.example", 1), key


def _server_context(folder: Path, certificate: Certificate) -> ssl.SSLContext:
    """A TLS server context that presents ``certificate`` (its PEM files go in ``folder``)."""
    der, key = certificate
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(ssl.DER_cert_to_PEM_cert(der).encode("ascii"))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After the handshake: wait for a byte, then hang up."""
    with suppress(OSError):
        await reader.read(1)
    writer.transport.abort()


def _tls_identified(
    context: ssl.SSLContext,
    protocol: str = "tls",
    handle: Handler = _hang_up,
    engine: str = "portplan",
) -> Identification:
    """``identify(protocol)`` of ``engine`` (``portplan``, or :data:`BUNDLE`: the copy the
    collection ships, which cannot read certificates) against a loopback TLS server."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    base = importlib.import_module(f"{engine}.probe.identify.base")

    async def run() -> object:
        server = await asyncio.start_server(handle, LOOPBACK, 0, ssl=context)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await base.identify(
                protocol, base.ProbeContext(address=LOOPBACK, port=port, timeout=2.0)
            )

    found = asyncio.run(run())
    assert found is not None
    return Identification(**{f: getattr(found, f) for f in _FIELDS})


_FIELDS = ("expected", "protocol", "details", "warnings", "error")
BUNDLE = "ansible_collections.portplan.portplan.plugins.module_utils.engine"


def test_a_certificate_name_cryptography_does_not_support_is_a_finding(tmp_path: Path) -> None:
    found = _tls_identified(_server_context(tmp_path, _odd_certificate("x400")))
    assert found.protocol == "tls", found
    assert found.details["certificate"].startswith("unreadable: "), found
    assert found.warnings == ("certificate cannot be parsed",), found


@pytest.mark.parametrize("kind", ["duplicate", "x400"])
def test_a_certificate_whose_names_cannot_be_read_is_a_finding(kind: str) -> None:
    # OpenSSL refuses to serve a certificate with two subjectAltNames, but a peer may send
    # one; verify --inventory reads the DER a managed host returns with this same function
    facts = describe_certificate(_odd_certificate(kind)[0], "odd.example")
    assert facts.details["certificate"].startswith("unreadable: "), facts
    assert facts.warnings == ("certificate cannot be parsed",), facts


@pytest.mark.parametrize(
    "edit",
    [
        # version number 5, which X.509 does not have (cryptography: InvalidVersion)
        (_VERSION_AND_SERIAL, bytes.fromhex("a003020105020105")),
        # the common name as a BIT STRING (cryptography: TypeError)
        (b"\x0c\x09Xabcdefgh", b"\x03\x09\x00abcdefgh"),
    ],
)
def test_a_certificate_cryptography_refuses_in_other_ways_is_unreadable(
    edit: tuple[bytes, bytes],
) -> None:
    der = _certificate("Xabcdefgh", names=False)[0]
    assert edit[0] in der
    facts = describe_certificate(der.replace(*edit), "odd.example")
    assert facts.details["certificate"].startswith("unreadable: "), facts
    assert facts.warnings == ("certificate cannot be parsed",), facts


def test_what_cryptography_warns_of_a_certificate_is_a_warning_not_a_python_warning() -> None:
    # a negative serial number (RFC 5280 4.1.2.2 wants a positive one): cryptography reads
    # it, with a Python warning that would print on standard error (and fail this test)
    der = _certificate(names=False)[0]
    der = der.replace(_VERSION_AND_SERIAL, bytes.fromhex("a003020102020185"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        facts = describe_certificate(der, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert facts.details["subject"] == "CN=odd.example", facts
    assert (
        "certificate breaks RFC 5280: Parsed a serial number which wasn't positive (i.e., it "
        "was negative or zero), which is disallowed by RFC 5280."
    ) in facts.warnings, facts


@pytest.mark.parametrize(
    ("year", "shown"), [(b"0005", "0005"), (b"0999", "0999"), (b"9999", "9999")]
)
def test_certificate_dates_are_rfc_3339_whatever_their_year(year: bytes, shown: str) -> None:
    # 2050 is the first year a certificate writes as GeneralizedTime, with four digits
    der = _certificate(names=False, not_after=datetime(2050, 1, 1, tzinfo=UTC))[0]
    der = der.replace(b"20500101000000Z", year + b"0101000000Z")  # breaks the signature only
    facts = describe_certificate(der, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert facts.details["not_after"] == f"{shown}-01-01T00:00:00Z", facts
    assert datetime.fromisoformat(facts.details["not_after"]).year == int(shown)


# --- TLS: versions and ciphers ----------------------------------------------------------------


def _obsolete_server(folder: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A TLS server context that speaks only ``version``, with any cipher."""
    context = _server_context(folder, _certificate())
    context.set_ciphers("ALL:@SECLEVEL=0")  # what an old appliance still offers
    with warnings.catch_warnings():  # the test's own server is the obsolete one
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    return context


@pytest.mark.parametrize(("version", "name"), [("TLSv1", "TLS 1.0"), ("TLSv1_1", "TLS 1.1")])
def test_a_server_of_an_obsolete_tls_version_is_tls_with_a_warning(
    version: str, name: str, tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tls_version = getattr(ssl.TLSVersion, version)
    found = _tls_identified(_obsolete_server(tmp_path, tls_version))
    assert found.protocol == "tls", found
    assert found.details["subject"] == "CN=odd.example", found
    assert f"{name} negotiated: obsolete (RFC 8996), the server offers nothing newer" in (
        found.warnings
    ), found


def test_a_current_tls_server_gets_no_version_warning(tmp_path: Path) -> None:
    found = _tls_identified(_obsolete_server(tmp_path, ssl.TLSVersion.TLSv1_2))
    assert found.protocol == "tls", found
    assert found.details["tls_version"] == "TLSv1.2"
    assert not [w for w in found.warnings if "obsolete" in w], found


def test_a_server_that_also_allows_anonymous_ciphers_still_shows_its_certificate(
    tmp_path: Path,
) -> None:
    # a TLS 1.2 server that takes the client's order and allows an anonymous cipher: the
    # identifier offers those last, so that the certificate is still read
    context = _server_context(tmp_path, _certificate())
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_ciphers("AECDH-AES256-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
    found = _tls_identified(context)
    assert found.protocol == "tls", found
    assert found.details["cipher"] == "ECDHE-ECDSA-AES128-SHA", found
    assert found.details["subject"] == "CN=odd.example", found


# --- TLS: the collection's prober -----------------------------------------------------------


async def _interim_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Six 100 Continue before the answer: one more than the HTTP identifier passes over, so
    a warning of HTTP's follows those of TLS."""
    with suppress(OSError):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 6 + b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()
        await reader.read(1)
    writer.transport.abort()


def test_the_collection_and_portplan_report_a_certificate_alike(tmp_path: Path) -> None:
    context = _server_context(tmp_path, _certificate(not_after=datetime.now(UTC)))
    here = _tls_identified(context, "https", _interim_answers)
    there = _tls_identified(context, "https", _interim_answers, BUNDLE)
    assert "certificate_der" in there.details, there  # the managed host could not read it
    read = _read_certificate(there)  # what verify --inventory makes of it
    assert read is not None
    assert list(read.details.items()) == list(here.details.items())
    assert read.warnings == here.warnings
    assert read == here


def test_a_reset_says_what_it_interrupted() -> None:
    # a peer that reads the ClientHello and resets the connection: Python's reset error has no
    # text of its own; the second handshake, which looks for a server's refusal of a client
    # without a certificate, finds no ServerHello and changes nothing
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            await reader.read(5)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def run() -> Identification | None:
        server = await asyncio.start_server(reset, LOOPBACK, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await identify("tls", ProbeContext(address=LOOPBACK, port=port, timeout=2.0))

    found = asyncio.run(run())
    assert found is not None and found.protocol is None, found
    assert found.error is not None, found
    assert found.error.startswith("ConnectionResetError waiting for TLS handshake"), found


def _requiring_client_certificates(folder: Path, version: str) -> ssl.SSLContext:
    """A server context of ``version`` only that requires a client certificate."""
    context = _server_context(folder, _certificate())
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(folder / "cert.pem")
    return context


@contextmanager
def _blocking_tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """A TLS server on loopback in a thread of its own, with Python's blocking ``ssl`` (which,
    unlike asyncio's, sends its alert when a handshake fails): its port."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            with suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                tls.recv(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(10)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_server_requiring_a_client_certificate_is_tls_with_its_certificate(
    version: str, tmp_path: Path
) -> None:
    # TLS 1.2: the server refuses the handshake once it has our empty Certificate (Python's
    # asyncio server resets the connection; its blocking one sends an alert); TLS 1.3: the
    # server's alert comes after our side of the handshake ended
    context = _requiring_client_certificates(tmp_path, version)
    identifications = []
    if version == "TLSv1_2":
        reset = _tls_identified(context)
        assert _read_certificate(_tls_identified(context, engine=BUNDLE)) == reset
        identifications.append(reset)
    with _blocking_tls_server(context) as port:
        alerted = asyncio.run(identify("tls", ProbeContext(address=LOOPBACK, port=port)))
    assert alerted is not None
    identifications.append(alerted)
    for found in identifications:
        assert (found.protocol, found.error) == ("tls", None), found
        assert found.details["client_certificate"] == "required", found
        assert found.details["tls_version"] == version.replace("_", "."), found
        assert found.details["subject"] == "CN=odd.example", found


@pytest.mark.services
@pytest.mark.parametrize("version", ["1_2", "1_3"])
def test_openssl_requiring_a_client_certificate_is_tls_and_hides_its_http(
    version: str, tmp_path: Path
) -> None:
    # openssl s_server -Verify: a TLS 1.2 server refuses the handshake with an alert
    # (handshake failure); over TLS 1.3 the identifier's side of the handshake completes, and
    # the server's alert (certificate required) comes with the first read
    openssl = servers.binary("openssl", "openssl")
    _server_context(tmp_path, _certificate())  # writes cert.pem and key.pem
    port, log = servers.free_port(), tmp_path / "s_server.log"
    args = [openssl, "s_server", "-accept", f"{LOOPBACK}:{port}", f"-tls{version}", "-www"]
    args += ["-quiet", "-cert", "cert.pem", "-key", "key.pem", "-Verify", "1"]
    process = servers.start(args, tmp_path, log)
    try:
        servers.wait_for_port(port, process, log, 10.0)
        context = ProbeContext(address=LOOPBACK, port=port, timeout=2.0)
        tls = asyncio.run(identify("tls", context))
        https = asyncio.run(identify("https", context))
    finally:
        servers.stop(process)
    for found in (tls, https):
        assert found is not None and found.protocol == "tls", found
        assert found.details["client_certificate"] == "required", found
        assert found.details["tls_version"] == f"TLSv{version.replace('_', '.')}", found
        assert found.details["subject"] == "CN=odd.example", found
    assert tls is not None and tls.error is None, tls
    assert https is not None and https.error is not None, https
    assert https.error.startswith(
        "the server requires a client certificate, and the identifier has none: "
    ), https.error
    if version == "1_3":  # not called a failed handshake: the server's alert came after it
        assert https.error.endswith(": no HTTP response (tlsv13 alert certificate required)")
    else:
        assert https.error.endswith(": the handshake was refused"), https.error


def test_an_identifier_that_fails_fails_its_check_not_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An identifier's own bug (a plugin's, or a library raising what nobody expected) is an
    error on that port's identification; it ended the whole verification with a traceback.
    Cancellation still goes through."""
    from portplan.probe.identify import base  # noqa: PLC0415 - the registry this test bends

    async def broken(_ctx: ProbeContext) -> Identification:
        raise KeyError("peer")

    async def cancelled(_ctx: ProbeContext) -> Identification:
        raise asyncio.CancelledError

    context = ProbeContext(address="127.0.0.1", port=9, timeout=1.0)
    monkeypatch.setattr(base.REGISTRY, "find", lambda _name: broken)
    found = asyncio.run(identify("https", context))
    assert found is not None and found.protocol is None
    assert found.error == "the https identifier failed: KeyError: 'peer'"
    monkeypatch.setattr(base.REGISTRY, "find", lambda _name: cancelled)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(identify("https", context))


# --- sizes: what one port's identification may weigh ------------------------------------------


def _is_cut(value: str) -> bool:
    """Whether ``value`` is a detail :func:`bounded` shortened, and no longer than it keeps."""
    head, _, tail = value.rpartition("... (")
    return bool(head) and tail.endswith(" more characters)") and len(head) <= MAX_DETAIL


def test_an_ehlo_list_of_hundreds_of_kilobytes_is_cut_with_a_marker() -> None:
    # 99 extension lines of 8,000 bytes (read_line's limit is 8 KiB, MAX_REPLY_LINES 100):
    # almost 800 KiB in one detail before the bound
    lines = [b"250-mail.example"] + [b"250-X" + b"A" * 7995 for _ in range(98)] + [b"250 SIZE"]
    found = asyncio.run(_conversed("smtp", b"220 mail ESMTP\r\n", [b"\r\n".join(lines) + b"\r\n"]))
    assert found.protocol == "smtp", found.error
    extensions = found.details["extensions"]
    assert _is_cut(extensions), extensions[-80:]
    assert extensions.endswith(f"... ({7996 * 98 + 4 + 2 * 98 - MAX_DETAIL} more characters)")
    assert found.details["starttls"] == "no", found.details.keys()
    assert found.warnings[-1] == (
        f"the answer is longer than a report keeps: extensions cut to {MAX_DETAIL} characters"
    ), found.warnings


def test_a_huge_http_header_value_is_cut_with_a_marker() -> None:
    found = _answer("http", b"HTTP/1.1 200 OK\r\nServer: " + b"S" * 60000 + b"\r\n\r\n")
    assert found.protocol == "http", found
    assert (
        found.details["server"] == "S" * MAX_DETAIL + f"... ({60000 - MAX_DETAIL} more characters)"
    )
    assert len(repr(found)) < 4 * MAX_DETAIL, len(repr(found))


def _many_names(count: int) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "many.example")])
    alt: list[x509.GeneralName] = [x509.DNSName(f"host-{i}.many.example") for i in range(count)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(5)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER), key


def test_a_certificate_naming_thousands_of_hosts_is_cut_here_and_from_the_collection(
    tmp_path: Path,
) -> None:
    # about 60 KiB of names; the collection's prober returns the DER whole, and verify
    # --inventory cuts what it reads from it the same way
    context = _server_context(tmp_path, _many_names(2500))
    here = _tls_identified(context)
    assert here.protocol == "tls", here
    assert _is_cut(here.details["sans"]), here.details["sans"][-80:]
    assert here.details["sans"].startswith("DNS:host-0.many.example, DNS:host-1.many"), here
    there = _tls_identified(context, engine=BUNDLE)
    assert len(there.details["certificate_der"]) > 60000  # read by code: never cut
    assert _read_certificate(there) == here


def test_a_cut_port_list_still_parses_as_ports() -> None:
    # verify follows the dynamic ports the endpoint mapper names: a cut list must not turn
    # into a wrong port (the part of a number before the cut)
    ports = list(range(1025, 65536, 7))
    text = ",".join(map(str, ports))
    found = bounded(
        Identification(expected="msrpc", protocol="msrpc", details={"dynamic_ports": text})
    )
    kept = found.details["dynamic_ports"]
    assert _is_cut(kept), kept[-60:]
    read = [int(p) for p in kept.split(",") if p.strip().isdigit()]
    assert read == ports[: len(read)] and len(read) > 100, read[-3:]


def test_an_identification_within_the_bounds_is_left_as_it_is() -> None:
    found = Identification(
        expected="http", protocol="http", details={"server": "S" * MAX_DETAIL}, warnings=("w",)
    )
    assert bounded(found) is found


def test_a_plugin_cannot_make_an_identification_unbounded() -> None:
    found = Identification(
        expected="x",
        protocol="x",
        details={f"key{i}": "v" for i in range(MAX_DETAILS + 5)},
        warnings=tuple(f"w{i}" for i in range(MAX_WARNINGS + 3)),
        error="E" * (MAX_DETAIL + 10),
    )
    kept = bounded(found)
    assert list(kept.details) == [f"key{i}" for i in range(MAX_DETAILS)]
    assert kept.warnings[MAX_WARNINGS:] == (
        "... and 3 more warning(s)",
        "the answer is longer than a report keeps: 5 more detail(s) left out",
    )
    assert kept.error is not None and _is_cut(kept.error), kept.error


def test_a_cut_is_named_with_its_own_limit_and_only_for_what_is_kept() -> None:
    # the certificate the collection returns keeps 256 KiB, not 1 KiB; a long detail past the
    # last one kept is left out, not "cut"
    details = {"certificate_der": "A" * ((1 << 18) + 1), "banner": "b " * MAX_DETAIL}
    details |= {f"key{i}": "v" for i in range(MAX_DETAILS - 2)}
    details["late"] = "x" * (MAX_DETAIL + 1)
    kept = bounded(Identification(expected="x", protocol="x", details=details))
    assert kept.warnings == (
        "the answer is longer than a report keeps: certificate_der cut to 262144 characters; "
        f"banner cut to {MAX_DETAIL} characters; 1 more detail(s) left out",
    )
