"""Golden files for every registered target on both example deployments.

One folder per target and example (tests/golden/rules/TARGET/EXAMPLE/), one file per rendered
file; rewrite after review with `pytest --update-golden`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from portplan import build_plan, load_deployment
from portplan.targets import DefaultAction, RuleOptions, get_target, target_names

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "rules"
DEPLOYMENTS = ("shopping-contoso", "smart-id-nexus")
#: the options each golden case renders with: the defaults, and egress with reject
CASES = {
    "default": RuleOptions(),
    "egress-reject": RuleOptions(egress=True, default=DefaultAction.REJECT),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("target", target_names())
def test_target_output_matches_golden(
    target: str, deployment: str, case: str, golden: Callable[[str, bytes], None]
) -> None:
    plan = build_plan(load_deployment(EXAMPLES / f"{deployment}.yaml"))
    files = get_target(target).render(plan, CASES[case])
    assert files, "a target renders at least one file"
    folder = GOLDEN / target / deployment / case
    for name, text in files.items():
        golden(f"rules/{target}/{deployment}/{case}/{name}", text.encode())
    if folder.is_dir():  # no stale golden files for files the target no longer writes
        written = {p.name for p in folder.iterdir() if not p.name.endswith(".actual")}
        assert written == set(files), "golden folder holds files the target did not render"


def test_every_registered_target_has_golden_cases() -> None:
    for target in target_names():
        for deployment in DEPLOYMENTS:
            for case in CASES:
                folder = GOLDEN / target / deployment / case
                assert folder.is_dir() and any(folder.iterdir()), (
                    f"target {target!r} has no golden case {deployment}/{case}; "
                    "run pytest --update-golden"
                )


def test_rendering_is_pure_and_stable() -> None:
    plan = build_plan(load_deployment(EXAMPLES / "smart-id-nexus.yaml"))
    rows = plan.rows
    for target in target_names():
        first = get_target(target).render(plan, RuleOptions(egress=True))
        second = get_target(target).render(plan, RuleOptions(egress=True))
        assert first == second
        assert list(first) == list(second)  # same file order too
    assert plan.rows is rows
