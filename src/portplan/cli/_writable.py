"""Whether an output can be written where ``-o`` says: no file stands where one of its
folders must be, and an existing file is replaced only when ``--overwrite`` is given.  Checked
before a command's work (``check_output``, from ``-o``'s option) and again at the write
(:mod:`._files`): a file may appear meanwhile."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from portplan._errors import OutputError, UsageError
from portplan._text import escaped

__all__ = [
    "check_output",
    "refuse_existing",
    "refuse_file_above",
    "refuse_input",
    "status",
    "write_failed",
]

#: what to do about a write error, by errno
_ADVICE = {
    errno.ENOSPC: "free some space, or write elsewhere",
    errno.EDQUOT: "free some space within your quota, or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "you may not write there: write elsewhere, or as a user who may",
    errno.EPERM: "you may not write there: write elsewhere, or as a user who may",
    errno.ENAMETOOLONG: "the file name is too long for the file system: shorten it",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "that is a folder: give a file name",
}


def write_failed(path: Path, exc: OSError) -> OutputError:
    """The error of an output ``path`` that cannot be written (``exc``), with what to do."""
    advice = _ADVICE.get(exc.errno or 0, "check the path")
    return OutputError(f"cannot write {escaped(str(path))}: {exc.strerror or exc}; {advice}")


def status(path: Path, output: Path | None = None) -> os.stat_result | None:
    """What is at ``path`` (links followed), ``None`` where nothing is; a path that cannot be
    looked at (a folder on the way that may not be searched) is an error about the output
    ``output`` (by default ``path``) that says what to do, not a bare system error."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise write_failed(output or path, exc) from None


def refuse_file_above(path: Path) -> None:
    """Refuse ``path`` when a folder it is to be written in is a file (``-o README.md/x.csv``):
    the nearest of its folders that exists must be a folder."""
    for above in path.parents:
        found = status(above, path)
        if found is None:
            continue  # not there yet: made when written, unless a file stands above it
        if not stat.S_ISDIR(found.st_mode):
            raise UsageError(
                f"cannot write {escaped(str(path))}: {escaped(str(above))} is a file, not a "
                "folder; give an output path whose folders are folders (or move that file away)"
            )
        return


def refuse_input(target: Path) -> None:
    """Refuse to write ``target``, a file read as input."""
    raise UsageError(
        f"refusing to write {escaped(str(target))}: it is one of the input files; write the "
        "output to another path"
    )


def refuse_existing(
    targets: Sequence[Path], overwrite: bool, present: Mapping[Path, os.stat_result | None]
) -> None:
    """Refuse the first of ``targets`` that is an existing file (``present``: what is at
    each), unless ``overwrite``."""
    if overwrite:
        return
    existing = [t for t in targets if (found := present.get(t)) and stat.S_ISREG(found.st_mode)]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UsageError(
            f"{escaped(str(existing[0]))}{more} already exist{'s' if len(existing) == 1 else ''}; "
            "give --overwrite to replace what is there"
        )


def check_output(
    output: str | None, *, overwrite: bool = False, inputs: Sequence[str | os.PathLike[str]] = ()
) -> None:
    """Before any work: refuse at once an output that the write would refuse at its end (a
    file in the way of its folders; an existing file without ``overwrite``), so a plan of
    minutes is not made to be thrown away.  The write checks again: a file may appear
    meanwhile.  Outputs into a folder (``-o rules/``) are named only once made."""
    if output is None or str(output) == "-":
        return
    if not output:  # `-o "$OUT"` with OUT unset: Path("") would be the current folder
        raise UsageError(
            "-o is empty; give a file name, a folder (ending in '/') or '-' for standard output"
        )
    target = Path(output)
    refuse_file_above(target)
    if output.endswith(os.sep):
        return
    found = status(target)
    if found is None:
        return
    for given in inputs:
        with contextlib.suppress(OSError):
            if os.path.samefile(given, target):
                refuse_input(target)
    refuse_existing([target], overwrite, {target: found})
