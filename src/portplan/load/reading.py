"""Reading a file the user gave, safely: only regular files (or text already read from
standard input), of a bounded size, in UTF-8.

A FIFO or a device given as a file would hang or exhaust memory; a file beyond
:data:`MAX_INPUT_BYTES` is refused before it is read.  Every refusal is a diagnostic naming the
file and what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from portplan._errors import Diagnostic

__all__ = ["MAX_INPUT_BYTES", "NO_SUCH_FILE", "decode", "file_kind", "read_bytes", "read_text"]

#: The largest product or deployment file portplan reads: 32 MiB, far beyond a deployment of
#: 50,000 hosts (about 6 MiB of YAML).
MAX_INPUT_BYTES = 32 * 1024 * 1024

#: The message of the diagnostic :func:`read_text` gives for a file that does not exist.
NO_SUCH_FILE = "no such file"

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def file_kind(mode: int) -> str:
    """What a file of ``mode`` (``os.stat().st_mode``) is, in words: ``a FIFO (named pipe)``."""
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def _problem(path: Path, message: str, hint: str, line: int | None = None) -> Diagnostic:
    return Diagnostic(
        file=path, line=line, column=None if line is None else 1, message=message, hint=hint
    )


def read_text(
    path: Path, *, expected: str = "a product or deployment file", stdin: bool = True
) -> tuple[str | None, list[Diagnostic]]:
    """The text of the regular file ``path``, or ``None`` and the diagnostic that says why not;
    ``expected`` names what the user should give instead of a directory or a device (``stdin``:
    or ``-``, where standard input is read)."""
    data, problems = read_bytes(path, expected=expected, stdin=stdin)
    if data is None:
        return None, problems
    return decode(path, data)


def read_bytes(
    path: Path, *, expected: str = "a product or deployment file", stdin: bool = True
) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of the regular file ``path`` (a spreadsheet, say), or ``None`` and the
    diagnostic that says why not: the same checks as :func:`read_text`, without decoding.
    ``stdin``: whether the hint may offer ``-`` (standard input) instead."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, [_problem(path, NO_SUCH_FILE, "check the path")]
    except OSError as exc:
        return None, [_problem(path, f"cannot read file: {exc.strerror}", "check the path")]
    if not stat.S_ISREG(info.st_mode):
        return None, [
            _problem(
                path,
                f"is {file_kind(info.st_mode)}, not a regular file",
                f"give {expected}" + (" (or '-' for standard input)" if stdin else ""),
            )
        ]
    if info.st_size > MAX_INPUT_BYTES:
        return None, [_too_large(path, info.st_size)]
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        return None, [_problem(path, f"cannot read file: {exc.strerror}", "check its permissions")]
    if len(data) > MAX_INPUT_BYTES:  # it grew while we looked
        return None, [_too_large(path, len(data))]
    return data, []


def decode(path: Path, data: bytes) -> tuple[str | None, list[Diagnostic]]:
    """``data`` as UTF-8 text (a byte-order mark is dropped), or the diagnostic naming the line
    of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [
            _problem(
                path,
                f"is not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start} "
                "cannot be decoded",
                "save the file as UTF-8",
                line,
            )
        ]


def _too_large(path: Path, size: int) -> Diagnostic:
    return _problem(
        path,
        f"is {size / 2**20:.1f} MiB; portplan reads files of at most "
        f"{MAX_INPUT_BYTES // 2**20} MiB",
        "split the deployment, or check that this is the file you meant",
    )
