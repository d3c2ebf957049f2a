"""JSON Schema of the files users write, for editors (``portplan schema product``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from portplan.model.deployment import Deployment
from portplan.model.product import Product

_URL = "https://portplan.invalid/schema/{kind}.json"


def json_schema(kind: Literal["product", "deployment"] | str) -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of a product or deployment file."""
    models: dict[str, type[BaseModel]] = {"product": Product, "deployment": Deployment}
    model = models[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _URL.format(kind=kind),
        **schema,
    }
