"""`portplan apply` without ``SSH_CONNECTION`` (``sudo``, ``su -`` drop it) still sees the SSH
sessions open on the machine: a real sshd in a namespace, a real ``ssh`` session into it from
another, and apply refusing a ruleset that would not accept that session again."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netns
import sshlab
from examples import EXAMPLES

pytestmark = pytest.mark.netns

SSH_PORT = 2222
DA01 = "192.0.2.40"  #: da01's address in the Smart ID example
OUTSIDER = "192.0.2.200"  #: not in the example's admin network (203.0.113.0/28)


def _established(ns: str, client: str, deadline: float) -> None:
    """Wait until ``ss`` in ``ns`` shows a connection from ``client`` to the SSH port."""
    while True:
        shown = netns.run(["ip", "netns", "exec", ns, "ss", "-Htn", "state", "established"])
        if f"{client}:" in shown.stdout and f":{SSH_PORT} " in shown.stdout:
            return
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.1)


def test_an_open_session_the_new_ruleset_would_not_accept_is_refused(tmp_path: Path) -> None:
    reason = sshlab.unavailable() or netns.unavailable("nft", "ss")
    if reason:
        pytest.skip(reason)
    with netns.topology() as topo, sshlab.ssh_lab(tmp_path, SSH_PORT) as lab:
        da01 = topo.add_node("da01", [ipaddress.ip_address(DA01)])
        client = topo.add_node("client", [ipaddress.ip_address(OUTSIDER)])
        lab.start(topo, da01, ipaddress.ip_address(DA01))
        session = subprocess.Popen(
            ["ip", "netns", "exec", client.netns, "ssh", "-N", "-i", str(lab.key), "-p",
             str(SSH_PORT), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"root@{DA01}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            _established(da01.netns, OUTSIDER, time.monotonic() + 30)
            env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
            applied = subprocess.run(
                ["ip", "netns", "exec", da01.netns, sys.executable, "-m", "portplan", "apply",
                 str(EXAMPLES / "smart-id-nexus.yaml"), "--on", "da01"],
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
                env=env,
                check=False,
            )  # fmt: skip
            listed = netns.run(["ip", "netns", "exec", da01.netns, "nft", "list", "tables"])
        finally:
            session.terminate()
            session.communicate(timeout=10)
    assert applied.returncode == 2, applied.stderr
    said = " ".join(applied.stderr.split())
    assert f"an SSH session from {OUTSIDER} to {DA01} port {SSH_PORT} is open" in said
    assert "SSH_CONNECTION is not set" in said and "--force" in said
    assert "portplan" not in listed.stdout  # nothing was applied
