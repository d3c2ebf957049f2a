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
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from portplan.model._types import (
    MODEL_CONFIG,
    ConditionField,
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
)
from portplan.model.ports import PortRange

__all__ = [
    "AppProtocol",
    "Component",
    "ComponentKind",
    "Configurability",
    "Configurable",
    "Document",
    "DynamicRange",
    "Feature",
    "Flow",
    "Interface",
    "Layout",
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
    POSTGRESQL = "postgresql"
    LCP = "lcp"  # Nexus' proprietary LCP
    TLS = "tls"  # TLS of an unnamed application protocol
    UNKNOWN = "unknown"


#: Configurability as written: the words, or YAML 1.1's unquoted yes/no booleans.
ConfigurabilityField = Annotated[Configurability, YesNoWord, OrBoolean()]


class Layout(StrEnum):
    """Shape of the vendor's document, used by ``portplan show`` to render the model back."""

    PER_COMPONENT = "per-component"  #: a table per component, direction seen from it (Shopping)
    FLAT = "flat"  #: one table of from/to rows with external and internal ports (Smart ID)


class Document(BaseModel):
    """The vendor document the product was modelled from."""

    model_config = MODEL_CONFIG

    title: str
    source: str | None = Field(None, description="where the document lives (path or URL)")
    layout: Layout = Layout.FLAT
    notes: tuple[str, ...] = Field((), description="document-wide statements, in order")


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
    """A deployment choice that switches flows on or off (``rbac``, ``appclarity``...)."""

    model_config = MODEL_CONFIG

    description: str
    default: bool = False


class Parameter(BaseModel):
    """A named port a deployment may override (unless the vendor says it is fixed)."""

    model_config = MODEL_CONFIG

    description: str
    default: LiteralPorts | None = Field(
        None, description="vendor default; none when the document leaves it to the deployment"
    )
    configurable: ConfigurabilityField = Configurability.YES
    how: str | None = Field(None, description="where or how it is configured")

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


class Flow(BaseModel):
    """One row of the vendor document: sources reach a destination on a protocol and ports."""

    model_config = MODEL_CONFIG

    id: Identifier
    section: Identifier | None = Field(None, description="section (table) of the document")
    row: int = Field(ge=1, description="row number within the section, from 1")
    part: int | None = Field(
        None, ge=1, description="when one vendor row needs several flows: which part this is"
    )
    source: Annotated[tuple[Identifier, ...], BeforeValidator(as_tuple), OneOrMany()] = Field(
        alias="from", min_length=1
    )
    destination: Identifier = Field(alias="to")
    traffic: Traffic | None = Field(
        None, description="direction as the vendor states it from the section's perspective"
    )
    loopback: bool = Field(False, description="source and destination talk over loopback")
    interface: Interface | None = None
    protocol: Protocol
    ports: PortSpec | None = Field(None, description="(internal) listening ports")
    published: Published | None = Field(
        None, description="external port the source connects to, when it differs or is proxied"
    )
    dynamic: Identifier | None = Field(None, description="dynamic range added on the destination")
    service: str | None = Field(None, description="application protocol as the vendor names it")
    app_protocol: AppProtocol | None = None
    tls: bool = False
    purpose: str
    condition: ConditionField | None = None
    configurable: Configurable = Configurable(kind=Configurability.UNSPECIFIED)
    notes: tuple[str, ...] = ()

    def parameter_names(self) -> tuple[str, ...]:
        items = (*(self.ports or ()), *(self.published.ports if self.published else ()))
        return tuple(dict.fromkeys(i.name for i in items if isinstance(i, ParamRef)))


class Product(BaseModel):
    """A product version as its vendor documents its communication ports."""

    model_config = MODEL_CONFIG

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
