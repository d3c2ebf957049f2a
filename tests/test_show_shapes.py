"""`portplan show` in the shapes of the corpus' vendor tables: From/To tables per section, per-peer
tables whose heading is the direction, listener lists, a port column per transport, ICMP, free
columns; the parts and destinations of one vendor row written once."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import machine
from portplan.cli import cli

CORPUS = Path(__file__).resolve().parent / "data" / "vendor-docs"


def show(folder: str, fmt: str = "json") -> str:
    path = CORPUS / folder / "product.yaml"
    result = CliRunner().invoke(cli, ["show", str(path), "--format", fmt])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def tables(folder: str) -> list[dict[str, Any]]:
    """The tables of `show --format json`, each row a mapping heading -> cell."""
    document = machine.document(show(folder), "show")
    return [
        {**t, "rows": [dict(zip(t["columns"], row, strict=True)) for row in t["rows"]]}
        for t in document["tables"]
    ]


def test_a_from_to_table_per_section_with_several_destinations_and_a_fallback_port() -> None:
    workers, backup = tables("veeam-proxmox-ve-plugin-current")
    assert (workers["title"], backup["title"]) == ("Ports > Workers", "Ports > Backup Server")
    assert workers["columns"] == ["From", "To", "Protocol", "Port", "Notes", "Condition"]
    assert workers["note"].startswith("What workers need to reach")
    data = workers["rows"][4]
    assert data["To"] == "Veeam backup repository and gateway server"
    assert data["Port"] == "6162 or 2500-3300"
    updates = workers["rows"][5]
    assert updates["To"] == "Veeam Update Repository and Amazon CloudFront"
    assert updates["Protocol"] == "TCP (HTTPS)"
    assert updates["Notes"].count("Note:") == 1
    assert [r["From"] for r in backup["rows"]] == ["Backup server"] * 6


def test_per_peer_tables_whose_heading_is_the_direction() -> None:
    incoming, outgoing = tables("fortinet-fortimanager-5.4")
    assert incoming["columns"][0] == "Incoming Ports"
    assert outgoing["columns"][0] == "Outgoing Ports"
    log = incoming["rows"][3]
    assert log["Incoming Ports"] == "FortiGate"  # the source of an inbound row
    assert log["Protocol/Port"] == "TCP 514 and UDP 514"
    assert log["Condition"] == "part 1: log_transport == tcp; part 2: log_transport == udp"
    assert outgoing["rows"][10]["Outgoing Ports"] == "3rd-Party Servers"  # the destination
    assert incoming["rows"][7]["Incoming Ports"] == "FortiManager"  # FortiManager to itself


def test_tables_with_different_headings_make_one_csv_with_every_heading() -> None:
    rows = list(csv.reader(io.StringIO(show("fortinet-fortimanager-5.4", "csv"))))
    assert rows[0] == [
        "Table",
        "Incoming Ports",
        "Purpose",
        "Protocol/Port",
        "Condition",
        "Outgoing Ports",
    ]
    assert len(rows) == 1 + 12 + 15
    assert rows[1][1] == "FortiClient" and rows[1][5] == ""
    assert rows[13][1] == "" and rows[13][5] == "FortiAnalyzer"


def test_a_port_column_per_transport_and_the_pair_in_the_title() -> None:
    to_microsoft, to_sql = tables("microsoft-configmgr-current-branch")
    assert to_microsoft["title"].endswith("Asset Intelligence synchronization point --> Microsoft")
    assert to_microsoft["rows"] == [
        {"Description": "HTTPS", "UDP": "-", "TCP": "443", "Condition": "always"}
    ]
    assert to_sql["rows"][0]["TCP"] == "1433"


def test_icmp_rows_show_icmp_and_their_message_type() -> None:
    sdx, _ = tables("citrix-tech-paper-communication-ports")
    ping = sdx["rows"][6]
    assert (ping["Type"], ping["Port"]) == ("ICMP", "echo-request")
    assert sdx["rows"][8]["Type"] == "UDP (SNMP)"


def test_a_row_of_several_parts_writes_each_port_and_text_once() -> None:
    (management,) = tables("paloalto-pan-os-6.1-ports")
    syslog = management["rows"][6]  # six parts: two destinations x 514/tcp, 514/udp, 6514/tcp
    assert syslog["Destination Port"] == "514 and 6514"
    assert syslog["Protocol"] == "TCP, UDP and TCP (SSL)"
    assert syslog["Description"].count("Syslog server") == 1
    assert "From" not in management["columns"]  # a listener list stays one
    (satellite,) = tables("redhat-satellite-5.7")
    dhcp = satellite["rows"][0]
    assert (dhcp["Port"], dhcp["Protocol"], dhcp["Direction"]) == ("67", "TCP and UDP", "Inbound")
    assert satellite["rows"][6]["Direction"] == "Inbound/Outbound"


def test_listener_lists_with_free_columns_and_configuration_parameters() -> None:
    (hdfs,) = tables("hortonworks-hdp-2.6.5-hdfs")
    assert hdfs["columns"] == [
        "Service",
        "Servers",
        "Default Ports Used",
        "Protocol",
        "Description",
        "Need End User Access?",
        "Configuration Parameters",
        "Condition",
    ]
    first, metadata = hdfs["rows"][0], hdfs["rows"][2]
    assert first["Service"] == "NameNode WebUI"
    assert first["Servers"] == "Master Nodes (NameNode and any back-up NameNodes)"
    assert first["Configuration Parameters"] == "dfs.http.address"
    assert metadata["Default Ports Used"] == "8020 or 9000"
    assert hdfs["rows"][5]["Need End User Access?"] == ""  # the vendor's cell is empty
    (splunk,) = tables("splunk-enterprise-7.2")
    assert splunk["rows"][0]["Component"] == "All components"
    assert splunk["rows"][0]["Listens on"] == "TCP 8089"
    assert splunk["rows"][1]["Communicates on"] == "Any"


def test_the_component_column_follows_each_rows_direction() -> None:
    (ports,) = tables("1e-pxe-everywhere-23.7")
    assert [r["Component"] for r in ports["rows"]] == [
        "Central",
        "Central",
        "Central",
        "ConfigMgr Site Server and SMS Provider",
    ]
    assert ports["rows"][1]["Ports"] == "135 and 445 (initially) then the windows-rpc dynamic range"
    assert ports["rows"][1]["Configurable"] == "No."


def test_published_ports_and_open_ports() -> None:
    basic, pages, _ = tables("gitlab-load-balancer")
    assert [(r["LB Port"], r["Backend Port"]) for r in basic["rows"]] == [
        ("80", "80"),
        ("443", "443"),
        ("22", "22"),
    ]
    assert pages["rows"][0]["Backend Port"] == "[pages_http_port]"
    assert pages["rows"][0]["Condition"] == "pages_custom_domains"


def test_markdown_keeps_section_titles_and_notes_in_order() -> None:
    assert "\n## HDFS Service Ports\n" in show("hortonworks-hdp-2.6.5-hdfs", "md")
    text = show("storware-backup-recovery-7.1", "md")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(headings) == 7
    assert headings[2] == "## Supported platforms requirements > Nutanix AHV > Disk attachment"
    assert text.index(
        "## Supported platforms requirements > OpenStack > SSH transfer"
    ) < text.index("SSH credentials are needed")


FLAT_WITH_SECTIONS = """\
id: two-tables
name: Two tables
version: "1"
document: {title: Two tables}
sections:
  - {id: first, title: First table, note: Before the first table.}
  - {id: second, title: Second table}
components:
  server: {name: Server}
  client: {name: Client, kind: client}
flows:
  - {id: b1, section: second, row: 1, from: client, to: server, protocol: tcp, ports: 22,
     purpose: Second table's row., columns: {"2-way?": "Y"}}
  - {id: a1, section: first, row: 1, from: client, to: server, protocol: tcp, ports: 80,
     purpose: First table's row.}
  - {id: a2, section: first, row: 2, to: server, protocol: udp, ports: 53, purpose: Listener.}
"""


def test_a_flat_document_with_sections_is_a_table_per_section(tmp_path: Path) -> None:
    """Rows of different tables no longer interleave; free columns come before Condition."""
    path = tmp_path / "two.yaml"
    path.write_text(FLAT_WITH_SECTIONS)
    result = CliRunner().invoke(cli, ["show", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    first, second = machine.document(result.stdout, "show")["tables"]
    assert (first["title"], first["note"], second["title"]) == (
        "First table",
        "Before the first table.",
        "Second table",
    )
    assert [row[1] for row in first["rows"]] == ["Client", "Any client"]
    assert "2-way?" not in first["columns"]
    assert second["columns"][-2:] == ["2-way?", "Condition"]
    assert second["rows"][0][-2:] == ["Y", "always"]


def test_a_protocol_restricts_only_a_port_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        FLAT_WITH_SECTIONS.replace(
            "document: {title: Two tables}",
            "document:\n  title: Two tables\n  columns:\n    Notes: {field: description, "
            "protocol: udp}",
        )
    )
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:7:12: error: document.columns.Notes: " in result.stderr
    assert "'protocol' restricts a port column" in result.stderr
