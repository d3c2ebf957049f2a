"""How much of a document the readers take: a port table is a few hundred rows of a few
columns, and a reader refuses, with a message, a document that asks for more than these
limits rather than filling the memory or running for minutes on it."""

from __future__ import annotations

__all__ = ["MAX_CELLS", "MAX_COLUMNS", "TooLarge"]

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
