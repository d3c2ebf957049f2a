"""The columns of a vendor's table, as ``portplan show`` writes the product back in them.

A vendor's port document is a table or several, each with its own headings: From/To tables,
listener lists (Port, Protocol, Description), tables per peer (``Incoming Ports``, Purpose,
``Protocol/Port``), a port column per transport (``UDP``, ``TCP``)...  A product keeps those
headings in ``document.columns`` (every table) or a section's ``columns`` (one table): a
mapping from the vendor's heading to what the column holds, in the words
``portplan.importer`` maps headings to::

    columns:
      Source: source
      Destination: destination
      Type: protocol
      Port: port
      Details: description
      UDP: {field: port, protocol: udp}      # a port column per transport
      Need End User Access?: extra           # the flow's own text (flow 'columns')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from portplan.model._types import MODEL_CONFIG, Protocol

__all__ = ["Column", "ColumnField", "ColumnSpec"]


class ColumnField(StrEnum):
    """What a column of the vendor's table holds (the importer's words for its headings)."""

    SOURCE = "source"  #: the flow's 'from' (From, Source)
    DESTINATION = "destination"  #: the flow's 'to' (To, Destination, Endpoint)
    SUBCOMPONENT = "subcomponent"  #: the part of the destination that listens
    PEER = "peer"  #: the end that is not the table's perspective (Product, Incoming Ports)
    COMPONENT = "component"  #: whose row it is: the listener, or the end its direction names
    SERVICE = "service"  #: the flow's 'service'
    PORT = "port"  #: the ports the destination listens on (with the protocol, unless a
    #: protocol column says it)
    PUBLISHED_PORT = "published_port"  #: the published port (LB Port, External Port)
    PROTOCOL = "protocol"  #: TCP, UDP or ICMP, with the service (TCP (HTTPS))
    DIRECTION = "direction"  #: the flow's 'traffic' (Inbound, Outbound, Inbound/Outbound)
    DESCRIPTION = "description"  #: the flow's 'purpose' (and its notes, unless a notes column)
    CONDITION = "condition"  #: when portplan takes the row as required
    NOTES = "notes"  #: the flow's 'notes'
    CONFIGURABLE = "configurable"  #: the flow's 'configurable'
    PARAMETER = "parameter"  #: how the row's port parameters are set (their 'how')
    INTERFACE = "interface"  #: the flow's 'interface'
    EXTRA = "extra"  #: the flow's own text under this heading (its 'columns')


#: fields whose cells are ports, which a column may restrict to one protocol
_PORT_FIELDS = (ColumnField.PORT, ColumnField.PUBLISHED_PORT)


class Column(BaseModel):
    """A column with more to say than its field: the protocol of a ``UDP`` port column."""

    model_config = MODEL_CONFIG

    field: ColumnField
    protocol: Protocol | None = Field(
        None, description="only the ports of this protocol (a port column per transport)"
    )

    @model_validator(mode="after")
    def _protocol_for_ports(self) -> Self:
        if self.protocol is not None and self.field not in _PORT_FIELDS:
            raise ValueError(
                f"'protocol' restricts a port column; a {self.field.value} column has no ports"
            )
        return self


def _field_alone(value: Any) -> Any:
    """``Port: port`` is ``Port: {field: port}``."""
    return {"field": value} if isinstance(value, str) else value


class _FieldOrColumn:
    """JSON Schema hook: a column is written as its field alone, or as a mapping."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        fields = {"enum": [f.value for f in ColumnField], "type": "string"}
        return {"anyOf": [fields, handler(core_schema)]}


#: a column as written: the field alone (``Port: port``), or a :class:`Column`
ColumnSpec = Annotated[Column, BeforeValidator(_field_alone), _FieldOrColumn()]
