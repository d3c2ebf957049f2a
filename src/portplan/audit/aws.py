"""AWS security groups, as ``aws ec2 describe-security-groups --group-ids ...`` prints them,
read into the ruleset of the host they are attached to.

Give the groups attached to the host's network interfaces: security groups allow only, are
stateful, and add up, so what the host accepts is the union of every group's ``IpPermissions``
(and what it sends, of their ``IpPermissionsEgress``).  Read exactly: ``IpProtocol`` (``-1``
for every protocol, names and numbers), ``FromPort``/``ToPort`` (ICMP type and code, ``-1``
for any), ``IpRanges`` and ``Ipv6Ranges``, and ``UserIdGroupPairs`` naming a group of the same
file called ``portplan-HOST`` (the deployment's host stands for the instances that carry it).
Other group references, a group of a host known by name only (no addresses to stand for its
instances) and prefix lists are unreadable, and may be any address: the permission is then
read at its widest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portplan._errors import AuditError
from portplan._text import shown
from portplan.audit._input import load_json, network, port_number, port_span
from portplan.audit._match import MatchBuilder, icmp_ranges
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.plan import Plan
from portplan.spaces import PROTOCOL_NUMBERS, Ranges, Space, address_span, networks_ranges

__all__ = ["read_security_groups"]

_PREFIX = "portplan-"
_BYTE = 255
_HINT = "give the output of `aws ec2 describe-security-groups`"


def _objects(value: Any, where: str) -> list[Mapping[str, Any]]:
    """A list of JSON objects (``null``: none), or :class:`AuditError` naming ``where``."""
    items = [] if value is None else value
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AuditError(f"{where}: {shown(value, 40)} is not a list of objects; {_HINT}")
    return items


def _checked(where: str, read: Any, *args: Any) -> Any:
    """``read(*args)``, its :class:`AuditError` placed at ``where``."""
    try:
        return read(*args)
    except AuditError as exc:
        raise AuditError(f"{where}: {exc}; {_HINT}") from None


def _protocol(value: Any) -> int | None:
    text = str(value).lower()
    if text == "-1":
        return None
    if text.isdigit():
        return int(text)
    if text in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[text]
    raise AuditError(f"unknown IpProtocol {value!r}")


def _ports(
    permission: Mapping[str, Any], protocol: int | None, built: MatchBuilder, where: str
) -> None:
    if protocol is None:
        return
    built.protocol(Ranges.point(protocol))
    low, high = permission.get("FromPort", -1), permission.get("ToPort", -1)
    if protocol in (6, 17):
        if low not in (None, -1):
            ports = _checked(where, port_span, low, high, "FromPort-ToPort")
            built.destination_ports(Ranges.point(protocol), ports)
    elif protocol in (1, 58) and low not in (None, -1):
        kind = _checked(where, port_number, low, "FromPort (ICMP type)")
        code = None if high in (None, -1) else _checked(where, port_number, high, "ToPort")
        if kind > _BYTE or (code or 0) > _BYTE:
            raise AuditError(f"{where}: ICMP type {kind} code {code}: each is 0-255; {_HINT}")
        codes = None if code is None else Ranges.point(code)
        built.icmp_types(protocol, icmp_ranges(Ranges.point(kind), codes))


def _peers(
    permission: Mapping[str, Any],
    groups: Mapping[str, str],
    plan: Plan,
    unreadable: list[str],
    where: str,
) -> dict[int, Ranges]:
    found = {4: Ranges(), 6: Ranges()}
    for key, field in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
        for index, entry in enumerate(_objects(permission.get(key), f"{where}.{key}")):
            at = f"{where}.{key}[{index}].{field}"
            if not isinstance(entry.get(field), str):
                raise AuditError(f"{at}: {shown(entry.get(field), 40)} is not a CIDR; {_HINT}")
            net = _checked(at, network, entry[field])
            found[net.version] = found[net.version] | address_span(net)
    for pair in _objects(permission.get("UserIdGroupPairs"), f"{where}.UserIdGroupPairs"):
        name = groups.get(str(pair.get("GroupId")), "")
        host = name[len(_PREFIX) :] if name.startswith(_PREFIX) else None
        if host is None or host not in plan.hosts:
            unreadable.append(f"group {pair.get('GroupId')} ({name or 'not in the file'})")
            continue
        if not plan.hosts[host].addresses:  # its instances have addresses the plan does not say
            unreadable.append(
                f"group {pair.get('GroupId')} ({name}: host {host!r} is known by name only)"
            )
            continue
        for family in (4, 6):
            found[family] = found[family] | networks_ranges(plan.hosts[host].addresses, family)
    for entry in _objects(permission.get("PrefixListIds"), f"{where}.PrefixListIds"):
        unreadable.append(f"prefix list {entry.get('PrefixListId')} (its addresses are not here)")
    return found


def read_security_groups(text: str, name: str, plan: Plan) -> Ruleset:
    """The ruleset of the security groups of ``describe-security-groups`` output."""
    try:
        data = load_json(text)
    except ValueError as exc:
        raise AuditError(
            f"{name}: not the JSON of `aws ec2 describe-security-groups` ({exc}); {_HINT}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("SecurityGroups"), list):
        raise AuditError(f"{name}: not the JSON of `aws ec2 describe-security-groups`; {_HINT}")
    groups = _objects(data["SecurityGroups"], f"{name}: SecurityGroups")
    names = {str(g.get("GroupId")): str(g.get("GroupName", "")) for g in groups}
    ruleset = Ruleset(platform="aws", files=(name,), loopback_filtered=False)
    for hook, key in ((Hook.INPUT, "IpPermissions"), (Hook.OUTPUT, "IpPermissionsEgress")):
        chain = Chain(key=f"security groups {key}", name=key, policy=Verdict.DROP, where=name)
        for group in groups:
            label = group.get("GroupName") or group.get("GroupId")
            permissions = _objects(group.get(key), f"{name}: {label} {key}")
            for index, permission in enumerate(permissions):
                chain.rules.extend(
                    _rules(permission, names, plan, f"{name}: {label} {key}[{index}]", hook)
                )
        ruleset.chains[chain.key] = chain
        ruleset.paths[hook] = [chain.key]
    return ruleset


def _rules(
    permission: Mapping[str, Any], names: Mapping[str, str], plan: Plan, where: str, hook: Hook
) -> list[Rule]:
    """The rule of a permission's peers read exactly, and, when it names peers the audit
    cannot resolve (a prefix list, another group), an unreadable rule for any peer: they may be
    anyone."""
    built = MatchBuilder()
    protocol = _checked(where, _protocol, permission.get("IpProtocol", "-1"))
    _ports(permission, protocol, built, where)
    unresolved: list[str] = []
    peers = _peers(permission, names, plan, unresolved, where)
    side = "sources" if hook is Hook.INPUT else "destinations"
    match = Space()
    for family in (4, 6):
        if peers[family]:
            single = MatchBuilder()
            single.__dict__.update(built.__dict__)
            single.families = {family}
            setattr(single, side, {**getattr(built, side), family: peers[family]})
            match = match | single.space()
    text = json.dumps(permission, sort_keys=True)
    rules = [Rule(where=where, text=text, match=match, verdict=Verdict.ACCEPT)]
    if unresolved:
        rules.append(
            Rule(
                where=where,
                text=text,
                match=built.space(),
                verdict=Verdict.ACCEPT,
                unreadable=tuple(unresolved),
            )
        )
    return rules
