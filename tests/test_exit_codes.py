"""The exit-code table, each code produced by a real case in a real process:
0 success, 1 a check found a difference, 2 usage or input error, 3 runtime or environment
error, 130 interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import examples
from portplan.cli._exit import EXIT_CODES_HELP, ExitCode

PORTPLAN = [sys.executable, "-m", "portplan"]
LOOP = Path(__file__).resolve().parent / "data" / "loop-deployment.yaml"


def portplan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PORTPLAN, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_the_table_is_the_documented_one() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 130]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code
    assert "130 interrupted" in EXIT_CODES_HELP
    assert "Exit status: 0 success" in portplan("--help").stdout.replace("\n  ", " ")


def test_success_is_0() -> None:
    assert portplan("matrix", str(examples.EXAMPLES / "smart-id-nexus.yaml")).returncode == 0


def test_a_failed_verification_is_1() -> None:
    # loopback only: port 18090 of 127.0.0.3 has no listener, so the planned flow is refused
    result = portplan("verify", str(LOOP), "--on", "client", "--flow", "closed")
    assert result.returncode == ExitCode.DIFFERENCE, result.stderr
    assert "refused" in result.stdout and "FAIL" in result.stdout


def test_bad_yaml_is_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    result = portplan("matrix", str(bad))
    assert result.returncode == ExitCode.USAGE
    assert f"{bad}:1:7: error: YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_usage_error_is_2_and_said_like_every_other_error() -> None:
    result = portplan("matrix", "--no-such-option")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr == (
        "portplan: error: No such option '--no-such-option' (see 'portplan matrix --help')\n"
    )


def test_a_usage_error_of_several_lines_is_one_paragraph() -> None:
    # click lists the choices of a missing argument one a line, each indented by a tab
    result = portplan("schema")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.count("\n") == 1 and "\t" not in result.stderr, result.stderr
    assert result.stderr.startswith("portplan: error: Missing argument '{product|deployment|")
    assert "Choose from: product, deployment, audit," in result.stderr
    assert result.stderr.endswith(", verify (see 'portplan schema --help')\n")


def test_a_missing_tool_is_3() -> None:
    # apply --check runs `nft -c`; with no nft on the PATH that is the environment's fault
    result = portplan(
        "apply",
        str(examples.EXAMPLES / "smart-id-nexus.yaml"),
        "--on",
        "da01",
        "--check",
        env={"PATH": "/nonexistent"},
    )
    assert result.returncode == ExitCode.RUNTIME, result.stderr
    assert "nft is not installed; install it (Debian package nftables)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_3() -> None:
    # (an output under a file is the user's to change: 2, tests/test_outputs.py)
    result = portplan("matrix", str(examples.EXAMPLES / "smart-id-nexus.yaml"), "-o", "/dev/full")
    assert result.returncode == ExitCode.RUNTIME, result.stderr
    assert "No space left on device" in result.stderr
    assert result.stderr.startswith("portplan: error: ")
    assert "Traceback" not in result.stderr


def _reading_standard_input(pid: int) -> bool:
    try:
        return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc")
def test_interrupted_is_130() -> None:
    # `matrix -` waits for standard input to end; Ctrl-C while it waits
    process = subprocess.Popen(
        [*PORTPLAN, "matrix", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _reading_standard_input(process.pid):
            assert time.monotonic() < deadline, "portplan never started reading standard input"
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == ExitCode.INTERRUPTED
    assert err == "portplan: interrupted\n"
