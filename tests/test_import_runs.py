"""Runs of a cell's text that are not plain text: a subscript, like a superscript, is a mark
set apart from the number before it."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from portplan.importer import Field, import_document


def _ports(path: Path) -> list[tuple[str, list[str]]]:
    reading = import_document(path)
    values = [row.of(Field.PORT)[0] for row in reading.tables[0].rows]
    return [(v.text, [str(t.ports) for t in v.ports.terms] if v.ports else []) for v in values]


def test_a_subscript_in_html_stays_apart_from_the_port(tmp_path: Path) -> None:
    """``443<sub>1</sub>`` read as port 4431, exit 0: only a superscript was set apart.  A
    subscript is now written after a ``^`` too, and reported."""
    page = tmp_path / "ports.html"
    page.write_text(
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        "<tr><td>443<sub>1</sub></td><td>TCP</td></tr>"
        '<tr><td>22<sub><a href="#fn1">a</a></sub></td><td>TCP</td></tr></table>'
    )
    assert _ports(page) == [("443^1", ["443"]), ("22^a", ["22"])]
    assert [u.message for u in import_document(page).unread] == [
        "column 'Port': could not read '^1'",
        "column 'Port': could not read '^a'",
    ]


def test_a_subscript_run_in_an_xlsx_cell_stays_apart_from_the_port(tmp_path: Path) -> None:
    """A cell holding ``443`` and a subscript ``1`` read as port 4431, exit 0."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Port", "Protocol"])
    sheet.append([CellRichText("443", TextBlock(InlineFont(vertAlign="subscript"), "1")), "TCP"])
    book.save(tmp_path / "ports.xlsx")
    assert _ports(tmp_path / "ports.xlsx") == [("443^1", ["443"])]
    assert [u.message for u in import_document(tmp_path / "ports.xlsx").unread] == [
        "column 'Port': could not read '^1'"
    ]
