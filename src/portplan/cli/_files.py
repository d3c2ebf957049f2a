"""Reading the user's files (``-`` is standard input) and writing outputs, the same way in
every command: atomically, and never over a file that was read as input."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from portplan._errors import UsageError
from portplan.cli._options import log

__all__ = ["STDIN_NAME", "is_stdio", "read_input", "width", "write_files", "write_output"]

#: how standard input is named in messages (``<stdin>:3:5: error: ...``)
STDIN_NAME = Path("<stdin>")


def is_stdio(path: Path | None) -> bool:
    """Whether ``path`` stands for standard input or output: no path, or ``-``."""
    return path is None or str(path) == "-"


def read_input(path: Path) -> tuple[Path, str | None]:
    """``(name, text)`` of an input argument: for ``-``, standard input's content under the
    name ``<stdin>``; otherwise the path itself and ``None`` (the loader reads the file)."""
    if str(path) != "-":
        return path, None
    data = click.get_binary_stream("stdin").read()
    try:
        return STDIN_NAME, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text: {exc}") from None


def width() -> int:
    """Columns of the terminal (120 when not a terminal), for tables."""
    return shutil.get_terminal_size((120, 24)).columns


def write_output(output: Path | None, data: bytes, inputs: Sequence[Path]) -> None:
    """Write to ``output`` atomically, or to standard output; never over one of the inputs."""
    if is_stdio(output):
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
        return
    assert output is not None  # for the type checker: is_stdio() said so
    target = output.resolve()
    if any(target == p.resolve() for p in inputs if p != STDIN_NAME):
        raise UsageError(f"refusing to write {output}: it is one of the input files")
    if target.is_dir():
        raise UsageError(f"{output} is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(output: Path | None, files: Mapping[str, str], inputs: Sequence[Path]) -> None:
    """One file to ``output`` or standard output; several into the directory ``output``."""
    if len(files) == 1 and (is_stdio(output) or not (output and output.is_dir())):
        (text,) = files.values()
        write_output(output, text.encode(), inputs)
        return
    if is_stdio(output):
        raise UsageError(
            f"{len(files)} files to write ({', '.join(sorted(files)[:4])}...): give -o DIR"
        )
    assert output is not None  # for the type checker: is_stdio() said so
    output.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_output(output / name, text.encode(), inputs)
    log.info("wrote %d files to %s", len(files), output)
