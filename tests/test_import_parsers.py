"""The grammars of vendor cells: port expressions, protocol cells, directions and section
arrows.  Examples from the corpus and the issue, the faults the readers report instead of
guessing, and properties: a printed value reads back to itself, and no word of a cell is lost
(every word reaches the reading or a fault)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portplan.importer import (
    Alternative,
    Direction,
    DirectionReading,
    PortExpression,
    PortParameter,
    PortTerm,
    Transport,
    format_direction,
    format_ports,
    read_direction,
    read_ports,
    read_protocols,
    split_arrow,
    title_direction,
)
from portplan.model.ports import PortRange

TCP, UDP, ICMP = Transport.TCP, Transport.UDP, Transport.ICMP


@pytest.mark.parametrize(
    ("cell", "canonical"),
    [
        ("TCP 135 and 445", "135/tcp, 445/tcp"),
        ("UDP 18118 - 18126", "18118-18126/udp"),
        ("TCP/UDP 53", "53/tcp/udp"),
        ("TCP and UDP 53", "53/tcp/udp"),
        ("TCP, UDP 53", "53/tcp/udp"),  # not 53/udp: a protocol alone is for what follows
        ("TCP, UDP, 53", "53/tcp/udp"),
        ("8080 or 8443", "8080 or 8443"),
        ("TCP 21 or TCP 22", "21/tcp or 22/tcp"),
        ("TCP or UDP/514", "514/tcp or 514/udp"),
        ("TCP 5432 TCP [port for external database]", "5432/tcp, [port for external database]/tcp"),
        ("configurable, default 8443", "configurable, default 8443"),
        ("6162, or 2500-3300 if 6162 is unavailable", "6162 or if 6162 is unavailable: 2500-3300"),
        ("6162\n(2500 to 3300)", "6162 or 2500-3300"),
        ("ICMP", "ICMP"),
        ("ICMP echo", "ICMP type 8"),
        ("ICMP echo reply", "ICMP type 0"),
        ("ping", "ICMP type 8"),
        ("ICMP type 3 code 4", "ICMP type 3 code 4"),
        ("any", "any"),
        ("any TCP port", "any/tcp"),
        ("dynamic", "dynamic"),
        ("49152\u201365535", "49152-65535"),  # en dash
        ("49,152-65,535", "49152-65535"),  # thousands separators in a range
        ("10,000", "10000"),
        ("1 024", "1024"),  # a space between groups of digits, not ports 1 and 24
        ("49\u00a0152\u201365\u00a0535", "49152-65535"),  # no-break spaces, en dash
        ("1024 and above", "1024-65535"),
        ("TCP 1024 upwards", "1024-65535/tcp"),
        ("1024 onwards", "1024-65535"),
        ("1024 and upwards", "1024-65535"),
        ("TCP between 1024 and 65535", "1024-65535/tcp"),
        ("ports between 5000 and 5100 (UDP)", "5000-5100/udp"),
        ("between 80 and 443 or 8080", "80-443 or 8080"),
        ("1024 or greater", "1024-65535"),
        ("from 1024 to 65535", "1024-65535"),
        ("UDP/53, UDP/8888", "53/udp, 8888/udp"),
        ("443/tcp", "443/tcp"),
        ("3300/tcp, 6789/tcp", "3300/tcp, 6789/tcp"),
        ("TCP/8065, TCP/8191", "8065/tcp, 8191/tcp"),
        ("80, 443", "80, 443"),
        ("80;443", "80, 443"),
        ("TCP:80,443", "80/tcp, 443/tcp"),  # the colon was a fault, 80 dropped
        ("TCP: 80, 443", "80/tcp, 443/tcp"),
        ("TCP/UDP: 53", "53/tcp/udp"),
        ("135 and 445 (initially)", "135, 445 (initially)"),
        ("TCP 636 and 3269 (LDAPS)", "636/tcp, 3269/tcp (LDAPS)"),
        ("TCP 443 (HTTPS)", "443/tcp (HTTPS)"),
        ("TCP 541 (IPv4) TCP 542 (IPv6)", "541/tcp (IPv4), 542/tcp (IPv6)"),
        ("SNMP 161", "161 (SNMP)"),
        ("1433 (Note 2 Alternate port available)", "1433 (Note 2 Alternate port available)"),
        ("443 (TLS 1.2)", "443 (TLS 1.2)"),  # a version in a note is no port
        ("ICMP type 3 (all codes)", "ICMP type 3 (all codes)"),  # the whole type
        ("UDP 514 If reliable logging is enabled", "if reliable logging is enabled: 514/udp"),
        (
            "XML-RPC API port - 2633/tcp by default",
            "XML-RPC API port - by default 2633/tcp",
        ),
        (
            "netcat port range defined in node configuration - by default 16000-16999/tcp",
            "netcat port range defined in node configuration - by default 16000-16999/tcp",
        ),
        ("XML-RPC API port, default 2633", "XML-RPC API port - by default 2633"),
        ("Varies", "[Varies]"),
        ("--", "N/A"),
        ("N/A", "N/A"),
        ("", ""),
    ],
)
def test_vendor_port_cells_read_as_expected(cell: str, canonical: str) -> None:
    expression = read_ports(cell)
    assert expression.faults == ()
    assert format_ports(expression) == canonical
    assert read_ports(canonical) == expression


def test_a_port_cell_reads_into_alternatives_terms_conditions_and_parameters() -> None:
    assert read_ports("6162, or 2500-3300 if 6162 is unavailable").alternatives == (
        Alternative(terms=(PortTerm(ports=PortRange.single(6162)),)),
        Alternative(
            terms=(PortTerm(ports=PortRange(start=2500, end=3300)),),
            condition="6162 is unavailable",
        ),
    )
    assert read_ports("configurable, default 8443").terms == (
        PortTerm(parameter=PortParameter(name=None, default=PortRange.single(8443))),
    )
    database = read_ports("TCP 5432 TCP [port for external database]")
    assert database.terms == (
        PortTerm(protocols=(TCP,), ports=PortRange.single(5432)),
        PortTerm(protocols=(TCP,), parameter=PortParameter(name="port for external database")),
    )
    assert "read as a list" in database.assumptions[0]


def test_a_port_the_vendor_leaves_open_is_a_parameter_the_deployment_must_set() -> None:
    expression = read_ports("ports that were defined in endpoints for OpenStack services")
    assert expression.terms == (PortTerm(parameter=PortParameter(name=expression.text)),)
    assert expression.assumptions == (
        "no port number in 'ports that were defined in endpoints for OpenStack services': "
        "a parameter the deployment must set",
    )


def test_a_condition_a_list_and_an_otherwise_in_one_cell() -> None:
    cell = (
        "If Node is hosting staging space: 111/tcp, 111/UDP, 2049/tcp, 2049/UDP, ports "
        "specified in /etc/sysconfig/nfs - variables MOUNTD_PORT (TCP and UDP), STATD_PORT "
        "(TCP and UDP), LOCKD_TCPPORT (TCP), LOCKD_UDPPORT (UDP), otherwise please check the "
        "documentation of your NFS storage provider"
    )
    expression = read_ports(cell)
    (staging,) = expression.alternatives
    assert staging.condition == "Node is hosting staging space"
    assert [t.protocols for t in staging.terms] == [
        (TCP,), (UDP,), (TCP,), (UDP,), (TCP, UDP), (TCP, UDP), (TCP,), (UDP,),
    ]  # fmt: skip
    names = [t.parameter.name for t in staging.terms if t.parameter]
    assert names[1:] == ["STATD_PORT", "LOCKD_TCPPORT", "LOCKD_UDPPORT"]
    # otherwise: a sentence pointing to another vendor's documentation, never a parameter
    assert [f.message for f in expression.faults] == [
        "'please check the documentation of your NFS storage provider' is prose, not a port: "
        "model what it says by hand"
    ]


@pytest.mark.parametrize(
    ("cell", "fault"),
    [
        ("70000", "port 70000 is outside 1-65535"),
        ("0", "port 0 is outside 1-65535"),
        ("100-50", "range 100-50 is reversed"),
        ("22,443", "'22,443' could be port 22443 or ports 22 and 443"),
        ("22 443", "'22 443' could be port 22443 or ports 22 and 443"),
        # a dash or "to" that joins no range made the comma a thousands separator
        ("XML-RPC API port - 22,443", "'22,443' could be port 22443 or ports 22 and 443"),
        ("defaults to 1,443", "'1,443' could be port 1443 or ports 1 and 443"),
        ("0,024", "port 0 is outside 1-65535"),  # was port 24
        ("TCP", "protocol tcp without a port after it"),
        ("TCP, 443/udp", "protocol tcp without a port after it"),
        ("TCP, ICMP", "protocol tcp without a port after it"),
        ("configurable", "'configurable' without a port"),
        ("TCP/ICMP 80", "ICMP named together with TCP or UDP"),
        # written alone before a port, ICMP/TCP gave that port both: 80/icmp/tcp, printed ICMP
        ("ICMP/tcp, 80", "ICMP named together with TCP or UDP"),
        ("ICMP type 300", "ICMP type must be a number from 0 to 255"),
        ("if the moon is full", "condition 'if the moon is full' gives no port"),
        ("Note 2 Alternate port", "could not read 'Note 2 Alternate port'"),
        ("80, 90000", "port 90000 is outside 1-65535"),
        ("Fixed. Ask the vendor", "'Fixed. Ask the vendor' is prose, not a port"),
        # footnote marks were read as port 1, or as a port the deployment must set
        ("443 (1)", "'(1)' could be a footnote mark or port 1 as an alternative"),
        ("8443 [1]", "'[1]' looks like a footnote mark, not the name of a port"),
        ("8443 [a]", "'[a]' looks like a footnote mark, not the name of a port"),
        # Markdown's footnote reference was a port named "^1" for each deployment to set
        ("22[^1]", "'[^1]' looks like a footnote mark, not the name of a port"),
        ("22 [^note]", "'[^note]' looks like a footnote mark, not the name of a port"),
        # a mark that lost its superscript or link read as a second port, 1 or 12
        ("22 1", "'1' after '22' could be a footnote mark or port 1; leave the mark out"),
        ("TCP 443 12", "'12' after 'TCP 443' could be a footnote mark or port 12"),
        # a superscript letter (443<sup>a</sup>) read as the note "^a"
        ("22^a", "could not read '^a'"),
        # ports and protocols in a note were dropped with it
        ("TCP 443 (or 8443)", "could not read '(or 8443)': a port or protocol in a note"),
        ("TCP 80 (also UDP)", "could not read '(also UDP)': a port or protocol in a note"),
        ("1024-65535 (Windows 2003: 1025-5000)", "could not read '(Windows 2003: 1025-5000)'"),
        ("HTTPS (443)", "could not read 'HTTPS (443)'"),  # not a port to set
        # a transport joined by + or * was a port's name or a note, its port without it
        ("TCP+UDP 53", "could not read 'TCP+UDP 53'"),
        ("53 (TCP+UDP)", "could not read '(TCP+UDP)'"),
        ("53/TCP*", "could not read '/TCP*'"),
        # a bound read as a port with a name or a note: port 1024 alone
        ("above 1024", "could not read 'above 1024'"),
        ("below 1024", "could not read 'below 1024'"),
        ("less than 1024", "could not read 'less than 1024'"),
        ("up to 1024", "could not read 'up to 1024'"),
        ("between 1024", "could not read 'between 1024'"),  # "and 65535" reads as a range
        ("upwards", "could not read 'upwards'"),  # "1024 upwards" reads as 1024-65535
        # ICMP messages in a note were dropped: all types read as echo-request alone
        ("ICMP (all types)", "could not read '(all types)': ICMP types in a note"),
        ("ICMP echo request/reply", "could not read '/reply'"),
    ],
)
def test_what_a_port_cell_cannot_say_is_a_fault_not_a_guess(cell: str, fault: str) -> None:
    expression = read_ports(cell)
    messages = [f.message for f in expression.faults]
    assert any(m.startswith(fault) for m in messages), messages
    for found in expression.faults:
        assert 0 <= found.start < found.end <= len(cell)


@pytest.mark.parametrize(
    ("cell", "fault"),
    [
        ("TCP 80/443", "'80/443' could be ports 80 and 443, or one of them; write '80 and 443'"),
        ("80 / 443", "'80 / 443' could be ports 80 and 443, or one of them"),
        ("UDP 500/4500", "'500/4500' could be ports 500 and 4500, or one of them"),
        ("8020/ 9000", "'8020/ 9000' could be ports 8020 and 9000, or one of them"),
        ("80/443/tcp", "'80/443' could be ports 80 and 443"),
        (
            "80/443/8443",
            "'80/443/8443' could be ports 80, 443 and 8443, or one of them; write "
            "'80, 443 and 8443' or '80 or 443 or 8443'",
        ),
        ("9000/8000-8010", "'9000/8000-8010' could be ports 9000 and 8000-8010"),
        ("80+443", "'80+443': '+' between ports; write '80 and 443' for all of them"),
    ],
)
def test_ports_joined_by_a_slash_or_a_plus_are_a_fault_not_a_guess(cell: str, fault: str) -> None:
    """``TCP 80/443`` read as 80 or 443, so the draft opened 80 alone (a parameter allowing
    443), exit 0; a vendor writing it nearly always means both, yet Hortonworks' ``8020/ 9000``
    means either.  ``80+443`` read as 80-65535 and 443.  Neither reading is safe: the cell is
    reported and none of its joined ports read."""
    expression = read_ports(cell)
    (found,) = expression.faults
    assert found.message.startswith(fault), found.message
    assert expression.terms == ()
    # what the message asks for reads as it says
    both, either = read_ports("80 and 443"), read_ports("80 or 443")
    assert format_ports(both) == "80, 443" and format_ports(either) == "80 or 443"


@pytest.mark.parametrize(
    "cell",
    [
        "ICMPv6",  # was a TCP/UDP port named "ICMPv6" for each deployment to set
        "ICMPv6 echo",
        "ICMP6",
        "IPv6-ICMP",
        "IPv6 ICMP",
        "ICMPv4",
        "ICMP v6",  # was ICMP with the note "v6": ICMP over IPv4 and IPv6 alike
        "ICMP (IPv6)",
        "ICMP echo (IPv6)",
        "ping (IPv6)",
        "ICMP type 3 (IPv4)",
    ],
)
def test_icmp_of_one_ip_version_is_a_fault_never_icmp_of_both(cell: str) -> None:
    """A flow's icmp is ICMP over IPv4 and ICMPv6 over IPv6 alike: ``ICMPv6`` read as a port
    to set, ``ICMP v6`` as ICMP with a note, which the draft opened over IPv4 as well."""
    expression = read_ports(cell)
    (found,) = expression.faults
    assert found.message == (
        f"{cell!r}: ICMP of one IP version, which a flow cannot say: its icmp is ICMP over "
        "IPv4 and ICMPv6 over IPv6 alike, so it would allow both; model the row by hand"
    )
    assert expression.terms == ()
    # the rest of the cell is read; a TCP port's IP version stays a note
    assert format_ports(read_ports(f"443/tcp, {cell}")) == "443/tcp"
    assert format_ports(read_ports("TCP 542 (IPv6)")) == "542/tcp (IPv6)"


def test_a_fault_keeps_the_rest_of_the_cell() -> None:
    expression = read_ports("80, 90000, 443")
    assert format_ports(expression) == "80, 443"
    assert len(expression.faults) == 1
    # a footnote-like number is skipped where it stands: the words after it stay the port's
    # note, and do not name a parameter that a default after the comma would take over
    marked = read_ports("443 80 netcat, 80 by default")
    assert format_ports(marked) == "443 (netcat), configurable, default 80"
    assert [marked.text[f.start : f.end] for f in marked.faults] == ["80"]


# -- properties ---------------------------------------------------------------------------------

_WORDS = ["netcat", "node", "configuration", "XML-RPC", "API", "endpoint", "storage", "NFS",
          "provider", "MOUNTD_PORT", "database", "external", "services"]  # fmt: skip
_NOTES = ["initially", "secure", "legacy", "IPv4", "HTTPS", "non-privilege port"]
_CONDITIONS = ["6162 is unavailable", "Ceph RBD is used", "the node hosts staging space"]

ranges = st.tuples(st.integers(1, 65535), st.integers(0, 2000)).map(
    lambda p: PortRange(start=p[0], end=min(p[0] + p[1], 65535))
)
transports = st.lists(st.sampled_from([TCP, UDP]), unique=True, max_size=2).map(tuple)
notes = st.lists(st.sampled_from(_NOTES), max_size=2).map(tuple)
names = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4).map(" ".join)


@st.composite
def terms(draw: st.DrawFn) -> PortTerm:
    kind = draw(st.sampled_from(["port", "any", "dynamic", "parameter", "default", "icmp"]))
    protocols, remarks = draw(transports), draw(notes)
    if kind == "port":
        return PortTerm(protocols=protocols, ports=draw(ranges), notes=remarks)
    if kind == "any":
        return PortTerm(protocols=protocols, any_port=True, notes=remarks)
    if kind == "dynamic":
        return PortTerm(protocols=protocols, dynamic=True, notes=remarks)
    if kind == "parameter":
        default = draw(st.none() | ranges)
        parameter = PortParameter(name=draw(names), default=default)
        return PortTerm(protocols=protocols, parameter=parameter, notes=remarks)
    if kind == "default":
        parameter = PortParameter(name=None, default=draw(ranges))
        return PortTerm(protocols=protocols, parameter=parameter, notes=remarks)
    icmp_type = draw(st.none() | st.integers(0, 255))
    code = draw(st.none() | st.integers(0, 255)) if icmp_type is not None else None
    # ICMP of one IP version is a fault, never a reading: no such note on an ICMP term
    remarks = tuple(n for n in remarks if n != "IPv4")
    return PortTerm(protocols=(ICMP,), icmp_type=icmp_type, icmp_code=code, notes=remarks)


alternatives = st.builds(
    Alternative,
    terms=st.lists(terms(), min_size=1, max_size=4).map(tuple),
    condition=st.none() | st.sampled_from(_CONDITIONS),
)


@st.composite
def expressions(draw: st.DrawFn) -> PortExpression:
    if draw(st.integers(0, 20)) == 0:
        return PortExpression(none=True)
    chain = draw(st.lists(alternatives, min_size=1, max_size=3))
    if len(chain) > 1 and draw(st.booleans()):
        chain[-1] = Alternative(terms=chain[-1].terms, condition="otherwise")
    return PortExpression(alternatives=tuple(chain))


@settings(max_examples=400)
@given(expressions())
def test_a_printed_expression_reads_back_to_itself(expression: PortExpression) -> None:
    text = format_ports(expression)
    again = read_ports(text)
    assert again.faults == (), text
    assert again == expression, text


#: words with a meaning in the grammar (they are consumed, not kept)
_STRUCTURE = frozenset(
    {"or", "and", "if", "when", "unless", "only", "otherwise", "else", "to", "through", "thru",
     "until", "by", "default", "defaults", "is", "port", "ports", "range", "ranges",
     "configurable", "above", "higher", "up", "more", "any", "all", "dynamic", "ephemeral",
     "ping", "echo", "request", "reply", "type", "code", "message", "messages", "tcp", "udp",
     "icmp", "n", "na", "none"}
)  # fmt: skip
_PIECES = [
    "80", "443", "2500", "3300", "65535", "70000", "TCP", "UDP", "ICMP", "tcp", "/", ",", " and ",
    " or ", " - ", " to ", "(", ")", "[", "]", " by default ", "default", "if", ":", "any",
    "dynamic", "otherwise", "netcat", "range", "HTTPS", "SASL", "initially", "echo", "type",
    "\n", "configurable", "&", ";", "unless", "only if", "SNMP", "ping", "code", "3", "0",
    "1024", "above", "+", "port", "N/A", "--", "else", "when", "/tcp", "/udp", "UDP/53",
    "TCP/80", "(TCP and UDP)", "(initially)", "(2500 to 3300)", "MOUNTD_PORT", "XML-RPC",
    "16000-16999", "defaults to", "is",
]  # fmt: skip
cells = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map(" ".join)


@settings(max_examples=600)
@given(cells)
def test_no_word_of_a_cell_is_lost(cell: str) -> None:
    """Every word and number of a cell reaches the reading (port, name, note, condition) or
    lies inside a fault: nothing is dropped in silence."""
    expression = read_ports(cell)
    printed = format_ports(expression)
    reached = set(re.findall(r"[A-Za-z0-9_.-]+", printed.lower()))
    numbers = {int(n) for r in re.findall(r"\d+", printed) for n in (r,)}
    for term in expression.terms:
        if term.ports is not None:
            numbers.update({term.ports.start, term.ports.end})
    faulted = [(f.start, f.end) for f in expression.faults]
    for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_.-]*|\d+", cell):
        word = match.group().lower()
        if word in _STRUCTURE or any(s <= match.start() < e for s, e in faulted):
            continue
        if word.isdigit():
            assert int(word) in numbers or word in reached, (cell, printed, word)
        else:
            assert word in reached, (cell, printed, word)


@settings(max_examples=600)
@given(cells)
@example("netcat UDP/53 443 TCP")  # words around a faulted number name no port
@example("80 unless UDP/53 443 80")  # a condition around a faulted number leaves it out
@example("ICMP /tcp , 80")  # ICMP and TCP alone before a port: not both the port's
def test_the_canonical_form_of_any_reading_reads_back_to_it(cell: str) -> None:
    """Whatever a cell holds, what was read of it prints in a form that reads back the same,
    without a fault: the printed form is a faithful record of the reading."""
    expression = read_ports(cell)
    text = format_ports(expression)
    again = read_ports(text)
    assert again.faults == (), (cell, text)
    assert again == expression, (cell, text)


# -- protocols --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "transports", "applications"),
    [
        ("TCP", (TCP,), ()),
        ("TCP/UDP", (TCP, UDP), ()),
        ("TCP/HTTPS", (TCP,), ("HTTPS",)),
        ("TCP/iSCSI", (TCP,), ("iSCSI",)),
        ("SSH", (TCP,), ("SSH",)),
        ("SNMP", (UDP,), ("SNMP",)),
        ("ICMP", (ICMP,), ()),
        ("TCP or HTTPS", (TCP,), ("HTTPS",)),
        ("WMI (DCOM) TCP", (TCP,), ("WMI (DCOM)",)),
        ("(See usage for protocol) TCP", (TCP,), ()),
        ("HTTP/3", (UDP,), ("HTTP/3",)),  # QUIC: was HTTP (so TCP) and a stray "3"
        ("HTTP/1.1", (TCP,), ("HTTP/1.1",)),
    ],
)
def test_protocol_cells(
    cell: str, transports: tuple[Transport, ...], applications: tuple[str, ...]
) -> None:
    reading = read_protocols(cell)
    assert reading.faults == ()
    assert (reading.transports, reading.applications) == (transports, applications)


def test_a_transport_in_a_note_of_a_protocol_cell_is_a_fault() -> None:
    """``TCP (UDP optional)`` read as TCP with the note "UDP optional": UDP was dropped."""
    reading = read_protocols("TCP (UDP optional)")
    assert [f.message for f in reading.faults] == [
        "could not read '(UDP optional)': a transport in a note"
    ]
    assert read_protocols("(See usage for protocol) TCP").faults == ()


@pytest.mark.parametrize(
    ("cell", "transports", "applications", "fault"),
    [
        ("TCP/443", (TCP,), (), "could not read '443': a port in a protocol cell"),
        ("TCP 443", (TCP,), (), "could not read '443': a port in a protocol cell"),
        ("443/TCP", (TCP,), (), "could not read '443': a port in a protocol cell"),
        ("UDP 500", (UDP,), (), "could not read '500': a port in a protocol cell"),
        ("TCP (443)", (TCP,), (), "could not read '(443)': a port in a note"),
        # was one application "HTTPS/443", as HTTP/3 is one, naming no transport
        ("HTTPS/443", (TCP,), ("HTTPS",), "could not read '443': a port in a protocol cell"),
    ],
)
def test_a_port_in_a_protocol_cell_is_a_fault_never_dropped(
    cell: str, transports: tuple[Transport, ...], applications: tuple[str, ...], fault: str
) -> None:
    """``TCP/443`` in a protocol column read as TCP and an application named "443", and
    ``TCP (443)`` as TCP with a note: with any port in the port column, 443 was dropped in
    silence."""
    reading = read_protocols(cell)
    assert (reading.transports, reading.applications) == (transports, applications)
    (found,) = reading.faults
    assert found.message.startswith(fault), found.message
    # a number that refers to the document or is a version is no port
    assert read_protocols("TCP (see note 2)").faults == ()
    assert read_protocols("HTTP/1.1").faults == read_protocols("HTTP/2").faults == ()


@pytest.mark.parametrize(
    ("cell", "transports"),
    [
        ("ICMPv6", ()),  # was "names no transport protocol", as if ICMPv6 were an application
        ("IPv6-ICMP", ()),
        ("ICMP v6", ()),  # was ICMP and an application "v6"
        ("ICMP (IPv6)", ()),  # was ICMP with the note "IPv6"
        ("TCP/ICMPv6", (TCP,)),  # was TCP and an application "ICMPv6"
    ],
)
def test_a_protocol_cell_of_icmp_of_one_ip_version_is_a_fault(
    cell: str, transports: tuple[Transport, ...]
) -> None:
    reading = read_protocols(cell)
    assert (reading.transports, reading.applications) == (transports, ())
    (found,) = reading.faults
    assert found.message.startswith(f"{cell!r}: ICMP of one IP version, which a flow cannot")


def test_an_application_alone_names_its_transport_only_when_it_has_one_and_says_so() -> None:
    assert read_protocols("HTTPS").assumptions == ("HTTPS runs over tcp",)
    assert read_protocols("TCP or UDP").either
    for cell in ("IPC", "Custom HDFS protocol", "WMI-DCOMTCP", "Syslog", "RDP"):
        (fault,) = read_protocols(cell).faults
        assert fault.message == f"{cell!r} names no transport protocol (tcp, udp or icmp)"
    assert read_protocols("N/A") == read_protocols("")


# -- directions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "direction", "loopback"),
    [
        ("Inbound", Direction.INBOUND, False),
        ("Outbound", Direction.OUTBOUND, False),
        ("Inbound/Outbound", Direction.BOTH, False),
        ("Inbound and Outbound", Direction.BOTH, False),
        ("Inbound / Outbound", Direction.BOTH, False),
        ("Inbound (loopback)", Direction.INBOUND, True),
        ("Bidirectional", Direction.BOTH, False),
        ("<->", Direction.BOTH, False),
        ("-->", Direction.FORWARD, False),
        ("<-", Direction.BACKWARD, False),
    ],
)
def test_direction_cells(cell: str, direction: Direction, loopback: bool) -> None:
    reading = read_direction(cell)
    assert (reading.direction, reading.loopback, reading.faults) == (direction, loopback, ())


def test_a_two_way_column_answers_yes_or_no() -> None:
    assert read_direction("Y", yes_no=True).direction is Direction.BOTH
    assert read_direction("N", yes_no=True).direction is Direction.FORWARD
    (fault,) = read_direction("maybe", yes_no=True).faults
    assert fault.message == "cannot read the direction 'maybe'; expected Y or N"
    (fault,) = read_direction("Sideways").faults
    assert fault.message.startswith("cannot read the direction 'Sideways'; expected Inbound")


@pytest.mark.parametrize("cell", ["Inbound (and outbound)", "(Outbound)", "Outbound (or incoming)"])
def test_a_direction_in_parentheses_is_a_fault_not_a_note(cell: str) -> None:
    """``Inbound (and outbound)`` read as inbound with the note "and outbound"; ``(Outbound)``
    as no direction at all, so the row took its heading's."""
    reading = read_direction(cell)
    assert reading.direction is None
    (fault,) = reading.faults
    assert fault.message.endswith("the direction in parentheses would be dropped as a note")
    assert read_direction("Inbound (initially)").notes == ("initially",)


@given(
    st.sampled_from(list(Direction)),
    st.booleans(),
    st.lists(st.sampled_from(["initially", "TLS", "optional"]), max_size=2),
)
def test_a_printed_direction_reads_back_to_itself(
    direction: Direction, loopback: bool, remarks: list[str]
) -> None:
    reading = DirectionReading(direction=direction, loopback=loopback, notes=tuple(remarks))
    assert read_direction(format_direction(reading)) == reading


def test_section_titles_name_pairs_and_directions() -> None:
    arrow = split_arrow("Site server <--> Site server")
    assert arrow is not None and arrow.direction is Direction.BOTH
    older = split_arrow("Application Catalog Web Service Point -- > SQL Server")
    assert older is not None
    assert (older.left, older.direction, older.right) == (
        "Application Catalog Web Service Point",
        Direction.FORWARD,
        "SQL Server",
    )
    assert split_arrow("XML-RPC ports") is None
    assert title_direction("Incoming Ports") is Direction.INBOUND
    assert title_direction("Outgoing ports") is Direction.OUTBOUND
    assert title_direction("Ports Used for HA") is None


@pytest.mark.parametrize(
    ("title", "direction"),
    [
        ("Inbound and Outbound Ports", Direction.BOTH),  # was inbound: its first word
        ("Incoming/Outgoing ports", Direction.BOTH),
        ("Outbound ports (and inbound replies)", None),  # neither word alone says it
        ("Inbound ports to the manager", Direction.INBOUND),
    ],
)
def test_a_title_that_names_both_directions_is_not_read_by_its_first_word(
    title: str, direction: Direction | None
) -> None:
    assert title_direction(title) is direction


def test_a_cell_too_long_or_too_branching_is_refused_quickly() -> None:
    (fault,) = read_ports("80, " * 2000).faults
    assert fault.message == "a cell of 8000 characters is too long to be a port cell"
    branching = read_ports("443 (8443) " * 10)  # 2**10 choices by adjacency
    assert any("expands to over 64 choices" in f.message for f in branching.faults)
