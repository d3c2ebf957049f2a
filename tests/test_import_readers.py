"""Reading vendor tables from Markdown, HTML, CSV and XLSX: sections, titles, notes, spans and
merged cells expanded, every cell located; the readers give back the grid that was written;
files they cannot read are refused with a located message."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from portplan._errors import InputError
from portplan.importer import (
    Field,
    Format,
    SourceDocument,
    import_document,
    read_document,
    read_source,
)

MARKDOWN = """\
<!-- a comment | with | pipes -->
# Product ports

Intro of the whole document.

## Server

Ports the server listens on.

| Port | Protocol | Notes |
|---|:---:|---|
| 443 | TCP | web \\| api<br>second line |
| 8443 | TCP |
| 9 | UDP | extra | beyond |

A note after the table.

```
| Not | a | table |
|---|---|---|
```

Client
------

| From | To |
|---|---|
| a | b |
"""


def markdown(text: str = MARKDOWN) -> SourceDocument:
    return read_source(text.encode(), file="doc.md", format=Format.MARKDOWN)


def test_markdown_tables_keep_their_sections_titles_and_notes() -> None:
    server, client = markdown().tables
    assert server.section == ("Product ports", "Server")
    assert server.title == "Server"
    assert server.notes == ("Intro of the whole document.", "Ports the server listens on.")
    assert server.notes_after == ("A note after the table.",)
    assert server.columns == ("Port", "Protocol", "Notes")
    assert client.section == ("Product ports", "Client")  # a setext heading
    assert [c.text for c in client.rows[0].cells] == ["a", "b"]


def test_markdown_cells_escape_pipes_break_lines_pad_and_spill() -> None:
    server = markdown().tables[0]
    first, short, _spilling = server.rows
    assert first.cells[2].text == "web | api\nsecond line"
    assert str(first.cells[0].where) == "doc.md:12:3"
    assert [c.text for c in short.cells] == ["8443", "TCP", ""]  # padded, as GFM does
    (stray,) = server.stray
    assert (stray.text, stray.row, stray.column, str(stray.where)) == (
        "beyond",
        3,
        4,
        "doc.md:14:21",
    )


def test_markdown_text_is_read_as_it_shows_escapes_and_entities_undone() -> None:
    # CommonMark: a backslash before punctuation and an entity are the character; inside a
    # code span both stay as written (the span shows without its backticks), and an escaped
    # backtick opens no span
    doc = markdown(
        "# Ports of A \\& B &amp; C\n\nAll \\*listed\\* &lt;here>.\n\n"
        "| Port | Notes |\n|---|---|\n"
        "| 8443 | \\[optional\\] &amp; `C:\\a\\_b &amp;` \\`x\\` &#65;&#x42; &nosuch; |\n"
    )
    (table,) = doc.tables
    assert table.section == ("Ports of A & B & C",)
    assert table.notes == ("All *listed* <here>.",)
    assert table.rows[0].cells[1].text == "[optional] & C:\\a\\_b &amp; `x` AB &nosuch;"


def test_markdown_emphasis_shows_without_its_markers() -> None:
    """Microsoft writes a cell's transports in bold (``**TCP:** 443, 80<BR>**UDP:** 443``):
    the markers were kept, the cell was reported unread and the draft had no flows.  Emphasis
    now reads as it shows, by CommonMark's rules: a ``*`` or ``_`` that opens or closes
    nothing (a footnote mark, a mark after a number, a name's underscore) stays text, and a
    code span keeps its text verbatim, a ``<br>`` in it too."""
    doc = markdown(
        "# Ports of **A** and __B__\\*\\*\n\nSee *the note* (*) and _this_ one; snake_case_name "
        "**.\n\n"
        "| Port | Notes |\n|---|---|\n"
        "| **TCP:** 443, 80<BR>**UDP:** 443 | ***both*** |\n"
        "| 5* | disabled (8501)* |\n"
        "| * | (**) `a **b** <br> c` |\n"
        "| 8080 | *a<br>b* **x** _y_z __init__ |\n"
    )
    (table,) = doc.tables
    assert table.section == ("Ports of A and B**",)
    assert table.notes == ("See the note (*) and this one; snake_case_name **.",)
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["TCP: 443, 80\nUDP: 443", "both"],
        ["5*", "disabled (8501)*"],
        ["*", "(**) a **b** <br> c"],
        ["8080", "a\nb x _y_z init"],
    ]


def test_markdown_blockquotes_are_read_without_their_marks() -> None:
    """A note in a blockquote (Microsoft's ``> [!NOTE]`` boxes) kept every ``>`` of its lines
    (``a firewall between members and domain > controllers``), and a table in one was no
    table: its rows went into a note, not read and not reported.  The marks are now taken
    off: the note reads as written, the table as a table, its cells where they stand."""
    doc = markdown(
        "# Ports\n\nBefore the quote.\n> Not every port is needed: a firewall between members\n"
        "> and domain controllers needs no FRS ports.\n\n"
        "> | Port | Protocol |\n> |---|---|\n> | 445 | TCP |\n\nAfter.\n"
    )
    (table,) = doc.tables
    assert table.notes == (
        "Before the quote.",
        "Not every port is needed: a firewall between members and domain controllers needs "
        "no FRS ports.",
    )
    assert table.columns == ("Port", "Protocol")
    assert [c.text for c in table.rows[0].cells] == ["445", "TCP"]
    assert str(table.rows[0].cells[0].where) == "doc.md:9:5"
    assert table.notes_after == ("After.",)


HTML = """\
<html><head><title>ignored</title><style>td {}</style></head><body>
<h1>Ports</h1>
<p>Before the table.</p>
<table>
  <caption>Workers</caption>
  <thead><tr><th>From</th><th>To</th><th>Port</th></tr></thead>
  <tbody>
    <tr><td rowspan="3">Worker</td><td>A</td><td>1</td></tr>
    <tr><td colspan="2">B and port</td></tr>
    <tr><td>C<br>line two</td><td><p>3</p><p>4</p></td></tr>
  </tbody>
</table>
<p>After the table.</p>
<table>
  <tr><th>Port</th><th>Notes</th></tr>
  <tr><td rowspan="0">5</td><td>x</td></tr>
  <tr><td>y<table><tr><td>inner</td></tr></table></td></tr>
</table>
</body></html>
"""


def test_html_spans_are_expanded_and_copies_point_at_the_written_cell() -> None:
    first, second = read_source(HTML.encode(), file="doc.html", format=Format.HTML).tables
    assert (first.title, first.section, first.notes) == (
        "Workers",
        ("Ports",),
        ("Before the table.",),
    )
    assert (first.notes_after, second.notes) == ((), ("After the table.",))  # it introduces
    assert first.columns == ("From", "To", "Port")
    grid = [[c.text for c in row.cells] for row in first.rows]
    assert grid == [
        ["Worker", "A", "1"],
        ["Worker", "B and port", "B and port"],
        ["Worker", "C\nline two", "3\n4"],
    ]
    worker = first.rows[2].cells[0]
    assert worker.spanned and worker.origin == first.rows[0].cells[0].where
    assert str(worker.origin) == "doc.html:8:9"
    # rowspan="0" runs to the end of the table; a table in a cell is that cell's text
    assert [[c.text for c in row.cells] for row in second.rows] == [["5", "x"], ["5", "y\ninner"]]
    assert second.title == "Ports"


XLSX_ROWS = [
    ["Open Ports", None, None],
    [None, None, None],
    ["Incoming Ports", None, None],
    [None, "Purpose", "Protocol/Port"],
    ["FortiGate", "Management", "TCP/541"],
    [None, "Syslog", 514],
    ["Others", "Web", 443.0],
    [None, None, None],
    ["Note: a note after the table.", None, None],
]


def workbook(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Manager"
    for row in XLSX_ROWS:
        sheet.append(row)
    sheet.merge_cells("A1:C1")
    sheet.merge_cells("A3:A4")  # a heading spanning both header rows
    sheet.merge_cells("B3:C3")
    sheet.merge_cells("A5:A6")
    second = book.create_sheet("Other sheet")
    second.append(["Port", "Notes"])
    second.append([22, "ssh"])
    book.save(path)
    return path


def test_xlsx_merged_cells_are_filled_and_header_rows_follow_the_merges(tmp_path: Path) -> None:
    first, second = read_document(workbook(tmp_path / "ports.xlsx")).tables
    assert first.section == ("Manager", "Open Ports")  # sheet, then the title block
    assert first.columns == ("Incoming Ports", "Purpose", "Protocol/Port")
    assert len(first.header) == 2
    assert [[c.text for c in r.cells] for r in first.rows] == [
        ["FortiGate", "Management", "TCP/541"],
        ["FortiGate", "Syslog", "514"],
        ["Others", "Web", "443"],  # whole numbers without a decimal point
    ]
    copy = first.rows[1].cells[0]
    assert (str(copy.where), str(copy.origin)) == (
        f"{tmp_path}/ports.xlsx:Manager!A6",
        f"{tmp_path}/ports.xlsx:Manager!A5",
    )
    assert first.notes_after == ("Note: a note after the table.",)
    assert second.section == ("Other sheet",)
    assert str(second.rows[0].cells[0].where).endswith("ports.xlsx:'Other sheet'!A2")


CSV_TEXT = """\
Table 1. Ports
Port;Protocol;Reason
67;TCP/UDP;"DHCP; when the server
serves addresses"
80;TCP;web;stray

Second table
Port;Notes
22;ssh

trailing note
"""


def test_csv_blocks_titles_quoted_lines_and_stray_cells() -> None:
    first, second = read_source(CSV_TEXT.encode(), file="p.csv", format=Format.CSV).tables
    assert (first.title, first.columns) == ("Table 1. Ports", ("Port", "Protocol", "Reason"))
    assert first.rows[0].cells[2].text == "DHCP; when the server\nserves addresses"
    assert str(first.rows[1].cells[0].where) == "p.csv:5:1"  # after a record of two lines
    (stray,) = first.stray
    assert (stray.text, str(stray.where)) == ("stray", "p.csv:5:12")
    assert (second.title, second.notes_after) == ("Second table", ("trailing note",))


# -- the readers give back what was written ----------------------------------------------------

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("C", "Z")) | st.just(" "),
    max_size=12,
).map(lambda t: " ".join(t.split()))
grids = st.integers(1, 5).flatmap(
    lambda width: st.lists(
        st.lists(texts, min_size=width, max_size=width), min_size=2, max_size=6
    ).filter(lambda rows: all(rows[0]) and len(set(rows[0])) == len(rows[0]))
)


@settings(max_examples=150)
@given(grids)
def test_markdown_reads_back_the_grid_it_was_given(grid: list[list[str]]) -> None:
    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.replace("\\", "\\\\").replace("|", "\\|") for c in row) + " |"

    escaped = [[c.replace("<", "&lt;") for c in row] for row in grid]
    if any(set(c) & set("\\<`*_~&") for row in grid for c in row):
        # keep to cells whose text Markdown carries as is: emphasis (`*0*` shows as 0), code
        # spans, entities and escapes are markup, read as a reader sees them (what portplan
        # writes escapes them: tests/test_properties.py reads its tables back)
        return
    text = "\n".join([line(escaped[0]), "|" + "---|" * len(grid[0]), *map(line, escaped[1:])])
    (table,) = read_source(text.encode(), file="g.md", format=Format.MARKDOWN).tables
    read = [[c.text for c in table.header[0]], *([c.text for c in r.cells] for r in table.rows)]
    assert read == grid


@settings(max_examples=150)
@given(grids)
@example([["0", "1", "00", "0 0"], ["", "", "", "''"]])  # '' is text, not a quoted empty field
@example([["0", "|'"], ["", "'"]])  # an apostrophe next to a | makes no | the delimiter
def test_csv_reads_back_the_grid_it_was_given(grid: list[list[str]]) -> None:
    if any(all(not c for c in row) for row in grid) or sum(1 for c in grid[0] if c) < 2:
        return  # an empty row separates tables; a one-cell first row is a title
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(grid)
    (table,) = read_source(buffer.getvalue().encode(), file="g.csv", format=Format.CSV).tables
    assert [list(table.columns), *([c.text for c in r.cells] for r in table.rows)] == grid


@st.composite
def spanned_layouts(draw: st.DrawFn) -> tuple[list[list[int]], int, int]:
    """A grid of cell numbers where each number fills a rectangle (a span)."""
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    owner = [[-1] * width for _ in range(height)]
    number = 0
    for r in range(height):
        for c in range(width):
            if owner[r][c] != -1:
                continue
            down = draw(st.integers(1, height - r))
            across = 1
            while c + across < width and owner[r][c + across] == -1 and draw(st.booleans()):
                across += 1
            free = all(owner[r + dr][c + dc] == -1 for dr in range(down) for dc in range(across))
            down, across = (down, across) if free else (1, 1)
            for dr in range(down):
                for dc in range(across):
                    owner[r + dr][c + dc] = number
            number += 1
    return owner, height, width


@settings(max_examples=200)
@given(spanned_layouts())
def test_html_expands_any_span_layout_to_its_grid(layout: tuple[list[list[int]], int, int]) -> None:
    owner, height, width = layout
    rows = []
    for r in range(height):
        cells = []
        for c in range(width):
            n = owner[r][c]
            if (r == 0 or owner[r - 1][c] != n) and (c == 0 or owner[r][c - 1] != n):
                down = sum(1 for rr in range(r, height) if owner[rr][c] == n)
                across = sum(1 for cc in range(c, width) if owner[r][cc] == n)
                cells.append(f'<td rowspan="{down}" colspan="{across}">cell {n}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    page = f"<table><tr>{'<th>h</th>' * width}</tr>{''.join(rows)}</table>"
    (table,) = read_source(page.encode(), file="g.html", format=Format.HTML).tables
    got = [[c.text for c in row.cells] for row in table.rows]
    assert got == [[f"cell {n}" for n in row] for row in owner]
    for row in table.rows:
        for cell in row.cells:
            first = next(c for r in table.rows for c in r.cells if c.text == cell.text)
            assert cell.where == first.where
            assert cell.spanned == (cell is not first)


# -- what cannot be read is refused, located ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "ports.txt",
            b"Port\n80\n",
            "cannot tell the format of the file from its name ending '.txt'",
        ),
        ("ports.md", b"no table here\n", "holds no table (markdown)"),
        ("ports.html", b"<p>none</p>", "holds no table (html)"),
        ("ports.csv", b"", "holds no table (csv)"),
        # a heading without a row: a draft of no flow, and "every cell was read", exit 0
        ("ports.csv", b"From,To,Port\n", "holds table headings but no row (csv)"),
        ("ports.md", b"| Port |\n|---|\n", "holds table headings but no row (markdown)"),
        ("ports.html", b"<table><tr><th>Port</th></tr></table>", "but no row (html)"),
        ("ports.md", b"| a |\n|---|\n| \xff |\n", "is not UTF-8 text: byte 0xff"),
        ("ports.xlsx", b"not a zip", "is not an XLSX workbook openpyxl can read"),
        ("ports.csv", b'a,b\n"' + b"x" * 200_000 + b'",1\n', "cannot be read as csv"),
    ],
)
def test_a_file_that_is_not_a_readable_table_is_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_document(path)
    (problem,) = caught.value.diagnostics
    assert str(problem.file) == str(path)
    assert message in problem.message, problem.message
    assert problem.hint


def test_a_directory_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tables.md"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory, not a regular file") as caught:
        read_document(folder)
    assert "give a vendor port table (Markdown, HTML, CSV or XLSX)" in str(caught.value)
    with pytest.raises(InputError, match="no such file"):
        read_document(tmp_path / "missing.csv")


def test_a_sheet_too_large_to_be_a_port_table_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Port"
    sheet.cell(row=3000, column=1000, value="far away")
    book.save(tmp_path / "huge.xlsx")
    with pytest.raises(InputError, match="spans 3000 rows by 1000 columns"):
        read_document(tmp_path / "huge.xlsx")


def test_entities_and_odd_white_space_of_html_are_plain_text() -> None:
    page = (
        "<table><tr><th>Port</th></tr><tr><td>&lt;443&gt;&nbsp;TCP\n   and\t more</td></tr></table>"
    )
    (table,) = read_source(page.encode(), file="e.html", format=Format.HTML).tables
    assert table.rows[0].cells[0].text == html.unescape("<443> TCP and more")


def test_a_superscript_footnote_mark_in_html_stays_apart_from_the_port(tmp_path: Path) -> None:
    """``443<sup>1</sup>`` is port 443 and a footnote mark: run together, it read as port 4431
    and exit 0.  The mark is now written ``443^1`` and reported, the port kept."""
    page = tmp_path / "ports.html"
    page.write_text(
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        "<tr><td>443<sup>1</sup></td><td>TCP</td></tr>"
        "<tr><td>80 <sup>[2]</sup></td><td>TCP</td></tr></table>"
    )
    reading = import_document(page)
    first, second = (row.of(Field.PORT)[0] for row in reading.tables[0].rows)
    assert first.text == "443^1"
    assert first.ports is not None and [str(t.ports) for t in first.ports.terms] == ["443"]
    assert second.ports is not None and [str(t.ports) for t in second.ports.terms] == ["80"]
    assert [u.message for u in reading.unread] == [
        "column 'Port': could not read '^1'",
        "column 'Port': could not read '^[2]'",
    ]


def test_a_link_to_a_footnote_in_html_stays_apart_from_the_port(tmp_path: Path) -> None:
    """``22<a href="#fn1">1</a>`` read as port 221, and ``22 <a href="#fn1">1</a>`` as ports
    22 and 1, exit 0.  A link to a footnote, and any link whose text runs into the number
    before it, is now set apart like a superscript: the port is 22 and the mark is reported.
    A link that is the port itself, or a longer link to a note, stays text."""
    cells = [
        ('22<a href="#fn1">1</a>', "22^1"),  # pandoc, without its superscript
        ('22<sup><a href="#fn1">1</a></sup>', "22^1"),  # one mark, not two
        ('22<a href="#fn1"><sup>1</sup></a>', "22^1"),
        ('22<a href="#cite_note-1">[1]</a>', "22^[1]"),  # MediaWiki
        ('22 <a href="#_ftn1">1</a>', "22 ^1"),  # Word
        ('22 <a class="footnote-reference brackets" href="#id3">a</a>', "22 ^a"),  # Sphinx
        ('22<a href="https://example.com/ports">443</a>', "22^443"),  # runs into the 22
    ]
    page = tmp_path / "ports.html"
    page.write_text(
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        + "".join(f"<tr><td>{cell}</td><td>TCP</td></tr>" for cell, _text in cells)
        + '<tr><td><a href="#ssh">22</a></td><td>TCP</td></tr>'
        + '<tr><td>22 (see <a href="#note2">Note 2</a>)</td><td>TCP</td></tr></table>'
    )
    reading = import_document(page)
    values = [row.of(Field.PORT)[0] for row in reading.tables[0].rows]
    assert [v.text for v in values] == [text for _cell, text in cells] + ["22", "22 (see Note 2)"]
    for value in values:
        assert value.ports is not None
        assert [str(t.ports) for t in value.ports.terms] == ["22"], value.text
    marks = ["^1", "^1", "^1", "^[1]", "^1", "^a", "^443"]
    assert [u.message for u in reading.unread] == [
        f"column 'Port': could not read {mark!r}" for mark in marks
    ]


def test_a_superscript_run_in_an_xlsx_cell_stays_apart_from_the_port(tmp_path: Path) -> None:
    """A cell whose text is ``443`` and a superscript ``1`` read as port 4431, exit 0."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Port", "Protocol"])
    sheet.append([CellRichText("443", TextBlock(InlineFont(vertAlign="superscript"), "1")), "TCP"])
    sheet.append([CellRichText("80 ", TextBlock(InlineFont(b=True), "and 8080")), "TCP"])
    book.save(tmp_path / "ports.xlsx")
    reading = import_document(tmp_path / "ports.xlsx")
    first, second = (row.of(Field.PORT)[0] for row in reading.tables[0].rows)
    assert (first.text, second.text) == ("443^1", "80 and 8080")  # other runs are plain text
    assert first.ports is not None and [str(t.ports) for t in first.ports.terms] == ["443"]
    assert [u.message for u in reading.unread] == ["column 'Port': could not read '^1'"]
