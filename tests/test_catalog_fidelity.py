"""The bundled catalog holds every row of the two vendor seed documents faithfully.

The expected rows below are written by hand from the seed text (shared/seeds/), not copied from
the catalog YAML, so that they are an independent check of the model.  Only the identifiers
(component, parameter and feature names) are the catalog's own; every port, direction,
configurability statement, condition and text comes from the vendor's document.  Non-breaking
spaces of the seed are written as ordinary spaces.

Interpretations of ambiguous seed rows (accepted because the catalog header or notes explain them
and they keep the vendor's words):

* Shopping "Inbound/Outbound" LDAPS rows are one flow from the table's component to Active
  Directory, with ``traffic: inbound-outbound``.
* Shopping rows that speak of a *remote* database are conditional on that database being remote
  (``remote_database``, ``remote_site_database``).
* Shopping client "SMTP and POP3" names two services and no port: two flows (part 1 and 2) on the
  SMTP and POP3 ports of the central-service table (TCP 25 and TCP 110).
* A "Note" box under a row is kept in ``flow.notes``, as are the extra paragraphs of a cell (the
  portal URL, the loopback-URL lookup); ``purpose`` is the row's main text.
* Smart ID: "External Listening Port" is ``published.ports``, "Internal Listening Port" is
  ``ports``, "-" is an absent value.  The RabbitMQ and SCIM rows lack their "To subcomponent"
  cell, so their remaining cells shift one column left (external 5672/15672 for RabbitMQ,
  internal 90 for SCIM).  Their trailing "can (NOT) be changed" sentence is the configurability
  statement: purpose and configurability note together give the vendor's comment.
* Smart ID row 14 (internal or external database) is two flows: the internal Postgres database on
  TCP 5432 unless an external database is used, and the external database on a port the
  document leaves to the deployment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from portplan.load.catalog import load_catalog_product
from portplan.model import Condition, Flow, ParamRef, PortRange, Product
from portplan.model.conditions import And

#: Stands for a port the document leaves to the deployment ("TCP [port for external database]").
DEPLOYMENT_PORT = "deployment-chosen port"

PortValue = int | str


def ports(*items: int | tuple[int, int]) -> frozenset[PortValue]:
    """Expected ports: numbers and inclusive ``(low, high)`` ranges, as a set of port numbers."""
    result: set[PortValue] = set()
    for item in items:
        if isinstance(item, tuple):
            result.update(range(item[0], item[1] + 1))
        else:
            result.add(item)
    return frozenset(result)


def resolve(
    product: Product, items: tuple[PortRange | ParamRef, ...] | None
) -> frozenset[PortValue]:
    """Ports of a flow as a set of numbers; a parameter stands for its default."""
    result: set[PortValue] = set()
    for item in items or ():
        if isinstance(item, ParamRef):
            parameter = product.parameters[item.name]
            if parameter.default is None:
                result.add(DEPLOYMENT_PORT)
            for default in parameter.default or ():
                result.update(range(default.start, default.end + 1))
        else:
            result.update(range(item.start, item.end + 1))
    return frozenset(result)


def effective_condition(product: Product, flow: Flow) -> str | None:
    """The flow's condition combined with its section's (a whole conditional table)."""
    section = product.section(flow.section) if flow.section else None
    parts: list[Condition] = [
        c for c in (section.condition if section else None, flow.condition) if c is not None
    ]
    if not parts:
        return None
    return str(parts[0] if len(parts) == 1 else And(tuple(parts)))


def parameter_kinds(product: Product, flow: Flow) -> set[str]:
    return {str(product.parameters[name].configurable) for name in flow.parameter_names()}


# --------------------------------------------------------------------------------------------
# Shopping 6.1: five tables, each seen from one component.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShoppingRow:
    section: str
    row: int
    source: tuple[str, ...]
    destination: str
    ports: frozenset[PortValue]
    service: str | None
    traffic: str
    configurable: str
    configurable_note: str
    purpose: str
    condition: str | None = None
    loopback: bool = False
    dynamic: str | None = None
    notes: tuple[str, ...] = ()
    part: int | None = None

    @property
    def case_id(self) -> str:
        suffix = f"-part{self.part}" if self.part is not None else ""
        return f"{self.section}-row{self.row}{suffix}"


LDAP_PURPOSE = (
    "Communication with Active Directory to verify user, computer and AD groups and resolution of "
    "each user's manager and email address."
)
DC_PORTS_NOTE = (
    "Ensure that all secured (636 and 3269) and unsecured (389 and 3268) ports on the domain "
    "controller are not blocked. If, for any particular reason, they are restricted, then all the "
    "servers hosting Shopping components must be added to the exception list so that Shopping can "
    "execute the specific LDAP calls."
)
CLIENT_MAIL_PURPOSE = (
    "These ports are required in a lab environment only if Exchange is not available, and an "
    "alternative email application is used to send and receive emails."
)

SHOPPING_ROWS: tuple[ShoppingRow, ...] = (
    # --- Ports used by the Shopping Website ------------------------------------------------
    ShoppingRow(
        section="website",
        row=1,
        source=("client", "receiver"),
        destination="website",
        ports=ports(443),
        service="HTTPS",
        traffic="inbound",
        configurable="yes",
        configurable_note="Yes, during installation when specifying the IIS port used by the "
        "Website.",
        purpose="For browsers on clients and Shopping receivers to communicate with the Shopping "
        "Website.",
    ),
    ShoppingRow(
        section="website",
        row=2,
        source=("website",),
        destination="shopping_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, during installation when specifying the SQL Server instance used "
        "by the Shopping database.",
        purpose="Communication with a remote Shopping database.",
        condition="remote_database",
    ),
    ShoppingRow(
        section="website",
        row=3,
        source=("website",),
        destination="active_directory",
        ports=ports(389),
        service="LDAP",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose=LDAP_PURPOSE,
        notes=(DC_PORTS_NOTE,),
    ),
    ShoppingRow(
        section="website",
        row=4,
        source=("website",),
        destination="active_directory",
        ports=ports(636, 3269),
        service="LDAPS",
        traffic="inbound-outbound",
        configurable="no",
        configurable_note="No",
        purpose="Communication with Active Directory.",
        notes=(DC_PORTS_NOTE,),
    ),
    # --- Ports used by the Shopping Central Service ----------------------------------------
    ShoppingRow(
        section="central-service",
        row=1,
        source=("central_service",),
        destination="active_directory",
        ports=ports(389),
        service="LDAP",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose=LDAP_PURPOSE,
    ),
    ShoppingRow(
        section="central-service",
        row=2,
        source=("central_service",),
        destination="shopping_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, during installation when specifying the SQL Server instance used "
        "by the Shopping database.",
        purpose="Communication with a remote Shopping database.",
        condition="remote_database",
    ),
    ShoppingRow(
        section="central-service",
        row=3,
        source=("central_service",),
        destination="cm_site_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="indirect",
        configurable_note="Yes, indirectly. The port is determined by querying the SMS Provider "
        "on the Configuration Manager site server",
        purpose="Communication with the remote Configuration Manager Site database if the "
        "Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.",
        condition="not rbac",
    ),
    ShoppingRow(
        section="central-service",
        row=4,
        source=("central_service",),
        destination="sms_provider",
        ports=ports(135, 445),
        service="WMI (DCOM)",
        dynamic="windows-rpc",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose="Remote access to the SMS Provider role on the Configuration Manager site server. "
        "TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC "
        "ports. The dynamic ranges depend on the Windows OS version.",
    ),
    ShoppingRow(
        section="central-service",
        row=5,
        source=("central_service",),
        destination="smtp_gateway",
        ports=ports(25),
        service="SMTP",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, during installation when specifying the SMTP server.",
        purpose="Communication with a remote SMTP gateway to send emails.",
    ),
    ShoppingRow(
        section="central-service",
        row=6,
        source=("central_service",),
        destination="pop3_server",
        ports=ports(110),
        service="POP3",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, during installation when specifying the SMTP server.",
        purpose="This port is required in a lab environment only if Exchange is not available "
        "and a remote POP3 server is used instead.",
        condition="lab and not exchange",
    ),
    ShoppingRow(
        section="central-service",
        row=7,
        source=("central_service",),
        destination="appclarity",
        ports=ports(8335),
        service=None,
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose="Communication with a remote AppClarity server. This is only required only if "
        "Shopping uses AppClarity integration.",
        condition="appclarity",
    ),
    ShoppingRow(
        section="central-service",
        row=8,
        source=("central_service",),
        destination="active_directory",
        ports=ports(636, 3269),
        service="LDAPS",
        traffic="inbound-outbound",
        configurable="no",
        configurable_note="No",
        purpose="Communication with Active Directory",
    ),
    # --- Ports used by the Shopping Admin Console (whole table: remote console only) -------
    ShoppingRow(
        section="admin-console",
        row=1,
        source=("admin_console",),
        destination="shopping_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, when specifying the SQL Server instance used by the Shopping "
        "database.",
        purpose="Communication with a remote Shopping database.",
        condition="remote_admin_console and remote_database",
    ),
    ShoppingRow(
        section="admin-console",
        row=2,
        source=("admin_console",),
        destination="cm_site_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="indirect",
        configurable_note="Yes, indirectly. The port is determined by querying the SMS Provider "
        "on the Configuration Manager Site server",
        purpose="Communication with the remote Configuration Manager site database if the "
        "Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.",
        condition="remote_admin_console and not rbac",
    ),
    ShoppingRow(
        section="admin-console",
        row=3,
        source=("admin_console",),
        destination="active_directory",
        ports=ports(389),
        service="LDAP",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose=LDAP_PURPOSE,
        condition="remote_admin_console",
    ),
    ShoppingRow(
        section="admin-console",
        row=4,
        source=("admin_console",),
        destination="sms_provider",
        ports=ports(135, 445),
        service="WMI (DCOM)",
        dynamic="windows-rpc",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose="Required for remote access to the SMS Provider role on Configuration Manager "
        "site servers. TCP 135 and 445 are used to initiate communications and negotiate a "
        "dynamic RPC port. The dynamic range depends on the Windows OS version.",
        condition="remote_admin_console",
    ),
    ShoppingRow(
        section="admin-console",
        row=5,
        source=("admin_console",),
        destination="active_directory",
        ports=ports(636, 3269),
        service="LDAPS",
        traffic="inbound-outbound",
        configurable="no",
        configurable_note="No",
        purpose="Communication with Active Directory",
        condition="remote_admin_console",
    ),
    # --- Ports used by the Shopping receiver -----------------------------------------------
    ShoppingRow(
        section="receiver",
        row=1,
        source=("receiver",),
        destination="website",
        ports=ports(443),
        service="HTTPS",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes, during the Shopping receiver installation when you specify the "
        "location of the Shopping central server.",
        purpose="Communication with the Shopping central Website.",
    ),
    ShoppingRow(
        section="receiver",
        row=2,
        source=("receiver",),
        destination="sms_provider",
        ports=ports(135, 445),
        service="WMI (DCOM)",
        dynamic="windows-rpc",
        traffic="outbound",
        configurable="no",
        configurable_note="No.",
        purpose="Required for communication with the Configuration Manager SMS Provider.",
        notes=(
            "Shopping Receiver service expects the Configuration Manager SMS Provider role exists "
            "on the local server, and communicates with it using WMI (DCOM).",
            "TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC "
            "port. The dynamic range depends on the Windows OS version.",
        ),
    ),
    ShoppingRow(
        section="receiver",
        row=3,
        source=("receiver",),
        destination="cm_site_database",
        ports=ports(1433),
        service="ADO.NET",
        traffic="outbound",
        configurable="indirect",
        configurable_note="Yes, indirectly. The port is determined by querying the SMS Provider "
        "on the local server.",
        purpose="Communication with the Configuration Manager site database, if remote.",
        condition="remote_site_database",
        notes=(
            "In addition, if the Configuration Manager site database is on the default instance "
            "of SQL Server and using a custom port, you must configure a SQL alias using both the "
            "32-bit and 64-bit versions of cliconfg.exe described in our KB. This is not "
            "applicable if the database is on a named instance.",
        ),
    ),
    # --- Ports used by Shopping clients ----------------------------------------------------
    ShoppingRow(
        section="clients",
        row=1,
        source=("client",),
        destination="website",
        ports=ports(443),
        service="HTTPS",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes. If a port of other than port 80 is used, it must be specified on "
        "the URL used by users when connecting to the Shopping Website.",
        purpose="For browsers on clients to communicate with the Shopping central website "
        "(Shopping Portal).",
        notes=("http://<ShoppingCentralServer>/shopping",),
    ),
    ShoppingRow(
        section="clients",
        row=2,
        part=1,
        source=("client",),
        destination="smtp_gateway",
        ports=ports(25),
        service="SMTP",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes.",
        purpose=CLIENT_MAIL_PURPOSE,
        condition="lab and not exchange",
    ),
    ShoppingRow(
        section="clients",
        row=2,
        part=2,
        source=("client",),
        destination="pop3_server",
        ports=ports(110),
        service="POP3",
        traffic="outbound",
        configurable="yes",
        configurable_note="Yes.",
        purpose=CLIENT_MAIL_PURPOSE,
        condition="lab and not exchange",
    ),
    ShoppingRow(
        section="clients",
        row=3,
        source=("client",),
        destination="active_directory",
        ports=ports(389),
        service="LDAP",
        traffic="outbound",
        configurable="no",
        configurable_note="No",
        purpose=LDAP_PURPOSE,
    ),
    ShoppingRow(
        section="clients",
        row=4,
        source=("client",),
        destination="active_directory",
        ports=ports(636, 3269),
        service="LDAPS",
        traffic="inbound-outbound",
        configurable="no",
        configurable_note="No",
        purpose="Communication with Active Directory.",
    ),
    ShoppingRow(
        section="clients",
        row=5,
        source=("client",),
        destination="agent",
        ports=ports(8000),
        service="HTTP",
        traffic="inbound",
        loopback=True,
        configurable="yes",
        configurable_note="Yes. You specify the port in the 1E Tachyon Agent loopback URL "
        "setting in the Shopping Console.",
        purpose="For browsers on clients to communicate with the Shopping agent to retrieve "
        "machine information.",
        notes=(
            "On startup, the Shopping client queries the following URL to get the loopback URL. "
            "http://<ShoppingCentralServer>/shopping/WindowsServicingAssistant/GetTachyonAgentUrl",
        ),
    ),
)

#: Section id -> (title, text before the table, condition of the whole table, number of rows).
SHOPPING_SECTIONS: dict[str, tuple[str, str | None, str | None, int]] = {
    "website": ("Ports used by the Shopping Website", None, None, 4),
    "central-service": ("Ports used by the Shopping Central Service", None, None, 8),
    "admin-console": (
        "Ports used by the Shopping Admin Console",
        "Required if the Shopping Admin console is installed on a client remote from the Shopping "
        "central server.",
        "remote_admin_console",
        5,
    ),
    "receiver": (
        "Ports used by the Shopping receiver",
        "The Shopping Receiver is expected to be installed on the Configuration Manager Site "
        "server that has a local SMS Provider role.",
        None,
        3,
    ),
    "clients": (
        "Ports used by Shopping clients",
        "The following table is for the Shopping client. It does not include ports required for "
        "other 1E products (for example Nomad, WakeUp and Tachyon) nor does it list ports "
        "required by Microsoft's Configuration Manager.",
        None,
        5,
    ),
}


@pytest.fixture(scope="module")
def shopping() -> Product:
    return load_catalog_product("shopping-6.1")


def _shopping_flows(product: Product, section: str, row: int) -> list[Flow]:
    return [f for f in product.flows if f.section == section and f.row == row]


@pytest.mark.parametrize("expected", SHOPPING_ROWS, ids=lambda r: r.case_id)
def test_shopping_row(shopping: Product, expected: ShoppingRow) -> None:
    flows = _shopping_flows(shopping, expected.section, expected.row)
    expected_parts = {
        r.part for r in SHOPPING_ROWS if (r.section, r.row) == (expected.section, expected.row)
    }
    assert {f.part for f in flows} == expected_parts, "flows of the vendor row"
    [flow] = [f for f in flows if f.part == expected.part]

    assert flow.source == expected.source
    assert flow.destination == (expected.destination,)
    assert str(flow.protocol) == "tcp"
    assert resolve(shopping, flow.ports) == expected.ports
    assert flow.published is None
    assert flow.service == expected.service
    assert flow.dynamic == expected.dynamic
    assert flow.traffic is not None
    assert str(flow.traffic) == expected.traffic
    assert flow.loopback is expected.loopback
    assert str(flow.configurable.kind) == expected.configurable
    assert flow.configurable.note == expected.configurable_note
    assert effective_condition(shopping, flow) == expected.condition
    assert flow.purpose == expected.purpose
    assert flow.notes == expected.notes
    # a port parameter is exactly as configurable as the vendor's row says
    assert parameter_kinds(shopping, flow) <= {expected.configurable}

    # the Traffic column is seen from the component whose table holds the row
    section = shopping.section(expected.section)
    assert section is not None
    own = section.perspective
    sources = {shopping.main_component(s) for s in flow.source}
    destination = shopping.main_component(flow.destination[0])
    if expected.traffic == "outbound":
        assert own in sources
    elif expected.traffic == "inbound":
        assert destination == own
    else:
        assert own in sources or destination == own


def test_shopping_row_count(shopping: Product) -> None:
    pairs = {(f.section, f.row) for f in shopping.flows}
    assert len(pairs) == 25
    assert {s for s, _ in pairs} == set(SHOPPING_SECTIONS)
    assert len(shopping.sections) == 5
    per_section = Counter(section for section, _ in pairs)
    assert per_section == {sid: spec[3] for sid, spec in SHOPPING_SECTIONS.items()}
    for section_id, count in per_section.items():
        rows = sorted(r for s, r in pairs if s == section_id)
        assert rows == list(range(1, count + 1)), section_id


def test_shopping_expected_table_covers_every_flow(shopping: Product) -> None:
    in_catalog = Counter((f.section, f.row, f.part) for f in shopping.flows)
    expected = Counter((r.section, r.row, r.part) for r in SHOPPING_ROWS)
    assert in_catalog == expected
    assert len({(r.section, r.row) for r in SHOPPING_ROWS}) == 25


@pytest.mark.parametrize("section_id", list(SHOPPING_SECTIONS))
def test_shopping_section(shopping: Product, section_id: str) -> None:
    title, note, condition, _count = SHOPPING_SECTIONS[section_id]
    section = shopping.section(section_id)
    assert section is not None
    assert section.title == title
    assert section.note == note
    assert (str(section.condition) if section.condition is not None else None) == condition


def test_shopping_document_notes(shopping: Product) -> None:
    assert shopping.document.notes == (
        "There are several ports that are used in the Shopping application. These must be "
        "enabled in the firewalls for the relevant computers.",
        "A new feature in Shopping 5.6 and later means that Shopping Receivers no longer require "
        "remote WMI (DCOM) TCP 135 and 445 connection to Shopping clients. Instead policy "
        "refreshes for new requests and re-shopping are now done using the Client Notification "
        "feature of Configuration Manager.",
    )


# --------------------------------------------------------------------------------------------
# Smart ID 21.04: one flat table with external (published) and internal listening ports.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmartIdRow:
    row: int
    interface: str
    source: tuple[str, ...]
    destination: str
    #: the seed's "To main component" and "To subcomponent" names, where the flow goes there
    to_names: tuple[str, str] | None
    protocol: str
    external: frozenset[PortValue] | None
    internal: frozenset[PortValue] | None
    #: the seed's comment, split into purpose and configurability statement where it has one
    purpose: str
    configurable: str = "unspecified"
    configurable_note: str | None = None
    condition: str | None = None
    #: published through the Traefik ingress (components other than Digital Access)
    via: str | None = None
    part: int | None = None

    @property
    def case_id(self) -> str:
        suffix = f"-part{self.part}" if self.part is not None else ""
        return f"smartid-row{self.row}{suffix}"


DA_DATABASE_COMMENT = (
    "Internal or external communication between Administration service, Policy service and "
    "Authentication service to the internal Postgres database. These ports are not required if an "
    "external database is used (for example, in HA scenario). In this case, the port of the "
    "external database must be opened."
)
DA_SERVICES = ("da_admin_service", "da_policy_service", "da_authentication_service")

SMART_ID_ROWS: tuple[SmartIdRow, ...] = (
    SmartIdRow(
        row=1,
        interface="external",
        source=("user_client",),
        destination="im_operator",
        to_names=("Identity Manager", "Operator"),
        protocol="tcp",
        external=ports(443),
        internal=ports(7071),
        via="traefik",
        purpose="External TLS communication between a user client to Identity Manager Operator.",
    ),
    SmartIdRow(
        row=2,
        interface="external",
        source=("user_client",),
        destination="im_self_service",
        to_names=("Identity Manager", "Self-Service"),
        protocol="tcp",
        external=ports(443),
        internal=ports(7072),
        via="traefik",
        purpose="External TLS communication between a user client to Smart ID Self-Service.",
    ),
    SmartIdRow(
        row=3,
        interface="external",
        source=("user_client",),
        destination="im_admin",
        to_names=("Identity Manager", "Admin"),
        protocol="tcp",
        external=ports(8443),
        internal=ports(7073),
        via="traefik",
        purpose="External TLS communication between a user client to the Identity Manager Admin.",
    ),
    SmartIdRow(
        row=4,
        interface="external",
        source=("user_client",),
        destination="im_tenant",
        to_names=("Identity Manager", "Tenant"),
        protocol="tcp",
        external=ports(8443),
        internal=ports(7074),
        via="traefik",
        purpose="External TLS communication between a user client to the Identity Manager Tenant.",
    ),
    SmartIdRow(
        row=5,
        interface="external",
        source=("user_client",),
        destination="pa_admin",
        to_names=("Physical Access", "Admin"),
        protocol="tcp",
        external=ports(443),
        internal=None,
        purpose="TLS communication with Physical Access Admin.",
    ),
    SmartIdRow(
        row=6,
        interface="external",
        source=("rabbitmq",),
        destination="physical_access",
        to_names=None,
        protocol="tcp",
        external=ports(5672, 15672),
        internal=None,
        purpose="External communication between Physical Access and RabbitMQ.",
        configurable="no",
        configurable_note="These port numbers can NOT be changed.",
    ),
    SmartIdRow(
        row=7,
        interface="internal",
        source=("scim_api",),
        destination="physical_access",
        to_names=None,
        protocol="tcp",
        external=None,
        internal=ports(90),
        purpose="Internal communication between Physical Access and SCIM API.",
        configurable="yes",
        configurable_note="This port number can be changed.",
    ),
    SmartIdRow(
        row=8,
        interface="external",
        source=("physical_access",),
        destination="sipass_connector",
        to_names=("SiPass PACS server", "SiPass connector"),
        protocol="tcp",
        external=None,
        internal=ports(8745),
        purpose="External communication with Physical Access connector server.",
    ),
    SmartIdRow(
        row=9,
        interface="external",
        source=("digital_access", "im_operator"),
        destination="hermod",
        to_names=("Messaging", "Hermod"),
        protocol="tcp",
        external=ports(443),
        internal=ports(20400),
        via="traefik",
        purpose="TLS communication with Smart ID Messaging (Hermod).",
    ),
    SmartIdRow(
        row=10,
        interface="external",
        source=("administrator_client",),
        destination="da_admin_service",
        to_names=("Digital Access", "Administration service"),
        protocol="tcp",
        external=ports(8443),
        internal=None,
        purpose="External communication between an administrator client to Authentication "
        "service for configuration work on Hybrid Access Gateway. The port can be set up as web "
        "resource and therefore routed through the Access Point over port 443.",
    ),
    SmartIdRow(
        row=11,
        interface="external",
        source=("user_client", "nexus_access_client"),
        destination="da_access_point",
        to_names=("Digital Access", "Access point"),
        protocol="tcp",
        external=ports(443),
        internal=ports(10443),
        purpose="External communication between the user client/Nexus Access Client and the "
        "Access point over SSL. Since the Access point serves as a reverse proxy, all "
        "communication to resources is tunneled over the SSL communication.",
    ),
    SmartIdRow(
        row=12,
        interface="internal-and-external",
        source=("third_party_service", "da_access_point"),
        destination="da_policy_service",
        to_names=("Digital Access", "Policy service"),
        protocol="tcp",
        external=ports(4443),
        internal=ports(4443),
        purpose="Internal and external communication to the web service (XPI) interface of "
        "Hybrid Access Gateway. This communication needs to be enabled within the Policy service "
        "(Manage Systems > Policy Service). The port can be set up as web resource and therefore "
        "routed through the Access point over port 443. The Access point talks to the Policy "
        "service over port 4443 when using, for example, /me API (loading desktop list of "
        "available resources).",
    ),
    SmartIdRow(
        row=13,
        interface="internal-and-external",
        source=("user_client", "da_access_point"),
        destination="da_distribution_service",
        to_names=("Digital Access", "Distribution service"),
        protocol="tcp",
        external=ports(9443),
        internal=ports(9443),
        purpose="Internal or external communication from the Access point and any user client to "
        "the Distribution service to access the Image API. This is required to receive images the "
        "user must compare during Personal Mobile and Personal Desktop authentication. This "
        "communication needs to be enabled within the Distribution service (Manage Systems > "
        "Distribution Service). The port can be set up as web resource and therefore routed "
        "through the Access point over port 443.",
    ),
    SmartIdRow(
        row=14,
        part=1,
        interface="internal-or-external",
        source=DA_SERVICES,
        destination="da_database",
        to_names=("Digital Access", "(Internal) database"),
        protocol="tcp",
        external=ports(5432),
        internal=ports(5432),
        purpose=DA_DATABASE_COMMENT,
        condition="not external_database",
    ),
    SmartIdRow(
        row=14,
        part=2,
        interface="internal-or-external",
        source=DA_SERVICES,
        destination="external_database",
        to_names=None,
        protocol="tcp",
        external=frozenset({DEPLOYMENT_PORT}),
        internal=frozenset({DEPLOYMENT_PORT}),
        purpose=DA_DATABASE_COMMENT,
        condition="external_database",
        configurable="yes",
        configurable_note="TCP [port for external database]",
    ),
    SmartIdRow(
        row=15,
        interface="internal-and-external",
        source=("da_policy_service", "radius_client"),
        destination="da_authentication_service",
        to_names=("Digital Access", "Authentication service"),
        protocol="udp",
        external=ports((18118, 18126)),
        internal=ports((18118, 18126)),
        purpose="Internal and external communication between the Policy service and any RADIUS "
        "client to the Authentication service to verify an authentication attempt over RADIUS "
        "protocol. Third party RADIUS clients can ask the Authentication service for "
        "authentication if the corresponding authentication method is based on RADIUS, such as "
        "Password, OATH, Synchronized etc.",
    ),
    SmartIdRow(
        row=16,
        interface="internal",
        source=("da_all_services",),
        destination="da_admin_service",
        to_names=("Digital Access", "Administration service"),
        protocol="tcp",
        external=None,
        internal=ports(8300),
        purpose="Internal communication between all services and the Administration service over "
        "proprietary LCP protocol.",
    ),
    SmartIdRow(
        row=17,
        interface="internal",
        source=("da_access_point",),
        destination="da_policy_service",
        to_names=("Digital Access", "Policy service"),
        protocol="tcp",
        external=None,
        internal=ports(8301),
        purpose="Internal communication between the Access point and Policy service over "
        "proprietary LCP protocol.",
    ),
    SmartIdRow(
        row=18,
        interface="internal",
        source=("da_distribution_service",),
        destination="da_policy_service",
        to_names=("Digital Access", "Policy service"),
        protocol="tcp",
        external=None,
        internal=ports(8301),
        purpose="Internal communication between the Distribution service and Policy service over "
        "proprietary LCP protocol. This connection is used only in regards of the short URL "
        "feature.",
        condition="short_url",
    ),
    SmartIdRow(
        row=19,
        interface="internal",
        source=("da_policy_service", "da_distribution_service"),
        destination="da_authentication_service",
        to_names=("Digital Access", "Authentication service"),
        protocol="tcp",
        external=None,
        internal=ports(8302),
        purpose="Internal communication between the Policy service and the Distribution service "
        "to the Authentication service over proprietary LCP protocol.",
    ),
)


@pytest.fixture(scope="module")
def smart_id() -> Product:
    return load_catalog_product("smart-id-21.04")


@pytest.mark.parametrize("expected", SMART_ID_ROWS, ids=lambda r: r.case_id)
def test_smart_id_row(smart_id: Product, expected: SmartIdRow) -> None:
    flows = [f for f in smart_id.flows if f.row == expected.row]
    expected_parts = {r.part for r in SMART_ID_ROWS if r.row == expected.row}
    assert {f.part for f in flows} == expected_parts, "flows of the vendor row"
    [flow] = [f for f in flows if f.part == expected.part]

    assert flow.section is None
    assert flow.source == expected.source
    assert flow.destination == (expected.destination,)
    if expected.to_names is not None:
        main, sub = expected.to_names
        assert smart_id.components[flow.destination[0]].name == sub
        assert smart_id.components[smart_id.main_component(flow.destination[0])].name == main
    assert str(flow.protocol) == expected.protocol
    assert flow.interface is not None
    assert str(flow.interface) == expected.interface

    if expected.external is None:
        assert flow.published is None
    else:
        assert flow.published is not None
        assert resolve(smart_id, flow.published.ports) == expected.external
    if expected.internal is None:
        assert flow.ports is None
    else:
        assert resolve(smart_id, flow.ports) == expected.internal
    assert (flow.published.via if flow.published else None) == expected.via

    # the flat table has no Traffic column: no direction beyond from/to, no loopback
    assert flow.traffic is None
    assert flow.loopback is False
    assert flow.dynamic is None
    assert str(flow.configurable.kind) == expected.configurable
    assert flow.configurable.note == expected.configurable_note
    assert parameter_kinds(smart_id, flow) <= {expected.configurable}
    assert effective_condition(smart_id, flow) == expected.condition
    assert flow.purpose == expected.purpose


@pytest.mark.parametrize("expected", SMART_ID_ROWS[5:7], ids=lambda r: r.case_id)
def test_smart_id_shifted_rows_keep_whole_comment(smart_id: Product, expected: SmartIdRow) -> None:
    # The RabbitMQ and SCIM rows: purpose and configurability note are the vendor's comment.
    [flow] = [f for f in smart_id.flows if f.row == expected.row]
    comment = {
        6: "External communication between Physical Access and RabbitMQ. These port numbers can "
        "NOT be changed.",
        7: "Internal communication between Physical Access and SCIM API. This port number can be "
        "changed.",
    }[expected.row]
    assert f"{flow.purpose} {flow.configurable.note}" == comment


def test_smart_id_digital_access_is_not_behind_traefik(smart_id: Product) -> None:
    # "All components except Digital Access are behind an ingress/proxy Traefik by default."
    for flow in smart_id.flows:
        if smart_id.main_component(flow.destination[0]) == "digital_access" and flow.published:
            assert flow.published.via is None, flow.id


def test_smart_id_row_count(smart_id: Product) -> None:
    rows = {f.row for f in smart_id.flows}
    assert len(rows) == 19
    assert sorted(rows) == list(range(1, 20))
    assert smart_id.sections == ()


def test_smart_id_expected_table_covers_every_flow(smart_id: Product) -> None:
    in_catalog = Counter((f.row, f.part) for f in smart_id.flows)
    expected = Counter((r.row, r.part) for r in SMART_ID_ROWS)
    assert in_catalog == expected
    assert len({r.row for r in SMART_ID_ROWS}) == 19


def test_smart_id_document_notes(smart_id: Product) -> None:
    assert smart_id.document.notes == (
        "This article is valid for Smart ID 21.04 and later.",
        "All components except Digital Access are behind an ingress/proxy Traefik by default.",
    )


#: (row, part) -> the service each Smart ID row names in its comment ("External TLS
#: communication", "over SSL", "the web service (XPI)", "the Image API", "the internal
#: Postgres database", "over RADIUS protocol", "over proprietary LCP protocol"), or None where
#: the row names none: the RabbitMQ, SCIM, SiPass and administration rows, and the external
#: database, whatever it is.
SMART_ID_SERVICES: dict[tuple[int, int | None], str | None] = {
    **{(row, None): "TLS" for row in (1, 2, 3, 4, 5, 9)},
    (6, None): None,
    (7, None): None,
    (8, None): None,
    (10, None): None,
    (11, None): "SSL",
    (12, None): "XPI web service",
    (13, None): "Image API",
    (14, 1): "PostgreSQL",
    (14, 2): None,
    (15, None): "RADIUS",
    **{(row, None): "LCP" for row in (16, 17, 18, 19)},
}


def test_smart_id_services_are_the_ones_the_rows_name(smart_id: Product) -> None:
    assert set(SMART_ID_SERVICES) == {(r.row, r.part) for r in SMART_ID_ROWS}
    found = {(f.row, f.part): f.service for f in smart_id.flows}
    assert found == SMART_ID_SERVICES


def test_smart_id_rabbitmq_row_is_identified_as_no_one_protocol(smart_id: Product) -> None:
    # "TCP 5672 and 15672": AMQP and RabbitMQ's management (HTTP) API, in one row that names
    # neither; one app_protocol for both would have verify call one of them the wrong service
    [flow] = [f for f in smart_id.flows if f.row == 6]
    assert resolve(smart_id, flow.published.ports if flow.published else None) == ports(5672, 15672)
    assert flow.app_protocol is None
