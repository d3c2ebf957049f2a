"""What a cell of the XLSX change request can hold, and what writing one leaves behind."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portplan.report._workbook import TextSheet, write_workbook


def test_a_workbook_stopped_while_written_leaves_no_rows_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # XlsxWriter spools each sheet's rows to a file in the temporary folder: a Ctrl-C (or an
    # error) while writing left the rows written so far there, the plan's hosts and addresses
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))

    def rows() -> Iterator[list[str]]:
        yield ["shop01", "192.0.2.10"]
        raise KeyboardInterrupt

    sheet = TextSheet("Flows", ["source", "source_address"], rows(), 2, [10, 10])
    with pytest.raises(KeyboardInterrupt):
        write_workbook(io.BytesIO(), [sheet])
    assert list(spool.rglob("*")) == []
