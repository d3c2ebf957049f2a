"""`portplan show` renders both catalog products in their vendor document's shape."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

import examples
import machine
from portplan.cli import cli
from portplan.load.catalog import catalog_ids, catalog_path

FORMATS = {"table": "txt", "md": "md", "csv": "csv", "json": "json"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("product", ["shopping-6.1", "smart-id-21.04"])
def test_show_matches_golden(product: str, fmt: str, golden: Callable[[str, bytes], None]) -> None:
    result = CliRunner().invoke(cli, ["show", product, "--format", fmt], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.stderr
    golden(f"show/{product}.{FORMATS[fmt]}", result.stdout_bytes)


def test_every_catalog_product_has_show_goldens() -> None:
    golden_dir = examples.GOLDEN
    for product in catalog_ids():
        for ext in FORMATS.values():
            assert (golden_dir / "show" / f"{product}.{ext}").is_file(), (product, ext)


def test_shopping_show_has_a_table_per_component_in_vendor_order() -> None:
    result = CliRunner().invoke(cli, ["show", "shopping-6.1", "--format", "json"])
    document = machine.document(result.stdout, "show")
    tables = [
        {**t, "rows": [dict(zip(t["columns"], row, strict=True)) for row in t["rows"]]}
        for t in document["tables"]
    ]
    assert [t["title"] for t in tables] == [
        "Ports used by the Shopping Website",
        "Ports used by the Shopping Central Service",
        "Ports used by the Shopping Admin Console",
        "Ports used by the Shopping receiver",
        "Ports used by Shopping clients",
    ]
    assert [len(t["rows"]) for t in tables] == [4, 8, 5, 3, 5]
    website = tables[0]["rows"]
    assert website[0]["Port"] == "TCP 443 (HTTPS)"
    assert website[0]["Traffic"] == "Inbound"
    assert website[3]["Port"] == "TCP 636 and 3269 (LDAPS)"
    assert website[3]["Traffic"] == "Inbound/Outbound"
    clients = tables[4]["rows"]
    assert clients[1]["Port"] == "TCP 25 (SMTP) and TCP 110 (POP3)"
    assert clients[1]["Condition"] == "lab and not exchange"
    assert clients[4]["Traffic"] == "Inbound (loopback)"
    assert clients[4]["Port"] == "TCP 8000 (HTTP)"
    central = tables[1]["rows"]
    assert central[3]["Port"].startswith("WMI (DCOM) TCP 135 and 445 (initially)")
    assert central[2]["Configurable"].startswith("Yes, indirectly.")
    assert tables[2]["note"].startswith("Required if the Shopping Admin console is installed")
    assert all(row["Condition"].startswith("remote_admin_console") for row in tables[2]["rows"])


def test_smart_id_show_is_the_flat_table_with_external_and_internal_ports() -> None:
    result = CliRunner().invoke(cli, ["show", "smart-id-21.04", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 19
    first = rows[0]
    assert first["Firewall Interface"] == "External"
    assert first["From"] == "User client"
    assert first["To main component"] == "Identity Manager"
    assert first["To subcomponent"] == "Operator"
    assert (first["External Listening Port"], first["Internal Listening Port"]) == (
        "TCP 443",
        "TCP 7071",
    )
    hermod = rows[8]
    assert hermod["From"] == "Digital Access and Identity Manager Operator"
    assert (hermod["External Listening Port"], hermod["Internal Listening Port"]) == (
        "TCP 443",
        "TCP 20400",
    )
    radius = rows[14]
    assert radius["External Listening Port"] == "UDP 18118-18126"
    assert radius["Firewall Interface"] == "Internal and external"
    lcp = rows[15]
    assert (lcp["External Listening Port"], lcp["Internal Listening Port"]) == ("-", "TCP 8300")
    assert lcp["From"] == "All services"
    database = rows[13]
    assert database["External Listening Port"] == "TCP 5432 TCP [external_database_port]"


@pytest.mark.parametrize(
    ("row", "comment"),
    [
        (
            6,
            "External communication between Physical Access and RabbitMQ. These port numbers can "
            "NOT be changed.",
        ),
        (
            7,
            "Internal communication between Physical Access and SCIM API. This port number can be "
            "changed.",
        ),
    ],
)
def test_smart_id_show_keeps_the_configurability_sentence_of_the_comment(
    row: int, comment: str
) -> None:
    # The vendor's "Protocol and Comment" cell of the RabbitMQ and SCIM rows ends with whether
    # the ports can be changed; the flat table has no Configurable column to hold it, so the
    # comment must, before any note
    result = CliRunner().invoke(cli, ["show", "smart-id-21.04", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    cell = rows[row - 1]["Protocol and Comment"]
    assert cell == comment or cell.startswith(f"{comment} Note: "), cell


def test_show_accepts_a_product_file() -> None:
    result = CliRunner().invoke(
        cli, ["show", str(catalog_path("smart-id-21.04")), "--format", "md"]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("# Default ports in Smart ID (smart-id-21.04)")


def test_show_unknown_product_suggests_the_closest() -> None:
    result = CliRunner().invoke(cli, ["show", "shoping-6.1"])
    assert result.exit_code == 2
    assert "no product 'shoping-6.1' in the catalog" in result.stderr
    assert "did you mean 'shopping-6.1'?" in result.stderr


def test_a_csv_cell_a_spreadsheet_would_run_starts_with_a_quote(tmp_path: Path) -> None:
    examples.hostile_deployment(tmp_path, component="=1+2", purpose="@SUM(A1)")
    product = str(tmp_path / "deployment-product.yaml")
    result = CliRunner().invoke(cli, ["show", product, "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    (row,) = csv.reader(io.StringIO(result.stdout.splitlines()[1]))
    assert "'=1+2" in row and "'@SUM(A1)" in row[-2]
    # portplan's own "none" is no formula, but where ";" splits the line it begins the cell
    # "-,=1+2,DB,..." (tests/test_csv_list_separator.py): it is guarded as the first field
    assert row[0] == "'-"


def test_markdown_text_stays_in_its_heading_and_cell(tmp_path: Path) -> None:
    examples.hostile_deployment(
        tmp_path,
        title="Doc\r## Approved\u2028by security",
        component="Web\v<img src=x onerror=alert(1)>",
        purpose="Access |\x85| row",
    )
    product = str(tmp_path / "deployment-product.yaml")
    result = CliRunner().invoke(cli, ["show", product, "--format", "md"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "# Doc ## Approved by security (hostile-1.0)"
    assert [line for line in lines if line.startswith("#")] == [lines[0]]
    (row,) = [line for line in lines if "Access" in line]
    assert "Web &lt;img src=x onerror=alert(1)>" in row
    assert r"Access \| \| row" in row


def test_markdown_leaves_no_link_live(tmp_path: Path) -> None:
    # a vendor's or an operator's text shows as written: a link would show its words and
    # hide where it leads; rendered by a CommonMark parser with GitHub's tables
    examples.hostile_deployment(
        tmp_path,
        title="Doc [approved](https://example.com/a)",
        component="Web ![logo](https://example.com/l.png)",
        purpose="See [the ticket][t] and [t]\n\n[t]: https://example.com/t",
    )
    product = str(tmp_path / "deployment-product.yaml")
    result = CliRunner().invoke(cli, ["show", product, "--format", "md"])
    assert result.exit_code == 0, result.stderr
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert "<a " not in html and "<img" not in html
    assert "Doc [approved](https://example.com/a)" in html
    assert "Web ![logo](https://example.com/l.png)" in html
    assert "See [the ticket][t] and [t] [t]: https://example.com/t" in html


def test_markdown_strikes_nothing_out(tmp_path: Path) -> None:
    # GitHub's Markdown strikes ``~~text~~`` (and ``~text~``) out: a port range written with
    # tildes, or a sheet title cut with ``~2``, showed as deleted text
    examples.hostile_deployment(
        tmp_path,
        title="Doc ~~draft~~",
        component="Web ~old~",
        purpose="Ports 8000~~8100 ~~not these~~",
    )
    product = str(tmp_path / "deployment-product.yaml")
    result = CliRunner().invoke(cli, ["show", product, "--format", "md"])
    assert result.exit_code == 0, result.stderr
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(result.stdout)
    assert "<s>" not in html and "<del>" not in html
    assert "Doc ~~draft~~" in html and "Web ~old~" in html
    assert "Ports 8000~~8100 ~~not these~~" in html


def test_a_flat_document_shows_an_icmp_row_by_its_protocol_and_messages() -> None:
    # a flat table has no protocol column: an ICMP row, which has no port, said neither
    # ICMP nor its message types (both port cells '-'), and read as a row of no traffic
    product = str(examples.EXAMPLES / "products" / "example-search-2.0.yaml")
    result = CliRunner().invoke(cli, ["show", product, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (table,) = machine.document(result.stdout, "show")["tables"]
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    ping = next(r for r in rows if r["Protocol and Comment"].startswith("Nodes ping"))
    mtu = next(r for r in rows if "path MTU" in r["Protocol and Comment"])
    assert ping["Internal Listening Port"] == "ICMP echo-request"
    assert mtu["Internal Listening Port"].startswith("ICMP destination-unreachable")
    assert ping["External Listening Port"] == mtu["External Listening Port"] == "-"


PARTED = """\
id: parted-1.0
name: Parted
version: "1.0"
vendor: Test
document: {{title: Parted, layout: {layout}}}
{sections}
components:
  app: {{name: App}}
  db: {{name: Database}}
  cache: {{name: Cache}}
  admin: {{name: Admin workstation}}
parameters:
  cache_port: {{default: 6379, description: The cache port.}}
flows:
  - id: db
    {section}
    row: 1
    part: 1
    from: app
    to: db
    traffic: outbound
    interface: internal
    protocol: tcp
    ports: 5432
    purpose: The app's database.
    notes: [Only when the database is remote.]
  - id: cache
    {section}
    row: 1
    part: 2
    from: admin
    to: cache
    traffic: inbound
    interface: external
    protocol: tcp
    ports: cache_port
    purpose: The administrators' cache console.
    notes: [Through the VPN.]
    configurable: {{kind: yes, note: "Yes, in cache.conf."}}
"""


@pytest.mark.parametrize("layout", ["flat", "per-component"])
def test_every_part_of_a_row_is_shown_not_only_the_first(tmp_path: Path, layout: str) -> None:
    # a row's second part came from another source, in another direction, with its own
    # purpose, note and configurability: the table wrote the first part's alone
    sections = "sections: [{id: app, title: Ports of the app}]" if layout != "flat" else ""
    section = "section: app" if layout != "flat" else ""
    path = tmp_path / "parted.yaml"
    path.write_text(PARTED.format(layout=layout, sections=sections, section=section))
    result = CliRunner().invoke(cli, ["show", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (table,) = machine.document(result.stdout, "show")["tables"]
    (row,) = table["rows"]
    text = " | ".join(row)
    for said in (
        "The app's database.",
        "The administrators' cache console.",
        "Only when the database is remote.",
        "Through the VPN.",
        "Yes, in cache.conf.",
    ):
        assert said in text, (said, row)
    cells = dict(zip(table["columns"], row, strict=True))
    if layout == "flat":
        assert cells["From"] == "App and Admin workstation"
        assert cells["Firewall Interface"] == "Internal and External"
    else:
        assert cells["Traffic"] == "Outbound and Inbound"
