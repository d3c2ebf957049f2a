"""Unit tests of the collection's modules, run in this process as Ansible would run them on a
managed host (``patch_module_args``), against sockets on loopback only."""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

import machine
from ansible_env import COLLECTIONS
from portplan.report.machine import FORMAT_VERSION

MODULES = "ansible_collections.portplan.portplan.plugins.modules"


def module(name: str) -> ModuleType:
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module(f"{MODULES}.{name}")


def run(name: str, args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The module's result, as Ansible would read it from its standard output."""
    capsys.readouterr()
    with patch_module_args(args), pytest.raises(SystemExit):
        module(name).main()
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


@pytest.fixture
def tcp_open() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port of 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request(ports: list[int], protocol: str = "tcp", **extra: Any) -> dict[str, Any]:
    return {
        "flow": "demo/web",
        "reference": "Web > Server",
        "source": "client01",
        "destination": "web01",
        "destination_component": "web",
        "address": "127.0.0.1",
        "protocol": protocol,
        "ports": ports,
        **extra,
    }


def as_document(result: dict[str, Any]) -> dict[str, Any]:
    """The module's records in a ``verify`` document, checked against its published schema."""
    body = {
        "format_version": FORMAT_VERSION,
        "kind": "verify",
        "deployment": "collection-test",
        "plan_digest": f"sha256:{'0' * 64}",  # no plan here: the records are what is checked
        "checks": result["checks"],
        "not_probed": [],
        "passed": result["summary"]["passed"],
        "failed": result["summary"]["failed"],
    }
    return machine.document(json.dumps(body), "verify")


def test_probe_reports_open_and_refused_ports(
    tcp_open: int, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = free_port()
    closed_udp = free_port(socket.SOCK_DGRAM)
    result = run(
        "probe",
        {"probes": [request([tcp_open, refused]), request([closed_udp], "udp")]},
        capsys,
    )
    assert result["changed"] is False
    assert "failed" not in result  # probes that fail are findings, not a failed task
    document = as_document(result)
    outcomes = {(c["protocol"], c["port"]): c["outcome"] for c in document["checks"]}
    assert outcomes == {
        ("tcp", tcp_open): "open",
        ("tcp", refused): "refused",
        ("udp", closed_udp): "closed",
    }
    first = document["checks"][0]
    assert (first["flow"], first["source"], first["destination"]) == (
        "demo/web",
        "client01",
        "web01",
    )
    assert result["summary"] == {"passed": 1, "failed": 2}


def test_probe_expecting_blocked_passes_only_when_blocked(
    tcp_open: int, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = free_port()
    result = run("probe", {"probes": [request([tcp_open, refused], expect="blocked")]}, capsys)
    passed = {c["port"]: c["passed"] for c in as_document(result)["checks"]}
    assert passed == {tcp_open: False, refused: True}
    assert all("expected to be blocked" in c["notes"] for c in result["checks"])


def test_probe_identifies_the_service(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]

        def answer() -> None:
            for _ in range(4):  # the probe, then the identification
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(2)
                    try:
                        if conn.recv(1024).startswith(b"GET"):
                            conn.sendall(b"HTTP/1.1 204 No Content\r\nServer: tiny\r\n\r\n")
                    except OSError:
                        pass

        threading.Thread(target=answer, daemon=True).start()
        result = run("probe", {"probes": [request([port], identify="http")]}, capsys)
    check = as_document(result)["checks"][0]
    assert check["outcome"] == "open"
    assert check["identification"]["protocol"] == "http"
    assert check["identification"]["details"]["server"] == "tiny"
    assert check["passed"] is True


def test_probe_in_check_mode_probes_and_changes_nothing(
    tcp_open: int, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run("probe", {"probes": [request([tcp_open])], "_ansible_check_mode": True}, capsys)
    assert result["changed"] is False
    assert result["checks"][0]["outcome"] == "open"


def test_probe_refuses_a_request_it_cannot_probe(capsys: pytest.CaptureFixture[str]) -> None:
    result = run("probe", {"probes": [request([80], address="web01.example")]}, capsys)
    assert result["failed"] is True
    assert "probe 1 (demo/web)" in result["msg"]
    assert "web01.example" in result["msg"]
    result = run("probe", {"probes": [request([0])]}, capsys)
    assert result["failed"] is True and "no port 0" in result["msg"]
    # an ICMP message type on a TCP probe was taken and ignored
    result = run("probe", {"probes": [request([80], icmp_type="echo-request")]}, capsys)
    assert result["failed"] is True
    assert "icmp_type is for an ICMP probe, not a tcp one" in result["msg"]
    result = run("probe", {"probes": [request([80])], "timeout": 0}, capsys)
    assert result["failed"] is True and "timeout" in result["msg"]
    # silence seen once is no proof of a block: a lost SYN reads the same
    blocked = {"probes": [request([80], expect="blocked")], "second_look": False}
    result = run("probe", blocked, capsys)
    assert result["failed"] is True and "expect: blocked needs second_look" in result["msg"]


def test_listen_serves_until_its_ready_file_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port, taken = free_port(), socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    ready = tmp_path / "ready.json"
    args = {
        "listeners": [
            {"address": "127.0.0.1", "port": port, "protocol": "tcp", "flows": ["demo/web"]},
            {"address": "127.0.0.1", "port": taken.getsockname()[1], "protocol": "tcp"},
        ],
        "duration": 30,
        "ready_file": str(ready),
    }
    greeting: list[bytes] = []

    def client() -> None:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            greeting.append(conn.recv(64))
        ready.unlink()  # stops the listeners

    thread = threading.Thread(target=client)
    thread.start()
    started = time.monotonic()
    try:
        result = run("listen", args, capsys)
    finally:
        thread.join(15)
        taken.close()
    assert time.monotonic() - started < 10  # stopped by the file, not by the duration
    assert greeting == [b"portplan-listen\r\n"]
    assert result["listening"] == [
        {"address": "127.0.0.1", "port": port, "protocol": "tcp", "flows": ["demo/web"]}
    ]
    [failed] = result["failed_listeners"]
    assert failed["reason"] == "in use by another program: left alone"


def test_listen_keeps_listening_when_binding_takes_longer_than_a_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a look at the ready file every millisecond: binding 200 sockets takes longer than that,
    # and a ready file not written yet is no ready file removed
    monkeypatch.setattr(module("listen"), "WATCH_INTERVAL", 0.001)
    port = free_port()
    listeners = [
        {"address": f"127.0.0.{n}", "port": port, "protocol": "tcp"} for n in range(2, 202)
    ]
    ready = tmp_path / "ready.json"
    args = {"listeners": listeners, "duration": 1.5, "ready_file": str(ready)}
    started = time.monotonic()
    result = run("listen", args, capsys)
    assert time.monotonic() - started >= 1.5  # it listened for the whole duration
    assert len(result["listening"]) == 200, result["failed_listeners"]
    assert not ready.exists()


def test_listen_refuses_a_ready_file_it_cannot_write_or_would_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    listeners = [{"address": "127.0.0.1", "port": port, "protocol": "tcp"}]
    kept = tmp_path / "notes.txt"
    kept.write_text("the user's own\n")
    args = {"listeners": listeners, "duration": 30, "ready_file": str(kept)}
    result = run("listen", args, capsys)
    assert result["failed"] is True and "exception" not in result
    assert result["msg"].startswith(f"ready_file {kept} already exists: it is never overwritten")
    assert kept.read_text() == "the user's own\n"  # neither overwritten nor removed
    missing = tmp_path / "no-such-dir" / "ready.json"
    args = {"listeners": listeners, "duration": 30, "ready_file": str(missing)}
    result = run("listen", args, capsys)
    assert result["failed"] is True and "exception" not in result
    assert result["msg"] == f"ready_file {missing}: no directory {missing.parent} to write it in"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no partial file left


def test_listen_in_check_mode_opens_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    args = {
        "listeners": [{"address": "127.0.0.1", "port": port, "protocol": "tcp"}],
        "_ansible_check_mode": True,
    }
    result = run("listen", args, capsys)
    assert result == {**result, "changed": False, "listening": [], "failed_listeners": []}


def test_facts_names_the_sockets_this_process_listens_on(
    tcp_open: int, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run("facts", {"ruleset": False}, capsys)
    facts = result["ansible_facts"]["portplan"]
    mine = [s for s in facts["listening"] if s["port"] == tcp_open and s["protocol"] == "tcp"]
    assert mine == [
        {
            "protocol": "tcp",
            "address": "127.0.0.1",
            "port": tcp_open,
            "process": mine[0]["process"],
            "pid": mine[0]["pid"],
        }
    ]
    assert mine[0]["pid"] == os.getpid()
    assert facts["ruleset"] is None
