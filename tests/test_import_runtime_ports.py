"""A port the vendor says is picked when the connection is made (IBM QRadar / Juniper JSA's
``111 and random generated port``) is the dynamic ports, reported for a dynamic range; never a
parameter the deployment must set, which it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer import format_ports
from portplan.importer._portread import read_ports


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ("111 and random generated port", "111, dynamic"),
        ("random port", "dynamic"),
        ("randomly assigned ports", "dynamic"),
        ("TCP 135, randomly allocated port", "135/tcp, dynamic/tcp"),
    ],
)
def test_a_port_picked_at_random_reads_as_the_dynamic_ports(cell: str, read: str) -> None:
    expression = read_ports(cell)
    assert not expression.faults
    assert format_ports(expression) == read
    assert not any(t.parameter for a in expression.alternatives for t in a.terms)


@pytest.mark.parametrize("cell", ["randomizer", "randomizer port"])
def test_names_that_only_hold_such_a_word_are_left_as_they_were(cell: str) -> None:
    (term,) = read_ports(cell).alternatives[0].terms
    assert term.parameter is not None and not term.dynamic


def test_the_row_drafts_its_fixed_port_and_reports_the_random_one(tmp_path: Path) -> None:
    document = tmp_path / "ports.md"
    document.write_text(
        "| Port | Description | Protocol | Direction |\n|---|---|---|---|\n"
        "| 111 and random generated port | Port mapper | TCP/UDP | Inbound |\n"
    )
    draft = tmp_path / "draft.yaml"
    result = CliRunner().invoke(cli, ["import", str(document), "-o", str(draft)])
    assert result.exit_code == 1, result.output
    product = yaml.safe_load(draft.read_text())
    assert "parameters" not in product
    assert sorted((f["protocol"], f["ports"]) for f in product["flows"]) == [
        ("tcp", [111]),
        ("udp", [111]),
    ]
    assert (
        "'111 and random generated port' names dynamic ports: give the product a dynamic range"
        in result.stderr
    )
