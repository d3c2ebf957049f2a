"""What `portplan apply` takes as confirmation from input that is not a terminal: the deadline
wins whatever standard input does (a partial line on a pipe left open, silence), and the end
of input, or no input at all, is never a 'yes'."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from test_apply_rollback import (
    PORTPLAN,
    SMART_ID,
    finish,
    nft_namespace,
    nft_state,
    no_watchdog_left,
    start_apply,
    wait_for,
)

pytestmark = pytest.mark.netns

__all__ = ["nft_namespace"]  # (a fixture, used by name)

TIMEOUT = 3


def test_a_partial_line_on_an_open_pipe_does_not_outlast_the_deadline(
    nft_namespace: str,
) -> None:
    before = nft_state(nft_namespace)
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=TIMEOUT)
    applied = time.monotonic()
    try:
        assert process.stdin is not None
        process.stdin.write("ye")  # no newline, and the pipe stays open
        process.stdin.flush()
        # ended by the deadline (plus the time to restore), not by the rest of a line
        wait_for(lambda: process.poll() is not None, TIMEOUT + 5)
        assert time.monotonic() - applied < TIMEOUT + 5
    finally:
        status, err = finish(process)
    assert status == 1, err
    assert "not confirmed" in err
    assert nft_state(nft_namespace) == before
    wait_for(no_watchdog_left, 10)


def test_yes_in_pieces_on_a_pipe_is_a_yes(nft_namespace: str) -> None:
    process = start_apply(nft_namespace, str(SMART_ID), "--on", "da01", timeout=10)
    try:
        assert process.stdin is not None
        process.stdin.write("y")
        process.stdin.flush()
        time.sleep(0.5)
        process.stdin.write("es\n")
        process.stdin.flush()
    finally:
        status, err = finish(process)
    assert status == 0, err
    assert "kept" in err
    assert "management/ssh" in nft_state(nft_namespace)


@pytest.mark.parametrize("stdin", ["devnull", "closed", "eof"])
def test_no_input_is_never_a_yes(nft_namespace: str, stdin: str) -> None:
    before = nft_state(nft_namespace)
    env = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    argv = ["ip", "netns", "exec", nft_namespace, *PORTPLAN, "apply", str(SMART_ID)]
    argv += ["--on", "da01", "--confirm-timeout", "30"]
    started = time.monotonic()
    if stdin == "eof":  # a pipe whose writer has closed it, after an empty line's worth of nothing
        result = subprocess.run(
            argv, input="", capture_output=True, text=True, env=env, timeout=60, check=False
        )
    else:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL if stdin == "devnull" else None,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
            # (closed: the file descriptor 0 is not open at all)
            preexec_fn=(lambda: os.close(0)) if stdin == "closed" else None,
        )
    assert result.returncode == 1, result.stderr
    assert "not confirmed: the previous ruleset is restored" in result.stderr
    assert time.monotonic() - started < 30  # at once, not at the deadline
    assert nft_state(nft_namespace) == before
    wait_for(no_watchdog_left, 10)
