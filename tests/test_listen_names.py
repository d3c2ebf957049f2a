"""`portplan listen --on HOST` for a host known by its name only (``dns_name``, no
addresses): it listens on the addresses the name resolves to here that are this machine's,
as `verify` from the sources reaches them.  In a namespace of the test's own, whose
/etc/hosts (``ip netns exec`` bind-mounts /etc/netns/NAME/hosts) gives the name out."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import netns

pytestmark = pytest.mark.netns

ADDRESS = "192.0.2.7"  #: on the namespace's lo: this machine's, inside it
ELSEWHERE = "198.51.100.7"  #: held by no machine here
PORT = 18443
LOOP = Path(__file__).resolve().parent / "data" / "loop-product.yaml"


@contextlib.contextmanager
def named(hosts: str) -> Iterator[str]:
    """A bare namespace holding ADDRESS, whose /etc/hosts is ``hosts``."""
    with netns.namespace() as name:
        netns.run(["ip", "-n", name, "addr", "add", f"{ADDRESS}/32", "dev", "lo"])
        folder = Path("/etc/netns") / name
        folder.mkdir(parents=True)
        try:
            (folder / "hosts").write_text(hosts)
            yield name
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def deployment(directory: Path) -> Path:
    product = directory / "web.yaml"
    product.write_text(
        "id: web-1\nname: Web\nversion: '1'\ndocument: {title: Web ports}\n"
        "components:\n  browser: {name: Browser, kind: client}\n  site: {name: Site}\n"
        "flows:\n  - id: https\n    row: 1\n    from: browser\n    to: site\n"
        f"    protocol: tcp\n    ports: {PORT}\n    purpose: Pages.\n"
    )
    path = directory / "deployment.yaml"
    path.write_text(
        "name: names\nhosts:\n  pc: {addresses: [203.0.113.9]}\n"
        "  www: {dns_name: www.portplan.test}\n"
        "products:\n  web-1:\n    file: web.yaml\n    components: {browser: pc, site: www}\n"
    )
    return path


def listen(name: str, path: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "portplan", "listen", str(path), "--on", "www"]
    return subprocess.Popen(
        ["ip", "netns", "exec", name, *argv, "--duration", "30"],
        stderr=subprocess.PIPE,
        text=True,
    )


def listen_once(name: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``portplan listen --on www`` for a second in namespace ``name``, to its end."""
    argv = [sys.executable, "-m", "portplan", "listen", str(path), "--on", "www"]
    return subprocess.run(
        ["ip", "netns", "exec", name, *argv, "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_host_known_by_name_only_listens_where_its_name_resolves(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with named(f"{ADDRESS} www.portplan.test\n") as name:
        process = listen(name, path)
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            assert "listening on 1 port" in line, line + process.stderr.read()
            greeting = subprocess.run(
                ["ip", "netns", "exec", name, sys.executable, "-c",
                 "import socket; s = socket.create_connection(('192.0.2.7', 18443), 5); "
                 "print(s.recv(64).decode().strip())"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            assert greeting.strip() == "portplan-listen"
        finally:
            process.terminate()
            process.wait(30)
            if process.stderr is not None:
                process.stderr.close()


@pytest.mark.parametrize(
    ("hosts", "said"),
    [
        (
            f"{ELSEWHERE} www.portplan.test\n",
            f"www is known by its name only, and www.portplan.test resolves here to {ELSEWHERE}, "
            "none of them this machine's; run listen on www",
        ),
        ("", "www is known by its name only, and www.portplan.test does not resolve here ("),
    ],
)
def test_a_name_that_gives_none_of_this_machines_addresses_says_so(
    tmp_path: Path, hosts: str, said: str
) -> None:
    path = deployment(tmp_path)
    with named(hosts) as name:
        done = listen_once(name, path)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr


def test_a_name_this_machine_maps_to_a_loopback_address_is_not_listened_on_there(
    tmp_path: Path,
) -> None:
    # /etc/hosts often maps this machine's own name to 127.0.1.1 (Debian): no source reaches
    # a listener there, so listen says so rather than "listening" where verify cannot come
    path = deployment(tmp_path)
    with named("127.0.1.1 www.portplan.test\n") as name:
        done = listen_once(name, path)
    assert done.returncode == 2, done.stderr
    assert (
        "www is known by its name only, and www.portplan.test resolves here to 127.0.1.1, "
        "a loopback address that no source reaches"
    ) in done.stderr, done.stderr
    assert "listening" not in done.stderr
