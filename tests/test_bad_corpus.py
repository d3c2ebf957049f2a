"""The malformed-input corpus (tests/data/bad/, see its README): every case, in a process
limited to 512 MiB, exits 2 with its expected messages at their locations, nothing on standard
output, no traceback, within 5 seconds; deployments also through `matrix` and `rules`."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portplan.load.reading import MAX_INPUT_BYTES

BAD = Path(__file__).resolve().parent / "data" / "bad"
CASES = sorted(BAD.glob("*.yaml"))
MEMORY = 512 * 2**20  #: address space of the process that runs the cases
SECONDS = 5  #: per case and command

# Runs in a child process: each job is (name, argv); prints one JSON line per job.
WORKER = r"""
import json, signal, sys, time
from click.testing import CliRunner
from portplan.cli import cli

class Slow(Exception):
    pass

def alarm(_signum, _frame):
    raise Slow()

signal.signal(signal.SIGALRM, alarm)
for name, argv, stdin in json.loads(sys.stdin.read()):
    print(json.dumps({"start": name}), flush=True)
    started = time.perf_counter()
    signal.alarm(SECONDS)
    try:
        result = CliRunner().invoke(cli, argv, input=stdin)
        code, out, err = result.exit_code, result.stdout, result.stderr
        crash = None if result.exception is None or isinstance(result.exception, SystemExit) \
            else repr(result.exception)
    except Slow:
        code, out, err, crash = None, "", "", f"still running after {SECONDS} s"
    finally:
        signal.alarm(0)
    print(json.dumps({"name": name, "code": code, "stdout": out, "stderr": err,
                      "crash": crash, "seconds": time.perf_counter() - started}), flush=True)
""".replace("SECONDS", str(SECONDS))


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_jobs(jobs: list[tuple[str, list[str], str | None]]) -> dict[str, dict[str, Any]]:
    """Run the jobs in one child process limited to :data:`MEMORY`; its report by job name."""
    process = subprocess.run(
        [sys.executable, "-c", WORKER],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=60 + SECONDS * 2 * len(jobs),
        check=False,
        preexec_fn=_limit_memory,
        env={**os.environ, "COLUMNS": "200"},
    )
    reports: dict[str, dict[str, Any]] = {}
    started = None
    for line in process.stdout.splitlines():
        record = json.loads(line)
        if "start" in record:
            started = record["start"]
        else:
            reports[record["name"]] = record
            started = None
    assert started is None, f"the worker died in {started}: {process.stderr[-2000:]}"
    assert process.returncode == 0, process.stderr[-2000:]
    return reports


def expectations(path: Path) -> tuple[str, list[tuple[str, str]]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    command = re.findall(r"^# command: (\S+)$", text, re.MULTILINE)
    expects = re.findall(r"^# expect: (\S+): (.*)$", text, re.MULTILINE)
    assert expects, f"{path.name} says nothing about what it expects"
    return (command[0] if command else "validate"), expects


def assert_refused(record: dict[str, Any], path: Path) -> list[str]:
    """Exit 2, nothing on stdout, no traceback or crash, in time; the error lines."""
    name = record["name"]
    assert record["crash"] is None, f"{name}: {record['crash']}"
    assert record["code"] == 2, f"{name}: exit {record['code']}\n{record['stderr']}"
    assert record["stdout"] == "", name
    assert "Traceback" not in record["stderr"], name
    assert record["seconds"] < SECONDS, f"{name}: {record['seconds']:.1f} s"
    errors = [line for line in record["stderr"].splitlines() if ": error: " in line]
    assert errors, f"{name}: no error line\n{record['stderr']}"
    for line in errors:  # at a line of the case, or of the product file it names
        where = re.match(r"(.+?):(\d+)(?::\d+)?: error: ", line)
        assert where, f"{name}: unlocated: {line}"
        assert Path(where[1]) == path or Path(where[1]).parent == BAD / "products", line
    return errors


@pytest.fixture(scope="module")
def corpus_reports() -> dict[str, dict[str, Any]]:
    jobs: list[tuple[str, list[str], str | None]] = []
    for path in CASES:
        command, _ = expectations(path)
        jobs.append((path.name, [command, str(path)], None))
        if re.search(r"^hosts:", path.read_text(encoding="utf-8"), re.MULTILINE):
            jobs.append((f"{path.name} matrix", ["matrix", str(path)], None))
            jobs.append(
                (f"{path.name} rules", ["rules", str(path), "-t", "nftables", "--all-hosts"], None)
            )
    return run_jobs(jobs)


def test_the_corpus_is_large_and_its_bases_are_valid() -> None:
    assert len(CASES) >= 150
    result = subprocess.run(
        [sys.executable, "-m", "portplan", "validate", *map(str, sorted(BAD.glob("products/*")))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2  # broken.yaml is broken on purpose
    assert "base-deployment.yaml: ok: deployment demo-site" in result.stdout
    assert "demo.yaml: ok: product demo-1.0" in result.stdout


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_a_bad_case_is_refused_where_its_mistake_is(
    path: Path, corpus_reports: dict[str, dict[str, Any]]
) -> None:
    _command, expects = expectations(path)
    errors = assert_refused(corpus_reports[path.name], path)
    for where, message in expects:
        found = [e for e in errors if message in e]
        assert found, f"{path.name}: no error says {message!r}:\n" + "\n".join(errors)
        if where != "-":
            assert any(e.startswith(f"{path}:{where}:") for e in found), (
                f"{path.name}: {message!r} not at {where}:\n" + "\n".join(found)
            )
    for other in ("matrix", "rules"):
        record = corpus_reports.get(f"{path.name} {other}")
        if record is not None:
            record = {**record, "name": f"{path.name} {other}"}
            assert_refused(record, path)


# -- the cases git cannot hold --------------------------------------------------------------


def test_files_that_are_not_regular_or_too_large_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: demo\ndescription: caf\xe9\n")
    # a deployment whose product file is a FIFO
    product_fifo = tmp_path / "product.yaml"
    os.mkfifo(product_fifo)
    via_fifo = tmp_path / "deployment.yaml"
    via_fifo.write_text(
        (BAD / "products" / "base-deployment.yaml").read_text().replace("demo.yaml", "product.yaml")
    )
    cases = {
        "fifo": (fifo, "is a FIFO (named pipe), not a regular file"),
        "device": (Path("/dev/zero"), "is a character device, not a regular file"),
        "folder": (tmp_path, "is a directory, not a regular file"),
        "big": (big, "portplan reads files of at most 32 MiB"),
        "empty": (empty, "the file is empty"),
        "latin": (latin, "is not UTF-8 text: byte 0xe9"),
        "product-fifo": (product_fifo, "is a FIFO (named pipe), not a regular file"),
    }
    jobs: list[tuple[str, list[str], str | None]] = [
        (name, ["validate", str(via_fifo if name == "product-fifo" else path)], None)
        for name, (path, _) in cases.items()
    ]
    jobs.append(("stdin-big", ["matrix", "-"], "#" * (MAX_INPUT_BYTES + 10)))
    reports = run_jobs(jobs)
    for name, (path, message) in cases.items():
        record = reports[name]
        assert record["crash"] is None and record["code"] == 2, record
        assert message in record["stderr"], f"{name}: {record['stderr']}"
        assert record["stderr"].startswith(f"{via_fifo if name == 'product-fifo' else path}:")
        assert "Traceback" not in record["stderr"]
        assert record["seconds"] < SECONDS, name
    # the product file that cannot be read is named where the deployment names it
    assert re.match(
        rf"{via_fifo}:\d+:\d+: error: product file 'product.yaml' is a FIFO",
        reports["product-fifo"]["stderr"],
    )
    assert "latin.yaml:2:1: error:" in reports["latin"]["stderr"]
    assert reports["stdin-big"]["code"] == 2
    assert "standard input holds more than 32 MiB" in reports["stdin-big"]["stderr"]
