"""Graphviz's ``dot``, run as a subprocess with a time limit: DOT text in, SVG, PNG or the
layout as JSON out.  Graphviz comes from the operating system (Debian: ``graphviz``)."""

from __future__ import annotations

import logging
import shutil
import subprocess

from portplan._errors import ToolError

__all__ = ["LAYOUT_FORMATS", "layout"]

log = logging.getLogger(__name__)

#: what ``dot`` writes for us: SVG and PNG for people, JSON (``-Tjson``) for checks of the layout
LAYOUT_FORMATS = ("svg", "png", "json")
_INSTALL = "install Graphviz (Debian: apt-get install graphviz)"


def layout(dot: str, fmt: str, *, timeout: float = 60.0) -> bytes:
    """Lay ``dot`` out with Graphviz and return the ``fmt`` output (svg, png or json).

    Raises :class:`ToolError` when ``dot`` is missing, fails, or takes longer than
    ``timeout`` seconds (the process is killed then).
    """
    if fmt not in LAYOUT_FORMATS:
        raise ValueError(f"dot output format {fmt!r} is not one of {', '.join(LAYOUT_FORMATS)}")
    executable = shutil.which("dot")
    if executable is None:
        raise ToolError(
            f"the {fmt} format needs Graphviz's 'dot', which is not on PATH: {_INSTALL}, or "
            "write --format dot, mermaid or d2, which need no Graphviz"
        )
    try:
        done = subprocess.run(
            [executable, f"-T{fmt}"],
            input=dot.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"Graphviz's dot did not finish the layout within {timeout:g} s and was stopped; "
            "draw less (--flow, --component, --by zone) or allow more time (--layout-timeout)"
        ) from None
    except OSError as exc:
        raise ToolError(f"cannot run {executable}: {exc.strerror or exc}") from exc
    errors = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0:
        raise ToolError(
            f"Graphviz's dot failed (exit status {done.returncode}): "
            + (errors.splitlines()[0] if errors else "no message")
        )
    for line in errors.splitlines():
        log.warning("dot: %s", line)
    return done.stdout
