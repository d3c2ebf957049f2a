"""The report's flow matrix says of each row what `matrix --format csv` says of it: the flow,
its ends (host, components, addresses, zone), protocol, ports, service, condition, purpose,
and the vendor row it comes from, so that an auditor reading the page can trace every row to
the vendor's document as the change request does."""

from __future__ import annotations

import csv
import io
import shutil
from html import parser as html_parser

import pytest
from click.testing import CliRunner

import examples
from portplan.cli import cli

pytestmark = [
    pytest.mark.graphviz,
    pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot"),
]


class _MatrixRows(html_parser.HTMLParser):
    """The cells of the rows of the table ``#matrix``, each cell as its lines: the cell's own
    text, then the text of each ``span.sub`` in it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[list[str]]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id")
        elif self._table == "matrix" and tag == "tr" and "data-row" in found:
            self.rows.append([])
        elif self._table == "matrix" and tag == "td" and self.rows:
            self._cell = [""]
            self.rows[-1].append(self._cell)
        elif self._cell is not None and tag == "span" and found.get("class") == "sub":
            self._cell.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[-1] += data


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["shopping-contoso", "smart-id-nexus", "search-cluster"])
def test_each_row_of_the_report_says_what_the_csv_says_with_its_vendor_row(name: str) -> None:
    deployment = str(examples.EXAMPLES / f"{name}.yaml")
    expected = list(csv.DictReader(io.StringIO(_run("matrix", deployment, "--format", "csv"))))
    page = _MatrixRows()
    page.feed(_run("report", deployment))
    assert len(page.rows) == len(expected)
    for cells, row in zip(page.rows, expected, strict=True):

        def end(side: str, row: dict[str, str] = row) -> list[str]:
            zone = row[f"{side}_zone"]
            lines = [row[side], row[f"{side}_component"], row[f"{side}_address"]]
            return [line for line in [*lines, f"zone {zone}" if zone else ""] if line]

        listen = [f"listens on {row['listen_ports']}"] if row["listen_ports"] else []
        assert cells[:8] == [
            [row["flow"], row["reference"]],
            end("source"),
            end("destination"),
            [row["protocol"]],
            [row["ports"], *listen],
            [row["service"]],
            [row["condition"]],
            [row["purpose"]],
        ], row["flow"]
