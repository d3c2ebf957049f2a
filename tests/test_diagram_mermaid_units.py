"""Mermaid measures its ``maxTextSize`` in JavaScript's string length, UTF-16 code units: a
character outside the Basic Multilingual Plane (an emoji) counts twice, so the parts are cut by
that length, not by Python's count of characters."""

from __future__ import annotations

from pathlib import Path

from portplan import load_plan
from portplan.publish import View, mermaid_parts, plan_diagram
from portplan.publish.mermaid import MERMAID_MAX_TEXT
from test_diagram import _many_pairs_file


def _javascript_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_mermaid_parts_count_characters_outside_the_bmp_twice(tmp_path: Path) -> None:
    name = "Workstation \U0001f6f0\U0001f4e1\U0001f5a5\U0001f50c of the operations team"
    path = _many_pairs_file(tmp_path, 1000, 1, client_name="CLIENT-NAME")
    product = tmp_path / "pairs.yaml"  # JSON's escapes of an emoji are no YAML's: as it is
    product.write_text(product.read_text().replace("CLIENT-NAME", name), encoding="utf-8")
    parts = mermaid_parts(plan_diagram(load_plan(path), View.HOST, group_hosts=False))
    assert len(parts) > 1
    assert [_javascript_length(p) <= MERMAID_MAX_TEXT for p in parts] == [True] * len(parts)
    assert all("\U0001f6f0" in p for p in parts)
