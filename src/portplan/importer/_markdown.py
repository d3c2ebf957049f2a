"""Markdown: pipe tables (GitHub Flavored Markdown), with the headings above them as sections
and the paragraphs around them as notes.

A table is a line holding ``|`` followed by a delimiter line (``|---|:---:|``) with as many
cells; its rows run to the first blank line or line without ``|``.  ``\\|`` is a pipe inside a
cell, ``<br>`` a line break.  Cells, headings and paragraphs read as they show
(:mod:`._inline`: emphasis without its markers, code spans without their backticks).  Fenced
code blocks and HTML comments are not text of the document and are skipped; a blockquote's
marks (``> ``) are not text either, and a table or paragraph inside one reads as any other.
Front matter (a YAML block between ``---`` lines, or TOML between ``+++``, on the document's
first line) is no text either: its ``title`` is the document's heading.  A heading's
attributes after it (``## Nodes {#node}``) are not its title.  Tabs (MDX, Docusaurus:
``<Tabs groupId="cni">`` and ``<TabItem value="Canal">`` on lines of their own) are no text: a
table inside a tab is titled by it and holds only in that tab.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from portplan.importer._inline import as_text
from portplan.importer._limits import MAX_COLUMNS, CellCount, TooLarge
from portplan.importer._tables import Outline, RawCell, Tab, Table, Where, clean_text

__all__ = ["read_markdown"]

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
#: a heading's attributes after it (Pandoc, kramdown, Hugo): ``{#anchor}``, ``{: .class #id}``
_ATTRIBUTES = re.compile(r"[ \t]+\{:?[ \t]*[#.][A-Za-z][\w.:-]*(?:[ \t]+[#.][\w.:-]+)*[ \t]*\}$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DELIMITER_CELL = re.compile(r"^\s*:?-+:?\s*$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_QUOTE = re.compile(r"^(?: {0,3}>[ \t]?)+")
_TAG = re.compile(r"^ {0,3}<(/?)(Tabs|TabItem)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>[ \t]*$")
_ATTRIBUTE = re.compile(
    r"""\b(groupId|value|label)=(?:"([^"]*)"|'([^']*)'|\{["'`]([^"'`]*)["'`]\})"""
)
_SMALLER = "keep only the port tables in the document and import that"
_FRONT = {"---": ("---", "..."), "+++": ("+++",)}  #: a front matter's opening, its closings
_TITLE = re.compile(r"""^title[ \t]*[:=][ \t]*(?:"(.*)"|'(.*)'|(.*?))[ \t]*$""")
#: a YAML block scalar's indicator (``title: >-``): the title is on the lines under it
_BLOCK_SCALAR = re.compile(r"^[|>][-+1-9]*$")


def _front_matter(lines: list[tuple[int, str]]) -> tuple[int, str | None]:
    """How many of the lines are front matter, and its title: a block closed on a line of its
    own, opened on the document's first line (a ``---`` further down is a rule or a heading).
    A title may go on over the indented lines under its key (a block scalar, ``title: >-``,
    or a plain one folded), joined into one line."""
    if not lines or lines[0][0] != 1 or lines[0][1].rstrip() not in _FRONT:
        return 0, None
    closings = _FRONT[lines[0][1].rstrip()]
    title = None
    said: list[str] | None = None  #: the title's lines, while they go on
    for index, (_number, line) in enumerate(lines[1:], start=1):
        if line.rstrip() in closings:
            return index + 1, title
        if said is not None and (not line.strip() or line[:1] in " \t"):
            said.append(line.strip())
            joined = " ".join(" ".join(said).split())
            if len(joined) > 1 and joined[0] in "\"'" and joined[-1] == joined[0]:
                joined = joined[1:-1].strip()  # (a quoted title over two lines)
            title = joined or None
            continue
        said = None
        match = _TITLE.match(line)
        if match and title is None:
            first = next(g for g in match.groups() if g is not None).strip()
            said = [] if _BLOCK_SCALAR.match(first) else [first]
            title = first if said else None
    return 0, None


def _blank_comments(text: str) -> str:
    """HTML comments replaced by spaces, keeping their line breaks (line numbers stay true)."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _split_row(line: str, file: str, number: int) -> list[RawCell]:
    """The cells of one table line, each with the column where its text starts."""
    cells: list[RawCell] = []
    text: list[str] = []
    start = 0
    index = 0
    body = line.rstrip()
    lead = len(body) - len(body.lstrip())
    if body[lead : lead + 1] == "|":
        lead += 1
    index = start = lead
    while index <= len(body):
        char = body[index] if index < len(body) else "|"
        if char == "\\" and index + 1 < len(body) and body[index + 1] == "|":
            text.append("|")
            index += 2
            continue
        if char == "|":
            raw = "".join(text)
            offset = len(raw) - len(raw.lstrip())
            cells.append(
                RawCell(
                    text=clean_text(as_text(raw, breaks=True)),
                    where=Where(file=file, line=number, column=start + offset + 1),
                )
            )
            if len(cells) > MAX_COLUMNS:
                raise TooLarge(
                    f"line {number} has more than {MAX_COLUMNS} cells, more than a port table "
                    "can need",
                    _SMALLER,
                    line=number,
                )
            text = []
            start = index + 1
            if index == len(body) - 1:  # the closing pipe ends the row
                break
        else:
            text.append(char)
        index += 1
    return cells


def _is_delimiter(line: str) -> bool:
    body = line.strip()
    if "-" not in body or not set(body) <= set("|:- \t") or body.count("|") > MAX_COLUMNS + 1:
        return False
    parts = body.strip("|").split("|")
    return all(_DELIMITER_CELL.match(p) for p in parts)


class _State(Outline):
    """The outline of the document, and the lines of the paragraph being read."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.paragraph: list[str] = []
        self.cells = CellCount("tables", _SMALLER)  #: the cells of the tables so far
        #: the sets of tabs open, each with the tab it stands in
        self.groups: list[tuple[str, Tab | None]] = []

    def count(self, row: list[RawCell], line: int) -> None:
        """Count the row's cells; refuse the document past :data:`MAX_CELLS`."""
        self.cells.add(max(len(row), 1), line)

    def flush(self) -> None:
        self.text(as_text(" ".join(self.paragraph)))
        self.paragraph = []

    def heading(self, level: int, title: str) -> None:
        self.flush()
        super().heading(level, as_text(title))

    def tag(self, closing: bool, name: str, attributes: str) -> None:
        """A line that opens or closes a set of tabs or one tab; a tab in a tab is both."""
        self.flush()
        said = {
            m.group(1): next(g for g in m.groups()[1:] if g is not None)
            for m in _ATTRIBUTE.finditer(attributes)
        }
        if name == "Tabs":
            if closing:
                self.groups = self.groups[:-1]
            else:
                heading = self.headings[-1][1] if self.headings else "tabs"
                self.groups.append((said.get("groupId") or heading, self.tab))
        elif closing:
            self.tab = self.groups[-1][1] if self.groups else None
        else:
            group, outer = self.groups[-1] if self.groups else ("tabs", None)
            value = said.get("label") or said.get("value") or "tab"
            if outer is not None:
                group, value = f"{outer.group} > {group}", f"{outer.value} > {value}"
            self.tab = Tab(group, value)


def _unquoted(line: str) -> tuple[str, int]:
    """The line with its blockquote marks (``> > ``) made spaces, so that its cells keep their
    columns, and how deep it is quoted."""
    marks = _QUOTE.match(line)
    if marks is None:
        return line, 0
    return " " * marks.end() + line[marks.end() :], marks.group(0).count(">")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks (a fence's lines read as blank), without
    their blockquote marks; a quote that opens ends the paragraph before it (a blank line)."""
    fence: str | None = None
    depth = 0
    for number, written in enumerate(text.splitlines(), start=1):
        line, quoted = _unquoted(written)
        if quoted > depth:
            yield number, ""
        depth = quoted
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
            yield number, ""
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            yield number, ""
        else:
            yield number, line


def read_markdown(text: str, file: str) -> list[Table]:
    """The pipe tables of a Markdown document, in order, each with its section and notes."""
    lines = list(_lines(_blank_comments(text)))
    state = _State(file=file)
    index, title = _front_matter(lines)
    if title is not None:
        state.heading(1, title)
    while index < len(lines):
        number, line = lines[index]
        following = lines[index + 1][1] if index + 1 < len(lines) else ""
        atx = _ATX.match(line)
        tag = _TAG.match(line)
        if tag:
            state.tag(bool(tag.group(1)), tag.group(2), tag.group(3))
        elif atx:
            title = _ATTRIBUTES.sub("", (atx.group(2) or "").strip())
            state.heading(len(atx.group(1)), title)
        elif not line.strip():
            state.flush()
        elif (
            "|" in line
            and _is_delimiter(following)
            and len(_split_row(line, file, number)) == len(_split_row(following, file, number + 1))
        ):
            index = _table(state, lines, index)
            continue
        elif state.paragraph and len(state.paragraph) == 1 and _SETEXT.match(line):
            level = 1 if line.strip().startswith("=") else 2
            title = state.paragraph.pop()
            state.heading(level, title)
        elif _LIST_ITEM.match(line):
            state.flush()
            state.paragraph.append(_LIST_ITEM.sub("", line).strip())
        else:
            state.paragraph.append(line.strip())
        index += 1
    state.flush()
    state.close()
    return state.tables


def _table(state: _State, lines: list[tuple[int, str]], index: int) -> int:
    """Read the table starting at ``lines[index]``; return the index of the line after it."""
    state.flush()
    file = state.file
    number, header_line = lines[index]
    header = _split_row(header_line, file, number)
    rows = [header]
    index += 2
    while index < len(lines):
        number, line = lines[index]
        if not line.strip() or "|" not in line:
            break
        rows.append(_split_row(line, file, number))
        state.count(rows[-1], number)
        index += 1
    state.table(
        rows=rows,
        header_rows=1,
        width=len(header),
        where=header[0].where if header else Where(file=file, line=lines[index - 1][0]),
    )
    return index
