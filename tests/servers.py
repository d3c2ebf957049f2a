"""Helpers for tests that run real servers from Debian packages on loopback (and small fake
peers that answer an identifier with fixed bytes)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portplan.probe.identify import Identification, ProbeContext, identify

LOOPBACK = "127.0.0.1"


async def answered(protocol: str, answer: bytes, timeout: float = 1.0) -> Identification | None:
    """``identify(protocol)`` against a peer on loopback that reads the identifier's first
    message, answers it with ``answer`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            await reader.read(4096)
            writer.write(answer)
            await writer.drain()
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        return await identify(protocol, ProbeContext(address=LOOPBACK, port=port, timeout=timeout))


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary directory for one server's configuration, data and logs, removed after."""
    directory = Path(tempfile.mkdtemp(prefix=f"portplan-{name}-"))
    directory.chmod(0o755)  # servers drop to other users that must reach their files
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def free_ports(count: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> list[int]:
    """Distinct loopback ports free a moment ago (all held open together while chosen)."""
    sockets = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """One loopback TCP port free a moment ago."""
    return free_ports(1)[0]


def tail(log: Path, lines: int = 25) -> str:
    """The end of a server's log, for a failure message."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    args: list[str], directory: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            args,
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to stop its children too
        )


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the process we started, then SIGKILL to whatever is left of its group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --- what a server needs before it starts ---------------------------------------------------


def binary(path: str, package: str) -> str:
    """The executable ``path`` (or found on PATH); skip the test when it is not installed."""
    found = shutil.which(path)
    if found is None:
        pytest.skip(f"{path} not found: install the Debian package {package}")
    return found


def need_root(what: str, why: str = "needs root") -> None:
    """Skip the test, saying ``WHAT WHY``, unless it runs as root."""
    if os.geteuid() != 0:
        pytest.skip(f"{what} {why}")


# --- waiting for a server -------------------------------------------------------------------


def listening(port: int) -> bool:
    """Whether a TCP connection to the loopback ``port`` is accepted (within half a second)."""
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes] | None,
    log: Path,
    timeout: float,
    *,
    what: str = "server",
    unready: str | None = None,
) -> None:
    """Poll ``ready`` every 0.1 s for at most ``timeout`` seconds; fail at once if ``process``
    exits ("WHAT exited with status N"), else after the time ("UNREADY after T s", UNREADY being
    "WHAT not ready" unless given), each time with the end of ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    if unready is None:
        unready = f"{what} not ready"
    pytest.fail(f"{unready} after {timeout:g} s:\n{tail(log)}")


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None, log: Path, timeout: float
) -> None:
    """Wait until something listens on the loopback ``port``; fail if ``process`` exits first."""
    wait_until(
        lambda: listening(port),
        process,
        log,
        timeout,
        unready=f"nothing listens on {LOOPBACK}:{port}",
    )


# --- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """PEM files of a certificate and its key (mode 0600), and when the certificate expires."""

    cert: Path
    key: Path
    not_after: datetime


def make_certificate(
    server_name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    names: list[x509.GeneralName] | None = None,
    issuer_cn: str | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for ``CN=server_name,O=portplan tests`` signed by its own new P-256 key.

    Its issuer is its subject unless ``issuer_cn`` is given; it has a subjectAltName extension
    with ``names`` (in that order) only when ``names`` is given.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "portplan tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, server_name),
        ]
    )
    issuer = (
        subject
        if issuer_cn is None
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()), key


def self_signed(
    directory: Path,
    server_name: str,
    *,
    names: list[x509.GeneralName],
    not_before: datetime,
    not_after: datetime,
) -> Certificate:
    """A self-signed certificate (see :func:`make_certificate`) written to ``directory`` as
    ``cert.pem``, with its unencrypted PKCS#8 key as ``key.pem`` (mode 0600)."""
    cert, key = make_certificate(
        server_name, not_before=not_before, not_after=not_after, names=names
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Certificate(cert_path, key_path, cert.not_valid_after_utc)


@contextmanager
def udp_peer(address: str, port: int, replies: Callable[[bytes], Iterable[bytes]]) -> Iterator[int]:
    """A UDP socket on ``address``:``port`` (0: a port the kernel chooses, yielded) that sends the
    datagrams ``replies(datagram)`` back to the sender of each datagram, in order; a thread of
    this process, stopped when the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    sock.settimeout(0.1)  # a closed UDP socket does not wake a reader: look at `done` often
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            for reply in replies(data):
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        done.set()
        thread.join(10)
        sock.close()
