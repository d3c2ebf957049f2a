"""A managed cluster (``cluster: true``, each address a machine) is machines, not a network:
its members load the cluster's ruleset, also when the plan only has them send.

``tests/data/cluster-sends/``: the members of ``workers`` write to ``db01`` and nothing
reaches them.  ``--all-hosts`` must render their ruleset (inbound default deny, and with
``--egress`` the planned outbound flow) exactly as ``--host workers`` does, and the AWS
target gives them a group with ``--egress``, as it does a single machine that only sends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from portplan import load_plan
from portplan.plan import Plan
from portplan.targets import RuleOptions, get_target
from portplan.targets.hostview import rule_hosts, skipped_hosts

DEPLOYMENT = Path(__file__).resolve().parent / "data" / "cluster-sends" / "deployment.yaml"
#: the files of one host's ruleset, by target
SUFFIXES = {"nftables": (".nft",), "iptables": (".v4", ".v6"), "windows": (".ps1",)}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(DEPLOYMENT)


def test_a_cluster_that_only_sends_needs_a_ruleset(plan: Plan) -> None:
    assert plan.hosts["workers"].is_group and plan.hosts["workers"].cluster
    assert rule_hosts(plan) == ("db01", "workers")
    assert skipped_hosts(plan) == {}


@pytest.mark.parametrize("egress", [False, True])
@pytest.mark.parametrize("target", sorted(SUFFIXES))
def test_all_hosts_renders_the_clusters_ruleset_as_host_does(
    plan: Plan, target: str, egress: bool
) -> None:
    every = get_target(target).render(plan, RuleOptions(egress=egress))
    alone = get_target(target).render(plan, RuleOptions(hosts=("workers",), egress=egress))
    names = {f"{host}{suffix}" for host in ("db01", "workers") for suffix in SUFFIXES[target]}
    assert set(every) == names
    files = [f"workers{suffix}" for suffix in SUFFIXES[target]]
    assert [every[name] for name in files] == [alone[name] for name in files]
    assert ("5432" in every[files[0]]) is egress  # the planned flow out, and only then


def test_aws_gives_a_sending_cluster_a_group_with_egress(plan: Plan) -> None:
    text = get_target("aws").render(plan, RuleOptions(egress=True))["security-groups.tf"]
    assert 'resource "aws_security_group" "workers"' in text
    assert 'resource "aws_vpc_security_group_egress_rule" "workers_tcp_5432_192_0_2_20_32"' in text
    # without --egress a host that only sends needs no group, cluster or single machine
    text = get_target("aws").render(plan, RuleOptions())["security-groups.tf"]
    assert '"aws_security_group" "workers"' not in text
