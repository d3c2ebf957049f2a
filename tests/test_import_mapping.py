"""Mapping columns by their headings, a map file for unusual headings, and the unread list:
every cell under an unmapped heading, beyond the table, or not readable is reported once, at
the cell the vendor wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from portplan._errors import InputError
from portplan.importer import (
    BUILT_IN,
    ColumnMap,
    Direction,
    Field,
    Format,
    Import,
    Transport,
    format_ports,
    heading_key,
    interpret,
    load_column_map,
    read_source,
)


def read(text: str, columns: ColumnMap | None = None, fmt: Format = Format.MARKDOWN) -> Import:
    document = read_source(text.encode(), file=f"doc.{fmt.value}", format=fmt)
    return interpret(document, columns)


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("From", Field.SOURCE),
        ("To main component", Field.DESTINATION),
        ("To subcomponent", Field.SUBCOMPONENT),
        ("Default Ports Used", Field.PORT),
        ("Destination Port(s)", Field.PORT),
        ("Protocol/Port", Field.PORT),
        ("Protocol and Port", Field.PORT),
        ("Listens on", Field.PORT),
        ("External Listening Port", Field.PUBLISHED_PORT),
        ("LB Port", Field.PUBLISHED_PORT),
        ("Traffic", Field.DIRECTION),
        ("Inbound/ Outbound", Field.DIRECTION),
        ("Notes", Field.DESCRIPTION),
        ("Need End User Access?", Field.ACCESS),
        ("Required?", Field.CONDITION),
        ("Configuration Parameters", Field.PARAMETER),
        ("Firewall Interface", Field.INTERFACE),
        ("Palo Alto Networks App-id", Field.SERVICE),
        ("Communicates on", Field.EXTRA),
        # Tableau's, Elastic's and VMware Horizon's port tables
        ("TCP/UDP", Field.PROTOCOL),
        ("Used by ...", Field.DESCRIPTION),
        ("Host role", Field.COMPONENT),
        ("Inbound ports", Field.PORT),
        ("Default Target Port", Field.PORT),
        ("*Purpose*", Field.DESCRIPTION),
        ("Number", Field.EXTRA),
        # Kaspersky Security Center's traffic tables
        ("Port purpose", Field.DESCRIPTION),
        ("Device", Field.COMPONENT),
        # NEC ESMPRO's tables: each end's port number under its name
        ("Port No.", Field.PORT),
    ],
)
def test_vendor_headings_map_to_fields(heading: str, field: Field) -> None:
    role = ColumnMap.built_in().role(heading)
    assert role is not None and role.field is field


def test_headings_compare_without_case_spaces_or_trailing_marks_but_never_loosely() -> None:
    assert heading_key("  Need  End User Access? ") == "need end user access"
    assert heading_key("Port(s)") == "ports"
    assert heading_key("Search & Replace") == "search and replace"
    assert heading_key("*Purpose*") == heading_key("__Purpose__") == "purpose"  # emphasis
    assert heading_key("a*b*") == "a*b"  # not emphasis around the whole heading
    assert ColumnMap.built_in().role("Portz") is None
    tcp = BUILT_IN[heading_key("TCP")]
    assert (tcp.field, tcp.protocol) == (Field.PORT, Transport.TCP)
    incoming = ColumnMap.built_in().role("Incoming Ports / Purpose")
    assert incoming is not None and incoming.field is Field.DESCRIPTION  # bottom part first


def test_a_slash_written_in_one_heading_cell_is_no_stack_of_header_rows() -> None:
    """SAP's ``Port Number / Service Name`` is one cell: its bottom part is no heading of its
    own, so the column is not a service column (its ports were lost, the row said to name no
    port); two header rows still read bottom part first."""
    one = read(
        "| Service | Port Number / Service Name |\n|---|---|\n| ICM SMTP | 25 |\n",
        fmt=Format.MARKDOWN,
    )
    assert one.tables[0].roles[1] is None
    assert [str(u) for u in one.unread] == [
        "doc.markdown:3:14: column 'Port Number / Service Name' maps to no field; map it in a "
        '--map file ("Port Number / Service Name: extra" keeps it as a free column)'
    ]
    stacked = read(
        "<table><tr><th>Service</th><th>Ports</th></tr><tr><th>Service</th><th>Service Name</th>"
        "</tr><tr><td>ICM SMTP</td><td>smtp</td></tr></table>",
        fmt=Format.HTML,
    )
    role = stacked.tables[0].roles[1]
    assert stacked.tables[0].table.columns[1] == "Ports / Service Name"
    assert role is not None and role.field is Field.SERVICE  # bottom part first


TABLE = """\
| Service | Hadoop 3 Ports | Protocol | Vendor tag |
|---|---|---|---|
| NameNode | 9870 | TCP | Secure |
| DataNode | 9864 | TCP | |
"""


def test_unmapped_columns_are_reported_cell_by_cell_and_a_map_file_maps_them(
    tmp_path: Path,
) -> None:
    plain = read(TABLE)
    assert [str(u) for u in plain.unread] == [
        "doc.markdown:3:14: column 'Hadoop 3 Ports' maps to no field; map it in a --map file "
        '("Hadoop 3 Ports: extra" keeps it as a free column)',
        "doc.markdown:3:27: column 'Vendor tag' maps to no field; map it in a --map file "
        '("Vendor tag: extra" keeps it as a free column)',
        "doc.markdown:4:14: column 'Hadoop 3 Ports' maps to no field; map it in a --map file "
        '("Hadoop 3 Ports: extra" keeps it as a free column)',
    ]
    assert not plain.complete
    map_file = tmp_path / "map.yaml"
    map_file.write_text("Hadoop 3 Ports: port\nvendor  TAG: extra\n")
    mapped = read(TABLE, load_column_map(map_file))
    assert mapped.complete
    row = mapped.tables[0].rows[0]
    (port,) = row.of(Field.PORT)
    assert port.ports is not None and format_ports(port.ports) == "9870/tcp"
    assert port.role.origin == f"{map_file}:1"
    assert row.texts(Field.EXTRA) == ("Secure",)


def test_a_map_file_can_give_a_column_its_protocol_or_direction(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        "SCTP-less ports: {field: port, protocol: udp}\n"
        "Callers: {field: peer, direction: inbound}\n"
        "2-way?: {field: direction, yes_no: true}\n"
    )
    result = read(
        "| Callers | SCTP-less ports | 2-way? |\n|---|---|---|\n| Agent | 161 | Y |\n"
        "| Agent | 162 | N |\n",
        load_column_map(map_file),
    )
    first, second = result.tables[0].rows
    (port,) = first.of(Field.PORT)
    assert port.ports is not None and format_ports(port.ports) == "161/udp"
    assert first.direction is not None and first.direction.direction is Direction.BOTH
    assert second.direction is not None and second.direction.direction is Direction.FORWARD


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Port: prot\n", "map.yaml:1:7: 'prot' is not a field; did you mean 'port'?"),
        ("Port: {field: port, protocol: sctp}\n", "map.yaml:1:31: 'sctp' is not tcp, udp or icmp"),
        (
            "Port: {field: port, direction: sideways}\n",
            "map.yaml:1:32: 'sideways' is not inbound, outbound or both",
        ),
        ("Port: {feild: port}\n", "map.yaml:1:8: unknown key 'feild'; did you mean 'field'?"),
        ("Port: [port]\n", "map.yaml:1:7: heading 'Port' maps to ['port']"),
        ("- Port\n", "map.yaml:1:1: a map file is a mapping of vendor headings to fields"),
        ("Port: port\nport?: port\n", "map.yaml:2:1: heading 'port?' is the same as 'Port'"),
        ("Port: {field: port, yes_no: maybe}\n", "map.yaml:1:29: yes_no is true or false"),
    ],
)
def test_a_map_file_with_a_mistake_is_refused_at_its_line(
    tmp_path: Path, content: str, message: str
) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(content)
    with pytest.raises(InputError) as caught:
        load_column_map(map_file)
    assert message in str(caught.value).replace(f"{tmp_path}/", ""), str(caught.value)


def test_a_spanned_cell_is_reported_once_at_the_cell_the_vendor_wrote() -> None:
    page = (
        "<table><tr><th>Port</th><th>Odd</th><th>Protocol</th></tr>"
        '<tr><td>80</td><td rowspan="2">same</td><td rowspan="2">IPC</td></tr>'
        "<tr><td>81</td></tr></table>"
    )
    result = read(page, fmt=Format.HTML)
    assert [(str(u), u.text) for u in result.unread] == [
        ("doc.html:1:74: column 'Odd' maps to no field; map it in a --map file "
         '("Odd: extra" keeps it as a free column)', "same"),
        ("doc.html:1:99: column 'Protocol': 'IPC' names no transport protocol (tcp, udp or icmp)",
         "IPC"),
    ]  # fmt: skip


def test_ports_and_protocols_that_disagree_or_do_not_pair_are_reported() -> None:
    result = read(
        "| Port | Protocol |\n|---|---|\n| TCP 53 | UDP |\n| 1<br>2<br>3 | TCP<br>UDP |\n| 80 | |\n"
    )
    assert [u.message for u in result.unread] == [
        "column 'Port' says tcp where column 'Protocol' says udp",
        "the 3 lines of column 'Port' and the 2 lines of column 'Protocol' do not pair up",
        "column 'Port': port 80 has no transport protocol (tcp, udp or icmp): the cell names "
        "none, and no protocol column does (a map file gives a column of one transport its "
        "protocol: 'Port': {field: port, protocol: tcp}, or udp)",
    ]


def test_a_port_range_without_transport_is_reported_with_the_map_file_that_reads_it(
    tmp_path: Path,
) -> None:
    # Elastic's "Inbound ports" name no transport anywhere: the message says how to give one
    table = "| Host role | Inbound ports |\n|---|---|\n| Director | 12191-12201 |\n"
    (unread,) = read(table).unread
    assert unread.message == (
        "column 'Inbound ports': ports 12191-12201 have no transport protocol (tcp, udp or "
        "icmp): the cell names none, and no protocol column does (a map file gives a column "
        "of one transport its protocol: 'Inbound ports': {field: port, protocol: tcp}, or udp)"
    )
    suggested = unread.message.split("protocol: ", 1)[1].rsplit(", or udp)", 1)[0]
    map_file = tmp_path / "map.yaml"
    map_file.write_text(suggested + "\n")
    mapped = read(table, load_column_map(map_file))
    assert mapped.complete
    (row,) = mapped.tables[0].rows
    (port,) = row.of(Field.PORT)
    assert format_ports(port.ports) == "12191-12201/tcp"


def test_a_cell_beyond_the_header_is_reported() -> None:
    result = read("| Port | Protocol |\n|---|---|\n| 80 | TCP | spill |\n")
    (unread,) = result.unread
    assert str(unread) == "doc.markdown:3:14: a cell beyond the table's 2 columns: 'spill'"


def test_a_protocol_column_that_says_icmp_gives_an_empty_port_cell_its_icmp() -> None:
    result = read("| Port | Protocol |\n|---|---|\n| | ICMP |\n")
    (port,) = result.tables[0].rows[0].of(Field.PORT)
    assert port.ports is not None and format_ports(port.ports) == "ICMP"
    assert result.complete


SOURCE_PORTS = """\
| Source | Default Source Port | Protocol | Target | Default Target Port |
|---|---|---|---|---|
| Client web browser | TCP Any | HTTPS | Connection Server | TCP 443 |
| Agent | 1024-65535 | TCP | Manager | 8443 |
"""


def test_a_source_port_column_is_not_read_as_the_destination_port() -> None:
    """VMware Horizon's firewall rules give the source port beside the target port: ``TCP
    Any`` is every flow's; a given source port is reported, never taken for a listening port."""
    result = read(SOURCE_PORTS)
    browser, agent = result.tables[0].rows
    (port,) = browser.of(Field.PORT)
    assert port.ports is not None and format_ports(port.ports) == "443/tcp"
    (source,) = browser.of(Field.SOURCE_PORT)
    assert source.ports is not None and format_ports(source.ports) == "any/tcp"
    (port,) = agent.of(Field.PORT)
    assert port.ports is not None and format_ports(port.ports) == "8443/tcp"
    assert [str(u) for u in result.unread] == [
        "doc.markdown:4:11: column 'Default Source Port': source port '1024-65535' is not "
        "modelled (flows name destination ports only); model it by hand if the firewall must "
        "match it"
    ]


MATRIX = """\
| Port | Protocol | Director | Allocator | Vendor tag |
|---|---|---|---|---|
| 2112 | TCP | X | | beta |
| 19000 | TCP | | x | |
| 22 | TCP | X | X | |
"""


def test_a_column_of_x_marks_is_a_matrix_column_of_conditions() -> None:
    """Tableau's installation types, a role per column: an unknown heading whose cells are all
    marks or empty makes its marked rows conditional on it; a column of other texts stays
    unread."""
    result = read(MATRIX)
    roles = result.tables[0].roles
    assert [r.field if r else None for r in roles] == [
        Field.PORT,
        Field.PROTOCOL,
        Field.CONDITION,
        Field.CONDITION,
        None,
    ]
    assert all(r is not None and r.marks for r in roles[2:4])
    both = result.tables[0].rows[2]
    assert [v.heading for v in both.of(Field.CONDITION) if v.text] == ["Director", "Allocator"]
    assert [u.column for u in result.unread] == ["Vendor tag"]


def test_a_column_that_answers_yes_is_no_matrix_of_conditions() -> None:
    """Microsoft 365's ``ER`` column (supported over ExpressRoute) says ``Yes`` on every row of
    the Exchange Online table: an answer to the question its heading asks, not a mark that the
    rows apply only where ``ER`` does.  It was read as a matrix column, and every flow of the
    table drafted under a feature 'ER' the vendor never wrote; it is reported unmapped."""
    result = read(
        "| ID | ER | Ports |\n|---|---|---|\n| 1 | Yes | 443/tcp |\n| 4 | yes | 25/tcp |\n"
    )
    assert [r.field if r else None for r in result.tables[0].roles] == [None, None, Field.PORT]
    assert [u.column for u in result.unread] == ["ID", "ER", "ID", "ER"]
