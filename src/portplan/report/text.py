"""Tables as terminal tables, Markdown, CSV and JSON — deterministic, no timestamps."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "csv_text",
    "json_text",
    "markdown_table",
    "rich_table_text",
]


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
