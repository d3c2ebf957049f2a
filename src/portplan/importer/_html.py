"""HTML: every ``<table>``, its ``rowspan`` and ``colspan`` expanded, with the headings above it
as sections, its ``<caption>`` as title and the paragraphs around it as notes.

The standard library's :class:`html.parser.HTMLParser` reads the file: it is lenient with the
unclosed tags of real vendor pages, decodes entities, and reports the line and column of every
tag, which is what a located message needs (lxml or BeautifulSoup would add a dependency and
lose neither).  Header rows are those in ``<thead>``, else the leading rows made only of
``<th>`` cells (up to a group's heading, one cell spanning the table), else the first row. A
table inside a cell is read as that cell's text.  A superscript or subscript in a cell is
written after a ``^`` (``443<sup>1</sup>`` is ``443^1``): a footnote mark run into a number
would otherwise change the number.  So is a link to a footnote (``22<a href="#fn1">1</a>`` is
``22^1``, not port 221), and any link whose text would run into the word or number before it.
Struck-through text (``<del>``, ``<s>``, ``<strike>``: a port the vendor withdrew) is written
between ``~~``, as Markdown writes it, which no port or protocol reading takes as live.

What the page hides is not read (vendors hide the rows of ports they no longer use): a table,
row group, row or cell with the ``hidden`` attribute or an inline style ``display: none``
(``visibility: hidden`` or ``collapse``), and hidden text inside a cell.  A hidden row is left
out of its table, a hidden cell keeps its place (the columns after it stay under their
headings) with no text, and a cell written in a hidden row spans into the visible rows with no
text either; each that holds text is given back as
:class:`~portplan.importer._tables.Hidden`.  A style sheet's rules (a class that hides) are not
followed: only what the element itself says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from portplan.importer._limits import CellCount
from portplan.importer._tables import Hidden, Outline, RawCell, Table, Where, clean_text

__all__ = ["read_html"]

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "section",
        "article", "header", "footer", "aside", "nav", "main", "figure", "figcaption", "hr",
        "br", "tr", "table", "caption", "address", "details", "summary",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s+")
#: struck-through text, written between ``~~``
_STRUCK = frozenset({"del", "s", "strike"})
_SKIPPED = frozenset({"script", "style", "head", "template", "noscript", "svg", "math"})
#: HTML's own limits on spans; a larger value is read as the limit
_MAX_COLSPAN = 1000
_MAX_ROWSPAN = 65534
_SMALLER = "keep only the port tables in the page (spans and rows of a real one are few)"
#: where a link to a footnote points (``#fn1``, Word's ``#_ftn1``, MediaWiki's ``#cite_note-1``,
#: DocBook's ``#ftn.id1``), and the classes and roles that mark one (pandoc's ``footnote-ref``
#: and ``doc-noteref``, Sphinx's ``footnote-reference``, EPUB's ``noteref``)
_FOOTNOTE_TARGET = re.compile(r"#_?(?:fn|ftn|footnote|cite_note|note|endnote|edn)", re.IGNORECASE)
_FOOTNOTE_MARKER = re.compile(r"footnote|noteref|fnref", re.IGNORECASE)
#: the text of a footnote mark: ``1``, ``[2]``, ``a``, ``*``, ``†``
_MARK_TEXT = re.compile(r"\[?(?:[0-9]{1,3}|[A-Za-z]|[^\w\s]{1,3})\]?")
#: the values of the inline style properties that hide an element (``display: none``)
_HIDING_STYLE = {"display": frozenset({"none"}), "visibility": frozenset({"hidden", "collapse"})}
_IMPORTANT = re.compile(r"!\s*important\s*$", re.IGNORECASE)
#: the elements that have no end tag (``<br>``, ``<br/>``): none is open after its start tag
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "wbr", "area", "source"})
#: the start tags that end an open ``<p>`` (HTML's "close a p element"), and the elements a
#: ``<p>``, ``<li>``, ``<dd>`` or ``<dt>`` inside them is not closed beyond (their scope)
_CLOSE_P = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
        "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "main",
        "menu", "nav", "ol", "p", "pre", "section", "summary", "ul", "li", "dd", "dt", "hr",
        "table", "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
_SCOPE = frozenset({"table", "td", "th", "caption", "button", "object", "template", "marquee"})
_LIST_SCOPE = _SCOPE | {"ul", "ol", "dl", "menu", "blockquote", "section", "article", "nav"}


@dataclass
class _Cell:
    where: Where
    rowspan: int
    colspan: int
    header: bool
    text: list[str] = field(default_factory=list)
    #: the links open in the cell: where their text starts, whether they point at a footnote
    links: list[tuple[int, bool]] = field(default_factory=list)
    hidden: str | None = None  #: what hides the cell (``the hidden attribute``), if anything
    #: the elements open in the cell, by tag; and where among them is the one hiding part of
    #: the cell's text, if one is
    open: list[str] = field(default_factory=list)
    hiding: int | None = None
    hidden_text: list[str] = field(default_factory=list)
    text_hidden_by: str = ""  #: what hid the first hidden text (``'display: none' on a <span>``)


@dataclass
class _Table:
    where: Where
    caption: list[str] | None = None
    rows: list[list[_Cell]] = field(default_factory=list)
    head_rows: int = 0  #: rows inside <thead>
    in_head: bool = False
    cell: _Cell | None = None
    nested: int = 0  #: depth of tables inside the current cell
    counted: int = 0  #: the cells' colspans, counted as they were read
    hidden: str | None = None  #: what hides the whole table, if anything
    group_hidden: str | None = None  #: what hides the current row group (``<tbody>``)
    hidden_rows: list[str | None] = field(default_factory=list)  #: what hides each row


def _hiding(attrs: dict[str, str | None]) -> str | None:
    """What hides an element (``the hidden attribute``, ``'display: none'``), or ``None``."""
    if "hidden" in attrs:
        return "the hidden attribute"
    said: dict[str, tuple[str, bool]] = {}  # (the last declaration wins, unless !important)
    for declaration in (attrs.get("style") or "").split(";"):
        name, colon, value = declaration.partition(":")
        name = name.strip().lower()
        if colon and name in _HIDING_STYLE:
            value, important = _IMPORTANT.subn("", value)
            if not said.get(name, ("", False))[1] or important:
                said[name] = (" ".join(value.lower().split()), bool(important))
    for name, (value, _important) in said.items():
        if value in _HIDING_STYLE[name]:
            return f"'{name}: {value}'"
    return None


def _opened(cell: _Cell, tag: str) -> None:
    """``tag`` opened in ``cell``, once the elements it ends are closed as HTML closes them
    (``<li>`` ends an open ``<li>`` of its list, ``<dd>`` or ``<dt>`` one of theirs; ``<p>``,
    ``<div>``, a list... end an open ``<p>``), which ends the hiding of an element so closed."""
    ends = {"li": ("li",), "dd": ("dd", "dt"), "dt": ("dd", "dt")}.get(tag, ())
    for closing, scope in ((ends, _LIST_SCOPE), (("p",) if tag in _CLOSE_P else (), _SCOPE)):
        for depth in range(len(cell.open) - 1, -1, -1) if closing else ():
            if cell.open[depth] in closing:
                del cell.open[depth:]
                if cell.hiding is not None and cell.hiding >= depth:
                    cell.hiding = None
                break
            if cell.open[depth] in scope:
                break
    cell.open.append(tag)


def _span(value: str | None, limit: int) -> int:
    try:
        number = int(value or "1")
    except ValueError:
        return 1
    if number == 0 and limit == _MAX_ROWSPAN:
        return limit  # rowspan="0": to the end of the table
    return min(max(number, 1), limit)


class _Reader(HTMLParser):
    def __init__(self, file: str) -> None:
        super().__init__(convert_charrefs=True)
        self.file = file
        self.outline = Outline(file)
        self.heading: tuple[int, list[str]] | None = None
        self.text: list[str] = []
        self.table: _Table | None = None
        self.skipping = 0
        #: rows and cells of the tables so far, spans expanded once finished
        self.cells = CellCount(
            "tables", _SMALLER, " (rows, cells and the slots their rowspan and colspan cover)"
        )
        self.hidden: list[Hidden] = []  #: the hidden parts that hold text

    # -- text outside tables ------------------------------------------------------------------

    def _flush(self) -> None:
        self.outline.text(" ".join("".join(self.text).split()))
        self.text = []

    # -- the parser's events ------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
            return
        if self.skipping:
            return
        table = self.table
        if table is not None:
            self._table_start(table, tag, dict(attrs))
            return
        if tag in _HEADINGS:
            self._flush()
            self.heading = (_HEADINGS[tag], [])
        elif tag == "table":
            self._flush()
            line, offset = self.getpos()
            self.table = _Table(
                where=Where(file=self.file, line=line, column=offset + 1),
                hidden=_hiding(dict(attrs)),
            )
        elif tag in _BLOCKS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
            return
        if self.skipping:
            return
        table = self.table
        if table is not None:
            if self._table_end(table, tag):
                self._finish(table)
            return
        if tag in _HEADINGS and self.heading is not None:
            level, parts = self.heading
            self.heading = None
            self.outline.heading(level, " ".join("".join(parts).split()))
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        table = self.table
        if table is not None:
            if table.cell is not None and table.cell.hiding is not None:
                table.cell.hidden_text.append(_SPACES.sub(" ", data))
            elif table.cell is not None:
                table.cell.text.append(_SPACES.sub(" ", data))
            elif table.caption is not None:
                table.caption.append(data)
        elif self.heading is not None:
            self.heading[1].append(data)
        else:
            self.text.append(data)

    def close(self) -> None:
        super().close()
        if self.table is not None:  # an unclosed table ends with the document
            self._finish(self.table)
        self._flush()
        self.outline.close()

    # -- tables -------------------------------------------------------------------------------

    def _table_start(self, table: _Table, tag: str, attrs: dict[str, str | None]) -> None:
        cell = table.cell
        if cell is not None:
            if tag == "table":
                table.nested += 1
            closes = table.nested == 0 and tag in ("td", "th", "tr")
            if not closes and tag not in _VOID:
                _opened(cell, tag)
            if cell.hiding is not None and not closes:
                return
            if not closes and tag not in _VOID and (hides := _hiding(attrs)) is not None:
                cell.hiding = len(cell.open) - 1
                cell.text_hidden_by = cell.text_hidden_by or f"{hides} on a <{tag}>"
                cell.hidden_text.append(" ")
                return
            if tag in _BLOCKS:
                _break(cell, hard=tag == "br")
            elif tag in ("sup", "sub"):
                # 443<sup>1</sup> (or <sub>) is port 443 and a footnote mark, never port 4431:
                # the mark stays apart, as 443^1, which no port reading takes as a digit
                cell.text.append("^")
            elif tag in _STRUCK:
                cell.text.append("~~")
            elif tag == "a":
                cell.links.append((len(cell.text), _footnote_link(attrs)))
            if table.nested == 0 and tag in ("td", "th", "tr"):
                table.cell = None  # an unclosed cell ends where the next one starts
            else:
                return
        if tag == "caption":
            table.caption = []
        elif tag == "thead":
            table.in_head = True
            table.group_hidden = _hiding(attrs)
        elif tag in ("tbody", "tfoot"):
            table.in_head = False
            table.group_hidden = _hiding(attrs)
        elif tag == "tr":
            self.cells.add(1, self.getpos()[0])
            table.rows.append([])
            table.hidden_rows.append(_hiding(attrs) or table.group_hidden)
            if table.in_head:
                table.head_rows = len(table.rows)
        elif tag in ("td", "th"):
            if not table.rows:
                table.rows.append([])
                table.hidden_rows.append(table.group_hidden)
            line, offset = self.getpos()
            table.cell = _Cell(
                where=Where(file=self.file, line=line, column=offset + 1),
                rowspan=_span(attrs.get("rowspan"), _MAX_ROWSPAN),
                colspan=_span(attrs.get("colspan"), _MAX_COLSPAN),
                header=tag == "th",
                hidden=_hiding(attrs),
            )
            table.rows[-1].append(table.cell)
            table.counted += table.cell.colspan
            self.cells.add(table.cell.colspan, line)

    def _table_end(self, table: _Table, tag: str) -> bool:
        """Handle an end tag inside a table; ``True`` when it closes the table."""
        cell = table.cell
        if cell is not None and not (table.nested == 0 and tag in ("td", "th", "tr", "table")):
            hidden = cell.hiding is not None
            if tag in cell.open:  # (an end tag of nothing open in the cell is nothing)
                del cell.open[len(cell.open) - 1 - cell.open[::-1].index(tag) :]
                if hidden and cell.hiding is not None and cell.hiding >= len(cell.open):
                    cell.hiding = None  # the element hiding it is closed
            if hidden:
                if tag == "table":
                    table.nested -= 1
                return False
        elif cell is not None:
            cell.hiding = None
        if cell is not None and table.nested:
            if tag == "table":
                table.nested -= 1
            if tag in _STRUCK:
                cell.text.append("~~")
            if tag in _BLOCKS:
                _break(cell, hard=False)
            return False
        if tag in ("td", "th", "tr"):
            table.cell = None
        elif cell is not None and tag in _STRUCK:
            cell.text.append("~~")
        elif cell is not None and tag == "a" and cell.links:
            _mark_link(cell, *cell.links.pop())
        elif cell is not None and tag in _BLOCKS and tag not in ("tr", "table"):
            _break(cell, hard=False)
        elif tag == "thead":
            table.in_head = False
        if tag in ("thead", "tbody", "tfoot"):
            table.group_hidden = None
        return tag == "table"

    def _hide(self, where: Where, what: str, how: str, texts: list[str]) -> None:
        if texts:
            remedy = how if how.startswith("the hidden attribute") else f"the {how}"
            self.hidden.append(
                Hidden(
                    where=where,
                    text=" | ".join(texts),
                    message=f"{what} hidden by {how}: not read; remove {remedy} to import "
                    f"it: {' | '.join(texts)!r}",
                )
            )

    def _hidden_table(self, table: _Table, how: str) -> None:
        cells = [c for row in table.rows for c in row]
        texts = [t for c in cells if (t := _written(c))]
        self._hide(cells[0].where if cells else table.where, "a table", how, texts)

    def _hidden_parts(self, table: _Table) -> None:
        """Report the hidden rows, cells and hidden text in cells of a shown table."""
        for row, how in zip(table.rows, table.hidden_rows, strict=True):
            if how is not None:
                texts = [t for c in row if (t := _written(c))]
                self._hide(row[0].where if row else table.where, "a table row", how, texts)
                continue
            for cell in row:
                if cell.hidden is not None:
                    self._hide(cell.where, "a table cell", cell.hidden, [_written(cell)])
                elif hidden_text := " ".join("".join(cell.hidden_text).split()):
                    self._hide(
                        cell.where, "text in a table cell", cell.text_hidden_by, [hidden_text]
                    )

    def _finish(self, table: _Table) -> None:
        self.table = None
        self.cells.add(_slots(table.rows) - table.counted, self.getpos()[0])
        if table.hidden is not None:
            self._hidden_table(table, table.hidden)
            return
        header = table.head_rows or _leading_header_rows(table.rows) or 1
        self._hidden_parts(table)
        shown = [k for k, how in enumerate(table.hidden_rows) if how is None]
        expanded = _expand(table.rows, table.where, table.hidden_rows)
        grid = [expanded[k] for k in shown]
        header = len([k for k in shown if k < header]) or 1
        width = max((len(r) for r in grid), default=0)
        if not grid or width == 0:
            return
        caption = " ".join("".join(table.caption).split()) if table.caption else ""
        self.outline.table(
            rows=grid,
            header_rows=min(header, len(grid)),
            width=width,
            where=table.where,
            caption=caption or None,
        )


def _footnote_link(attrs: dict[str, str | None]) -> bool:
    """Whether a link's attributes say it points at a footnote."""
    target = attrs.get("href") or ""
    marks = " ".join(attrs.get(k) or "" for k in ("class", "role", "epub:type", "rel"))
    return bool(_FOOTNOTE_TARGET.match(target) or _FOOTNOTE_MARKER.search(marks))


def _mark_link(cell: _Cell, start: int, footnote: bool) -> None:
    """Write ``^`` before the text of a link that ended: a mark linking to a footnote (``22 <a
    href="#fn1">1</a>``), or any link whose text runs into the word or number before it (it
    would change that number: ``22`` and ``1`` are not port 221).  A superscript already set
    apart needs no second mark; a longer link to a note (``see Note 2``) is text."""
    text = "".join(cell.text[start:])
    before = "".join(cell.text[:start])
    if not text.strip() or text.startswith("^") or before.endswith("^"):
        return
    glued = before[-1:].isalnum() and text[0].isalnum()
    if glued or (footnote and _MARK_TEXT.fullmatch(text.strip())):
        cell.text.insert(start, "^")


def _break(cell: _Cell, *, hard: bool) -> None:
    """A line break in a cell: ``<br>`` always makes one (two make an empty line); the edge of
    a block (``<p>``, ``<div>``...) only ends the current line."""
    if hard or (cell.text and not "".join(cell.text).rstrip(" ").endswith("\n")):
        cell.text.append("\n")


def _leading_header_rows(rows: list[list[_Cell]]) -> int:
    """The leading rows made only of ``<th>``, up to one that is a single cell spanning the
    whole table after the first (``<th colspan="3">UDP ports</th>``): a group's heading."""
    count, width = 0, sum(c.colspan for c in rows[0]) if rows else 0
    for row in rows:
        if not row or not all(c.header for c in row):
            break
        if count and width > 1 and len(row) == 1 and row[0].colspan >= width:
            break
        count += 1
    return count


def _slots(rows: list[list[_Cell]]) -> int:
    """How many slots the cells' spans cover (the grid of :func:`_expand` has no more)."""
    last_row = len(rows) - 1
    return sum(
        min(c.rowspan, last_row - r + 1) * c.colspan for r, row in enumerate(rows) for c in row
    )


def _written(cell: _Cell) -> str:
    """All the text of a cell, shown or hidden."""
    return " ".join(("".join(cell.text) + " " + "".join(cell.hidden_text)).split())


def _expand(
    rows: list[list[_Cell]], where: Where, hidden_rows: list[str | None]
) -> list[list[RawCell]]:
    """The table as a grid: each cell copied into every slot its spans cover (the copies
    point at the written cell); a span past the last row stops there.  A hidden cell, or one
    written in a hidden row, covers its slots with no text."""
    slots: dict[tuple[int, int], RawCell] = {}
    widths = [0] * len(rows)
    last_row = len(rows) - 1
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in slots:
                c += 1
            hidden = cell.hidden is not None or hidden_rows[r] is not None
            text = "" if hidden else clean_text("".join(cell.text))
            for dr in range(min(cell.rowspan, last_row - r + 1)):
                for dc in range(cell.colspan):
                    origin = None if dr == dc == 0 or hidden else cell.where
                    slots[(r + dr, c + dc)] = RawCell(text=text, where=cell.where, origin=origin)
                widths[r + dr] = max(widths[r + dr], c + cell.colspan)
            c += cell.colspan
    return [
        [
            slots.get((r, c)) or RawCell(text="", where=rows[r][0].where if rows[r] else where)
            for c in range(widths[r])
        ]
        for r in range(len(rows))
    ]


def read_html(text: str, file: str) -> tuple[list[Table], list[Hidden]]:
    """The tables of an HTML document, in order, each with its section, title and notes, and
    the hidden parts of its tables that hold text."""
    reader = _Reader(file)
    reader.feed(text)
    reader.close()
    return reader.outline.tables, reader.hidden
