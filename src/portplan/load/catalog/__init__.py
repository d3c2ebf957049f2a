"""Bundled product models, one YAML file per product version (``<id>.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from portplan._errors import InputError, UnknownProductError
from portplan._text import choice_hint
from portplan.load.product import read_product
from portplan.model.product import Product

__all__ = ["catalog_ids", "catalog_path", "load_catalog_product"]

_SUFFIX = ".yaml"


def catalog_ids() -> tuple[str, ...]:
    """Ids of the bundled products, sorted."""
    root = resources.files(__name__)
    return tuple(
        sorted(
            entry.name[: -len(_SUFFIX)]
            for entry in root.iterdir()
            if entry.name.endswith(_SUFFIX) and entry.is_file()
        )
    )


def catalog_path(product_id: str) -> Path:
    """Path of a bundled product's model file; :class:`UnknownProductError` if there is none."""
    if product_id not in catalog_ids():
        raise UnknownProductError(
            f"no product {product_id!r} in the catalog; "
            + choice_hint(product_id, catalog_ids(), "products")
            + " (`portplan catalog` lists them)"
        )
    return Path(str(resources.files(__name__).joinpath(product_id + _SUFFIX)))


@cache
def load_catalog_product(product_id: str) -> Product:
    """Load (once per process) a bundled product by id."""
    path = catalog_path(product_id)
    product, _source, problems = read_product(path)
    if product is None:
        raise InputError(problems)
    return product
