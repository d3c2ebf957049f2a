"""The deployment model: products placed on hosts, with features and port overrides.

A :class:`Deployment` names hosts (single machines or groups such as "all clients
198.51.100.0/24"), and for each product it uses: where its components run, which features are
on, and which configurable ports differ from the vendor's defaults.  One host may serve
components of several products (one Active Directory for both Shopping and Smart ID).
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from portplan.model._types import (
    MODEL_CONFIG,
    DnsName,
    FeatureValue,
    Flag,
    HostName,
    Identifier,
    LiteralPorts,
    Network,
    NetworkField,
    OneOrMany,
    ProductId,
    Protocol,
    SpecialAddress,
    as_tuple,
    network_text,
    some_messages,
    special_kind,
)
from portplan.model.kubernetes import Kubernetes
from portplan.model.product import AppProtocol, IcmpType

__all__ = [
    "FORBIDDEN",
    "MANAGEMENT",
    "Deployment",
    "Forbidden",
    "Host",
    "Management",
    "ProductBinding",
]

#: the product id the plan gives the rows of the deployment's own ``management:`` access
#: (``management/ssh``), so that no product of a deployment may have it
MANAGEMENT = "management"
#: the product id reports and ``verify --flow`` give the deployment's own ``forbidden:``
#: connections (``forbidden/ssh``), so that no product of a deployment may have it either
FORBIDDEN = "forbidden"


AddressList = Annotated[tuple[NetworkField, ...], BeforeValidator(as_tuple), OneOrMany()]
HostList = Annotated[tuple[HostName, ...], BeforeValidator(as_tuple), OneOrMany()]


class Host(BaseModel):
    """A machine, or a group of machines that share one role and one rule (a client subnet)."""

    model_config = MODEL_CONFIG

    special: tuple[SpecialAddress, ...] = Field(
        (),
        description="special-purpose addresses this host is meant to hold (multicast, "
        "broadcast, unspecified, ipv4-mapped); refused otherwise, and never probed",
    )
    addresses: AddressList = Field(
        (), description="its addresses and networks; may be left out when it has a dns_name"
    )
    dns_name: DnsName | None = Field(
        None,
        description="the name the product's components use to reach this host; "
        "`portplan verify` resolves it and probes what it resolves to; alone (no addresses), "
        "the host is known by name only (repository.example.com, a cloud endpoint)",
    )
    cluster: Flag = Field(
        False,
        description="each address is a machine of its own (the members of a cluster), not one "
        "multi-homed machine: flows between the host's components go between its members",
    )
    managed: Flag = Field(
        True,
        description="whether this deployment's operators run its firewall; false for systems "
        "portplan only talks to (a CDN, a cloud service, network devices): no ruleset for it",
    )
    platform: Identifier | None = Field(
        None, description="operating system, where a flow depends on it (windows-server-2019)"
    )
    zone: Identifier | None = Field(None, description="network zone (internal, external, dmz...)")
    description: str | None = None
    dynamic_ranges: dict[Identifier, LiteralPorts] = Field(
        default_factory=dict, description="this host's own dynamic ranges (a restricted RPC range)"
    )
    kubernetes: Kubernetes | None = Field(
        None, description="the host is a set of pods in a cluster (Kubernetes NetworkPolicy)"
    )

    @field_validator("addresses")
    @classmethod
    def _no_surprise_addresses(
        cls, value: tuple[Network, ...], info: ValidationInfo
    ) -> tuple[Network, ...]:
        if not value:
            raise ValueError(
                "an empty list names no machine: give at least one address, or leave "
                "'addresses' out and give the 'dns_name' the host is known by"
            )
        allowed = set(info.data.get("special", ()))
        for network in value:
            kind = special_kind(network)
            if kind is not None and kind not in allowed:
                raise ValueError(
                    f"{network_text(network)} is a special-purpose address ({kind.value}) that "
                    "names no single machine to reach; if the host really is one, add "
                    f"'special: [{kind.value}]' to the host"
                )
        return value

    @field_validator("dns_name")
    @classmethod
    def _name_for_one_machine(cls, value: str | None, info: ValidationInfo) -> str | None:
        networks = [a for a in info.data.get("addresses", ()) if a.num_addresses > 1]
        if value is not None and networks:
            raise ValueError(
                f"a DNS name stands for one machine, but this host is a group ({networks[0]} "
                "is a network)"
            )
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not self.addresses and self.dns_name is None:
            raise ValueError("a host needs 'addresses', or a 'dns_name' it is known by")
        if self.cluster and self.dns_name is not None:
            raise ValueError(
                "a cluster is several machines, and a DNS name stands for one: give each "
                "member's address, or make the name a host of its own"
            )
        return self

    @property
    def is_group(self) -> bool:
        """Whether the entry stands for more than one machine."""
        # several single addresses are one multi-homed machine, unless it is a cluster; a
        # network is a group
        return self.cluster or any(a.num_addresses > 1 for a in self.addresses)

    @property
    def is_network(self) -> bool:
        """Whether the entry is a network of machines (a client subnet, the Internet): a group
        that is not a cluster.  A cluster's members are machines that each load the cluster's
        ruleset; the machines of a network are not listed, so they get one only for what ends
        on the network itself."""
        return self.is_group and not self.cluster

    @property
    def by_name_only(self) -> bool:
        """Whether the host is known by its DNS name alone (no address is declared)."""
        return not self.addresses


class ProductBinding(BaseModel):
    """One product in a deployment: where it comes from, where it runs and how it is set up."""

    model_config = MODEL_CONFIG

    file: str | None = Field(
        None, description="product model file, relative to the deployment; default: the catalog"
    )
    components: dict[Identifier, HostList] = Field(
        default_factory=dict, description="component id -> host names"
    )
    features: dict[Identifier, FeatureValue] = Field(
        default_factory=dict,
        description="on or off; for an enumerated feature, one of its choices",
    )
    parameters: dict[Identifier, LiteralPorts] = Field(
        default_factory=dict, description="overrides of configurable port parameters"
    )
    dynamic_ranges: dict[Identifier, LiteralPorts] = Field(
        default_factory=dict, description="deployment-wide dynamic range overrides"
    )

    @field_validator("file")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        """A path the system can open: no nul character, which no file name holds."""
        if value is not None and "\0" in value:
            raise ValueError(
                "a file name holds no nul character (\\0); write the product file's path"
            )
        if value is not None and not value.strip():
            raise ValueError(
                "an empty file name; write the product file's path, or leave 'file:' out for "
                "the catalog"
            )
        return value


class _Connection(BaseModel):
    """What a deployment's own entries open or block: TCP or UDP ports, or ICMP messages."""

    model_config = MODEL_CONFIG

    protocol: Protocol = Protocol.TCP
    ports: LiteralPorts | None = Field(None, description="the ports (tcp and udp)")
    icmp: tuple[IcmpType, ...] = Field(
        (), description="with protocol icmp: the message types (default echo-request)"
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
    def _ports_or_types(self) -> Self:
        if self.protocol is Protocol.ICMP and self.ports is not None:
            raise ValueError(
                "an icmp connection has no ports: say which messages with 'icmp: [echo-request]'"
            )
        if self.protocol is not Protocol.ICMP and self.icmp:
            raise ValueError(f"'icmp' is for protocol icmp, not {self.protocol.value}")
        if self.protocol is not Protocol.ICMP and self.ports is None:
            raise ValueError(f"a {self.protocol.value} connection needs 'ports'")
        return self


class Management(_Connection):
    """Access the operators need whatever the products say (SSH from an admin network, ping
    from the monitoring hosts).

    Management flows are part of the plan like product flows, and ``portplan apply`` never
    installs a ruleset that would cut them.
    """

    id: Identifier
    source: HostList = Field(alias="from", description="hosts the operators come from")
    destination: HostList | None = Field(
        None,
        alias="to",
        description="hosts they reach; default: every managed host that is one machine or a "
        "cluster (not a network)",
    )
    app_protocol: AppProtocol | None = Field(
        None, description="the service verify identifies on the port (ssh, https...)"
    )
    purpose: str

    @field_validator("source", "destination")
    @classmethod
    def _hosts_named(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _some_hosts(value)

    @model_validator(mode="after")
    def _service_on_a_port(self) -> Self:
        if self.app_protocol is not None and self.protocol is Protocol.ICMP:
            raise ValueError("an icmp connection has no service: 'app_protocol' is for tcp or udp")
        return self


def _some_hosts(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """An entry's hosts as written: an empty list is refused, never read as the default the
    key's absence means (management 'to: []' is not every managed host)."""
    if value is not None and not value:
        raise ValueError("an empty list names no host")
    return value


class Forbidden(_Connection):
    """Connections that must stay blocked whatever else is open (``portplan verify
    --expect-blocked`` proves they are): a database port from the client subnet, say."""

    id: Identifier
    source: HostList | None = Field(
        None, alias="from", description="hosts that must not reach it; default: every host"
    )
    destination: HostList = Field(alias="to", description="hosts that must not be reached")
    purpose: str = Field(description="why it must stay blocked")

    @field_validator("source", "destination")
    @classmethod
    def _hosts_named(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _some_hosts(value)


class Deployment(BaseModel):
    """Products bound to hosts."""

    model_config = MODEL_CONFIG

    name: str = Field(description="a name for the deployment")
    description: str | None = None
    hosts_from: str | None = Field(
        None,
        pattern=r"^ansible:.+",
        description="ansible:PATH: hosts declared without addresses take them from this "
        "Ansible inventory (the host of their name, or whose portplan_host names them)",
    )
    hosts: dict[HostName, Host]
    management: tuple[Management, ...] = Field(
        (), description="operator access kept open on every host it names"
    )
    forbidden: tuple[Forbidden, ...] = Field(
        (), description="connections that must stay blocked (verify --expect-blocked)"
    )
    products: dict[ProductId, ProductBinding] = Field(
        min_length=1, description="catalog product id (or the id of the product in `file`)"
    )

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the deployment's name is empty; give it a name")
        return value
