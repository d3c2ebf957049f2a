"""Feature conditions: small boolean expressions over feature names.

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expr    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | atom
    atom    := NAME | NAME ("==" | "!=") VALUE | "true" | "false" | "(" expr ")"

Examples from the catalog: ``not rbac``, ``appclarity``, ``lab and not exchange``; an
enumerated feature is compared with one of its choices: ``database == mysql``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from portplan._errors import ConditionSyntaxError
from portplan._text import shown

__all__ = [
    "And",
    "Compare",
    "Condition",
    "ConditionSyntaxError",
    "Const",
    "Features",
    "Not",
    "Or",
    "Var",
    "parse_condition",
    "walk",
]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)|(?P<punct>==|!=|[()])|(?P<bad>\S))"
)
_MAX_DEPTH = 64
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


#: the state of a deployment's features: on or off, or the choice of an enumerated one
Features = Mapping[str, bool | str]


@dataclass(frozen=True, slots=True)
class Var:
    name: str

    def evaluate(self, features: Features) -> bool:
        return features[self.name] is True

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return frozenset()

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Compare:
    """``name == value`` (or ``!=`` when not ``equal``): an enumerated feature's choice."""

    name: str
    value: str
    equal: bool = True

    def evaluate(self, features: Features) -> bool:
        return (features[self.name] == self.value) is self.equal

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return frozenset(((self.name, self.value),))

    def __str__(self) -> str:
        return f"{self.name} {'==' if self.equal else '!='} {self.value}"


@dataclass(frozen=True, slots=True)
class Const:
    value: bool

    def evaluate(self, features: Features) -> bool:
        return self.value

    def names(self) -> frozenset[str]:
        return frozenset()

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return frozenset()

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition

    def evaluate(self, features: Features) -> bool:
        return not self.operand.evaluate(features)

    def names(self) -> frozenset[str]:
        return self.operand.names()

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return self.operand.comparisons()

    def __str__(self) -> str:
        inner = str(self.operand)
        return (
            f"not {inner}"
            if isinstance(self.operand, Var | Compare | Const | Not)
            else f"not ({inner})"
        )


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]

    def evaluate(self, features: Features) -> bool:
        return all(o.evaluate(features) for o in self.operands)

    def names(self) -> frozenset[str]:
        return frozenset().union(*(o.names() for o in self.operands))

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return frozenset().union(*(o.comparisons() for o in self.operands))

    def __str__(self) -> str:
        return " and ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]

    def evaluate(self, features: Features) -> bool:
        return any(o.evaluate(features) for o in self.operands)

    def names(self) -> frozenset[str]:
        return frozenset().union(*(o.names() for o in self.operands))

    def comparisons(self) -> frozenset[tuple[str, str]]:
        return frozenset().union(*(o.comparisons() for o in self.operands))

    def __str__(self) -> str:
        return " or ".join(str(o) for o in self.operands)


Condition = Var | Compare | Const | Not | And | Or


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        for match in _TOKEN_RE.finditer(text):
            if match.group("bad") is not None:
                raise ConditionSyntaxError(
                    f"unexpected character {match.group('bad')!r} in condition {shown(text)}; "
                    "use feature names with 'and', 'or', 'not' and parentheses",
                    match.start("bad"),
                )
            kind = "name" if match.group("name") is not None else "punct"
            self.tokens.append((match.group(kind), match.start(kind)))
        self.pos = 0
        self.depth = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def _offset(self) -> int:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else len(self.text)

    def _fail(self, expected: str) -> ConditionSyntaxError:
        found = self._peek()
        what = "the end of the condition" if found is None else repr(found)
        return ConditionSyntaxError(
            f"condition {shown(self.text)}: expected {expected} but found {what}", self._offset()
        )

    def parse(self) -> Condition:
        if not self.tokens:
            raise ConditionSyntaxError("empty condition; write a feature name such as 'rbac'", 0)
        expr = self._or()
        if self._peek() is not None:
            raise self._fail("'and', 'or' or the end")
        return expr

    # (a and b) and c is a and b and c: one flat operand list, so that printing and parsing
    # again gives back an equal condition.
    def _or(self) -> Condition:
        items = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            items.append(self._and())
        flat = tuple(
            o for item in items for o in (item.operands if isinstance(item, Or) else (item,))
        )
        return items[0] if len(items) == 1 else Or(flat)

    def _and(self) -> Condition:
        items = [self._unary()]
        while self._peek() == "and":
            self.pos += 1
            items.append(self._unary())
        flat = tuple(
            o for item in items for o in (item.operands if isinstance(item, And) else (item,))
        )
        return items[0] if len(items) == 1 else And(flat)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ConditionSyntaxError(
                f"condition nested deeper than {_MAX_DEPTH} levels; simplify it", self._offset()
            )

    def _unary(self) -> Condition:
        if self._peek() == "not":
            self.pos += 1
            self._enter()
            operand = self._unary()
            self.depth -= 1
            return Not(operand)
        return self._atom()

    def _atom(self) -> Condition:
        token = self._peek()
        if token == "(":
            self.pos += 1
            self._enter()
            expr = self._or()
            self.depth -= 1
            if self._peek() != ")":
                raise self._fail("')'")
            self.pos += 1
            return expr
        if token is None or token in (")", "==", "!=") or token in ("and", "or"):
            raise self._fail("a feature name, 'not' or '('")
        self.pos += 1
        if token in ("true", "false"):
            return Const(token == "true")
        operator = self._peek()
        if operator in ("==", "!="):
            self.pos += 1
            value = self._peek()
            if value is None or value in ("(", ")", "==", "!=") or value in _KEYWORDS:
                raise self._fail("a value to compare with")
            self.pos += 1
            return Compare(token, value, operator == "==")
        return Var(token)


def walk(condition: Condition) -> Iterator[Condition]:
    """Every node of ``condition``, itself first."""
    yield condition
    if isinstance(condition, Not):
        yield from walk(condition.operand)
    elif isinstance(condition, And | Or):
        for operand in condition.operands:
            yield from walk(operand)


def parse_condition(text: str) -> Condition:
    """Parse a condition; raise :class:`ConditionSyntaxError` (with the offset) if malformed."""
    return _Parser(text).parse()


def is_keyword(name: str) -> bool:
    """Whether ``name`` is a word of the condition language (and cannot name a feature)."""
    return name in _KEYWORDS
