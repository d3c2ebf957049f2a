"""`portplan import` of the ends of a flow and of the words around a port: a draft names no
component, port or parameter the vendor did not write (the corpus' fourth round: VMware View's
Source/Port/Target/Port tables, Cisco ISE's port cells with notes)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from portplan.cli import cli
from portplan.load.product import load_product
from portplan.model import Product


def drafted(doc: Path, text: str) -> tuple[int, str, Product]:
    """``portplan import`` of ``text`` written to ``doc``: the exit status, standard error and
    the draft, loaded (so validated)."""
    doc.write_text(text)
    out = doc.with_name(f"{doc.name}.yaml")
    result = CliRunner().invoke(cli, ["import", str(doc), "-o", str(out)])
    return result.exit_code, result.stderr, load_product(out)


def test_a_version_bound_after_or_is_part_of_the_name_not_a_second_end(tmp_path: Path) -> None:
    """VMware View's ``View Client 4.5 or earlier`` drafted two destinations, ``View Client
    4.5`` and ``earlier``: a component the vendor never named, reached on the row's port."""
    code, stderr, product = drafted(
        tmp_path / "ports.csv",
        "Source,Target,Port,Protocol\n"
        "View Connection Server,View Client 4.5 or earlier,50002,UDP\n"
        "View Connection Server,View Agent 4.6 and later,4172,UDP\n"
        "Backup server,repository or gateway server,2500,TCP\n",
    )
    assert code == 0, stderr
    names = {k: c.name for k, c in product.components.items()}
    assert [[names[d] for d in f.destination] for f in product.flows] == [
        ["View Client 4.5 or earlier"],
        ["View Agent 4.6 and later"],
        ["repository", "gateway server"],
    ]


def test_a_port_column_after_the_source_is_the_source_port_not_the_targets(
    tmp_path: Path,
) -> None:
    """VMware View's ``Source | Port | Target | Port`` tables: both ``Port`` columns were read
    as the target's, so ``View Connection Server, 4172 -> View Agent, 50002`` drafted the
    agent listening on 4172 and 50002, a port the vendor gave the source only.  The first is
    now the source's port: reported, kept as the row's column, never a port of the flow."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Source,Port,Target,Port,Protocol\n"
        "View Connection Server,4172,View Agent 4.6 or later,50002,UDP\n",
    )
    assert code == 1
    assert f"{doc}:2:24: column 'Port': source port '4172' is not modelled" in stderr
    (flow,) = product.flows
    assert [str(p) for p in flow.ports or ()] == ["50002"]
    assert flow.columns == {"Port": "4172"}
    # one Port column only, or no destination column before the second: the heading decides
    code, stderr, product = drafted(
        tmp_path / "one.csv", "Source,Port,Target,Protocol\nServer,443,Agent,TCP\n"
    )
    assert code == 0, stderr
    assert [str(p) for f in product.flows for p in f.ports or ()] == ["443"]


def test_a_note_line_in_a_port_cell_is_reported_never_a_port_or_a_parameter(
    tmp_path: Path,
) -> None:
    """Cisco ISE's port cells end in notes: ``Note Port 80 is sent on to port 443; this cannot
    be changed.`` drafted a port parameter named 'this cannot be changed.', ``Note Whether this
    port is used depends on the route table.`` another, and ``Note Ports 80 and 443 serve the
    Admin web applications`` port 443 a second time, with exit 1 for other words only.  A line
    that starts with Note is now reported whole and read as no port."""
    doc = tmp_path / "ports.html"
    code, stderr, product = drafted(
        doc,
        "<table><tr><th>Service</th><th>Port</th></tr>"
        "<tr><td>Administration</td><td><p>TCP: 22</p><p>TCP: 443</p>"
        "<p>Note Port 80 is sent on to port 443; this cannot be changed.</p>"
        "<p>NOTE: Ports 80 and 8443 serve the web applications.</p></td></tr>"
        "<tr><td>Monitoring</td><td><p>UDP: 161</p>"
        "<p>Note Whether this port is used depends on the route table.</p></td></tr></table>",
    )
    assert code == 1
    assert "'Note Port 80 is sent on to port 443; this cannot be changed.' is a note" in stderr
    assert "'NOTE: Ports 80 and 8443 serve the web applications.' is a note" in stderr
    assert "'Note Whether this port is used depends on the route table.' is a note" in stderr
    assert [(f.protocol, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        ("tcp", ["22", "443"]),
        ("udp", ["161"]),
    ]
    assert not product.parameters


def test_a_direction_in_a_protocol_cell_is_reported_never_an_application(
    tmp_path: Path,
) -> None:
    """vSphere's ESXi ports give the transport and its direction in one cell (Traffic Type:
    ``Incoming and outgoing TCP, outgoing UDP``).  Read as a protocol cell, ``Incoming`` and
    ``outgoing`` became application names, TCP and UDP both drafted as ports the host listens
    on (UDP 902 is the host's outgoing heartbeat), and every cell was said read, exit 0."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        'Port,Purpose,Protocol\n902,Consoles,"Incoming and outgoing TCP, outgoing UDP"\n'
        "903,Remote console,Incoming TCP\n22,SSH,TCP\n",
    )
    assert code == 1
    assert f"{doc}:2:14: column 'Protocol': could not read 'Incoming': a direction" in stderr
    assert f"{doc}:2:14: column 'Protocol': could not read 'outgoing': a direction" in stderr
    assert f"{doc}:3:20: column 'Protocol': could not read 'Incoming': a direction" in stderr
    assert [(f.protocol, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        ("tcp", ["22"])
    ]
    assert all(f.service is None for f in product.flows)


def test_a_row_whose_direction_cannot_be_read_drafts_no_flow(tmp_path: Path) -> None:
    """Mitel's MiVoice Border Gateway rules name both ends in the Direction column (``Server
    -> Internet``).  The cell was reported, but the row was drafted all the same as the
    product listening on the port: ``UDP 53, Server -> Internet`` (the server's DNS lookups)
    became a DNS port open on the server to anyone."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Port Range,Direction,Purpose\nUDP 53,Server -> Internet,DNS\nTCP 443,Inbound,Management\n",
    )
    assert code == 1
    assert f"{doc}:2:8: column 'Direction': cannot read the direction 'Server -> Internet'" in (
        stderr
    )
    assert f"{doc}:2:1: the row's direction 'Server -> Internet' could not be read" in stderr
    assert [(f.protocol, [str(p) for p in f.ports or ()]) for f in product.flows] == [
        ("tcp", ["443"])
    ]


def test_what_is_said_of_a_row_is_said_where_the_row_is(tmp_path: Path) -> None:
    """Cisco ISE's node cell spans the node's services (``rowspan``), and its port columns map
    to no field.  Each row, naming no port, was listed at the node cell, in the node's first
    row: the three rows of the Monitoring node all at one line, so a reader could not tell
    which rows they were."""
    doc = tmp_path / "ports.html"
    code, stderr, _product = drafted(
        doc,
        "<table>\n<tr><th>Node</th><th>Service</th><th>Ports on Gigabit Ethernet 0</th></tr>\n"
        '<tr><td rowspan="3">Monitoring node</td><td>Administration</td><td>TCP 22</td></tr>\n'
        "<tr><td>Replication</td><td>TCP 443</td></tr>\n"
        "<tr><td>Logging</td><td>UDP 20514</td></tr>\n</table>\n",
    )
    assert code == 1
    assert [line.split(": ", 1)[0] for line in stderr.splitlines() if "names no port" in line] == [
        f"{doc}:3:5",
        f"{doc}:4:5",
        f"{doc}:5:5",
    ]


def test_two_columns_of_one_heading_are_reported_not_one_dropped_unsaid(tmp_path: Path) -> None:
    """VMware View's tables head the source's port and the target's both ``Port``.  The draft
    names a column by its heading: its columns said ``Port`` is a free column (the first), and
    each flow's origin kept only the second cell, the source's port gone without a word."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc, "Source,Port,Target,Port,Protocol\nView Client,*,View desktop,3389,TCP\n"
    )
    assert code == 1
    assert f"{doc}:1:20: columns 2 and 4 are both headed 'Port': the draft names a column" in (
        stderr
    )
    assert [str(p) for f in product.flows for p in f.ports or ()] == ["3389"]


def test_a_numbered_caption_still_says_its_rows_direction(tmp_path: Path) -> None:
    """vSphere's ESXi firewall tables are captioned ``Table 34. Outgoing Firewall
    Connections``.  The caption's number hid the direction: the host's outgoing connections
    (DHCPv6, DNS, vMotion...) were drafted as ports the host listens on, exit 1 for other
    cells only.  ``Outgoing Firewall Connections`` alone was read as outbound."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "Table 34. Outgoing Firewall Connections\nPort,Protocol,Service\n8000,TCP,vMotion\n\n"
        "Table 2-1: Incoming ports\nPort,Protocol,Service\n22,TCP,SSH Server\n",
    )
    assert code == 1
    assert f"{doc}:3:1: the row is outbound from" in stderr
    outgoing, incoming = product.flows
    assert (outgoing.traffic, [str(p) for p in outgoing.ports or ()]) == ("outbound", ["8000"])
    assert outgoing.destination != outgoing.source
    assert incoming.traffic == "inbound"


def test_a_listener_list_under_a_title_naming_a_direction_elsewhere_drafts_no_flow(
    tmp_path: Path,
) -> None:
    """A title states its rows' direction by its first words (``Outgoing Ports``); under
    ``ESXi outgoing ports`` the rows were drafted as ports the host listens on, the opposite
    of what the title says, exit 0."""
    doc = tmp_path / "ports.csv"
    code, stderr, product = drafted(
        doc,
        "ESXi outgoing ports\nPort,Protocol,Service\n8000,TCP,vMotion\n\n"
        "Firewall ports\nPort,Protocol,Service\n22,TCP,SSH\n",
    )
    assert code == 1
    assert f"{doc}:3:1: the title 'ESXi outgoing ports' names a direction, but not" in stderr
    assert [[str(p) for p in f.ports or ()] for f in product.flows] == [["22"]]


NEC_TABLE = """\
<table>
<tr><th rowspan="2">Function</th><th colspan="2">Web Client</th><th rowspan="2">Protocol</th>
<th colspan="2">Management PC</th></tr>
<tr><th>Component</th><th>Port</th><th>Port</th><th>Component</th></tr>
<tr><td>Management</td><td>Web Browser</td><td>Unknown</td><td>TCP</td><td>8080</td>
<td>NEC ESMPRO Manager</td></tr>
</table>
"""


def test_two_ends_each_with_its_port_column_draft_no_listener_list(tmp_path: Path) -> None:
    """NEC ESMPRO's tables put each end's Component and Port under its name (``Web Client``,
    ``Management PC``).  Read as a listener list, the row drafted both ends as listeners on both
    columns' ports: port 8080, and a parameter for ``Unknown`` (the browser's own port), opened
    on the web browser as well."""
    code, stderr, product = drafted(tmp_path / "ports.html", NEC_TABLE)
    assert code == 1
    assert not product.flows and not product.parameters
    assert (
        f"{tmp_path / 'ports.html'}:5:24: the row names systems in 2 columns ('Web Client / "
        "Component', 'Management PC / Component') and ports in 2 ('Web Client / Port', "
        "'Management PC / Port'), each end with its own port: which end listens is not said; "
        "no flow is drafted: model it by hand" in stderr
    )
    assert {c.name for c in product.components.values()} == {"Web Browser", "NEC ESMPRO Manager"}


def test_a_listener_list_with_two_component_and_two_port_columns_is_still_drafted(
    tmp_path: Path,
) -> None:
    """Two component columns (``Component``, ``Host``) and a port column per transport are not
    two ends each with its port: the row is a listener list, drafted as before."""
    code, stderr, product = drafted(
        tmp_path / "ports.csv", "Component,Host,TCP,UDP\nAgent,Server A,443,161\n"
    )
    assert code == 0, stderr
    assert sorted((f.protocol.value, str(f.ports[0])) for f in product.flows) == [
        ("tcp", "443"),
        ("udp", "161"),
    ]


def test_a_footnote_mark_after_an_end_is_reported_not_part_of_its_name(tmp_path: Path) -> None:
    """Zoom's Hybrid module rules mark ``Hybrid MMR-2*`` and ``ocsp.digicert.com*``, BMC's CM
    ports ``Bandwidth Throttling *``: the note the mark points to makes the row conditional
    (``only required if running internal mode``), yet the draft named components
    ``Hybrid MMR-2*`` and ``ocsp.digicert.com*`` (not even read as a DNS name) and drafted the
    rows open always, reporting nothing.  The mark is now no part of the name, and the cell is
    reported: the note has to be read into the flow by hand."""
    doc = tmp_path / "rules.md"
    code, stderr, product = drafted(
        doc,
        "| Protocol | Ports | Source | Destination |\n"
        "|---|---|---|---|\n"
        "| TCP | 80 | MeetingConnector | ocsp.digicert.com\\* |\n"
        "| UDP | 8801 | Hybrid MMR-1 | Hybrid MMR-2\\* |\n"
        "| UDP | 8802 | Hybrid MMR-1 | Hybrid MMR-2 |\n"
        "| TCP | 1609 | Relay \\*\\* | Client |\n"
        "\n"
        "\\*Note: only required if running internal mode\n",
    )
    assert code == 1
    names = {k: c.name for k, c in product.components.items()}
    assert [
        ([names[s] for s in f.source], [names[d] for d in f.destination]) for f in product.flows
    ] == [
        (["MeetingConnector"], ["ocsp.digicert.com"]),
        (["Hybrid MMR-1"], ["Hybrid MMR-2"]),
        (["Hybrid MMR-1"], ["Hybrid MMR-2"]),
        (["Relay"], ["Client"]),
    ]
    assert product.components[product.flows[0].destination[0]].kind.value == "external"
    for line, column, name, mark in (
        (3, "Destination", "ocsp.digicert.com*", "*"),
        (4, "Destination", "Hybrid MMR-2*", "*"),
        (6, "Source", "Relay **", "**"),
    ):
        assert (
            f"column {column!r}: {name!r} carries the footnote mark {mark!r}: the note it points "
            "to is not read"
        ) in stderr, (line, stderr)
    assert stderr.count("carries the footnote mark") == 3


def test_an_address_wildcard_is_no_footnote_mark(tmp_path: Path) -> None:
    """An asterisk right after a dot or a colon is the wildcard part of an address
    (``10.1.2.*``, ``192.168.*.*``, ``fe80::*``): the name stays as written, never
    ``10.1.2.``, and no footnote mark is reported; one after a name still is (``Relay*``)."""
    doc = tmp_path / "rules.md"
    _code, stderr, product = drafted(
        doc,
        "| Protocol | Ports | Source | Destination |\n"
        "|---|---|---|---|\n"
        "| TCP | 443 | 10.1.2.\\* | Manager |\n"
        "| TCP | 8443 | 192.168.\\*.\\* | Manager |\n"
        "| TCP | 8444 | fe80::\\* | Manager |\n"
        "| TCP | 8445 | Relay\\* | Manager |\n",
    )
    names = {k: c.name for k, c in product.components.items()}
    assert [[names[s] for s in f.source] for f in product.flows] == [
        ["10.1.2.*"],
        ["192.168.*.*"],
        ["fe80::*"],
        ["Relay"],
    ]
    assert stderr.count("carries the footnote mark") == 1, stderr
    assert "'Relay*' carries the footnote mark '*'" in stderr, stderr


def test_an_address_set_after_and_is_one_name_with_what_goes_before(tmp_path: Path) -> None:
    """Zoom's ``Zoom's Meetings and Webinars IP range`` (a typographic apostrophe) drafted
    two destinations, ``Zoom's Meetings`` and ``Webinars IP range``: systems the vendor never
    named, reached on the row's ports.  An ``and``/``or`` whose second part ends in an address
    set (``IP range``, ``subnets``, ``IP addresses``) without a name of its own before it
    shares that head noun: one name, as written.  ``Hybrid MMRs and ZC`` still names two, and
    so does ``Hybrid MMRs and Zoom's IP range`` (the possessive starts a name of its own)."""
    code, stderr, product = drafted(
        tmp_path / "rules.md",
        "| Protocol | Ports | Source | Destination |\n"
        "|---|---|---|---|\n"
        "| UDP | 8801 | Hybrid MMRs and ZC | Zoom\u2019s Meetings and Webinars IP range |\n"
        "| TCP | 443 | Client and server subnets | Hybrid MMRs and Zoom's IP range |\n"
        "| TCP | 80 | Node server | Meetings or Webinars IP addresses, ocsp.digicert.com |\n",
    )
    assert code == 0, stderr
    names = {k: c.name for k, c in product.components.items()}
    assert [
        ([names[s] for s in f.source], [names[d] for d in f.destination]) for f in product.flows
    ] == [
        (["Hybrid MMRs", "ZC"], ["Zoom\u2019s Meetings and Webinars IP range"]),
        (["Client and server subnets"], ["Hybrid MMRs", "Zoom's IP range"]),
        (["Node server"], ["Meetings or Webinars IP addresses", "ocsp.digicert.com"]),
    ]


def test_a_table_naming_its_ends_in_an_unmapped_column_is_no_listener_list(
    tmp_path: Path,
) -> None:
    """Nutanix Frame names both ends in one column, ``Source to Destination`` (``Cloud
    Connector Appliance (CCA) to Frame Platform``), beside ``Destination FQDN(s)``: neither
    heading is in the vocabulary, so the table read as a listener list and the draft opened TCP
    443 and 9440 from any client to the product, when the vendor's rows go from the CCA out to
    Frame's cloud.  A row with text under an unmapped column whose heading names an end
    (source, destination, target) now drafts no flow, and says so there; a listener list
    without such a column still drafts any client to the product."""
    code, stderr, product = drafted(
        tmp_path / "ports.md",
        "# Frame\n\n| Source to Destination | Destination FQDN(s) | Protocol/port |\n"
        "|---|---|---|\n"
        "| CCA to Frame Platform | cch.console.nutanix.com | tcp/443 (HTTPS) |\n"
        "| CCA to Prism Central | Prism Central IP address | tcp/443 (HTTPS), tcp/9440 (HTTPS) |\n"
        "\n# Appliance\n\n| Port | Protocol | Description |\n|---|---|---|\n"
        "| 22 | TCP | SSH |\n",
    )
    assert code == 1, stderr
    assert [(f.section, f.row, f.source) for f in product.flows] == [("appliance", 1, ("any",))]
    lines = [x for x in stderr.splitlines() if "maps to no field, and by its heading" in x]
    assert [x.split(": ", 1)[0] for x in lines] == [
        f"{tmp_path / 'ports.md'}:5:3",
        f"{tmp_path / 'ports.md'}:6:3",
    ], stderr
    assert all(
        "column 'Source to Destination' maps to no field, and by its heading it names the "
        "row's ends: which system connects to which is not read, and no flow is drafted" in x
        for x in lines
    )


def test_a_component_naming_two_systems_joined_by_to_drafts_no_flow(tmp_path: Path) -> None:
    """Symantec ITMS 8.x writes ``SIM to MS SQL DB`` in its Component column (the Installation
    Manager's connection to its database): the draft made one component of both systems,
    ``sim_to_ms_sql_db``, connecting out on 1433 and 1434 to a destination to be named.  Such
    a row now drafts no flow and is listed at the component cell; ``to`` inside parentheses is
    part of a name, and a component of one system still drafts."""
    code, stderr, product = drafted(
        tmp_path / "ports.csv",
        "Component,Protocol,Direction,Port\n"
        "SIM to MS SQL DB,TCP,Outbound,1433\n"
        "SIM to MS SQL DB,UDP,Outbound,1434\n"
        "Provider (port is customizable to 443),TCP,Inbound,8888\n"
        "Symantec Installation Manager,TCP/UDP,Outbound,53\n",
    )
    assert code == 1, stderr
    names = {k: c.name for k, c in product.components.items()}
    assert [(f.row, [names[s] for s in f.source]) for f in product.flows] == [
        (3, ["Any client"]),
        (4, ["Symantec Installation Manager"]),
        (4, ["Symantec Installation Manager"]),
    ]
    lines = [x for x in stderr.splitlines() if "names two systems joined by 'to'" in x]
    assert [x.split(": ", 1)[0] for x in lines] == [
        f"{tmp_path / 'ports.csv'}:2:1",
        f"{tmp_path / 'ports.csv'}:3:1",
    ], stderr
