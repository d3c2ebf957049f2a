"""What every benchmark records beside its numbers: the code measured, and best/median."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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
