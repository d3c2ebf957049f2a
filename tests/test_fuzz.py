"""Fuzzing the whole path: files mutated the ways people and tools break YAML go through the
loader, the planner and every renderer; only portplan's own errors may come out.

The default suite runs a few hundred examples; a dedicated run takes more, and with
PORTPLAN_FUZZ_ACL=1 renders the Aerleon targets too (cisco, juniper, paloalto: a process
each, so about a second an example):

    PORTPLAN_FUZZ_EXAMPLES=10000 .venv/bin/pytest tests/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import examples
from portplan import pipeline
from portplan._errors import PortplanError
from portplan.load.catalog import catalog_ids, catalog_path
from portplan.load.product import read_product
from portplan.report.matrix import matrix_bytes
from portplan.report.show import show_tables, shown_tables_text
from portplan.targets import RuleOptions, Scope, get_target

EXAMPLES = int(os.environ.get("PORTPLAN_FUZZ_EXAMPLES", "300"))
TARGETS = ["nftables", "iptables", "windows", "kubernetes", "aws"]
if os.environ.get("PORTPLAN_FUZZ_ACL"):
    TARGETS += ["cisco", "juniper", "paloalto"]

DEPLOYMENTS = [
    (examples.EXAMPLES / f"{name}.yaml").read_text()
    for name in ("smart-id-nexus", "shopping-contoso", "smart-id-k8s")
]
PRODUCTS = [catalog_path(p).read_text() for p in catalog_ids()]

#: what people and tools put into YAML, right or wrong
TOKENS = [
    "0443",
    "1e3",
    "80:22",
    "2_2",
    "\u0662\u0662",
    "\uff12\uff12",
    "0x1bb",
    "-1",
    "65536",
    "99999999999999999999",
    "~",
    "''",
    '""',
    "yes",
    "on",
    "2024-02-30",
    "!!bool maybe",
    "!!int abc",
    "!custom x",
    "&a [1]",
    "*a",
    "*nowhere",
    "<<: {a: 1}",
    "---",
    "...",
    "[",
    "]",
    "{",
    "}",
    "? x",
    "- ",
    "%YAML 1.1",
    "'",
    '"',
    "\t",
    "fe80::5%eth0",
    "224.0.0.251",
    "0.0.0.0",
    "::ffff:1.2.3.4",
    "255.255.255.255",
    "0.0.0.0/0",
    "198.51.100.1/24",
    "not (a and",
    "a and and b",
    "\x07",
    "\u2028",
    "\ufeff",
    "é",
    "x" * 300,
    "[" * 100,
    "{a: " * 70,
]


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """One of ``texts`` with one to four mutations."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True)
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        kind = draw(st.integers(0, 6))
        if kind == 0:  # a value replaced by a token
            line = lines[index]
            head, sep, _tail = line.partition(": ")
            lines[index] = (head + sep if sep else line[: len(line) // 2]) + (
                draw(st.sampled_from(TOKENS)) + "\n"
            )
        elif kind == 1:  # a line lost
            del lines[index]
        elif kind == 2:  # a line twice
            lines.insert(index, lines[index] if lines else "")
        elif kind == 3:  # indentation changed
            lines[index] = " " * draw(st.integers(0, 9)) + lines[index].lstrip(" ")
        elif kind == 4:  # characters replaced by random text
            line = lines[index] if lines else ""
            start = draw(st.integers(0, len(line)))
            noise = draw(st.text(max_size=12))
            lines[index] = line[:start] + noise + line[start + draw(st.integers(0, 6)) :]
        elif kind == 5:  # a token inserted anywhere
            line = lines[index] if lines else ""
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(st.sampled_from(TOKENS)) + line[at:]
        else:  # two lines swapped
            other = draw(st.integers(0, max(0, len(lines) - 1)))
            if lines:
                lines[index], lines[other] = lines[other], lines[index]
        text = "".join(lines)
    return text


def render_everything(plan: pipeline.Plan) -> None:
    for fmt in ("table", "csv", "json", "md", "xlsx"):
        matrix_bytes(plan, fmt)
    for name in TARGETS:
        target = get_target(name)
        hosts = tuple(plan.hosts) if target.scope is Scope.HOST else ()
        with contextlib.suppress(PortplanError):
            target.render(plan, RuleOptions(hosts=hosts))


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutated(DEPLOYMENTS))
def test_a_mutated_deployment_gives_a_plan_or_a_portplan_error(text: str) -> None:
    try:
        plan = pipeline.load_plan(Path("fuzz.yaml"), text)
    except PortplanError:
        return
    render_everything(plan)


@FUZZ
@given(mutated(PRODUCTS))
def test_a_mutated_product_loads_and_shows_or_gives_located_problems(text: str) -> None:
    product, _source, problems = read_product(Path("fuzz.yaml"), text)
    if product is None:
        assert problems, "no product and no problem"
        assert all(str(p.file) == "fuzz.yaml" for p in problems)
        return
    for fmt in ("table", "md", "csv", "json"):
        shown_tables_text(show_tables(product), fmt, heading="fuzz", width=120)
