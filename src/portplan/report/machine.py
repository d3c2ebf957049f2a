"""Machine output: every JSON document portplan writes, versioned and described by a schema.

Each document starts with ``format_version`` and ``kind``.  ``format_version`` is
``MAJOR.MINOR``: a minor step only adds keys; a major step changes or removes one.  Values are
typed (numbers as numbers, booleans as booleans, an absent value as ``null``), keys are
``snake_case``, and the JSON Schema of each kind ships with portplan
(``portplan schema KIND``; tests validate every output against it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from portplan.report.text import json_text

__all__ = ["FORMAT_VERSION", "OUTPUT_KINDS", "document", "output_schema"]

#: the version of every JSON document this portplan writes
FORMAT_VERSION = "1.1"
#: the kinds of JSON document, each with a schema in ``portplan/report/schemas/KIND.json``
OUTPUT_KINDS = ("audit", "catalog", "diff", "matrix", "show", "targets", "verify")


def document(kind: str, body: Mapping[str, Any]) -> str:
    """The JSON text of a document of ``kind``: version and kind first, then ``body``."""
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"no output kind {kind!r}")
    return json_text({"format_version": FORMAT_VERSION, "kind": kind, **body})


@cache
def output_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the documents of ``kind``."""
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"no output kind {kind!r}")
    text = resources.files("portplan.report").joinpath(f"schemas/{kind}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
