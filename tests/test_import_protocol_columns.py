"""A row with two protocol columns, ``Protocol`` (``SSH``, ``LDAP``) beside ``Transport``
(``TCP``), as Microsoft's Defender for IoT writes them: both are read, the transports from the
one, the applications from the other, and where they disagree the row is reported, never one
column's word taken over the other's."""

from __future__ import annotations

from pathlib import Path

from test_import_port_cells import _import


def _drafted(flows: list[dict]) -> list[tuple[int, str, list, str | None, str | None]]:
    return [
        (f["row"], f["protocol"], f["ports"], f.get("service"), f.get("app_protocol"))
        for f in flows
    ]


def test_the_transport_column_gives_the_transport_of_an_application_that_names_none(
    tmp_path: Path,
) -> None:
    """``LDAP`` beside ``TCP`` was reported as naming no transport and drafted no flow: only
    the first protocol column with text was read, the Transport column never."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol,Transport\n"
        "A,B,389,LDAP,TCP\n"
        "A,B,53,DNS,TCP/UDP\n"
        "A,B,22,SSH,TCP\n",
    )
    assert (code, lines) == (0, [])
    assert _drafted(flows) == [
        (1, "tcp", [389], "LDAP", "ldap"),
        (2, "tcp", [53], "DNS", "dns"),
        (2, "udp", [53], "DNS", "dns"),
        (3, "tcp", [22], "SSH", "ssh"),
    ]


def test_the_columns_are_read_in_either_order(tmp_path: Path) -> None:
    code, flows, lines = _import(
        tmp_path, "Source,Destination,Port,Transport,Protocol\nA,B,389,TCP,LDAP\n"
    )
    assert (code, lines) == (0, [])
    assert _drafted(flows) == [(1, "tcp", [389], "LDAP", "ldap")]


def test_columns_that_disagree_report_the_row_and_draft_no_flow(tmp_path: Path) -> None:
    """``SNMP`` beside ``TCP`` drafted UDP, what SNMP usually runs over, and said nothing of the
    Transport column's TCP; ``TCP`` beside ``UDP`` drafted the first column's TCP."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol,Transport\n"
        "A,B,161,SNMP,TCP\n"
        "A,B,514,TCP,UDP\n"
        "A,B,443,HTTPS,TCP\n",
    )
    page = tmp_path / "ports.csv"
    assert code == 1
    assert _drafted(flows) == [(3, "tcp", [443], "HTTPS", "https")]
    assert lines == [
        f"{page}:2:9: column 'Protocol' says 'SNMP' (udp) where column 'Transport' says "
        "'TCP' (tcp): the row is drafted no flow; model it by hand with the transport the "
        "vendor means",
        f"{page}:3:13: column 'Transport' says 'UDP' (udp) where column 'Protocol' says "
        "'TCP' (tcp): the row is drafted no flow; model it by hand with the transport the "
        "vendor means",
    ]


def test_an_application_beside_its_own_transports_and_more_reads_them_all(
    tmp_path: Path,
) -> None:
    """``SNMP`` beside ``TCP/UDP``: the transports written, SNMP's UDP among them."""
    code, flows, lines = _import(
        tmp_path, "Source,Destination,Port,Protocol,Transport\nA,B,161,SNMP,TCP/UDP\n"
    )
    assert (code, lines) == (0, [])
    assert _drafted(flows) == [(1, "tcp", [161], "SNMP", "snmp"), (1, "udp", [161], "SNMP", "snmp")]


def test_a_row_with_one_protocol_cell_written_reads_as_before(tmp_path: Path) -> None:
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol,Transport\nA,B,389,LDAP,\nA,B,22,,TCP\n",
    )
    assert code == 1
    assert lines == [
        f"{tmp_path / 'ports.csv'}:2:9: column 'Protocol': 'LDAP' names no transport "
        "protocol (tcp, udp or icmp)"
    ]
    assert _drafted(flows) == [(2, "tcp", [22], None, None)]


def test_an_arrow_in_the_protocol_cell_is_reported_never_a_service(tmp_path: Path) -> None:
    """NEC ESMPRO writes the way a connection opens as arrows under the transport (``UDP`` over
    ``<-``: the right end connects).  The arrows were read as a service named ``-`` and dropped:
    the row was drafted from the left end to the right one, against the arrow, and the import
    said every cell was read."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        'NEC ESMPRO Manager,NEC ESMPRO Agent,162,"UDP\n<-"\n'
        'NEC ESMPRO Manager,BMC,623,"UDP\n->\n<-"\n'
        "NEC ESMPRO Manager,BMC,443,TCP <->\n"
        "NEC ESMPRO Manager,BMC,8080,TCP\n",
    )
    assert code == 1
    assert _drafted(flows) == [(4, "tcp", [8080], None, None)]
    page = tmp_path / "ports.csv"
    assert lines == [
        f"{page}:2:41: column 'Protocol': could not read '<-': a direction arrow in a protocol "
        "cell; which end opens the connection is not read: model the row by hand",
        f"{page}:4:28: column 'Protocol': could not read '->': a direction arrow in a protocol "
        "cell; which end opens the connection is not read: model the row by hand",
        f"{page}:4:28: column 'Protocol': could not read '<-': a direction arrow in a protocol "
        "cell; which end opens the connection is not read: model the row by hand",
        f"{page}:7:28: column 'Protocol': could not read '<->': a direction arrow in a protocol "
        "cell; which end opens the connection is not read: model the row by hand",
    ]
