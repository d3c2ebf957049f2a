"""``portplan audit --ruleset aws:FILE``: security groups (``aws ec2 describe-security-groups``)
against the plan.

The AWS target's own groups for every host of the examples, written as
``describe-security-groups`` would print them, audit clean (with and without egress); a group
with a CIDR too wide and a port range cut short gives ``extra`` and ``partial``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import examples
import machine
from portplan.audit import audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.cli import cli
from portplan.plan import Plan
from portplan.targets import RuleOptions
from portplan.targets.aws import _groups  # the target's own groups, before they become HCL
from portplan.targets.hostview import Direction


def describe(plan: Plan, host: str, egress: bool) -> str:
    """The target's group of ``host`` as ``describe-security-groups`` JSON."""
    (group,) = [g for g in _groups(plan, RuleOptions(egress=egress)) if g.host == host]
    permissions: dict[str, list[dict[str, Any]]] = {"IpPermissions": [], "IpPermissionsEgress": []}
    for rule in group.rules():
        key = "IpPermissions" if rule.direction is Direction.INBOUND else "IpPermissionsEgress"
        ranges = "IpRanges" if rule.peer.version == 4 else "Ipv6Ranges"
        field = "CidrIp" if rule.peer.version == 4 else "CidrIpv6"
        permissions[key].append(
            {
                "IpProtocol": rule.protocol,
                "FromPort": rule.low,
                "ToPort": rule.high,
                ranges: [{field: str(rule.peer), "Description": ", ".join(rule.flows)}],
            }
        )
    if not egress:  # the target allows everything out when it does not filter egress
        permissions["IpPermissionsEgress"] = [
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
        ]  # fmt: skip
    return json.dumps(
        {
            "SecurityGroups": [
                {
                    "GroupId": "sg-0a1b2c3d4e5f60718",
                    "GroupName": f"portplan-{host}",
                    "VpcId": "vpc-0123456789abcdef0",
                    **permissions,
                }
            ]
        }
    )


@pytest.mark.parametrize("example", ["shopping-contoso", "smart-id-nexus", "smart-id-k8s"])
@pytest.mark.parametrize("egress", [False, True])
def test_the_aws_targets_own_groups_audit_clean(example: str, egress: bool) -> None:
    plan = examples.example_plan(example)
    hosts = [g.host for g in _groups(plan, RuleOptions(egress=egress))]
    assert hosts
    for host in hosts:
        text = describe(plan, host, egress)
        ruleset = read_ruleset([RulesetFile(f"{host}.json", text)], plan, host)
        result = audit_ruleset(plan, host, ruleset, egress=egress)
        assert result.findings == [], (host, [f.message for f in result.findings])


def test_a_wide_cidr_and_a_short_range(tmp_path: Path) -> None:
    plan = examples.example_plan("smart-id-nexus")
    data = json.loads(describe(plan, "da01", False))
    for permission in data["SecurityGroups"][0]["IpPermissions"]:
        if permission["FromPort"] == 8443:
            permission["IpRanges"][0]["CidrIp"] = "203.0.113.0/24"
        if permission["FromPort"] == 18118:
            permission["ToPort"] = 18120
    path = tmp_path / "da01.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(
        cli, ["audit", str(examples.EXAMPLES / "smart-id-nexus.yaml"), "--host", "da01",
              "--ruleset", str(path), "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    findings = machine.document(result.stdout, "audit")["audits"][0]["findings"]
    kinds = {(f["kind"], f["flow"]) for f in findings}
    assert kinds == {("extra", None), ("partial", "smart-id-21.04/da-radius")}
    extra = next(f for f in findings if f["kind"] == "extra")
    assert extra["packets"][0]["sources"] == ["203.0.113.16/28", "203.0.113.32/27",
                                              "203.0.113.64/26", "203.0.113.128/25"]  # fmt: skip


def test_a_group_of_a_host_known_by_name_only_may_be_any_address() -> None:
    """A permission for the instances that carry ``portplan-updates``, a host the deployment
    knows by its DNS name only: no address stands for them, so the audit cannot say who they
    are, and must not read the permission as matching nobody."""
    plan = examples.example_plan("search-cluster")
    assert not plan.hosts["updates"].addresses
    data = json.loads(describe(plan, "dash01", False))
    data["SecurityGroups"][0]["IpPermissions"].append(
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": "sg-0fedcba9876543210", "UserId": "111122223333"}]}
    )  # fmt: skip
    data["SecurityGroups"].append(
        {"GroupId": "sg-0fedcba9876543210", "GroupName": "portplan-updates",
         "VpcId": "vpc-0123456789abcdef0", "IpPermissions": [], "IpPermissionsEgress": []}
    )  # fmt: skip
    ruleset = read_ruleset([RulesetFile("dash01.json", json.dumps(data))], plan, "dash01")
    findings = audit_ruleset(plan, "dash01", ruleset, egress=False).findings
    unreadable = [f for f in findings if f.kind == "unreadable"]
    assert len(unreadable) == 1, [f.message for f in findings]
    assert "host 'updates' is known by name only" in unreadable[0].message
    extra = [f for f in findings if f.kind == "extra"]
    assert extra and "port 22" in extra[0].message, [f.message for f in findings]
