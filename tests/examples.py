"""The example deployments (examples/) and the golden files (tests/golden/) tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from portplan import load_plan
from portplan.plan import Plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def example_plan(name: str) -> Plan:
    """The plan of ``examples/NAME.yaml``."""
    return load_plan(EXAMPLES / f"{name}.yaml")


def example_data(name: str) -> dict[str, Any]:
    """``examples/NAME.yaml`` as YAML data, a fresh copy to edit."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return data


def plan_from_data(data: dict[str, Any], directory: Path, name: str = "deployment") -> Plan:
    """The plan of a deployment given as YAML data, written to ``directory/NAME.yaml`` first."""
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_plan(path)
