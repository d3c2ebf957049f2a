"""Protocol identifiers against real servers from Debian packages, started here on loopback.

Each server runs from its own temporary directory on 127.0.0.1 at a free high port, is started
by a module-scoped fixture that waits a bounded time for the port to listen, and is stopped
(SIGTERM to the process we started, then SIGKILL to whatever is left in its process group) and
its directory removed in a ``finally``.  Nothing listens beyond loopback.

- nginx: ``nginx -p DIR -c DIR/nginx.conf -e DIR/error.log``, ``daemon off``; an HTTP and an
  HTTPS server, the latter with the self-signed certificate made below with ``cryptography``.
- Postfix (SMTP): as root, ``postfix -c DIR start-fg``: its configuration, queue and data
  directories in DIR (``postfix-script`` creates the queue tree), a ``master.cf`` with only
  ``smtpd`` on 127.0.0.1 and the services it calls, no chroot, the log on standard output,
  STARTTLS offered with the test certificate, every recipient refused.
- dovecot (POP3): as root, ``dovecot -F -c DIR/dovecot.conf``, base and state directories in DIR.
- PostgreSQL: ``initdb`` then ``pg_ctl start`` as the ``postgres`` user (``runuser``), from
  ``/usr/lib/postgresql/*/bin``, with ``ssl=on`` and the test certificate.
- RabbitMQ: ``/usr/lib/rabbitmq/bin/rabbitmq-server`` with RABBITMQ_NODE_PORT, _MNESIA_BASE,
  _LOG_BASE, _NODENAME and HOME in DIR, and its own ``epmd`` on a free loopback port.

These tests are marked ``services``: they skip (with the reason) when a server is not installed
or needs root, and under CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import functools
import glob
import ipaddress
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import servers
from portplan.probe.identify import Identification, ProbeContext, identify
from portplan.probe.identify.amqp import read_field_table
from portplan.probe.identify.certificate import describe_certificate, name_matches
from servers import LOOPBACK, Certificate

SERVICES = pytest.mark.services
SERVER_NAME = "portplan-test.localhost"
#: seconds a server may take to listen (RabbitMQ, an Erlang node, is the slow one)
READY = 20.0
RABBITMQ_READY = 60.0
#: why a server is skipped without root
AS_ROOT = "is started as root from a temporary configuration"


# --- certificates ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate() -> Iterator[Certificate]:
    """Self-signed, for portplan-test.localhost, localhost and 127.0.0.1, valid ten days."""
    now = datetime.now(UTC).replace(microsecond=0)
    with servers.scratch("cert") as directory:
        yield servers.self_signed(
            directory,
            SERVER_NAME,
            names=[
                x509.DNSName(SERVER_NAME),
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
            ],
            not_before=now - timedelta(hours=1),
            not_after=now + timedelta(days=10),
        )


def _install_certificate(certificate: Certificate, directory: Path, owner: str | None) -> None:
    """Copies of the certificate and key in ``directory``, owned by ``owner`` (key mode 0600)."""
    for source in (certificate.cert, certificate.key):
        target = directory / source.name
        shutil.copyfile(source, target)
        target.chmod(0o600 if source == certificate.key else 0o644)
        if owner is not None:
            shutil.chown(target, owner)


# --- running servers ------------------------------------------------------------------------

_stop = functools.partial(servers.stop, grace=20.0)


def _run(args: list[str], what: str, log: Path) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=READY * 3, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}\n{servers.tail(log)}"
        )


def _wait_until_closed(port: int) -> None:
    """Fail when something still listens on ``port`` after the server was stopped."""
    deadline = time.monotonic() + READY
    while time.monotonic() < deadline:
        if not servers.listening(port):
            return
        time.sleep(0.2)
    pytest.fail(f"{LOOPBACK}:{port} still listens {READY:g} s after the server was stopped")


@dataclass(frozen=True)
class Nginx:
    http: int
    https: int


@pytest.fixture(scope="module")
def nginx(certificate: Certificate) -> Iterator[Nginx]:
    binary = servers.binary("/usr/sbin/nginx", "nginx")
    with servers.scratch("nginx") as directory:
        _install_certificate(certificate, directory, None)
        ports = Nginx(*servers.free_ports(2))
        temp = "\n".join(
            f"    {kind}_temp_path {directory}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    server {{
        listen {LOOPBACK}:{ports.http};
        location / {{ return 200 "plain\\n"; }}
    }}
    server {{
        listen {LOOPBACK}:{ports.https} ssl;
        server_name {SERVER_NAME};
        ssl_certificate {directory}/cert.pem;
        ssl_certificate_key {directory}/key.pem;
        location / {{ return 200 "secure\\n"; }}
    }}
}}
"""
        )
        log = directory / "error.log"
        args = [binary, "-p", f"{directory}/", "-c", f"{directory}/nginx.conf", "-e", str(log)]
        process = servers.start(args, directory, directory / "stdout.log")
        try:
            servers.wait_for_port(ports.http, process, log, READY)
            servers.wait_for_port(ports.https, process, log, READY)
            yield ports
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def postfix(certificate: Certificate) -> Iterator[int]:
    binary = servers.binary("/usr/sbin/postfix", "postfix")
    servers.need_root("postfix", AS_ROOT)
    with servers.scratch("postfix") as directory:
        directory.chmod(0o755)  # postfix-script insists on its queue tree's permissions
        (directory / "queue").mkdir()  # postfix-script fills it in
        (directory / "data").mkdir()
        shutil.chown(directory / "data", "postfix")
        _install_certificate(certificate, directory, None)
        port = servers.free_port()
        (directory / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {directory}/queue
data_directory = {directory}/data
mail_owner = postfix
myhostname = {SERVER_NAME}
inet_interfaces = {LOOPBACK}
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_tls_cert_file = {directory}/cert.pem
smtpd_tls_key_file = {directory}/key.pem
smtpd_tls_security_level = may
smtpd_recipient_restrictions = reject
maillog_file = /dev/stdout
"""
        )
        # smtpd, and what it calls: no pickup, queue manager or delivery agents
        (directory / "master.cf").write_text(
            f"""{LOOPBACK}:{port} inet n - n - - smtpd
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
cleanup unix n - n - 0 cleanup
postlog unix-dgram n - n - 1 postlogd
"""
        )
        log = directory / "stdout.log"
        process = servers.start([binary, "-c", str(directory), "start-fg"], directory, log)
        try:
            servers.wait_for_port(port, process, log, READY)
            yield port
        finally:
            # its master leads a session of its own: our process group does not hold it
            stop = [binary, "-c", str(directory), "stop"]
            subprocess.run(stop, capture_output=True, timeout=READY, check=False)
            _stop(process)
            _wait_until_closed(port)


@pytest.fixture(scope="module")
def dovecot(certificate: Certificate) -> Iterator[int]:
    binary = servers.binary("/usr/sbin/dovecot", "dovecot-pop3d")
    servers.need_root("dovecot", AS_ROOT)
    if not Path("/usr/lib/dovecot/pop3-login").exists():
        pytest.skip("dovecot's POP3 server is missing: install the Debian package dovecot-pop3d")
    with servers.scratch("dovecot") as directory:
        _install_certificate(certificate, directory, None)
        port = servers.free_port()
        (directory / "dovecot.conf").write_text(
            f"""base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = pop3
listen = {LOOPBACK}
ssl = yes
ssl_cert = <{directory}/cert.pem
ssl_key = <{directory}/key.pem
default_login_user = nobody
default_internal_user = nobody
mail_location = maildir:{directory}/mail
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={directory}/home
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {LOOPBACK}
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""
        )
        log = directory / "dovecot.log"
        process = servers.start([binary, "-F", "-c", f"{directory}/dovecot.conf"], directory, log)
        try:
            servers.wait_for_port(port, process, log, READY)
            yield port
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def postgresql(certificate: Certificate) -> Iterator[int]:
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        pytest.skip("initdb not found under /usr/lib/postgresql: install the package postgresql")
    bin_dir = Path(initdbs[-1]).parent
    servers.need_root("postgresql (run as the postgres user with runuser)", AS_ROOT)
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user: install the Debian package postgresql")

    def as_postgres(*args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args]

    with servers.scratch("postgresql") as directory:
        shutil.chown(directory, "postgres")
        _install_certificate(certificate, directory, "postgres")
        port, data, log = servers.free_port(), directory / "data", directory / "postgresql.log"
        initdb = ["-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"]
        initdb += ["-E", "UTF8", "--locale=C"]
        _run(as_postgres(str(bin_dir / "initdb"), "-D", str(data), *initdb), "initdb", log)
        options = (
            f"-p {port} -k {directory} -c listen_addresses={LOOPBACK} -c ssl=on"
            f" -c ssl_cert_file={directory}/cert.pem -c ssl_key_file={directory}/key.pem"
        )
        pg_ctl = str(bin_dir / "pg_ctl")
        try:
            start = ["-l", str(log), "-o", options, "-w", "-t", str(int(READY)), "start"]
            _run(as_postgres(pg_ctl, "-D", str(data), *start), "pg_ctl start", log)
            servers.wait_for_port(port, None, log, READY)
            yield port
        finally:
            stop = ["-m", "immediate", "-w", "-t", "30", "stop"]
            subprocess.run(
                as_postgres(pg_ctl, "-D", str(data), *stop),
                capture_output=True,
                timeout=40,
                check=False,
            )


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[int]:
    server = servers.binary("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")
    epmd = servers.binary("epmd", "erlang-base (a dependency of rabbitmq-server)")
    with servers.scratch("rabbitmq") as directory:
        port, epmd_port, dist_port = servers.free_ports(3)
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env |= {
            "HOME": str(directory),  # the Erlang cookie goes here
            "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "RABBITMQ_NODENAME": f"portplan{os.getpid()}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        epmd_log, log = directory / "epmd.log", directory / "stdout.log"
        epmd_process = servers.start(
            [epmd, "-port", str(epmd_port), "-address", LOOPBACK], directory, epmd_log, env
        )
        process: subprocess.Popen[bytes] | None = None
        try:
            servers.wait_for_port(epmd_port, epmd_process, epmd_log, READY)
            process = servers.start([server], directory, log, env)
            servers.wait_for_port(port, process, log, RABBITMQ_READY)
            yield port
        finally:
            if process is not None:
                _stop(process, grace=30)
            _stop(epmd_process)


# --- helpers --------------------------------------------------------------------------------


def _identify(
    protocol: str, port: int, *, timeout: float = 5.0, server_name: str | None = None
) -> Identification:
    context = ProbeContext(address=LOOPBACK, port=port, timeout=timeout, server_name=server_name)
    result = asyncio.run(identify(protocol, context))
    assert result is not None, f"no identifier registered for {protocol}"
    assert result.expected == protocol
    return result


def _identified(result: Identification) -> None:
    assert result.error is None, result
    assert result.matches, result


# --- each identifier against its own server -------------------------------------------------


@SERVICES
def test_http_identifies_nginx(nginx: Nginx) -> None:
    result = _identify("http", nginx.http)
    _identified(result)
    assert result.details["status"] == "200"
    assert result.details["http_version"] == "1.1"
    assert result.details["server"].startswith("nginx")
    assert result.warnings == ()


@SERVICES
def test_https_reads_nginx_and_its_self_signed_certificate(
    nginx: Nginx, certificate: Certificate
) -> None:
    result = _identify("https", nginx.https, server_name=SERVER_NAME)
    _identified(result)
    details = result.details
    assert details["status"] == "200"
    assert details["server"].startswith("nginx")
    assert details["subject"] == f"CN={SERVER_NAME},O=portplan tests"
    assert details["issuer"] == details["subject"]
    assert details["sans"] == f"DNS:{SERVER_NAME}, DNS:localhost, IP:{LOOPBACK}"
    assert details["not_after"] == certificate.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert details["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert details["cipher"]
    assert details["alpn"] == "http/1.1"
    assert "self-signed certificate (issuer equals subject)" in result.warnings
    expiring = [w for w in result.warnings if w.startswith("certificate expires in ")]
    assert expiring == [f"certificate expires in 9 days, on {details['not_after']}"]
    assert not any("does not name" in w for w in result.warnings)


@SERVICES
def test_https_warns_when_the_certificate_does_not_name_the_server(nginx: Nginx) -> None:
    result = _identify("https", nginx.https, server_name="intranet.example.org")
    _identified(result)
    assert (
        "certificate does not name intranet.example.org (it names "
        f"DNS:{SERVER_NAME}, DNS:localhost, IP:{LOOPBACK})"
    ) in result.warnings


@SERVICES
def test_tls_identifies_a_tls_port_and_matches_an_ip_address(nginx: Nginx) -> None:
    result = _identify("tls", nginx.https, server_name=LOOPBACK)
    _identified(result)
    assert result.details["subject"] == f"CN={SERVER_NAME},O=portplan tests"
    assert not any("does not name" in w for w in result.warnings)


@SERVICES
def test_an_https_port_answering_plain_http_with_400_is_not_http(nginx: Nginx) -> None:
    # nginx answers a plain request on its TLS port "400 The plain HTTP request was sent to
    # HTTPS port": an HTTP client of a plan that names http there gets nothing else
    result = _identify("http", nginx.https, timeout=2.0)
    assert not result.matches, result
    assert result.protocol == "tls", result
    assert result.details["status"] == "400"
    assert result.details["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert result.error is not None and "TLS handshake" in result.error, result
    assert "400" in result.error, result


@SERVICES
def test_smtp_identifies_postfix_and_its_starttls(postfix: int) -> None:
    result = _identify("smtp", postfix)
    _identified(result)
    assert result.details["banner"] == f"{SERVER_NAME} ESMTP Postfix"
    assert result.details["esmtp"] == "yes"
    assert result.details["starttls"] == "yes"
    assert "PIPELINING" in result.details["extensions"].split(", ")


@SERVICES
def test_pop3_identifies_dovecot_and_its_stls(dovecot: int) -> None:
    result = _identify("pop3", dovecot)
    _identified(result)
    assert result.details["banner"].startswith("Dovecot")
    assert result.details["stls"] == "yes"
    assert "UIDL" in result.details["capabilities"].split(", ")


@SERVICES
def test_postgresql_answers_the_ssl_request_and_shows_its_certificate(postgresql: int) -> None:
    result = _identify("postgresql", postgresql, server_name=SERVER_NAME)
    _identified(result)
    assert result.details["ssl"] == "yes"
    assert result.details["subject"] == f"CN={SERVER_NAME},O=portplan tests"
    assert "self-signed certificate (issuer equals subject)" in result.warnings


@SERVICES
def test_amqp_reads_rabbitmq_connection_start(rabbitmq: int) -> None:
    result = _identify("amqp", rabbitmq)
    _identified(result)
    details = result.details
    assert details["amqp_version"] == "0-9"
    assert details["product"] == "RabbitMQ"
    assert details["version"].split(".")[0].isdigit()
    assert details["platform"].startswith("Erlang")
    assert "PLAIN" in details["mechanisms"].split()


# --- each identifier against a server of another protocol -----------------------------------

# (identifier, server fixture, attribute of the fixture or None, what the error says)
_MISMATCHES = [
    ("http", "postfix", None, "not an HTTP response: '220 "),
    ("http", "rabbitmq", None, "not an HTTP response: 'AMQP"),
    ("https", "nginx", "http", "TLS handshake failed"),
    ("tls", "postfix", None, "TLS handshake failed"),
    ("smtp", "dovecot", None, "not an SMTP reply: '+OK Dovecot"),
    ("smtp", "nginx", "http", "no SMTP greeting within"),
    ("pop3", "postfix", None, "greeting is not a POP3 status line: '220 "),
    ("postgresql", "nginx", "http", "answer to SSLRequest is not 'S' or 'N' alone: 'HTTP/1.1 400"),
    ("postgresql", "rabbitmq", None, "answer to SSLRequest is not 'S' or 'N' alone: 'AMQP"),
    ("amqp", "postfix", None, "not an AMQP method frame: '220 "),
    ("amqp", "postgresql", None, "connection closed waiting for Connection.Start"),
]


@SERVICES
@pytest.mark.parametrize(
    ("protocol", "server", "attribute", "error"),
    _MISMATCHES,
    ids=[f"{p}-against-{s}" for p, s, _, _ in _MISMATCHES],
)
def test_an_identifier_against_another_protocol_finds_nothing(
    request: pytest.FixtureRequest, protocol: str, server: str, attribute: str | None, error: str
) -> None:
    fixture = request.getfixturevalue(server)
    port = getattr(fixture, attribute) if attribute else fixture
    result = _identify(protocol, port, timeout=1.0)
    assert result.protocol is None, result
    assert not result.matches
    assert result.error is not None
    assert error in result.error, result


@pytest.mark.parametrize("protocol", ["tls", "http", "https", "smtp", "pop3", "postgresql", "amqp"])
def test_an_identifier_against_a_closed_port_reports_the_refusal(protocol: str) -> None:
    result = _identify(protocol, servers.free_port(), timeout=2.0)
    assert result.protocol is None
    assert result.error is not None
    assert result.error.startswith("ConnectionRefusedError"), result


# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_name", "expected"),
    [
        ("www.example.com", True),
        ("WWW.Example.COM.", True),
        ("a.example.com", True),
        ("example.com", False),
        ("a.b.example.com", False),
        ("example.org", False),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
    ],
)
def test_certificate_names_match_as_rfc_6125_says(server_name: str, expected: bool) -> None:
    names = ["www.example.com", "*.example.com", "*.org", "f*.example.net"]
    addresses = [ipaddress.ip_address("192.0.2.7")]
    assert name_matches(server_name, names, addresses) is expected


def test_an_expired_certificate_without_names_gets_every_warning() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    cert, _ = servers.make_certificate(
        SERVER_NAME,
        not_before=now - timedelta(days=400),
        not_after=now - timedelta(days=3),
        issuer_cn="Test CA",
    )
    facts = describe_certificate(
        cert.public_bytes(serialization.Encoding.DER), "db.example.org", now=now
    )
    assert facts.details["issuer"] == "CN=Test CA"
    assert "sans" not in facts.details
    assert facts.warnings == (
        "certificate expired on 2029-12-29T00:00:00Z (3 days ago)",
        "certificate has no subjectAltName: clients ignoring the CN reject it",
        f"certificate does not name db.example.org (it names CN:{SERVER_NAME})",
    )


@pytest.mark.parametrize(
    ("not_after", "warning"),
    [
        (-1, "expired on 2029-12-31T00:00:00Z (1 day ago)"),
        (1, "expires in 1 day, on 2030-01-02T00:00:00Z"),
    ],
)
def test_one_day_is_said_in_the_singular(not_after: int, warning: str) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    cert, _ = servers.make_certificate(
        SERVER_NAME, not_before=now - timedelta(days=30), not_after=now + timedelta(days=not_after)
    )
    facts = describe_certificate(cert.public_bytes(serialization.Encoding.DER), now=now)
    assert f"certificate {warning}" in facts.warnings


def test_garbage_instead_of_a_certificate_is_a_finding() -> None:
    facts = describe_certificate(b"\x30\x03\x02\x01\x00")
    assert facts.details["certificate"].startswith("unreadable")
    assert facts.warnings == ("certificate cannot be parsed",)


def test_amqp_field_tables_decode_nested_values() -> None:
    inner = b"\x04flagt\x01"
    body = (
        b"\x07productS\x00\x00\x00\x08RabbitMQ"
        + b"\x04sizeI\x00\x00\x00\x2a"
        + b"\x0ccapabilitiesF"
        + len(inner).to_bytes(4, "big")
        + inner
        + b"\x04listA\x00\x00\x00\x02\x56\x56"
    )
    table = read_field_table(len(body).to_bytes(4, "big") + body)
    assert table["product"] == "RabbitMQ"
    assert table["size"] == b"\x00\x00\x00\x2a"
    assert table["capabilities"] == {"flag": b"\x01"}
    assert table["list"] == [b"", b""]
