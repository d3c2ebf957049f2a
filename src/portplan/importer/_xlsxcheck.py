"""The parts of an XLSX file checked before openpyxl reads them.

openpyxl loads every cell of a sheet, and the edges of every merged range, into memory, so a
few kilobytes of XML (``<mergeCell ref="A3:XFD1048576"/>``, a sheet of millions of ``<c>``
compressed 500 to 1) can ask for gigabytes.  Here the zip's parts are streamed through expat
within fixed limits instead: the unpacked size and each part's compression ratio, the used
range of each sheet (its cells and merged ranges, as openpyxl counts them: the declared
``<dimension>`` is not what openpyxl walks), the shared strings cells refer to, and no DTD
(entities expand without bound).  A part that is not well-formed XML is named with the line
and column expat gives.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from xml.parsers import expat

from openpyxl.utils.cell import get_column_letter

from portplan.importer._limits import MAX_CELLS, TooLarge

__all__ = ["MAX_RATIO", "MAX_UNPACKED", "XlsxError", "check_workbook"]

#: The most bytes the parts of a workbook may unpack to.
MAX_UNPACKED = 64 * 2**20
#: The most a part of over a mebibyte may be compressed (real sheets compress 5 to 30 times).
MAX_RATIO = 100
_RATIO_FROM = 2**20
_CHUNK = 2**16
_XML_PARTS = (".xml", ".rels", ".vml")
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_LAST_ROW, _LAST_COLUMN = 1_048_576, 16_384
_SMALLER = "keep only the port table on its sheet (or copy it into a new workbook) and import that"
_RESAVE = "open it in a spreadsheet program and save it again as .xlsx"


class XlsxError(Exception):
    """A workbook that cannot be read; the message says why (the caller adds the file)."""

    def __init__(self, message: str, hint: str = "save it as an .xlsx workbook") -> None:
        super().__init__(message)
        self.hint = hint


class _Stop(Exception):
    """Raised inside an expat handler; carries the error to raise outside it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _cell(ref: str) -> tuple[int, int] | None:
    """(row, column) of ``B7``; ``None`` when ``ref`` is not a cell of a worksheet."""
    match = _REF.fullmatch(ref)
    if not match:
        return None
    column = 0
    for letter in match[1].upper():
        column = column * 26 + ord(letter) - 64
    row = int(match[2])
    return (row, column) if 1 <= row <= _LAST_ROW and column <= _LAST_COLUMN else None


@dataclass
class _Sheet:
    """What the stream of one sheet has shown so far."""

    name: str
    shared: int
    row: int = 0
    column: int = 0
    rows: int = 0
    columns: int = 0
    merged: int = 0
    shared_ref: str | None = None  #: the cell of type "s" being read
    value: str = ""
    in_value: bool = False

    def _extent(self, row: int, column: int, what: str) -> None:
        rows, columns = max(self.rows, row), max(self.columns, column)
        if rows * columns > MAX_CELLS:
            raise TooLarge(
                f"sheet {self.name!r} spans {rows} rows by {columns} columns ({what}), more "
                f"than the {MAX_CELLS} cells a port table can need",
                _SMALLER,
            )
        self.rows, self.columns = rows, columns

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "row":
            self.row = int(attrs["r"]) if attrs.get("r", "").isdigit() else self.row + 1
            self.column = 0
        elif name == "c":
            ref = attrs.get("r")
            if ref is None:
                self.column += 1
            else:
                place = _cell(ref)
                if place is None:
                    raise XlsxError(
                        f"sheet {self.name!r} has a cell at {ref!r}, which is not a cell of a "
                        "worksheet (columns A to XFD, rows 1 to 1048576)",
                        _RESAVE,
                    )
                self.row, self.column = place
            cell = f"{get_column_letter(self.column)}{self.row}"
            self._extent(self.row, self.column, f"as far as cell {cell}")
            if attrs.get("t") == "s":
                self.shared_ref = cell
                self.value = ""
        elif name == "v" and self.shared_ref is not None:
            self.in_value = True
        elif name == "mergeCell":
            self._merge(attrs.get("ref", ""))

    def _merge(self, ref: str) -> None:
        corners = [_cell(part) for part in ref.split(":")]
        if not 1 <= len(corners) <= 2 or None in corners:
            raise XlsxError(
                f"sheet {self.name!r} merges {ref!r}, which is not a range such as A1:C3",
                _RESAVE,
            )
        rows = [c[0] for c in corners if c is not None]
        columns = [c[1] for c in corners if c is not None]
        self._extent(max(rows), max(columns), f"merged range {ref}")
        self.merged += (max(rows) - min(rows) + 1) * (max(columns) - min(columns) + 1)
        if self.merged > MAX_CELLS:
            raise TooLarge(
                f"the merged ranges of sheet {self.name!r} cover more than {MAX_CELLS} cells "
                f"(as far as {ref})",
                _SMALLER,
            )

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name == "v":
            self.in_value = False
        elif name == "c" and self.shared_ref is not None:
            text = self.value.strip()
            if text.isdigit() and int(text) >= self.shared:
                raise XlsxError(
                    f"cell {self.shared_ref} of sheet {self.name!r} refers to shared string "
                    f"{text}, and the workbook has {self.shared}",
                    _RESAVE,
                )
            self.shared_ref = None

    def text(self, data: str) -> None:
        if self.in_value:
            self.value += data


def _no_dtd(*_args: object) -> None:
    raise _Stop(XlsxError("holds a DTD (<!DOCTYPE>), which no workbook needs", _RESAVE))


def _stream(
    book: zipfile.ZipFile,
    name: str,
    what: str,
    handlers: dict[str, Callable[..., None]],
) -> None:
    """Parse the part ``name`` in chunks with ``handlers``; errors name it as ``what``."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd

    def wrap(handler: Callable[..., None]) -> Callable[..., None]:
        def call(*args: object) -> None:
            try:
                handler(*args)
            except (XlsxError, TooLarge) as exc:
                raise _Stop(exc) from exc

        return call

    for event, handler in handlers.items():
        setattr(parser, event, wrap(handler))
    try:
        with book.open(name) as part:
            while chunk := part.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Stop as stop:
        error = stop.error
        if isinstance(error, XlsxError) and "DTD" in str(error):
            raise XlsxError(f"{what} {error}", error.hint) from None
        raise error from None
    except expat.ExpatError as exc:
        raise XlsxError(
            f"{what} is not well-formed XML ({expat.ErrorString(exc.code)} at line "
            f"{exc.lineno}, column {exc.offset + 1})",
            _RESAVE,
        ) from None


def _relations(book: zipfile.ZipFile, names: set[str], part: str) -> dict[str, tuple[str, str]]:
    """The relationships of ``part``: id -> (type's last word, target part)."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    found: dict[str, tuple[str, str]] = {}
    if rels not in names:
        return found

    def start(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) == "Relationship" and "Target" in attrs:
            target = attrs["Target"]
            path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            kind = attrs.get("Type", "").rsplit("/", 1)[-1]
            found[attrs.get("Id", "")] = (kind, posixpath.normpath(path))

    _stream(book, rels, f"part {rels}", {"StartElementHandler": start})
    return found


def _sheets(book: zipfile.ZipFile, names: set[str]) -> tuple[dict[str, str], str | None]:
    """Sheet part -> sheet name, and the shared strings part, as the workbook names them."""
    office = [t for k, t in _relations(book, names, "").values() if k == "officeDocument"]
    workbook = office[0] if office else "xl/workbook.xml"
    if workbook not in names:
        return {}, None
    relations = _relations(book, names, workbook)
    sheets: dict[str, str] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if _local(tag) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            kind, target = relations.get(rid, ("", ""))
            if kind == "worksheet":
                sheets[target] = attrs.get("name", target)

    _stream(book, workbook, f"part {workbook}", {"StartElementHandler": start})
    strings = [t for k, t in relations.values() if k == "sharedStrings"]
    return sheets, strings[0] if strings else None


def _count_strings(book: zipfile.ZipFile, part: str) -> int:
    count = 0

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal count
        if _local(tag) == "si":
            count += 1

    _stream(book, part, f"part {part}", {"StartElementHandler": start})
    return count


def check_workbook(data: bytes) -> None:
    """:class:`XlsxError` or :class:`TooLarge` when openpyxl should not be given ``data``;
    nothing when ``data`` is not a zip at all (openpyxl says so)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        return
    with book:
        infos = book.infolist()
        unpacked = sum(i.file_size for i in infos)
        if unpacked > MAX_UNPACKED:
            raise TooLarge(
                f"unpacks to {unpacked} bytes, more than the {MAX_UNPACKED} a port table can need",
                _SMALLER,
            )
        for info in infos:
            if info.file_size > max(_RATIO_FROM, MAX_RATIO * info.compress_size):
                raise TooLarge(
                    f"part {info.filename} unpacks {info.file_size // max(info.compress_size, 1)}"
                    f" times its size ({info.file_size} bytes), more than the {MAX_RATIO} times "
                    "of a real sheet",
                    _SMALLER,
                )
        names = {i.filename for i in infos}
        sheets, strings = _sheets(book, names)
        shared = _count_strings(book, strings) if strings in names and strings else 0
        checked = {strings}
        total = 0
        for part, title in sheets.items():
            if part in names:
                sheet = _Sheet(name=title, shared=shared)
                _check_sheet(book, part, sheet)
                checked.add(part)
                total += sheet.rows * sheet.columns
                if total > MAX_CELLS:
                    raise TooLarge(
                        f"its sheets span more than {MAX_CELLS} cells together (as far as sheet "
                        f"{title!r}), more than a port table can need",
                        _SMALLER,
                    )
        for name in sorted(names - {n for n in checked if n}):
            if name.lower().endswith(_XML_PARTS):
                _stream(book, name, f"part {name}", {})


def _check_sheet(book: zipfile.ZipFile, part: str, sheet: _Sheet) -> None:
    _stream(
        book,
        part,
        f"sheet {sheet.name!r} ({part})",
        {
            "StartElementHandler": sheet.start,
            "EndElementHandler": sheet.end,
            "CharacterDataHandler": sheet.text,
        },
    )
