"""Which column of a vendor table holds which part of the model, by its heading.

The built-in vocabulary (:data:`BUILT_IN`) knows the wordings of the corpus in
``tests/data/vendor-docs`` and their usual variants: ``From``/``Source``, ``To``/``Destination``/
``Endpoint``, ``Port``/``Default Ports Used``/``Listens on``/``Protocol/Port``, ``Traffic``/
``Direction``, ``Notes``/``Description``/``Purpose``/``Details``/``Reason``, ``Required?``,
``Configurable``, ``Configuration Parameters``, ``Firewall Interface``... Headings are compared
without case, repeated spaces, Markdown emphasis (``*Purpose*``), a trailing ``?``, ``:`` or
``*``, with ``&`` as ``and`` and ``(s)`` as ``s``; nothing is matched loosely: a heading the
vocabulary does not hold maps to nothing and every cell under it is reported.

A map file (``--map MAP.yaml``) maps the headings of an unusual document, and wins over the
vocabulary::

    Communicating Systems: peer
    Hadoop 3 Ports: port
    TCP Port: {field: port, protocol: tcp}
    Incoming Ports: {field: peer, direction: inbound}
    2-way?: {field: direction, yes_no: true}
    Qualifier: extra          # kept as a free column of each row
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from portplan.importer.direction import Direction
from portplan.importer.ports import Transport

__all__ = ["BUILT_IN", "ColumnMap", "ColumnRole", "Field", "heading_key"]


class Field(StrEnum):
    """What a column holds, in the model's terms."""

    SOURCE = "source"  #: who opens the connection (From, Source)
    DESTINATION = "destination"  #: who listens (To, Destination, Endpoint)
    SUBCOMPONENT = "subcomponent"  #: the part of the destination that listens (To subcomponent)
    PEER = "peer"  #: the other end; the direction says which way (Product, Incoming Ports)
    COMPONENT = "component"  #: whose row it is: the listener of a port list, the perspective
    SERVICE = "service"  #: the name of the service or application (Service, App-id)
    PORT = "port"  #: the port the destination listens on
    PUBLISHED_PORT = "published_port"  #: the port a proxy publishes it on (External Port, LB Port)
    SOURCE_PORT = "source_port"  #: the port the connection leaves from (Default Source Port)
    PROTOCOL = "protocol"  #: TCP, UDP, ICMP and application names
    DIRECTION = "direction"  #: Inbound, Outbound, Inbound/Outbound...
    DESCRIPTION = "description"  #: the row's main text (Purpose, Notes, Details, Reason)
    CONDITION = "condition"  #: when the row applies (Required?, Condition)
    NOTES = "notes"  #: further remarks (Note, Comments)
    CONFIGURABLE = "configurable"  #: whether the port can be changed
    PARAMETER = "parameter"  #: the setting that changes the port (Configuration Parameters)
    INTERFACE = "interface"  #: the firewall interface or zone (Firewall Interface)
    ACCESS = "access"  #: who needs to reach it (Need End User Access?)
    EXTRA = "extra"  #: a column the model has no place for, kept verbatim per row


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnRole:
    """What one column holds: its field, and what its heading itself says (the transport of a
    ``UDP`` port column, the direction of an ``Incoming Ports`` peer column, that a ``2-way?``
    column answers yes or no, that a column of ``X`` marks applies its rows to what its heading
    names).  ``origin`` says where the mapping comes from."""

    field: Field
    protocol: Transport | None = None
    direction: Direction | None = None
    yes_no: bool = False
    marks: bool = False
    origin: str = "built-in"


def heading_key(heading: str) -> str:
    """A heading as the vocabulary and map files compare it."""
    text = " ".join(heading.lower().replace("&", " and ").split())
    text = re.sub(r"\s*/\s*", "/", text.replace("(s)", "s"))
    # emphasis around a whole heading is markup, not wording: *Purpose*, __Port__
    text = re.sub(r"^([*_]{1,2})(.+)\1$", r"\2", text.strip())
    return text.rstrip("?:*. ").strip()


def _roles(field: Field, *headings: str, **traits: object) -> dict[str, ColumnRole]:
    role = ColumnRole(field=field, **traits)  # type: ignore[arg-type]
    return {heading_key(h): role for h in headings}


#: The built-in vocabulary: heading (as :func:`heading_key` gives it) to role.
BUILT_IN: Mapping[str, ColumnRole] = {
    **_roles(Field.SOURCE, "from", "source", "from component", "source component", "client",
             "client instance", "source role", "initiator", "initiated by", "source host",
             "source system"),
    **_roles(Field.DESTINATION, "to", "destination", "to component", "to main component",
             "destination component", "server instance", "destination role", "target",
             "endpoint", "endpoints", "destination host", "destination system",
             "destination dns/ip"),
    **_roles(Field.SUBCOMPONENT, "to subcomponent", "subcomponent", "destination subcomponent"),
    **_roles(Field.PEER, "peer", "product", "remote system", "communicating system",
             "communicating systems", "other end"),
    **_roles(Field.PEER, "incoming ports", "incoming", "inbound from",
             direction=Direction.INBOUND),
    **_roles(Field.PEER, "outgoing ports", "outgoing", "outbound to",
             direction=Direction.OUTBOUND),
    **_roles(Field.COMPONENT, "component", "components", "servers", "server", "host", "hosts",
             "node", "nodes", "role", "roles", "installed on", "runs on", "host role", "host roles",
             "node role", "node type", "device", "devices"),
    **_roles(Field.SERVICE, "service", "service name", "services", "app-id",
             "palo alto networks app-id", "application"),
    **_roles(Field.PORT, "port", "ports", "port number", "port numbers", "port no", "default port",
             "default ports", "default ports used", "destination port", "destination ports",
             "listens on", "listening port", "listening ports", "internal listening port",
             "internal port", "protocol/port", "protocol/ports", "protocol and port",
             "protocol and ports", "backend port", "target port", "server port", "port range",
             "port ranges", "default target port", "default destination port"),
    **_roles(Field.PORT, "inbound port", "inbound ports", direction=Direction.INBOUND),
    **_roles(Field.PORT, "outbound port", "outbound ports", direction=Direction.OUTBOUND),
    **_roles(Field.PORT, "tcp", "tcp port", "tcp ports", protocol=Transport.TCP),
    **_roles(Field.PORT, "udp", "udp port", "udp ports", protocol=Transport.UDP),
    **_roles(Field.PUBLISHED_PORT, "external listening port", "external port", "external ports",
             "lb port", "load balancer port", "published port", "public port",
             "frontend port", "front-end port"),
    **_roles(Field.SOURCE_PORT, "source port", "source ports", "default source port",
             "default source ports", "client port", "client ports"),
    **_roles(Field.PROTOCOL, "protocol", "protocols", "type", "transport", "ip protocol",
             "protocol type", "tcp/udp", "udp/tcp", "tcp or udp"),
    **_roles(Field.DIRECTION, "direction", "traffic", "inbound/outbound", "in/out",
             "traffic direction", "direction of traffic"),
    **_roles(Field.DIRECTION, "2-way", "two-way", "bidirectional", "bi-directional",
             yes_no=True),
    **_roles(Field.DESCRIPTION, "description", "purpose", "port purpose", "details", "detail",
             "reason", "usage", "used for", "required for", "function", "protocol and comment",
             "notes", "explanation", "use", "used by"),
    **_roles(Field.CONDITION, "condition", "conditions", "required", "when", "applies when",
             "prerequisite", "optional", "mandatory"),
    **_roles(Field.NOTES, "note", "remarks", "remark", "comments", "comment",
             "additional information", "additional notes", "footnote"),
    **_roles(Field.CONFIGURABLE, "configurable", "can be changed", "changeable",
             "customizable", "configurable port"),
    **_roles(Field.PARAMETER, "configuration parameter", "configuration parameters",
             "config parameter", "config parameters", "parameter", "parameters", "property",
             "properties", "setting", "settings", "configuration property"),
    **_roles(Field.INTERFACE, "firewall interface", "interface", "zone", "network zone"),
    **_roles(Field.ACCESS, "need end user access", "needs end user access",
             "need end-user access", "needs end-user access", "access", "access requirement",
             "exposure", "internal/external"),
    **_roles(Field.EXTRA, "communicates on", "qualifier", "authentication", "encryption",
             "default authentication", "supported authentication", "encryption supported",
             "encrypted by default", "number", "#", "ref", "reference"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """The vocabulary a reading uses: the built-in one, overridden by a map file."""

    overrides: Mapping[str, ColumnRole]
    vocabulary: Mapping[str, ColumnRole]

    @classmethod
    def built_in(cls) -> ColumnMap:
        return cls(overrides={}, vocabulary=BUILT_IN)

    def with_overrides(self, overrides: Mapping[str, ColumnRole]) -> ColumnMap:
        return ColumnMap(overrides={**self.overrides, **overrides}, vocabulary=self.vocabulary)

    def role(self, heading: str, rows: Sequence[str] | None = None) -> ColumnRole | None:
        """The role of a column headed ``heading``: the whole heading first, then each part of
        a heading several header rows make (``Incoming Ports / Purpose``), bottom part first;
        the map file before the vocabulary.  ``rows`` are the texts of those header rows, top
        first, where the caller knows them: a `` / `` written inside one heading cell (``Port
        Number / Service Name``) then divides nothing; without them the heading is split at
        each `` / ``."""
        stack = list(rows) if rows is not None else heading.split(" / ")
        parts = [heading, *reversed(stack)] if len(stack) > 1 else [heading]
        for table in (self.overrides, self.vocabulary):
            for part in parts:
                role = table.get(heading_key(part))
                if role is not None:
                    return role
        return None
