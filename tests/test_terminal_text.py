"""What portplan prints to a terminal shows a name's control characters, never sends them:
an escape sequence in a product name colours nothing, a line break in a deployment name
starts no line, and rich's markup in a name is text."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import examples
from portplan.cli import cli

NAME = "Ctl\x01\x0b\x1b[31mRED\u202e [/x] [bold]b[/bold] :warning:"
SHOWN = "Ctl\u2401\u240b\u241b[31mRED\ufffd [/x] [bold]b[/bold] :warning:"


def test_a_diff_table_shows_a_names_control_characters(tmp_path: Path) -> None:
    old = examples.hostile_deployment(tmp_path, product=NAME, name="old")
    new = examples.hostile_deployment(tmp_path, product=NAME, version="1.1", ports=5433, name="new")
    result = CliRunner().invoke(cli, ["diff", str(old), str(new)], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.stderr
    assert not {c for c in result.stdout if ord(c) < 0x20 and c != "\n"}
    assert f"vendor row changed: {SHOWN} 1.0 -> 1.1" in result.stdout


def test_validate_prints_a_deployment_name_on_its_line(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(
        tmp_path, deployment="md\n\n## Approved by the security team\x1b[2J"
    )
    result = CliRunner().invoke(cli, ["validate", str(deployment)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"{deployment}: ok: deployment md\u240a\u240a## Approved by the security team"
        "\u241b[2J, 1 flow rows\n"
    )


def test_a_matrix_table_title_shows_rich_markup_as_text(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(tmp_path, deployment="d [/x] [red]r[/red]")
    result = CliRunner().invoke(cli, ["matrix", str(deployment)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "Flow matrix: d [/x] [red]r[/red]" in result.stdout
