"""Frozen value types of portplan: products, deployments, ports and conditions."""

from portplan.model._types import ParamRef, Protocol
from portplan.model.conditions import Condition, ConditionSyntaxError, parse_condition
from portplan.model.deployment import Deployment, Host, ProductBinding
from portplan.model.ports import PortRange, PortSet, merge_ranges
from portplan.model.product import (
    AppProtocol,
    Component,
    ComponentKind,
    Configurability,
    Configurable,
    Document,
    DynamicRange,
    Feature,
    Flow,
    Interface,
    Layout,
    Parameter,
    PlatformPorts,
    Product,
    Published,
    Section,
    Traffic,
)

__all__ = [
    "AppProtocol",
    "Component",
    "ComponentKind",
    "Condition",
    "ConditionSyntaxError",
    "Configurability",
    "Configurable",
    "Deployment",
    "Document",
    "DynamicRange",
    "Feature",
    "Flow",
    "Host",
    "Interface",
    "Layout",
    "ParamRef",
    "Parameter",
    "PlatformPorts",
    "PortRange",
    "PortSet",
    "Product",
    "ProductBinding",
    "Protocol",
    "Published",
    "Section",
    "Traffic",
    "merge_ranges",
    "parse_condition",
]
