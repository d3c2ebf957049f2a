"""The one-file HTML report of a deployment (``portplan report``).

Everything is in the page: CSS, script, the diagrams as SVG; a Content-Security-Policy that
allows only the page's own style and script (by hash) keeps it from fetching anything when
opened.  The same plan and overlays give the same bytes (no time, no random ids).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from importlib import resources

from portplan._version import __version__
from portplan.plan import Plan
from portplan.publish import Overlay, overlay_rows
from portplan.report.html._diagrams import MAX_LAYOUT_NODES, diagram_section
from portplan.report.html._markup import el, text
from portplan.report.html._sections import (
    blocked_section,
    matrix_section,
    not_needed_section,
    summary_section,
    unmatched_section,
    vendor_section,
)

__all__ = ["MAX_LAYOUT_NODES", "PAPER_SIZES", "html_report"]

#: the page sizes print CSS can ask for
PAPER_SIZES = {"a4": "A4", "letter": "letter"}


def _asset(name: str) -> str:
    return resources.files("portplan.report.html").joinpath(name).read_text(encoding="utf-8")


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


#: what JSON inside a <script> element must not hold literally: ``<`` and ``>`` (``</script>``
#: ends the element, ``<!--<script>`` keeps it from ending where it should), ``&``, and the
#: line separators older JavaScript parsers took for line ends
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(data: object) -> str:
    """``data`` as JSON that reads the same in a ``<script type="application/json">`` element
    whatever its strings hold: the escapes mean the same characters to ``JSON.parse``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_SCRIPT_ESCAPES)


def html_report(
    plan: Plan,
    overlays: Sequence[Overlay] = (),
    *,
    paper: str = "a4",
    layout_timeout: float = 60.0,
) -> str:
    """The report of ``plan`` with ``overlays`` laid on its rows, as one HTML page."""
    found = overlay_rows(plan, overlays)
    diagrams, views = diagram_section(
        plan, found.status, results=bool(overlays), timeout=layout_timeout
    )
    style = _asset("report.css") + f"@page {{ size: {PAPER_SIZES[paper]}; margin: 12mm; }}\n"
    script = _asset("report.js")
    payload = _script_json({"views": views})
    policy = (
        f"default-src 'none'; style-src {_hash(style)}; script-src {_hash(script)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    title = f"portplan report: {plan.deployment}"
    toc = [
        ("summary", "Summary"),
        ("diagram", "Diagram"),
        ("vendor", "Vendor tables"),
        ("matrix-heading", "Flow matrix"),
        ("not-needed", "Not needed"),
    ]
    if found.blocked:
        toc.append(("blocked", "What must stay blocked"))
    if found.unmatched:
        toc.append(("unmatched", "Findings without a row"))
    nav = el(
        "nav",
        el(
            "ul",
            "".join(el("li", el("a", text(label), href=f"#{target}")) for target, label in toc),
        ),
        class_="toc",
        aria_label="Contents",
    )
    body = (
        el("header", el("h1", text(title)), nav, class_="page")
        + el(
            "main",
            summary_section(plan, overlays, found),
            diagrams,
            vendor_section(plan),
            matrix_section(plan, overlays, found),
            not_needed_section(plan),
            blocked_section(found),
            unmatched_section(found),
        )
        + el(
            "footer",
            f"Written by portplan {text(__version__)} from deployment {text(plan.deployment)}.",
            class_="page",
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{text(policy)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="portplan">\n'
        f"<title>{text(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f"{body}\n"
        f'<script type="application/json" id="portplan-data">{payload}</script>\n'
        f"<script>{script}</script>\n</body>\n</html>\n"
    )
