"""The corpus of vendor documents (tests/data/vendor-docs), each modelled by hand in its folder's
product.yaml: every product validates, and `portplan show` puts back every table and every row
of its document, in order, with the ports and transports the document gives."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import machine
from portplan.cli import cli
from portplan.importer import Field, ImportedRow, import_document, read_document
from portplan.load.product import load_product
from portplan.model import ParamRef, PortRange, Product, Protocol
from portplan.model.product import Flow
from portplan.model.schema import json_schema

CORPUS = Path(__file__).resolve().parent / "data" / "vendor-docs"
FOLDERS = sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("__"))
PRODUCT = "product.yaml"


def document_of(folder: Path) -> Path:
    (path,) = [f for f in folder.iterdir() if f.name not in ("SOURCE.md", PRODUCT)]
    return path


def shown(path: Path, fmt: str = "json") -> str:
    result = CliRunner().invoke(cli, ["show", str(path), "--format", fmt], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_every_corpus_document_has_its_product() -> None:
    assert len(FOLDERS) >= 15
    missing = [f.name for f in FOLDERS if not (f / PRODUCT).is_file()]
    assert not missing


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_the_product_validates_and_passes_its_json_schema(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(folder / PRODUCT)])
    assert result.exit_code == 0, result.stderr
    assert ": ok: product " in result.stdout
    jsonschema.validate(yaml.safe_load((folder / PRODUCT).read_text()), json_schema("product"))
    product = load_product(folder / PRODUCT)
    source = (folder / "SOURCE.md").read_text()
    assert f"- **URL**: {product.document.source}\n" in source
    assert source.startswith(f"# {product.document.title}\n")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_show_puts_back_every_table_and_row_of_the_document(folder: Path) -> None:
    """The vendor's rows, counted per table from the document itself, against the rows `show`
    writes per section: same tables in the same order, same titles, same number of rows.  A
    row that is a heading inside its table (one cell spanning the columns, DataStax's
    ``Public facing ports``) names no port and is no flow: the model says it in the notes of
    the flows under it, and it is not counted."""
    tables = read_document(document_of(folder)).tables
    readings = import_document(document_of(folder)).tables
    shown_tables = machine.document(shown(folder / PRODUCT), "show")["tables"]
    vendor = [
        (" > ".join(t.section), sum(not r.category for r in reading.rows))
        for t, reading in zip(tables, readings, strict=True)
    ]
    model = [(t["title"], len(t["rows"])) for t in shown_tables]
    assert model == vendor
    for table in shown_tables:
        assert all(len(row) == len(table["columns"]) for row in table["rows"])


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_each_vendor_row_is_modelled_with_its_ports_and_transports(folder: Path) -> None:
    """Row by row, the port numbers and transports the importer reads in the document are
    those of the flows that model the row (a parameter by its default and alternatives; the
    connecting end's port too where a row gives each end its own Port column: the model keeps it
    as the flow's own column under that heading, and nothing else counts there), and every
    row number of every table has flows.  A table whose port column maps to no field (SAP's
    ``Port Number / Service Name``) has no ports read to compare."""
    product = load_product(folder / PRODUCT)
    reading = import_document(document_of(folder))
    assert len(reading.tables) == len(product.sections)
    for table, section in zip(reading.tables, product.sections, strict=True):
        flows = [f for f in product.flows if f.section == section.id]
        rows = [r.number for r in table.rows if not r.category]  # a heading inside: no flow
        assert sorted({f.row for f in flows}) == rows, section.id
        read = {r.field for r in table.roles if r is not None}
        port_columns = {
            h
            for h, r in zip(table.table.columns, table.roles, strict=True)
            if r and r.field is Field.PORT
        }
        for row in table.rows:
            parts = [f for f in flows if f.row == row.number]
            where = f"{section.id} row {row.number}"
            kept = _kept_ports(parts, port_columns)
            if read & {Field.PORT, Field.PUBLISHED_PORT}:
                assert _model_ports(product, parts) | kept == _vendor_ports(row), where
            transports = _vendor_transports(row)
            if transports:
                assert {f.protocol.value for f in parts} == transports, where


def _model_ports(product: Product, parts: list[Flow]) -> set[str]:
    ranges: set[PortRange] = set()
    for flow in parts:
        for item in (*(flow.ports or ()), *(flow.published.ports if flow.published else ())):
            if isinstance(item, ParamRef):
                param = product.parameters[item.name]
                ranges.update((*(param.default or ()), *(param.allowed or ())))
            else:
                ranges.add(item)
    return {str(r) for r in ranges}


def _kept_ports(parts: list[Flow], headings: set[str]) -> set[str]:
    """The ports written in the flows' own columns under a heading the import reads as a port
    column: the port the connecting end uses, as the vendor wrote it (NEC ESMPRO's ``47117``
    beside the BMC's ``623``)."""
    found: set[str] = set()
    for flow in parts:
        for heading, text in (flow.columns or {}).items():
            if heading in headings:
                found.update(_written_ports(text))
    return found


def _written_ports(text: str) -> set[str]:
    """The port numbers and ranges written in ``text``, footnote marks (``(*1)``) left out."""
    found = set()
    for start, end in re.findall(r"(\d+)(?:\s*-\s*(\d+))?", _FOOTNOTE.sub("", text)):
        found.add(f"{int(start)}-{int(end)}" if end else str(int(start)))
    return found


#: a footnote mark after a port (NEC ESMPRO's ``8080(*1)``): no port
_FOOTNOTE = re.compile(r"\(\*+\d*\)")


def _vendor_ports(row: ImportedRow) -> set[str]:
    found: set[str] = set()
    icmp = _vendor_transports(row) == {"icmp"}
    for value in row.values:
        if value.ports is None or value.field is Field.SOURCE_PORT:  # kept as the flow's text
            continue
        if value.ports.faults and icmp:  # '8/0' under ICMP: a type and a code, no port
            continue
        if value.ports.faults:  # reported, not read (8020/ 9000): the ports as written
            found.update(_written_ports(value.text))
            continue
        for term in value.ports.terms:
            if term.ports is not None:
                found.add(str(term.ports))
            elif term.parameter is not None and term.parameter.default is not None:
                found.add(str(term.parameter.default))
    return found


def _vendor_transports(row: ImportedRow) -> set[str]:
    found: set[str] = set()
    for value in row.values:
        if value.ports is not None and value.field is not Field.SOURCE_PORT:
            found.update(p.value for t in value.ports.terms for p in t.protocols)
        if value.field is Field.PROTOCOL and value.protocols is not None:
            found.update(t.value for t in value.protocols.transports)
    return found


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_show_of_each_corpus_product_matches_its_golden_file(
    folder: Path, golden: Callable[[str, bytes], None]
) -> None:
    golden(f"show/corpus/{folder.name}.txt", shown(folder / PRODUCT, "table").encode())


def test_the_corpus_uses_every_model_extension() -> None:
    """The corpus exercises what issue 9 added to the model, each somewhere."""
    products = {f.name: load_product(f / PRODUCT) for f in FOLDERS}
    flows = [f for p in products.values() for f in p.flows]
    assert any(f.source == ("any",) for f in flows), "listener-only rows"
    assert any(len(f.destination) > 1 for f in flows), "several destinations"
    assert any(f.protocol is Protocol.ICMP for f in flows), "ICMP"
    assert any(f.columns for f in flows), "free columns"
    assert any(f.source == f.destination for f in flows), "mesh (a component to itself)"
    params = [p for product in products.values() for p in product.parameters.values()]
    assert any(p.allowed for p in params), "port alternatives"
    assert any(p.default is None for p in params), "open ports"
    features = [f for product in products.values() for f in product.features.values()]
    assert any(f.choices for f in features), "enumerated features"
    groups = [
        f
        for p in products.values()
        for f in p.flows
        if any(p.components[d].members for d in f.destination)
    ]
    assert groups, "a group as destination"
