"""What every benchmark records beside its numbers: the code measured, and best/median.

Also the steps they share: the results header, the line saying which commit was measured, and
writing the results once the run is over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Where the benchmarks write their results by default.
OUT_DIR = HERE / "out"


def git_state() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted changes."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "src_modified": bool(git("status", "--porcelain", "--", "src")),
        "src_digest": src_digest(),
    }


def src_digest() -> str:
    """A digest of the package's source, to notice it changing while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*")):
        if path.suffix in (".py", ".yaml") and path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def summary(samples: list[float]) -> dict[str, Any]:
    """Best and median of repeated measurements, with the samples themselves."""
    return {
        "best": min(samples),
        "median": statistics.median(samples),
        "runs": len(samples),
        "samples": samples,
    }


def byte_compile() -> bool:
    """Compile the package's modules to bytecode, as ``pip install .`` does when it installs
    them; whether that was needed.

    In a checkout installed in editable mode with ``PYTHONDONTWRITEBYTECODE`` set (as in this
    project's development machines), Python would otherwise compile every module of
    portplan's from source at each start: 30 ms of ``--help`` and 0.1 s of a command that
    plans, which no installed portplan pays.
    """
    import compileall  # noqa: PLC0415 - only here

    package = ROOT / "src" / "portplan"
    missing = any(not (path.parent / "__pycache__").is_dir() for path in package.rglob("*.py"))
    compileall.compile_dir(package, quiet=1)
    return missing


def header(name: str) -> dict[str, Any]:
    """The first keys of every benchmark's results: which benchmark, when, where, what code
    (compiled to bytecode first, see :func:`byte_compile`)."""
    return {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "git": git_state(),
        "bytecode_compiled_first": byte_compile(),
    }


def commit_line(results: dict[str, Any], extra: str = "") -> str:
    """The report's line naming the commit, machine and date; ``extra`` goes before the stop."""
    git = results["git"]
    machine = results["machine"]
    return (
        f"Commit {git['commit']}"
        f"{' with uncommitted changes in src/' if git['src_modified'] else ''}, "
        f"{machine['cpus']} CPUs, Python {machine['python']}, {results['date']}{extra}."
        + (" src/ CHANGED DURING THE RUN." if results["src_changed_during_run"] else "")
    )


def finish(
    results: dict[str, Any], json_path: Path, report: Callable[[dict[str, Any]], str]
) -> None:
    """Note whether src/ changed during the run, print ``report(results)``, write the JSON."""
    results["src_changed_during_run"] = src_digest() != results["git"]["src_digest"]
    if results["src_changed_during_run"]:
        print(
            "WARNING: src/ changed while the benchmark ran; the numbers mix versions",
            file=sys.stderr,
        )
    print(report(results), end="")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {json_path}", file=sys.stderr)


def peak_rss_bytes(ru_maxrss: int) -> int:
    """A ``ru_maxrss`` in bytes: it is in kilobytes on Linux, bytes on macOS."""
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def mib(value: int | None) -> str:
    """Bytes as MiB with one decimal; nothing for None."""
    return "" if value is None else f"{value / 2**20:.1f} MiB"
