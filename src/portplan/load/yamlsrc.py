"""YAML → plain Python data plus a side table of where every key and value was written.

The user's data never carries position markers; positions live in :class:`SourceMap`, keyed by
the path of the value (``("flows", 3, "ports", 0)``).  Syntax errors and duplicate keys are
collected as diagnostics rather than raised one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from portplan._errors import Diagnostic, ModelPath, Problem

try:  # the C loader is many times faster on large deployments
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


#: The message of the diagnostic :func:`load_yaml` gives for a file that does not exist.
NO_SUCH_FILE = "no such file"


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based line and column in a file."""

    line: int
    column: int


class SourceMap:
    """Where the values (and mapping keys) of one file were written.

    Built lazily from the file's text: a file that loads and validates cleanly never pays for
    positions it will not report.
    """

    __slots__ = ("_index", "_keys", "_quoted", "_root", "_text", "_values", "file")

    def __init__(self, file: Path, text: str | None = None) -> None:
        self.file = file
        self._text = text  # set: positions are looked up in the composed nodes on demand
        self._root: yaml.Node | None = None
        self._values: dict[ModelPath, Span] = {}
        self._keys: dict[ModelPath, Span] = {}
        self._quoted: set[ModelPath] = set()
        self._index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def _node(self, path: ModelPath) -> tuple[yaml.Node | None, yaml.Node | None, int]:
        """(key node, value node, depth reached) along ``path`` in the composed file."""
        if self._root is None and self._text is not None:
            loader = _Loader(self._text)
            try:
                self._root = loader.get_single_node()
            finally:
                loader.dispose()
        key: yaml.Node | None = None
        node = self._root
        depth = 0
        for part in path:
            if isinstance(node, yaml.MappingNode):
                found = self._entries(node).get(str(part))
                if found is None:
                    break
                key, node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                key, node = None, node.value[part]
            else:
                break
            depth += 1
        return key, node, depth

    def _entries(self, node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's (key node, value node) by key text; built once per mapping."""
        entries = self._index.get(id(node))  # the nodes live as long as ``_root``
        if entries is None:
            entries = self._index[id(node)] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    entries.setdefault(k.value, (k, v))  # a duplicate key: the first one wins
        return entries

    def has(self, path: ModelPath) -> bool:
        """Whether the file itself writes a value at ``path``."""
        if self._text is None:
            return path in self._values
        return self._node(path)[2] == len(path)

    def value(self, path: ModelPath) -> Span | None:
        """Span of the value at ``path``, or of its closest written ancestor."""
        if self._text is not None:
            _key, node, _depth = self._node(path)
            return _span(node) if node is not None else None
        for end in range(len(path), -1, -1):
            span = self._values.get(path[:end])
            if span is not None:
                return span
        return None

    def key(self, path: ModelPath) -> Span | None:
        """Span of the key naming ``path`` (falls back to the value's span)."""
        if self._text is not None:
            key, _node, depth = self._node(path)
            return _span(key) if key is not None and depth == len(path) else self.value(path)
        return self._keys.get(path) or self.value(path)

    def is_quoted(self, path: ModelPath) -> bool:
        """Whether the scalar at ``path`` is written in quotes."""
        if self._text is not None:
            _key, node, depth = self._node(path)
            return (
                depth == len(path)
                and isinstance(node, yaml.ScalarNode)
                and node.style in ("'", '"')
            )
        return path in self._quoted

    def diagnostic(
        self,
        path: ModelPath,
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
        column_offset: int = 0,
    ) -> Diagnostic:
        span = self.key(path) if at_key else self.value(path)
        if column_offset and self.is_quoted(path):
            column_offset += 1  # the offset counts from the text, after the opening quote
        return Diagnostic(
            file=self.file,
            line=span.line if span else None,
            column=(span.column + column_offset) if span else None,
            message=message,
            hint=hint,
        )

    def locate(self, problem: Problem) -> Diagnostic:
        """A problem found by model path, located at the value (or key) written there, or at
        the closest enclosing one the file writes."""
        path = problem.path
        while path and not self.has(path):
            path = path[:-1]
        return self.diagnostic(path, problem.message, problem.hint, at_key=problem.at_key)


def _span(node: yaml.Node) -> Span:
    return Span(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: Any, source: SourceMap) -> None:
        self.loader = loader
        self.source = source
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: ModelPath) -> Any:
        self.source._values[path] = _span(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._problem(
                        key_node,
                        "a mapping key must be a plain name, not a list or mapping",
                        "write the key as text",
                    )
                    continue
                key = self.loader.construct_object(key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(
                        key_node,
                        "YAML merge keys (<<) are not supported",
                        "write the keys out in full",
                    )
                    continue
                if key in result:
                    first = self.source._keys[(*path, key)]
                    self._problem(
                        key_node,
                        f"duplicate key {key!r} (first written at line {first.line})",
                        "keep one of them; YAML would silently drop the first",
                    )
                    continue
                self.source._keys[(*path, key)] = _span(key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"'):
            self.source._quoted.add(path)
        return self.loader.construct_object(node)

    def _problem(self, key_node: yaml.Node, message: str, hint: str) -> None:
        """Record a problem with the mapping key written at ``key_node``."""
        span = _span(key_node)
        self.problems.append(
            Diagnostic(
                file=self.source.file,
                line=span.line,
                column=span.column,
                message=message,
                hint=hint,
            )
        )


def _syntax_diagnostic(path: Path, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(p for p in (exc.context, exc.problem) if p)
    hint = "fix the indentation, quoting or brackets at that spot"
    opened = exc.context_mark
    context = exc.context or ""
    if opened is not None and ("flow" in context or "quoted" in context):
        # an unclosed bracket or quote: point where it opens, say where the parser gave up
        kind = "quoted text" if "quoted" in context else "bracket"
        what = f"unclosed {kind}: {exc.problem}"
        if mark is not None:
            what += f", noticed at line {mark.line + 1}, column {mark.column + 1}"
        hint = "add the closing bracket or quote that matches this one"
        mark = opened
    return Diagnostic(
        file=path,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        message=f"YAML syntax error: {what}",
        hint=hint,
    )


def _failure(
    source: SourceMap,
    message: str,
    hint: str,
    *,
    line: int | None = None,
    column: int | None = None,
) -> tuple[None, SourceMap, list[Diagnostic]]:
    """What :func:`load_yaml` returns when it gets no data: ``None``, the map, one diagnostic."""
    diagnostic = Diagnostic(file=source.file, line=line, column=column, message=message, hint=hint)
    return None, source, [diagnostic]


def load_yaml(path: Path, text: str | None = None) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Read one YAML document; return its data, its source map and any problems found.

    The file is only read.  On a syntax error the data is ``None`` and one diagnostic says where.
    """
    source = SourceMap(file=path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _failure(source, NO_SUCH_FILE, "check the path")
        except (OSError, UnicodeDecodeError) as exc:
            return _failure(
                source, f"cannot read file: {exc}", "check the path and that it is UTF-8 text"
            )
    try:
        # Fast path: plain load, positions only computed if a problem needs them.
        data = yaml.load(text, Loader=_FastLoader)
    except (yaml.YAMLError, _NeedsCheck):
        pass
    else:
        if data is not None:
            return data, SourceMap(path, text), []
    return _load_checked(path, text)


class _NeedsCheck(Exception):
    """The fast path met something only the checked path reports well (duplicate or merge keys)."""


class _FastLoader(_Loader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        names = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(names) != len(node.value) or len(set(names)) != len(names) or "<<" in names:
            raise _NeedsCheck
        return super().construct_mapping(node, deep=deep)


def _load_checked(path: Path, text: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Compose node by node, recording every position and collecting every problem."""
    source = SourceMap(path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _failure(
                source, "the file is empty", "write the model as a YAML mapping", line=1, column=1
            )
        builder = _Builder(loader, source)
        data = builder.build(node, ())
        return data, source, builder.problems
    except yaml.MarkedYAMLError as exc:
        return None, source, [_syntax_diagnostic(path, exc)]
    except yaml.YAMLError as exc:
        return _failure(source, f"YAML error: {exc}", "fix the file's YAML")
    finally:
        loader.dispose()
