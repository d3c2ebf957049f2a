"""Models back to YAML, in the same shape the loader reads (``load(dump(m)) == m``)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from portplan.load.yamlscalar import resolve_scalar


class _Dumper(yaml.SafeDumper):
    """Block style, long text folded by width, keys in model order."""


# YAML folds these into line breaks inside plain and single-quoted text; escape them.
_BREAKS = ("\x85", "\u2028", "\u2029")


def _reads_back_as_text(value: str) -> bool:
    """Whether the loader (YAML 1.2 core, see :mod:`.yamlsrc`) reads ``value`` written plainly
    as this same text; PyYAML's dumper only knows YAML 1.1, so ``1e3`` would come back a
    number and ``0443`` an error."""
    try:
        return bool(resolve_scalar(value) == value)
    except ValueError:
        return False


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if any(c in value for c in _BREAKS):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"
    elif not _reads_back_as_text(value):
        style = "'"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(tuple, lambda d, v: d.represent_list(list(v)))


def dump_model(model: BaseModel) -> str:
    """YAML text of a product or deployment; defaults are left out, order is stable."""
    return dump_data(model.model_dump(mode="json", by_alias=True, exclude_defaults=True))


def dump_data(data: Any) -> str:
    """YAML text of plain data (dicts, lists, text, numbers) in the loader's dialect."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
