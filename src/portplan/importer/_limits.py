"""How much of a document the readers take: a port table is a few hundred rows of a few
columns, and a reader refuses, with a message, a document that asks for more than these
limits rather than filling the memory or running for minutes on it."""

from __future__ import annotations

__all__ = ["MAX_CELLS", "MAX_COLUMNS", "CellCount", "TooLarge"]

#: The most cells a reader expands a document into: a sheet's used range (rows x columns),
#: an HTML table's cells after its spans, a Markdown document's table cells.
MAX_CELLS = 200_000
#: The most cells one row of a Markdown or HTML table may have.
MAX_COLUMNS = 1_000


class TooLarge(Exception):
    """A document larger than the limits; the message says what and where, ``hint`` what to do."""

    def __init__(self, message: str, hint: str, line: int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.line = line


class CellCount:
    """The cells a reader has taken from a document so far: past :data:`MAX_CELLS`, the
    document is refused (its ``what`` reach more than the limit by a line, ``detail`` saying
    what counts, ``hint`` what to do)."""

    __slots__ = ("cells", "detail", "hint", "what")

    def __init__(self, what: str, hint: str, detail: str = "") -> None:
        self.cells = 0
        self.what = what
        self.hint = hint
        self.detail = detail

    def add(self, cells: int, line: int) -> None:
        """Count ``cells`` more, read by ``line``."""
        self.cells += cells
        if self.cells > MAX_CELLS:
            raise TooLarge(
                f"its {self.what} reach more than {MAX_CELLS} cells by line {line}{self.detail}, "
                "more than a port table can need",
                self.hint,
                line=line,
            )
