"""The report's diagram with results: an arrow no results name reads unchecked (its colour and
the legend's), never plain as if it had nothing to prove; without results, every arrow is
drawn as before."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import examples
from portplan.publish import Status, View, plan_diagram
from test_report import PA01, SCIM01, check, report, verify_document

pytestmark = [
    pytest.mark.graphviz,
    pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot"),
]


def _edge_classes(html: str) -> set[str]:
    """The classes of the arrows (Graphviz writes the hyphen as ``&#45;``)."""
    found = re.findall(r'class="edge edge(?:-|&#45;)(\w+)"', html)
    return {f"edge-{name}" for name in found}


def test_an_arrow_no_results_name_reads_unchecked(tmp_path: Path) -> None:
    one = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01,
                source_address=SCIM01)  # fmt: skip
    results = tmp_path / "verify.json"
    results.write_text(verify_document([one]))
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    classes = _edge_classes(html)
    assert classes, html[:2000]
    assert "edge-plain" not in classes, classes
    assert "edge-unchecked" in classes, classes
    legend = html[html.index('class="legend"') :]
    assert '<span class="swatch unchecked"></span>unchecked' in legend[:2000]


def test_without_results_every_arrow_is_plain() -> None:
    code, html, err = report()
    assert code == 0, err
    assert _edge_classes(html) == {"edge-plain"}
    assert "swatch unchecked" not in html


def test_with_results_an_edge_no_row_of_which_is_named_is_unchecked() -> None:
    diagram = plan_diagram(examples.example_plan("smart-id-nexus"), View.COMPONENT)
    assert {e.status for e in diagram.with_status({}).edges} == {None}
    assert {e.status for e in diagram.with_status({}, results=True).edges} == {Status.UNCHECKED}
