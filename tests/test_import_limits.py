"""Documents built to exhaust the import: each is refused with one located message, exit 2, no
traceback, in a process limited to 512 MiB and within 5 seconds (the worker of
test_bad_corpus), and the files stay small on disk."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from portplan import InputError, importer
from portplan.importer import Format, Table, read_source
from test_bad_corpus import run_jobs

HEAD = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
TABLE = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Port</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>Protocol</t></is></c></row>'
    b'<row r="2"><c r="A2"><v>443</v></c><c r="B2" t="inlineStr"><is><t>TCP</t></is></c></row>'
)
TAIL = b"</sheetData></worksheet>"


def workbook(path: Path, sheet: bytes | list[bytes]) -> Path:
    """A workbook of one sheet 'Ports' whose XML is ``sheet`` (chunks are streamed)."""
    base = io.BytesIO()
    book = Workbook()
    assert book.active is not None
    book.active.title = "Ports"
    book.save(base)
    chunks = [sheet] if isinstance(sheet, bytes) else sheet
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with out.open(info.filename, "w", force_zip64=True) as part:
                    for chunk in chunks:
                        part.write(chunk)
            else:
                out.writestr(info.filename, source.read(info.filename))
    return path


def cells(count: int, per_row: int) -> list[bytes]:
    row = b"<row>" + b"<c><v>1</v></c>" * per_row + b"</row>"
    return [HEAD, *([row] * (count // per_row)), TAIL]


XLSX_CASES: dict[str, tuple[bytes | list[bytes], str]] = {
    "merge-to-the-end": (
        HEAD + TABLE + b'</sheetData><mergeCells count="1"><mergeCell ref="A3:XFD1048576"/>'
        b"</mergeCells></worksheet>",
        "sheet 'Ports' spans 1048576 rows by 16384 columns (merged range A3:XFD1048576)",
    ),
    "20M-cells": (cells(20_000_000, 20_000), "unpacks to"),
    "1.99M-cells": (cells(1_990_000, 1990), "times its size"),
    "far-cell": (
        HEAD + TABLE + b'<row r="1048576"><c r="Z1048576"><v>1</v></c></row>' + TAIL,
        "sheet 'Ports' spans 1048576 rows by 26 columns (as far as cell Z1048576)",
    ),
    "overlapping-merges": (
        HEAD + TABLE + b"</sheetData><mergeCells>"
        + b'<mergeCell ref="C1:CV1000"/>' * 3
        + b"</mergeCells></worksheet>",
        "the merged ranges of sheet 'Ports' cover more than 200000 cells",
    ),
    "unclosed": (
        (HEAD + TABLE + TAIL)[:-1],
        "sheet 'Ports' (xl/worksheets/sheet1.xml) is not well-formed XML",
    ),
    "laughs": (
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + HEAD + TABLE.replace(b"TCP", b"&b;") + TAIL,
        "holds a DTD (<!DOCTYPE>)",
    ),
    "missing-shared-string": (
        HEAD + TABLE.replace(b'<c r="A2">', b'<c r="A2" t="s">').replace(b">443<", b">99<")
        + TAIL,
        "cell A2 of sheet 'Ports' refers to shared string 99, and the workbook has 0",
    ),
    "bad-merge": (
        HEAD + TABLE + b'</sheetData><mergeCells><mergeCell ref="garbage"/></mergeCells>'
        b"</worksheet>",
        "sheet 'Ports' merges 'garbage', which is not a range",
    ),
}  # fmt: skip


def assert_refused(record: dict[str, Any], path: Path, message: str) -> None:
    assert record["crash"] is None, record["crash"]
    assert record["code"] == 2, f"exit {record['code']}\n{record['stderr'][-2000:]}"
    assert "Traceback" not in record["stderr"]
    assert record["seconds"] < 5
    errors = [line for line in record["stderr"].splitlines() if ": error: " in line]
    assert errors, record["stderr"]
    assert errors[0].startswith(f"{path}:"), errors[0]
    assert message in record["stderr"], record["stderr"]


@pytest.fixture(scope="module")
def xlsx_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("xlsx")
    jobs: list[tuple[str, list[str], str | None]] = []
    for name, (sheet, _message) in XLSX_CASES.items():
        path = workbook(folder / f"{name}.xlsx", sheet)
        assert path.stat().st_size < 2**20
        jobs.append((name, ["import", str(path), "-o", str(folder / f"{name}.yaml")], None))
    return run_jobs(jobs)


@pytest.mark.parametrize("name", sorted(XLSX_CASES))
def test_a_workbook_built_to_exhaust_the_reader_is_refused(
    name: str, xlsx_reports: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    record = xlsx_reports[name]
    path = Path(record["stderr"].split(":", 1)[0])
    assert path.name == f"{name}.xlsx"
    assert_refused(record, path, XLSX_CASES[name][1])


TEXT_CASES: dict[str, tuple[str, str]] = {
    "rowspan-to-the-end.html": (
        "<table><tr><th>Port<th>Protocol<tr><td rowspan=0 colspan=1000000>443" + "<tr>" * 65534,
        ":1:1: error: its tables reach more than 200000 cells by line 1",
    ),
    "wide-cells.html": (
        "<table><tr><th>Port<th>Protocol<tr>\n" + "<td colspan=1000>x\n" * 200_000,
        ":201:1: error: its tables reach more than 200000 cells by line 201",
    ),
    "many-rows.html": (
        "<table><tr><th>Port<th>Protocol\n" + "<tr>\n" * 300_000,
        ":199999:1: error: its tables reach more than 200000 cells by line 199999",
    ),
    "pipes.md": (
        "| Port | Protocol |\n|---|---|\n" + "|" * 3_000_000 + "\n",
        ":3:1: error: line 3 has more than 1000 cells",
    ),
    "rows.md": (
        "| Port | Protocol |\n|---|---|\n" + "| 1 | 2 |\n" * 150_000,
        ":100003:1: error: its tables reach more than 200000 cells by line 100003",
    ),
    "rows.csv": (
        "Port,Protocol\n" + "1,2\n" * 150_000,
        ":100001:1: error: its rows reach more than 200000 cells by line 100001",
    ),
}


@pytest.fixture(scope="module")
def text_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("text")
    jobs: list[tuple[str, list[str], str | None]] = []
    for name, (text, _message) in TEXT_CASES.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        jobs.append((name, ["import", str(path), "-o", str(folder / f"{name}.yaml")], None))
    return run_jobs(jobs)


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_a_text_table_built_to_exhaust_the_reader_is_refused(
    name: str, text_reports: dict[str, dict[str, Any]]
) -> None:
    record = text_reports[name]
    path = Path(record["stderr"].split(":", 1)[0])
    assert path.name == name
    assert_refused(record, path, TEXT_CASES[name][1])


def test_running_out_of_memory_is_a_message_not_an_empty_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(_text: str, _file: str) -> list[Table]:
        raise MemoryError

    monkeypatch.setattr(importer, "read_html", exhausted)
    with pytest.raises(InputError) as caught:
        read_source(b"<table>", file="big.html", format=Format.HTML)
    (problem,) = caught.value.diagnostics
    assert problem.message == "is too large to read as html"
    assert problem.hint
    assert caught.value.__cause__ is None and caught.value.__context__ is None
