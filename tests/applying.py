"""`portplan apply --on da01` of the Smart ID example inside a test's network namespace, for
the apply tests that need nothing but its exit status and output: no SSH session is named,
no --force comes from the environment, and no confirmation is typed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import examples

SMART_ID = examples.EXAMPLES / "smart-id-nexus.yaml"


def apply_da01(
    ns: str, *args: str, deployment: Path = SMART_ID
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "PORTPLAN_APPLY_FORCE")
    }
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "portplan", "apply", str(deployment),
         "--on", "da01", *args],
        capture_output=True, text=True, timeout=120, env=environment,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
