"""The AWS target's change from one plan to another, as AWS CLI commands.

Both plans give the target's own security-group rules (one per host, direction, protocol, peer
CIDR and merged port span, as ``security-groups.tf`` holds them); the rules only the new plan
has are authorized and those only the old one has revoked, so the groups end up exactly as
the new ``security-groups.tf`` would make them, and a rule both have whose flows changed gets
the new description (which traces it to its flows).  New permissions are authorized before
old ones are revoked (no gap for a flow that moves), groups of hosts new to the plan are
created first, and groups no host needs any more are named for deletion once detached.

AWS gives a group it creates an egress rule of its own, all traffic to ``0.0.0.0/0`` (and to
``::/0`` in some VPCs), which Terraform removes.  So right after creating a group the script
revokes it with ``--egress`` (only the planned outbound rules may remain; the ``::/0`` rule
only where it is there, since revoking an absent rule fails the script), and without
``--egress`` adds the ``::/0`` rule where it is missing, as ``security-groups.tf`` allows all
outbound traffic of both families then, and gives both that file's description.  A group is
created with the description and ``Name`` tag its ``aws_security_group`` has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from portplan._errors import TargetError
from portplan._text import counted
from portplan.plan import Plan
from portplan.targets.aws import (
    ALL_EGRESS_DESCRIPTION,
    DEFAULT_RULE_QUOTA,
    GROUP_PREFIX,
    _flows_description,
    _Group,
    _groups,
    _Rule,
    group_description,
)
from portplan.targets.base import RuleOptions
from portplan.targets.hostview import Direction

__all__ = ["aws_delta"]

#: host, direction, protocol, span (ports, or ICMP type and code: -1 for all), peer
_Key = tuple[str, Direction, str, int, int, str]


def _rules(plan: Plan, options: RuleOptions) -> dict[_Key, _Rule]:
    return _keyed(_groups(plan, options))


def _keyed(groups: list[_Group]) -> dict[_Key, _Rule]:
    found = {}
    for group in groups:
        for rule in group.rules():
            key = (
                group.host,
                rule.direction,
                rule.protocol,
                rule.low,
                rule.high,
                str(rule.peer),
            )
            found[key] = rule
    return found


def _safe(text: str) -> str:
    """Text for a permission's description inside the shell's single quotes."""
    return re.sub(r"[^A-Za-z0-9 ._:/,+=@-]", "_", text)[:255]


def _command(verb: str, key: _Key, rule: _Rule) -> str:
    host, direction, protocol, start, end, peer = key
    side = "ingress" if direction is Direction.INBOUND else "egress"
    ranges = "IpRanges" if ":" not in peer else "Ipv6Ranges"
    cidr = "CidrIp" if ":" not in peer else "CidrIpv6"
    described = f',Description="{_description(rule)}"' if verb != "revoke" else ""
    permission = (
        f"IpProtocol={protocol},FromPort={start},ToPort={end},"
        f"{ranges}=[{{{cidr}={peer}{described}}}]"
    )
    command = f"{verb}-security-group-{side}"
    if verb == "update":  # the same packets, serving other flows: only the description
        command = f"update-security-group-rule-descriptions-{side}"
    return (
        f'aws ec2 {command} --group-id "$(sg {GROUP_PREFIX}{host})" '
        f"--ip-permissions '{permission}'"
    )


def _description(rule: _Rule) -> str:
    """A permission's description: the flows it serves, exactly as ``security-groups.tf`` has
    them (as many as fit in 255 characters, then ``+N``).  Its characters are those AWS
    allows in a description, none of which ends the shell's single quotes or the CLI's
    double-quoted value."""
    return _flows_description(list(rule.flows))


#: the permissions of AWS's own allow-all egress rules of a new group, by family
_ALL_V4 = "IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]"
_ALL_V6 = "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]"
#: a shell function: 1 if the group given by id allows all traffic out to ::/0, else 0
_ALL_OUT_V6 = [
    "# A new group starts with AWS's own allow-all egress rule: 0.0.0.0/0, and ::/0 in some",
    "# VPCs; all_out_v6 GROUP_ID says whether the ::/0 one is there (1) or not (0).",
    "all_out_v6() {",
    '  aws ec2 describe-security-groups --group-ids "$1" --query '
    "\"length(SecurityGroups[0].IpPermissionsEgress[?IpProtocol=='-1'].Ipv6Ranges[] "
    "| [?CidrIpv6=='::/0'])\" --output text",
    "}",
]


def _new_group(host: str, deployment: str, options: RuleOptions) -> list[str]:
    """Create the group of ``host`` as ``security-groups.tf`` has it (description, ``Name``
    tag) and leave its egress as that file does."""
    group = f'"$(sg {GROUP_PREFIX}{host})"'
    v6 = f'"$(all_out_v6 {group})"'
    name = f"{GROUP_PREFIX}{host}"
    out = [
        f"aws ec2 create-security-group --group-name {name} --description "
        f"'{group_description(host, deployment)}' --vpc-id \"$VPC_ID\" --tag-specifications "
        f"'ResourceType=security-group,Tags=[{{Key=Name,Value={name}}}]' >/dev/null"
    ]
    if options.egress:
        out += [
            f"aws ec2 revoke-security-group-egress --group-id {group} "
            f"--ip-permissions '{_ALL_V4}' >/dev/null",
            f"[ {v6} = 0 ] || aws ec2 revoke-security-group-egress --group-id {group} "
            f"--ip-permissions '{_ALL_V6}' >/dev/null",
        ]
    else:
        described = f',Description="{ALL_EGRESS_DESCRIPTION}"}}]'
        v6_described = _ALL_V6.replace("}]", described)
        out += [
            f"[ {v6} != 0 ] || aws ec2 authorize-security-group-egress "
            f"--group-id {group} --ip-permissions '{v6_described}' >/dev/null",
            # AWS's own 0.0.0.0/0 (and ::/0) rule has no description; the file's have one
            f"aws ec2 update-security-group-rule-descriptions-egress --group-id {group} "
            f"--ip-permissions '{_ALL_V4.replace('}]', described)},"
            f"{v6_described.split(',', 1)[1]}' >/dev/null",
        ]
    return out


def _quota_notes(before: dict[_Key, _Rule], after: dict[_Key, _Rule]) -> list[str]:
    """A note for each group, direction and family that the script takes past AWS's default
    quota of rules: new rules are authorized before old ones are revoked, so for a while a
    group holds both, and AWS refuses the rule past the quota (``set -e`` stops there)."""
    held: dict[tuple[str, Direction, int], int] = {}
    grows: set[tuple[str, Direction, int]] = set()
    for key in {**before, **after}:
        host, direction, _protocol, _start, _end, peer = key
        where = (host, direction, 6 if ":" in peer else 4)
        held[where] = held.get(where, 0) + 1
        if key not in before:
            grows.add(where)
    return [
        f"# note: {GROUP_PREFIX}{host} holds up to {count} "
        f"{'inbound' if direction is Direction.INBOUND else 'outbound'} IPv{family} rules while "
        "this script runs (new rules are authorized before old ones are revoked): more than the "
        f"default quota of {DEFAULT_RULE_QUOTA} per security group; raise it in Service Quotas "
        "first, or AWS refuses the rule past it and the script stops there"
        for (host, direction, family), count in held.items()
        if count > DEFAULT_RULE_QUOTA and (host, direction, family) in grows
    ]


def _side_groups(plan: Plan, options: RuleOptions, name: str, old: bool) -> list[_Group]:
    """The target's groups for one side; a refusal names the side, since its advice (give a
    host its addresses...) is about that side's deployment, which may be the old one."""
    try:
        return _groups(plan, options)
    except TargetError as exc:
        if not old:
            raise TargetError(f"{name} (the new plan): {exc}") from exc
        raise TargetError(
            f"{name} (the old plan): {exc}; the aws target renders no security groups for "
            "that plan, so there are none to change from"
        ) from exc


def aws_delta(
    old: Plan, new: Plan, options: RuleOptions, *, names: Sequence[str] = ("old", "new")
) -> str:
    """A shell script of the AWS CLI commands that take the old plan's groups to the new.

    ``names`` name the two sides in a refusal (what the target cannot express in either plan).
    """
    old_groups = _side_groups(old, options, names[0], old=True)
    new_groups = _side_groups(new, options, names[1], old=False)
    before, after = _keyed(old_groups), _keyed(new_groups)
    old_hosts = {g.host for g in old_groups}
    new_hosts = {g.host for g in new_groups}
    added = [k for k in after if k not in before]
    removed = [k for k in before if k not in after]
    # a permission that stays but serves other flows: its description traces it to them
    renamed = [
        k for k in after if k in before and _description(after[k]) != _description(before[k])
    ]
    updated = f", {counted(len(renamed), 'description')} to update" if renamed else ""
    out = [
        "#!/bin/sh",
        f"# portplan: AWS security-group changes of deployment {_safe(new.deployment)}: "
        f"{counted(len(added), 'rule')} to authorize, {len(removed)} to revoke{updated}.",
        "# Groups are found by name (portplan-<host>) in the VPC given as VPC_ID; new rules are",
        "# authorized before old ones are revoked, so a flow that moves is never cut.",
        *_quota_notes(before, after),
        "set -eu",
        ': "${VPC_ID:?set VPC_ID to the VPC that holds the hosts}"',
        "sg() {",
        '  aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC_ID" '
        "\"Name=group-name,Values=$1\" --query 'SecurityGroups[0].GroupId' --output text",
        "}",
    ]
    created = sorted(new_hosts - old_hosts)
    if created:
        out.extend(_ALL_OUT_V6)
    for host in created:
        out.extend(_new_group(host, new.deployment, options))
    out.extend(_command("authorize", k, after[k]) for k in added)
    out.extend(_command("update", k, after[k]) for k in renamed)
    out.extend(_command("revoke", k, before[k]) for k in removed)
    for host in sorted(old_hosts - new_hosts):
        out.append(f"# {GROUP_PREFIX}{host} is no longer needed: detach it, then delete it")
    return "\n".join(out) + "\n"
