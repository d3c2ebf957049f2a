"""Loading what a command works on: a deployment's plan, or a product, from a file, standard
input or the catalog, with the loader's warnings logged and host names checked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from portplan import pipeline
from portplan._errors import UsageError
from portplan._text import choice_hint
from portplan.audit.collect import RULESET_KINDS, RulesetFile
from portplan.cli._files import read_input
from portplan.cli._options import log
from portplan.load.catalog import catalog_ids, catalog_path, load_catalog_product
from portplan.load.product import load_product
from portplan.model.product import Product
from portplan.plan import Plan

__all__ = ["load_plan", "load_product_arg", "require_host", "ruleset_file"]


def load_plan(deployment: Path) -> Plan:
    """The plan of the deployment file ``deployment`` (``-``: standard input); its warnings
    are logged."""
    name, text = read_input(deployment)
    plan = pipeline.load_plan(name, text)
    for warning in plan.warnings:
        log.warning("%s", warning)
    return plan


def require_host(host: str, known: Iterable[str], deployment: Path) -> None:
    """Refuse a host name the deployment does not have, naming the near ones."""
    hosts = list(known)
    if host not in hosts:
        where = "the deployment" if str(deployment) == "-" else str(deployment)
        raise UsageError(f"no host {host!r} in {where}; " + choice_hint(host, hosts, "hosts"))


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


def ruleset_file(spec: str, kinds: Sequence[str] = RULESET_KINDS) -> tuple[Path, RulesetFile]:
    """``[KIND:]PATH`` (KIND one of ``kinds``) → the file's path and its content."""
    kind, sep, rest = spec.partition(":")
    path = Path(rest) if sep and kind in kinds else Path(spec)
    named = kind if sep and kind in kinds else None
    name, text = read_input(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text: {exc}") from None
        except OSError as exc:
            raise UsageError(
                f"cannot read {path}: {exc.strerror or exc} (check the path)"
            ) from None
    return path, RulesetFile(str(name), text, named)
