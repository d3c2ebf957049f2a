"""``portplan validate``: every problem of product and deployment files, located."""

from __future__ import annotations

from pathlib import Path

import click

from portplan._errors import InputError, UsageError
from portplan._text import terminal_text
from portplan.cli._files import read_input
from portplan.cli._options import InputPath, common_options
from portplan.pipeline import check_files

__all__ = ["validate_cmd"]


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=InputPath(path_type=Path))
@common_options
def validate_cmd(files: tuple[Path, ...]) -> None:
    """Check product and deployment FILES; report every problem with file:line:column.

    Deployments are also expanded, so a missing parameter or platform is found too. One FILE
    may be '-' to read standard input.
    """
    if sum(str(f) == "-" for f in files) > 1:
        raise UsageError(
            "standard input ('-') can be read only once; give the other inputs as files"
        )
    names: list[Path] = []
    texts: dict[Path, str] = {}
    for path in files:
        name, text = read_input(path)
        names.append(name)
        if text is not None:
            texts[name] = text
    summaries, problems = check_files(names, texts)
    for line in summaries:  # what is valid is said, also when other files are not
        click.echo(terminal_text(line, newlines=False))  # a name's line break starts no line
    if problems:
        raise InputError(problems)
