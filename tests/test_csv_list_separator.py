"""Every CSV portplan writes, opened where ``;`` is the list separator.

Excel opens a ``.csv`` with the list separator of the user's regional settings: ``;`` in
German, French and many other locales.  Such a spreadsheet splits our comma-separated lines at
every ``;``, and a ``"`` opens a quoted field only at the start of one of *its* cells, so a
``;`` or a line break inside a field our commas quote starts a cell of its own, and the text
after it can be a formula (OWASP, "CSV injection").  The spreadsheet is modelled by the csv
module with ``delimiter=";"``, which reads quotes the same way; a cell is dangerous when
:func:`~portplan.report.text.formula_like` says a spreadsheet would run it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

import examples
from portplan.cli import cli
from portplan.report.text import csv_text, formula_like

#: a vendor's text that a ``;`` or a line break turns into a formula cell of its own, and the
#: cell that shows it where the line is split at ``,``: a ``'`` before each formula start, and
#: after a last ``;`` of a quoted field (where the closing quote would open a cell running on
#: to the next line)
HOSTILE = {
    'see manual;=HYPERLINK("http://evil","x")': 'see manual;\'=HYPERLINK("http://evil","x")',
    "see manual;=1+1;": "see manual;'=1+1;",
    'see manual;"=1+1";': "see manual;'\"=1+1\";'",
    "see manual;-2+3+cmd|' /C calc'!A0;": "see manual;'-2+3+cmd|' /C calc'!A0;",
    "see manual; ok;@SUM(1)": "see manual; ok;'@SUM(1)",
    "first line\n=1+1;": "first line\n'=1+1;'",
    "first line\r\n+1+1;": "first line\r\n'+1+1;'",
    "first line\r-1;": "first line\r'-1;'",
}


def cells(text: str, delimiter: str) -> list[str]:
    """Every cell a spreadsheet splitting at ``delimiter`` makes of ``text``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [cell for row in reader for cell in row]


def assert_no_formula(text: str) -> None:
    for delimiter in (",", ";"):
        formulas = [cell for cell in cells(text, delimiter) if formula_like(cell)]
        assert formulas == [], f"split at {delimiter!r}"


def _invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.stdout_bytes.decode()  # as written: CRLF line ends kept


@pytest.mark.parametrize("text", HOSTILE)
def test_no_cell_of_a_change_request_split_at_semicolons_is_a_formula(
    tmp_path: Path, text: str
) -> None:
    deployment = examples.hostile_deployment(tmp_path, purpose=text, title=text)
    out = _invoke("matrix", str(deployment), "--format", "csv")
    assert cells(out, ";") != cells(out, ",")  # the text splits: the case is a real one
    assert_no_formula(out)
    (row,) = csv.DictReader(io.StringIO(out, newline=""))
    assert row["purpose"] == HOSTILE[text]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_cell_of_a_shown_product_split_at_semicolons_is_a_formula(
    tmp_path: Path, text: str
) -> None:
    # the first column is "-" (no firewall interface): with the rest of its line it makes one
    # cell, "-,Web,DB,...", once the line is split at ";" and not at ","
    examples.hostile_deployment(tmp_path, component=text, purpose=text)
    product = tmp_path / "deployment-product.yaml"
    assert_no_formula(_invoke("show", str(product), "--format", "csv"))


@pytest.mark.parametrize("text", HOSTILE)
def test_no_cell_of_a_diff_delta_split_at_semicolons_is_a_formula(
    tmp_path: Path, text: str
) -> None:
    old = examples.hostile_deployment(tmp_path, title=text, name="old")
    new = examples.hostile_deployment(tmp_path, title=text, ports=5433, name="new")
    assert_no_formula(_invoke("diff", str(old), str(new), "--format", "csv", code=1))


_CELL = st.text(alphabet=";,\"\r\n=+-@\t'a1 ", max_size=12) | st.integers() | st.none()


@given(st.lists(st.lists(_CELL, min_size=1, max_size=4), max_size=4))
@example([["-", "1+1"]])
@example([["a,b;", ""], ["=1", "x"]])
def test_no_csv_cell_is_a_formula_split_at_commas_or_semicolons(
    rows: list[list[object]],
) -> None:
    assert_no_formula(csv_text(["a", "b;=c"], rows))
