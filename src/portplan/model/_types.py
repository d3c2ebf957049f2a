"""Shared field types for the model: identifiers, port items, conditions, addresses.

Each type parses the user's text once, serialises back to the same text (so that
``load(dump(model)) == model``) and declares the JSON Schema that editors use.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from portplan._text import shown
from portplan.model.addresses import SpecialAddress as SpecialAddress  # noqa: PLC0414 - re-exported
from portplan.model.addresses import network_text as network_text  # noqa: PLC0414 - re-exported
from portplan.model.addresses import special_kind as special_kind  # noqa: PLC0414 - re-exported
from portplan.model.conditions import Condition, parse_condition
from portplan.model.ports import MAX_PORT, MIN_PORT, PortRange
from portplan.model.protocol import Protocol as Protocol  # noqa: PLC0414 - re-exported

#: Configuration shared by every model class: immutable, unknown keys rejected.
MODEL_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    populate_by_name=True,
    serialize_by_alias=True,
    validate_by_alias=True,
    validate_by_name=True,
    # each model is built when first used, not at import: a command uses a few of them
    defer_build=True,
)

ID_PATTERN = r"^[a-z][a-z0-9_]*(?:-[a-z0-9_]+)*$"
PRODUCT_ID_PATTERN = r"^[a-z][a-z0-9_]*(?:[-.][a-z0-9_]+)*$"
HOST_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

#: the longest id or host name: they become file names (``<host>.nft``), which have a limit
MAX_NAME = 128

Identifier = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        max_length=MAX_NAME,
        description="lower-case id: letters, digits, _ and -",
    ),
]
ProductId = Annotated[
    str,
    Field(
        pattern=PRODUCT_ID_PATTERN,
        max_length=MAX_NAME,
        description="product id such as shopping-6.1",
    ),
]
HostName = Annotated[
    str,
    Field(
        pattern=HOST_PATTERN,
        max_length=MAX_NAME,
        description="host name as the deployment names it",
    ),
]


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A port that comes from a named, possibly overridable, port parameter of the product."""

    name: str

    def __str__(self) -> str:
        return self.name


_PARAM_RE = re.compile(ID_PATTERN)
_PORT_ITEM_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": MIN_PORT, "maximum": MAX_PORT},
        {
            "type": "string",
            "pattern": r"^\s*\d+\s*(-\s*\d+\s*)?$",
            "description": "a port or a range",
        },
        {"type": "string", "pattern": ID_PATTERN, "description": "a port parameter's name"},
    ]
}


def parse_port_item(value: Any, *, allow_params: bool = True) -> PortRange | ParamRef:
    if isinstance(value, PortRange | ParamRef):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{shown(value)} is not a port, a range (18118-18126) or a parameter name")
    if isinstance(value, str) and _PARAM_RE.match(value.strip()):
        if not allow_params:
            raise ValueError(
                f"{shown(value)} is a name; only port numbers and ranges are allowed here"
            )
        return ParamRef(value.strip())
    return PortRange.parse(value)


def _dump_port_item(item: PortRange | ParamRef) -> int | str:
    if isinstance(item, ParamRef):
        return item.name
    return item.start if item.start == item.end else str(item)


def _on_off_or_choice(value: Any) -> Any:
    """A feature's value as written: ``true``/``false``, or text (a choice, checked against
    the feature's); anything else is refused here, in one message, rather than read as a
    boolean (``1`` as on) or refused by each member of the union."""
    if isinstance(value, bool | str):
        return value
    raise ValueError(f"{shown(value)} is neither on or off nor a choice")


#: on or off (``true``/``false``), or the choice of an enumerated feature
FeatureValue = Annotated[bool | Identifier, BeforeValidator(_on_off_or_choice)]


def _as_list(value: Any) -> Any:
    """Accept a scalar or a comma-separated string where a list of ports is expected."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list | tuple):
        return value
    return [value]  # any other single value: the item's own check says what is wrong with it


PortItem = Annotated[
    PortRange | ParamRef,
    PlainValidator(parse_port_item),
    PlainSerializer(_dump_port_item),
    WithJsonSchema(_PORT_ITEM_SCHEMA),
]
#: A port or a range, without parameter names.
_LITERAL_ITEM_SCHEMA: dict[str, Any] = {"anyOf": _PORT_ITEM_SCHEMA["anyOf"][:2]}
LiteralPortItem = Annotated[
    PortRange,
    PlainValidator(lambda v: parse_port_item(v, allow_params=False)),
    PlainSerializer(_dump_port_item),
    WithJsonSchema(_LITERAL_ITEM_SCHEMA),
]
#: Ports as written in a product: numbers, ranges and parameter names (``[135, 445]``).
PortSpec = Annotated[
    tuple[PortItem, ...],
    BeforeValidator(_as_list),
    Field(min_length=1),
    WithJsonSchema(
        {"anyOf": [_PORT_ITEM_SCHEMA, {"type": "array", "items": _PORT_ITEM_SCHEMA, "minItems": 1}]}
    ),
]
#: Ports as written in a deployment or a parameter default: numbers and ranges only.
LiteralPorts = Annotated[
    tuple[LiteralPortItem, ...],
    BeforeValidator(_as_list),
    Field(min_length=1),
    WithJsonSchema(
        {
            "anyOf": [
                _LITERAL_ITEM_SCHEMA,
                {"type": "array", "items": _LITERAL_ITEM_SCHEMA, "minItems": 1},
            ]
        }
    ),
]


def _parse_condition(value: Any) -> Condition:
    if not isinstance(value, str):
        raise ValueError(f"a condition is text such as 'not rbac', not {type(value).__name__}")
    return parse_condition(value)


ConditionField = Annotated[
    Condition,
    PlainValidator(_parse_condition),
    PlainSerializer(str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "boolean expression over feature names: and, or, not, parentheses",
            "examples": ["not rbac", "lab and not exchange"],
        }
    ),
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _single_address(text: str) -> Network | None:
    """The one-address network of ``text`` read by the C library's ``inet_pton``, which is
    three times faster than :mod:`ipaddress` parsing it (a deployment of 50,000 clients has
    50,000 addresses); ``None`` where ``inet_pton`` refuses it, and :mod:`ipaddress` then
    reads it and words the error.  Both accept the same texts: dotted quads without leading
    zeros, and IPv6 with at most one ``::``, four hex digits a group, an IPv4 tail."""
    try:
        if ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text)
            return ipaddress.IPv6Network((int.from_bytes(packed, "big"), 128))
        packed = socket.inet_pton(socket.AF_INET, text)
        return ipaddress.IPv4Network((int.from_bytes(packed, "big"), 32))
    except (OSError, ValueError, UnicodeError):
        return None


def parse_network(value: Any) -> Network:
    """An address (``192.0.2.10``) or a network (``198.51.100.0/24``); host bits must be clear."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not an IPv4/IPv6 address or CIDR network")
    text = value.strip()
    if "%" in text:
        bare = text.split("%", 1)[0]
        raise ValueError(
            f"{shown(text)} is a scoped IPv6 address: the part after '%' names a network "
            f"interface, which firewall rules cannot match; write {shown(bare)} or a global address"
        )
    if "/" not in text and (address := _single_address(text)) is not None:
        return address
    try:
        # what ip_network does, without first trying (and failing) to read an IPv6 text as
        # IPv4: only IPv6 texts have a ':' in them
        if ":" in text:
            return ipaddress.IPv6Network(text, strict=True)
        return ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{shown(text)} is not an IPv4/IPv6 address or CIDR network") from None
        raise ValueError(
            f"{text!r} has host bits set; write the network {loose} or the single address "
            f"{text.split('/')[0]}"
        ) from None


NetworkField = Annotated[
    Network,
    PlainValidator(parse_network),
    PlainSerializer(network_text),
    WithJsonSchema(
        {
            "type": "string",
            "description": "IPv4 or IPv6 address, or CIDR network",
            "examples": ["192.0.2.10", "198.51.100.0/24", "2001:db8::10"],
        }
    ),
]


#: the longest DNS name, without its optional trailing dot (RFC 1035 section 2.3.4)
MAX_DNS_NAME = 253
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def parse_dns_name(value: Any) -> str:
    """A DNS host name (RFC 1123): labels of letters, digits and ``-`` joined by dots.

    A trailing dot is allowed, not required.  A name whose last label is all digits is refused:
    resolvers read it as an IPv4 address (RFC 3696 section 2), and addresses have their own key.
    """
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not a DNS name; write the name as quoted text")
    name = value.strip()
    bare = name.removesuffix(".")
    if not bare:
        raise ValueError("the DNS name is empty")
    if len(bare) > MAX_DNS_NAME:
        raise ValueError(
            f"DNS name {bare[:40]}... is {len(bare)} characters long; at most "
            f"{MAX_DNS_NAME} are allowed"
        )
    for label in bare.split("."):
        if not label:
            raise ValueError(f"DNS name {name!r} has an empty label (two dots in a row?)")
        if len(label) > 63:
            raise ValueError(
                f"DNS name {name!r}: label {label[:20]}... is {len(label)} characters long; "
                "at most 63 are allowed"
            )
        if not _DNS_LABEL.match(label):
            raise ValueError(
                f"DNS name {name!r}: label {label!r} may hold only letters, digits and '-', "
                "and may not start or end with '-'"
            )
    if bare.rpartition(".")[2].isdigit():
        raise ValueError(
            f"{name!r} is not a DNS name: its last label is all digits, so resolvers read it as "
            "an address (addresses belong in 'addresses')"
        )
    return name


DnsName = Annotated[
    str,
    PlainValidator(parse_dns_name),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_DNS_NAME + 1,
            "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$",
            "description": "DNS host name (RFC 1123 labels, at most 253 characters)",
            "examples": ["shop01.example.com"],
        }
    ),
]


def _bool_to_word(value: Any) -> Any:
    # YAML 1.1 reads yes/no as booleans; the vendor's word for them is kept.
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


class OrBoolean:
    """JSON Schema hook: YAML 1.1 reads yes/no unquoted as booleans, which are accepted too."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(core_schema), {"type": "boolean"}]}


class OneOrMany:
    """JSON Schema hook for lists that also accept a single item (``from: client``)."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        return {"anyOf": [schema.get("items", {}), schema]}


def as_tuple(value: object) -> object:
    """Accept a single name where a list of names is expected."""
    return (value,) if isinstance(value, str) else value


def some_messages(value: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
    """An ``icmp:`` list written out for protocol icmp names at least one message: an empty
    one opens nothing, which is not what leaving the key out means (echo-request).  (Of
    another protocol, an empty list is no message either, and harmless.)"""
    if not value and info.data.get("protocol") is Protocol.ICMP:
        raise ValueError(
            "an empty list names no ICMP message: list the messages, or leave 'icmp' out for "
            "echo-request (ping)"
        )
    return value


YesNoWord = BeforeValidator(_bool_to_word)


def _true_or_false(value: Any) -> Any:
    """A switch is YAML's ``true`` or ``false`` and nothing else: pydantic would read
    ``"off"``, ``"n"`` or ``0`` as false, and a quoted word is a sign the writer meant
    something the model cannot tell."""
    if isinstance(value, bool):
        return value
    raise ValueError(f"{shown(value)} is not a switch: write true or false, unquoted")


#: true or false as YAML writes them; no text, no numbers
Flag = Annotated[bool, BeforeValidator(_true_or_false)]
