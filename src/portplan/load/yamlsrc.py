"""YAML → plain Python data plus a side table of where every key and value was written.

The data is built here from the events of libyaml's parser, never by PyYAML's composer and
constructors, so that a hostile or mistaken file can neither crash nor hang portplan nor be
silently read as something else:

* nesting deeper than :data:`MAX_DEPTH` is refused as it is met (libyaml's composer recurses
  and a deep enough file overflows its stack);
* aliases are bounded in number (:data:`MAX_ALIASES`) and in what they expand to
  (:data:`MAX_EXPANDED`), so a kilobyte cannot stand for gigabytes;
* plain scalars follow the YAML 1.2 core schema, strictly (:mod:`portplan.load.yamlscalar`:
  ``yes`` is text, ``0443`` and ``0x1bb`` are refused); explicit tags other than ``!!str`` are
  refused;
* duplicate keys, merge keys (``<<``), keys that are lists or mappings and several documents in
  one file are problems, all collected, each at its line and column.

The user's data never carries position markers; positions live in :class:`SourceMap`, keyed by
the path of the value (``("flows", 3, "ports", 0)``), built from the text only when a message
needs one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portplan._errors import Diagnostic, ModelPath, Problem
from portplan.load.reading import read_text
from portplan.load.yamlscalar import NOT_JUST_TEXT, Oddity, resolve_scalar

try:  # libyaml's parser: many times faster on large deployments
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_EXPANDED", "SourceMap", "Span", "load_yaml"]

#: The deepest nesting of lists and mappings a file may have (the models need about 6).
MAX_DEPTH = 64
#: The most aliases (``*name``) a file may use.
MAX_ALIASES = 1000
#: The most values aliases may add by repeating what they name.
MAX_EXPANDED = 100_000
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based line and column in a file."""

    line: int
    column: int


_PENDING = object()  #: a mapping frame waits for its next key
_DISCARD = object()  #: a mapping frame's key was refused: its value is read and dropped


@dataclass(slots=True)
class _Frame:
    """A list or mapping being built, and where it stands."""

    container: dict[Any, Any] | list[Any]
    path: ModelPath
    anchor: str | None
    key: Any = _PENDING
    size: int = 1  #: values in it, itself included (for what an alias of it expands to)
    #: mapping keys seen: key → line (for the message about a duplicate)
    lines: dict[Any, int] = field(default_factory=dict)


class _Abort(Exception):
    """A limit was reached: stop reading; the problem is already recorded."""


class _Builder:
    """Builds plain data from parser events, collecting problems; optionally records where
    each value and key was written (for :class:`SourceMap`)."""

    def __init__(self, file: Path, *, record: bool = False) -> None:
        self.file = file
        self.record = record
        self.early: dict[ModelPath, Span] = {}  #: kept without ``record`` too: see SourceMap
        self.problems: list[Diagnostic] = []
        self.values: dict[ModelPath, Span] = {}
        self.keys: dict[ModelPath, Span] = {}
        self.quoted: set[ModelPath] = set()
        self._anchors: dict[str, tuple[Any, int]] = {}
        self._aliases = 0
        self._expanded = 0
        self._stack: list[_Frame] = []
        self._root: Any = None
        self._documents = 0

    # -- problems ---------------------------------------------------------------------------

    def _problem(self, mark: Any, message: str, hint: str) -> None:
        self.problems.append(
            Diagnostic(
                file=self.file,
                line=mark.line + 1 if mark is not None else None,
                column=mark.column + 1 if mark is not None else None,
                message=message,
                hint=hint,
            )
        )

    # -- the events -------------------------------------------------------------------------

    def build(self, events: Iterable[yaml.Event]) -> Any:
        """The data of the (single) document of ``events``."""
        scalar = yaml.ScalarEvent
        try:
            for event in events:
                if type(event) is scalar:  # most events: a fast path for them
                    self._scalar_event(event)
                else:
                    self._event(event)
        except _Abort:
            return None
        return self._root

    def _scalar_event(self, event: yaml.ScalarEvent) -> None:
        """A scalar: what :meth:`_event` and :meth:`_place` do with one, in fewer steps for
        the common case (a plain word, in a list or as a mapping's value, positions not
        recorded)."""
        if event.tag is None and event.implicit[0]:
            text = event.value
            if text and text[0] not in NOT_JUST_TEXT:  # resolve_scalar would return it as is
                value: Any = text
            else:
                value = self._scalar(event)
        else:
            value = self._scalar(event)
        stack = self._stack
        if not stack or self.record:
            self._place(value, event, quoted=event.style not in (None, ""), size=1)
            return
        if event.anchor is not None:
            self._anchors[event.anchor] = (value, 1)
        frame = stack[-1]
        frame.size += 1
        container = frame.container
        if type(container) is list:
            if len(frame.path) == 3:
                self._early((*frame.path, len(container)), event)
            container.append(value)
        elif frame.key is _PENDING:
            self._key(frame, value, event)
        else:
            key, frame.key = frame.key, _PENDING
            if key is not _DISCARD:
                container[key] = value
                if len(frame.path) == 3:
                    self._early((*frame.path, key), event)

    def _early(self, path: ModelPath, event: Any) -> None:
        """Keep the position of a parameter override (see :class:`SourceMap`)."""
        if path[0] == "products" and path[2] == "parameters":
            mark = event.start_mark
            self.early[path] = Span(mark.line + 1, mark.column + 1)

    def _event(self, event: yaml.Event) -> None:
        """Any event but a scalar (:meth:`build` gives those to :meth:`_scalar_event`)."""
        if isinstance(event, yaml.MappingStartEvent):
            self._start(event, {})
        elif isinstance(event, yaml.SequenceStartEvent):
            self._start(event, [])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self._stack.pop()
            if frame.anchor is not None:
                self._anchors[frame.anchor] = (frame.container, frame.size)
            if self._stack:
                self._stack[-1].size += frame.size
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.DocumentStartEvent):
            self._documents += 1
            if self._documents > 1:
                self._problem(
                    event.start_mark,
                    "a second YAML document ('---') in one file",
                    "keep one product or deployment per file",
                )
                raise _Abort

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is not None and tag not in (_STR_TAG, "!"):
            self._problem(
                event.start_mark,
                f"explicit YAML tag {tag!r} is not supported",
                "write the value without a tag (quote it to make it text)",
            )
            return event.value
        if tag is not None or not event.implicit[0]:
            return event.value  # quoted, a block scalar, or tagged !!str: text as written
        try:
            return resolve_scalar(event.value)
        except Oddity as oddity:
            self._problem(event.start_mark, str(oddity), oddity.hint)
            return event.value

    def _start(self, event: Any, container: dict[Any, Any] | list[Any]) -> None:
        if event.tag is not None and not event.implicit:
            self._problem(
                event.start_mark,
                f"explicit YAML tag {event.tag!r} is not supported",
                "write the list or mapping without a tag",
            )
        if len(self._stack) >= MAX_DEPTH:
            self._problem(
                event.start_mark,
                f"lists and mappings nested more than {MAX_DEPTH} deep",
                "a product or deployment needs a few levels; check the indentation",
            )
            raise _Abort
        path = self._place(container, event, quoted=False, size=0)
        self._stack.append(_Frame(container, path, event.anchor))

    def _alias(self, event: yaml.AliasEvent) -> None:
        found = self._anchors.get(event.anchor or "")
        if found is None:
            self._problem(
                event.start_mark,
                f"alias *{event.anchor} names no anchor (&{event.anchor}) written before it",
                "define the anchor first, or write the value out",
            )
            self._place(None, event, quoted=False, size=1)
            return
        self._aliases += 1
        value, size = found
        self._expanded += size
        if self._aliases > MAX_ALIASES or self._expanded > MAX_EXPANDED:
            what = (
                f"more than {MAX_ALIASES} aliases"
                if self._aliases > MAX_ALIASES
                else f"aliases that repeat more than {MAX_EXPANDED} values"
            )
            self._problem(event.start_mark, f"the file uses {what}", "write the values out")
            raise _Abort
        self._place(value, event, quoted=False, size=size)

    def _place(self, value: Any, event: Any, *, quoted: bool, size: int) -> ModelPath:
        """Put ``value`` where the parser stands: the root, an item, a key or a key's value."""
        mark = event.start_mark
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(value, dict | list):
            self._anchors[anchor] = (value, 1)
        if not self._stack:
            self._root = value
            path: ModelPath = ()
        else:
            frame = self._stack[-1]
            frame.size += size
            container = frame.container
            if isinstance(container, list):
                path = (*frame.path, len(container))
                container.append(value)
            elif frame.key is _PENDING:
                self._key(frame, value, event)
                return frame.path  # (a key has no path of its own)
            else:
                key, frame.key = frame.key, _PENDING
                if key is _DISCARD:  # the value of a refused key: read, not kept
                    return frame.path
                path = (*frame.path, key)
                container[key] = value
        if self.record:
            self.values[path] = Span(mark.line + 1, mark.column + 1)
            if quoted:
                self.quoted.add(path)
        elif len(path) == 4:
            self._early(path, event)
        return path

    def _key(self, frame: _Frame, key: Any, event: Any) -> None:
        mark = event.start_mark
        frame.key = _DISCARD
        if type(event) is not yaml.ScalarEvent:
            self._problem(
                mark,
                "a mapping key must be a plain name, not a list or mapping",
                "write the key as text",
            )
            if type(event) is not yaml.AliasEvent:  # the container just placed is dropped
                return
            return
        if key == "<<" and event.implicit[0]:
            self._problem(
                mark, "YAML merge keys (<<) are not supported", "write the keys out in full"
            )
            return
        first = frame.lines.get(key)
        if first is not None:
            self._problem(
                mark,
                f"duplicate key {key!r} (first written at line {first})",
                "keep one of them; YAML would silently drop the first",
            )
            return
        frame.lines[key] = mark.line + 1
        frame.key = key
        if self.record:
            self.keys[(*frame.path, key)] = Span(mark.line + 1, mark.column + 1)


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Loader(text)
    try:  # (get_event gives None once the stream has ended)
        get = loader.get_event
        while (event := get()) is not None:
            yield event
    finally:
        loader.dispose()


def _syntax_diagnostic(path: Path, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(p for p in (exc.context, exc.problem) if p)
    hint = "fix the indentation, quoting or brackets at that spot"
    opened = exc.context_mark
    context = exc.context or ""
    if "quoted" in context and "escape" in (exc.problem or "") and mark is not None:
        # a bad escape (\q, \ud800) in closed quotes: point at it, not at the quote
        what = f"invalid escape in double-quoted text: {exc.problem}"
        hint = "write the character itself, or single quotes where a backslash is meant"
    elif opened is not None and ("flow" in context or "quoted" in context):
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


def _build(path: Path, text: str, *, record: bool) -> tuple[Any, _Builder]:
    builder = _Builder(path, record=record)
    try:
        data = builder.build(_events(text))
    except yaml.MarkedYAMLError as exc:
        builder.problems.append(_syntax_diagnostic(path, exc))
        return None, builder
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)  # libyaml
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        builder.problems.append(
            Diagnostic(
                file=path,
                line=line,
                column=column,
                message=f"character U+{code:04X} is not allowed in YAML ({exc.reason})",
                hint=f"remove it, or write it as an escape in double quotes ({_escape(code)})",
            )
        )
        return None, builder
    except yaml.YAMLError as exc:
        builder.problems.append(
            Diagnostic(
                file=path,
                line=None,
                column=None,
                message=f"YAML error: {exc}",
                hint="fix the file's YAML",
            )
        )
        return None, builder
    if builder._documents == 0 and not builder.problems:
        builder.problems.append(
            Diagnostic(
                file=path,
                line=1,
                column=1,
                message="the file is empty",
                hint="write the model as a YAML mapping",
            )
        )
    return data, builder


def _escape(code: int) -> str:
    """The YAML double-quoted escape of the character ``code``: ``\\x00``, ``\\uFFFE``."""
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


_Spans = dict[ModelPath, Span]


class SourceMap:
    """Where the values (and mapping keys) of one file were written.

    Built from the file's text when a message first needs a position: a file that loads and
    validates cleanly never pays for positions it will not report.  A deployment's parameter
    overrides, which every plan names by ``file:line``, are placed from the first reading.
    """

    __slots__ = ("_built", "_early", "_text", "file")

    def __init__(self, file: Path, text: str | None = None, early: _Spans | None = None) -> None:
        self.file, self._text, self._early = file, text, early or {}
        self._built: _Builder | None = None

    def _positions(self) -> _Builder:
        if self._built is None:
            if self._text is None:
                self._built = _Builder(self.file, record=True)
            else:
                _data, self._built = _build(self.file, self._text, record=True)
        return self._built

    def has(self, path: ModelPath) -> bool:
        """Whether the file itself writes a value at ``path``."""
        return path in self._positions().values

    def value(self, path: ModelPath) -> Span | None:
        """Span of the value at ``path``, or of its closest written ancestor."""
        if self._built is None and path in self._early:
            return self._early[path]
        values = self._positions().values
        for end in range(len(path), -1, -1):
            span = values.get(path[:end])
            if span is not None:
                return span
        return None

    def key(self, path: ModelPath) -> Span | None:
        """Span of the key naming ``path`` (falls back to the value's span)."""
        return self._positions().keys.get(path) or self.value(path)

    def is_quoted(self, path: ModelPath) -> bool:
        """Whether the scalar at ``path`` is written in quotes."""
        return path in self._positions().quoted

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


def load_yaml(
    path: Path,
    text: str | None = None,
    *,
    expected: str = "a product or deployment file",
    stdin: bool = True,
) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Read one YAML document; return its data, its source map and every problem found.

    ``text``, when given, is the content (read from standard input, say); otherwise the file is
    read (only a regular file, see :mod:`portplan.load.reading`: ``expected`` and ``stdin``
    say what to give instead of a FIFO or a folder).  With problems, the data is not to be used.
    """
    if text is None:
        text, problems = read_text(path, expected=expected, stdin=stdin)
        if text is None:
            return None, SourceMap(path), problems
    data, builder = _build(path, text, record=False)
    return data, SourceMap(path, text, builder.early), builder.problems
