"""`portplan listen --on HOST` listens only where this machine holds HOST's addresses, also
where the kernel lets a program bind an address it does not hold (``ip_nonlocal_bind``, set on
the members of a keepalived or HAProxy pair so that either can bind the shared address).  In a
namespace of the test's own, holding web01's addresses on ``lo``.  And where every port is in
use, it says it listens on none (not that it listens for the duration)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import netns

pytestmark = pytest.mark.netns

PORT = 18443
HOSTS = {"web01": ("192.0.2.5", "2001:db8::5"), "web02": ("192.0.2.6", "2001:db8::6")}


@pytest.fixture(scope="module")
def web01() -> Iterator[str]:
    """A namespace that is web01 and may bind any address (net.ipv4/ipv6.ip_nonlocal_bind)."""
    with netns.guard(), netns.namespace() as name:
        for address in HOSTS["web01"]:
            netns.run(["ip", "-n", name, "addr", "add", address, "dev", "lo"])
        netns.run(
            ["ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1",
             "net.ipv6.ip_nonlocal_bind=1"]
        )  # fmt: skip
        yield name


def listen_once(name: str, directory: Path, on: str) -> subprocess.CompletedProcess[str]:
    """``portplan listen --on ON`` for a second in namespace ``name``, to its end."""
    product = directory / "web.yaml"
    product.write_text(
        "id: web-1\nname: Web\nversion: '1'\ndocument: {title: Web ports}\n"
        "components:\n  browser: {name: Browser, kind: client}\n  site: {name: Site}\n"
        "flows:\n  - id: https\n    row: 1\n    from: browser\n    to: site\n"
        f"    protocol: tcp\n    ports: {PORT}\n    purpose: Pages.\n"
    )
    hosts = "".join(f"  {host}: {{addresses: [{', '.join(a)}]}}\n" for host, a in HOSTS.items())
    deployment = directory / f"{on}.yaml"
    deployment.write_text(
        f"name: pair\nhosts:\n  pc: {{addresses: [203.0.113.9]}}\n{hosts}"
        f"products:\n  web-1:\n    file: web.yaml\n    components: {{browser: pc, site: {on}}}\n"
    )
    argv = [sys.executable, "-m", "portplan", "listen", str(deployment), "--on", on]
    return subprocess.run(
        ["ip", "netns", "exec", name, *argv, "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_listen_refuses_the_other_member_of_a_pair(web01: str, tmp_path: Path) -> None:
    # before: the binds of web02's addresses succeeded here, and listen said it listened on
    # web02's port, where no source reaches this machine
    done = listen_once(web01, tmp_path, "web02")
    assert done.returncode == 2, done.stderr
    assert "this machine has none of the addresses of web02; run listen on web02" in done.stderr


def test_listen_on_its_own_host_where_any_address_binds(web01: str, tmp_path: Path) -> None:
    done = listen_once(web01, tmp_path, "web01")
    assert done.returncode == 0, done.stderr
    # one port on each of web01's two addresses: before, "listening on 2 port(s)"
    assert "listening on 1 port(s) on 2 addresses (2 sockets) of web01" in done.stderr


def test_listen_where_every_port_is_in_use_says_it_listens_on_none(
    web01: str, tmp_path: Path
) -> None:
    # before: "listening on 0 port(s) of web01 for 1 s (Ctrl-C stops)", and it stopped at once
    hold = "import socket, sys\n"
    hold += "held = [socket.create_server((a, %d), family=socket.AF_INET6 if ':' in a else "
    hold += "socket.AF_INET) for a in sys.argv[1:]]\nprint('ready', flush=True)\nsys.stdin.read()"
    argv = ["ip", "netns", "exec", web01, sys.executable, "-c", hold % PORT, *HOSTS["web01"]]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as held:
        try:
            assert held.stdout is not None and held.stdout.readline().strip() == "ready"
            done = listen_once(web01, tmp_path, "web01")
        finally:
            held.kill()
    assert done.returncode == 1, done.stderr
    assert "listening on 0" not in done.stderr
    assert (
        "portplan: none of web01's 1 port(s) on 2 addresses (2 sockets) could be opened: "
        "nothing listens"
    ) in done.stderr


def test_listen_on_a_network_says_why_nothing_there_is_probed(web01: str, tmp_path: Path) -> None:
    # before: "this machine has none of clients's addresses; run listen on clients", though
    # a machine of the network is where it ran, and no machine of it would do better
    HOSTS["clients"] = ("198.51.100.0/24",)
    try:
        done = listen_once(web01, tmp_path, "clients")
    finally:
        del HOSTS["clients"]
    assert done.returncode == 2, done.stderr
    assert (
        "clients is a network of machines (198.51.100.0/24), not one machine: verify sends no "
        "probe into a network, whose machines it does not know one by one, so no listener "
        "there is ever reached; once the product runs, check a machine of it with portplan "
        "audit --host clients there"
    ) in " ".join(done.stderr.split())


def test_listen_on_a_network_opens_its_machines_own_loopback_flows(web01: str) -> None:
    # the Shopping clients' browser reaches the agent on the same machine (127.0.0.1:8000):
    # before, refused as "none of clients's addresses"
    example = Path(__file__).resolve().parent.parent / "examples" / "shopping-contoso.yaml"
    done = subprocess.run(
        ["ip", "netns", "exec", web01, sys.executable, "-m", "portplan", "listen",
         str(example), "--on", "clients", "--duration", "1", "-v"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "listening on 1 port(s) of clients" in done.stderr
