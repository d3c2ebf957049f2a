"""The vendor-document corpus (tests/data/vendor-docs): its shape and provenance, and what the
importer reads from each document: every cell mapped or reported, never dropped; the whole
reading compared with a golden file per document."""

from __future__ import annotations

import re
import runpy
from collections.abc import Callable
from pathlib import Path

import pytest

from importdump import dump
from portplan.importer import (
    Direction,
    Field,
    Format,
    Import,
    PortParameter,
    PortTerm,
    Transport,
    format_ports,
    import_document,
)
from portplan.model.ports import PortRange

CORPUS = Path(__file__).resolve().parent / "data" / "vendor-docs"
FOLDERS = sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("__"))
DOCUMENTS = sorted(
    f
    for folder in FOLDERS
    for f in folder.iterdir()
    if f.name not in ("SOURCE.md", "product.yaml") and f.is_file()
)


def imported(name: str) -> Import:
    (path,) = [d for d in DOCUMENTS if d.parent.name == name]
    return import_document(path)


def test_the_corpus_holds_ten_documents_of_every_format_the_issue_names() -> None:
    assert len(FOLDERS) >= 10
    assert len(DOCUMENTS) == len(FOLDERS), "one document per folder"
    formats = [import_document(d).document.format for d in DOCUMENTS]
    assert formats.count(Format.HTML) >= 2
    assert formats.count(Format.XLSX) >= 2
    assert {Format.MARKDOWN, Format.CSV} <= set(formats)
    html = [d.read_text() for d in DOCUMENTS if d.suffix == ".html"]
    assert sum("rowspan=" in text for text in html) >= 2
    assert any("colspan=" in text for text in html)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_document_names_its_source_and_is_listed(folder: Path) -> None:
    source = (folder / "SOURCE.md").read_text()
    assert re.search(r"^- \*\*URL\*\*: https?://\S+$", source, re.MULTILINE), folder
    assert re.search(r"^- \*\*Read\*\*: \d{4}-\d{2}-\d{2}", source, re.MULTILINE), folder
    for part in ("## Shape", "## Notes of the document (paraphrased)"):
        assert part in source, folder
    readme = (CORPUS / "README.md").read_text()
    assert f"`{folder.name}/`" in readme


def test_the_spreadsheets_are_what_their_script_writes(tmp_path: Path) -> None:
    script = runpy.run_path(str(CORPUS / "make_xlsx.py"))
    for folder, name, build in (
        ("fortinet-fortimanager-5.4", "open-ports.xlsx", script["fortimanager"]),
        ("fortinet-fortiauthenticator-6.5.0", "incoming-ports.xlsx", script["fortiauthenticator"]),
        (
            "microsoft-defender-for-iot-networking",
            "networking-requirements.xlsx",
            script["defender_iot"],
        ),
        ("mitel-mbg-8.0-firewall-reference", "firewall-configuration.xlsx", script["mitel_mbg"]),
    ):
        book = script["Workbook"]()
        book.remove(book.worksheets[0])
        build(book)
        script["save"](book, tmp_path / name)
        assert (tmp_path / name).read_bytes() == (CORPUS / folder / name).read_bytes(), name


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.parent.name)
def test_each_document_reads_as_its_golden_file(
    document: Path, golden: Callable[[str, bytes], None]
) -> None:
    golden(f"import/{document.parent.name}.txt", dump(import_document(document), CORPUS).encode())


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.parent.name)
def test_every_cell_is_mapped_or_reported_never_dropped(document: Path) -> None:
    result = import_document(document)
    reported = {str(u.where) for u in result.unread}
    cells = 0
    for reading in result.tables:
        table = reading.table
        for row in reading.rows:
            if row.category:  # a heading inside the table: its one cell is reported, no value
                written = [c for c in row.row.cells if c.text]
                assert written and all(str(c.origin or c.where) in reported for c in written)
                assert not row.values
                cells += len(written)
                continue
            assert len(row.values) == sum(r is not None for r in reading.roles)
            mapped = {v.cell.column: v for v in row.values}
            for cell in row.row.cells:
                if not cell.text:
                    continue
                cells += 1
                key = str(cell.origin or cell.where)
                value = mapped.get(cell.column)
                if value is None:
                    assert key in reported, f"{key}: unmapped cell {cell.text!r} not reported"
                    continue
                assert value.text == cell.text
                faults = [
                    *(value.ports.faults if value.ports else ()),
                    *(value.protocols.faults if value.protocols else ()),
                    *(value.direction.faults if value.direction else ()),
                ]
                if faults:
                    assert key in reported, f"{key}: {faults} not reported"
        for cell in table.stray:
            assert str(cell.where) in reported
    assert cells > 0
    # and nothing is reported that is not a cell of the document
    written = {str(c.origin or c.where) for r in result.tables for c in r.table.cells() if c.text}
    assert {str(u.where) for u in result.unread} <= written


# -- what the shapes of the corpus read as ------------------------------------------------------


def row_values(result: Import, table: int, row: int) -> dict[Field, list[str]]:
    values: dict[Field, list[str]] = {}
    for value in result.tables[table - 1].rows[row - 1].values:
        values.setdefault(value.field, []).append(value.text)
    return values


def ports(result: Import, table: int, row: int, field: Field = Field.PORT) -> str:
    (value,) = result.tables[table - 1].rows[row - 1].of(field)
    assert value.ports is not None
    return format_ports(value.ports)


def test_flat_from_to_tables_with_spans_and_a_fallback_range() -> None:
    veeam = imported("veeam-proxmox-ve-plugin-current")
    assert [t.table.title for t in veeam.tables] == ["Workers", "Backup Server"]
    assert [len(t.rows) for t in veeam.tables] == [7, 6]
    # the From cell spans the table; every row has it
    assert {row_values(veeam, 1, n)[Field.SOURCE][0] for n in range(1, 8)} == {"Worker"}
    assert ports(veeam, 1, 5) == "6162/tcp or 2500-3300/tcp"
    assert ports(veeam, 1, 2) == "22/tcp"  # SSH runs over TCP, and the reading says so
    assert ports(veeam, 1, 7) == "123/udp"
    assert veeam.complete


def test_a_listener_only_list_with_spans_alternatives_and_unnamed_transports() -> None:
    hdp = imported("hortonworks-hdp-2.6.5-hdfs")
    first = row_values(hdp, 1, 1)
    assert Field.SOURCE not in first and Field.DESTINATION not in first
    assert first[Field.COMPONENT] == ["Master Nodes (NameNode and any back-up NameNodes)"]
    assert row_values(hdp, 1, 3)[Field.COMPONENT] == first[Field.COMPONENT]  # rowspan 3
    # 8020 or 9000 here, but 80/443 means both elsewhere: reported, not guessed; and IPC says
    # no transport: reported, not guessed
    assert ports(hdp, 1, 3) == ""
    assert {u.text for u in hdp.unread} == {"8020/ 9000", "IPC", "Custom HDFS protocol"}


def test_icmp_rows_whose_type_cell_spans_the_port_column() -> None:
    citrix = imported("citrix-tech-paper-communication-ports")
    (icmp,) = citrix.tables[0].rows[6].of(Field.PORT)
    assert icmp.cell.spanned and icmp.ports is not None
    assert icmp.ports.terms == (PortTerm(protocols=(Transport.ICMP,)),)
    assert ports(citrix, 1, 9) == "161/udp, 162/udp"  # SNMP runs over UDP


def test_cells_of_several_lines_pair_up_line_by_line() -> None:
    panos = imported("paloalto-pan-os-6.1-ports")
    assert ports(panos, 1, 7) == "514/tcp, 514/udp, 6514/tcp"
    assert ports(panos, 1, 10) == "6081/tcp, 6082/tcp"


def test_merged_peer_cells_and_directions_from_headings_and_titles() -> None:
    manager = imported("fortinet-fortimanager-5.4")
    incoming, outgoing = manager.tables
    assert incoming.table.columns == ("Incoming Ports", "Purpose", "Protocol/Port")
    assert [r.direction.direction for r in incoming.rows if r.direction] == [Direction.INBOUND] * 12
    assert {r.direction.direction for r in outgoing.rows if r.direction} == {Direction.OUTBOUND}
    assert row_values(manager, 1, 4)[Field.PEER] == ["FortiGate"]  # merged A6:A10
    assert ports(manager, 1, 4) == "514/tcp or 514/udp"  # TCP or UDP/514
    authenticator = imported("fortinet-fortiauthenticator-6.5.0")
    assert authenticator.tables[0].direction is Direction.INBOUND  # title "Incoming Ports"
    assert ports(authenticator, 1, 27) == "443/tcp"


def test_sections_open_ports_parameters_and_conditions() -> None:
    storware = imported("storware-backup-recovery-7.1")
    openstack = storware.tables[3]
    assert openstack.table.section[1:] == ("OpenStack", "Disk attachment")
    (endpoints,) = openstack.rows[0].of(Field.PORT)
    assert endpoints.ports is not None
    assert endpoints.ports.terms == (
        PortTerm(
            parameter=PortParameter(
                name="ports that were defined in endpoints for OpenStack services"
            )
        ),
    )
    (netcat,) = storware.tables[4].rows[1].of(Field.PORT)
    assert netcat.ports is not None
    assert netcat.ports.terms == (
        PortTerm(
            protocols=(Transport.TCP,),
            parameter=PortParameter(
                name="netcat port range defined in node configuration",
                default=PortRange(start=16000, end=16999),
            ),
        ),
    )
    catalogic = imported("catalogic-vplus-7.0")
    (nfs,) = catalogic.tables[0].rows[1].of(Field.PORT)
    assert nfs.ports is not None
    (staging,) = nfs.ports.alternatives  # otherwise: a sentence, reported (not a parameter)
    assert staging.condition == "Node is hosting staging space"
    assert [f.message for f in nfs.ports.faults] == [
        "'please check the documentation of your NFS storage provider' is prose, not a port: "
        "model what it says by hand"
    ]
    expected = [PortRange.single(p) for p in (111, 111, 2049, 2049)]
    assert [t.ports for t in staging.terms[:4]] == expected


def test_published_ports_and_per_pair_sections() -> None:
    gitlab = imported("gitlab-load-balancer")
    assert ports(gitlab, 3, 1, Field.PUBLISHED_PORT) == "443/tcp"
    assert ports(gitlab, 3, 1) == "22/tcp"
    assert ports(gitlab, 2, 1) == "[Varies]/tcp"
    configmgr = imported("microsoft-configmgr-current-branch")
    arrow = configmgr.tables[1].arrow
    assert arrow is not None
    assert (arrow.left, arrow.direction, arrow.right) == (
        "Asset Intelligence synchronization point",
        Direction.FORWARD,
        "SQL Server",
    )
    udp, tcp = configmgr.tables[1].rows[0].of(Field.PORT)
    assert udp.ports is not None and udp.ports.none
    assert tcp.ports is not None and format_ports(tcp.ports) == (
        "1433/tcp (Note 2 Alternate port available)"
    )


def test_listener_lists_with_direction_columns_and_names_as_destinations() -> None:
    satellite = imported("redhat-satellite-5.7")
    directions = [r.direction.direction for r in satellite.tables[0].rows if r.direction]
    assert directions.count(Direction.BOTH) == 3
    assert satellite.tables[0].table.notes_after[1:] == (
        "rhn.redhat.com",
        "xmlrpc.rhn.redhat.com",
        "satellite.rhn.redhat.com",
        "content-xmlrpc.rhn.redhat.com",
        "content-web.rhn.redhat.com",
        "content-satellite.rhn.redhat.com",
    )
    soar = imported("splunk-soar-6.2.1")
    assert row_values(soar, 1, 2)[Field.CONDITION] == ["Conditional"]
    assert ports(soar, 1, 2) == "9997/tcp, 8089/tcp"
    assert row_values(soar, 1, 5)[Field.DESTINATION] == ["*.pool.ntp.org"]


def test_a_list_that_names_no_protocol_is_reported_row_by_row() -> None:
    vcenter = imported("vmware-vcenter-server-appliance-5.5")
    assert len(vcenter.unread) == 13
    assert str(vcenter.unread[0]).endswith(
        "required-ports.csv:3:1: column 'Port': port 80 has no transport protocol (tcp, udp or "
        "icmp): the cell names none, and no protocol column does (a map file gives a column of "
        "one transport its protocol: 'Port': {field: port, protocol: tcp}, or udp)"
    )
