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


#: a file name that would set the colour, clear the screen, go back to the line's start and
#: ring the bell, a C1 control (CSI) and DEL, among letters that must stay readable
EVIL = "é日本\x1b[31m\x1b[2J\r\x07\x9b\x7f"
EVIL_SHOWN = "é日本\\x1b[31m\\x1b[2J\\x0d\\x07\\x9b\\x7f"


def _controls(text: str) -> set[str]:
    """The control characters in ``text`` but line breaks (C0, DEL, C1)."""
    return {c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F}


def _run(args: list[str]) -> tuple[int, str]:
    """Exit status and standard error, colours not stripped (as on a terminal)."""
    result = CliRunner().invoke(cli, args, color=True)
    return result.exit_code, result.stderr


def test_a_missing_input_files_name_is_shown_escaped(tmp_path: Path) -> None:
    code, err = _run(["matrix", str(tmp_path / f"{EVIL}.yaml")])
    assert code == 2, err
    assert not _controls(err)
    assert f"{EVIL_SHOWN}.yaml: error: no such file" in err


def test_a_yaml_error_in_a_file_so_named_is_shown_escaped(tmp_path: Path) -> None:
    bad = tmp_path / f"{EVIL}\n.yaml"  # a line break in the name starts no line
    bad.write_text("a: [\n", encoding="utf-8")
    code, err = _run(["validate", str(bad)])
    assert code == 2, err
    assert not _controls(err)
    assert f"{EVIL_SHOWN}\\x0a.yaml:2:1: error: YAML syntax error" in err
    assert len(err.splitlines()) == 2, err  # the diagnostic and the summary


def test_an_unknown_host_names_the_deployment_file_escaped(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(tmp_path, name=EVIL)
    code, err = _run(["verify", str(deployment), "--on", "x\x1b[2J", "--flow", "web-db"])
    assert code == 2, err
    assert not _controls(err)
    assert f"no host 'x\\x1b[2J' in {tmp_path}/{EVIL_SHOWN}.yaml" in err


def test_an_unknown_flow_is_shown_escaped(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(tmp_path)
    code, err = _run(["verify", str(deployment), "--on", "web01", "--flow", "x\x1b[2J\x9b"])
    assert code == 2, err
    assert not _controls(err)
    assert "no flow 'x\\x1b[2J\\x9b' in the plan" in err


def test_an_output_refused_is_named_escaped(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(tmp_path)
    existing = tmp_path / f"{EVIL}\n.csv"
    existing.write_text("mine\n", encoding="utf-8")
    code, err = _run(["matrix", str(deployment), "-o", str(existing)])
    assert code == 2, err
    assert not _controls(err)
    assert err == (
        f"portplan: error: {tmp_path}/{EVIL_SHOWN}\\x0a.csv already exists; give --overwrite "
        "to replace what is there\n"
    )
    assert existing.read_text(encoding="utf-8") == "mine\n"
