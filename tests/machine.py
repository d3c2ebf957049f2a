"""Machine output in tests: every JSON document portplan writes is read through :func:`document`,
which checks it against the schema portplan publishes for its kind (`portplan schema KIND`)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from portplan.report.machine import FORMAT_VERSION, output_schema


def document(text: str, kind: str) -> dict[str, Any]:
    """The JSON document ``text`` of ``kind``, after checking it against its schema."""
    data: dict[str, Any] = json.loads(text)
    jsonschema.validate(data, output_schema(kind), cls=jsonschema.Draft202012Validator)
    assert (data["format_version"], data["kind"]) == (FORMAT_VERSION, kind)
    return data
