"""Aerleon's run for the zone-boundary targets: the request, the worker process, the checks
of what it answers (:mod:`portplan.targets._acl_request` builds the request and
:mod:`portplan.targets.acl` reads the files back).

Aerleon runs in a separate process (``python -m portplan.targets._aerleon_worker``, JSON on
standard input and output) with a timeout, never in portplan's process or a thread.  Any log
record or warning it emits but its two start-up notes, anything on its standard error, an
installed Aerleon plug-in, or a generator other than its built-in one is an error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portplan._errors import TargetError
from portplan.targets.acl_terms import FilterFile

__all__ = ["Request", "run_aerleon", "strip_tags"]

#: Aerleon log records that are expected in every run (anything else is an error).
_HARMLESS_LOG = (
    re.compile(r"^INFO absl 0 plugins active\.$"),
    re.compile(r"^INFO absl \d+ generators registered\.$"),
)
#: Repository tags Aerleon writes for Perforce/RCS ($Id:$, $Date:$, $Revision:$).
_REPOSITORY_TAG = re.compile(r"\$(?:Id|Date|Revision):[^$\n]*\$")


@dataclass(frozen=True, slots=True)
class Request:
    platform: str
    policies: list[dict[str, Any]]
    definitions: dict[str, Any]
    files: dict[str, FilterFile]  #: Aerleon's output file name → the file it stands for


def strip_tags(text: str) -> str:
    """Aerleon's text without its repository tags (and the Junos ``**`` line they leave)."""
    lines: list[str] = []
    for line in text.splitlines():
        if _REPOSITORY_TAG.search(line):
            continue
        if line.strip() == "**" and lines and lines[-1].strip() == "/*":
            continue
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def run_aerleon(request: Request, timeout: float, generator: str) -> dict[str, str]:
    """Aerleon's files for ``request``, rendered in a separate process."""
    payload = json.dumps(
        {
            "platform": request.platform,
            "policies": request.policies,
            "definitions": request.definitions,
        }
    ).encode()
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONHASHSEED"] = "0"  # Aerleon iterates over sets in places: same order every run
    env.pop("PYTHONWARNINGS", None)
    try:
        proc = subprocess.run(
            # -P, and / as the working folder: nothing is imported from the folder portplan
            # runs in (a shared repository, /tmp), where others may have put a module
            [sys.executable, "-P", "-m", "portplan.targets._aerleon_worker"],
            input=payload,
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd="/",
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TargetError(
            f"Aerleon took longer than {timeout:g} s and was stopped "
            "(--set timeout=SECONDS allows more)"
        ) from exc
    except OSError as exc:
        raise TargetError(f"cannot start the Aerleon worker: {exc}") from exc
    stderr = proc.stderr.decode(errors="replace").strip()
    try:
        answer = json.loads(proc.stdout)
    except ValueError as exc:
        raise TargetError(
            f"the Aerleon worker failed (exit status {proc.returncode}): {stderr[-2000:]}"
        ) from exc
    if proc.returncode != 0 or "error" in answer:
        raise TargetError(f"Aerleon refused the policy: {answer.get('error', stderr[-2000:])}")
    problems = [
        f"Aerleon logged {' '.join(record)}"
        for record in answer.get("log", [])
        if not any(p.match(" ".join(record)) for p in _HARMLESS_LOG)
    ]
    problems += [f"Aerleon warned: {w}" for w in answer.get("warnings", [])]
    if stderr:
        problems.append(f"Aerleon wrote to standard error: {stderr[-2000:]}")
    if answer.get("plugins") != 0:
        problems.append(
            f"{answer.get('plugins')} Aerleon plug-ins are installed; portplan "
            "renders only with Aerleon's built-in generators"
        )
    if answer.get("generator") != generator:
        problems.append(
            f"Aerleon rendered {request.platform} with {answer.get('generator')}, not {generator}"
        )
    if problems:
        raise TargetError("Aerleon's output is not trusted: " + "; ".join(problems))
    files = answer.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise TargetError("the Aerleon worker answered without files")
    return files
