"""Load a deployment file, resolve its products, and check every name it uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portplan._errors import Diagnostic, InputError, ModelPath, Problem, UsageError
from portplan._text import choice_hint, describe_ports
from portplan.load.catalog import catalog_ids, catalog_path, load_catalog_product
from portplan.load.deployment_names import check_names
from portplan.load.hosts_from import fill_hosts, inventory_files
from portplan.load.product import load_product, read_product
from portplan.load.reading import NO_SUCH_FILE
from portplan.load.revision import revision_path
from portplan.load.validate import valid_field, validate
from portplan.load.yamlsrc import SourceMap, Span, load_yaml
from portplan.model.deployment import (
    Deployment,
    Host,
    ProductBinding,
)
from portplan.model.ports import PortSet
from portplan.model.product import Configurability, Product

__all__ = ["Bundle", "deployment_from", "load_deployment", "read_deployment", "swap_products"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """A deployment with the products it uses, and where each of its values was written."""

    deployment: Deployment
    products: dict[str, Product]
    source: SourceMap
    #: every file read: the deployment and its product files (catalog files included), so
    #: that no output is ever written over one of them
    files: tuple[Path, ...] = ()

    @property
    def file(self) -> Path:
        return self.source.file

    def where(self, path: ModelPath) -> str | None:
        """``file:line`` of the value at ``path`` in the deployment file (for messages)."""
        span = self.source.value(path)
        return f"{self.file.name}:{span.line}" if span else None

    def diagnostics(self, problems: Iterable[Problem]) -> list[Diagnostic]:
        """Problems found by model path (planning's), located in the deployment file."""
        return [self.source.locate(problem) for problem in problems]


def read_deployment(path: Path, text: str | None = None) -> tuple[Bundle | None, list[Diagnostic]]:
    """Read and check a deployment and its product files; collect every problem.

    ``text``, when given, is the deployment's content (read from standard input, say); ``path``
    then only names it in messages, and product files are found relative to its folder.
    """
    data, source, problems = load_yaml(path, text)
    if problems:  # (a file holding only `null` is for validate() to refuse, with a message)
        return None, problems
    return deployment_from(path, data, source)


def deployment_from(
    path: Path, data: Any, source: SourceMap
) -> tuple[Bundle | None, list[Diagnostic]]:
    """Check a deployment file at ``path`` already read by :func:`load_yaml`, and its products."""
    data, problems = fill_hosts(path, data, source)  # hosts_from: ansible:PATH
    if problems:  # (its hosts are not all there: the products' files are)
        return None, problems + _check_products(path, source, None, _bindings_named(data))[1]
    deployment, problems = validate(Deployment, data, source, "deployment")
    if deployment is None:  # still: what can be checked with the sections valid on their own
        return None, problems + _salvage(path, data if isinstance(data, dict) else {}, source)
    products, found = _check_products(path, source, deployment.hosts, deployment.products)
    problems.extend(found)
    known = {name for product in products.values() for name in product.dynamic_ranges}
    problems += check_names(
        source,
        hosts=deployment.hosts,
        management=deployment.management,
        forbidden=deployment.forbidden,
        product_ids=deployment.products.keys(),
        known_ranges=known if len(products) == len(deployment.products) else None,
    )
    if problems:
        return None, problems
    files = [path]
    if deployment.hosts_from is not None:  # the inventory the addresses came from
        files.extend(inventory_files(path, deployment.hosts_from))
    for product_id, binding in deployment.products.items():
        files.append(
            catalog_path(product_id) if binding.file is None else path.parent / binding.file
        )
    return Bundle(deployment=deployment, products=products, source=source, files=tuple(files)), []


def swap_products(
    path: Path, text: str | None, swaps: Sequence[tuple[str, str]]
) -> tuple[Bundle, dict[str, str]]:
    """The deployment at ``path`` with products swapped, each ``(OLD, NEW)``: product ``OLD``
    bound as it is to ``NEW``, a catalog id or a product file; and old id -> new id.

    The deployment is read and checked as it is first (its problems, at their lines, are the
    error), then swapped in memory, never re-written: a problem the swap reveals (a feature the
    new product does not have) is located where the user wrote it.
    """
    data, source, problems = load_yaml(path, text)
    if problems:
        raise InputError(problems)
    bundle, problems = deployment_from(path, data, source)  # (leaves ``data`` as it is)
    if bundle is None:
        raise InputError(problems)
    products: dict[str, Any] = dict(data.get("products") or {})
    origin: dict[str, str] = {}  #: a swapped-in product's id -> the key the user wrote
    renamed: dict[str, str] = {}
    for old, new in swaps:
        if old not in products:
            raise UsageError(
                f"{path}: no product {old!r} to swap; " + choice_hint(old, products, "products")
            )
        binding = dict(products[old] or {})
        if new in catalog_ids():
            binding.pop("file", None)
            new_id = new
        else:
            new_id = load_product(Path(new)).id
            binding["file"] = str(Path(new).resolve())
        if new_id != old and new_id in products:
            raise UsageError(
                f"{path}: product {old!r} cannot become {new_id!r}: the deployment already has a "
                f"product {new_id!r}, whose binding the swap would drop; swap that one, or "
                "compare with a copy of the deployment edited as you mean it"
            )
        products = {
            (new_id if key == old else key): (binding if key == old else value)
            for key, value in products.items()
        }
        origin[new_id] = origin.pop(old, old)
        renamed[old] = new_id
    swapped = _SwappedSource(source, origin)
    bundle, problems = deployment_from(path, {**data, "products": products}, swapped)
    if bundle is None:
        raise InputError(problems)
    return bundle, renamed


class _SwappedSource(SourceMap):
    """Where a deployment whose products were swapped in memory was written: a path under a
    swapped-in product is where the user wrote the product it replaced."""

    __slots__ = ("_origin", "_written", "swapped")

    def __init__(self, written: SourceMap, origin: Mapping[str, str]) -> None:
        super().__init__(written.file)
        self._written, self._origin = written, origin
        #: the products swapped in, whose files (absolute paths) are given on the command
        #: line: read as they are, even into a deployment read at a git revision
        self.swapped = frozenset(origin)

    def _at(self, path: ModelPath) -> ModelPath:
        if len(path) > 1 and path[0] == "products" and path[1] in self._origin:
            return ("products", self._origin[str(path[1])], *path[2:])
        return path

    def has(self, path: ModelPath) -> bool:
        return self._written.has(self._at(path))

    def value(self, path: ModelPath) -> Span | None:
        return self._written.value(self._at(path))

    def key(self, path: ModelPath) -> Span | None:
        return self._written.key(self._at(path))

    def is_quoted(self, path: ModelPath) -> bool:
        return self._written.is_quoted(self._at(path))


def _salvage(path: Path, written: Mapping[str, Any], source: SourceMap) -> list[Diagnostic]:
    """The problems, past its schema's, of a deployment that failed its schema: each check
    of the valid path, run where the sections it needs are valid on their own (the schema's
    problems are in the others, reported by it), so nothing is said twice."""
    hosts = valid_field(Deployment, "hosts", written.get("hosts"))
    bindings = _bindings_named(written)
    products, problems = _check_products(path, source, hosts, bindings)
    bound = valid_field(Deployment, "products", written.get("products"))
    known = {name for product in products.values() for name in product.dynamic_ranges}
    named = written.get("products")
    return problems + check_names(
        source,
        hosts=hosts,
        management=valid_field(Deployment, "management", written.get("management", ())),
        forbidden=valid_field(Deployment, "forbidden", written.get("forbidden", ())),
        product_ids=[  # each id valid on its own, whatever its binding
            product_id
            for product_id in (named if isinstance(named, dict) else ())
            if valid_field(Deployment, "products", {product_id: {}}) is not None
        ],
        known_ranges=known if bound is not None and len(products) == len(bound) else None,
    )


def _bindings_named(data: Mapping[str, Any]) -> dict[str, ProductBinding]:
    """The products a deployment that failed its schema still names (by a valid id): each
    bound as written where its binding is valid, else only to the file it names, if that is
    valid, for that file's problems to be reported too."""
    named = data.get("products")
    bindings: dict[str, ProductBinding] = {}
    for product_id, binding in named.items() if isinstance(named, dict) else ():
        valid = valid_field(Deployment, "products", {product_id: binding})
        if valid is None:
            file = binding.get("file") if isinstance(binding, dict) else None
            valid = valid_field(Deployment, "products", {product_id: {"file": file}})
        if valid is not None:
            bindings.update(valid)
    return bindings


def _check_products(
    path: Path,
    source: SourceMap,
    hosts: Mapping[str, Host] | None,
    bindings: Mapping[str, ProductBinding],
) -> tuple[dict[str, Product], list[Diagnostic]]:
    """The products the ``bindings`` name, read, and every problem of their files and of the
    bindings (placements only against ``hosts``, when they are known), product by product."""
    products: dict[str, Product] = {}
    problems: list[Diagnostic] = []
    for product_id, binding in bindings.items():
        product, found = _resolve_product(path, source, product_id, binding)
        problems.extend(found)
        if product is not None:
            products[product_id] = product
        problems.extend(_check_binding(hosts, product_id, binding, product, source))
    return products, problems


def load_deployment(path: Path | str, text: str | None = None) -> Bundle:
    """Load a deployment and its products; raise :class:`InputError` listing every problem.

    ``text``: the deployment's content, when it does not come from ``path`` itself.
    """
    bundle, problems = read_deployment(Path(path), text)
    if bundle is None:
        raise InputError(problems)
    return bundle


def _resolve_product(
    path: Path, source: SourceMap, product_id: str, binding: ProductBinding
) -> tuple[Product | None, list[Diagnostic]]:
    where = ("products", product_id)
    if binding.file is None:
        if product_id not in catalog_ids():
            return None, [
                source.diagnostic(
                    where,
                    f"no product {product_id!r} in the catalog",
                    choice_hint(product_id, catalog_ids(), "products")
                    + "; or give the model with 'file:'",
                    at_key=True,
                )
            ]
        return load_catalog_product(product_id), []
    if isinstance(source, _SwappedSource) and product_id in source.swapped:
        product_path = Path(binding.file)  # given on the command line: the work tree's
    else:
        found = revision_path(path, binding.file)
        if isinstance(found, tuple):
            message, hint = found
            return None, [
                source.diagnostic(
                    (*where, "file"), f"product file {binding.file!r} {message}", hint
                )
            ]
        product_path = found
    product, _product_source, problems = read_product(product_path)
    if product is None:
        if problems and problems[0].message == NO_SUCH_FILE:
            return None, [
                source.diagnostic(
                    (*where, "file"),
                    f"product file {binding.file!r} does not exist",
                    f"looked for {product_path}; the path is relative to the deployment",
                )
            ]
        if problems and problems[0].line is None:  # it could not be read at all: say where
            return None, [  # the deployment names it
                source.diagnostic(
                    (*where, "file"),
                    f"product file {binding.file!r} {problem.message}",
                    problem.hint,
                )
                for problem in problems
            ]
        return None, problems
    if product.id != product_id:
        return None, [
            source.diagnostic(
                where,
                f"{binding.file} holds product {product.id!r}, not {product_id!r}",
                f"name the entry '{product.id}:'",
                at_key=True,
            )
        ]
    return product, []


def _check_binding(
    hosts: Mapping[str, Host] | None,
    product_id: str,
    binding: ProductBinding,
    product: Product | None,
    source: SourceMap,
) -> Iterable[Diagnostic]:
    """What ``binding`` says wrong of ``product`` (if it loaded) and of ``hosts`` (if known)."""
    base = ("products", product_id)
    if product is not None:
        yield from _check_settings(product_id, binding, product, source)
    for component, placed in binding.components.items():
        if product is not None and component not in product.components:
            yield source.diagnostic(
                (*base, "components", component),
                f"{product_id} has no component {component!r}",
                choice_hint(
                    component, product.components, "components", owner=f"product {product_id}"
                ),
                at_key=True,
            )
        for index, host in enumerate(placed):
            if hosts is not None and host not in hosts:
                path: tuple[str | int, ...] = (*base, "components", component, index)
                if not source.has(path):  # written as a single name, not a list
                    path = (*base, "components", component)
                yield source.diagnostic(
                    path,
                    f"component {component!r} is placed on unknown host {host!r}",
                    choice_hint(host, hosts, "hosts") + "; declare it under 'hosts:'",
                )


def _check_settings(
    product_id: str, binding: ProductBinding, product: Product, source: SourceMap
) -> Iterable[Diagnostic]:
    """The features, parameters and dynamic ranges ``binding`` sets that ``product`` does not
    have, or not so."""
    base = ("products", product_id)
    for name, value in binding.features.items():
        feature = product.features.get(name)
        if feature is None:
            yield source.diagnostic(
                (*base, "features", name),
                f"{product_id} has no feature {name!r}",
                choice_hint(name, product.features, "features", owner=f"product {product_id}"),
                at_key=True,
            )
        elif feature.enumerated and value not in feature.choices:
            yield source.diagnostic(
                (*base, "features", name),
                f"feature {name!r} of {product_id} is one of {', '.join(feature.choices)}, "
                f"not {value!r}",
                choice_hint(str(value), feature.choices, "choices"),
            )
        elif not feature.enumerated and not isinstance(value, bool):
            yield source.diagnostic(
                (*base, "features", name),
                f"feature {name!r} of {product_id} is on or off, not {value!r}",
                "write true or false",
            )
    for name in binding.parameters:
        param = product.parameters.get(name)
        if param is None:
            yield source.diagnostic(
                (*base, "parameters", name),
                f"{product_id} has no port parameter {name!r}",
                choice_hint(name, product.parameters, "parameters", owner=f"product {product_id}"),
                at_key=True,
            )
        elif param.configurable is Configurability.NO:
            default = describe_ports(param.default_ranges())
            yield source.diagnostic(
                (*base, "parameters", name),
                f"parameter {name!r} of {product_id} is fixed at {default} and cannot be overridden"
                + (f" ({param.how})" if param.how else ""),
                "remove the override; the vendor does not allow another port",
                at_key=True,
            )
        elif param.allowed is not None:
            may = PortSet.of((*param.default_ranges(), *param.allowed)).ranges
            chosen = binding.parameters[name]
            inside = all(
                any(m.start <= r.start and r.end <= m.end for m in may)
                for r in PortSet.of(chosen).ranges
            )
            if not inside:
                yield source.diagnostic(
                    (*base, "parameters", name),
                    f"parameter {name!r} of {product_id} may be "
                    f"{describe_ports(param.default_ranges())} or one of "
                    f"{describe_ports(param.allowed)}, not {describe_ports(chosen)}",
                    "choose among the ports the vendor allows",
                )
    for name in binding.dynamic_ranges:
        if name not in product.dynamic_ranges:
            yield source.diagnostic(
                (*base, "dynamic_ranges", name),
                f"{product_id} has no dynamic range {name!r}",
                choice_hint(
                    name, product.dynamic_ranges, "dynamic ranges", owner=f"product {product_id}"
                ),
                at_key=True,
            )
