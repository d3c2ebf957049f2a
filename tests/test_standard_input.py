"""Standard input ('-') that is not UTF-8 is refused as a file that is not is: where its first
such byte is (line and offset) and what to do, exit 2, for every command that reads it."""

from __future__ import annotations

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
