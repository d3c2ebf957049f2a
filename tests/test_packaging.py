"""Packaging: portplan installs from its source into an environment that already holds the
operators' tools (ansible-core, aerleon) without changing any of their versions, and the
distribution carries what it must (licence, catalog, schemas)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def freeze(venv: Path) -> dict[str, str]:
    lines = run(venv / "bin" / "pip", "freeze", "--disable-pip-version-check").splitlines()
    return {
        name.lower().replace("_", "-"): version
        for name, _, version in (line.partition("==") for line in lines)
        if version
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what a source distribution holds, so building never writes into the checkout."""
    copy = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_installs_beside_ansible_and_aerleon_without_downgrades(
    tmp_path: Path, source: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    pip = venv / "bin" / "pip"
    quiet = ("-q", "--disable-pip-version-check")
    run(pip, "install", *quiet, "-c", ROOT / "constraints.txt", "ansible-core", "aerleon")
    before = freeze(venv)
    assert {"ansible-core", "aerleon"} <= set(before)
    run(pip, "install", *quiet, source)  # what a user types: no constraints file
    after = freeze(venv)
    changed = {name: (v, after.get(name)) for name, v in before.items() if after.get(name) != v}
    assert changed == {}, f"installing portplan changed: {changed}"
    assert "Version: " in run(pip, "show", "portplan")
    assert run(venv / "bin" / "portplan", "--version").startswith("portplan, version ")
    # the installed copy finds its catalog and its output schemas
    assert "smart-id-21.04" in run(venv / "bin" / "portplan", "catalog")
    assert '"kind"' in run(venv / "bin" / "portplan", "schema", "verify")


def test_the_wheel_carries_the_licence_and_its_data(tmp_path: Path, source: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path, source)
    (wheel,) = tmp_path.glob("portplan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "portplan/load/catalog/shopping-6.1.yaml" in names
    assert "portplan/report/schemas/verify.json" in names
    assert "portplan/py.typed" in names
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: click<9,>=8.2" in metadata
