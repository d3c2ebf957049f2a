"""Boxes found by their source addresses, so that set operations on large spaces compare a box
with the few boxes it can overlap instead of with all of them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from portplan.spaces._ranges import Ranges

__all__ = ["BoxIndex"]


class _Box(Protocol):
    """What the index reads of a box: its family and its source addresses."""

    @property
    def family(self) -> int: ...

    @property
    def sources(self) -> Ranges: ...


Box = TypeVar("Box", bound=_Box)

#: boxes whose sources span more addresses than this are not indexed: always candidates
WIDE = 2**16


class BoxIndex(Generic[Box]):
    """Narrow boxes sorted by their lowest source address (per family); wide ones apart."""

    __slots__ = ("items", "lows", "wide", "width")

    def __init__(self, boxes: Iterable[Box] = ()) -> None:
        self.lows: dict[int, list[int]] = {}
        self.items: dict[int, list[Box]] = {}
        self.width: dict[int, int] = {}
        self.wide: list[Box] = []
        narrow: dict[int, list[Box]] = {}
        for box in boxes:
            span = box.sources.high - box.sources.low
            if span > WIDE:
                self.wide.append(box)
            else:
                narrow.setdefault(box.family, []).append(box)
                self.width[box.family] = max(self.width.get(box.family, 0), span)
        for family, found in narrow.items():
            found.sort(key=lambda b: b.sources.low)
            self.items[family] = found
            self.lows[family] = [b.sources.low for b in found]

    def add(self, box: Box) -> None:
        span = box.sources.high - box.sources.low
        if span > WIDE:
            self.wide.append(box)
            return
        lows = self.lows.setdefault(box.family, [])
        items = self.items.setdefault(box.family, [])
        at = bisect_right(lows, box.sources.low)
        lows.insert(at, box.sources.low)
        items.insert(at, box)
        self.width[box.family] = max(self.width.get(box.family, 0), span)

    def candidates(self, box: _Box) -> Iterator[Box]:
        """The boxes that may overlap ``box`` (a superset of those that do)."""
        for wide in self.wide:
            if wide.family == box.family:
                yield wide
        lows = self.lows.get(box.family)
        if not lows:
            return
        start = bisect_left(lows, box.sources.low - self.width[box.family])
        stop = bisect_right(lows, box.sources.high)
        yield from self.items[box.family][start:stop]
