"""CSV: one table per block of rows between empty rows (rules in :mod:`._blocks`).

The delimiter is sniffed among ``,``, ``;``, tab and ``|`` (a semicolon is what spreadsheets
write in many locales), with ``,`` when the sample says nothing; fields are quoted with ``"``.
Each field keeps the line and character column where it starts, counted in the file, quoted
fields spanning lines included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from portplan._errors import Diagnostic, InputError
from portplan.importer._blocks import tables_from_grid
from portplan.importer._limits import CellCount
from portplan.importer._tables import RawCell, Table, Where, clean_text

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["read_csv"]

_DELIMITERS = ",;\t|"


class _Sniffed(csv.excel):
    """Excel's CSV (RFC 4180 quoting with ``"``) with the delimiter the sample shows."""


def _dialect(text: str) -> type[csv.Dialect]:
    """Only the delimiter is sniffed: the sniffer also guesses a quote character, and takes
    a cell that holds ``''`` for a quoted empty field; vendors' CSV quotes with ``"``.  An
    apostrophe is hidden from it: it would take one next to a ``|`` for a quote, and that
    ``|`` for the delimiter."""
    sample = text[:65536].replace("'", "_")
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel
    return type("_Sniffed", (_Sniffed,), {"delimiter": sniffed.delimiter})


def _starts(lines: list[str], first: int, delimiter: str, quote: str) -> list[tuple[int, int]]:
    """(line, column) where each field of the record starting at line ``first`` starts:
    walks the record's characters as the csv module does, honouring quotes."""
    starts = [(first + 1, 1)]
    quoted = False
    at_field_start = True
    for number in range(first, len(lines)):
        line = lines[number]
        for column, char in enumerate(line):
            if at_field_start and char == quote:
                quoted = True
                at_field_start = False
                continue
            at_field_start = False
            if quoted:
                if char == quote:
                    quoted = False  # a doubled quote re-opens at once on the next char
                continue
            if char == quote:
                quoted = True
            elif char == delimiter:
                starts.append((number + 1, column + 2))
                at_field_start = True
        if not quoted:
            break
    return starts


def read_csv(text: str, file: str) -> list[Table]:
    """The tables of a CSV file, each block of rows with its title, notes and header."""
    dialect = _dialect(text)
    delimiter = str(dialect.delimiter)
    quote = str(dialect.quotechar or '"')
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[list[RawCell]] = []
    first = 0
    count = CellCount("rows", "keep only the port tables in the file and import that")
    for record in _records(reader, file):
        count.add(max(len(record), 1), first + 1)
        starts = _starts(lines, first, delimiter, quote)
        rows.append(
            [
                RawCell(
                    text=clean_text(value),
                    where=Where(file=file, line=starts[k][0], column=starts[k][1])
                    if k < len(starts)
                    else Where(file=file, line=first + 1),
                )
                for k, value in enumerate(record)
            ]
        )
        first = reader.line_num
    return tables_from_grid(rows, file=file, first_number=1, section=())


def _records(reader: Reader, file: str) -> Iterator[list[str]]:
    """The records of ``reader``; one the csv module refuses (a field past its limit, most
    often a quote left open) is an error at the line its record starts on."""
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(
                [
                    Diagnostic(
                        file=file,
                        line=start,
                        column=1,
                        message=f"cannot be read as csv: {exc}",
                        hint="check the quotes of this row: a quote left open takes in the "
                        "lines after it",
                    )
                ]
            ) from None
        yield record
