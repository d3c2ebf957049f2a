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

import examples
from portplan import load_plan
from portplan._errors import TargetError
from portplan.targets import DefaultAction, RuleOptions, get_target, target_names

GOLDEN = examples.GOLDEN / "rules"
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
    plan = examples.example_plan(deployment)
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
    plan = examples.example_plan(deployment)
    rows = plan.rows
    for target in target_names():
        if (target, deployment, "default") in REFUSED:
            continue
        first = get_target(target).render(plan, RuleOptions(egress=True))
        second = get_target(target).render(plan, RuleOptions(egress=True))
        assert first == second
        assert list(first) == list(second)  # same file order too
    assert plan.rows is rows


#: nftables' shared layout (one ruleset every host loads), on the examples whose hosts it can
#: tell apart by address
SHARED_CASES = {
    "shared": RuleOptions(extra={"layout": "shared"}),
    "shared-egress-reject": RuleOptions(
        egress=True, default=DefaultAction.REJECT, extra={"layout": "shared"}
    ),
}


@pytest.mark.parametrize("case", sorted(SHARED_CASES))
@pytest.mark.parametrize("deployment", ["smart-id-nexus", "smart-id-k8s"])
def test_nftables_shared_layout_matches_golden(
    deployment: str, case: str, golden: Callable[[str, bytes], None]
) -> None:
    plan = examples.example_plan(deployment)
    files = get_target("nftables").render(plan, SHARED_CASES[case])
    assert list(files) == ["shared.nft"]
    golden(f"rules/nftables/{deployment}/{case}/shared.nft", files["shared.nft"].encode())


def test_shared_layout_refuses_hosts_it_cannot_tell_apart() -> None:
    plan = examples.example_plan("shopping-contoso")
    # admin-pc's address lies in the client subnet: one ruleset cannot keep them apart
    message = "hosts clients (198.51.100.0/24) and admin-pc (198.51.100.5/32) have overlapping"
    with pytest.raises(TargetError, match=re.escape(message)):
        get_target("nftables").render(plan, SHARED_CASES["shared"])


def test_shared_layout_is_for_every_host_and_settings_are_checked() -> None:
    plan = examples.example_plan("smart-id-nexus")
    nftables = get_target("nftables")
    with pytest.raises(TargetError, match="use --all-hosts instead of --host"):
        nftables.render(plan, RuleOptions(hosts=("da01",), extra={"layout": "shared"}))
    with pytest.raises(TargetError, match="layout='one-file': choose per-host or shared"):
        nftables.render(plan, RuleOptions(extra={"layout": "one-file"}))
    # iptables has no such layout: a setting it does not know is refused, not ignored
    with pytest.raises(TargetError, match="iptables has no setting 'layout'"):
        get_target("iptables").render(plan, SHARED_CASES["shared"])


def test_shared_layout_refuses_an_overlap_with_a_host_that_has_no_flows(tmp_path: Path) -> None:
    # a spare machine in the "internet" range has no flows and no ruleset of its own, but the
    # shared file may be loaded on it too: it would accept what is meant for the range
    text = (examples.EXAMPLES / "smart-id-nexus.yaml").read_text()
    text = text[: text.index("\nmanagement:")]  # (SSH to every host: rows to the spare too)
    spare = "hosts:\n  spare:\n    addresses: [203.0.113.200]\n"
    deployment = tmp_path / "smart-id-nexus.yaml"
    deployment.write_text(text.replace("hosts:\n", spare, 1))
    plan = load_plan(deployment)
    assert not any("spare" in (row.source, row.destination) for row in plan.rows)
    message = "hosts internet (203.0.113.128/25) and spare (203.0.113.200/32) have overlapping"
    with pytest.raises(TargetError, match=re.escape(message)):
        get_target("nftables").render(plan, SHARED_CASES["shared"])
