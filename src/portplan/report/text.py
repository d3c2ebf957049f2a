"""Tables as terminal tables, Markdown, CSV and JSON — deterministic, no timestamps."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from portplan._text import one_line, terminal_text

if TYPE_CHECKING:  # rich is imported where a table is drawn: JSON, CSV and Markdown need none
    from rich.text import Text

__all__ = [
    "FORMULA_STARTS",
    "CsvFields",
    "csv_chunks",
    "csv_text",
    "formula_like",
    "json_nested",
    "json_text",
    "markdown_line",
    "markdown_table",
    "rich_table_text",
    "spreadsheet_row",
    "spreadsheet_text",
    "terminal_text",
]


#: what Markdown would read as markup inside a line: a backslash escape, an entity, raw HTML,
#: a link or image (``[text](url)`` shows the text and hides where it leads; an escaped ``[``
#: opens none), a code span (where the other escapes would show), emphasis (``*``; ``_`` in
#: :func:`_md_inline`), GitHub's strikethrough (``~~old~~``, and ``~old~`` on GitHub, shown
#: struck out); ``>`` alone opens nothing inside a line, so it stays as written
_MD_INLINE = str.maketrans(
    {
        "\\": "\\\\",
        "&": "&amp;",
        "<": "&lt;",
        "[": "\\[",
        "]": "\\]",
        "`": "\\`",
        "*": "\\*",
        "~": "\\~",
    }
)
#: a run of ``_``: emphasis unless it stands between two letters or digits (``snake_case``
#: shows as written, and stays so)
_MD_UNDERSCORES = re.compile(r"_+")
#: what starts a block at the beginning of a line: a heading, quote, list, rule, fence, table
_MD_BLOCK = re.compile(r"[#>+*=|`~_-]|[0-9]+[.)]")


def _md_inline(text: str) -> str:
    line = one_line(text).translate(_MD_INLINE)

    def underscores(run: re.Match[str]) -> str:
        before, after = line[run.start() - 1 : run.start()], line[run.end() : run.end() + 1]
        if before.isalnum() and after.isalnum():
            return run.group(0)
        return "\\_" * len(run.group(0))

    return _MD_UNDERSCORES.sub(underscores, line)


def markdown_line(text: str) -> str:
    """Free text as one Markdown heading or paragraph that shows as written: on one line (a
    line break can never start a heading of its own), raw HTML shown, not rendered, and a
    character that would start a block or close a heading escaped."""
    line = _md_inline(text)
    start = _MD_BLOCK.match(line)
    if start:
        line = line[: start.end() - 1] + "\\" + line[start.end() - 1 :]
    if line.endswith("#"):
        line = line[:-1] + "\\#"
    return line


def _md_cell(text: str) -> str:
    return _md_inline(text).replace("|", "\\|")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; each cell on one line, its pipes and markup escaped."""
    lines = [
        "| " + " | ".join(map(_md_cell, columns)) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV with a header row and CRLF line ends, as spreadsheets expect."""
    return "".join(csv_chunks(columns, rows))


#: what makes a spreadsheet read a cell as a formula (OWASP, "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a sign alone or a signed number: no formula, kept as written
_SIGNED = re.compile(r"[+-]([0-9]+(\.[0-9]+)?)?")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` typed into a cell as a formula: it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is no sign alone (``-`` for
    none) or signed number."""
    return text.startswith(FORMULA_STARTS) and not _SIGNED.fullmatch(text)


#: what makes the CSV module (and :class:`CsvFields`) quote a field
_QUOTED = frozenset(',"\r\n')
#: where a spreadsheet that splits lines at ``;`` starts a cell inside one of our fields: after
#: a ``;`` or a line break (Excel splits a ``.csv`` at the list separator of the user's
#: locale, ``;`` in German or French, and reads a ``"`` as quoting only at the start of one of
#: its own cells, so the quotes around our comma-separated field keep neither from splitting
#: it); what follows is guarded when it starts a formula after any quotes, without the
#: exception of a signed number (the cell goes on past the field: ``-1,...``)
_STARTS_CLASS = "[" + re.escape("".join(FORMULA_STARTS)) + "]"
_INNER_START = re.compile(rf'(?<=[;\r\n])(?="*{_STARTS_CLASS})')
#: ... and in a field that is quoted, also where nothing follows but the field's closing quote
#: (a quote that would open a cell of the spreadsheet's own, running on into the next line)
_INNER_START_QUOTED = re.compile(rf'(?<=[;\r\n])(?="*(?:{_STARTS_CLASS}|\Z))')


def spreadsheet_text(value: Any) -> str:
    """``value`` as the text of a CSV cell that a spreadsheet shows and never runs, whether it
    splits the line at ``,`` or at ``;``: a :func:`formula_like` text gets a leading ``'``
    (``'=HYPERLINK(...)``), and so does a formula start after a ``;`` or a line break inside it
    (``see manual;'=HYPERLINK(...)``), or the end after a last one of a text that is quoted."""
    text = "" if value is None else str(value)
    if ";" in text or "\r" in text or "\n" in text:
        inner = _INNER_START_QUOTED if _QUOTED.intersection(text) else _INNER_START
        text = inner.sub("'", text)
    return "'" + text if formula_like(text) else text


def spreadsheet_row(row: Sequence[Any]) -> list[str]:
    """A row's cells as :func:`spreadsheet_text`, and the first of several with a ``'`` too
    when it is a sign or a signed number (``-`` for none): split at ``;``, a line makes one
    cell of its fields up to the first ``;``, and ``-,1+1`` is a formula where ``,`` is the
    decimal separator."""
    cells = [spreadsheet_text(value) for value in row]
    if len(cells) > 1 and cells[0].startswith(FORMULA_STARTS):
        cells[0] = "'" + cells[0]
    return cells


class CsvFields(dict[Any, str]):
    """Each value as a CSV field, worked out once per distinct value (a matrix repeats its
    names, addresses and purposes on thousands of rows): guarded by :func:`spreadsheet_text`,
    then quoted when it holds a comma, a quote or a line break, as ``csv.writer`` does."""

    def __missing__(self, value: Any) -> str:
        text = spreadsheet_text(value)
        if not _QUOTED.isdisjoint(text):
            text = '"' + text.replace('"', '""') + '"'
        if type(value) is str:  # 1 and True are one key: only text is kept
            self[value] = text
        return text

    def first(self, value: Any) -> str:
        """``value`` as the first field of a line of several, as :func:`spreadsheet_row`
        writes it (a field that starts with a formula character after its guard is a sign or
        a signed number, never quoted)."""
        text = self[value]
        return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, chunk: int = 4096
) -> Iterator[str]:
    """:func:`csv_text` in pieces of ``chunk`` rows: the same text as ``csv.writer`` writes
    (a test compares them), at a fraction of its time on repetitive rows."""
    fields = CsvFields()
    pending = [_csv_line([str(c) for c in columns], fields)]
    for row in rows:
        pending.append(_csv_line(row, fields))
        if len(pending) >= chunk:
            yield "".join(pending)
            pending.clear()
    yield "".join(pending)


def _csv_line(row: Sequence[Any], fields: CsvFields) -> str:
    if len(row) == 1 and row[0] in ("", None):
        return '""\r\n'  # a lone empty field, told apart from an empty line
    line = ",".join(map(fields.__getitem__, row))
    if len(row) > 1 and line.startswith(FORMULA_STARTS):  # as CsvFields.first
        line = "'" + line
    return line + "\r\n"


def json_text(data: Any) -> str:
    """Indented JSON with a final newline; key order is the data's own (stable).

    The same text as ``json.dumps(data, indent=2, ensure_ascii=False)`` plus a newline, written
    without its generic encoder: with an indent, the standard library encodes in pure Python
    through nested generators, which took half a second for a 6,000-probe verify report.
    """
    out: list[str] = []
    _json_value(data, out, "\n")
    out.append("\n")
    return "".join(out)


def json_nested(value: Any, depth: int) -> str:
    """``value`` as :func:`json_text` writes it nested ``depth`` levels deep (no final
    newline), so that a large array can be written one item at a time."""
    out: list[str] = []
    _json_value(value, out, "\n" + "  " * depth)
    return "".join(out)


_ENCODE_STR = json.encoder.encode_basestring  # the C implementation where there is one


def _json_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _json_key(key: object) -> str:
    if isinstance(key, str):
        return _ENCODE_STR(key)
    if key is True or key is False or key is None:
        return f'"{json.dumps(key)}"'
    if isinstance(key, int):
        return f'"{int.__repr__(key)}"'
    if isinstance(key, float):
        return f'"{_json_float(key)}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


#: the text of a scalar, by its exact type (a subclass, an enum say, takes the general path)
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _ENCODE_STR,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "null",
    float: _json_float,
}


def _json_value(value: Any, out: list[str], newline: str) -> None:
    """Append ``value`` to ``out``, nested lines starting with ``newline`` plus 2 spaces.

    The items of a list or mapping that are plain scalars (most of them) are written in the
    loop itself, without a call of this function each."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        out.append(_ENCODE_STR(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_json_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "," + inner
        lead = "[" + inner
        for item in value:
            scalar = _SCALARS.get(type(item))
            if scalar is not None:
                out.append(lead + scalar(item))
            else:
                out.append(lead)
                _json_value(item, out, inner)
            lead = separator
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "," + inner
        lead = "{" + inner
        for key, item in value.items():
            name = _ENCODE_STR(key) if type(key) is str else _json_key(key)
            scalar = _SCALARS.get(type(item))
            if scalar is not None:
                out.append(f"{lead}{name}: {scalar(item)}")
            else:
                out.append(f"{lead}{name}: ")
                _json_value(item, out, inner)
            lead = separator
        out.append(newline + "}")
    else:
        raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")


#: what a terminal acts on instead of showing: C0 and C1 controls (escape sequences, line
#: breaks), line and paragraph separators, and the controls that reorder text (bidi)
def _cell(text: str) -> Text:
    """A table cell: shown as :func:`terminal_text`, never read as rich's markup or emoji."""
    from rich.text import Text  # noqa: PLC0415 - rich only where a table is drawn

    return Text(terminal_text(text))


def rich_table_text(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    caption: str | None = None,
    color: bool = False,
) -> str:
    """A boxed terminal table rendered at a fixed width (so output is stable in tests and pipes)."""
    from rich.console import Console  # noqa: PLC0415 - rich only where a table is drawn
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=None if title is None else _cell(title),
        caption=None if caption is None else _cell(caption),
        show_lines=True,
        expand=False,
        title_justify="left",
        caption_justify="left",
    )
    for column in columns:
        table.add_column(_cell(column), overflow="fold")
    for row in rows:
        table.add_row(*map(_cell, row))
    console = Console(
        width=width,
        record=True,
        file=io.StringIO(),
        color_system=None if not color else "standard",
        force_terminal=color,
        highlight=False,
    )
    console.print(table)
    text = console.export_text(styles=color)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
