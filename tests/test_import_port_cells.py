"""Port cells whose words change which ports the draft may open: a condition on the only
alternative (``443 if SSL is enabled``) is never drafted as a port that is always open."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from portplan.cli import cli


def _import(tmp_path: Path, table: str) -> tuple[int, list[dict], list[str]]:
    page = tmp_path / "ports.csv"
    page.write_text(table)
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    flows = yaml.safe_load(out.read_text())["flows"]
    lines = [line for line in result.stderr.splitlines() if not line.startswith("portplan:")]
    return result.exit_code, flows, lines


def test_a_port_that_applies_only_under_a_condition_is_reported_not_drafted(
    tmp_path: Path,
) -> None:
    """``443 if SSL is enabled`` drafted port 443 open always, without the condition or a
    note, and the import said every cell was read (exit 0)."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,443 if SSL is enabled,TCP\n"
        "A,B,80,TCP\n"
        'A,B,"8080, or 8443 if 8080 is in use",TCP\n',
    )
    assert code == 1
    assert [f["row"] for f in flows] == [2, 3]  # alternatives still make a parameter
    assert lines == [
        f"{tmp_path / 'ports.csv'}:2:5: '443 if SSL is enabled' applies only if SSL is "
        "enabled: a condition in a port cell is not drafted; give the row a Condition column, "
        "or model it by hand"
    ]
