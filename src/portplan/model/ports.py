"""Ports, port ranges and port sets: parsing, merging and display.

A :class:`PortSet` is always normalised (sorted, overlapping and adjacent ranges merged), so two
sets holding the same ports compare equal whatever order or shape they were written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from portplan._text import shown

MIN_PORT = 1
MAX_PORT = 65535

#: ASCII digits only: ``int()`` would also read other scripts' digits and underscores
_RANGE_RE = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?", re.ASCII)


class PortRange(BaseModel):
    """An inclusive range of port numbers, ``start``..``end`` (a single port has start == end)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    start: int
    end: int

    @model_validator(mode="after")
    def _check(self) -> Self:
        for value in (self.start, self.end):
            if not MIN_PORT <= value <= MAX_PORT:
                raise ValueError(f"port {value} is outside {MIN_PORT}-{MAX_PORT}")
        if self.start > self.end:
            raise ValueError(
                f"range {self.start}-{self.end} is reversed; write it as {self.end}-{self.start}"
            )
        return self

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(start=port, end=port)

    @classmethod
    def parse(cls, text: str | int) -> PortRange:
        """Parse ``443``, ``"443"`` or ``"18118-18126"``; ``ValueError`` says what is wrong."""
        if isinstance(text, bool):
            raise ValueError(f"{shown(text)} is not a port")
        if isinstance(text, int):
            return cls(start=text, end=text)
        match = _RANGE_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"{shown(text)} is neither a port (443) nor a range (18118-18126)")
        if any(len(group) > 5 for group in match.groups() if group):
            raise ValueError(f"{shown(text)} is outside {MIN_PORT}-{MAX_PORT}")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        return cls(start=start, end=end)

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


def merge_ranges(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    """Sort ranges and merge the ones that overlap or touch (``1-5`` and ``6-9`` give ``1-9``)."""
    ordered = sorted(ranges, key=lambda r: (r.start, r.end))
    merged: list[PortRange] = []
    for current in ordered:
        if merged and current.start <= merged[-1].end + 1:
            last = merged[-1]
            if current.end > last.end:
                merged[-1] = PortRange.model_construct(start=last.start, end=current.end)
        else:
            merged.append(current)
    return tuple(merged)


class PortSet(BaseModel):
    """A normalised set of ports: sorted, non-overlapping, non-adjacent ranges."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    ranges: tuple[PortRange, ...] = ()

    @model_validator(mode="after")
    def _normalise(self) -> Self:
        merged = merge_ranges(self.ranges)
        if merged != self.ranges:
            object.__setattr__(self, "ranges", merged)
        return self

    @classmethod
    def of(cls, ranges: Iterable[PortRange]) -> PortSet:
        return cls.model_construct(ranges=merge_ranges(ranges))

    @classmethod
    def parse(cls, text: str) -> PortSet:
        """Parse a comma-separated list of ports and ranges: ``"135,445,49152-65535"``."""
        items = [part for part in text.split(",") if part.strip()]
        if not items:
            raise ValueError("an empty port list")
        return cls.of(PortRange.parse(part) for part in items)

    def union(self, other: PortSet) -> PortSet:
        return PortSet.of((*self.ranges, *other.ranges))

    def __or__(self, other: PortSet) -> PortSet:
        return self.union(other)

    def __contains__(self, port: object) -> bool:
        return any(port in r for r in self.ranges)

    def __iter__(self) -> Iterator[int]:  # type: ignore[override]
        for r in self.ranges:
            yield from range(r.start, r.end + 1)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __hash__(self) -> int:
        return hash(self.ranges)

    @property
    def size(self) -> int:
        return sum(r.size for r in self.ranges)

    def __str__(self) -> str:
        return ",".join(map(str, self.ranges))
