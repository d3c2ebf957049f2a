"""Golden files for every registered target on every example deployment.

One folder per target and example (tests/golden/rules/TARGET/EXAMPLE/), one file per rendered
file; rewrite after review with `pytest --update-golden`.  A target that cannot express a case
(REFUSED) must refuse it with TargetError, and has no golden folder for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from portplan import build_plan, load_deployment
from portplan.errors import TargetError
from portplan.targets import DefaultAction, RuleOptions, get_target, target_names

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "rules"
DEPLOYMENTS = ("shopping-contoso", "smart-id-nexus", "smart-id-k8s")
#: the options each golden case renders with: the defaults, and egress with reject
CASES = {
    "default": RuleOptions(),
    "egress-reject": RuleOptions(egress=True, default=DefaultAction.REJECT),
}
#: (target, deployment, case) a target must refuse, with a part of its TargetError message
REFUSED: dict[tuple[str, str, str], str] = {
    **{
        (target, deployment, "egress-reject"): f"target {target} cannot express --default reject"
        for target in ("aws", "kubernetes", "windows")
        for deployment in DEPLOYMENTS
    },
    ("kubernetes", "shopping-contoso", "default"): "has no host with `kubernetes:`",
    ("kubernetes", "smart-id-nexus", "default"): "has no host with `kubernetes:`",
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("target", target_names())
def test_target_output_matches_golden(
    target: str, deployment: str, case: str, golden: Callable[[str, bytes], None]
) -> None:
    plan = build_plan(load_deployment(EXAMPLES / f"{deployment}.yaml"))
    folder = GOLDEN / target / deployment / case
    refused = REFUSED.get((target, deployment, case))
    if refused is not None:
        with pytest.raises(TargetError, match=re.escape(refused)):
            get_target(target).render(plan, CASES[case])
        assert not folder.exists(), f"{folder} is stale: the target refuses this case"
        return
    files = get_target(target).render(plan, CASES[case])
    assert files, "a target renders at least one file"
    for name, text in files.items():
        golden(f"rules/{target}/{deployment}/{case}/{name}", text.encode())
    if folder.is_dir():  # no stale golden files for files the target no longer writes
        written = {p.name for p in folder.iterdir() if not p.name.endswith(".actual")}
        assert written == set(files), "golden folder holds files the target did not render"


def test_every_registered_target_has_golden_cases() -> None:
    for target in target_names():
        rendered = [
            (deployment, case)
            for deployment in DEPLOYMENTS
            for case in CASES
            if (target, deployment, case) not in REFUSED
        ]
        assert rendered, f"target {target!r} refuses every golden case"
        for deployment, case in rendered:
            folder = GOLDEN / target / deployment / case
            assert folder.is_dir() and any(folder.iterdir()), (
                f"target {target!r} has no golden case {deployment}/{case}; "
                "run pytest --update-golden"
            )


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_rendering_is_pure_and_stable(deployment: str) -> None:
    plan = build_plan(load_deployment(EXAMPLES / f"{deployment}.yaml"))
    rows = plan.rows
    for target in target_names():
        if (target, deployment, "default") in REFUSED:
            continue
        first = get_target(target).render(plan, RuleOptions(egress=True))
        second = get_target(target).render(plan, RuleOptions(egress=True))
        assert first == second
        assert list(first) == list(second)  # same file order too
    assert plan.rows is rows
