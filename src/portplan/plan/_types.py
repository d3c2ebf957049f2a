"""The plan's value types: a row of the flow matrix, the facts its flow leg shares, the
decision behind every product flow, and the plan that holds them."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portplan._text import choice_hint
from portplan.model._types import Network, Protocol
from portplan.model.deployment import MANAGEMENT, Host
from portplan.model.icmp import icmp_text
from portplan.model.ports import PortSet
from portplan.model.product import ANYWHERE, Product

__all__ = [
    "ANYWHERE",
    "ANYWHERE_HOST",
    "LOOPBACK",
    "MANAGEMENT",
    "Decision",
    "FlowFacts",
    "ForbiddenFlow",
    "Hop",
    "Plan",
    "PlannedFlow",
]

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

#: the host a flow from ``any`` client comes from when the deployment does not place ``any``
ANYWHERE_HOST = Host.model_construct(
    description="any client: the vendor names only the listener, and the deployment does not "
    "place 'any' on hosts",
    addresses=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")),
    managed=False,
)


class Hop(StrEnum):
    """Which leg of a flow a row is."""

    DIRECT = "direct"  #: source reaches the destination itself
    INGRESS = "ingress"  #: source reaches the ingress proxy in front of the destination
    BACKEND = "backend"  #: the ingress proxy reaches the destination's internal port


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowFacts:
    """What every row of one flow leg shares: its id, protocol, service, purpose, condition."""

    key: str  #: stable id: ``product/flow`` plus ``/ingress`` or ``/backend`` for proxied legs
    product: str
    flow_id: str
    hop: Hop
    destination_component: str
    protocol: Protocol
    loopback: bool
    service: str | None
    app_protocol: str | None
    tls: bool
    purpose: str
    condition: str | None
    configurable: str
    overrides: tuple[str, ...]
    interface: str | None
    reference: str
    #: the port parameters the leg's ``ports`` come from, each with the ports it gave
    #: (``(("website_port", PortSet 8443),)``), so that outputs can name a configurable port
    parameters: tuple[tuple[str, PortSet], ...] = ()
    #: with protocol icmp: the message types allowed (``echo-request``...); ports are empty
    icmp: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedFlow:
    """One row of the flow matrix: a source host may open connections to a destination host.

    The facts shared by all rows of a flow live in :attr:`facts` (and read as attributes here).
    """

    facts: FlowFacts
    source: str
    source_component: str
    source_addresses: tuple[Network, ...]
    source_zone: str | None
    destination: str
    destination_addresses: tuple[Network, ...]
    destination_zone: str | None
    ports: PortSet
    listen_ports: PortSet | None  #: where the service listens, when it differs from ``ports``
    #: the part of ``ports`` that is the destination's dynamic range (Windows RPC), if any;
    #: per row, not in :class:`FlowFacts`, because it depends on the destination's platform
    dynamic_ports: PortSet | None = None

    @property
    def key(self) -> str:
        return self.facts.key

    @property
    def product(self) -> str:
        return self.facts.product

    @property
    def flow_id(self) -> str:
        return self.facts.flow_id

    @property
    def hop(self) -> Hop:
        return self.facts.hop

    @property
    def destination_component(self) -> str:
        return self.facts.destination_component

    @property
    def protocol(self) -> Protocol:
        return self.facts.protocol

    @property
    def loopback(self) -> bool:
        return self.facts.loopback

    @property
    def service(self) -> str | None:
        return self.facts.service

    @property
    def app_protocol(self) -> str | None:
        return self.facts.app_protocol

    @property
    def tls(self) -> bool:
        return self.facts.tls

    @property
    def purpose(self) -> str:
        return self.facts.purpose

    @property
    def condition(self) -> str | None:
        return self.facts.condition

    @property
    def configurable(self) -> str:
        return self.facts.configurable

    @property
    def overrides(self) -> tuple[str, ...]:
        return self.facts.overrides

    @property
    def interface(self) -> str | None:
        return self.facts.interface

    @property
    def reference(self) -> str:
        return self.facts.reference

    @property
    def icmp(self) -> tuple[str, ...]:
        return self.facts.icmp

    @property
    def source_components(self) -> tuple[str, ...]:
        """The components the source end stands for: ``source_component`` joins them with
        ``, `` where one host runs several of the flow's sources (a group's members)."""
        return tuple(self.source_component.split(", "))

    @property
    def destination_components(self) -> tuple[str, ...]:
        """The components the destination end stands for: ``destination_component`` joins
        them with ``, `` where one host runs several of the flow's destinations (a group's
        members), whose one row opens the port for each."""
        return tuple(self.facts.destination_component.split(", "))

    @property
    def listening_ports(self) -> PortSet:
        """Where the destination's service listens: ``listen_ports`` where the port the
        source connects to is published elsewhere (translated on the way), else ``ports``."""
        return self.listen_ports if self.listen_ports is not None else self.ports

    @property
    def opening(self) -> str:
        """What the row opens, as people read it: ``tcp/443``, ``icmp echo-request``."""
        if self.facts.protocol is Protocol.ICMP:
            return f"icmp {icmp_text(self.facts.icmp)}"
        return f"{self.facts.protocol.value}/{self.ports}"


@dataclass(slots=True, kw_only=True)
class Decision:
    """Why a product flow is in the plan or not, and what shaped its rows."""

    key: str
    product: str
    flow_id: str
    reference: str
    included: bool = False
    reasons: list[str] = field(default_factory=list)
    rows: int = 0
    #: the hosts the flow would reach from themselves, which stay local: no row (a
    #: ``management:`` entry from a host it also goes to)
    local: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ForbiddenFlow:
    """A connection the deployment declares must stay blocked (``forbidden:``)."""

    id: str
    sources: tuple[str, ...]  #: host names; empty: every host
    destinations: tuple[str, ...]
    protocol: Protocol
    ports: PortSet  #: empty for icmp
    purpose: str
    icmp: tuple[str, ...] = ()  #: with protocol icmp: the message types


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The concrete flow matrix of a deployment, with the decision behind every product flow."""

    deployment: str
    #: in plan order (see :mod:`portplan.plan._legs`: made from the legs when first read)
    rows: Sequence[PlannedFlow]
    decisions: tuple[Decision, ...]
    warnings: tuple[str, ...]
    hosts: Mapping[str, Host]  #: the deployment's hosts, by name
    #: the products the deployment uses, by id (names, documents and flows for publishing)
    products: Mapping[str, Product] = field(default_factory=dict)
    forbidden: tuple[ForbiddenFlow, ...] = ()  #: what must stay blocked
    _by_host: dict[str, list[PlannedFlow]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    #: what is worked out from the plan once, for those who read it (see plan._legs)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def rows_of(self, host: str) -> list[PlannedFlow]:
        """The rows that start or end on ``host``, in plan order (indexed once per plan)."""
        if not self._by_host and self.rows:
            for row in self.rows:
                self._by_host.setdefault(row.destination, []).append(row)
                if row.source != row.destination:
                    self._by_host.setdefault(row.source, []).append(row)
        return self._by_host.get(host, [])

    def host_addresses(self, host: str) -> tuple[Network, ...]:
        """The addresses of a host of the deployment."""
        return self.hosts[host].addresses

    def unmanaged(self, host: str) -> str | None:
        """Why ``host`` gets no ruleset of portplan's, in a sentence; ``None`` when it is a
        managed host of the plan (or no host of it at all)."""
        found = self.hosts.get(host)
        if found is None or found.managed:
            return None
        if host == ANYWHERE and found is ANYWHERE_HOST:
            return (
                f"{ANYWHERE!r} is no machine: it stands for any client (0.0.0.0/0 and ::/0) of "
                "the flows whose vendor names only the listener, where the deployment does not "
                "place 'any' on hosts"
            )
        return (
            f"host {host!r} is 'managed: false' in the deployment: a system portplan only "
            "talks to, whose firewall others run"
        )

    def decision(self, flow: str) -> Decision | None:
        """Find a decision by ``product/flow`` or by a flow id that only one product has."""
        exact = [d for d in self.decisions if d.key == flow]
        if exact:
            return exact[0]
        short = [d for d in self.decisions if d.flow_id == flow.split("/", maxsplit=1)[0]]
        return short[0] if len(short) == 1 else None

    def no_decision(self, flow: str) -> str:
        """Why :meth:`decision` finds nothing for ``flow``: a flow id several products have
        (each named, to choose from), or no flow of the plan (the closest named)."""
        short = flow.split("/", maxsplit=1)[0]
        owners = [d.key for d in self.decisions if d.flow_id == short]
        if len(owners) > 1:
            return (
                f"flow id {short!r} is a flow of several products: {', '.join(owners)}; "
                "name the one you mean as product/flow-id"
            )
        keys = [d.key for d in self.decisions] + [d.flow_id for d in self.decisions]
        return f"no flow {flow!r} in this deployment; " + choice_hint(flow, keys, "flows")
