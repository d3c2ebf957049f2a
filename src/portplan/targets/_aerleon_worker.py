"""Run Aerleon in a process of its own: JSON request on stdin, JSON answer on stdout.

Started by :mod:`portplan.targets.acl` as ``python -m portplan.targets._aerleon_worker``.
Aerleon is not thread-safe, installs its own logger class on import (absl) and keeps module
state between calls, so it never runs inside the portplan process.  This module imports it only
in :func:`main`, so importing the module itself has no side effect.

The request is ``{"platform": NAME, "policies": [...], "definitions": {...}}`` (Aerleon's policy
dictionaries and naming definitions).  The answer is ``{"files": {name: text}, "log": [[level,
logger, message], ...], "warnings": [message, ...], "plugins": N, "generator": "module.Class"}``
or ``{"error": message}`` with exit status 1.  The worker judges nothing: every log record (at
any level) and every warning is passed back, and the caller decides what is acceptable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
import warnings
from typing import Any


class _Collector(logging.Handler):
    """Keeps every record, whatever its level."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # a malformed record is reported, not lost
            message = f"{record.msg!r} (unformattable: {exc})"
        if record.exc_info and record.exc_info[1] is not None:
            message += f" [{record.exc_info[1]!r}]"
        self.records.append([record.levelname, record.name, message])


def _generate(request: dict[str, Any]) -> dict[str, Any]:
    # Aerleon is imported here, inside main()'s capture of its warnings and log records
    from aerleon import api  # noqa: PLC0415 - see above
    from aerleon.lib import naming, plugin_supervisor  # noqa: PLC0415 - see above

    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(request["definitions"], "portplan")
    files = api.Generate(request["policies"], definitions)
    if files is None:
        raise RuntimeError("Aerleon returned no files")
    supervisor = plugin_supervisor.PluginSupervisor
    generator = supervisor.generators.get(request["platform"])
    return {
        "files": dict(files),
        "plugins": len(supervisor.plugins),
        "generator": f"{generator.__module__}.{generator.__qualname__}" if generator else None,
    }


def main() -> int:
    request = json.load(sys.stdin)
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    root.setLevel(logging.NOTSET)
    # absl's logger does not exist before aerleon is imported; the root handler sees its
    # records as long as they propagate, and a level of NOTSET lets debug records through.
    answer: dict[str, Any]
    status = 0
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("always")
        try:
            import absl.logging  # noqa: PLC0415 - only once the capture is in place

            absl_logger = logging.getLogger("absl")
            absl_logger.setLevel(logging.DEBUG)
            absl_logger.propagate = True
            absl.logging.set_verbosity(absl.logging.DEBUG)
            answer = _generate(request)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            status = 1
    answer["log"] = collector.records
    answer["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    sys.stdout.write(json.dumps(answer, sort_keys=True))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
