"""Loading what a command works on: a deployment's plan, or a product, from a file, standard
input or the catalog, with the loader's warnings logged and host names checked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from portplan import pipeline
from portplan._errors import InputError, UsageError
from portplan._text import choice_hint
from portplan.cli._files import read_input
from portplan.cli._log import log
from portplan.load.catalog import catalog_ids, catalog_path, load_catalog_product
from portplan.load.deployment import load_deployment
from portplan.load.product import load_product
from portplan.load.reading import read_text
from portplan.model.product import Product
from portplan.plan import ANYWHERE_HOST, Plan

if TYPE_CHECKING:  # a type only: the readers load when a ruleset is read
    from portplan.audit.collect import RulesetFile

__all__ = [
    "load_plan",
    "load_plan_or_product",
    "load_product_arg",
    "require_host",
    "require_managed",
    "ruleset_file",
]


def load_plan(deployment: Path) -> tuple[Plan, tuple[Path, ...]]:
    """The plan of the deployment file ``deployment`` (``-``: standard input), and every file
    it was read from (outputs never go over them); the plan's warnings are logged."""
    name, text = read_input(deployment)
    bundle = load_deployment(name, text)
    plan = pipeline.plan_bundle(bundle)
    for warning in plan.warnings:
        log.warning("%s", warning)
    return plan, bundle.files


def require_host(host: str, known: Iterable[str], deployment: Path) -> None:
    """Refuse a host name the deployment does not have, naming the near ones."""
    hosts = list(known)
    if host not in hosts:
        where = "the deployment" if str(deployment) == "-" else str(deployment)
        raise UsageError(f"no host {host!r} in {where}; " + choice_hint(host, hosts, "hosts"))


def require_managed(plan: Plan, host: str, what: str, deployment: Path) -> None:
    """Refuse a host portplan does not manage (``managed: false``, or the synthetic host
    ``anywhere``) where ``what`` (``--host``, ``--on``) needs one it manages."""
    why = plan.unmanaged(host)
    if why is None:
        return
    where = "the deployment" if str(deployment) == "-" else str(deployment)
    if plan.hosts.get(host) is ANYWHERE_HOST:
        change = "to name the clients of those flows, place 'any' on hosts in " + where
    else:
        change = f"if portplan should manage {host}, remove 'managed: false' from it in {where}"
    raise UsageError(
        f"{what} {host}: {why}, so portplan writes, applies and listens for no ruleset of it; "
        f"give a host portplan manages ({change})"
    )


def load_product_arg(ref: str) -> tuple[Product, list[Path]]:
    """A product named on the command line: a catalog id, a product file or ``-``; with the
    files it was read from."""
    if ref in catalog_ids():
        return load_catalog_product(ref), [catalog_path(ref)]
    path = Path(ref)
    if ref == "-" or path.suffix in (".yaml", ".yml") or path.exists():
        name, text = read_input(path)
        return load_product(name, text), [path]
    return load_catalog_product(ref), []  # raises UnknownProductError with a did-you-mean


def load_plan_or_product(ref: str) -> tuple[Plan | Product, list[Path]]:
    """A deployment's plan or a product, named on the command line: a catalog id, a
    deployment or product file, or ``-``; with the files it was read from."""
    if ref in catalog_ids():
        return load_catalog_product(ref), [catalog_path(ref)]
    path = Path(ref)
    if ref == "-" or path.suffix in (".yaml", ".yml") or path.exists():
        name, text = read_input(path)
        loaded, files = pipeline.load_plan_or_product(name, text)
        if isinstance(loaded, Plan):
            for warning in loaded.warnings:
                log.warning("%s", warning)
        return loaded, list(dict.fromkeys([path, *files]))
    return load_catalog_product(ref), []  # raises UnknownProductError with a did-you-mean


def ruleset_file(
    spec: str,
    kinds: Sequence[str] | None = None,
    expected: str = "a ruleset collected on the host",
) -> tuple[Path, RulesetFile]:
    """``[KIND:]PATH`` (KIND one of ``kinds``, by default every ruleset kind) → the file's
    path and its content; ``expected``: what the file is, as an error asks for it."""
    # the ruleset readers only for the commands that read rulesets
    from portplan.audit.collect import RULESET_KINDS, RulesetFile  # noqa: PLC0415 - 25 ms

    kinds = RULESET_KINDS if kinds is None else kinds
    kind, sep, rest = spec.partition(":")
    path = Path(rest) if sep and kind in kinds else Path(spec)
    named = kind if sep and kind in kinds else None
    name, text = read_input(path)
    if text is None:  # read as every input is: a regular file of bounded size, UTF-8
        text, problems = read_text(path, expected=expected)
        if text is None:
            raise InputError(problems)
    return path, RulesetFile(str(name), text, named)
