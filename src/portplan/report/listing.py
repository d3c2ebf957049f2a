"""The lists of ``portplan catalog`` and ``portplan targets``: a table, or a JSON document."""

from __future__ import annotations

from collections.abc import Sequence

from portplan.model.product import Product
from portplan.report.machine import document
from portplan.report.text import rich_table_text
from portplan.targets import Capability, Target

__all__ = ["catalog_listing", "targets_listing"]


def catalog_listing(products: Sequence[Product], fmt: str, *, width: int) -> str:
    """The bundled products: id, name, version, vendor, number of flows, vendor document."""
    if fmt == "json":
        return document(
            "catalog",
            {
                "products": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "version": p.version,
                        "vendor": p.vendor,
                        "flows": len(p.flows),
                        "document": p.document.title,
                        "source": p.document.source,
                    }
                    for p in products
                ]
            },
        )
    rows = [
        (p.id, p.name, p.version, p.vendor or "", str(len(p.flows)), p.document.title)
        for p in products
    ]
    columns = ("id", "name", "version", "vendor", "flows", "document")
    return rich_table_text(None, columns, rows, width=width)


def targets_listing(targets: Sequence[tuple[Target, str]], fmt: str, *, width: int) -> str:
    """The firewall targets (with who provides each): what each can express and do."""
    if fmt == "json":
        return document(
            "targets",
            {
                "targets": [
                    {
                        "name": t.name,
                        "scope": t.scope.value,
                        "capabilities": [c.value for c in Capability if c in t.capabilities],
                        "settings": {
                            key: None if values is None else list(values)
                            for key, values in t.settings.items()
                        },
                        "can_apply": t.applier is not None,
                        "description": t.description,
                        "origin": origin,
                    }
                    for t, origin in targets
                ]
            },
        )
    rows = [
        (
            t.name,
            t.scope.value,
            ", ".join(c.value for c in Capability if c in t.capabilities),
            t.description,
        )
        for t, _origin in targets
    ]
    columns = ("target", "scope", "can express", "description")
    return rich_table_text(None, columns, rows, width=width)
