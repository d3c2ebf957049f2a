"""Directory and Windows-service identifiers (LDAP, SMB, MS-RPC, TDS, RADIUS) against real servers.

Every server comes from a Debian package, runs from its own temporary directory on loopback at
a free high port, is started by a module-scoped fixture that waits a bounded time for it, and
is stopped (SIGTERM, then SIGKILL to its process group) with its directory removed in a
``finally``:

- OpenLDAP: ``slapd -d 0 -f DIR/slapd.conf -h "ldap://127.0.0.1:P/ ldaps://127.0.0.1:Q/"``, an
  mdb database in DIR and the self-signed test certificate.  A second slapd plays an Active
  Directory Global Catalog: its ``rootDSE`` file adds ``isGlobalCatalogReady: TRUE`` (OpenLDAP
  has no such attribute; it is declared in the config as AD's OID 1.2.840.113556.1.4.1959).
- Samba's smbd: ``smbd --foreground --no-process-group -s DIR/smb.conf --debug-stdout`` with
  ``smb ports`` set to a free port and every private, lock, state and cache directory in DIR.
- Samba's endpoint mapper: ``samba-dcerpcd --libexec-rpcds`` serves it on port 135 only (the
  port comes from the interface's well-known endpoint; ``rpc server port`` does not move it),
  so it runs in a network namespace made for the test (``pp-rpc-<random>``, only ``lo``, up),
  where it binds 127.0.0.1:135 and its rpcd workers' dynamic ports; the probes run inside that
  namespace too, from a thread that joined it with setns(2).  The namespace is always deleted.
- FreeRADIUS: ``freeradius -X -d DIR/raddb``, a copy of /etc/freeradius/3.0 whose sites and
  modules are replaced by one virtual server with a ``status`` listener and an ``acct``
  listener on free UDP ports and one client, 127.0.0.1, with a known secret.

SQL Server is not packaged: the TDS tests serve PRELOGIN answers written byte by byte from the
MS-TDS specification from a small asyncio server on loopback.

The server tests are marked ``services``: outside CI they skip (with the reason) when a server
binary is missing or root is needed; under CI=true such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import hmac
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import servers
from portplan import load_plan
from portplan.fanout import verify_inventory
from portplan.probe.identify import REGISTRY, Identification, ProbeContext, identify
from portplan.probe.identify import _ber as ber
from portplan.probe.identify.ldap import search_request
from portplan.probe.identify.msrpc import (
    IWBEM_LEVEL1_LOGIN,
    Interface,
    bind_request,
    map_interface,
)
from portplan.probe.identify.radius import NEED_SECRET, SILENCE, WRONG_SECRET, status_server
from portplan.probe.planned import plan_checks
from portplan.probe.verify import FlowCheck, run_checks
from servers import LOOPBACK, Certificate

T = TypeVar("T")

SERVICES = pytest.mark.services
SERVER_NAME = "directory.portplan-test.localhost"
SUFFIX = "dc=portplan,dc=test"
RADIUS_SECRET = b"portplan-testing-123"
#: seconds a server may take to be ready
READY = 20.0
SLAPD = "/usr/sbin/slapd"
SMBD = "/usr/sbin/smbd"
DCERPCD = "/usr/libexec/samba/samba-dcerpcd"
FREERADIUS = "/usr/sbin/freeradius"
FREERADIUS_CONFIG = Path("/etc/freeradius/3.0")
#: the LSA interface (MS-LSAD), which samba-dcerpcd's rpcd_lsad registers over TCP
LSARPC = Interface(uuid.UUID("12345778-1234-abcd-ef00-0123456789ab"), 0, 0)


# --- probing --------------------------------------------------------------------------------


def _identify(
    protocol: str, port: int, *, timeout: float = 5.0, secret: bytes | None = None
) -> Identification:
    context = ProbeContext(
        address=LOOPBACK,
        port=port,
        timeout=timeout,
        secrets={"radius": secret} if secret is not None else {},
    )
    result = asyncio.run(identify(protocol, context))
    assert result is not None, f"no identifier registered for {protocol}"
    assert result.expected == protocol
    return result


# --- network namespace for the endpoint mapper ----------------------------------------------

_CLONE_NEWNET = 0x40000000


def _in_namespace(namespace: str, work: Callable[[], T], timeout: float = 30.0) -> T:
    """``work()`` in a thread that has joined ``namespace`` (setns(2) is per thread)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns: {os.strerror(code)}")
            finally:
                os.close(fd)
            outcome.append(work())
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name=f"in-{namespace}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"work in {namespace} did not finish in {timeout:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


def _run_in(namespace: str, coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return _in_namespace(namespace, lambda: asyncio.run(coroutine()))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


# --- certificate ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate() -> Iterator[Certificate]:
    """Self-signed, naming SERVER_NAME, valid ten days."""
    now = datetime.now(UTC)
    with servers.scratch("ldap-cert") as directory:
        yield servers.self_signed(
            directory,
            SERVER_NAME,
            names=[x509.DNSName(SERVER_NAME)],
            not_before=now - timedelta(hours=1),
            not_after=now + timedelta(days=10),
        )


# --- OpenLDAP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slapd:
    ldap: int
    ldaps: int


#: AD's rootDSE attributes, declared so that slapd's rootDSE file may carry them
_AD_ATTRIBUTES = """\
attributetype ( 1.2.840.113556.1.4.1959 NAME 'isGlobalCatalogReady'
    EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.619 NAME 'dnsHostName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
"""

_GLOBAL_CATALOG_ROOT_DSE = """\
dn:
isGlobalCatalogReady: TRUE
dnsHostName: dc1.portplan.test
vendorName: portplan test directory
"""


@contextmanager
def _slapd(certificate: Certificate, *, global_catalog: bool) -> Iterator[Slapd]:
    slapd = servers.binary(SLAPD, "slapd")
    servers.need_root("slapd from a temporary configuration")
    with servers.scratch("slapd") as directory:
        (directory / "db").mkdir()
        extra = ""
        if global_catalog:
            (directory / "root.ldif").write_text(_GLOBAL_CATALOG_ROOT_DSE)
            extra = f"{_AD_ATTRIBUTES}rootDSE {directory / 'root.ldif'}\n"
        (directory / "slapd.conf").write_text(
            f"include /etc/ldap/schema/core.schema\n{extra}"
            f"pidfile {directory / 'slapd.pid'}\n"
            f"argsfile {directory / 'slapd.args'}\n"
            "modulepath /usr/lib/ldap\n"
            "moduleload back_mdb\n"
            f"TLSCertificateFile {certificate.cert}\n"
            f"TLSCertificateKeyFile {certificate.key}\n"
            "database mdb\n"
            "maxsize 10485760\n"
            f'suffix "{SUFFIX}"\n'
            f'rootdn "cn=admin,{SUFFIX}"\n'
            f"directory {directory / 'db'}\n"
        )
        ports = Slapd(*servers.free_ports(2))
        urls = f"ldap://{LOOPBACK}:{ports.ldap}/ ldaps://{LOOPBACK}:{ports.ldaps}/"
        log = directory / "slapd.log"
        args = [slapd, "-d", "0", "-f", str(directory / "slapd.conf"), "-h", urls]
        process = servers.start(args, directory, log)
        try:
            servers.wait_until(
                lambda: servers.listening(ports.ldap) and servers.listening(ports.ldaps),
                process,
                log,
                READY,
                what="slapd",
            )
            yield ports
        finally:
            servers.stop(process)


@pytest.fixture(scope="module")
def slapd(certificate: Certificate) -> Iterator[Slapd]:
    with _slapd(certificate, global_catalog=False) as ports:
        yield ports


@pytest.fixture(scope="module")
def slapd_gc(certificate: Certificate) -> Iterator[Slapd]:
    with _slapd(certificate, global_catalog=True) as ports:
        yield ports


# --- Samba ----------------------------------------------------------------------------------


def _samba_conf(directory: Path, extra: str) -> Path:
    """An smb.conf whose every state, lock, cache and log path lies in ``directory``."""
    paths = {}
    for name in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log"):
        paths[name] = directory / name
        paths[name].mkdir()
    conf = directory / "smb.conf"
    conf.write_text(
        "[global]\n"
        "  workgroup = PORTPLAN\n"
        "  netbios name = PORTPLANTEST\n"
        "  server role = standalone server\n"
        f"  interfaces = {LOOPBACK}\n"
        "  bind interfaces only = yes\n"
        f"  private dir = {paths['private']}\n"
        f"  lock directory = {paths['lock']}\n"
        f"  state directory = {paths['state']}\n"
        f"  cache directory = {paths['cache']}\n"
        f"  pid directory = {paths['pid']}\n"
        f"  ncalrpc dir = {paths['ncalrpc']}\n"
        f"  log file = {paths['log']}/%m.log\n"
        "  load printers = no\n"
        "  printing = bsd\n"
        "  printcap name = /dev/null\n"
        "  disable spoolss = yes\n"
        # samba-dcerpcd is started by the test itself, never on demand by smbd
        "  rpc start on demand helpers = false\n"
        f"{extra}"
    )
    return conf


@pytest.fixture(scope="module")
def smbd() -> Iterator[int]:
    binary = servers.binary(SMBD, "samba")
    servers.need_root("smbd from a temporary configuration")
    with servers.scratch("smbd") as directory:
        (port,) = servers.free_ports(1)
        conf = _samba_conf(directory, f"  smb ports = {port}\n  server signing = mandatory\n")
        log = directory / "smbd.log"
        args = [binary, "--foreground", "--no-process-group", "-s", str(conf), "--debug-stdout"]
        process = servers.start(args, directory, log)
        try:
            servers.wait_until(lambda: servers.listening(port), process, log, READY, what="smbd")
            yield port
        finally:
            servers.stop(process)


@contextmanager
def _samba_namespace(*, smb: bool) -> Iterator[str]:
    """samba-dcerpcd (and with ``smb``, smbd on port 445) in a namespace of its own,
    answering on 127.0.0.1:135 (and 445) there."""
    binary = servers.binary(DCERPCD, "samba")
    smbd_binary = servers.binary(SMBD, "samba") if smb else None
    servers.need_root("a network namespace")
    if shutil.which("ip") is None:
        pytest.skip("ip not found: install the Debian package iproute2")
    namespace = f"pp-rpc-{secrets.token_hex(4)}"
    with servers.scratch("dcerpcd") as directory:
        conf = _samba_conf(directory, "  smb ports = 445\n" if smb else "")
        _ip("netns", "add", namespace)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            _ip("-n", namespace, "link", "set", "lo", "up")
            started = [(binary, ["--libexec-rpcds"], "samba-dcerpcd", 135)]
            if smbd_binary is not None:
                started.append((smbd_binary, [], "smbd", 445))
            for program, flags, what, port in started:
                args = ["ip", "netns", "exec", namespace, program, *flags, "--foreground"]
                args += ["--no-process-group", "-s", str(conf), "--debug-stdout"]
                log = directory / f"{what}.log"
                process = servers.start(args, directory, log)
                processes.append(process)

                def ready(port: int = port) -> bool:
                    return _in_namespace(namespace, lambda: servers.listening(port))

                servers.wait_until(ready, process, log, READY, what=what)
            yield namespace
        finally:
            for process in reversed(processes):
                servers.stop(process)
            subprocess.run(["ip", "netns", "delete", namespace], check=False, timeout=20)


@pytest.fixture(scope="module")
def epmapper() -> Iterator[str]:
    """samba-dcerpcd in a namespace of its own, answering on 127.0.0.1:135 there."""
    with _samba_namespace(smb=False) as namespace:
        yield namespace


@pytest.fixture(scope="module")
def rpc_and_smb() -> Iterator[str]:
    """A Windows server's first two WMI ports in a namespace: samba-dcerpcd on 127.0.0.1:135,
    smbd on 127.0.0.1:445."""
    with _samba_namespace(smb=True) as namespace:
        yield namespace


# --- FreeRADIUS -----------------------------------------------------------------------------


#: the client host of the Ansible lab: its probe leaves from this address of its own
LAB_CLIENT = "127.0.0.2"


@dataclass(frozen=True)
class Radius:
    auth: int  #: a status listener: Status-Server gets Access-Accept
    acct: int  #: an accounting listener: Status-Server gets Accounting-Response
    log: Path


def _radius_site(auth: int, acct: int) -> str:
    return f"""\
server portplan_status {{
  listen {{
    type = status
    ipaddr = {LOOPBACK}
    port = {auth}
  }}
  listen {{
    type = acct
    ipaddr = {LOOPBACK}
    port = {acct}
  }}
  client portplan {{
    ipaddr = {LOOPBACK}
    secret = {RADIUS_SECRET.decode()}
  }}
  client portplan_lab {{
    ipaddr = {LAB_CLIENT}
    secret = {RADIUS_SECRET.decode()}
  }}
  authorize {{
    ok
  }}
  preacct {{
    ok
  }}
  accounting {{
    ok
  }}
}}
"""


@pytest.fixture(scope="module")
def freeradius() -> Iterator[Radius]:
    binary = servers.binary(FREERADIUS, "freeradius")
    servers.need_root("freeradius from a copied configuration")
    if not (FREERADIUS_CONFIG / "radiusd.conf").exists():
        pytest.skip(f"{FREERADIUS_CONFIG} is missing: install the Debian package freeradius")
    with servers.scratch("freeradius") as directory:
        raddb = directory / "raddb"
        shutil.copytree(FREERADIUS_CONFIG, raddb, symlinks=True)
        for path in (raddb / "sites-enabled").iterdir():
            path.unlink()
        for path in (raddb / "mods-enabled").iterdir():
            if path.name != "always":  # "ok" is all the virtual server runs
                path.unlink()
        for name in ("run", "log"):
            (directory / name).mkdir()
        conf = raddb / "radiusd.conf"
        text = conf.read_text()
        text = re.sub(r"(?m)^raddbdir = .*$", f"raddbdir = {raddb}", text)
        text = re.sub(r"(?m)^logdir = .*$", f"logdir = {directory / 'log'}", text)
        text = re.sub(r"(?m)^run_dir = .*$", f"run_dir = {directory / 'run'}", text)
        text = re.sub(r"(?m)^(\s*)(user|group) = ", r"\1# \2 = ", text)  # stay root, in DIR
        text = re.sub(r"(?m)^\$INCLUDE (proxy|clients)\.conf$", r"# \g<0>", text)
        conf.write_text(text)
        auth, acct = servers.free_ports(2, socket.SOCK_DGRAM)
        (raddb / "sites-enabled" / "portplan-status").write_text(_radius_site(auth, acct))
        log = directory / "freeradius.log"
        process = servers.start([binary, "-X", "-d", str(raddb)], directory, log)
        try:
            servers.wait_until(
                lambda: "Ready to process requests" in log.read_text(errors="replace"),
                process,
                log,
                READY,
                what="freeradius",
            )
            yield Radius(auth, acct, log)
        finally:
            servers.stop(process)


# --- LDAP -----------------------------------------------------------------------------------


@SERVICES
def test_ldap_reads_the_rootdse_of_slapd(slapd: Slapd) -> None:
    result = _identify("ldap", slapd.ldap)
    assert result.matches, result
    assert result.error is None
    assert result.details["naming_contexts"] == SUFFIX
    assert result.details["supported_ldap_version"] == "3"
    assert result.details["result"] == "success (0)"
    assert "is_global_catalog_ready" not in result.details


@SERVICES
def test_ldaps_reads_slapd_through_tls_and_its_certificate(slapd: Slapd) -> None:
    result = _identify("ldaps", slapd.ldaps)
    assert result.matches, result
    assert result.details["naming_contexts"] == SUFFIX
    assert f"CN={SERVER_NAME}" in result.details["subject"]
    assert result.details["tls_version"].startswith("TLSv1.")
    assert any("self-signed" in w for w in result.warnings), result.warnings
    assert any("expires in" in w for w in result.warnings), result.warnings


@SERVICES
def test_global_catalog_on_a_directory_that_is_not_one_is_plain_ldap(slapd: Slapd) -> None:
    # slapd's own rootDSE has no isGlobalCatalogReady: LDAP answers, but no Global Catalog.
    for protocol, port, plain in (
        ("ldap-gc", slapd.ldap, "ldap"),
        ("ldaps-gc", slapd.ldaps, "ldaps"),
    ):
        result = _identify(protocol, port)
        assert result.protocol == plain, result
        assert not result.matches
        assert result.details["global_catalog_ready"] == "not advertised"
        assert any("not a Global Catalog" in w for w in result.warnings), result.warnings


@SERVICES
def test_global_catalog_ready_directory_is_identified(slapd_gc: Slapd) -> None:
    for protocol, port in (("ldap-gc", slapd_gc.ldap), ("ldaps-gc", slapd_gc.ldaps)):
        result = _identify(protocol, port)
        assert result.matches, result
        assert result.details["global_catalog_ready"] == "true"
        assert result.details["is_global_catalog_ready"] == "TRUE"
        assert result.details["dns_host_name"] == "dc1.portplan.test"
        assert result.details["vendor_name"] == "portplan test directory"


@SERVICES
def test_ldap_in_the_clear_on_the_ldaps_port_finds_no_ldap(slapd: Slapd) -> None:
    result = _identify("ldap", slapd.ldaps, timeout=2.0)
    assert result.protocol is None
    assert result.error


# --- SMB ------------------------------------------------------------------------------------


@SERVICES
def test_smb_negotiates_smb3_with_smbd(smbd: int) -> None:
    result = _identify("smb", smbd)
    assert result.matches, result
    details = result.details
    assert details["dialect"] == "3.1.1"  # Samba 4.17 picks the newest offered
    uuid.UUID(details["server_guid"])
    assert details["signing"] == "required"  # server signing = mandatory
    assert details["preauth_hash"] == "SHA-512"
    assert details["cipher"].startswith("AES-")
    for size in ("max_transact_size", "max_read_size", "max_write_size"):
        assert int(details[size]) >= 65536
    assert not any("signing" in w for w in result.warnings)


# --- MS-RPC ---------------------------------------------------------------------------------


@SERVICES
@pytest.mark.netns
def test_msrpc_learns_the_dynamic_ports_and_they_answer(epmapper: str) -> None:
    async def probe() -> tuple[Identification | None, dict[int, bool]]:
        result = await identify("msrpc", ProbeContext(address=LOOPBACK, port=135, timeout=5.0))
        ports = result.details.get("dynamic_ports", "") if result else ""
        reachable = {int(p): servers.listening(int(p)) for p in ports.split(",") if p}
        return result, reachable

    result, reachable = _run_in(epmapper, probe)
    assert result is not None and result.matches, result
    assert result.error is None
    assert result.details["secondary_address"] == "135"
    assert int(result.details["endpoints_registered"]) > 0
    # the ports the mapper hands out are real listeners, and 135 itself is not among them
    assert reachable and all(reachable.values()), reachable
    assert 135 not in reachable
    assert "lsarpc" in result.details["endpoints"]


def _rpc_plan(folder: Path, ports: str) -> Any:
    """A loopback deployment: client 127.0.0.2 reaches an RPC server on 127.0.0.1 on ``ports``."""
    (folder / "rpc.yaml").write_text(
        "id: rpc-1.0\nname: RPC\nversion: '1'\ndocument: {title: RPC ports}\n"
        "components: {server: {name: Server}, client: {name: Client, kind: client}}\n"
        "flows:\n  - {id: rpc, row: 1, from: client, to: server, protocol: tcp,\n"
        f"     ports: [{ports}], app_protocol: msrpc, purpose: RPC.}}\n"
    )
    (folder / "lab.yaml").write_text(
        "name: rpc-lab\nhosts: {client: {addresses: [127.0.0.2]}, "
        "server: {addresses: [127.0.0.1]}}\n"
        "products: {rpc-1.0: {file: rpc.yaml, components: {client: client, server: server}}}\n"
    )
    return load_plan(folder / "lab.yaml")


@SERVICES
@pytest.mark.netns
def test_verify_identifies_445_of_an_rpc_row_as_smb(rpc_and_smb: str, tmp_path: Path) -> None:
    # "WMI (DCOM) TCP 135 and 445" (Shopping's WMI rows, app_protocol msrpc): 135 is the
    # endpoint mapper, 445 is SMB (MS-RPC over named pipes), which no RPC bind answers
    checks, _skipped = plan_checks(_rpc_plan(tmp_path, "135, 445"), ["client"])

    async def run() -> None:
        await run_checks(checks, timeout=2.0, concurrency=64, secrets={})

    _run_in(rpc_and_smb, run)
    by_port = {c.probe.port: c for c in checks}
    assert set(by_port) == {135, 445}
    smb = by_port[445].identification
    assert smb is not None and (smb.expected, smb.protocol) == ("smb", "smb"), smb
    assert smb.matches
    assert by_port[135].identification is not None and by_port[135].identification.matches
    assert all(c.passed for c in checks), [
        (c.probe.port, c.outcome, c.identification) for c in checks
    ]


@SERVICES
@pytest.mark.netns
def test_verify_probes_mapper_ports_only_when_the_plan_holds_them(
    epmapper: str, tmp_path: Path
) -> None:
    def verify_in_namespace(ports: str) -> list[FlowCheck]:
        checks, _skipped = plan_checks(_rpc_plan(tmp_path, ports), ["client"])

        async def run() -> None:
            await run_checks(checks, timeout=2.0, concurrency=64, secrets={})

        _run_in(epmapper, run)
        return checks

    # the plan holds 135 alone: the mapper's dynamic ports are named, never probed
    only_135 = verify_in_namespace("135")
    assert [c.probe.port for c in only_135] == [135]
    assert only_135[0].identification is not None and only_135[0].identification.matches
    assert any("the plan does not hold (not probed)" in note for note in only_135[0].notes)
    # the plan holds the dynamic range: the ports the mapper names are probed, and answer
    with_range = verify_in_namespace("135, 1024-65535")
    named = with_range[0].identification
    assert named is not None
    dynamic = {int(p) for p in named.details["dynamic_ports"].split(",") if p}
    followed = [c for c in with_range if "named by the endpoint mapper" in " ".join(c.notes)]
    assert followed and {c.probe.port for c in followed} <= dynamic
    assert all(c.outcome == "open" for c in followed)


@SERVICES
@pytest.mark.netns
def test_a_dynamic_rpc_port_in_the_plan_is_msrpc_though_it_is_not_the_mapper(
    epmapper: str, tmp_path: Path
) -> None:
    # a row that holds the dynamic range itself: its open ports are RPC servers (samba's
    # lsarpc, winreg...), which reject a bind to the endpoint mapper's interface with a
    # well-formed bind_ack; that is MS-RPC answering, not another service
    async def named() -> Identification | None:
        return await identify("msrpc", ProbeContext(address=LOOPBACK, port=135, timeout=5.0))

    mapper = _run_in(epmapper, named)
    assert mapper is not None and mapper.matches, mapper
    dynamic = sorted(int(p) for p in mapper.details["dynamic_ports"].split(",") if p)
    assert dynamic, mapper
    checks, _skipped = plan_checks(_rpc_plan(tmp_path, f"{dynamic[0]}-{dynamic[-1]}"), ["client"])

    async def run() -> None:
        await run_checks(checks, timeout=2.0, concurrency=64, secrets={})

    _run_in(epmapper, run)
    served = [c for c in checks if c.outcome == "open"]
    assert served, [(c.probe.port, c.outcome) for c in checks]
    for check in served:
        found = check.identification
        assert found is not None and found.protocol == "msrpc", (check.probe.port, found)
        assert check.passed, (check.probe.port, found)
        assert found.error is not None and "not the endpoint mapper" in found.error


def test_a_bind_ack_rejecting_the_mapper_is_msrpc_and_a_bind_echoed_is_not() -> None:
    # C706 12.6.4.4: the same bind_ack, its one result a provider rejection (2), reason
    # abstract syntax not supported (1), with a null transfer syntax
    rejected = (
        _BIND_ACK[:-28] + struct.pack("<BBHHH", 1, 0, 0, 2, 1) + bytes(16) + struct.pack("<I", 0)
    )
    found = asyncio.run(servers.answered("msrpc", rejected))
    assert found is not None and found.matches, found
    assert found.error is not None and "not the endpoint mapper" in found.error
    assert "dynamic_ports" not in found.details
    echoed = asyncio.run(servers.answered("msrpc", bind_request(1)))
    assert echoed is not None and echoed.protocol is None, echoed


@SERVICES
@pytest.mark.netns
def test_ept_map_finds_lsarpc_but_not_wmi(epmapper: str) -> None:
    context = ProbeContext(address=LOOPBACK, port=135, timeout=5.0)

    async def probe() -> tuple[Identification, Identification, Identification | None]:
        return (
            await map_interface(context, LSARPC),
            await map_interface(context, IWBEM_LEVEL1_LOGIN),
            await identify("msrpc", context),
        )

    lsa, wmi, lookup = _run_in(epmapper, probe)
    assert lsa.matches and lsa.details["registered"] == "yes", lsa
    assert lookup is not None
    assert set(lsa.details["ports"].split(",")) <= set(lookup.details["dynamic_ports"].split(","))
    # WMI is DCOM: its port comes from an activation, never from the endpoint mapper
    assert wmi.matches and wmi.details["registered"] == "no", wmi
    assert wmi.details["ports"] == ""


# --- identifiers against the wrong server ---------------------------------------------------


@SERVICES
@pytest.mark.parametrize(
    ("protocol", "server"),
    [
        ("smb", "slapd"),
        ("msrpc", "slapd"),
        ("tds", "slapd"),
        ("ldap", "smbd"),
        ("msrpc", "smbd"),
        ("tds", "smbd"),
    ],
)
def test_an_identifier_against_another_server_finds_nothing(
    protocol: str, server: str, request: pytest.FixtureRequest
) -> None:
    fixture = request.getfixturevalue(server)
    port = fixture.ldap if isinstance(fixture, Slapd) else fixture
    result = _identify(protocol, port, timeout=1.0)
    assert result.protocol is None, result
    assert result.error


@pytest.mark.parametrize("protocol", ["ldap", "ldaps", "ldap-gc", "smb", "msrpc", "tds"])
def test_an_identifier_against_a_closed_port_reports_the_refusal(protocol: str) -> None:
    (port,) = servers.free_ports(1)
    result = _identify(protocol, port, timeout=1.0)
    assert result.protocol is None
    assert result.error is not None and "refused" in result.error.lower()


# --- TDS ------------------------------------------------------------------------------------

# A PRELOGIN answer as SQL Server 2022 (16.0.1000) sends it, written from MS-TDS 2.2.3.1
# (packet header) and 2.2.6.5 (PRELOGIN), with the server's encryption ENCRYPT_OFF.
PRELOGIN_ANSWER_2022 = bytes(
    [
        # 2.2.3.1 packet header, 8 bytes, big-endian
        0x04,  # Type: tabular result, the packet a server's PRELOGIN answer travels in
        0x01,  # Status: end of message
        0x00, 0x2B,  # Length: 43 bytes, this header included
        0x00, 0x00,  # SPID: 0
        0x01,  # PacketID: 1
        0x00,  # Window: 0
        # 2.2.6.5 option tokens: PL_OPTION_TOKEN, PL_OFFSET, PL_OPTION_LENGTH (big-endian),
        # offsets counted from the start of the PRELOGIN payload, just after the header
        0x00, 0x00, 0x1A, 0x00, 0x06,  # VERSION at 26, 6 bytes
        0x01, 0x00, 0x20, 0x00, 0x01,  # ENCRYPTION at 32, 1 byte
        0x02, 0x00, 0x21, 0x00, 0x01,  # INSTOPT at 33, 1 byte
        0x03, 0x00, 0x22, 0x00, 0x00,  # THREADID at 34, 0 bytes (a server sends none)
        0x04, 0x00, 0x22, 0x00, 0x01,  # MARS at 34, 1 byte
        0xFF,  # TERMINATOR
        # option data
        0x10, 0x00, 0x03, 0xE8,  # UL_VERSION: major 16, minor 0, build 1000 (0x03E8)
        0x00, 0x00,  # US_SUBBUILD: 0
        0x00,  # B_FENCRYPTION: ENCRYPT_OFF (encryption available, not forced)
        0x00,  # B_INSTVALIDITY: 0x00, the instance asked for is this one
        0x00,  # B_MARS: off
    ]
)  # fmt: skip

# The same answer from SQL Server 2019 (15.0.2000) with Force Encryption set: ENCRYPT_REQ, and
# the options in another order (the offsets, not the order of the data, are what count).
PRELOGIN_ANSWER_2019_FORCED = bytes(
    [
        0x04, 0x01, 0x00, 0x2B, 0x00, 0x00, 0x01, 0x00,  # header: tabular result, EOM, 43
        0x01, 0x00, 0x1A, 0x00, 0x01,  # ENCRYPTION at 26, 1 byte
        0x00, 0x00, 0x1B, 0x00, 0x06,  # VERSION at 27, 6 bytes
        0x02, 0x00, 0x21, 0x00, 0x01,  # INSTOPT at 33, 1 byte
        0x03, 0x00, 0x22, 0x00, 0x00,  # THREADID at 34, 0 bytes
        0x04, 0x00, 0x22, 0x00, 0x01,  # MARS at 34, 1 byte
        0xFF,  # TERMINATOR
        0x03,  # B_FENCRYPTION: ENCRYPT_REQ
        0x0F, 0x00, 0x07, 0xD0, 0x00, 0x00,  # VERSION 15.0.2000 (0x07D0), sub-build 0
        0x00,  # B_INSTVALIDITY
        0x00,  # B_MARS: off
    ]
)  # fmt: skip


def _check_client_prelogin(packet: bytes) -> None:
    """The client's PRELOGIN is what MS-TDS 2.2.6.5 describes, option by option."""
    kind, status, length = struct.unpack_from(">BBH", packet)
    assert (kind, status, length) == (0x12, 0x01, len(packet))
    payload = packet[8:]
    tokens = []
    offset = 0
    while payload[offset] != 0xFF:
        tokens.append(struct.unpack_from(">BHH", payload, offset))
        offset += 5
    assert [(t, n) for t, _o, n in tokens] == [(0, 6), (1, 1), (2, 1), (3, 4), (4, 1)]
    data_start = offset + 1
    starts = [data_start + skip for skip in (0, 6, 7, 8, 12)]  # each after the one before
    assert [o for _t, o, _n in tokens] == starts
    assert payload[data_start + 7] == 0x00  # INSTOPT: empty instance name, NUL-terminated


async def _serve_once(answer: bytes, check: Callable[[bytes], None] | None) -> Identification:
    """An asyncio TCP server on loopback that reads one TDS packet and replies ``answer``."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(8)
        received.append(header + await reader.readexactly(int.from_bytes(header[2:4]) - 8))
        writer.write(answer)
        await writer.drain()
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        result = await identify("tds", ProbeContext(address=LOOPBACK, port=port, timeout=3.0))
    assert result is not None
    if check is not None:
        assert received, "the server got no PRELOGIN"
        check(received[0])
    return result


@pytest.mark.parametrize(
    ("answer", "version", "product", "encryption"),
    [
        (PRELOGIN_ANSWER_2022, "16.0.1000", "SQL Server 2022", "off"),
        (PRELOGIN_ANSWER_2019_FORCED, "15.0.2000", "SQL Server 2019", "required"),
    ],
)
def test_tds_reads_a_prelogin_answer_written_from_the_specification(
    answer: bytes, version: str, product: str, encryption: str
) -> None:
    result = asyncio.run(_serve_once(answer, _check_client_prelogin))
    assert result.matches, result
    assert result.details["version"] == version
    assert result.details["product"] == product
    assert result.details["encryption"] == encryption
    assert result.details["mars"] == "off"
    assert result.details["instance_accepted"] == "yes"
    forced = encryption == "required"
    assert forced != any("does not force encryption" in w for w in result.warnings)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        PRELOGIN_ANSWER_2022[:20],  # a PRELOGIN answer cut short
        bytes([0x04, 0x01, 0x00, 0x0A, 0, 0, 1, 0, 0x00, 0x00]),  # options without terminator
    ],
)
def test_tds_against_a_server_that_does_not_answer_prelogin_finds_nothing(answer: bytes) -> None:
    result = asyncio.run(_serve_once(answer, None))
    assert result.protocol is None, result
    assert result.error


# --- RADIUS ---------------------------------------------------------------------------------


@SERVICES
def test_radius_status_server_is_answered_by_freeradius_with_the_secret(
    freeradius: Radius,
) -> None:
    for port, answer in (
        (freeradius.auth, "Access-Accept"),
        (freeradius.acct, "Accounting-Response"),
    ):
        result = _identify("radius", port, secret=RADIUS_SECRET)
        assert result.matches, result
        assert result.error is None
        assert result.details["answer"] == answer
        assert "Response Authenticator" in result.details["verified"]


@SERVICES
def test_radius_secret_reaches_a_managed_host_through_ansible(
    freeradius: Radius, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verify --inventory hands the secret to the probe module sealed (portplan.fanout.run):
    # FreeRADIUS answers the host's Status-Server only when it arrives intact; the probe
    # leaves from the client host's own address (LAB_CLIENT), a client FreeRADIUS knows
    monkeypatch.setenv("ANSIBLE_ASYNC_DIR", str(tmp_path / "async"))
    (tmp_path / "aaa.yaml").write_text(
        "id: aaa-1.0\nname: AAA\nversion: '1'\ndocument: {title: AAA ports}\n"
        "components: {server: {name: Server}, client: {name: Client, kind: client}}\n"
        "flows:\n  - {id: radius, row: 1, from: client, to: server, protocol: udp,\n"
        f"     ports: {freeradius.auth}, app_protocol: radius, purpose: RADIUS.}}\n"
    )
    (tmp_path / "lab.yaml").write_text(
        f"name: aaa-lab\nhosts: {{client: {{addresses: [{LAB_CLIENT}]}}, "
        "server: {addresses: [127.0.0.1]}}\n"
        "products: {aaa-1.0: {file: aaa.yaml, components: {client: client, server: server}}}\n"
    )
    local = f"{{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"all:\n  hosts:\n    client: {local}\n")
    run = verify_inventory(
        load_plan(tmp_path / "lab.yaml"), inventory, timeout=2.0, secrets={"radius": RADIUS_SECRET}
    )
    (check,) = run.verification.checks
    assert check.identification is not None and check.identification.matches, check
    assert check.identification.details["answer"] == "Access-Accept"
    assert check.passed


@SERVICES
def test_radius_with_the_wrong_secret_is_silence_and_freeradius_says_why(
    freeradius: Radius,
) -> None:
    # RFC 5997: a Status-Server whose Message-Authenticator does not verify is discarded.
    result = _identify("radius", freeradius.auth, timeout=1.5, secret=b"not-the-secret")
    assert result.protocol is None
    assert result.error == SILENCE
    deadline = time.monotonic() + 5
    while "Shared secret is incorrect" not in freeradius.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, servers.tail(freeradius.log)
        time.sleep(0.1)


async def _radius_impostor(secret: bytes) -> Identification:
    """A UDP server that answers Status-Server with an Access-Accept made with ``secret``."""
    loop = asyncio.get_running_loop()

    class Impostor(asyncio.DatagramProtocol):
        transport: asyncio.DatagramTransport

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            header = bytes((2, data[1], 0, 20))  # Access-Accept, same Identifier, 20 bytes
            authenticator = hashlib.md5(header + data[4:20] + secret).digest()
            self.transport.sendto(header + authenticator, addr)

    transport, _ = await loop.create_datagram_endpoint(Impostor, local_addr=(LOOPBACK, 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        context = ProbeContext(
            address=LOOPBACK, port=port, timeout=2.0, secrets={"radius": RADIUS_SECRET}
        )
        result = await identify("radius", context)
    finally:
        transport.close()
    assert result is not None
    return result


def test_radius_answer_that_does_not_verify_is_a_wrong_secret_or_not_radius() -> None:
    result = asyncio.run(_radius_impostor(b"another secret"))
    assert result.protocol is None
    assert result.error is not None and result.error.startswith(WRONG_SECRET), result


def test_radius_answer_made_with_the_secret_verifies() -> None:
    result = asyncio.run(_radius_impostor(RADIUS_SECRET))
    assert result.matches, result
    assert any("Message-Authenticator" in w for w in result.warnings)


def test_radius_without_a_secret_says_where_the_secret_comes_from() -> None:
    (port,) = servers.free_ports(1, socket.SOCK_DGRAM)
    result = _identify("radius", port, timeout=1.0)
    assert result.protocol is None
    assert result.error == NEED_SECRET
    assert "never on the command line" in NEED_SECRET


def test_radius_on_a_closed_udp_port_is_closed() -> None:
    (port,) = servers.free_ports(1, socket.SOCK_DGRAM)
    result = _identify("radius", port, timeout=1.0, secret=RADIUS_SECRET)
    assert result.protocol is None
    assert result.error == "closed (ICMP port unreachable)"


def test_status_server_message_authenticator_is_hmac_md5_of_the_packet() -> None:
    packet = status_server(7, bytes(range(16)), b"s3cret")
    assert packet[:4] == bytes((12, 7, 0, 38))  # Status-Server, id 7, 20 + 18 bytes
    assert packet[20:22] == bytes((80, 18))  # Message-Authenticator, 18 bytes
    unsigned = packet[:22] + bytes(16)
    assert packet[22:] == hmac.new(b"s3cret", unsigned, hashlib.md5).digest()


# --- whatever the peer sends, a finding and never an exception ------------------------------


# A bind_ack accepting the endpoint mapper (C706 12.6.4.4): header, max_xmit_frag 5840,
# max_recv_frag 5840, assoc_group_id, secondary address "135", 2 bytes to align, one result:
# acceptance with the NDR transfer syntax.
_BIND_ACK = (
    struct.pack("<BBBB4sHHI", 5, 0, 12, 3, b"\x10\0\0\0", 60, 0, 1)
    + struct.pack("<HHIH4s2x", 5840, 5840, 0x1234, 4, b"135\0")
    + struct.pack("<BBHHH", 1, 0, 0, 0, 0)
    + uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860").bytes_le
    + struct.pack("<I", 2)
)


def _framed(protocol: str, body: bytes) -> bytes:
    """``body`` behind a valid start of an answer, so that the parsers get to read it."""
    if protocol.startswith("ldap"):  # an LDAPMessage with messageID 1 and any protocolOp
        return ber.encode(ber.SEQUENCE, ber.encode_integer(1) + body)
    if protocol == "smb":  # Direct TCP framing, a NEGOTIATE response header, StructureSize 65
        header = struct.pack(
            "<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, bytes(16)
        )
        frame = header + b"\x41\x00" + body
        return len(frame).to_bytes(4, "big") + frame
    if protocol == "msrpc":  # the bind_ack, then a last-fragment response to call 2
        response = struct.pack("<BBBB4sHHI", 5, 0, 2, 3, b"\x10\0\0\0", 24 + len(body), 0, 2)
        return _BIND_ACK + response + struct.pack("<IHBB", len(body), 0, 0, 0) + body
    # tds: a tabular-result packet header, end of message
    return struct.pack(">BBHHBB", 4, 1, 8 + len(body), 0, 1, 0) + body


def test_the_framed_bind_ack_is_accepted() -> None:
    result = asyncio.run(servers.answered("msrpc", _framed("msrpc", bytes(40))))
    assert result is not None and result.protocol == "msrpc", result
    assert result.details["secondary_address"] == "135"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    protocol=st.sampled_from(["ldap", "ldap-gc", "smb", "msrpc", "tds"]),
    body=st.binary(max_size=300),
    framed=st.booleans(),
)
def test_garbage_from_the_peer_is_a_finding_not_an_exception(
    protocol: str, body: bytes, framed: bool
) -> None:
    answer = _framed(protocol, body) if framed else body
    result = asyncio.run(servers.answered(protocol, answer))
    assert result is not None and result.expected == protocol
    if result.protocol is None:
        assert result.error


# --- BER, the registry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "encoded"),
    [(0, "020100"), (127, "02017f"), (128, "02020080"), (256, "02020100"), (-1, "0201ff")],
)
def test_ber_integers_take_the_fewest_octets(number: int, encoded: str) -> None:
    assert ber.encode_integer(number).hex() == encoded
    assert ber.decode_integer(bytes.fromhex(encoded)[2:]) == number


def test_ber_long_lengths_round_trip() -> None:
    value = bytes(300)
    encoded = ber.encode(ber.OCTET_STRING, value)
    assert encoded[:4] == bytes((0x04, 0x82, 0x01, 0x2C))
    assert ber.decode(encoded) == (ber.Tlv(ber.OCTET_STRING, value), len(encoded))


def test_the_rootdse_search_is_the_rfc_4511_structure() -> None:
    message, _ = ber.decode(search_request(5, time_limit=3))
    message_id, search = ber.children(message)
    assert ber.decode_integer(message_id.value) == 5
    assert search.tag == 0x63  # [APPLICATION 3] SearchRequest
    base, scope, deref, size, time_limit, types_only, present, attributes = ber.children(search)
    assert (base.tag, base.value) == (ber.OCTET_STRING, b"")
    assert (scope.tag, scope.value, deref.value) == (ber.ENUMERATED, b"\x00", b"\x00")
    assert (size.value, time_limit.value, types_only.value) == (b"\x00", b"\x03", b"\x00")
    assert (present.tag, present.value) == (0x87, b"objectClass")
    names = [a.value.decode() for a in ber.children(attributes)]
    assert "isGlobalCatalogReady" in names and "namingContexts" in names


def test_every_directory_identifier_is_registered() -> None:
    asyncio.run(identify("no-such-protocol", ProbeContext(address=LOOPBACK, port=1)))
    expected = {"ldap", "ldaps", "ldap-gc", "ldaps-gc", "smb", "msrpc", "tds", "radius"}
    assert expected <= set(REGISTRY.names())
