"""Prose the vendor wrote in a port cell or a destination cell (Microsoft Defender for IoT's
networking requirements) is reported as unread, never drafted as ports or components."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer._portread import read_ports
from portplan.importer.ports import PortRange, format_ports

#: Defender for IoT's Tunneling row, its port cell as the vendor writes it
TUNNELING = (
    "9000\n\nIn addition to port 443\n\nAllows access from the sensor, or end user, to the OT "
    "sensor\n\nPort 22 from the sensor to the OT sensor"
)


def test_sentences_in_a_port_cell_are_faults_never_parameters_or_alternatives() -> None:
    """The cell read as ``9000, [Allows access from the sensor] or [end user], 22``: two
    parameters made of prose, split at the sentence's ``or`` into alternatives."""
    expression = read_ports(TUNNELING)
    assert [[t.ports for t in a.terms] for a in expression.alternatives] == [
        [PortRange(start=9000, end=9000)]
    ]
    assert [f.message for f in expression.faults] == [
        "'Allows access from the sensor, or end user, to the OT sensor' is prose, not a port: "
        "model what it says by hand",
        "'Port 22 from the sensor to the OT sensor' is prose, not a port: model what it says "
        "by hand",
        "could not read 'In addition to port 443'",
    ]


@pytest.mark.parametrize(
    "cell",
    [
        # was a port named after the sentence, for each deployment to set
        "Check the documentation of your NFS storage provider",
        "Ask the vendor for the port",
        "443, or please ask the vendor",
        # longer than a port's name can be, with no number: was a parameter
        "ports that the appliance opens towards each of the monitored network segments, "
        "configured per site",
    ],
)
def test_prose_is_never_a_parameter(cell: str) -> None:
    expression = read_ports(cell)
    assert not any(t.parameter for t in expression.terms), expression.terms
    assert any("is prose, not a port" in f.message for f in expression.faults)


@pytest.mark.parametrize(
    "cell",
    [
        "ports that were defined in endpoints for OpenStack services",
        "netcat port range defined in node configuration - by default 16000-16999/tcp",
        "ports specified in /etc/sysconfig/nfs - variables MOUNTD_PORT",
        "[port for external database]",
    ],
)
def test_names_of_ports_are_still_parameters(cell: str) -> None:
    expression = read_ports(cell)
    assert expression.faults == ()
    assert all(t.parameter for t in expression.terms) and expression.terms


def test_conditions_are_read_by_the_grammar_not_as_prose() -> None:
    expression = read_ports("6162, or 2500-3300 if the port 6162 is unavailable")
    assert [a.condition for a in expression.alternatives] == [
        None,
        "the port 6162 is unavailable",
    ]


def test_the_tunneling_row_drafts_its_port_and_reports_the_sentences(tmp_path: Path) -> None:
    page = tmp_path / "ports.csv"
    cell = TUNNELING.replace('"', '""')
    page.write_text(f'Source,Destination,Port,Protocol\nSensor,OT sensor,"{cell}",TCP\n')
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 1
    product = yaml.safe_load(out.read_text())
    assert [(f["protocol"], f["ports"]) for f in product["flows"]] == [("tcp", [9000])]
    assert "parameters" not in product
    assert result.stderr.count("is prose, not a port") == 2
    assert "alternatives" not in result.stderr


#: Defender for IoT's destination of the sensor's access to Azure (paraphrased as in the corpus)
AZURE = (
    "OT network sensors connect to Azure for alerts, device data and health messages, threat "
    "intelligence packages and more; the Azure services include IoT Hub, Blob Storage, Event "
    "Hubs and the Microsoft Download Center.\n\nThe list is downloaded from the Sites and "
    "sensors page of the Azure portal: select an OT sensor of version 22.x or later, or a site "
    "with one or more supported sensors, then More options > Download endpoint details."
)


@pytest.mark.parametrize(
    "destination",
    [
        AZURE,
        # one sentence of several words, ended by a full stop
        "The sensor connects to the servers listed in the portal, or to a proxy.",
        # longer than a component's name may be (128 characters)
        "servers " * 20,
    ],
)
def test_a_paragraph_as_destination_is_reported_and_drafts_no_flow(
    tmp_path: Path, destination: str
) -> None:
    """The paragraph was split at its commas, `and`s and `or`s into ~15 components (``more``,
    ``later``, ``device data``) and a flow was drafted to all of them."""
    page = tmp_path / "ports.csv"
    cell = destination.replace('"', '""')
    page.write_text(f'Source,Destination,Port,Protocol\nSensor,"{cell}",443,TCP\nSensor,B,22,TCP\n')
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 1
    product = yaml.safe_load(out.read_text())
    assert [(f["from"], f["to"], f["ports"]) for f in product["flows"]] == [("sensor", "b", [22])]
    assert sorted(product["components"]) == ["b", "sensor"]
    (line,) = [x for x in result.stderr.splitlines() if not x.startswith("portplan:")]
    assert line.startswith(f"{page}:2:8: column 'Destination' holds prose, not the names of ")
    assert line.endswith("the row is drafted no flow; model it by hand with the systems it names")


def test_long_names_of_systems_are_still_components(tmp_path: Path) -> None:
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol\n"
        "Edge Transport servers,Mailbox servers in the subscribed Active Directory site that "
        "participate in EdgeSync synchronization,50636,TCP\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    (flow,) = yaml.safe_load(out.read_text())["flows"]
    assert flow["to"] == "mailbox_servers_in_the_subscribed_act"


@pytest.mark.parametrize(
    "destination",
    [
        # longer than a component's name may be (128 characters), as a DNS name may be
        ".".join(f"segment{i:02}" for i in range(15)) + ".example.com",
        # an absolute name: six words and more, ended by a full stop
        "host.sub.dept.region.corp.example.com.",
    ],
)
def test_a_long_dns_name_as_destination_is_a_system_not_prose(
    tmp_path: Path, destination: str
) -> None:
    """Both were reported as prose, and the row drafted no flow."""
    page = tmp_path / "ports.csv"
    page.write_text(f"Source,Destination,Port,Protocol\nSensor,{destination},443,TCP\n")
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    product = yaml.safe_load(out.read_text())
    (flow,) = product["flows"]
    assert (flow["from"], flow["ports"], flow["protocol"]) == ("sensor", [443], "tcp")
    assert product["components"][flow["to"]]["name"] == destination
    assert product["components"][flow["to"]]["kind"] == "external"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("Windows 2019 servers", "is words around a number (a version, a count, a group)"),
        ("Windows Server 2019 hosts", "is words around a number (a version, a count, a group)"),
        ("Tier 2 ports", "is words around a number (a version, a count, a group)"),
        ("Windows 8.1 clients", "is words around a number (a version, a count, a group)"),
        ("Release 7 and later", "bounds a version (7 and later)"),
        ("vSphere 6.7 or later", "bounds a version (6.7 or later)"),
    ],
)
def test_words_around_a_number_are_no_port(cell: str, message: str) -> None:
    """``Windows 2019 servers`` read as port 2019 with two notes, ``Tier 2 ports`` as port 2,
    ``Release 7 and later`` as port 7 and a port named ``later`` for the deployment to set."""
    expression = read_ports(cell)
    assert expression.alternatives == ()
    assert [f.message for f in expression.faults] == [
        f"{cell!r} {message}, not a port: model what it says by hand"
    ]


@pytest.mark.parametrize(
    ("cell", "canonical"),
    [
        ("SNMP 161", "161 (SNMP)"),
        ("161 SNMP", "161 (SNMP)"),
        ("HTTPS 443 port", "443 (HTTPS) (port)"),
        ("TCP 135 and 445", "135/tcp, 445/tcp"),
        ("ICMP type 3 code 4", "ICMP type 3 code 4"),
        ("1024 and above", "1024-65535"),
        ("443 if Windows 2019 servers are used", "if Windows 2019 servers are used: 443"),
        ("1433 (Note 2 Alternate port available)", "1433 (Note 2 Alternate port available)"),
        # a word of the grammar after the number is a term of its own, not a group's word
        ("RPC 135 dynamic", "135 (RPC), dynamic"),
        ("DCOM 135 ephemeral", "135 (DCOM), dynamic"),
    ],
)
def test_ports_with_names_or_conditions_beside_them_still_read(cell: str, canonical: str) -> None:
    expression = read_ports(cell)
    assert expression.faults == ()
    assert format_ports(expression) == canonical


def test_an_ordinary_row_of_words_around_a_number_drafts_no_port(tmp_path: Path) -> None:
    """In an ordinary row (not a lone group heading) ``Windows 2019 servers`` drafted TCP 2019,
    ``Tier 2 ports`` TCP 2 and ``Release 7 and later`` TCP 7 plus a port parameter ``later``,
    exit 0: ports the vendor never wrote.  Each row is now listed, no flow; the ports vendors
    write beside them still draft."""
    page = tmp_path / "ports.csv"
    page.write_text(
        "Source,Destination,Port,Protocol,Description\n"
        "Agent,Server,Windows 2019 servers,TCP,Remote management\n"
        "Agent,Server,Tier 2 ports,TCP,Replication\n"
        "Agent,Server,Release 7 and later,TCP,Web console\n"
        "Agent,Server,443 (HTTPS),TCP,Web console\n"
        "Agent,Server,8443 or 443,TCP,API\n"
        'Agent,Server,"135, 445",TCP,RPC\n'
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    assert result.exit_code == 1, result.stderr
    product = yaml.safe_load(out.read_text())
    assert [(f["row"], f["ports"]) for f in product["flows"]] == [
        (4, [443]),
        (5, ["api_tcp_port"]),
        (6, [135, 445]),
    ]
    assert product["parameters"] == {
        "api_tcp_port": {
            "description": "TCP port of: API (the vendor writes: 8443 or 443)",
            "default": [8443],
            "allowed": [443],
        }
    }
    lines = [x for x in result.stderr.splitlines() if not x.startswith("portplan:")]
    assert [x.split(": ", 1)[0] for x in lines] == [f"{page}:{n}:14" for n in (2, 3, 4)]
    assert "'Windows 2019 servers' is words around a number" in lines[0]
    assert "'Tier 2 ports' is words around a number" in lines[1]
    assert "'Release 7 and later' bounds a version (7 and later), not a port" in lines[2]
