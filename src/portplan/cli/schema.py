"""``portplan schema``: the JSON Schema of the files users write and of every JSON output."""

from __future__ import annotations

import click

from portplan.cli._options import common_options
from portplan.model.schema import json_schema
from portplan.report.machine import OUTPUT_KINDS, output_schema
from portplan.report.text import json_text

__all__ = ["schema_cmd"]

_INPUT_KINDS = ("product", "deployment")


@click.command("schema")
@click.argument("kind", type=click.Choice([*_INPUT_KINDS, *OUTPUT_KINDS]))
@common_options
def schema_cmd(kind: str) -> None:
    """Print the JSON Schema of an input file or of a JSON output.

    KIND is an input file (product, deployment: for editor validation) or the JSON output of a
    command (audit, catalog, diff, matrix, show, targets, verify: for whoever reads it).
    """
    schema = json_schema(kind) if kind in _INPUT_KINDS else output_schema(kind)
    click.echo(json_text(schema), nl=False)
