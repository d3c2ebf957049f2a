"""Port cells whose words change which ports the draft may open: a condition on the only
alternative (``443 if SSL is enabled``) is never drafted as a port that is always open."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer._portread import read_ports
from portplan.importer.ports import format_ports


def _import(tmp_path: Path, table: str) -> tuple[int, list[dict], list[str]]:
    page = tmp_path / "ports.csv"
    page.write_text(table)
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "-o", str(out)])
    flows = yaml.safe_load(out.read_text())["flows"]
    lines = [line for line in result.stderr.splitlines() if not line.startswith("portplan:")]
    return result.exit_code, flows, lines


def test_a_port_that_applies_only_under_a_condition_is_reported_not_drafted(
    tmp_path: Path,
) -> None:
    """``443 if SSL is enabled`` drafted port 443 open always, without the condition or a
    note, and the import said every cell was read (exit 0)."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,443 if SSL is enabled,TCP\n"
        "A,B,80,TCP\n"
        'A,B,"8080, or 8443 if 8080 is in use",TCP\n',
    )
    assert code == 1
    assert [f["row"] for f in flows] == [2, 3]  # alternatives still make a parameter
    assert lines == [
        f"{tmp_path / 'ports.csv'}:2:5: '443 if SSL is enabled' applies only if SSL is "
        "enabled: a condition in a port cell is not drafted; give the row a Condition column, "
        "or model it by hand"
    ]


def test_letters_run_into_a_port_number_are_reported_never_a_note(tmp_path: Path) -> None:
    """``32NN`` (SAP's instance-numbered 3200-3299) drafted port 32, ``22a`` (a footnote mark
    that lost its superscript) port 22 and ``10k`` port 10, each with the letters as a note,
    exit 0.  Letters run into a number are now a fault, and the port is not drafted; a
    transport run into it (``443tcp``) and a word after a space (``161 SNMP``) read as
    before."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,32NN,TCP\n"
        'A,B,"80, 22a",TCP\n'
        "A,B,10k,UDP\n"
        "A,B,443tcp,\n"
        "A,B,161 SNMP,UDP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"], f.get("notes")) for f in flows] == [
        (2, [80], None),
        (4, [443], None),
        (5, [161], ["SNMP"]),
    ]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:2:5: column 'Port': could not read '32NN': letters run into the number",
        f"{file}:3:5: column 'Port': could not read '22a': letters run into the number",
        f"{file}:4:5: column 'Port': could not read '10k': letters run into the number",
    ]


def test_a_port_under_an_icmp_protocol_cell_is_reported_never_dropped(tmp_path: Path) -> None:
    """Port ``53`` under the protocol ``ICMP`` drafted an ICMP echo flow and dropped the port,
    and ``443`` under ``TCP/ICMP`` drafted only that echo flow, TCP 443 dropped: both exit 0
    with the rows as read.  ICMP has no port: the cell is now reported, and the port keeps the
    other transports the protocol cell names."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\nA,B,53,ICMP\nA,B,443,TCP/ICMP\nA,B,,ICMP\n",
    )
    assert code == 1
    assert [(f["row"], f["protocol"], f.get("ports"), f.get("icmp")) for f in flows] == [
        (2, "tcp", [443], None),
        (3, "icmp", None, ["echo-request"]),  # no port: ICMP alone, read as ping
    ]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:2:5: column 'Port': ICMP has no port: port 53 where column 'Protocol' says icmp",
        f"{file}:3:5: column 'Port': ICMP has no port: port 443 where column 'Protocol' says "
        "tcp/icmp",
    ]


def test_a_cell_that_leaves_ports_out_is_never_drafted_broader(tmp_path: Path) -> None:
    """``1024-65535 except 8080`` drafted 1024-65535 (8080 included), ``any port except 22``
    and ``all ports above 1024`` every port: the words that narrow them were reported, but the
    draft opened more than the vendor says.  Such a cell is now reported and not drafted; a
    port with a note (``any (see note 3)``) drafts as before, and a note's ``not`` is not
    taken as leaving ports out (``8080 (not used by default)`` is reported as a port the
    vendor says is off, below)."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,1024-65535 except 8080,TCP\n"
        "A,B,any port except 22,TCP\n"
        "A,B,all ports above 1024,TCP\n"
        "A,B,1024-65535 (excl. 8080),UDP\n"
        "A,B,any (see note 3),TCP\n"
        "A,B,8080 (not used by default),TCP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"]) for f in flows] == [(5, ["1-65535"])]
    file = tmp_path / "ports.csv"
    problems = [line for line in lines if "model it by hand" in line]
    assert problems == [
        f"{file}:2:5: '1024-65535 except 8080' leaves ports out, which the draft cannot: not "
        "drafted with them; model it by hand",
        f"{file}:3:5: 'any port except 22' leaves ports out, which the draft cannot: not "
        "drafted with them; model it by hand",
        f"{file}:4:5: 'all ports above 1024' names any port with words that could not be "
        "read: never drafted as every port; model it by hand",
        f"{file}:5:5: '1024-65535 (excl. 8080)' leaves ports out, which the draft cannot: not "
        "drafted with them; model it by hand",
        f"{file}:7:5: '8080 (not used by default)': the note 'not used by default' says a port "
        "is not in use or off: not drafted; if the deployment uses it, model it by hand",
    ]


def test_an_outbound_ports_column_is_never_drafted_as_ports_listened_on(tmp_path: Path) -> None:
    """A listener list's ``Outbound Ports`` column (the ports the server connects out to)
    drafted the server listening on them, from any client, exit 0; beside ``Inbound Ports``
    its ports joined the inbound ones.  Its rows are now outbound from the row's component,
    whose destination the draft asks for; a row with ports under both headings is listed."""
    code, flows, lines = _import(
        tmp_path,
        "Component,Outbound Ports,Protocol\nServer,53,UDP\n",
    )
    assert code == 1
    assert [(f["from"], f["to"], f.get("traffic"), f["ports"]) for f in flows] == [
        ("server", "unnamed_destination", "outbound", [53])
    ]
    both = tmp_path / "both"
    both.mkdir()
    code, flows, lines = _import(
        both,
        "Component,Inbound Ports,Outbound Ports,Protocol\nServer,443,53,TCP\n",
    )
    assert (code, flows) == (1, [])
    assert lines == [
        f"{both / 'ports.csv'}:2:1: the row has ports under an inbound and an outbound "
        "heading, which one row of flows cannot say: model it by hand, or map one of the "
        "columns"
    ]
    # a destination column names who listens: the outbound ports are its ports, as before
    named = tmp_path / "named"
    named.mkdir()
    code, flows, lines = _import(named, "Endpoint,Outbound Port,Protocol\nrepo,443,TCP\n")
    assert (code, [(f.get("from"), f["to"], f["ports"]) for f in flows]) == (
        0,
        [(None, "repo", [443])],
    )


def test_a_port_excluded_in_a_participle_or_a_note_is_never_drafted(tmp_path: Path) -> None:
    """``1024-65535 (8080 excluded)`` drafted 1024-65535, 8080 included (the unread words were
    listed, but ``excluded`` was not taken as leaving ports out), and ``1024-65535; 8080
    excluded`` drafted 8080 with the note ``excluded``, exit 0, every cell read.  A note's
    ``not`` stays a remark (``22 (SSH not Telnet)`` drafts)."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,1024-65535 (8080 excluded),TCP\n"
        "A,B,1024-65535; 8080 excluded,TCP\n"
        "A,B,1024-65535 (excluding reserved ports),UDP\n"
        "A,B,1024-65535 apart from 8080,TCP\n"
        "A,B,22 (SSH not Telnet),TCP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"]) for f in flows] == [(5, [22])]
    file = tmp_path / "ports.csv"
    problems = [line for line in lines if "model it by hand" in line]
    assert problems == [
        f"{file}:{row}:5: {said!r} leaves ports out, which the draft cannot: not drafted with "
        "them; model it by hand"
        for row, said in (
            (2, "1024-65535 (8080 excluded)"),
            (3, "1024-65535; 8080 excluded"),
            (4, "1024-65535 (excluding reserved ports)"),
            (5, "1024-65535 apart from 8080"),
        )
    ]


def test_a_port_whose_note_says_it_is_unused_or_off_is_reported_not_drafted(
    tmp_path: Path,
) -> None:
    """``8080 (not used)``, ``8443 (unused)``, ``443 (deprecated)`` and ``21 (disabled by
    default)`` drafted the port open with the note, exit 0: a port the vendor does not ask
    for.  Such a cell is now reported and not drafted, as a condition is; benign notes
    (``(configurable)``, ``(default)``, ``(can be disabled)``) draft as before."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,8080 (not used),TCP\n"
        "A,B,8443 (unused),TCP\n"
        "A,B,443 (deprecated),TCP\n"
        "A,B,21 (disabled by default),TCP\n"
        'A,B,"22, 8083 (no longer used)",TCP\n'
        "A,B,8086 (Obsolete since 7.0),UDP\n"
        "A,B,9000 (configurable),TCP\n"
        "A,B,80 (default),TCP\n"
        "A,B,8000 (can be disabled),TCP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"], f.get("notes")) for f in flows] == [
        (7, [9000], ["configurable"]),
        (8, [80], ["default"]),
        (9, [8000], ["can be disabled"]),
    ]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:{row}:5: {said!r}: the note {note!r} says a port is not in use or off: not "
        "drafted; if the deployment uses it, model it by hand"
        for row, said, note in (
            (2, "8080 (not used)", "not used"),
            (3, "8443 (unused)", "unused"),
            (4, "443 (deprecated)", "deprecated"),
            (5, "21 (disabled by default)", "disabled by default"),
            (6, "22, 8083 (no longer used)", "no longer used"),
            (7, "8086 (Obsolete since 7.0)", "Obsolete since 7.0"),
        )
    ]


def test_a_note_that_says_a_port_is_on_unless_turned_off_drafts_it(tmp_path: Path) -> None:
    """``8443 (unless disabled)``, ``(can be turned off)``, ``(can be removed)`` say the port
    is in use, as ``(can be disabled)`` does: they were refused as saying it is off (the words
    ``disabled``, ``removed``, ``turned off`` read alone), and the port was not drafted.  What
    is off now (``(disabled by default)``, ``(has been removed)``) is still reported."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,8443 (unless disabled),TCP\n"
        "A,B,8444 (can be turned off),TCP\n"
        "A,B,8445 (may be switched off),TCP\n"
        "A,B,8446 (optional; can be removed),TCP\n"
        "A,B,8447 (if not disabled),TCP\n"
        "A,B,8448 (until turned off),TCP\n"
        "A,B,21 (disabled by default),TCP\n"
        "A,B,23 (has been removed),TCP\n",
    )
    assert code == 1
    assert [(f["ports"], f.get("notes")) for f in flows] == [
        ([8443], ["unless disabled"]),
        ([8444], ["can be turned off"]),
        ([8445], ["may be switched off"]),
        ([8446], ["optional; can be removed"]),
        ([8447], ["if not disabled"]),
        ([8448], ["until turned off"]),
    ]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:{row}:5: {said!r}: the note {note!r} says a port is not in use or off: not "
        "drafted; if the deployment uses it, model it by hand"
        for row, said, note in (
            (8, "21 (disabled by default)", "disabled by default"),
            (9, "23 (has been removed)", "has been removed"),
        )
    ]


def test_a_port_whose_note_sets_a_condition_is_reported_not_drafted(tmp_path: Path) -> None:
    """``80 (if HTTP is enabled)`` drafted port 80 open always, the condition only a note,
    while ``80 if HTTP is enabled`` is reported as a condition the draft cannot say; ``443, 80
    (only when HTTP is on)`` drafted both ports.  A note that sets a condition is now reported
    as the condition is, its cell not drafted; a note that says the port is on unless turned
    off (``(if not disabled)``) and other notes draft as before."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,80 (if HTTP is enabled),TCP\n"
        'A,B,"443, 80 (only when HTTP is on)",TCP\n'
        "A,B,445 (only for trust creation),TCP\n"
        "A,B,8080 (When the proxy is used),TCP\n"
        "A,B,8447 (if not disabled),TCP\n"
        "A,B,161 (SNMP),UDP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"], f.get("notes")) for f in flows] == [
        (5, [8447], ["if not disabled"]),
        (6, [161], ["SNMP"]),
    ]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:{row}:5: {said!r}: the note {note!r} sets a condition: a condition in a port "
        "cell is not drafted; give the row a Condition column, or model it by hand"
        for row, said, note in (
            (2, "80 (if HTTP is enabled)", "if HTTP is enabled"),
            (3, "443, 80 (only when HTTP is on)", "only when HTTP is on"),
            (4, "445 (only for trust creation)", "only for trust creation"),
            (5, "8080 (When the proxy is used)", "When the proxy is used"),
        )
    ]


def test_a_condition_after_other_words_of_a_note_is_reported_too(tmp_path: Path) -> None:
    """Only a note that opened with the condition was read as one: ``81 (used if HTTP is
    enabled)``, ``82 (required when clustering is on)``, ``83 (needed only for replication)``
    drafted their ports open always.  ``(on by default; if not disabled)`` still says the
    port is on."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,81 (used if HTTP is enabled),TCP\n"
        "A,B,82 (required when clustering is on),TCP\n"
        "A,B,83 (needed only for replication),TCP\n"
        "A,B,8447 (on by default; if not disabled),TCP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"]) for f in flows] == [(4, [8447])]
    notes = ("used if HTTP is enabled", "required when clustering is on",
             "needed only for replication")  # fmt: skip
    assert [line.split(": ", 1)[1] for line in lines] == [
        f"'{port} ({note})': the note {note!r} sets a condition: a condition in a port cell is "
        "not drafted; give the row a Condition column, or model it by hand"
        for port, note in zip((81, 82, 83), notes, strict=True)
    ]


def test_a_port_kept_to_one_address_family_is_reported_not_drafted(tmp_path: Path) -> None:
    """``443 (IPv6 only)`` drafted port 443, the family only a note: a flow holds on every
    address of its hosts, so the rules opened it over IPv4 too, broader than the vendor
    wrote.  Such a note is now reported and its cell not drafted; a note that only names a
    family's protocol (``DHCPv6``) drafts as before."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,443 (IPv6 only),TCP\n"
        "A,B,8443 (only over IPv4),TCP\n"
        "A,B,547 (DHCPv6),UDP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"], f.get("notes")) for f in flows] == [(3, [547], ["DHCPv6"])]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:{row}:5: {said!r}: the note {note!r} keeps a port to one address family, "
        "which a flow cannot (it holds on every address of its hosts): not drafted; model it "
        "by hand, with hosts of that family's addresses"
        for row, said, note in (
            (2, "443 (IPv6 only)", "IPv6 only"),
            (3, "8443 (only over IPv4)", "only over IPv4"),
        )
    ]


def test_a_port_cell_that_sends_the_reader_elsewhere_is_never_a_parameter(
    tmp_path: Path,
) -> None:
    """Exchange's sender reputation row writes ``see comments`` in its Ports column and the
    ports (1080, 1081, 23, 6588, 3128, 80) in Comments: the cell drafted a port parameter named
    ``see comments``, without a default, as a port the deployment must set, exit 0.  Words
    that refer to another place for the ports (``see ...``, ``refer to ...``) are now reported
    as such and not drafted; words that name a port the vendor leaves open still draft a
    parameter."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\n"
        "A,B,see comments,TCP\n"
        "A,B,See below,TCP\n"
        "A,B,refer to the vendor's guide,UDP\n"
        "A,B,port for external database,TCP\n",
    )
    assert code == 1
    assert [(f["row"], f["ports"]) for f in flows] == [(4, ["table_1_tcp_port"])]
    file = tmp_path / "ports.csv"
    assert lines == [
        f"{file}:{line}:5: column 'Port': {said!r} refers elsewhere for its ports, which the "
        "import does not follow: model them by hand"
        for line, said in (
            (2, "see comments"),
            (3, "See below"),
            (4, "refer to the vendor's guide"),
        )
    ]


def test_an_unread_port_cell_under_icmp_is_never_drafted_as_ping(tmp_path: Path) -> None:
    """RKE2's Cilium rules write ``8/0`` under ``ICMP`` (type 8, code 0): the port cell could
    not be read and was reported, yet the row was drafted from its protocol cell alone as ICMP
    echo-request, noted "the vendor writes ICMP without a type", and so was ``3/4`` (type 3
    code 4: a ping the vendor never wrote).  Only a port cell left empty makes ICMP a ping."""
    code, flows, lines = _import(
        tmp_path,
        "Source,Destination,Port,Protocol\nA,B,3/4,ICMP\nA,B,8/0,ICMP\nA,B,,ICMP\n",
    )
    assert code == 1
    assert [(f["row"], f["icmp"]) for f in flows] == [(3, ["echo-request"])]
    file = tmp_path / "ports.csv"
    assert [line.split(": ")[0] for line in lines] == [f"{file}:2:5", f"{file}:3:5"]


def test_an_arrow_in_a_port_cell_drafts_no_port(tmp_path: Path) -> None:
    """Operations Manager writes the way a connection opens beside its ports (``Component A |
    Port/Direction | Component B``: ``5723 --->``, ``161,162 <--->``).  Mapped as source, port
    and destination, the arrow was reported unread but the ports were drafted from A to B, so
    ``5723 <---`` (B connects to A) opened 5723 the wrong way round and ``<--->`` one way only.
    A port cell with an arrow is now reported whole and drafts no port."""
    page = tmp_path / "ports.html"
    page.write_text(
        "<table><tr><th>Component A</th><th>Port/Direction</th><th>Component B</th></tr>"
        "<tr><td>Management server</td><td>5723 &lt;---</td><td>Agent</td></tr>"
        "<tr><td>Management server</td><td>161,162 &lt;---&gt;</td><td>Network device</td></tr>"
        "<tr><td>Agent</td><td>5723 ---&gt;</td><td>Management server</td></tr>"
        "<tr><td>Agent</td><td>443</td><td>Management server</td></tr></table>"
    )
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "Component A: source\nPort/Direction: {field: port, protocol: tcp}\n"
        "Component B: destination\n"
    )
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(page), "--map", str(mapping), "-o", str(out)])
    assert result.exit_code == 1, result.stderr
    flows = yaml.safe_load(out.read_text())["flows"]
    assert [(f["row"], f["from"], f["to"], f["ports"]) for f in flows] == [
        (4, "agent", "management_server", [443])
    ]
    lines = [line for line in result.stderr.splitlines() if not line.startswith("portplan:")]
    assert len(lines) == 3, result.stderr
    for line, cell, arrow in zip(
        lines, ("5723 <---", "161,162 <--->", "5723 --->"), ("<---", "<--->", "--->"), strict=True
    ):
        assert line.endswith(
            f"column 'Port/Direction': {cell!r}: the arrow {arrow!r} says which way the "
            "connection opens, which the import does not read from a port cell; no port of it "
            "is read: model the row by hand"
        ), line


@pytest.mark.parametrize(
    ("cell", "canonical"),
    [
        ("443 (<=v6)", "443 (<=v6)"),
        ("TCP 8443 (version <= 7.2)", "8443/tcp (version <= 7.2)"),
    ],
)
def test_a_bound_in_a_port_cell_is_no_arrow(cell: str, canonical: str) -> None:
    """``<=`` bounds a version beside a port; read as an arrow, the port cell was reported as
    saying which way the connection opens and no port of it was read."""
    expression = read_ports(cell)
    assert expression.faults == ()
    assert format_ports(expression) == canonical


@pytest.mark.parametrize("cell", ["5723 <==", "161 <=>", "5723 <- -"])
def test_arrows_of_equals_signs_are_still_arrows(cell: str) -> None:
    (fault,) = read_ports(cell).faults
    assert "says which way the connection opens" in fault.message
