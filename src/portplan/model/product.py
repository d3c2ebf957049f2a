"""The product model: what a vendor's communication-ports document says, as data.

A :class:`Product` holds components (with subcomponents, external systems, clients, ingress proxies
and groups), named features that switch flows on and off, named port parameters with defaults and
configurability, platform-dependent dynamic port ranges, and the flows themselves: who talks to
whom, on which protocol and ports, for what.  Every flow names the section and row of the vendor
document it came from, so each concrete rule traces back to the vendor's own words.

Cross-references are ids (``flow.source``, ``component.parent``); the loader checks them all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from portplan.model._types import (
    MODEL_CONFIG,
    ConditionField,
    FeatureValue,
    Flag,
    Identifier,
    LiteralPorts,
    OneOrMany,
    OrBoolean,
    ParamRef,
    PortSpec,
    ProductId,
    Protocol,
    YesNoWord,
    as_tuple,
    some_messages,
)
from portplan.model.columns import ColumnSpec
from portplan.model.ports import PortRange

__all__ = [
    "ANY",
    "ANYWHERE",
    "AppProtocol",
    "Component",
    "ComponentKind",
    "Configurability",
    "Configurable",
    "Document",
    "DynamicRange",
    "Feature",
    "Flow",
    "IcmpType",
    "Interface",
    "Layout",
    "Origin",
    "Parameter",
    "PlatformPorts",
    "Product",
    "Published",
    "Section",
    "Traffic",
]


class ComponentKind(StrEnum):
    """What a component is in the deployment picture."""

    COMPONENT = "component"  #: part of the product, installed by it
    EXTERNAL = "external"  #: a system the product talks to (Active Directory, SQL Server...)
    CLIENT = "client"  #: user machines, browsers, API callers
    INGRESS = "ingress"  #: a reverse proxy that publishes other components (Traefik)
    GROUP = "group"  #: a name for several components ("All services")


class Traffic(StrEnum):
    """Direction as the vendor states it, seen from the component whose table holds the row."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INBOUND_OUTBOUND = "inbound-outbound"


class Interface(StrEnum):
    """Firewall interface (zone boundary) the vendor places a flow on."""

    EXTERNAL = "external"
    INTERNAL = "internal"
    INTERNAL_AND_EXTERNAL = "internal-and-external"
    INTERNAL_OR_EXTERNAL = "internal-or-external"


class Configurability(StrEnum):
    """Whether the vendor lets the port be changed."""

    NO = "no"  #: fixed ("can NOT be changed")
    YES = "yes"  #: configurable, usually at installation
    INDIRECT = "indirect"  #: determined elsewhere (e.g. by querying the SMS Provider)
    UNSPECIFIED = "unspecified"  #: the document does not say


class AppProtocol(StrEnum):
    """Application protocol spoken on a flow, as far as the document names it."""

    HTTP = "http"
    HTTPS = "https"
    LDAP = "ldap"
    LDAPS = "ldaps"
    TDS = "tds"  # SQL Server (ADO.NET)
    MSRPC = "msrpc"  # WMI/DCOM: endpoint mapper, SMB and the dynamic RPC range
    SMTP = "smtp"
    POP3 = "pop3"
    AMQP = "amqp"
    RADIUS = "radius"
    DNS = "dns"
    NTP = "ntp"
    SNMP = "snmp"
    SSH = "ssh"  # SFTP and SCP too: they run over SSH
    POSTGRESQL = "postgresql"
    LCP = "lcp"  # Nexus' proprietary LCP
    TLS = "tls"  # TLS of an unnamed application protocol
    UNKNOWN = "unknown"


#: Configurability as written: the words, or YAML 1.1's unquoted yes/no booleans.
ConfigurabilityField = Annotated[Configurability, YesNoWord, OrBoolean()]


class Layout(StrEnum):
    """Shape of the vendor's document, used by ``portplan show`` to render the model back."""

    PER_COMPONENT = "per-component"  #: a table per component, direction seen from it (Shopping)
    FLAT = "flat"  #: tables of from/to rows (Smart ID: external and internal ports)


#: the vendor's column headings, in order, each with what it holds
Columns = dict[str, ColumnSpec]
_COLUMNS = (
    "the vendor's column headings in order, each mapped to what it holds "
    "(source, destination, port, protocol, description, extra...), for portplan show"
)


class Document(BaseModel):
    """The vendor document the product was modelled from."""

    model_config = MODEL_CONFIG

    title: str
    source: str | None = Field(None, description="where the document lives (path or URL)")
    layout: Layout = Layout.FLAT
    notes: tuple[str, ...] = Field((), description="document-wide statements, in order")
    columns: Columns | None = Field(None, description=_COLUMNS + "; every table unless its own")


class Section(BaseModel):
    """A table (section) of the vendor document."""

    model_config = MODEL_CONFIG

    id: Identifier
    title: str
    perspective: Identifier | None = Field(
        None, description="component whose point of view the table's Traffic column takes"
    )
    note: str | None = Field(None, description="text that stands before the table")
    condition: ConditionField | None = Field(
        None, description="when the whole table applies (e.g. remote_admin_console)"
    )
    columns: Columns | None = Field(None, description=_COLUMNS + "; else the document's")


class Component(BaseModel):
    """A component, subcomponent, external system, client, ingress proxy or group."""

    model_config = MODEL_CONFIG

    name: str
    kind: ComponentKind = ComponentKind.COMPONENT
    parent: Identifier | None = Field(
        None, description="main component of a subcomponent (Identity Manager for Operator)"
    )
    members: tuple[Identifier, ...] = Field((), description="components of a group")
    description: str | None = None


class Feature(BaseModel):
    """A deployment choice that switches flows on or off (``rbac``, ``appclarity``...), or
    picks one of several (``database: postgresql | mysql``), which conditions compare:
    ``database == mysql``."""

    model_config = MODEL_CONFIG

    description: str
    choices: tuple[Identifier, ...] = Field(
        (), description="the values of an enumerated feature (empty: the feature is on or off)"
    )
    default: FeatureValue = Field(
        False, description="on or off; for an enumerated feature one of its choices (the first)"
    )

    @model_validator(mode="before")
    @classmethod
    def _first_choice(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("choices") and "default" not in data:
            choices = data["choices"]
            if isinstance(choices, list | tuple) and choices:
                return {**data, "default": choices[0]}
        return data

    @model_validator(mode="after")
    def _default_fits(self) -> Self:
        if self.choices and self.default not in self.choices:
            raise ValueError(
                f"default {self.default!r} is not one of the choices {', '.join(self.choices)}"
            )
        if not self.choices and not isinstance(self.default, bool):
            raise ValueError(
                f"default {self.default!r} names a choice, but the feature lists no 'choices'"
            )
        return self

    @property
    def enumerated(self) -> bool:
        return bool(self.choices)


class Parameter(BaseModel):
    """A named port a deployment may override (unless the vendor says it is fixed)."""

    model_config = MODEL_CONFIG

    description: str
    default: LiteralPorts | None = Field(
        None, description="vendor default; none when the document leaves it to the deployment"
    )
    configurable: ConfigurabilityField = Configurability.YES
    how: str | None = Field(None, description="where or how it is configured")
    allowed: LiteralPorts | None = Field(
        None,
        description="the ports a deployment may choose instead of the default, when the vendor "
        "names the alternatives ('8080 or 8443'; '2500-3300 if 6162 is taken')",
    )

    def default_ranges(self) -> tuple[PortRange, ...]:
        return self.default or ()


class PlatformPorts(BaseModel):
    """The dynamic range on some platforms."""

    model_config = MODEL_CONFIG

    platforms: tuple[Identifier, ...] = Field(min_length=1)
    ports: LiteralPorts


class DynamicRange(BaseModel):
    """A dynamic port range that depends on the destination's platform (Windows RPC)."""

    model_config = MODEL_CONFIG

    description: str
    reference: str | None = None
    by_platform: tuple[PlatformPorts, ...] = Field(min_length=1)

    def ports_for(self, platform: str) -> tuple[PortRange, ...] | None:
        for entry in self.by_platform:
            if platform in entry.platforms:
                return entry.ports
        return None

    def platforms(self) -> tuple[str, ...]:
        return tuple(p for entry in self.by_platform for p in entry.platforms)


class Configurable(BaseModel):
    """The vendor's statement on whether a row's port can be changed, and how."""

    model_config = MODEL_CONFIG

    kind: ConfigurabilityField
    note: str | None = Field(None, description="the vendor's words")


class Published(BaseModel):
    """The external (published) side of a flow: the port the source connects to."""

    model_config = MODEL_CONFIG

    ports: PortSpec
    via: Identifier | None = Field(
        None, description="ingress component that maps the published port to the internal one"
    )


#: the component a flow comes from when the vendor names only the listener: any client,
#: which a deployment places on hosts, or leaves as anywhere (0.0.0.0/0 and ::/0)
ANY = "any"
#: the host name a plan gives "anywhere", the clients of ``any`` when it is not placed
ANYWHERE = "anywhere"


class IcmpType(StrEnum):
    """ICMP message types a flow may allow (the same name for ICMPv4 and ICMPv6)."""

    ECHO_REQUEST = "echo-request"  #: ping
    ECHO_REPLY = "echo-reply"
    DESTINATION_UNREACHABLE = "destination-unreachable"
    TIME_EXCEEDED = "time-exceeded"
    PARAMETER_PROBLEM = "parameter-problem"
    PACKET_TOO_BIG = "packet-too-big"  #: ICMPv6 only
    ANY = "any"  #: every ICMP type


class Flow(BaseModel):
    """One row of the vendor document: sources reach destinations on a protocol and ports."""

    model_config = MODEL_CONFIG

    id: Identifier
    section: Identifier | None = Field(None, description="section (table) of the document")
    row: int = Field(ge=1, description="row number within the section, from 1")
    part: int | None = Field(
        None, ge=1, description="when one vendor row needs several flows: which part this is"
    )
    source: Annotated[tuple[Identifier, ...], BeforeValidator(as_tuple), OneOrMany()] = Field(
        (ANY,),
        alias="from",
        min_length=1,
        description="components that connect; left out when the vendor names only the listener "
        f"(then {ANY!r}: any client)",
    )
    destination: Annotated[tuple[Identifier, ...], BeforeValidator(as_tuple), OneOrMany()] = Field(
        alias="to",
        min_length=1,
        description="components that listen; several, or a group, stand for each of them",
    )
    traffic: Traffic | None = Field(
        None, description="direction as the vendor states it from the section's perspective"
    )
    loopback: Flag = Field(False, description="source and destination talk over loopback")
    interface: Interface | None = None
    protocol: Protocol
    ports: PortSpec | None = Field(None, description="(internal) listening ports")
    icmp: tuple[IcmpType, ...] = Field(
        (), description="with protocol icmp: the message types allowed (default echo-request)"
    )
    published: Published | None = Field(
        None, description="external port the source connects to, when it differs or is proxied"
    )
    dynamic: Identifier | None = Field(None, description="dynamic range added on the destination")
    service: str | None = Field(None, description="application protocol as the vendor names it")
    app_protocol: AppProtocol | None = None
    tls: Flag = False
    purpose: str
    condition: ConditionField | None = None
    configurable: Configurable = Configurable(kind=Configurability.UNSPECIFIED)
    notes: tuple[str, ...] = ()
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="the vendor's other columns of this row, as written ('2-way?': 'Y')",
    )
    origin: Origin | None = Field(
        None, description="where `portplan import` read the row: file, table, row and cells"
    )

    _some_messages = field_validator("icmp")(some_messages)

    @model_validator(mode="before")
    @classmethod
    def _ping_by_default(cls, data: Any) -> Any:
        # left out (or left empty: ``icmp:``), ping; an empty list is refused below
        if isinstance(data, dict) and data.get("protocol") == "icmp" and data.get("icmp") is None:
            return {**data, "icmp": [IcmpType.ECHO_REQUEST.value]}
        return data

    @model_validator(mode="after")
    def _icmp_has_no_ports(self) -> Self:
        if self.protocol is Protocol.ICMP:
            if self.ports is not None or self.published is not None or self.dynamic is not None:
                raise ValueError(
                    "an icmp flow has no ports: say which messages with 'icmp: [echo-request]'"
                )
        elif self.icmp:
            raise ValueError(f"'icmp' is for protocol icmp, not {self.protocol.value}")
        return self

    def parameter_names(self) -> tuple[str, ...]:
        items = (*(self.ports or ()), *(self.published.ports if self.published else ()))
        return tuple(dict.fromkeys(i.name for i in items if isinstance(i, ParamRef)))


_ANY_DESCRIPTION = "whatever connects: the vendor names only the listener"


class Origin(BaseModel):
    """Where an imported row came from: the vendor's file, table and row, and its cells."""

    model_config = MODEL_CONFIG

    file: str
    table: str | None = None
    row: int = Field(ge=1)
    cells: dict[str, str] = Field(default_factory=dict, description="heading: text as written")


class Product(BaseModel):
    """A product version as its vendor documents its communication ports."""

    model_config = MODEL_CONFIG

    @model_validator(mode="before")
    @classmethod
    def _any_client(cls, data: Any) -> Any:
        """A flow that names only its listener comes from the implicit component ``any``."""
        if not isinstance(data, dict) or not isinstance(data.get("flows"), list):
            return data
        components = data.get("components")
        if not isinstance(components, dict) or ANY in components:
            return data
        uses_any = any(
            isinstance(f, dict)
            and (
                "from" not in f
                or f.get("from") == ANY
                or (isinstance(f.get("from"), list) and ANY in f["from"])
            )
            for f in data["flows"]
        )
        if not uses_any:
            return data
        implicit = {"name": "Any client", "kind": "client", "description": _ANY_DESCRIPTION}
        return {**data, "components": {**components, ANY: implicit}}

    id: ProductId
    name: str
    version: str
    vendor: str | None = None
    document: Document
    sections: tuple[Section, ...] = ()
    components: dict[Identifier, Component]
    features: dict[Identifier, Feature] = Field(default_factory=dict)
    parameters: dict[Identifier, Parameter] = Field(default_factory=dict)
    dynamic_ranges: dict[Identifier, DynamicRange] = Field(default_factory=dict)
    flows: tuple[Flow, ...]

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    def full_name(self, component_id: str) -> str:
        """A component's name as read outside its main component: ``Identity Manager
        Operator`` for the subcomponent Operator; a main component's own name."""
        comp = self.components[component_id]
        if comp.parent is None:
            return comp.name
        return f"{self.components[comp.parent].name} {comp.name}"

    def main_component(self, component_id: str) -> str:
        """The top-level component of a (sub)component."""
        seen: set[str] = set()
        current = component_id
        while current in self.components and current not in seen:
            parent = self.components[current].parent
            if parent is None:
                break
            seen.add(current)
            current = parent
        return current
