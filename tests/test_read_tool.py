"""``read_tool``: a tool that hangs is ended within its timeout, with every process it started."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from portplan._errors import ToolError
from portplan._tools import read_tool


def test_a_hung_tool_and_its_children_end_within_the_timeout(tmp_path: Path) -> None:
    # `sh -c 'unshare ... nft ...'`: the timeout killed the shell only, and its child was left
    # running (here `sleep 5`; a hung nft kept portplan's namespace alive)
    pid_file = tmp_path / "child"
    script = f"sleep 5 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"did not finish within 0\.5 s"):
        read_tool(["sh", "-c", script], timeout=0.5)
    assert time.monotonic() - started < 3
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.05)  # killed: gone once its parent, init, reaps it
    assert not os.path.exists(f"/proc/{child}") or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_a_tool_reads_what_it_is_given_and_nothing_else() -> None:
    assert read_tool(["cat"], b"given") == "given"
    assert read_tool(["cat"]) == ""  # not the terminal's input: it would wait for it
    with pytest.raises(ToolError, match="exited 3: no"):
        read_tool(["sh", "-c", "echo no >&2; exit 3"])
