"""Runs of a cell's text that are not plain text: a subscript, like a superscript, is a mark
set apart from the number before it; struck-through text is written between ``~~``, as
Markdown writes it, which no port or protocol reading takes for a port or transport."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.styles import Font

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


def test_struck_through_text_in_html_is_no_port(tmp_path: Path) -> None:
    """``<del>8080</del> 8443`` (a port the vendor struck out) read as ports 8080 and 8443,
    and ``<s>22</s>`` as port 22, exit 0: the draft opened what the vendor withdrew.  Struck
    text is now written ``~~8080~~`` and reported; so is a struck transport."""
    page = tmp_path / "ports.html"
    page.write_text(
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        "<tr><td><del>8080</del> 8443</td><td>TCP</td></tr>"
        "<tr><td>8443 <s>8080</s></td><td>TCP</td></tr>"
        "<tr><td><strike>22</strike></td><td>TCP</td></tr>"
        "<tr><td>53</td><td>TCP <del>UDP</del></td></tr>"
        "<tr><td>44<del>3</del></td><td>TCP</td></tr>"
        "<tr><td>443<del>, 8443</del></td><td>TCP</td></tr></table>"
    )
    reading = import_document(page)
    ports = _ports(page)
    assert ports[:3] + ports[4:] == [
        ("~~8080~~ 8443", ["8443"]),
        ("8443 ~~8080~~", ["8443"]),
        ("~~22~~", []),
        ("44~~3~~", []),  # never port 44: a number run into struck text is struck with it
        ("443~~, 8443~~", []),
    ]
    protocols = reading.tables[0].rows[3].of(Field.PROTOCOL)[0]
    assert protocols.text == "TCP ~~UDP~~"
    assert [u.message for u in reading.unread] == [
        "column 'Port': could not read '~~8080~~': struck-through text",
        "column 'Port': could not read '~~8080~~': struck-through text",
        "column 'Port': could not read '~~22~~': struck-through text",
        "column 'Protocol': could not read '~~UDP~~': struck-through text",
        "column 'Port': could not read '44~~3~~': struck-through text",
        "column 'Port': could not read '443~~, 8443~~': struck-through text",
    ]


def test_struck_through_text_in_an_xlsx_cell_is_no_port(tmp_path: Path) -> None:
    """A struck-through run (``8080`` struck, `` 8443`` not) and a struck-through cell read as
    live ports, exit 0."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Port", "Protocol"])
    sheet.append([CellRichText(TextBlock(InlineFont(strike=True), "8080"), " 8443"), "TCP"])
    sheet.append([22, "TCP"])
    sheet["A3"].font = Font(strike=True)
    sheet.append([443, "TCP"])
    book.save(tmp_path / "ports.xlsx")
    assert _ports(tmp_path / "ports.xlsx") == [
        ("~~8080~~ 8443", ["8443"]),
        ("~~22~~", []),
        ("443", ["443"]),
    ]
    assert [u.message for u in import_document(tmp_path / "ports.xlsx").unread] == [
        "column 'Port': could not read '~~8080~~': struck-through text",
        "column 'Port': could not read '~~22~~': struck-through text",
    ]


def test_a_struck_through_transport_in_markdown_is_reported(tmp_path: Path) -> None:
    """``~~UDP~~ TCP`` in a protocol cell read as TCP and UDP (``~ ~`` taken for an
    application's name), exit 0."""
    page = tmp_path / "ports.md"
    page.write_text("| Port | Protocol |\n|---|---|\n| 514 | ~~UDP~~ TCP |\n")
    reading = import_document(page)
    (protocols,) = reading.tables[0].rows[0].of(Field.PROTOCOL)
    assert protocols.protocols is not None
    assert [t.value for t in protocols.protocols.transports] == ["tcp"]
    assert protocols.protocols.applications == ()
    assert [u.message for u in reading.unread] == [
        "column 'Protocol': could not read '~~UDP~~': struck-through text"
    ]


def test_a_bold_transport_in_markdown_is_read(tmp_path: Path) -> None:
    """Microsoft 365's endpoint tables write ``**TCP:** 443, 80<BR>**UDP:** 443``: the bold
    markers were kept, ``**TCP:** 443`` was reported unread, 80 had no transport, and the
    draft had no flows.  The cell now reads as it shows; a footnote mark ``*`` after a port
    is no emphasis and is still reported."""
    page = tmp_path / "ports.md"
    page.write_text(
        "| Addresses | Ports |\n|---|---|\n"
        "| `*.example.com` | **TCP:** 443, 80<BR>**UDP:** 443 |\n"
        "| `mail.example.com` | __TCP:__ 25 |\n"
        "| `x.example.com` | **TCP:** 8443* |\n"
    )
    reading = import_document(page)
    values = [row.of(Field.PORT)[0] for row in reading.tables[0].rows]
    assert [
        (v.text, [f"{t.ports}/{'+'.join(t.protocols)}" for t in v.ports.terms] if v.ports else [])
        for v in values
    ] == [
        ("TCP: 443, 80\nUDP: 443", ["443/tcp", "80/tcp", "443/udp"]),
        ("TCP: 25", ["25/tcp"]),
        ("TCP: 8443*", ["8443/tcp"]),
    ]
    assert [u.message for u in reading.unread if "Ports" in u.message] == [
        "column 'Ports': could not read '*'"
    ]
