"""Reading the user's files (``-`` is standard input) and writing outputs, the same way in
every command.

Writing follows four rules: never over a file that was read as input (the deployment, its
product files, after resolving links and relative paths); never over an existing file without
``--overwrite``; atomically (a temporary file in the same folder, renamed into place, removed
on any failure or signal), all files of one command or none; and with the mode a new file
gets from the umask, or the mode of the file it replaces.  A device or FIFO given as output
(``/dev/stdout``) is written to directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import click

from portplan._errors import InputError, UsageError
from portplan._signals import signals_held
from portplan._text import counted, escaped
from portplan.cli._log import log
from portplan.cli._writable import (
    refuse_existing,
    refuse_file_above,
    refuse_input,
    status,
    write_failed,
)
from portplan.load.reading import MAX_INPUT_BYTES, decode

__all__ = [
    "STDIN_NAME",
    "Output",
    "is_stdio",
    "read_input",
    "width",
    "write_files",
    "write_output",
]

#: an output: its bytes, or what writes them into a (seekable) binary file, for an output
#: too large to be held in memory first
Output = bytes | Callable[[IO[bytes]], None]

#: how standard input is named in messages (``<stdin>:3:5: error: ...``)
STDIN_NAME = Path("<stdin>")

#: the key of the click context's meta that says standard input has been read
_STDIN_READ = "portplan.stdin_read"
#: how many of the files to write a message about them names
_NAMES_SHOWN = 4


def is_stdio(path: str | Path | None) -> bool:
    """Whether ``path`` stands for standard input or output: no path, or ``-``."""
    return path is None or str(path) == "-"


def _is_folder(output: str) -> bool:
    """Whether ``output`` names a folder: written with a trailing ``/``, or an existing one."""
    found = status(Path(output))
    return output.endswith(os.sep) or (found is not None and stat.S_ISDIR(found.st_mode))


def read_input(path: Path) -> tuple[Path, str | None]:
    """``(name, text)`` of an input argument: for ``-``, standard input's content under the
    name ``<stdin>``; otherwise the path itself and ``None`` (the loader reads the file)."""
    if str(path) != "-":
        return path, None
    context = click.get_current_context(silent=True)
    if context is not None:  # a second '-' would read nothing, and say so misleadingly
        if context.meta.get(_STDIN_READ):
            raise UsageError(
                "standard input ('-') can be read only once; give the other inputs as files"
            )
        context.meta[_STDIN_READ] = True
    data = click.get_binary_stream("stdin").read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"standard input holds more than {MAX_INPUT_BYTES // 2**20} MiB; portplan reads "
            "product and deployment files of at most that size"
        )
    text, problems = decode(STDIN_NAME, data)  # where the first byte that is not UTF-8 is
    if text is None:
        raise InputError(problems)
    return STDIN_NAME, text


def width() -> int:
    """Columns of the terminal (120 when not a terminal), for tables."""
    return shutil.get_terminal_size((120, 24)).columns


def _survey(targets: Sequence[Path]) -> dict[Path, os.stat_result | None]:
    """What is at each target now (its status, links followed; ``None``: nothing), from one
    listing of each folder: thousands of files are looked at without a call each."""
    # Where each target really is: ``new/../deploy.yaml`` is deploy.yaml once ``new`` has
    # been made, so a folder that does not exist yet must not hide what is there.
    by_folder: dict[str, list[tuple[Path, str]]] = {}
    real: dict[Path, str] = {}  # each folder resolved once (thousands of rulesets share one)
    for target in targets:
        parent = target.parent
        if parent not in real:
            real[parent] = os.path.realpath(parent)
        by_folder.setdefault(real[parent], []).append((target, target.name))
    found: dict[Path, os.stat_result | None] = {}
    for folder, paths in by_folder.items():
        try:
            with os.scandir(folder) as listing:
                entries = {entry.name: entry for entry in listing}
        except (FileNotFoundError, NotADirectoryError):
            entries = {}
        except PermissionError:  # a folder that may be written, not listed: each on its own
            found.update((path, status(path)) for path, _name in paths)
            continue
        for path, name in paths:
            entry = entries.get(name)
            try:
                found[path] = None if entry is None else entry.stat()
            except FileNotFoundError:  # a link to nothing
                found[path] = None
    return found


def _refuse_inputs(
    targets: Sequence[Path], inputs: Sequence[Path], present: Mapping[Path, object]
) -> None:
    """Refuse a target that is one of ``inputs``; only targets that exist can be one
    (``present``), and each is resolved (links, ``..``) before comparing."""
    read = set()
    for path in inputs:
        if path == STDIN_NAME:
            continue
        try:
            read.add(path.resolve())
        except OSError:
            continue
    for target in targets:
        if present.get(target) is not None and target.resolve() in read:
            refuse_input(target)


def _temporary(target: str, number: int, mode: int, pid: int) -> tuple[int, str]:
    """A new file beside ``target`` that nobody else has (created exclusively), with ``mode``
    less the umask."""
    folder, base = os.path.split(target)
    name = os.path.join(folder, f".{base}.{pid}-{number}.tmp")
    try:
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode), name
    except FileExistsError:  # left by an earlier process of the same id
        fd, name = tempfile.mkstemp(prefix=f".{base}.", dir=folder or None)
        os.fchmod(fd, mode)
        return fd, name


def _put_bytes(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stage(
    target: str,
    data: Output,
    mode: int,
    number: int,
    temporaries: list[str],
    umask: int,
    pid: int,
) -> None:
    """Write ``data`` to a new temporary file beside ``target`` (recorded in ``temporaries``
    before anything can interrupt) with ``mode``.  Bytes go straight to the file (thousands
    of rulesets: no file object, the fewest system calls)."""
    with signals_held():  # the cleanup always knows every temporary file there is
        fd, name = _temporary(target, number, mode, pid)
        temporaries.append(name)
    try:
        if mode & ~umask != mode:  # the umask took away bits of the mode asked for
            os.fchmod(fd, mode)
        if isinstance(data, bytes):
            _put_bytes(fd, data)
        else:
            with os.fdopen(fd, "wb", closefd=False) as handle:
                data(handle)
    finally:
        os.close(fd)


def _write_all(
    outputs: Sequence[tuple[Path, Output]], present: Mapping[Path, os.stat_result | None]
) -> None:
    """Write every output or none: all staged first, then all renamed into place; on an error
    or a signal (it arrives as an exception) no temporary file stays.  A new file gets the
    umask's mode, a replaced one keeps its own (``present``: what is there now)."""
    temporaries: list[str] = []  # in the order of ``outputs``
    renamed = 0  # the first ``renamed`` temporaries are in place
    current = Path()
    umask = os.umask(0)
    os.umask(umask)
    new_mode = 0o666 & ~umask
    pid = os.getpid()  # (every temporary file's name has it)
    folders: set[Path] = set()
    try:
        for number, (current, data) in enumerate(outputs):
            if current.parent not in folders:
                current.parent.mkdir(parents=True, exist_ok=True)
                folders.add(current.parent)
            there = present.get(current)
            mode = new_mode if there is None else stat.S_IMODE(there.st_mode)
            _stage(str(current), data, mode, number, temporaries, umask, pid)
        for temporary, (current, _data) in zip(temporaries, outputs, strict=True):
            os.replace(temporary, current)
            renamed += 1
    except OSError as exc:
        raise write_failed(current, exc) from exc
    finally:
        for temporary in temporaries[renamed:]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _unspool(data: Output, stream: IO[bytes]) -> None:
    """Write ``data`` to a stream that cannot seek (standard output, a device): through a
    temporary file when it is written by a writer."""
    if isinstance(data, bytes):
        stream.write(data)
        return
    with tempfile.TemporaryFile() as spool:
        data(spool)
        spool.seek(0)
        shutil.copyfileobj(spool, stream)


def _write_device(target: Path, data: Output) -> None:
    try:
        with open(target, "wb") as handle:
            _unspool(data, handle)
    except OSError as exc:
        raise write_failed(target, exc) from exc


def write_output(
    output: str | None, data: Output, inputs: Sequence[Path], *, overwrite: bool = False
) -> None:
    """Write one output to ``output``, or to standard output (see the module's rules);
    ``data`` may be a writer, called with the file to write into."""
    if output is None or is_stdio(output):
        stream = click.get_binary_stream("stdout")
        _unspool(data, stream)
        stream.flush()
        return
    target = Path(output)
    refuse_file_above(target)
    if _is_folder(output):
        raise UsageError(f"{escaped(output)} is a folder; give a file name")
    there = status(target)
    if there is not None and not stat.S_ISREG(there.st_mode):
        _write_device(target, data)
        return
    present = _survey([target])
    _refuse_inputs([target], inputs, present)
    refuse_existing([target], overwrite, present)
    _write_all([(target, data)], present)


def _refuse_alike(files: Mapping[str, str]) -> None:
    """Refuse names that differ in case only (hosts ``Web`` and ``web``): on a file system
    that ignores case (Windows, macOS, many shares) one file would replace the other, and a
    host would get another host's rules."""
    seen: dict[str, str] = {}
    for name in sorted(files):
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise UsageError(
                f"the files {escaped(other)} and {escaped(name)} differ only in case: where case "
                "is ignored (Windows, macOS, many network shares) one would replace the other; "
                "rename one of the hosts in the deployment"
            )


def write_files(
    output: str | None,
    files: Mapping[str, str],
    inputs: Sequence[Path],
    *,
    overwrite: bool = False,
) -> None:
    """One file to ``output`` (or standard output); several, or any number given a folder
    (``-o rules/`` or an existing folder), into the folder ``output``."""
    if len(files) == 1 and (output is None or is_stdio(output) or not _is_folder(output)):
        (text,) = files.values()
        write_output(output, text.encode(), inputs, overwrite=overwrite)
        return
    if output is None or is_stdio(output):
        names = sorted(files)
        more = ", ..." if len(names) > _NAMES_SHOWN else ""
        raise UsageError(
            f"{counted(len(files), 'file')} to write ({escaped(', '.join(names[:_NAMES_SHOWN]))}"
            f"{more}): "
            "give -o FOLDER"
        )
    folder = Path(output)
    refuse_file_above(folder)
    there = status(folder)
    if there is not None and not stat.S_ISDIR(there.st_mode):
        raise UsageError(
            f"{escaped(output)} is a file, not a folder: give -o FOLDER for the "
            f"{counted(len(files), 'file')} to write"
        )
    _refuse_alike(files)
    targets = [folder / name for name in files]
    present = _survey(targets)
    _refuse_inputs(targets, inputs, present)
    refuse_existing(targets, overwrite, present)
    _write_all([(folder / name, text.encode()) for name, text in files.items()], present)
    log.info("wrote %s to %s", counted(len(files), "file"), output)
