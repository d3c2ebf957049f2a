"""`portplan import`: a vendor document to a draft product that validates, every flow with its
provenance, every row either drafted or reported, exit 1 when anything is unread."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import Workbook

import machine
from portplan.cli import cli
from portplan.importer import import_document
from portplan.load.product import load_product
from portplan.model import ANY, IcmpType, Product, Protocol

CORPUS = Path(__file__).resolve().parent / "data" / "vendor-docs"
DOCUMENTS = sorted(
    f
    for folder in CORPUS.iterdir()
    if folder.is_dir()
    for f in folder.iterdir()
    if f.is_file() and f.name not in ("SOURCE.md", "product.yaml")
)
UNREAD = re.compile(r"^(?P<file>[^:]+):(?P<where>[^:]+(?::\d+)?): (?P<message>.+)$")


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["import", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.parent.name)
def test_every_corpus_document_imports_into_a_product_that_validates(
    document: Path, tmp_path: Path, golden: Callable[[str, bytes], None]
) -> None:
    out = tmp_path / "product.yaml"
    code, _stdout, stderr = run(str(document), "-o", str(out))
    reading = import_document(document)
    lines = [line for line in stderr.splitlines() if not line.startswith("portplan:")]
    # every unread cell is listed as file:where: message, and decides the exit status
    assert all(UNREAD.match(line) for line in lines), lines
    assert code == (1 if lines else 0), stderr
    product = load_product(out)  # validates, cross-references included
    golden(f"import-draft/{document.parent.name}.yaml", out.read_bytes())
    # every data row is drafted (a flow says it came from there) or reported (a line names it)
    drafted = {(f.origin.table, f.origin.row) for f in product.flows if f.origin is not None}
    for table in reading.tables:
        for row in table.rows:
            key = (table.table.title, row.number)
            where = {str(c.origin or c.where) for c in row.row.cells}
            reported = any(line.split(": ", 1)[0] in where for line in lines)
            assert key in drafted or reported, (document.name, key)
    for flow in product.flows:
        assert flow.origin is not None and flow.origin.file == document.name
        assert flow.origin.cells, flow.id
    # show puts every drafted row back, in its table, under the vendor's headings
    shown = CliRunner().invoke(cli, ["show", str(out), "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    tables = machine.document(shown.stdout, "show")["tables"]
    by_section = {s.id: i for i, s in enumerate(product.sections)}
    expected = [0] * len(product.sections)
    for section, _row in {(f.section, f.row) for f in product.flows}:
        expected[by_section[section or ""]] += 1
    assert [len(t["rows"]) for t in tables if t["rows"]] == [n for n in expected if n]
    for table, reading_table in zip(tables, reading.tables, strict=False):
        if table["rows"]:
            headings = zip(reading_table.table.columns, reading_table.roles, strict=True)
            mapped = [h for h, r in headings if r]
            assert set(mapped) <= set(table["columns"]), (table["columns"], mapped)


def test_the_issue_port_expressions_and_directions_become_flows(tmp_path: Path) -> None:
    doc = tmp_path / "ports.md"
    doc.write_text(
        "# Example ports\n\n"
        "| Component | Port | Direction | Purpose | Access |\n"
        "|---|---|---|---|---|\n"
        "| Server | TCP 135 and 445 | Inbound | RPC | internal |\n"
        "| Server | UDP 18118 - 18126 | Inbound | Media | external |\n"
        "| Server | TCP/UDP 53 | Inbound/Outbound | DNS | internal |\n"
        "| Server | 8080 or 8443/tcp | Inbound | Web console | admins |\n"
        "| Server | TCP 5432 TCP [port for external database] | Outbound | Database | - |\n"
        "| Server | configurable, default 8443/tcp | Inbound (loopback) | Agent | - |\n"
        "| Server | ICMP echo | Inbound | Ping | - |\n"
    )
    out = tmp_path / "product.yaml"
    code, _stdout, stderr = run(str(doc), "-o", str(out), "--id", "example-1.0")
    product = load_product(out)
    flows = {(f.row, f.part): f for f in product.flows}
    server = next(k for k, c in product.components.items() if c.name == "Server")

    rpc = flows[(1, None)]
    assert (rpc.source, rpc.destination, rpc.protocol) == ((ANY,), (server,), Protocol.TCP)
    assert [str(p) for p in rpc.ports or ()] == ["135", "445"]
    assert rpc.columns == {"Access": "internal"}
    media = flows[(2, None)]
    assert (media.protocol, [str(p) for p in media.ports or ()]) == (Protocol.UDP, ["18118-18126"])
    # TCP/UDP and Inbound/Outbound: both transports, both ways; outbound names no destination
    dns = [f for (row, _part), f in flows.items() if row == 3]
    assert sorted((f.protocol.value, f.traffic.value if f.traffic else None) for f in dns) == [
        ("tcp", "inbound"),
        ("tcp", "outbound"),
        ("udp", "inbound"),
        ("udp", "outbound"),
    ]
    # 8080 or 8443: a parameter with a default and the alternative the vendor allows
    (web_port,) = flows[(4, None)].parameter_names()
    parameter = product.parameters[web_port]
    assert [str(p) for p in parameter.default or ()] == ["8080"]
    assert [str(p) for p in parameter.allowed or ()] == ["8443"]
    # a port the vendor leaves to the deployment: a parameter without a default
    database = flows[(5, None)]
    assert [str(p) for p in database.ports or () if not hasattr(p, "name")] == ["5432"]
    (open_port,) = database.parameter_names()
    assert product.parameters[open_port].default is None
    agent = flows[(6, None)]
    assert agent.loopback
    (agent_port,) = agent.parameter_names()
    assert [str(p) for p in product.parameters[agent_port].default or ()] == ["8443"]
    ping = flows[(7, None)]
    assert (ping.protocol, [t.value for t in ping.icmp]) == (Protocol.ICMP, ["echo-request"])
    # the two outbound rows name no destination: reported, exit 1
    assert code == 1
    reported = [line for line in stderr.splitlines() if "names no destination" in line]
    assert [line.split(":")[1] for line in reported] == ["7", "9"]


def test_standard_input_needs_its_format_and_reads_spreadsheets(tmp_path: Path) -> None:
    xlsx = next(d for d in DOCUMENTS if d.suffix == ".xlsx")
    code, _stdout, stderr = run("-", input=xlsx.read_bytes())
    assert code == 2 and "--input-format" in stderr
    code, stdout, _stderr = run("-", "--input-format", "xlsx", input=xlsx.read_bytes())
    assert code == 0
    assert yaml.safe_load(stdout)["flows"][0]["origin"]["file"] == "<stdin>"


def test_a_map_file_maps_an_unusual_heading(tmp_path: Path) -> None:
    doc = tmp_path / "odd.csv"
    doc.write_text("Listener,Wire,Why,2-way?\nCollector,TCP 9997,Forwarding,Y\n")
    code, _stdout, stderr = run(str(doc), "-o", str(tmp_path / "a.yaml"))
    assert code == 1
    assert "odd.csv:2:1: column 'Listener' maps to no field" in stderr
    mapping = tmp_path / "map.yaml"
    mapping.write_text("Listener: destination\nWire: port\nWhy: description\n2-way?: extra\n")
    out = tmp_path / "b.yaml"
    code, _stdout, stderr = run(str(doc), "--map", str(mapping), "-o", str(out))
    assert code == 0, stderr
    (flow,) = load_product(out).flows
    assert flow.columns == {"2-way?": "Y"}
    assert flow.purpose == "Forwarding"
    assert "names no column" not in stderr


def test_a_map_heading_that_names_no_column_is_said(tmp_path: Path) -> None:
    # a misspelt heading in the map changed nothing, without a word: the draft was made as if
    # the map did not say it (here 'Listner' never maps 'Listener', which stays unread)
    doc = tmp_path / "odd.csv"
    doc.write_text("Listener,Wire,Why\nCollector,TCP 9997,Forwarding\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("Wire: port\nListner: destination\nWhy: description\n")
    for args in ([str(doc)], ["-", "--input-format", "csv"]):
        code, _stdout, stderr = run(*args, "--map", str(mapping), "-o", "-", input=doc.read_bytes())
        assert code == 1, stderr
        said = [line for line in stderr.splitlines() if "names no column" in line]
        assert said == [
            f"portplan: warning: {mapping}:2: the map's heading 'listner' names no column of "
            f"{doc if args[0] != '-' else '<stdin>'}, so it changes nothing; write it as the "
            "document heads the column (case, spaces and a trailing '?' do not count)"
        ], stderr


def test_the_draft_never_overwrites_the_document_or_an_existing_file(tmp_path: Path) -> None:
    doc = tmp_path / "ports.csv"
    doc.write_text("Port,Protocol,Description\n443,TCP,Web\n")
    before = doc.read_bytes()
    code, _stdout, stderr = run(str(doc), "-o", str(doc), "--overwrite")
    assert code == 2 and doc.read_bytes() == before, stderr
    assert "one of the input files" in stderr
    out = tmp_path / "product.yaml"
    out.write_text("mine\n")
    code, _stdout, stderr = run(str(doc), "-o", str(out))
    assert code == 2 and out.read_text() == "mine\n"
    assert "--overwrite" in stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("ports.txt", b"Port\n1\n", "cannot tell the format"),
        ("ports.csv", b"", "holds no table"),
        ("ports.csv", b"From,To,Port,Protocol\n", "ports.csv:1:1: error: holds table headings"),
        ("missing.csv", None, "ports.csv"),
    ],
)
def test_bad_documents_are_refused_with_a_located_message(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _stdout, stderr = run(str(path) if content is not None else str(tmp_path / "ports.csv"))
    assert code == 2, stderr
    assert message in stderr
    assert "Traceback" not in stderr


def test_a_csv_row_the_csv_module_refuses_is_located(tmp_path: Path) -> None:
    # "cannot be read as csv: field larger than field limit (131072) (check the file)": no
    # line, and no word of the usual cause, a quote left open
    doc = tmp_path / "ports.csv"
    doc.write_text('Port,Protocol\n443,TCP\n"8443' + "x" * 200_000 + ",TCP\n80,TCP\n")
    code, stdout, stderr = run(str(doc), "-o", str(tmp_path / "product.yaml"))
    assert code == 2, stderr
    assert stdout == ""
    assert stderr.splitlines()[0] == (
        f"{doc}:3:1: error: cannot be read as csv: field larger than field limit (131072) "
        "(check the quotes of this row: a quote left open takes in the lines after it)"
    )
    assert not (tmp_path / "product.yaml").exists()


@pytest.mark.parametrize("name", ["tables", "tables.txt"])
def test_a_folder_or_a_missing_file_is_told_as_such_whatever_its_name(
    tmp_path: Path, name: str
) -> None:
    # the name's ending was judged first: "cannot tell the format ... ending '(none)'"
    folder = tmp_path / name
    folder.mkdir()
    code, _stdout, stderr = run(str(folder))
    assert code == 2, stderr
    assert f"{folder}: error: is a directory, not a regular file (give a vendor port table" in (
        stderr
    )
    missing = tmp_path / f"missing-{name}"
    code, _stdout, stderr = run(str(missing))
    assert code == 2, stderr
    assert f"{missing}: error: no such file (check the path)" in stderr


@pytest.mark.parametrize("product_id", ["Bad Id!", "shopping 6.1", "6.1", "a--b", "é"])
def test_an_id_that_is_not_a_product_id_is_refused(tmp_path: Path, product_id: str) -> None:
    # pydantic's ValidationError escaped as a traceback, exit 1
    doc = tmp_path / "ports.csv"
    doc.write_text("From,To,Port,Protocol\nclient,server,443,tcp\n")
    out = tmp_path / "product.yaml"
    code, stdout, stderr = run(str(doc), "--id", product_id, "-o", str(out))
    assert code == 2, stderr
    assert stdout == "" and not out.exists()
    assert stderr == (
        f"portplan: error: --id {product_id!r} is not a product id: write lower-case letters, "
        "digits and '_', in parts joined by '-' or '.', the first a letter (shopping-6.1)\n"
    )


def test_an_id_longer_than_a_product_id_is_refused(tmp_path: Path) -> None:
    # the pattern matched; the draft's validation (128 characters at most) was a traceback
    doc = tmp_path / "ports.csv"
    doc.write_text("From,To,Port,Protocol\nclient,server,443,tcp\n")
    out = tmp_path / "product.yaml"
    code, stdout, stderr = run(str(doc), "--id", "a" * 129, "-o", str(out))
    assert code == 2, stderr
    assert stdout == "" and not out.exists()
    assert stderr == (
        "portplan: error: --id is 129 characters long: a product id has at most 128; give a "
        "shorter one\n"
    )
    code, _stdout, stderr = run(str(doc), "--id", "a" * 128, "-o", str(out))
    assert code == 0, stderr


def drafted(doc: Path, text: str) -> tuple[int, str, Product]:
    """``portplan import`` of ``text`` written to ``doc``: the exit status, standard error and
    the draft, loaded (so validated)."""
    doc.write_text(text)
    out = doc.with_name(f"{doc.name}.yaml")
    code, _stdout, stderr = run(str(doc), "-o", str(out))
    return code, stderr, load_product(out)


def test_ports_joined_by_a_slash_are_reported_not_drafted_as_one_or_the_other(
    tmp_path: Path,
) -> None:
    """``TCP 80/443`` drafted a parameter whose default opened 80 alone, and ``80+443`` opened
    80-65535, both with exit 0.  Such a cell is now listed at its place, exit 1, and no port
    of it is drafted; the other rows are."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc, "Port,Protocol,Purpose\nTCP 80/443,TCP,Web\n80+443,TCP,Web\n8443,TCP,Admin\n"
    )
    assert code == 1
    assert f"{doc}:2:1: column 'Port': '80/443' could be ports 80 and 443, or one of" in stderr
    assert f"{doc}:3:1: column 'Port': '80+443': '+' between ports" in stderr
    assert [[str(p) for p in f.ports or ()] for f in product.flows] == [["8443"]]
    assert not product.parameters


def test_the_draft_keeps_the_components_of_rows_it_could_not_read(tmp_path: Path) -> None:
    """Elastic Cloud Enterprise's listener lists, every row with a fault (no transport, a
    slash between ports), drafted ``components: {}``: the names the columns use were lost
    with the rows. They are kept, with the product's own (a listener of a row without a
    component), and each unread row is still listed."""
    doc = tmp_path / "ports.md"
    code, stderr, product = drafted(
        doc,
        "| Host role | Inbound ports | Purpose |\n|---|---|---|\n"
        "| Allocator | 18000-18999/20000-20999 | Instances |\n"
        "| Director | 2112 | ZooKeeper |\n"
        "|  | 9000 | Metrics |\n",
    )
    assert code == 1
    assert f"{doc}:3:15: column 'Inbound ports': '18000-18999/20000-20999' could be" in stderr
    assert f"{doc}:4:14: column 'Inbound ports': port 2112 has no transport" in stderr
    assert f"{doc}:5:6: column 'Inbound ports': port 9000 has no transport" in stderr
    assert not product.flows
    assert {c: product.components[c].name for c in product.components} == {
        "ports": "ports",
        "allocator": "Allocator",
        "director": "Director",
    }
    # a peer without a direction: its row is unread, the peer and the table's component kept
    code, stderr, product = drafted(
        tmp_path / "peers.csv", "Component,Peer,Port,Protocol\nManager,Agent,443,TCP\n"
    )
    assert code == 1 and "names a peer but not which way" in stderr
    assert sorted(product.components) == ["agent", "manager"]


def test_a_footnote_link_is_never_run_into_the_port(tmp_path: Path) -> None:
    """``22<a href="#fn1">1</a>`` drafted port 221, ``22 <a href="#fn1">1</a>`` ports 22 and
    1, and Markdown's ``22[^1]`` port 22 and a port the deployment must set, each exit 0."""
    page = (
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        '<tr><td>22<a href="#fn1">1</a></td><td>TCP</td></tr>'
        '<tr><td>22 <a href="#fn1">1</a></td><td>TCP</td></tr></table>'
        '<p id="fn1">1. Only for the management network.</p>'
    )
    markdown = "| Port | Protocol |\n|---|---|\n| 22[^1] | TCP |\n\n[^1]: Management only.\n"
    for name, text, marks in (("ports.html", page, 2), ("ports.md", markdown, 1)):
        code, stderr, product = drafted(tmp_path / name, text)
        assert code == 1
        assert stderr.count("column 'Port':") == marks, stderr
        assert {str(p) for f in product.flows for p in f.ports or ()} == {"22"}
        assert not product.parameters


def test_a_port_in_the_protocol_column_is_reported_never_dropped(tmp_path: Path) -> None:
    """A row with ``80`` under Port and ``TCP/443`` under Protocol drafted 80/tcp alone, 443
    dropped without a word, exit 0; with the port cell empty the row was reported without
    naming the 443."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(doc, "Port,Protocol,Purpose\n80,TCP/443,Web\n,TCP/8443,Admin\n")
    assert code == 1
    assert f"{doc}:2:4: column 'Protocol': could not read '443': a port in a protocol" in stderr
    assert f"{doc}:3:2: column 'Protocol': could not read '8443': a port in a protocol" in stderr
    assert [(f.protocol, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (Protocol.TCP, ["80"])
    ]


def test_icmp_of_one_ip_version_is_reported_never_drafted_as_icmp(tmp_path: Path) -> None:
    """``ICMP v6`` in a port cell, or ``ICMP (IPv6)`` in a protocol cell, drafted an icmp flow,
    which allows ICMP over IPv4 as well, and ``ICMPv6`` under a TCP protocol a TCP port for
    each deployment to set, all exit 0.  Each is now reported and none drafted."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Port,Protocol,Purpose\n"
        "ICMP v6,,Neighbour discovery\n"
        ",ICMP (IPv6),Neighbour discovery\n"
        "ICMP,ICMPv6,Ping\n"
        "ICMPv6,TCP,Ping\n"
        "ICMP echo,ICMP,Ping\n",
    )
    assert code == 1
    lines = [line for line in stderr.splitlines() if "ICMP of one IP version" in line]
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{doc}:2:1", "column 'Port'"],
        [f"{doc}:3:2", "column 'Protocol'"],
        [f"{doc}:4:6", "column 'Protocol'"],
        [f"{doc}:5:1", "column 'Port'"],
    ]
    assert [(f.row, f.protocol, f.icmp, f.ports) for f in product.flows] == [
        (5, Protocol.ICMP, (IcmpType.ECHO_REQUEST,), None)
    ]
    assert not product.parameters


def test_a_line_of_a_paired_cell_says_why_it_cannot_be_read(tmp_path: Path) -> None:
    """Cells paired line by line (``514`` / ``80/443`` with ``TCP`` / ``TCP``) said of a line
    that could not be read that it "holds alternatives", so ``80/443`` looked like the "or"
    it no longer is; the line's own fault is now reported, the other lines drafted."""
    doc = tmp_path / "ports.html"
    code, stderr, product = drafted(
        doc,
        "<table><tr><th>Port</th><th>Protocol</th></tr>"
        "<tr><td>514<br>80/443</td><td>UDP<br>TCP</td></tr></table>",
    )
    assert code == 1
    assert f"{doc}:1:51: column 'Port': '80/443' could be ports 80 and 443, or one" in stderr
    assert "holds alternatives" not in stderr
    assert [(f.protocol, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (Protocol.UDP, ["514"])
    ]


def test_a_subcomponent_is_a_part_of_its_main_component_not_any_part_of_that_name(
    tmp_path: Path,
) -> None:
    """Smart ID's table has "To main component" and "To subcomponent": Identity Manager's
    Admin (8443) and Physical Access's Admin (443) were drafted as one component 'admin', so
    a deployment placing it opened both ports on one host.  Each subcomponent is now its own
    component, a part (``parent``) of its main component; a source that names the same part
    in full ("Identity Manager Operator") is that component."""
    doc = tmp_path / "smart-id.md"
    code, stderr, product = drafted(
        doc,
        "| From | To main component | To subcomponent | External Listening Port | "
        "Internal Listening Port | Protocol and Comment |\n"
        "|---|---|---|---|---|---|\n"
        "| User client | Identity Manager | Admin | TCP 8443 | TCP 7073 | IM Admin. |\n"
        "| User client | Physical Access | Admin | TCP 443 | - | PA Admin. |\n"
        "| User client | Identity Manager | Operator | TCP 443 | TCP 7071 | IM Operator. |\n"
        "| Identity Manager Operator | Messaging | Hermod | TCP 443 | TCP 20400 | Hermod. |\n",
    )
    assert code == 0, stderr
    first, second, third, fourth = product.flows
    im_admin, pa_admin = first.destination[0], second.destination[0]
    assert im_admin != pa_admin
    for ident, main in ((im_admin, "Identity Manager"), (pa_admin, "Physical Access")):
        component = product.components[ident]
        assert component.name == "Admin"
        assert component.parent is not None
        assert product.components[component.parent].name == main
    operator = third.destination[0]
    assert product.components[operator].name == "Operator"
    assert fourth.source == (operator,)
    hermod = product.components[fourth.destination[0]]
    assert hermod.parent is not None and product.components[hermod.parent].name == "Messaging"


def test_a_row_marked_in_matrix_columns_is_conditional_on_their_headings(tmp_path: Path) -> None:
    code, stderr, product = drafted(
        tmp_path / "matrix.md",
        "| Port | Protocol | Used by | Director | Allocator |\n"
        "|---|---|---|---|---|\n"
        "| 2112 | TCP | ZooKeeper | X | |\n"
        "| 22 | TCP | SSH | X | X |\n",
    )
    assert code == 0, stderr
    assert {k: f.description for k, f in product.features.items()} == {
        "director": "Director",
        "allocator": "Allocator",
    }
    assert [str(f.condition) for f in product.flows] == ["director", "director or allocator"]


def test_a_condition_column_and_matrix_marks_must_all_hold(tmp_path: Path) -> None:
    # the marks replaced the text condition, and of two condition columns the last won: the
    # draft opened the row where the vendor asks for it only if the other holds too
    code, stderr, product = drafted(
        tmp_path / "matrix.md",
        "| Port | Protocol | Used by | Condition | Required | Director | Allocator |\n"
        "|---|---|---|---|---|---|---|\n"
        "| 2112 | TCP | ZooKeeper | if TLS is off | if ZooKeeper is used | X | X |\n"
        "| 22 | TCP | SSH | | | X | |\n",
    )
    assert code == 0, stderr
    first, second = (str(f.condition) if f.condition else None for f in product.flows)
    assert first is not None and second == "director"
    terms = first.split(" and ")
    assert len(terms) == 3 and terms[-1] == "(director or allocator)", first
    assert all(t in product.features for t in terms[:2]), first


def test_a_row_marked_in_no_matrix_column_is_reported_not_drafted_as_always(
    tmp_path: Path,
) -> None:
    """A matrix row with no mark in any of its columns was drafted without a condition, so it
    applied to every installation type although the vendor marked it for none, with exit 0.
    It is now listed at its first matrix cell, exit 1; the other rows keep their conditions."""
    doc = tmp_path / "matrix.md"
    code, stderr, product = drafted(
        doc,
        "| Port | Protocol | Used by | Director | Allocator |\n"
        "|---|---|---|---|---|\n"
        "| 2112 | TCP | ZooKeeper | X | |\n"
        "| 9200 | TCP | Search | | |\n"
        "| 22 | TCP | SSH | | X |\n",
    )
    assert code == 1, stderr
    assert (
        f"{doc}:4:25: column 'Director': the row is marked in none of the columns 'Director', "
        "'Allocator': the draft applies it always; mark the column it belongs to, or give its "
        "flow a condition by hand"
    ) in stderr
    assert [str(f.condition) if f.condition else None for f in product.flows] == [
        "director",
        None,
        "allocator",
    ]


CATEGORY_ROWS = [
    ("Port", "Protocol", "Description"),
    ("Web console (TCP 8080)",),
    ("8443", "TCP", "Web"),
    ("TCP 8080",),
    ("514", "UDP", "Syslog"),
]


def test_a_row_one_cell_spans_is_a_category_never_a_flow(tmp_path: Path) -> None:
    """A port list whose categories are rows of one cell merged over the whole table (XLSX)
    or one ``colspan`` cell (HTML): the span copies the category into every column, and the
    category ``TCP 8080`` was drafted as a flow opening TCP 8080 (its text in the Port, the
    Protocol and the Description column alike), which no row of the vendor's asks for; the
    other category was reported as a protocol cell naming no transport.  Such a row is now
    listed as a category at its place, and never drafted."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for number, row in enumerate(CATEGORY_ROWS, start=1):
        sheet.append(row)
        if len(row) == 1:
            sheet.merge_cells(f"A{number}:C{number}")
    book.save(tmp_path / "ports.xlsx")
    cells = "".join(
        f'<tr><td colspan="3">{r[0]}</td></tr>'
        if len(r) == 1
        else "<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
        for r in CATEGORY_ROWS
    )
    (tmp_path / "ports.html").write_text(f"<table>{cells}</table>")
    for name, places in (("ports.xlsx", ("Sheet!A2", "Sheet!A4")), ("ports.html", ("1:", "1:"))):
        doc = tmp_path / name
        code, _stdout, stderr = run(str(doc), "-o", str(tmp_path / f"{name}.yaml"))
        product = load_product(tmp_path / f"{name}.yaml")
        assert code == 1, stderr
        assert [(f.protocol.value, [str(p) for p in f.ports or ()]) for f in product.flows] == [
            ("tcp", ["8443"]),
            ("udp", ["514"]),
        ], name
        lines = [line for line in stderr.splitlines() if line.startswith(str(doc))]
        assert len(lines) == 2, stderr
        texts = ("Web console (TCP 8080)", "TCP 8080")
        for line, place, text in zip(lines, places, texts, strict=True):
            assert line.startswith(f"{doc}:{place}"), line
            assert f"{text!r}: a row of one cell spanning the whole table" in line, line


def test_a_row_one_cell_spans_with_the_rest_empty_is_a_category_never_a_flow(
    tmp_path: Path,
) -> None:
    """DataStax Enterprise's port table heads its groups with a row whose one cell spans the
    Port and Description columns (``colspan="2"``), the third cell written empty
    (``&nbsp;``).  The category ``DataStax Enterprise public ports`` was read as a named port
    the deployment sets, and drafted as a flow opening it (its text in the Port and the
    Description column alike), which no row of the vendor's asks for.  Such a row is now a
    category too, listed at its place and never drafted; a spanning cell beside a written one
    is still read as a row."""
    page = (
        "<table><tr><th>Port</th><th>Description</th><th>Configurable in</th></tr>"
        '<tr><td colspan="3">Public facing ports</td></tr>'
        "<tr><td>22</td><td>SSH (default)</td><td>sshd</td></tr>"
        '<tr><td colspan="2">DataStax Enterprise public ports</td><td>&nbsp;</td></tr>'
        "<tr><td>4040</td><td>Spark application web site</td><td></td></tr>"
        '<tr><td colspan="2">8443</td><td>spark-env.sh</td></tr>'
        "</table>"
    )
    (tmp_path / "map.yaml").write_text(
        "Port: {field: port, protocol: tcp}\nConfigurable in: extra\n"
    )
    doc = tmp_path / "ports.html"
    doc.write_text(page)
    out = tmp_path / "ports.yaml"
    code, _stdout, stderr = run(str(doc), "--map", str(tmp_path / "map.yaml"), "-o", str(out))
    product = load_product(out)
    assert code == 1, stderr
    assert not product.parameters
    assert [(f.row, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (2, ["22"]),
        (4, ["4040"]),
        (5, ["8443"]),
    ]
    lines = [line for line in stderr.splitlines() if line.startswith(str(doc))]
    assert len(lines) == 2, stderr
    assert "'Public facing ports': a row of one cell spanning the whole table" in lines[0]
    assert lines[1].startswith(f"{doc}:1:"), lines[1]
    assert (
        "'DataStax Enterprise public ports': a row of one cell spanning 2 of the table's 3 "
        "columns, the others empty, is a heading inside it" in lines[1]
    ), lines[1]


def test_a_row_of_one_written_cell_naming_no_port_is_a_category_never_a_flow(
    tmp_path: Path,
) -> None:
    """The stored copies of DataStax's port tables show each group's heading row with the
    other cells blank (``Public Facing Ports | | |``), as a Markdown or CSV table has to write
    it, with no span.  Under a ``TCP Port`` heading such a row was read as a port the vendor
    leaves to the deployment, and drafted as a flow opening it, exit 0 and "every cell was
    read": two flows no row of the vendor's asks for.  A row whose only written cell names no
    port number is now a category heading inside the table: listed, no flow.  A row of one
    written cell with a port in it is still read."""
    page = (
        "# Appliance\n\n| TCP Port | Description |\n|---|---|\n"
        "| **Management ports** | |\n| 22 | SSH |\n| 443 | Web UI |\n"
        "| Cluster ports | |\n| 7000 | Gossip |\n| 7001 | |\n"
    )
    doc = tmp_path / "ports.md"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    assert not product.parameters
    assert [(f.row, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (2, ["22"]),
        (3, ["443"]),
        (5, ["7000"]),
        (6, ["7001"]),
    ]
    lines = [line for line in stderr.splitlines() if line.startswith(str(doc))]
    assert [line.split(": ", 1)[0] for line in lines] == [f"{doc}:5:3", f"{doc}:8:3"], stderr
    for line, text in zip(lines, ("Management ports", "Cluster ports"), strict=True):
        assert f"{text!r}: a row of one written cell that names no port" in line, line


def test_a_lone_heading_with_a_number_in_it_is_a_category_never_a_port(tmp_path: Path) -> None:
    """A group heading written as a row of one cell may hold a number (``Tier 2 ports``,
    ``Windows 2019 servers``, ``Release 7 and later``).  Under a ``TCP Port`` heading the port
    grammar read it as a port with words around it, and the draft opened TCP 2, TCP 2019, and
    TCP 7 with a port for the deployment to set (``later``): flows no row of the vendor's asks
    for.  A row whose only cell is a port cell with words beside its ports (notes, a named
    port, an unreadable part) is now a category heading, listed, no flow; a lone port with its
    transport (``TCP 7002``) is still read."""
    page = (
        "# Appliance\n\n| TCP Port | Description |\n|---|---|\n"
        "| Tier 2 ports | |\n| 22 | SSH |\n| Windows 2019 servers | |\n| 445 | SMB |\n"
        "| Release 7 and later | |\n| 8443 | Web |\n| TCP 7002 | |\n"
    )
    doc = tmp_path / "ports.md"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    assert not product.parameters
    assert [(f.row, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (2, ["22"]),
        (4, ["445"]),
        (6, ["8443"]),
        (7, ["7002"]),
    ]
    lines = [line for line in stderr.splitlines() if line.startswith(str(doc))]
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{doc}:5:3",
        f"{doc}:7:3",
        f"{doc}:9:3",
    ], stderr
    assert all("a heading inside the table" in line for line in lines), stderr


def test_a_lone_port_with_a_note_or_a_footnote_mark_is_a_row_not_a_category(
    tmp_path: Path,
) -> None:
    """A row of one port cell with a note in parentheses or a footnote mark beside the port
    (``8443 (optional)``, ``8444*``, ``8446^1`` as a superscript reads, ``8447¹``) names a
    port: it is a row as a lone ``8445`` is, not a heading 'that names no port' read as no
    flow.  A heading with a note is still one (``Tier 2 ports (see below)``)."""
    page = (
        "# Appliance\n\n| TCP Port | Description |\n|---|---|\n| 22 | SSH |\n"
        "| 8443 (optional) | |\n| 8444* | |\n| 8445 | |\n| 8446^1 | |\n| 8447¹ | |\n"
        "| Tier 2 ports (see below) | |\n| 443 | Web |\n\n\\* only with the agent\n"
    )
    doc = tmp_path / "ports.md"
    _code, stderr, product = drafted(doc, page)
    assert [(f.row, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        (1, ["22"]),
        (2, ["8443"]),
        (3, ["8444"]),
        (4, ["8445"]),
        (5, ["8446"]),
        (6, ["8447"]),
        (8, ["443"]),
    ], stderr
    headings = [line for line in stderr.splitlines() if "a heading inside the table" in line]
    assert [line.split(": ", 1)[0] for line in headings] == [f"{doc}:11:3"], stderr


def test_a_heading_cell_row_spanning_the_table_after_the_header_is_a_category(
    tmp_path: Path,
) -> None:
    """An HTML table without ``<thead>`` that heads its groups with ``<th colspan>`` rows
    (``UDP ports``, ``TCP ports``): the first group's row followed the header row, so it was
    taken for a second header row, and its text became the bottom of every heading (``Port /
    UDP ports``, ``Description / UDP ports``).  Both columns then read as UDP port columns: SSH
    22 and the web UI's 443 were drafted as UDP, and each description as a UDP port to set.
    A row of one heading cell spanning the whole table after the first header row now ends the
    header: it is a category, listed, no flow."""
    page = (
        "<h1>Appliance</h1><table>"
        "<tr><th>Port</th><th>Description</th></tr>"
        '<tr><th colspan="2">UDP ports</th></tr>'
        "<tr><td>UDP 161</td><td>SNMP</td></tr>"
        '<tr><th colspan="2">TCP ports</th></tr>'
        "<tr><td>TCP 22</td><td>SSH</td></tr><tr><td>TCP 443</td><td>Web UI</td></tr>"
        "</table>"
    )
    doc = tmp_path / "ports.html"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    assert not product.parameters
    flows = [(f.row, f.protocol.value, [str(p) for p in f.ports or ()]) for f in product.flows]
    assert flows == [(2, "udp", ["161"]), (4, "tcp", ["22"]), (5, "tcp", ["443"])]
    assert [s.columns and list(s.columns) for s in product.sections] == [["Port", "Description"]]
    lines = [line for line in stderr.splitlines() if line.startswith(str(doc))]
    assert len(lines) == 2, stderr
    assert all("a row of one cell spanning the whole table" in line for line in lines), stderr


def test_an_outbound_row_whose_component_is_a_dns_name_is_reported_not_drafted(
    tmp_path: Path,
) -> None:
    """F5 heads the port column of its outbound table ``Host`` (``callhome.f5.com:443``); a
    table of outbound connections whose ``Host`` column names the hosts reached, and no
    Source/Destination, read the column as the row's own component, and drafted
    ``callhome.f5.com`` connecting out on 443 to a destination to be named: a flow from the
    system the product reaches, which the vendor never wrote.  A DNS name or URL is a system
    reached, so an outbound row that is "from" one is now listed, no flow drafted; an inbound
    row (the name the listener has) and a row of the product's own role are drafted as before."""
    page = (
        "# Appliance\n\n## Outbound connections\n\n"
        "| Host | Port | Protocol | Purpose |\n|---|---|---|---|\n"
        "| callhome.f5.com | 443 | TCP | Signature downloads |\n"
        "| Management server | 53 | UDP | DNS |\n\n"
        "## Inbound connections\n\n"
        "| Host | Port | Protocol | Purpose |\n|---|---|---|---|\n"
        "| portal.example.com | 443 | TCP | Portal |\n"
    )
    doc = tmp_path / "ports.md"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    flows = [
        (f.row, f.source, f.destination, [str(p) for p in f.ports or ()]) for f in product.flows
    ]
    management = next(k for k, c in product.components.items() if c.name == "Management server")
    portal = next(k for k, c in product.components.items() if c.name == "portal.example.com")
    assert flows == [
        (2, (management,), ("unnamed_destination",), ["53"]),
        (1, ("any",), (portal,), ["443"]),
    ]
    lines = [line for line in stderr.splitlines() if line.startswith(f"{doc}:7:")]
    assert len(lines) == 1, stderr
    assert "'callhome.f5.com' is a DNS name or URL" in lines[0], lines[0]
    assert "no flow is drafted" in lines[0], lines[0]


def test_a_dns_name_with_its_port_is_a_system_reached(tmp_path: Path) -> None:
    """F5 writes the hosts its Central Manager reaches with their port (``callhome.f5.com:443``,
    in the port and the Destination column alike).  Such a name was not taken for a DNS name:
    as a destination it was drafted as a component of the product's own (not an external
    system reached by its name), and in an outbound table's ``Host`` column it was drafted
    connecting out.  A DNS name with a port after it is now a DNS name."""
    page = (
        "# Appliance\n\n## Outbound\n\n"
        "| Host | Port | Protocol | Purpose |\n|---|---|---|---|\n"
        "| callhome.f5.com:443 | 443 | TCP | Signature downloads |\n\n"
        "## Connections\n\n"
        "| Port | Protocol | Source | Destination |\n|---|---|---|---|\n"
        "| 443 | TCP | Appliance | ihealth.f5.com:443 |\n"
    )
    doc = tmp_path / "ports.md"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    (flow,) = product.flows
    (destination,) = flow.destination
    assert product.components[destination].name == "ihealth.f5.com:443"
    assert product.components[destination].kind.value == "external"
    lines = [line for line in stderr.splitlines() if line.startswith(f"{doc}:7:")]
    assert len(lines) == 1, stderr
    assert "'callhome.f5.com:443' is a DNS name or URL" in lines[0], lines[0]


def test_a_heading_naming_where_its_connections_come_from_is_never_a_listener(
    tmp_path: Path,
) -> None:
    """Jamf Pro's page lists its ports under "Network Connections to the Jamf Pro Server" and
    "Connections from the Jamf Pro Server", with no source or destination column.  The rows
    of the second table, the server connecting out (to its MySQL database on 3306), were
    drafted as ports any client reaches on the product: an inbound 3306 the vendor never
    opened.  A heading "connections from X" now makes its rows outbound from X (the
    destination unnamed, and said so); "connections to X" makes X the listener."""
    page = (
        "<h1>Network Ports Used by Jamf Pro</h1>"
        "<h2>Network Connections to the Jamf Pro Server</h2>"
        "<table><tr><th>Port</th><th>Protocol</th><th>Description</th></tr>"
        "<tr><td>8443</td><td>TCP</td><td>Web app</td></tr></table>"
        "<h2>Connections from the Jamf Pro Server</h2>"
        "<table><tr><th>Port</th><th>Protocol</th><th>Description</th></tr>"
        "<tr><td>3306</td><td>TCP</td><td>Its MySQL database</td></tr></table>"
    )
    doc = tmp_path / "ports.html"
    code, stderr, product = drafted(doc, page)
    assert code == 1, stderr
    server = next(k for k, c in product.components.items() if c.name == "Jamf Pro Server")
    web, mysql = product.flows
    assert (web.source, web.destination, [str(p) for p in web.ports or ()]) == (
        ("any",),
        (server,),
        ["8443"],
    )
    assert mysql.source == (server,) and server not in mysql.destination
    assert [str(p) for p in mysql.ports or ()] == ["3306"]
    assert "the row is outbound from 'Jamf Pro Server' but names no destination" in stderr


def test_a_device_column_names_the_listener_of_each_row(tmp_path: Path) -> None:
    """Kaspersky Security Center's traffic tables name in a ``Device`` column the machine
    whose port it is (a Network Agent listens on UDP 15000, a distribution point on TCP
    13000).  The column was unmapped, and every row drafted as a port of the product: one
    component listening on all of them, which would open the agents' ports on the
    distribution point and the other way round."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Device,Port number,Protocol\nNetwork Agent,15000,UDP\nDistribution point,13000,TCP\n",
    )
    assert code == 0, stderr
    names = {k: c.name for k, c in product.components.items()}
    assert [(names[f.destination[0]], [str(p) for p in f.ports or ()]) for f in product.flows] == [
        ("Network Agent", ["15000"]),
        ("Distribution point", ["13000"]),
    ]
