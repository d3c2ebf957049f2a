"""Reading vendor port tables: the first half of ``portplan import``.

A vendor's "communication ports" document is a table, or several, in Markdown, HTML, CSV or
XLSX.  This package reads it into plain frozen dataclasses, in two steps that part B of the
import (turning a reading into a product YAML) builds on:

1. **Reading the tables** (:func:`read_document`): a :class:`SourceDocument` holds the
   document's :class:`Table` objects in order.  A table has its ``section`` (the headings above
   it), ``title`` (caption, title row or nearest heading), ``notes`` (the text before it) and
   ``notes_after``, one heading per column (``columns``), header rows, and data :class:`Row`
   objects of :class:`Cell` objects.  Spans are expanded: a cell merged over three rows is three
   cells with the same text, the copies pointing back at the written cell (``origin``).  Every
   cell knows where it stands (:class:`Where`: ``file:line:column``, or ``file:Sheet!B7``).
2. **Mapping and reading the cells** (:func:`interpret`): each column gets a
   :class:`ColumnRole` from its heading (the built-in vocabulary, overridden by a map file:
   :func:`load_column_map`); port cells are read into :class:`PortExpression` values
   (:func:`read_ports`), protocol cells into :class:`ProtocolReading` (:func:`read_protocols`),
   direction cells into :class:`DirectionReading` (:func:`read_direction`).  The result, an
   :class:`Import`, holds one :class:`TableReading` per table, one :class:`ImportedRow` per data
   row with its :class:`Value` objects in column order, and the list of :class:`Unread` cells.

Nothing is dropped and nothing is guessed silently: a cell is either mapped (and, where its
field has a grammar, read) or listed in :attr:`Import.unread` as ``file:line:column: what could
not be read``; where a cell allows several readings, the one chosen is stated in the reading's
``assumptions``.  docs/import.md describes the formats, the vocabulary and the grammars.
"""

from __future__ import annotations

from pathlib import Path

from portplan._errors import Diagnostic, InputError
from portplan.importer._csv import read_csv
from portplan.importer._html import read_html
from portplan.importer._limits import TooLarge
from portplan.importer._markdown import read_markdown
from portplan.importer._portread import read_ports
from portplan.importer._tables import Cell, Format, Hidden, Row, SourceDocument, Table, Where
from portplan.importer._xlsx import XlsxError, read_xlsx
from portplan.importer.columns import BUILT_IN, ColumnMap, ColumnRole, Field, heading_key
from portplan.importer.direction import (
    Arrow,
    Direction,
    DirectionReading,
    TitleEnd,
    format_direction,
    read_direction,
    split_arrow,
    title_direction,
    title_end,
)
from portplan.importer.interpret import (
    Import,
    ImportedRow,
    TableReading,
    Unread,
    Value,
    interpret,
)
from portplan.importer.mapfile import load_column_map, unused_headings
from portplan.importer.ports import (
    Alternative,
    Fault,
    PortExpression,
    PortParameter,
    PortTerm,
    Transport,
    format_ports,
)
from portplan.importer.protocols import STANDARD_TRANSPORTS, ProtocolReading, read_protocols
from portplan.load.reading import decode, read_bytes

__all__ = [
    "BUILT_IN",
    "STANDARD_TRANSPORTS",
    "SUFFIXES",
    "Alternative",
    "Arrow",
    "Cell",
    "ColumnMap",
    "ColumnRole",
    "Direction",
    "DirectionReading",
    "Fault",
    "Field",
    "Format",
    "Hidden",
    "Import",
    "ImportedRow",
    "PortExpression",
    "PortParameter",
    "PortTerm",
    "ProtocolReading",
    "Row",
    "SourceDocument",
    "Table",
    "TableReading",
    "TitleEnd",
    "Transport",
    "Unread",
    "Value",
    "Where",
    "format_direction",
    "format_of",
    "format_ports",
    "heading_key",
    "import_document",
    "interpret",
    "load_column_map",
    "read_direction",
    "read_document",
    "read_ports",
    "read_protocols",
    "read_source",
    "split_arrow",
    "title_direction",
    "title_end",
    "unused_headings",
]

#: File name endings and the format they name.
SUFFIXES = {
    ".md": Format.MARKDOWN,
    ".markdown": Format.MARKDOWN,
    ".html": Format.HTML,
    ".htm": Format.HTML,
    ".xhtml": Format.HTML,
    ".csv": Format.CSV,
    ".tsv": Format.CSV,
    ".xlsx": Format.XLSX,
    ".xlsm": Format.XLSX,
}
_EXPECTED = "a vendor port table (Markdown, HTML, CSV or XLSX)"
_SMALLER = "keep only the port tables in it and import that"


def _refuse(file: str, message: str, hint: str, line: int | None = None) -> InputError:
    return InputError(
        [
            Diagnostic(
                file=file, line=line, column=None if line is None else 1, message=message,
                hint=hint,
            )
        ]
    )  # fmt: skip


def format_of(path: Path | str) -> Format:
    """The format a file's name says; :class:`~portplan.InputError` when it says none."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES))
        raise _refuse(
            str(path),
            f"cannot tell the format of the file from its name ending {suffix or '(none)'!r}",
            f"name it with one of {known}, or give its format",
        )
    return SUFFIXES[suffix]


def read_source(data: bytes, *, file: str, format: Format) -> SourceDocument:
    """The tables of a document already read (from standard input, say); ``file`` is the name
    messages give it.  :class:`~portplan.InputError` when it cannot be read or holds no table."""
    hidden: list[Hidden] = []
    if format is Format.XLSX:
        exhausted = False
        try:
            tables, hidden = read_xlsx(data, file)
        except (XlsxError, TooLarge) as exc:
            raise _refuse(file, str(exc), exc.hint) from None
        except MemoryError:
            exhausted = True
        if exhausted:
            raise _refuse(file, "is too large to read as xlsx", _SMALLER)
    else:
        text, problems = decode(Path(file), data)
        if text is None:
            raise InputError(problems)
        readers = {Format.MARKDOWN: read_markdown, Format.CSV: read_csv}
        exhausted = False
        try:
            if format is Format.HTML:
                tables, hidden = read_html(text, file)
            else:
                tables = readers[format](text, file)
        except TooLarge as exc:
            raise _refuse(file, str(exc), exc.hint, exc.line) from None
        except MemoryError:  # refused below, once the reader's frames (and memory) are freed
            exhausted = True
        except Exception as exc:  # the csv module's errors, say: a NUL byte, a huge field
            if isinstance(exc, InputError):
                raise
            raise _refuse(
                file,
                f"cannot be read as {format.value}: {str(exc) or type(exc).__name__}",
                "check the file",
            ) from exc
        if exhausted:
            raise _refuse(file, f"is too large to read as {format.value}", _SMALLER)
    if hidden and not any(table.rows for table in tables):  # all its rows are hidden
        first = hidden[0]
        raise _refuse(
            file,
            f"holds no visible table row ({format.value}): {len(hidden)} hidden part"
            f"{'s' if len(hidden) != 1 else ''} not read, the first at {first.where}: "
            f"{first.message}",
            "unhide the rows, columns, sheets or tables to import, and import it again",
        )
    if not tables:
        hints = {
            Format.MARKDOWN: "a table is a header line with '|', then a line such as '|---|---|'",
            Format.HTML: "the tables of an HTML file are its <table> elements",
            Format.CSV: "a CSV table needs a header row and at least one data row",
            Format.XLSX: "each sheet's blocks of filled rows are its tables",
        }
        raise _refuse(file, f"holds no table ({format.value})", hints[format])
    if not any(table.rows for table in tables):  # a draft of no flow would say "all read"
        raise _refuse(
            file,
            f"holds table headings but no row ({format.value})",
            "give the document whose tables list the ports, one row per port or flow",
            tables[0].where.line,
        )
    return SourceDocument(file=file, format=format, tables=tuple(tables), hidden=tuple(hidden))


def read_document(path: Path | str, *, format: Format | None = None) -> SourceDocument:
    """The tables of the document at ``path``, its format from its name unless given."""
    data, problems = read_bytes(Path(path), expected=_EXPECTED)
    if data is None:  # first: a folder or a missing file is that, whatever its name
        raise InputError(problems)
    return read_source(data, file=str(path), format=format or format_of(path))


def import_document(
    path: Path | str, *, map_file: Path | str | None = None, format: Format | None = None
) -> Import:
    """:func:`read_document`, then :func:`interpret` with the vocabulary and ``map_file``."""
    columns = load_column_map(map_file) if map_file is not None else None
    return interpret(read_document(path, format=format), columns)
