"""portplan: a vendor's communication-ports document as a model, and everything derived from it.

The public API is what this module exports (documented in docs/api.md); every other module is
an implementation detail.

    >>> import portplan
    >>> plan = portplan.load_plan("examples/shopping-contoso.yaml")
    >>> plan.rows[0].key
    'shopping-6.1/website-https'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from portplan._version import __version__

if TYPE_CHECKING:
    from portplan._errors import (
        ApplyError,
        ConditionSyntaxError,
        Diagnostic,
        InputError,
        InventoryError,
        LockoutError,
        PlanError,
        PluginError,
        PortplanError,
        Problem,
        TargetError,
        ToolError,
        UnknownProductError,
        UsageError,
        VerifyError,
    )
    from portplan.fanout import FanoutRun, verify_inventory
    from portplan.load.catalog import catalog_ids, load_catalog_product
    from portplan.load.deployment import Bundle, load_deployment
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
    from portplan.pipeline import load_plan, validate_files
    from portplan.plan import Decision, Hop, Plan, PlannedFlow, build_plan
    from portplan.probe.verification import Verification, verify
    from portplan.probe.verify import FlowCheck
    from portplan.report.machine import output_schema
    from portplan.targets import DefaultAction, RuleOptions, Target, get_target, target_names

# Exported names are imported on first use, so that `portplan --help` does not pay for pydantic.
_EXPORTS = {
    "ApplyError": "portplan._errors",
    "Bundle": "portplan.load.deployment",
    "Component": "portplan.model",
    "ConditionSyntaxError": "portplan._errors",
    "Decision": "portplan.plan",
    "DefaultAction": "portplan.targets",
    "Deployment": "portplan.model",
    "Diagnostic": "portplan._errors",
    "FanoutRun": "portplan.fanout",
    "Flow": "portplan.model",
    "FlowCheck": "portplan.probe.verify",
    "Hop": "portplan.plan",
    "Host": "portplan.model",
    "InputError": "portplan._errors",
    "InventoryError": "portplan._errors",
    "LockoutError": "portplan._errors",
    "Plan": "portplan.plan",
    "PlanError": "portplan._errors",
    "PlannedFlow": "portplan.plan",
    "PluginError": "portplan._errors",
    "PortRange": "portplan.model",
    "PortSet": "portplan.model",
    "PortplanError": "portplan._errors",
    "Problem": "portplan._errors",
    "Product": "portplan.model",
    "RuleOptions": "portplan.targets",
    "Target": "portplan.targets",
    "TargetError": "portplan._errors",
    "ToolError": "portplan._errors",
    "UnknownProductError": "portplan._errors",
    "UsageError": "portplan._errors",
    "Verification": "portplan.probe.verification",
    "VerifyError": "portplan._errors",
    "build_plan": "portplan.plan",
    "catalog_ids": "portplan.load.catalog",
    "get_target": "portplan.targets",
    "json_schema": "portplan.model.schema",
    "load_catalog_product": "portplan.load.catalog",
    "load_deployment": "portplan.load.deployment",
    "load_plan": "portplan.pipeline",
    "load_product": "portplan.load.product",
    "output_schema": "portplan.report.machine",
    "parse_condition": "portplan.model",
    "target_names": "portplan.targets",
    "validate_files": "portplan.pipeline",
    "verify": "portplan.probe.verification",
    "verify_inventory": "portplan.fanout",
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
    "ApplyError",
    "Bundle",
    "Component",
    "ConditionSyntaxError",
    "Decision",
    "DefaultAction",
    "Deployment",
    "Diagnostic",
    "FanoutRun",
    "Flow",
    "FlowCheck",
    "Hop",
    "Host",
    "InputError",
    "InventoryError",
    "LockoutError",
    "Plan",
    "PlanError",
    "PlannedFlow",
    "PluginError",
    "PortRange",
    "PortSet",
    "PortplanError",
    "Problem",
    "Product",
    "RuleOptions",
    "Target",
    "TargetError",
    "ToolError",
    "UnknownProductError",
    "UsageError",
    "Verification",
    "VerifyError",
    "__version__",
    "build_plan",
    "catalog_ids",
    "get_target",
    "json_schema",
    "load_catalog_product",
    "load_deployment",
    "load_plan",
    "load_product",
    "output_schema",
    "parse_condition",
    "target_names",
    "validate_files",
    "verify",
    "verify_inventory",
]
