"""Words and marks in a protocol cell that change what its transports say (``TCP, not UDP``,
``UDP optional``, ``TCP/UDP*``, ``TCP¹``) are reported, never taken for an application's
name while the transports around them are read as if they were not there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer import Transport, import_document
from portplan.importer.protocols import read_protocols

TCP, UDP = Transport.TCP, Transport.UDP


@pytest.mark.parametrize(
    ("cell", "transports", "faults"),
    [
        # were TCP and UDP (or UDP alone) with an application named "not", "except", "no"
        ("TCP, not UDP", (), ["'not': a transport excluded"]),
        ("not UDP", (), ["'not': a transport excluded"]),
        ("TCP except UDP", (), ["'except': a transport excluded"]),
        ("no UDP", (), ["'no': a transport excluded"]),
        # was TCP and UDP with an application named "optional"
        ("TCP, UDP optional", (TCP, UDP), ["'optional': a condition"]),
        # was TCP with an application "UDP*": the footnoted UDP dropped in silence
        ("TCP/UDP*", (TCP,), ["'UDP*'"]),
        ("TCP or UDP*", (TCP,), ["'UDP*'"]),
        # were an application named after the mark
        ("TCP¹", (TCP,), ["'¹'"]),
        ("TCP & UDP†", (TCP, UDP), ["'†'"]),
        ("UDP?", (UDP,), ["'?'"]),
        ("TCP^1", (TCP,), ["'^1'"]),
    ],
)
def test_a_word_or_mark_that_changes_the_transports_is_a_fault(
    cell: str, transports: tuple[Transport, ...], faults: list[str]
) -> None:
    reading = read_protocols(cell)
    assert reading.transports == transports
    assert reading.applications == ()
    for found, expected in zip(reading.faults, faults, strict=True):
        assert found.message.startswith(f"could not read {expected}"), found.message


def test_names_and_notes_without_such_words_read_as_before() -> None:
    assert read_protocols("WMI (DCOM) TCP").applications == ("WMI (DCOM)",)
    assert read_protocols("(See usage for protocol) TCP").faults == ()
    assert read_protocols("TCP only").faults == ()
    for cell in ("No", "Custom HDFS protocol"):  # no transport named: that fault alone
        (fault,) = read_protocols(cell).faults
        assert fault.message == f"{cell!r} names no transport protocol (tcp, udp or icmp)"


def test_a_port_table_row_whose_protocol_cell_excludes_a_transport_is_not_drafted(
    tmp_path: Path,
) -> None:
    """``TCP, not UDP`` drafted port 53 over TCP and over UDP, exit 0."""
    page = tmp_path / "ports.md"
    page.write_text("| Port | Protocol |\n|---|---|\n| 53 | TCP, not UDP |\n| 443 | TCP¹ |\n")
    reading = import_document(page)
    assert [str(u) for u in reading.unread] == [
        f"{page}:3:8: column 'Protocol': could not read 'not': a transport excluded in a "
        "protocol cell; write the transports the row uses",
        f"{page}:4:9: column 'Protocol': could not read '¹'",
    ]


def test_a_note_in_a_protocol_cell_stays_with_the_drafted_flow(tmp_path: Path) -> None:
    """``UDP (optional)`` and ``(only in cluster mode) TCP`` drafted unconditional flows
    without the note, and said every cell was read: the note was dropped (a note in the port
    cell was kept)."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "A,B,53,UDP (optional)\n"
        "A,B,54,(only in cluster mode) TCP\n"
        "A,B,55 (optional),TCP\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f.get("notes")) for f in flows] == [
        ([53], ["optional"]),
        ([54], ["only in cluster mode"]),
        ([55], ["optional"]),
    ]


def test_a_cell_naming_two_known_protocols_sets_no_app_protocol(tmp_path: Path) -> None:
    """``TCP HTTPS/LDAPS`` took one of the two, which one depending on the interpreter's hash
    seed: the draft differed from run to run, and verify then failed the port on the other
    protocol.  Two known protocols set none; one sets it."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "A,B,8443,TCP HTTPS/LDAPS\n"
        'A,B,9000,"TCP HTTP, TLS, AMQP"\n'
        "A,B,443,TCP/HTTPS\n"
        "A,B,161,SNMP\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f.get("app_protocol")) for f in flows] == [
        ([8443], None),
        ([9000], None),
        ([443], "https"),
        ([161], "snmp"),
    ]


def test_a_protocol_verify_cannot_identify_still_counts_as_a_second_protocol(
    tmp_path: Path,
) -> None:
    """``SSH/Telnet`` on 22 and 23 drafted ``app_protocol: ssh`` for both ports (Telnet is no
    protocol verify identifies, so the cell seemed to name one), and verify then failed the
    Telnet port as not SSH: a protocol the importer knows by name counts, identified or not."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        'A,B,"22, 23",SSH/Telnet\n'
        'A,B,"21, 22",TCP FTP/SFTP\n'
        "A,B,8883,TCP MQTT/HTTPS\n"
        "A,B,2222,SSH/SFTP\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f.get("app_protocol")) for f in flows] == [
        ([22, 23], None),
        ([21, 22], None),
        ([8883], None),
        ([2222], "ssh"),  # two names of one protocol
    ]


def test_ssl_and_tls_in_one_cell_are_one_protocol(tmp_path: Path) -> None:
    """``SSL/TLS`` names TLS by both its names: it drafted `tls`, until SSL came to count as a
    second protocol (set none); ``SSL`` alone still sets none (a vendor's SSL row may hold a
    port that is not TLS)."""
    page = tmp_path / "ports.csv"
    page.write_text("Source,Destination,Port,Protocol\nA,B,443,TCP SSL/TLS\nA,B,6514,TCP SSL\n")
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f.get("app_protocol"), f.get("tls")) for f in flows] == [
        ([443], "tls", True),
        ([6514], None, True),
    ]


@pytest.mark.parametrize(
    ("cell", "transports", "assumption"),
    [
        # were "names no transport protocol": a version written onto the name
        ("SNMPv3", (UDP,), "SNMPv3 runs over udp"),
        ("SNMP v2c", (UDP,), "SNMP v2c runs over udp"),
        ("NTPv4", (UDP,), "NTPv4 runs over udp"),
        ("TLSv1.2", (TCP,), "TLSv1.2 runs over tcp"),
        # were "names no transport protocol": the protocol it runs over, or another name of it
        ("SFTP (SSH)", (TCP,), "SFTP (SSH) runs over tcp"),
        ("HTTPS (SSL)", (TCP,), "HTTPS (SSL) runs over tcp"),
    ],
)
def test_a_version_or_the_protocol_beneath_still_says_the_transport(
    cell: str, transports: tuple[Transport, ...], assumption: str
) -> None:
    reading = read_protocols(cell)
    assert (reading.transports, reading.faults) == (transports, ())
    assert reading.applications == (cell,)
    assert reading.assumptions == (assumption,)


@pytest.mark.parametrize(
    "cell",
    [
        "WMI (DCOM)",  # neither name is known
        "SNMP (trap)",  # a note, not a protocol: what the name means is the vendor's
        "HTTP/3 (TLS)",  # QUIC over UDP and TLS over TCP: they disagree
        "SMBv1",  # a version of no protocol the reader knows
        "Xv2",
    ],
)
def test_other_names_say_no_transport(cell: str) -> None:
    (fault,) = read_protocols(cell).faults
    assert fault.message == f"{cell!r} names no transport protocol (tcp, udp or icmp)"


def test_a_versioned_name_drafts_the_protocol_verify_identifies(tmp_path: Path) -> None:
    """``SNMPv3`` and ``SFTP (SSH)`` were refused as naming no transport; they name SNMP and
    SSH, which verify identifies.  SNMPv1 is SNMP too, but a version the identifier does not
    speak: such a server would fail every check, so the draft names no ``app_protocol``."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "A,B,161,SNMPv3\n"
        "A,B,1161,SNMP v2c/v3\n"
        "A,B,2161,SNMPv1\n"
        "A,B,3161,SNMPv1/SSH\n"
        "A,B,22,SFTP (SSH)\n"
        "A,B,123,NTPv4\n"
        "A,B,8443,TLSv1.3\n"
        "A,B,443,HTTPS (SSL)\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [
        (f["ports"], f["protocol"], f.get("app_protocol"), f.get("tls", False)) for f in flows
    ] == [
        ([161], "udp", "snmp", False),
        ([1161], "udp", "snmp", False),
        ([2161], "udp", None, False),
        ([3161], "tcp", None, False),  # SNMP and SSH: two protocols, as SSH/Telnet
        ([3161], "udp", None, False),
        ([22], "tcp", "ssh", False),
        ([123], "udp", "ntp", False),
        ([8443], "tcp", "tls", True),
        ([443], "tcp", None, True),  # HTTPS and SSL: two names, as HTTPS/TLS
    ]


@pytest.mark.parametrize(
    ("cell", "transports", "assumption"),
    [
        # HTTP/3 is QUIC, over UDP: a version written onto HTTP says it as HTTP/3 does
        ("HTTPv3", (UDP,), "HTTPv3 runs over udp"),
        ("HTTP v3", (UDP,), "HTTP v3 runs over udp"),
        ("HTTP v3 UDP", (UDP,), None),
        # up to HTTP/2, over TCP
        ("HTTP v2", (TCP,), "HTTP v2 runs over tcp"),
        ("HTTP v1.1", (TCP,), "HTTP v1.1 runs over tcp"),
    ],
)
def test_a_version_onto_http_says_the_transport_of_that_http(
    cell: str, transports: tuple[Transport, ...], assumption: str | None
) -> None:
    """``HTTPv3`` was read as HTTP up to HTTP/2, over TCP: a TCP flow the vendor never asked
    for (beside its own UDP one in ``HTTP v3 UDP``); it is HTTP/3, over UDP, as ``HTTP/3``."""
    reading = read_protocols(cell)
    assert (reading.transports, reading.faults) == (transports, ())
    assert reading.assumptions == (() if assumption is None else (assumption,))


def test_http_v3_drafts_udp_and_no_protocol_verify_identifies_over_tcp(tmp_path: Path) -> None:
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "A,B,443,HTTPv3\n"
        "A,B,444,HTTP v3 UDP\n"
        "A,B,8080,HTTP v1.1\n"
        "A,B,8443,HTTP/3\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f["protocol"], f.get("app_protocol")) for f in flows] == [
        ([443], "udp", None),
        ([444], "udp", None),
        ([8080], "tcp", "http"),
        ([8443], "udp", None),
    ]


def test_tds_before_version_7_drafts_no_protocol_verify_identifies(tmp_path: Path) -> None:
    """TDS 4.2 and 5.0 are Sybase's (SAP ASE): verify's `tds` identifier sends SQL Server's
    PRELOGIN (MS-TDS, TDS 7 and later), which such a server does not answer with one, so a
    working port would fail; ``TDS v7.4`` is SQL Server's and names `tds` as ``TDS`` does."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "A,B,5000,TDSv5 TCP\n"
        "A,B,5001,TDS v5.0 TCP\n"
        "A,B,5002,TDS v4.2 TCP\n"
        "A,B,1433,TDS v7.4 TCP\n"
        "A,B,1434,TDS TCP\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f["protocol"], f.get("app_protocol")) for f in flows] == [
        ([5000], "tcp", None),
        ([5001], "tcp", None),
        ([5002], "tcp", None),
        ([1433], "tcp", "tds"),
        ([1434], "tcp", "tds"),
    ]


@pytest.mark.parametrize(
    ("cell", "transports", "fault"),
    [
        # were TCP and UDP: SNMP over TCP (RFC 3430) drafted a UDP flow the vendor never named
        ("SNMP TCP", (TCP,), "'SNMP' usually runs over udp, and the cell names tcp only"),
        ("SNMPv3 TCP", (TCP,), "'SNMPv3' usually runs over udp, and the cell names tcp only"),
        ("SSH, SNMP TCP", (TCP,), "'SNMP' usually runs over udp, and the cell names tcp only"),
        ("HTTPS, Syslog UDP", (UDP,), "'HTTPS' usually runs over tcp, and the cell names udp"),
    ],
)
def test_an_application_beside_other_transports_adds_none(
    cell: str, transports: tuple[Transport, ...], fault: str
) -> None:
    reading = read_protocols(cell)
    assert reading.transports == transports
    (found,) = reading.faults
    assert found.message.startswith(fault), found.message
    assert "add " in found.message and "by hand" in found.message


def test_an_application_beside_its_own_transport_reads_as_before() -> None:
    for cell, transports in (
        ("TCP/UDP SNMP", (TCP, UDP)),
        ("TCP/HTTPS", (TCP,)),
        ("UDP NTP", (UDP,)),
    ):
        reading = read_protocols(cell)
        assert (reading.transports, reading.faults) == (transports, ())


def test_snmp_over_tcp_drafts_tcp_only(tmp_path: Path) -> None:
    page = tmp_path / "ports.csv"
    page.write_text("Source,Destination,Port,Protocol\nA,B,1161,SNMP TCP\n")
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 1, result.output  # the draft is written; the fault is said
    assert "'SNMP' usually runs over udp" in result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["ports"], f["protocol"]) for f in flows] == [([1161], "tcp")]
