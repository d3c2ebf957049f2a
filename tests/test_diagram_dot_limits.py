"""Graphviz's dot refuses a quoted string of 16383 bytes or more (2.43: "syntax error ...
scanning a quoted string (missing endquote? longer than 16384?)"): a box standing for
thousands of clients, whose tooltip names each one, made `diagram` and `report` of a valid
deployment fail (exit 3).  Such a string is cut short, saying how much is left out."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import examples
from portplan.cli import cli

CLIENTS = 3000


def many_clients(folder: Path) -> Path:
    """Smart ID with 3000 RADIUS client hosts (RFC 3849 addresses; nothing is probed)."""
    data = yaml.safe_load((examples.EXAMPLES / "smart-id-nexus.yaml").read_text())
    for index in range(CLIENTS):
        data["hosts"][f"client{index}"] = {"addresses": [f"2001:db8:c1::{index + 1:x}"]}
    binding = data["products"]["smart-id-21.04"]["components"]
    binding["radius_client"] = [f"client{index}" for index in range(CLIENTS)]
    path = folder / "many.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_no_quoted_string_of_the_dot_text_is_longer_than_dot_reads(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["diagram", str(many_clients(tmp_path)), "--format", "dot"])
    assert done.exit_code == 0, done.stderr
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', done.stdout)
    assert max(len(s.encode()) + 2 for s in strings) <= 16_000
    (tooltip,) = [s for s in strings if s.startswith("RADIUS clients (client of")]
    # the start as it was, then how much is left out
    assert tooltip.startswith("RADIUS clients (client of Smart ID 21.04); on client0, client1, ")
    assert re.search(r" … \(\d+ characters more\)$", tooltip), tooltip[-80:]


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("command", ["diagram", "report"])
def test_a_box_of_thousands_of_clients_is_laid_out(tmp_path: Path, command: str) -> None:
    out = tmp_path / "out"
    done = CliRunner().invoke(cli, [command, str(many_clients(tmp_path)), "-o", str(out)])
    assert done.exit_code == 0, done.stderr
    assert "characters more)" in out.read_text()
