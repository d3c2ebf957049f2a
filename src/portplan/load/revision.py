"""A deployment as it was at a git revision: ``git:REV:path``.

The deployment is written to a temporary folder, and each product file it names is written
beside it when the loader asks for it (:func:`revision_path`), each read from git on its own
(``git cat-file``, links in the revision's tree followed), so a large repository costs neither
its size in memory nor on disk; an inventory (``hosts_from``), which may read any file of the
repository, is given the revision's whole tree, extracted through a file on disk.  The files
are read as they were at that revision, never from the work tree, whether named by a relative
or an absolute path: a path that leads out of the repository, which has no version of it, is
refused.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path

from portplan._errors import Diagnostic, InputError, ToolError, UsageError
from portplan._tools import read_tool

__all__ = ["PREFIX", "at_revision", "is_revision", "revision_path"]

PREFIX = "git:"
#: how long one git command reading a revision may take (the whole tree, for an inventory)
GIT_SECONDS = 120.0
#: git's words are matched (``is ambiguous``)
_ENV = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}


@dataclass(slots=True)
class _Copy:
    spec: str  #: ``git:REV:path`` as the user gave it
    show: str  #: ``REV:path`` of the deployment for git (``git show``)
    tree: str  #: the revision's tree (its object id)
    scratch: Path  #: the revision's tree, written out (resolved)
    top: Path  #: the repository's work tree (resolved)
    deployment: Path  #: the deployment ``spec`` names, in ``scratch`` (resolved)
    #: ``git:REV:`` and the path of the repository's top as the user's paths are written
    #: (relative to the working folder: ``../`` in a folder of the repository), which the
    #: copy's paths are named by in messages
    shown: str
    folders: tuple[str, ...]  #: ``scratch`` as messages may write it (as made, resolved)
    whole: bool = False  #: whether the revision's whole tree is written out

    def name(self, file: Path | str) -> Path | str:
        """``file`` as the user names it: ``git:REV:path`` for a file of the copy."""
        real = Path(os.path.realpath(file))
        if real == self.deployment:
            return self.spec
        if not real.is_relative_to(self.scratch):
            return file
        return self.shown + real.relative_to(self.scratch).as_posix()

    def text(self, text: str) -> str:
        """``text`` with the paths of files of the copy written as the user names them."""
        for folder in self.folders:
            text = text.replace(f"{folder}{os.sep}", self.shown)
        return text

    def diagnostic(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` with the files of the copy it names written as the user names them."""
        return replace(
            diagnostic,
            file=self.name(diagnostic.file),
            message=self.text(diagnostic.message),
            hint=None if diagnostic.hint is None else self.text(diagnostic.hint),
        )


#: the revision being read, while :func:`at_revision`'s block runs
_reading: ContextVar[_Copy | None] = ContextVar("portplan_revision", default=None)


def revision_path(deployment: Path, written: str, *, tree: bool = False) -> Path | tuple[str, str]:
    """Where to read the file a deployment names as ``written`` (a path relative to its
    folder, or an absolute one): ``deployment.parent / written``, resolved; for a revision's
    deployment (in its copy), the revision's version of that file, written out, so an absolute
    path into the repository is read as it was at the revision too, not from the work tree.
    ``tree``: the file may read others of the repository (an inventory, a script): the
    revision's whole tree is written out.

    What is wrong and what to do, instead, when the file can have no version at the revision:
    a path that leads out of the repository (``../../shared/p.yaml``, ``/opt/products/p.yaml``).
    The other side of a diff, a deployment of the work tree read while the revision's copy is
    there, reads its files as written.
    """
    path = (deployment.parent / written).resolve()
    copy = _reading.get()
    if copy is None or not Path(os.path.realpath(deployment)).is_relative_to(copy.scratch):
        return path
    if Path(written).is_absolute():
        inside = _in_repository(copy.top, Path(written))
        if inside is None:
            return _outside(copy)
        path = (copy.scratch / inside).resolve()
    if not path.is_relative_to(copy.scratch):
        return _outside(copy)
    if tree and not copy.whole:
        _extract_tree(copy)
        copy.whole = True
    if not copy.whole:
        _write(copy, path.relative_to(copy.scratch))
    return path


def _outside(copy: _Copy) -> tuple[str, str]:
    """What to say of a file a revision's deployment names out of the repository."""
    return (
        f"is outside the repository {copy.top}, so it has no version at {copy.spec}",
        "a revision's files are read from its repository only; keep the file in the "
        "repository, or compare files of the work tree",
    )


def _in_repository(top: Path, written: Path) -> Path | None:
    """``written``, an absolute path, relative to the work tree ``top`` when it lies in it
    (as written, or once the links of the work tree are followed), else ``None``."""
    for path in (Path(os.path.normpath(written)), Path(os.path.realpath(written))):
        if path.is_relative_to(top):
            return path.relative_to(top)
    return None


def is_revision(spec: str) -> bool:
    """Whether ``spec`` names a file at a revision (``git:REV:path``)."""
    return spec.startswith(PREFIX) and spec.count(":") >= 2


def _inside(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """The ``data`` filter, that leaves out (instead of failing on) what it refuses: a link
    to a path outside the tree (``/etc/passwd``, ``../../x``) is nothing a deployment may
    read, and must not stop the rest of the revision from being read."""
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None


@contextlib.contextmanager
def at_revision(spec: str) -> Iterator[Path]:
    """The path of ``git:REV:path`` in a temporary copy of the revision's tree."""
    revision, _, name = spec[len(PREFIX) :].partition(":")
    if not revision or not name:
        raise UsageError(f"{spec!r}: write git:REV:PATH, such as git:HEAD~1:deploy/prod.yaml")
    if revision.startswith("-"):  # git would take it for an option (--output=FILE writes FILE)
        raise UsageError(
            f"{spec!r}: a revision does not start with '-'; write git:REV:PATH, such as "
            "git:HEAD~1:deploy/prod.yaml"
        )
    where = Path(name)
    folder = where.parent if str(where.parent) else Path()
    # the folder may be gone from the work tree (moved or deleted since REV): git is asked
    # in the nearest folder that is there, and the missing ones are added to its prefix
    present, missing = _present_folder(folder)
    try:
        top = read_tool(["git", "-C", str(present), "rev-parse", "--show-toplevel"]).strip()
        prefix = read_tool(["git", "-C", str(present), "rev-parse", "--show-prefix"]).strip()
    except ToolError as exc:
        raise UsageError(
            f"{spec}: {present or '.'} is not in a git work tree ({exc}); give PATH as a file "
            "in a git work tree, relative to the current folder"
        ) from None
    prefix += "".join(f"{part}/" for part in missing)
    show = f"{revision}:{prefix}{where.name}"  # (git's path: from the repository's top)
    tree = _tree_of(spec, show, top)
    with tempfile.TemporaryDirectory(prefix="portplan-rev-") as scratch:
        real = Path(os.path.realpath(scratch))
        path = Path(scratch, prefix, where.name)
        copy = _Copy(
            spec,
            show,
            tree,
            real,
            Path(os.path.realpath(top)),
            Path(os.path.realpath(path)),
            f"{PREFIX}{revision}:{_top_as_written(name, prefix)}",
            tuple(dict.fromkeys((scratch, str(real)))),
        )
        inside = Path(os.path.normpath(f"{prefix}{where.name}"))
        found = None if inside.parts[:1] == (os.pardir,) else _write(copy, inside)
        if found is not None:  # a folder
            raise UsageError(_folder_given(spec, revision, name, _names(copy, found)))
        if not path.is_file():
            raise UsageError(
                f"{spec}: {prefix}{where.name} does not exist at {revision}; check the path "
                f"(`git ls-tree --name-only {revision} -- {folder}/` lists what is there)"
            )
        token = _reading.set(copy)
        try:
            yield path
        except InputError as exc:  # every file of the copy named git:REV:path, not by /tmp
            raise InputError(map(copy.diagnostic, exc.diagnostics)) from None
        except (UsageError, ToolError) as exc:
            if type(exc) not in (UsageError, ToolError) or copy.text(str(exc)) == str(exc):
                raise
            raise type(exc)(copy.text(str(exc))) from None
        finally:
            _reading.reset(token)


def _top_as_written(name: str, prefix: str) -> str:
    """The repository's top folder written as ``name``, the path a user gave of the file at
    ``prefix`` (its folder in the repository, ``deploy/``), is: ``""`` from the top itself,
    ``../`` from ``deploy``, as is."""
    depth = len(Path(prefix).parts)
    top = os.path.normpath(os.path.join(os.path.dirname(name) or ".", *[os.pardir] * depth))
    return "" if top == os.curdir else top.rstrip(os.sep) + os.sep


def _git(
    spec: str, show: str, top: Path | str, args: list[str], data: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``git -C top ARGS`` run, ``data`` its input, for ``spec`` (``REV:path`` in the
    repository: ``show``); a :class:`ToolError` when it takes longer than
    :data:`GIT_SECONDS`."""
    try:
        return subprocess.run(
            ["git", "-C", str(top), *args],
            input=data,
            capture_output=True,
            timeout=GIT_SECONDS,
            check=False,
            env=_ENV,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"{spec}: `git {args[0]}` in {top} did not finish within {GIT_SECONDS:g} s; write "
            f"the file out instead, `git show {show} > old.yaml`, with the product files it "
            "names beside it, and diff that"
        ) from None


def _tree_of(spec: str, show: str, top: str) -> str:
    """The object id of the tree of ``revision`` in the repository at ``top``: a
    :class:`UsageError` when there is none, or ``revision`` names several refs."""
    revision = show.partition(":")[0]
    done = _git(
        spec, show, top, ["rev-parse", "--verify", "--end-of-options", f"{revision}^{{tree}}"]
    )
    if done.returncode == 0 and b"is ambiguous" in done.stderr:
        # git takes one of the refs of that name (the tag) and only warns: say which to write
        raise UsageError(
            f"{spec}: {revision!r} is ambiguous in {top}, the name of several refs (a tag and "
            f"a branch, say); write the one you mean in full, such as refs/tags/{revision} or "
            f"refs/heads/{revision} (`git show-ref {revision}` lists them)"
        )
    if done.returncode != 0:
        detail = " ".join(done.stderr.decode(errors="replace").split())
        raise UsageError(
            f"{spec}: no revision {revision!r} in {top} ({detail}); give a commit, branch or "
            "tag of that repository (`git log --oneline` lists its commits)"
        )
    return done.stdout.decode().strip()


def _write(copy: _Copy, inside: Path) -> str | None:
    """Write the file at ``inside`` (a path in the repository) of the revision into its copy,
    links of the revision's tree followed; the object id of the folder when it is one
    (then only made, empty), ``None`` otherwise.  Nothing is written for a path that is not
    there, nor for a link out of the repository (``/etc/passwd``): nothing a deployment may
    read."""
    target = copy.scratch / inside
    if (target.exists() and inside != Path()) or "\n" in str(inside):
        return None  # (written already; git reads a line a path)
    asked = copy.tree if inside == Path() else f"{copy.tree}:{inside.as_posix()}"
    done = _git(
        copy.spec,
        copy.show,
        copy.top,
        ["cat-file", "--batch", "--follow-symlinks"],
        f"{asked}\n".encode(),
    )
    header, _, body = done.stdout.partition(b"\n")
    words = header.split()
    # "OID TYPE SIZE"; what is not found is "NAME missing", and a name may hold spaces
    # ("deploy/old blob missing")
    found = len(words) == 3 and words[1] in (b"blob", b"tree") and words[2].isdigit()
    if done.returncode != 0 or not found:
        return None  # missing, or a link out of the tree, dangling, a loop
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if words[1] == b"tree":
            target.mkdir(exist_ok=True)
            return words[0].decode()
        target.write_bytes(body[: int(words[2])])
    except (NotADirectoryError, FileExistsError):  # a name of the copy is a file: no folder
        pass  # (the loader says what is there)
    return None


def _names(copy: _Copy, tree: str) -> list[str]:
    """The names of the entries of the folder ``tree`` (an object id)."""
    done = _git(copy.spec, copy.show, copy.top, ["ls-tree", "--name-only", "-z", tree])
    return [name.decode(errors="replace") for name in done.stdout.split(b"\0") if name]


def _extract_tree(copy: _Copy) -> None:
    """Write the revision's whole tree into its copy: ``git archive`` into a file on disk,
    extracted from there (never held in memory)."""
    with tempfile.TemporaryFile() as archive:
        try:
            done = subprocess.run(
                ["git", "-C", str(copy.top), "archive", "--format=tar", copy.tree],
                stdout=archive,
                stderr=subprocess.PIPE,
                timeout=GIT_SECONDS,
                check=False,
                env=_ENV,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(
                f"{copy.spec}: `git archive` of {copy.top} did not finish within "
                f"{GIT_SECONDS:g} s (the revision's whole tree is read, for its inventory); "
                "write the files out instead, `git show REV:PATH > old.yaml`, and diff that"
            ) from None
        if done.returncode != 0:
            detail = " ".join(done.stderr.decode(errors="replace").split())
            raise ToolError(f"{copy.spec}: git archive of {copy.top} failed: {detail}")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(copy.scratch, filter=_inside)


def _present_folder(folder: Path) -> tuple[Path, tuple[str, ...]]:
    """The nearest of ``folder`` and its parents that exists, and the names below it that do
    not (none when ``folder`` exists).  The walk stops at a ``..``, so the names added are
    plain ones and the path stays inside the revision's tree (``nope/../..`` is no folder,
    and git says so)."""
    missing: list[str] = []
    present = folder
    while not present.is_dir() and present.name not in ("", "..") and present != present.parent:
        missing.insert(0, present.name)
        present = present.parent
    return present, tuple(missing)


def _folder_given(spec: str, revision: str, name: str, names: list[str]) -> str:
    """What to say when ``git:REV:PATH`` names a folder, holding ``names``: give a file in it,
    such as one of its YAML files (named, the first few)."""
    yaml_files = sorted(n for n in names if Path(n).suffix in {".yaml", ".yml"})
    example = f"git:{revision}:{name.rstrip('/')}/{yaml_files[0] if yaml_files else 'FILE'}"
    shown = ", ".join(yaml_files[:4]) + (", ..." if len(yaml_files) > 4 else "")
    holds = f" (it holds {shown})" if yaml_files else " (it holds no YAML file)"
    return (
        f"{spec}: {name.rstrip('/')} is a folder at {revision}, not a file{holds}; give a file "
        f"in it, such as {example}"
    )
