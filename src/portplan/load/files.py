"""Validate any mix of product and deployment files, collecting every problem."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from portplan.errors import Diagnostic, InputError, PlanError
from portplan.load.deployment import deployment_from
from portplan.load.product import product_from
from portplan.load.yamlsrc import load_yaml

_PRODUCT_KEYS = frozenset({"flows", "components"})
_DEPLOYMENT_KEYS = frozenset({"hosts", "products"})


def file_kind(data: object) -> str | None:
    """``product``, ``deployment`` or ``None`` from the top-level keys of a loaded file."""
    if not isinstance(data, dict):
        return None
    keys = set(data)
    if keys & _PRODUCT_KEYS:
        return "product"
    if keys & _DEPLOYMENT_KEYS:
        return "deployment"
    return None


def validate_files(paths: Iterable[Path]) -> list[str]:
    """Check each file (deployments are also expanded); one summary line per valid file.

    Raises :class:`InputError` with the diagnostics of every invalid file once all are read.
    """
    from portplan.plan import build_plan

    summaries: list[str] = []
    problems: list[Diagnostic] = []
    for path in paths:
        data, source, found = load_yaml(path)
        if found:
            problems.extend(found)
            continue
        kind = file_kind(data)
        if kind == "product":
            product, found = product_from(data, source)
            problems.extend(found)
            if product is not None:
                summaries.append(
                    f"{path}: ok: product {product.id}, {len(product.flows)} flows, "
                    f"{len(product.components)} components"
                )
        elif kind == "deployment":
            bundle, found = deployment_from(path, data, source)
            problems.extend(found)
            if bundle is not None:
                try:
                    plan = build_plan(bundle)
                except PlanError as exc:
                    problems.extend(exc.diagnostics)
                    continue
                summaries.append(
                    f"{path}: ok: deployment {bundle.deployment.name}, {len(plan.rows)} flow rows"
                )
                summaries.extend(f"{path}: warning: {warning}" for warning in plan.warnings)
        else:
            problems.append(
                Diagnostic(
                    file=path,
                    line=1,
                    column=1,
                    message="neither a product (with 'flows:') nor a deployment (with 'hosts:')",
                    hint="see `portplan schema product` and `portplan schema deployment`",
                )
            )
    if problems:
        raise InputError(problems)
    return summaries
