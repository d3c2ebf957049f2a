"""portplan: a vendor's communication-ports document as a model, and everything derived from it.

The public API is what this module exports; everything else is an implementation detail.

    >>> from portplan import load_deployment, build_plan
    >>> plan = build_plan(load_deployment("examples/shopping-contoso.yaml"))
    >>> plan.rows[0].key
    'shopping-6.1/website-https'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from portplan._version import __version__

if TYPE_CHECKING:
    from portplan.catalog import catalog_ids, load_catalog_product
    from portplan.errors import (
        Diagnostic,
        InputError,
        PlanError,
        PortplanError,
        UnknownProductError,
    )
    from portplan.load.deployment import Bundle, load_deployment
    from portplan.load.files import validate_files
    from portplan.load.product import load_product
    from portplan.model import (
        Component,
        Deployment,
        Flow,
        Host,
        PortRange,
        PortSet,
        Product,
        parse_condition,
    )
    from portplan.model.schema import json_schema
    from portplan.plan import Decision, Hop, Plan, PlannedFlow, build_plan

# Exported names are imported on first use, so that `portplan --help` does not pay for pydantic.
_EXPORTS = {
    "Bundle": "portplan.load.deployment",
    "Component": "portplan.model",
    "Decision": "portplan.plan",
    "Deployment": "portplan.model",
    "Diagnostic": "portplan.errors",
    "Flow": "portplan.model",
    "Hop": "portplan.plan",
    "Host": "portplan.model",
    "InputError": "portplan.errors",
    "Plan": "portplan.plan",
    "PlanError": "portplan.errors",
    "PlannedFlow": "portplan.plan",
    "PortRange": "portplan.model",
    "PortSet": "portplan.model",
    "PortplanError": "portplan.errors",
    "Product": "portplan.model",
    "UnknownProductError": "portplan.errors",
    "build_plan": "portplan.plan",
    "catalog_ids": "portplan.catalog",
    "json_schema": "portplan.model.schema",
    "load_catalog_product": "portplan.catalog",
    "load_deployment": "portplan.load.deployment",
    "load_product": "portplan.load.product",
    "parse_condition": "portplan.model",
    "validate_files": "portplan.load.files",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'portplan' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Bundle",
    "Component",
    "Decision",
    "Deployment",
    "Diagnostic",
    "Flow",
    "Hop",
    "Host",
    "InputError",
    "Plan",
    "PlanError",
    "PlannedFlow",
    "PortRange",
    "PortSet",
    "PortplanError",
    "Product",
    "UnknownProductError",
    "__version__",
    "build_plan",
    "catalog_ids",
    "json_schema",
    "load_catalog_product",
    "load_deployment",
    "load_product",
    "parse_condition",
    "validate_files",
]
