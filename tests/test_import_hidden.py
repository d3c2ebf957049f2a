"""What the vendor hid is not drafted: a hidden row, column or sheet of a workbook, and an HTML
table, row or cell hidden with ``hidden`` or ``display: none``, is left out of the tables and
reported at its place (vendors hide the rows of ports they no longer use)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from openpyxl import Workbook

from portplan.cli import cli
from portplan.importer import import_document
from portplan.load.product import load_product


def _drafted_ports(doc: Path) -> tuple[int, str, list[list[str]]]:
    """``portplan import`` of ``doc``: the exit status, standard error and each flow's ports."""
    out = doc.with_name(f"{doc.name}.yaml")
    result = CliRunner().invoke(cli, ["import", str(doc), "-o", str(out)])
    product = load_product(out)
    return result.exit_code, result.stderr, [[str(p) for p in f.ports or ()] for f in product.flows]


def test_hidden_rows_columns_and_sheets_of_a_workbook_are_not_drafted(tmp_path: Path) -> None:
    """A hidden row (``8080``, an obsolete agent), the cells of a hidden column and a hidden
    sheet were read and drafted like visible ones, exit 0 for the row.  Each is now left out
    and reported once, at its first written cell, saying how to have it read."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Ports"
    sheet.append(["Port", "Protocol", "Description", "Old port"])
    sheet.append([22, "TCP", "SSH", None])
    sheet.append([8080, "TCP", "old agent", None])
    sheet.append([443, "TCP", "HTTPS", 8443])
    sheet.append([3389, "TCP", "merged", None])
    sheet.append([3390, "TCP", None, None])
    sheet.merge_cells("C5:C6")  # its slot in the visible row 6 stays empty with it
    sheet.append([161, "UDP", "SNMP", None])
    sheet.row_dimensions[3].hidden = True
    sheet.row_dimensions[5].hidden = True
    sheet.column_dimensions.group("D", "D", hidden=True)
    legacy = book.create_sheet("Legacy")
    legacy.append(["Port", "Protocol"])
    legacy.append([21, "TCP"])
    legacy.sheet_state = "hidden"
    doc = tmp_path / "ports.xlsx"
    book.save(doc)
    reading = import_document(doc)
    assert [[c.text for c in row.row.cells] for t in reading.tables for row in t.rows] == [
        ["22", "TCP", "SSH"],
        ["443", "TCP", "HTTPS"],
        ["3390", "TCP", ""],
        ["161", "UDP", "SNMP"],
    ]
    assert [str(u) for u in reading.unread] == [
        f"{doc}:Ports!A3: row 3 is hidden: not read; unhide the row (or clear the filter that "
        "hides it) to import it: '8080 | TCP | old agent'",
        f"{doc}:Ports!A5: row 5 is hidden: not read; unhide the row (or clear the filter that "
        "hides it) to import it: '3389 | TCP | merged'",
        f"{doc}:Ports!D1: column D is hidden: none of its 2 written cells is read; unhide the "
        "column to import them: 'Old port | 8443'",
        f"{doc}:Legacy!A1: sheet 'Legacy' is hidden: none of its 4 written cells is read; "
        "unhide the sheet to import it",
    ]
    code, stderr, ports = _drafted_ports(doc)
    assert code == 1
    assert f"{doc}:Ports!A3: row 3 is hidden" in stderr
    assert ports == [["22"], ["443"], ["3390"], ["161"]]


def test_a_workbook_whose_every_row_is_hidden_is_refused_naming_them(tmp_path: Path) -> None:
    """With every data row hidden there is nothing to draft: refused (exit 2) saying so."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Port", "Protocol"])
    sheet.append([8080, "TCP"])
    sheet.row_dimensions[2].hidden = True
    doc = tmp_path / "ports.xlsx"
    book.save(doc)
    result = CliRunner().invoke(cli, ["import", str(doc)])
    assert result.exit_code == 2
    assert "holds no visible table row (xlsx): 1 hidden part not read" in result.stderr
    assert "row 2 is hidden" in result.stderr
    assert "Traceback" not in result.stderr


def test_hidden_html_tables_rows_and_cells_are_not_drafted(tmp_path: Path) -> None:
    """Rows hidden with ``display: none`` or ``hidden`` (one through its ``<tbody>``), a cell
    hidden with ``visibility: hidden``, hidden text in a cell and a hidden table were read
    and drafted like what the page shows, exit 0.  They are now left out (a hidden cell keeps
    its place, empty; a cell written in a hidden row spans into the next one empty) and each
    is reported at its place, saying what hides it and what to remove to have it read."""
    doc = tmp_path / "ports.html"
    doc.write_text(
        "<table><tr><th>Port</th><th>Protocol</th><th>Description</th></tr>\n"
        "<tr><td>22</td><td>TCP</td><td>SSH</td></tr>\n"
        '<tr style="color: red; display:none"><td>8080</td><td>TCP</td><td>old</td></tr>\n'
        "<tr hidden><td>21</td><td>TCP</td><td>FTP</td></tr>\n"
        '<tr><td>443<span style="display: none">, 8443</span></td><td>TCP</td><td>TLS</td></tr>\n'
        '<tr><td style="visibility:hidden">9090</td><td>TCP</td><td>metrics</td></tr>\n'
        '<tr style="display: none"><td rowspan="2">3389</td><td>TCP</td><td>RDP</td></tr>\n'
        "<tr><td>TCP</td><td>RDP too</td></tr>\n"
        '<tbody style="display: none !important"><tr><td>23</td><td>TCP</td><td>telnet</td>'
        "</tr></tbody>\n"
        "<tbody><tr><td>161</td><td>UDP</td><td>SNMP</td></tr></tbody></table>\n"
        "<table hidden><caption>Legacy</caption><tr><th>Port</th></tr><tr><td>25</td></tr>"
        "</table>\n"
    )
    reading = import_document(doc)
    assert [[c.text for c in row.row.cells] for t in reading.tables for row in t.rows] == [
        ["22", "TCP", "SSH"],
        ["443", "TCP", "TLS"],
        ["", "TCP", "metrics"],
        ["", "TCP", "RDP too"],
        ["161", "UDP", "SNMP"],
    ]
    hidden = [str(u) for u in reading.unread if "hidden" in u.message]
    assert hidden == [
        f"{doc}:3:38: a table row hidden by 'display: none': not read; remove the 'display: "
        "none' to import it: '8080 | TCP | old'",
        f"{doc}:4:12: a table row hidden by the hidden attribute: not read; remove the hidden "
        "attribute to import it: '21 | TCP | FTP'",
        f"{doc}:5:5: text in a table cell hidden by 'display: none' on a <span>: not read; "
        "remove the 'display: none' on a <span> to import it: ', 8443'",
        f"{doc}:6:5: a table cell hidden by 'visibility: hidden': not read; remove the "
        "'visibility: hidden' to import it: '9090'",
        f"{doc}:7:27: a table row hidden by 'display: none': not read; remove the 'display: "
        "none' to import it: '3389 | TCP | RDP'",
        f"{doc}:9:45: a table row hidden by 'display: none': not read; remove the 'display: "
        "none' to import it: '23 | TCP | telnet'",
        f"{doc}:11:44: a table hidden by the hidden attribute: not read; remove the hidden "
        "attribute to import it: 'Port | 25'",
    ]
    code, stderr, ports = _drafted_ports(doc)
    assert code == 1
    assert f"{doc}:3:38: a table row hidden by 'display: none'" in stderr
    assert ports == [["22"], ["443"], ["161"]]


def test_hidden_html_text_ends_where_html_ends_the_element_that_hides_it(tmp_path: Path) -> None:
    """A hidden ``<p>`` or ``<li>`` left unclosed ends where the next ``<p>`` or ``<li>``
    starts, as a browser shows the page, and a hidden ``<span>`` where the ``<b>`` it is in
    ends; the visible ports after them (443, 990, 8443) were taken as hidden too, not drafted,
    and reported run into the hidden text (``'8080443'``)."""
    doc = tmp_path / "ports.html"
    doc.write_text(
        "<table><tr><th>Port</th><th>Protocol</th><th>Description</th></tr>\n"
        '<tr><td><p style="display:none">8080<p>443</td><td>TCP</td><td>web</td></tr>\n'
        "<tr><td><ul><li hidden>21<li>990</ul></td><td>TCP</td><td>FTPS</td></tr>\n"
        "<tr><td><b><span hidden>9999</b> 8443</td><td>TCP</td><td>admin</td></tr>\n"
        "<tr><td><span hidden><span>5</span>6</span>7</td><td>TCP</td><td>nested</td></tr>\n"
        "</table>\n"
    )
    reading = import_document(doc)
    assert [[c.text for c in row.row.cells] for t in reading.tables for row in t.rows] == [
        ["443", "TCP", "web"],
        ["990", "TCP", "FTPS"],
        ["8443", "TCP", "admin"],
        ["7", "TCP", "nested"],
    ]
    hidden = [str(u).split(": ", 1)[1] for u in reading.unread if "hidden" in u.message]
    assert [h.rsplit(": ", 1)[1] for h in hidden] == ["'8080'", "'21'", "'9999'", "'56'"]
    code, _stderr, ports = _drafted_ports(doc)
    assert code == 1
    assert ports == [["443"], ["990"], ["8443"], ["7"]]


def test_an_inline_style_hides_by_the_declaration_that_wins(tmp_path: Path) -> None:
    """``style="display:none; display:table-row"`` shows the row (the last declaration wins),
    as does ``visibility: hidden`` followed by ``visibility: visible``; it was read as hidden
    (the first ``display: none`` found) and its port not drafted.  An ``!important`` one wins
    over a later plain one, and still hides."""
    doc = tmp_path / "ports.html"
    doc.write_text(
        "<table><tr><th>Port</th><th>Protocol</th></tr>\n"
        '<tr style="display:none; display:table-row"><td>22</td><td>TCP</td></tr>\n'
        '<tr style="visibility: hidden;visibility: VISIBLE"><td>443</td><td>TCP</td></tr>\n'
        '<tr style="display: none !important; display: table-row"><td>8080</td><td>TCP</td></tr>\n'
        '<tr style="display: block; display : NONE"><td>21</td><td>TCP</td></tr>\n'
        "</table>\n"
    )
    reading = import_document(doc)
    assert [[c.text for c in row.row.cells] for t in reading.tables for row in t.rows] == [
        ["22", "TCP"],
        ["443", "TCP"],
    ]
    hidden = [u.message.split(": not read")[0] for u in reading.unread if "hidden" in u.message]
    assert hidden == [
        "a table row hidden by 'display: none'",
        "a table row hidden by 'display: none'",
    ]
    code, _stderr, ports = _drafted_ports(doc)
    assert code == 1
    assert ports == [["22"], ["443"]]
