"""From files to a plan: the one place that joins the loader and the planner.

The loader turns files into models and knows where each value was written; the planner expands
models and reports problems by model path.  Here a planning problem becomes a diagnostic
located in the file the user wrote (``deployment.yaml:41:7: ...``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from portplan._errors import Diagnostic, InputError, PlanError
from portplan.load.deployment import Bundle, deployment_from, load_deployment
from portplan.load.product import product_from
from portplan.load.yamlsrc import load_yaml
from portplan.model.product import Product
from portplan.plan import Plan, build_plan

__all__ = [
    "check_files",
    "file_kind",
    "load_plan",
    "load_plan_or_product",
    "plan_bundle",
    "validate_files",
]

_DEPLOYMENT_KEYS = frozenset({"hosts", "products"})


def file_kind(data: object) -> str | None:
    """``product``, ``deployment`` or ``None`` from the top-level keys of a loaded file.

    ``flows`` makes a product; else ``hosts`` or ``products`` a deployment (whose stray
    ``components:``, placements written outside their product, is then an unknown key of a
    deployment, not a sign of a product); else ``components`` a product.
    """
    if not isinstance(data, dict):
        return None
    keys = set(data)
    if "flows" in keys:
        return "product"
    if keys & _DEPLOYMENT_KEYS:
        return "deployment"
    if "components" in keys:
        return "product"
    return None


def plan_bundle(bundle: Bundle) -> Plan:
    """The plan of a loaded deployment; :class:`InputError` locates what stops it."""
    try:
        return build_plan(bundle)
    except PlanError as exc:
        raise InputError(bundle.diagnostics(exc.problems)) from None


def load_plan(path: Path | str, text: str | None = None) -> Plan:
    """Load a deployment file (and its products) and expand it into its plan.

    Every problem, in any of the files, is raised at once as an :class:`InputError`.
    ``text``: the deployment's content, when it does not come from ``path`` itself.
    """
    return plan_bundle(load_deployment(path, text))


def load_plan_or_product(
    path: Path | str, text: str | None = None
) -> tuple[Plan | Product, tuple[Path, ...]]:
    """The plan of a deployment file, or the product of a product file, whichever ``path``
    holds, and every file it was read from (a deployment's product files too: outputs never
    go over them); every problem is raised at once as an :class:`InputError`."""
    path = Path(path)
    data, source, problems = load_yaml(path, text)
    if problems:
        raise InputError(problems)
    kind = file_kind(data)
    if kind == "product":
        product, problems = product_from(data, source)
        if product is None or problems:
            raise InputError(problems)
        return product, (path,)
    if kind == "deployment":
        bundle, problems = deployment_from(path, data, source)
        if bundle is None or problems:
            raise InputError(problems)
        return plan_bundle(bundle), bundle.files
    raise InputError([_neither(path)])


def _neither(path: Path) -> Diagnostic:
    return Diagnostic(
        file=path,
        line=1,
        column=1,
        message="neither a product (with 'flows:') nor a deployment (with 'hosts:')",
        hint="see `portplan schema product` and `portplan schema deployment`",
    )


def validate_files(paths: Iterable[Path], texts: Mapping[Path, str] | None = None) -> list[str]:
    """Check each file (deployments are also expanded); one summary line per valid file.

    ``texts`` holds the content of paths that are not read from disk (standard input).
    Raises :class:`InputError` with the diagnostics of every invalid file once all are read.
    """
    summaries, problems = check_files(paths, texts)
    if problems:
        raise InputError(problems)
    return summaries


def check_files(
    paths: Iterable[Path], texts: Mapping[Path, str] | None = None
) -> tuple[list[str], list[Diagnostic]]:
    """:func:`validate_files`, returning the summaries of the valid files and the problems of
    the others instead of raising."""
    paths = list(paths)
    summaries: list[str] = []
    problems: list[Diagnostic] = []
    for path in paths:
        data, source, found = load_yaml(path, (texts or {}).get(path))
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
                    problems.extend(bundle.diagnostics(exc.problems))
                    continue
                summaries.append(
                    f"{path}: ok: deployment {bundle.deployment.name}, {len(plan.rows)} flow rows"
                )
                summaries.extend(f"{path}: warning: {warning}" for warning in plan.warnings)
        else:
            problems.append(_neither(path))
    return summaries, _once(problems, paths)


def _once(problems: Iterable[Diagnostic], paths: Iterable[Path]) -> list[Diagnostic]:
    """Each problem once, in the order found: a product file given beside a deployment that
    uses it is read twice, and its problems are named at the path the user gave."""
    # (realpath, not Path.resolve: a link that leads back to itself is not an error here)
    given = {os.path.realpath(path): path for path in paths}
    seen: set[tuple[object, ...]] = set()
    unique: list[Diagnostic] = []
    for found in problems:
        named = given.get(os.path.realpath(found.file))
        problem = found if named is None else replace(found, file=named)
        key = (str(problem.file), problem.line, problem.column, problem.message, problem.hint)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
