"""Standard input ('-') that is not UTF-8 is refused as a file that is not is: where its first
such byte is (line and offset) and what to do, exit 2, for every command that reads it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import examples

DEPLOYMENT = str(examples.EXAMPLES / "search-cluster.yaml")


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "-"],
        ["matrix", "-"],
        ["report", DEPLOYMENT, "-o", "-", "--verify", "-"],
        ["audit", DEPLOYMENT, "--host", "dash01", "--ruleset", "-"],
    ],
    ids=["validate", "matrix", "report-verify", "audit-ruleset"],
)
def test_standard_input_that_is_not_utf8_is_located_and_told_what_to_do(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "portplan", *argv],
        input=b"name: x\ndescription: caf\xe9\n",
        capture_output=True,
        timeout=120,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith(
        "<stdin>:2:1: error: is not UTF-8 text: byte 0xe9 at offset 24 cannot be decoded "
        "(save the file as UTF-8)\n"
    ), err
    assert "Traceback" not in err
    assert done.stdout == b""


RESULTS = {"format_version": "1.1", "kind": "verify", "checks": [], "not_probed": []}


@pytest.mark.parametrize(
    ("argv", "given"),
    [
        # the second read found standard input spent, and called the file empty or unreadable
        (
            ["audit", DEPLOYMENT, "--host", "dash01", "--ruleset", "nft:-", "--sockets", "-"],
            "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n",  # (the sockets are read first)
        ),
        # "<stdin>:1:1: not JSON (Expecting value)"
        (["report", DEPLOYMENT, "-o", "-", "--verify", "-", "--verify", "-"], json.dumps(RESULTS)),
        # "the file holds no rule, so its kind cannot be told from it"
        (["matrix", "-", "--host", "dash01", "--against", "-"], None),
    ],
    ids=["ruleset-and-sockets", "two-results", "deployment-and-ruleset"],
)
def test_standard_input_given_twice_is_refused(argv: list[str], given: str | None) -> None:
    text = (examples.EXAMPLES / "search-cluster.yaml").read_text() if given is None else given
    done = subprocess.run(
        [sys.executable, "-m", "portplan", *argv],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=examples.EXAMPLES,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "portplan: error: standard input ('-') can be read only once; give the other inputs as "
        "files\n"
    )
    assert done.stdout == ""
