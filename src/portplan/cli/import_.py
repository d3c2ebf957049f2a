"""``portplan import``: a vendor's port table (Markdown, HTML, CSV, XLSX) to a draft product."""

from __future__ import annotations

import re
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan.cli._exit import ExitCode
from portplan.cli._files import STDIN_NAME, write_output
from portplan.cli._log import log
from portplan.cli._options import InputPath, common_options, option, output_option
from portplan.importer import (
    Format,
    interpret,
    load_column_map,
    read_document,
    read_source,
    unused_headings,
)
from portplan.importer.draft import draft_yaml
from portplan.load.reading import MAX_INPUT_BYTES
from portplan.model._types import MAX_NAME, PRODUCT_ID_PATTERN

__all__ = ["import_cmd"]


def _product_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--id``, checked before the document is read (the draft would not validate)."""
    if value and not re.fullmatch(PRODUCT_ID_PATTERN, value):
        raise UsageError(
            f"--id {value!r} is not a product id: write lower-case letters, digits and '_', in "
            "parts joined by '-' or '.', the first a letter (shopping-6.1)"
        )
    if value and len(value) > MAX_NAME:  # (the draft's validation was a traceback)
        raise UsageError(
            f"--id is {len(value)} characters long: a product id has at most {MAX_NAME}; give "
            "a shorter one"
        )
    return value


@click.command("import")
@click.argument("file", type=InputPath(path_type=Path))
@option(
    "--map",
    "map_file",
    type=InputPath(path_type=Path),
    metavar="MAP.yaml",
    help="Map the document's unusual column headings to model fields (see docs/import.md).",
)
@option(
    "--input-format",
    type=click.Choice([f.value for f in Format]),
    help="The document's format, when its file name does not say (always for '-').",
)
@option(
    "--id",
    "product_id",
    metavar="ID",
    callback=_product_id,
    help="The product id [default: from the file name].",
)
@option(
    "--name",
    metavar="TEXT",
    help="The product name [default: the heading over every table, else the file name].",
)
@option(
    "--version",
    "product_version",
    metavar="TEXT",
    help="The product version the document describes [default: unspecified].",
)
@output_option("Write the draft product to PATH ('-': standard output).")
@common_options
def import_cmd(
    file: Path,
    map_file: Path | None,
    input_format: str | None,
    product_id: str | None,
    name: str | None,
    product_version: str | None,
    output: str | None,
    overwrite: bool,
) -> None:
    """Read a vendor port table from FILE into a draft product YAML; exit 1 if cells are unread.

    FILE is Markdown, HTML (rowspan/colspan), CSV or XLSX (merged cells), or '-' for standard
    input with --input-format. Columns are mapped by their headings (--map for unusual ones),
    port and direction cells are read, and every flow records where it came from (file,
    table, row, cells). Every cell that could not be read is listed as file:line:column: what,
    on standard error; the draft is written all the same, for a person to complete and review.
    """
    kind = Format(input_format) if input_format else None
    columns = load_column_map(map_file) if map_file is not None else None  # first, as ever
    if str(file) == "-":
        if kind is None:
            raise UsageError("reading standard input ('-') needs --input-format")
        data = click.get_binary_stream("stdin").read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            raise UsageError(
                f"standard input holds more than {MAX_INPUT_BYTES // 2**20} MiB; portplan "
                "reads documents of at most that size"
            )
        document = read_source(data, file=str(STDIN_NAME), format=kind)
    else:
        document = read_document(file, format=kind)
    reading = interpret(document, columns)
    for heading, where in unused_headings(columns, document) if columns else ():
        log.warning(
            "%s: the map's heading '%s' names no column of %s, so it changes nothing; write it "
            "as the document heads the column (case, spaces and a trailing '?' do not count)",
            where,
            heading,
            document.file,
        )
    shown_name = output if output and output != "-" else "product.yaml"
    draft = draft_yaml(
        reading, product_id=product_id, name=name, version=product_version, file=shown_name
    )
    unread, flows = draft.unread, draft.flows
    inputs = [file] if str(file) != "-" else []
    if map_file is not None:
        inputs.append(map_file)
    write_output(output, draft.text.encode(), inputs, overwrite=overwrite)
    rows = sum(len(t.rows) for t in reading.tables)
    for item in unread:
        click.echo(f"{item}", err=True)
    tables = len(reading.tables)
    summary = (
        f"{rows} row{'s' if rows != 1 else ''} in {tables} table{'s' if tables != 1 else ''} "
        f"read into {flows} flow{'s' if flows != 1 else ''}"
    )
    if unread:
        log.warning(
            "%s; %d cell%s could not be read: complete the draft by hand",
            summary,
            len(unread),
            "s" if len(unread) != 1 else "",
        )
        raise click.exceptions.Exit(ExitCode.DIFFERENCE)
    log.info("%s; every cell was read", summary)
