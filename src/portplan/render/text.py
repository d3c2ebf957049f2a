"""Tables as terminal tables, Markdown, CSV and JSON — deterministic, no timestamps."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from portplan.render.show import ShownTable

__all__ = [
    "csv_text",
    "json_text",
    "markdown_table",
    "one_line",
    "rich_table_text",
    "shown_tables_text",
]


def one_line(text: str) -> str:
    """Free text made safe for a one-line comment: control characters (line breaks, NUL...)
    become spaces and runs of white space one space, so user text can never start a new line
    of a generated ruleset."""
    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(printable.split())


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(map(_md_cell, columns)) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """RFC 4180 CSV with a header row and CRLF line ends, as spreadsheets expect."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def json_text(data: Any) -> str:
    """Indented JSON with a final newline; key order is the data's own (stable)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


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
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=title,
        caption=caption,
        show_lines=True,
        expand=False,
        title_justify="left",
        caption_justify="left",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
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


def shown_tables_text(
    tables: Sequence[ShownTable], fmt: str, *, heading: str, notes: Sequence[str] = (), width: int
) -> str:
    """Render ``portplan show`` tables in one of the output formats."""
    if fmt == "json":
        return json_text(
            {
                "product": heading,
                "notes": list(notes),
                "tables": [
                    {
                        "id": t.id,
                        "title": t.title,
                        "note": t.note,
                        "rows": [dict(zip(t.columns, row, strict=True)) for row in t.rows],
                    }
                    for t in tables
                ],
            }
        )
    if fmt == "csv":
        several = len(tables) > 1
        columns = (
            (("Table", *tables[0].columns) if several else tables[0].columns) if tables else ()
        )
        rows = [((t.title, *row) if several else row) for t in tables for row in t.rows]
        return csv_text(columns, rows)
    if fmt == "md":
        parts = [f"# {heading}\n", *(f"{note}\n" for note in notes)]
        for table in tables:
            if len(tables) > 1:
                parts.append(f"## {table.title}\n")
            if table.note:
                parts.append(f"{table.note}\n")
            parts.append(markdown_table(table.columns, table.rows))
        return "\n".join(parts)
    out = [f"{heading}\n", *(f"{note}\n" for note in notes)]
    for table in tables:
        out.append(
            rich_table_text(table.title, table.columns, table.rows, width=width, caption=table.note)
        )
    return "\n".join(out)
