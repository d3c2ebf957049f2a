"""Kubernetes: a pod selector in a policy must select the pods of its own host and no other's.

Every host with ``kubernetes:`` is pods, managed or not: a policy that names a host's labels
(its own ``podSelector``, or a peer's) also reaches the pods of any other host of that namespace
whose labels include them.  Such an overlap is refused whoever manages the other host; an
unmanaged host whose labels overlap nothing renders as a peer like any other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from portplan import load_plan
from portplan._errors import TargetError
from portplan.cli import cli
from portplan.plan import Plan
from portplan.targets import RuleOptions, get_target

PRODUCT = {
    "id": "kp-1.0",
    "name": "KP",
    "version": "1.0",
    "document": {"title": "KP ports"},
    "components": {
        "front": {"name": "Front"},
        "api": {"name": "API"},
        "legacy": {"name": "Legacy", "kind": "external"},
    },
    "flows": [
        {"id": "legacy-api", "row": 1, "from": "legacy", "to": "api", "protocol": "tcp",
         "ports": 8080, "purpose": "legacy calls api"},
        {"id": "front-api", "row": 2, "from": "front", "to": "api", "protocol": "tcp",
         "ports": 9090, "purpose": "front calls api"},
    ],
}  # fmt: skip


def _deployment(
    directory: Path, labels: dict[str, dict[str, str]], *, reverse: bool = False
) -> Path:
    """front, api (managed) and legacy (not managed), pods of prod/shop with ``labels``;
    with ``reverse`` the legacy flow goes api -> legacy instead."""
    product = PRODUCT if not reverse else {**PRODUCT, "flows": [
        {**PRODUCT["flows"][0], "from": "api", "to": "legacy"}, PRODUCT["flows"][1]]}  # fmt: skip
    (directory / "product.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    hosts: dict[str, Any] = {
        name: {
            "addresses": ["10.1.0.0/16"],
            "kubernetes": {"cluster": "prod", "namespace": "shop", "pod_labels": labels[name]},
        }
        for name in ("legacy", "front", "api")
    }
    hosts["legacy"]["managed"] = False
    data = {
        "name": "k8s-overlap",
        "hosts": hosts,
        "products": {
            "kp-1.0": {
                "file": "product.yaml",
                "components": {"front": "front", "api": "api", "legacy": "legacy"},
            }
        },
    }
    path = directory / "deploy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _plan(directory: Path, labels: dict[str, dict[str, str]], *, reverse: bool = False) -> Plan:
    return load_plan(_deployment(directory, labels, reverse=reverse))


WEB = {"app": "web"}
FRONT = {"app": "web", "tier": "front"}
API = {"app": "api"}


@pytest.mark.parametrize("egress", [False, True])
def test_an_unmanaged_source_selecting_a_managed_hosts_pods_is_refused(
    tmp_path: Path, egress: bool
) -> None:
    plan = _plan(tmp_path, {"legacy": WEB, "front": FRONT, "api": API})
    with pytest.raises(TargetError) as caught:
        get_target("kubernetes").render(plan, RuleOptions(egress=egress))
    message = str(caught.value)
    assert "the pod_labels of 'legacy' (app=web) also select the pods of 'front'" in message
    assert "(app=web, tier=front)" in message
    assert "prod/shop" in message and "not managed by portplan" in message
    assert "give each host a label the other's pods do not carry" in message


def test_a_managed_selector_that_selects_unmanaged_pods_is_refused(tmp_path: Path) -> None:
    # front's own podSelector (and api's peer for front) would also select legacy's pods
    plan = _plan(tmp_path, {"legacy": FRONT, "front": WEB, "api": API})
    with pytest.raises(TargetError, match=re.escape("'front' (app=web) also select the pods of")):
        get_target("kubernetes").render(plan, RuleOptions())


def test_an_unmanaged_destination_overlaps_only_where_egress_names_it(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"legacy": WEB, "front": FRONT, "api": API}, reverse=True)
    # without --egress no policy names legacy's labels: nothing broader than the plan
    text = get_target("kubernetes").render(plan, RuleOptions())["prod.yaml"]
    selectors = [
        peer["podSelector"]["matchLabels"]
        for policy in yaml.safe_load_all(text)
        if policy
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    ]
    assert selectors == [FRONT]
    with pytest.raises(TargetError, match=re.escape("also select the pods of 'front'")):
        get_target("kubernetes").render(plan, RuleOptions(egress=True))


def test_an_unmanaged_host_without_overlap_is_a_pod_peer(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"legacy": {"app": "legacy"}, "front": FRONT, "api": API})
    text = get_target("kubernetes").render(plan, RuleOptions(egress=True))["prod.yaml"]
    policies = [d for d in yaml.safe_load_all(text) if d]
    assert [p["metadata"]["name"] for p in policies] == ["portplan-front", "portplan-api"]
    (api,) = (p for p in policies if p["metadata"]["name"] == "portplan-api")
    assert api["spec"]["ingress"][0] == {
        "from": [{"podSelector": {"matchLabels": {"app": "legacy"}}}],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }


def test_the_cli_refuses_the_overlap_with_exit_2(tmp_path: Path) -> None:
    path = _deployment(tmp_path, {"legacy": WEB, "front": FRONT, "api": API})
    result = CliRunner().invoke(cli, ["rules", str(path), "-t", "kubernetes", "--egress"])
    assert result.exit_code == 2, result.output
    assert "also select the pods of 'front'" in result.output
    assert "apiVersion" not in result.output
