"""Sets of integers as sorted, disjoint, non-adjacent inclusive intervals.

One dimension of a packet set: addresses (as integers), IP protocol numbers, ports, ICMP
type and code.  Every :class:`Ranges` is normalised when it is made, so two that hold the same
integers are equal and hash alike, whatever shape they were written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["Ranges"]

Interval = tuple[int, int]


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    ordered = sorted(intervals)
    merged: list[Interval] = []
    for low, high in ordered:
        if low > high:
            raise ValueError(f"interval {low}-{high} is reversed")
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


class Ranges:
    """An immutable set of integers held as intervals: ``Ranges.of([(1, 5), (9, 9)])``."""

    __slots__ = ("_hash", "intervals")

    intervals: tuple[Interval, ...]
    _hash: int | None

    def __init__(self, intervals: Iterable[Interval] = (), *, normalised: bool = False) -> None:
        self.intervals = tuple(intervals) if normalised else _normalise(intervals)
        self._hash = None

    @classmethod
    def of(cls, intervals: Iterable[Interval]) -> Ranges:
        return cls(intervals)

    @classmethod
    def span(cls, low: int, high: int) -> Ranges:
        """Every integer from ``low`` to ``high`` inclusive."""
        return cls(((low, high),), normalised=True)

    @classmethod
    def point(cls, value: int) -> Ranges:
        return cls(((value, value),), normalised=True)

    # -- set algebra ------------------------------------------------------------------------

    def __or__(self, other: Ranges) -> Ranges:
        if not other.intervals:
            return self
        if not self.intervals:
            return other
        return Ranges((*self.intervals, *other.intervals))

    def __and__(self, other: Ranges) -> Ranges:
        a, b = self.intervals, other.intervals
        if not a or not b or a[-1][1] < b[0][0] or b[-1][1] < a[0][0]:
            return _EMPTY
        out: list[Interval] = []
        i = j = 0
        while i < len(a) and j < len(b):
            low = max(a[i][0], b[j][0])
            high = min(a[i][1], b[j][1])
            if low <= high:
                out.append((low, high))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        if out == list(a):
            return self
        return Ranges(out, normalised=True)

    def __sub__(self, other: Ranges) -> Ranges:
        a, b = self.intervals, other.intervals
        if not a or not b or a[-1][1] < b[0][0] or b[-1][1] < a[0][0]:
            return self
        out: list[Interval] = []
        j = 0
        for low, high in a:
            start = low
            while j < len(b) and b[j][1] < start:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= high:
                if b[k][0] > start:
                    out.append((start, b[k][0] - 1))
                start = max(start, b[k][1] + 1)
                if start > high:
                    break
                k += 1
            if start <= high:
                out.append((start, high))
        return Ranges(out, normalised=True)

    def overlaps(self, other: Ranges) -> bool:
        """Whether the two share an integer (cheaper than ``bool(a & b)``)."""
        a, b = self.intervals, other.intervals
        if not a or not b or a[-1][1] < b[0][0] or b[-1][1] < a[0][0]:
            return False
        i = j = 0
        while i < len(a) and j < len(b):
            if a[i][0] <= b[j][1] and b[j][0] <= a[i][1]:
                return True
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return False

    def issubset(self, other: Ranges) -> bool:
        return not (self - other)

    # -- reading ----------------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        return any(low <= value <= high for low, high in self.intervals)

    def __iter__(self) -> Iterator[Interval]:
        return iter(self.intervals)

    def __len__(self) -> int:
        """How many intervals (not integers: see :attr:`size`)."""
        return len(self.intervals)

    @property
    def size(self) -> int:
        """How many integers."""
        return sum(high - low + 1 for low, high in self.intervals)

    @property
    def low(self) -> int:
        """The smallest integer; ``ValueError`` when empty."""
        if not self.intervals:
            raise ValueError("an empty set has no smallest member")
        return self.intervals[0][0]

    @property
    def high(self) -> int:
        if not self.intervals:
            raise ValueError("an empty set has no largest member")
        return self.intervals[-1][1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ranges) and self.intervals == other.intervals

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.intervals)
        return self._hash

    def __repr__(self) -> str:
        text = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.intervals)
        return f"Ranges({text})"


_EMPTY = Ranges((), normalised=True)
