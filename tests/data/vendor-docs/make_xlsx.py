"""Writes the corpus documents that vendors publish as tables with merged cells, or as PDF tables
whose cells hold several lines, as XLSX.

Run from anywhere: ``python tests/data/vendor-docs/make_xlsx.py``. The facts (names, purposes,
port expressions) are re-keyed from the vendor pages named in each folder's SOURCE.md; the
merges reproduce the vendor's row and column spans. Output is byte-for-byte reproducible (fixed
document dates and zip entry times), so a change shows as a diff of this script.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

HERE = Path(__file__).resolve().parent

#: (peer, [(purpose, protocol/port), ...]): the peer cell spans its rows
Group = tuple[str, Sequence[tuple[str, str]]]

FORTIMANAGER_INCOMING: Sequence[Group] = [
    ("FortiClient", [("FortiGuard Queries", "UDP/53, UDP/8888")]),
    (
        "FortiGate",
        [
            ("Management", "TCP/541"),
            ("IPv6", "TCP/542"),
            ("Log & Report", "TCP or UDP/514"),
            ("Secure SNMP", "UDP/161, UDP/162"),
            ("FortiGuard Queries", "TCP/8890, UDP/53"),
        ],
    ),
    ("FortiGuard", [("AV/IPS", "UDP/9443")]),
    ("FortiManager", [("FortiClient Manager", "TCP/6028")]),
    (
        "Others",
        [
            ("SSH CLI Management", "TCP/22"),
            ("Telnet CLI Management", "TCP/23"),
            ("SNMP Traps", "UDP/162"),
            ("Web Admin", "TCP/80, TCP/443"),
        ],
    ),
]

FORTIMANAGER_OUTGOING: Sequence[Group] = [
    ("FortiAnalyzer", [("Syslog & OFTP", "TCP/514, UDP/514"), ("Registration", "TCP/541")]),
    (
        "FortiGate",
        [
            ("AV/IPS Push", "UDP/9443"),
            ("SSH CLI Management", "TCP/22"),
            ("Management", "TCP/541"),
            ("SNMP Poll", "UDP/161, UDP/162"),
            ("FortiGuard Queries", "TCP/443"),
        ],
    ),
    (
        "FortiGuard",
        [
            (
                "AV/IPS Updates, URL/AS Update, Firmware, SMS, FTM, Licensing, "
                "Policy Override Authentication",
                "TCP/443",
            ),
            ("Registration", "TCP/80"),
        ],
    ),
    ("FortiManager", [("FortiClient Manager", "TCP/6028")]),
    (
        "3rd-Party Servers",
        [
            ("DNS", "UDP/53"),
            ("NTP", "UDP/123"),
            ("SNMP Traps", "UDP/162"),
            ("Proxied HTTPS Traffic", "TCP/443"),
            ("RADIUS", "UDP/1812"),
        ],
    ),
]

FORTIAUTHENTICATOR_INCOMING: Sequence[Group] = [
    (
        "FortiAuthenticator",
        [
            ("(HA) HA heartbeat", "UDP/720"),
            ("(LB secondary) LB secondary sync", "UDP/721, UDP/1194"),
            ("FSSO tiered architecture", "TCP/8003"),
        ],
    ),
    (
        "FortiGate",
        [
            ("LDAP, PKI Authentication", "TCP or UDP/389"),
            ("RADIUS", "UDP/1812"),
            ("RADIUS Accounting", "UDP/1813, UDP/1646"),
            ("SCEP", "TCP/80, TCP/443"),
            ("CRL download", "TCP/80"),
            ("External captive portal", "TCP/443"),
            ("TACACS+", "TCP/49"),
        ],
    ),
    (
        "FortiToken Mobile",
        [("Push approve/deny", "TCP/443"), ("FTM device transfer", "TCP/443")],
    ),
    (
        "Others",
        [
            ("SSH CLI", "TCP/22"),
            ("Telnet", "TCP/23"),
            ("HTTP & SCEP", "TCP/80"),
            ("SNMP Poll", "UDP/161"),
            ("Web Admin", "TCP/80, TCP/443"),
            ("LDAP", "TCP/389, TCP/3268"),
            ("LDAPS", "TCP/636, TCP/3269"),
            ("RADIUS", "UDP/1812, UDP/1813"),
            ("OCSP", "TCP/2560"),
            ("Syslog", "UDP/514"),
            ("SAML", "TCP/443"),
            ("OAuth", "TCP/443"),
            ("TACACS+", "TCP/49"),
            ("RADSEC", "TCP/2083"),
        ],
    ),
    (
        "3rd-Party Servers",
        [
            ("FortiAuthenticator Windows/OWA Agent", "TCP/443"),
            ("FSSO DC Agent", "UDP/8002, TCP/8002"),
            ("FSSO TS Agent", "UDP/8002, TCP/8002"),
        ],
    ),
]

#: (port range, direction, purpose and description): a line break where the vendor's cell has one
MITEL_MBG_FIREWALL: Sequence[tuple[str, str, str]] = [
    (
        "TCP 22\n(SSH)",
        "Server -> Internet",
        "AMC Communications. Let outbound packets (and their replies) on TCP port 22 pass between "
        "the MBG server and the Internet, for server registration, software and licence key "
        "downloads, alerts and reporting.",
    ),
    (
        "TCP 22\n(SSH)",
        "Internet -> Server",
        "Remote SSH access (Optional). Needed when the administrator manages the MBG server from "
        "the command line over the Internet.",
    ),
    (
        "TCP 22\n(SSH)",
        "LAN -> Server",
        "Remote SSH access (Optional). Needed when the administrator manages the MBG server from "
        "the command line from the LAN.",
    ),
    (
        "UDP 53\n(DNS)",
        "Server -> Internet",
        "DNS. The server needs DNS to find the address of the Mitel AMC and for SIP to work; it "
        "can instead forward every DNS request to another DNS server (see the MSL Installation "
        "and Administration Guide).",
    ),
    (
        "TCP 443\n(HTTPS)",
        "Internet -> Server",
        "Remote Server Management (Optional). Let packets on TCP port 443 pass both ways between "
        "the MBG server and the Internet for remote management of the server. HTTPS access to "
        "the manager on the external interface must also be turned on in the server manager, "
        "and the firewall should let only the chosen management hosts reach it.",
    ),
    (
        "TCP 6800,\n6801 and\n6802",
        "Server -> LAN\nServer -> ICP(s)",
        "MiNet Call Control. Let packets on TCP 6801 (MiNet-SSL) and 6802 (MiNet-Secure V1) "
        "pass both ways between the server and the Internet, and on TCP 6800 (plain MiNet), 6801 "
        "and 6802 between the server and the LAN and between the server and the ICP(s). Without "
        "IP sets on the LAN the LAN rule can be left out, but the ICP(s) must reach the server's "
        "public address.",
    ),
    (
        "TCP 6801\nand 6802",
        "Internet -> Server",
        "MiNet Call Control. As above. Port 6800 is not encrypted and should not be used on the "
        "Internet; port 6802 is not needed in an Enhanced Security deployment.",
    ),
    (
        "TCP 3998,\n6881",
        "Internet -> Server",
        "SAC Connection Support. Let TCP in from the Internet to the MBG server on ports 3998 and "
        "6880, for applications and web browsing on the 5235, 5330, 5340 and Navigator sets. A "
        "LAN rule that follows completes it.",
    ),
    (
        "TCP 3998,\n3999 and\n6880",
        "Server -> ICP(s)",
        "SAC Connection Support. Let TCP on port 3999 pass both ways to and from the ICP(s), for "
        "the applications on the 5235, 5330, 5340 and Navigator sets. Note: 3998 and 6880 need "
        "a further MBG server on the LAN, to which the Internet-facing server is daisy-chained.",
    ),
    (
        "TCP 80",
        "Server -> LAN\nServer -> Internet",
        "SAC Connection Support (Optional). Let TCP port 80 out from the server to the Internet "
        "and to the LAN, for web browsing on the 5235, 5330, 5340 and Navigator sets; to the "
        "Internet it is also needed to browse the Internet from the set.",
    ),
    ("TCP 6806", "Internet -> Server", "IP Console Support (Optional)."),
    ("TCP 1606", "Server -> LAN", "IP Console Support (Optional)."),
    ("TCP 6807", "Internet -> Server", "IP Console Support (Optional)."),
    ("TCP 443", "Server -> LAN", "IP Console Support (Optional)."),
]

_BOLD = Font(bold=True)
_TOP = Alignment(vertical="top", wrap_text=True)


def _groups(sheet: Worksheet, first_row: int, groups: Sequence[Group]) -> int:
    """Write the groups from ``first_row``; the peer cell is merged over its rows. Returns the
    next free row."""
    row = first_row
    for peer, lines in groups:
        sheet.cell(row=row, column=1, value=peer).alignment = _TOP
        if len(lines) > 1:
            sheet.merge_cells(
                start_row=row, end_row=row + len(lines) - 1, start_column=1, end_column=1
            )
        for purpose, ports in lines:
            sheet.cell(row=row, column=2, value=purpose)
            sheet.cell(row=row, column=3, value=ports)
            row += 1
    return row


def _two_row_header(sheet: Worksheet, row: int, title: str) -> None:
    """The vendor's header: the direction title spans two rows over the peer column, then the
    column names under an empty spanned cell."""
    sheet.cell(row=row, column=1, value=title).font = _BOLD
    sheet.merge_cells(start_row=row, end_row=row + 1, start_column=1, end_column=1)
    sheet.merge_cells(start_row=row, end_row=row, start_column=2, end_column=3)
    sheet.cell(row=row + 1, column=2, value="Purpose").font = _BOLD
    sheet.cell(row=row + 1, column=3, value="Protocol/Port").font = _BOLD


def fortimanager(book: Workbook) -> None:
    sheet = book.create_sheet("FortiManager Open Ports")
    sheet.cell(row=1, column=1, value="FortiManager Open Ports").font = Font(bold=True, size=14)
    sheet.merge_cells("A1:C1")
    _two_row_header(sheet, 3, "Incoming Ports")
    row = _groups(sheet, 5, FORTIMANAGER_INCOMING) + 1
    _two_row_header(sheet, row, "Outgoing Ports")
    row = _groups(sheet, row + 2, FORTIMANAGER_OUTGOING) + 1
    sheet.cell(
        row=row,
        column=1,
        value="Note: with a proxy configured, FortiManager reaches the FortiGuard Distribution "
        "Network (FDN) through it for its updates; the vendor lists the FDN host names there.",
    )
    sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=3)
    for column, width in zip("ABC", (20, 60, 22), strict=True):
        sheet.column_dimensions[column].width = width


def fortiauthenticator(book: Workbook) -> None:
    sheet = book.create_sheet("Incoming Ports")
    sheet.cell(row=1, column=1, value="Incoming Ports").font = Font(bold=True, size=14)
    sheet.merge_cells("A1:C1")
    sheet.cell(
        row=2,
        column=1,
        value="The incoming ports of FortiAuthenticator, and the products they serve.",
    )
    sheet.merge_cells("A2:C2")
    for column, heading in enumerate(("Product", "Purpose", "Protocol and Port"), start=1):
        sheet.cell(row=3, column=column, value=heading).font = _BOLD
    _groups(sheet, 4, FORTIAUTHENTICATOR_INCOMING)
    for column, width in zip("ABC", (20, 40, 22), strict=True):
        sheet.column_dimensions[column].width = width


#: Microsoft Defender for IoT's networking requirements: (title, note, columns, rows) per table
DEFENDER_IOT_TABLES: Sequence[tuple[str, str | None, Sequence[str], Sequence[Sequence[str]]]] = [
    (
        "User access to the sensor",
        None,
        ("Protocol", "Transport", "In/Out", "Port", "Used", "Purpose", "Source", "Destination"),
        [
            ("SSH", "TCP", "In/Out", "22", "CLI", "To reach the CLI", "Client", "Sensor"),
            (
                "HTTPS",
                "TCP",
                "In/Out",
                "443",
                "To reach the sensor",
                "Web console access",
                "Client",
                "Sensor",
            ),
        ],
    ),
    (
        "Sensor access to Azure portal",
        None,
        ("Protocol", "Transport", "In/Out", "Port", "Purpose", "Source", "Destination"),
        [
            (
                "HTTPS",
                "TCP",
                "Out",
                "443",
                "Access to Azure",
                "Sensor",
                "OT network sensors connect to Azure for alerts, device data and health "
                "messages, threat intelligence packages and more; the Azure services include IoT "
                "Hub, Blob Storage, Event Hubs and the Microsoft Download Center.\n\n"
                "The list is downloaded from the Sites and sensors page of the Azure portal: "
                "select an OT sensor of version 22.x or later, or a site with one or more "
                "supported sensors, then More options > Download endpoint details.",
            ),
        ],
    ),
    (
        "Sensor access to the OT sensor",
        None,
        ("Protocol", "Transport", "In/Out", "Port", "Used", "Purpose", "Source", "Destination"),
        [
            (
                "NTP",
                "UDP",
                "In/Out",
                "123",
                "Time Sync",
                "Connects NTP to the OT sensor",
                "Sensor",
                "OT sensor",
            ),
            (
                "TLS/SSL",
                "TCP",
                "In/Out",
                "443",
                "Gives the sensor access to the OT sensor",
                "The connection between the sensor and the OT sensor",
                "Sensor",
                "OT sensor",
            ),
        ],
    ),
    (
        "Other firewall rules for external services (optional)",
        "These ports are opened for extra services of Defender for IoT.",
        ("Protocol", "Transport", "In/Out", "Port", "Used", "Purpose", "Source", "Destination"),
        [
            (
                "SMTP",
                "TCP",
                "Out",
                "25",
                "Email",
                "Reaches the customer's mail server, to send emails for alerts and events",
                "Sensor and OT sensor",
                "Email server",
            ),
            (
                "DNS",
                "TCP/UDP",
                "In/Out",
                "53",
                "DNS",
                "The port of the DNS server",
                "OT sensor and Sensor",
                "DNS server",
            ),
            (
                "HTTP",
                "TCP",
                "Out",
                "80",
                "Downloads the CRL to validate certificates when they are uploaded.",
                "Access to the CRL server",
                "Sensor and OT sensor",
                "CRL server",
            ),
            (
                "WMI",
                "TCP/UDP",
                "Out",
                "135, 1025-65535",
                "Monitoring",
                "Windows Endpoint Monitoring",
                "Sensor",
                "Relevant network element",
            ),
            (
                "SNMP",
                "UDP",
                "Out",
                "161",
                "Monitoring",
                "Monitors the health of the sensor",
                "OT sensor and Sensor",
                "SNMP server",
            ),
            (
                "LDAP",
                "TCP",
                "In/Out",
                "389",
                "Active Directory",
                "Active Directory manages the users who may sign in to the system",
                "OT sensor and Sensor",
                "LDAP server",
            ),
            (
                "Proxy",
                "TCP/UDP",
                "In/Out",
                "443",
                "Proxy",
                "Connects the sensor to a proxy server",
                "OT sensor and Sensor",
                "Proxy server",
            ),
            (
                "Syslog",
                "UDP",
                "Out",
                "514",
                "LEEF",
                "The logs the OT sensor sends to the Syslog server",
                "OT sensor and Sensor",
                "Syslog server",
            ),
            (
                "LDAPS",
                "TCP",
                "In/Out",
                "636",
                "Active Directory",
                "Active Directory manages the users who may sign in to the system",
                "OT sensor and Sensor",
                "LDAPS server",
            ),
            (
                "Tunneling",
                "TCP",
                "In",
                "9000\n\nIn addition to port 443\n\nAllows access from the sensor, or end "
                "user, to the OT sensor\n\nPort 22 from the sensor to the OT sensor",
                "Monitoring",
                "Tunneling",
                "Endpoint, Sensor",
                "OT sensor",
            ),
        ],
    ),
]


def defender_iot(book: Workbook) -> None:
    sheet = book.create_sheet("Networking requirements")
    sheet.cell(row=1, column=1, value="Networking requirements").font = Font(bold=True, size=14)
    sheet.merge_cells("A1:H1")
    intro = (
        "The interfaces below must be reachable on Microsoft Defender for IoT network sensors "
        "and deployment workstations for the services to work.",
        "The organisation's security policy must allow access to the interfaces in these tables.",
    )
    for row, text in enumerate(intro, start=2):
        sheet.cell(row=row, column=1, value=text)
        sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=8)
    row = len(intro) + 3
    for title, note, columns, lines in DEFENDER_IOT_TABLES:
        sheet.cell(row=row, column=1, value=title).font = _BOLD
        sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=8)
        row += 1
        if note is not None:
            sheet.cell(row=row, column=1, value=note)
            sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=8)
            row += 1
        for column, heading in enumerate(columns, start=1):
            sheet.cell(row=row, column=column, value=heading).font = _BOLD
        row += 1
        for line in lines:
            for column, text in enumerate(line, start=1):
                sheet.cell(row=row, column=column, value=text).alignment = _TOP
            row += 1
        row += 1
    for column, width in zip("ABCDEFGH", (12, 10, 8, 24, 24, 40, 22, 40), strict=True):
        sheet.column_dimensions[column].width = width


def mitel_mbg(book: Workbook) -> None:
    sheet = book.create_sheet("Firewall Configuration")
    sheet.cell(
        row=1, column=1, value="15 Appendix A: Firewall Configuration Reference"
    ).font = Font(bold=True, size=14)
    sheet.merge_cells("A1:C1")
    sheet.cell(
        row=2,
        column=1,
        value="The rules a customer's firewall needs for the Mitel Border Gateway in a DMZ "
        "deployment (with the MBG server as the gateway they are set up automatically). Server "
        "is the MBG server. The arrow in the Direction column points the way new connections "
        "may be opened; the firewall is assumed to let the replies of an established "
        "connection through.",
    ).alignment = _TOP
    sheet.merge_cells("A2:C2")
    for column, heading in enumerate(
        ("Port Range", "Direction", "Purpose and Description"), start=1
    ):
        sheet.cell(row=3, column=column, value=heading).font = _BOLD
    for row, cells in enumerate(MITEL_MBG_FIREWALL, start=4):
        for column, text in enumerate(cells, start=1):
            sheet.cell(row=row, column=column, value=text).alignment = _TOP
    for column, width in zip("ABC", (14, 20, 70), strict=True):
        sheet.column_dimensions[column].width = width


def save(book: Workbook, path: Path) -> None:
    """Save with fixed dates and zip entry times: the same script gives the same bytes."""
    fixed = datetime(2000, 1, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.properties.creator = "portplan corpus (re-keyed; see SOURCE.md)"
    raw = io.BytesIO()
    # ExcelWriter rather than Workbook.save(), which stamps `modified` with the current time
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    source = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))


def main() -> None:
    for folder, name, build in (
        ("fortinet-fortimanager-5.4", "open-ports.xlsx", fortimanager),
        ("fortinet-fortiauthenticator-6.5.0", "incoming-ports.xlsx", fortiauthenticator),
        ("microsoft-defender-for-iot-networking", "networking-requirements.xlsx", defender_iot),
        ("mitel-mbg-8.0-firewall-reference", "firewall-configuration.xlsx", mitel_mbg),
    ):
        book = Workbook()
        book.remove(book.worksheets[0])
        build(book)
        save(book, HERE / folder / name)
        print(f"wrote {folder}/{name}")


if __name__ == "__main__":
    main()
