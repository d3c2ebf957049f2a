"""The documentation's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), flags=re.MULTILINE | re.DOTALL)


def run_python(code: str) -> str:
    """The output of ``code`` run from the repository root; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_api_example_runs_as_written() -> None:
    blocks = python_blocks(ROOT / "docs" / "api.md")
    assert len(blocks) >= 4
    out = run_python("\n".join(blocks))
    assert "rows; the first: smart-id-21.04/im-operator/ingress internet -> traefik01" in out
    assert "refused: nftables has no setting 'layuot'; did you mean 'layout'?" in out
    assert "examples/no-such-deployment.yaml no such file" in out
    assert "demo-1.0/web 127.0.0.3" in out and " open True" in out


def test_the_import_example_runs_as_written() -> None:
    (block,) = python_blocks(ROOT / "docs" / "import.md")
    out = run_python(block)
    assert "Workers ('From', 'To', 'Protocol', 'Port', 'Notes')" in out
    assert "5 ('Worker',) -> ('Veeam backup repository or gateway server',)" in out
    assert "6162/tcp or 2500-3300/tcp" in out
