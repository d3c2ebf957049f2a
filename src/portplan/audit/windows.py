"""Windows Defender Firewall: the ActiveStore, exported as JSON by this PowerShell one-liner
(docs/audit.md), read into the host's ruleset::

    @{active = @(Get-NetConnectionProfile | ForEach-Object { [string]$_.NetworkCategory });
      profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | Select-Object Name,
        @{n='Enabled'; e={[string]$_.Enabled}}, @{n='DefaultInboundAction';
        e={[string]$_.DefaultInboundAction}}, @{n='DefaultOutboundAction';
        e={[string]$_.DefaultOutboundAction}}, @{n='AllowInboundRules';
        e={[string]$_.AllowInboundRules}}, @{n='AllowLocalFirewallRules';
        e={[string]$_.AllowLocalFirewallRules}});
      rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Enabled True | ForEach-Object {
        $p = $_ | Get-NetFirewallPortFilter; $a = $_ | Get-NetFirewallAddressFilter;
        $f = $_ | Get-NetFirewallApplicationFilter; $t = $_ | Get-NetFirewallInterfaceTypeFilter;
        $i = $_ | Get-NetFirewallInterfaceFilter; $s = $_ | Get-NetFirewallSecurityFilter;
        [pscustomobject]@{Name = $_.Name; DisplayName = $_.DisplayName; Group = $_.Group;
          Direction = [string]$_.Direction; Action = [string]$_.Action;
          Profile = [string]$_.Profile; PolicyStoreSourceType = [string]$_.PolicyStoreSourceType;
          Protocol = [string]$p.Protocol;
          LocalPort = @($p.LocalPort); RemotePort = @($p.RemotePort);
          IcmpType = @($p.IcmpType); LocalAddress = @($a.LocalAddress);
          RemoteAddress = @($a.RemoteAddress); Program = $f.Program; Package = $f.Package;
          Service = ($_ | Get-NetFirewallServiceFilter).Service;
          InterfaceType = [string]$t.InterfaceType; InterfaceAlias = @($i.InterfaceAlias);
          Authentication = [string]$s.Authentication; Encryption = [string]$s.Encryption;
          OverrideBlockRules = [string]$s.OverrideBlockRules; LocalUser = [string]$s.LocalUser;
          RemoteUser = [string]$s.RemoteUser; RemoteMachine = [string]$s.RemoteMachine } })
    } | ConvertTo-Json -Depth 4 | Out-File -Encoding utf8 firewall.json

Block rules win over allow rules, whatever their order, except allow rules that override them
(``OverrideBlockRules``, which Windows takes only with authentication); what no rule decides
follows the active profile's default action (inbound ``NotConfigured`` blocks). A profile whose
firewall is off lets everything through, and one whose ``AllowInboundRules`` is ``False``
ignores its inbound rules (block and allow alike, as Microsoft documents
Set-NetFirewallProfile): what comes in follows its default; one whose
``AllowLocalFirewallRules`` is ``False`` ignores the rules the local administrator defined
(``PolicyStoreSourceType`` ``Local``), in both directions. Where the active profiles (one per
network) differ, what one of them lets through by default may pass. The ``RPCEPMap`` keyword is
TCP 135; ``RPC`` (RPC Dynamic Ports) is read as the dynamic range the plan gives the host,
which the host's RPC configuration must match (docs/targets.md). Read as unreadable: address
keywords (``LocalSubnet``, ``Internet``...), remote (source) ports, other port keywords, rules
for a program, a package or a service only, rules for some interfaces or interface types only
(``InterfaceAlias``, ``InterfaceType`` other than ``Any``), rules that need IPsec
authentication or encryption (``Authentication`` or ``Encryption`` other than ``NotRequired``)
or only some users or machines (``LocalUser``, ``RemoteUser``, ``RemoteMachine`` other than
``Any``), and rules for some of several active profiles: each then matches an unknown part of
what it names, and the findings are bounds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from portplan._errors import AuditError
from portplan._text import shown
from portplan.audit._input import load_json
from portplan.audit._match import MatchBuilder, icmp_ranges
from portplan.audit._rules import Chain, Hook, Rule, Ruleset, Verdict
from portplan.plan import Plan
from portplan.spaces import Ranges, address_span, family_span

__all__ = ["read_active_store"]

_PROFILES = ("Domain", "Private", "Public")
_CATEGORY = {"domainauthenticated": "Domain", "private": "Private", "public": "Public"}
_PROTOCOLS = {"tcp": 6, "udp": 17, "icmpv4": 1, "icmpv6": 58}


class _Unreadable(Exception):
    pass


def _list(value: Any) -> list[str]:
    if value is None:
        return ["Any"]
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items] or ["Any"]


def _addresses(values: Sequence[str], family: int) -> Ranges:
    if any(v.lower() == "any" for v in values):
        return family_span(family)
    found = Ranges()
    for value in values:
        try:
            if "-" in value and "/" not in value:
                low, high = (ipaddress.ip_address(v) for v in value.split("-", 1))
                if low.version == family:
                    found = found | Ranges.span(int(low), int(high))
                continue
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _Unreadable(f"address {value}") from None
        if network.version == family:
            found = found | address_span(network)
    return found


def _ports(values: Sequence[str], dynamic: Ranges) -> Ranges | None:
    """The local ports of a rule (``None``: any)."""
    if any(v.lower() == "any" for v in values):
        return None
    found = Ranges()
    for value in values:
        if value == "RPCEPMap":
            found = found | Ranges.point(135)
        elif value == "RPC":
            if not dynamic:
                raise _Unreadable("RPC keyword, and the plan gives this host no dynamic range")
            found = found | dynamic
        elif value.replace("-", "").isdigit():
            low, _, high = value.partition("-")
            found = found | Ranges.span(int(low), int(high or low))
        else:
            raise _Unreadable(f"port keyword {value}")
    return found


def _profiles(text: str) -> set[str]:
    if text.strip().lower() in ("any", "", "none"):
        return set(_PROFILES)
    return {p.strip() for p in text.split(",") if p.strip()}


#: the conditions that narrow a rule to some programs, packages, services, interfaces, users
#: or machines, with the value each has when it does not (absent: an older export)
_ANY_OF = {
    "Program": "Any",
    "Package": "Any",
    "Service": "Any",
    "InterfaceType": "Any",
    "LocalUser": "Any",
    "RemoteUser": "Any",
    "RemoteMachine": "Any",
    "Authentication": "NotRequired",
    "Encryption": "NotRequired",
}


def _narrowing(entry: Mapping[str, Any]) -> list[str]:
    """What keeps a rule from matching every packet its addresses, protocol and ports name, as
    the export gives it (the audit cannot tell a packet's interface, user or IPsec state)."""
    found = []
    for field, none in _ANY_OF.items():
        value = entry.get(field)
        if value not in (None, "", none, none.lower()):
            found.append(f"{field} {value}")
    aliases = [v for v in _list(entry.get("InterfaceAlias")) if v.lower() != "any"]
    if aliases:
        found.append(f"InterfaceAlias {', '.join(aliases)}")
    return found


#: what the one-liner exports of each rule and profile beyond what its first version did
_RULE_FIELDS = (*_ANY_OF, "InterfaceAlias", "OverrideBlockRules", "PolicyStoreSourceType")
_PROFILE_FIELDS = ("AllowInboundRules", "AllowLocalFirewallRules")


def _lacking(rules: Sequence[Mapping[str, Any]], profiles: Mapping[str, Mapping[str, Any]]) -> str:
    """What an export by an older one-liner lacks, and so what the audit takes for granted
    (empty: nothing)."""
    lacks, assumes = [], []
    if any(any(f not in r for f in _RULE_FIELDS) for r in rules):
        lacks.append("the rules' interface, security and package filters and store")
        assumes.append(
            "every rule applies on every interface, to every peer and package, whatever its store"
        )
    if any(f not in p for f in _PROFILE_FIELDS for p in profiles.values()):
        lacks.append("the profiles' AllowInboundRules and AllowLocalFirewallRules")
        assumes.append("each profile applies its inbound rules and those defined locally")
    if not lacks:
        return ""
    return (
        f"the export lacks {' and '.join(lacks)} (an older one-liner wrote it): the findings "
        f"assume that {', and that '.join(assumes)}; export again with the one-liner of "
        "docs/audit.md"
    )


def _overrides(entry: Mapping[str, Any]) -> bool:
    """An allow rule that wins over block rules (``OverrideBlockRules``)."""
    return str(entry.get("OverrideBlockRules")) == "True" and not _blocks(entry)


def _blocks(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("Action")).lower() == "block"


def _rule(
    entry: Mapping[str, Any], where: str, inbound: bool, dynamic: Ranges, partial: bool
) -> Rule:
    built = MatchBuilder()
    if partial:
        built.unreadable.append("applies in some of the active profiles only")
    try:
        protocol = str(entry.get("Protocol") or "Any")
        number = _PROTOCOLS.get(protocol.lower())
        if number is None and protocol.isdigit():
            number = int(protocol)
        if number is None and protocol.lower() != "any":
            raise _Unreadable(f"protocol {protocol}")
        local = _ports(_list(entry.get("LocalPort")), dynamic)
        remote = _ports(_list(entry.get("RemotePort")), Ranges())
        own, other = (local, remote) if inbound else (remote, local)
        if other is not None:
            built.unreadable.append("source ports")
        if number is not None:
            if own is not None:
                built.destination_ports(Ranges.point(number), own)
            else:
                built.protocol(Ranges.point(number))
            icmp = [v for v in _list(entry.get("IcmpType")) if v.lower() != "any"]
            if number in (1, 58) and icmp:
                kinds = Ranges()
                for item in icmp:
                    kind, _, code = item.partition(":")
                    kinds = kinds | icmp_ranges(
                        Ranges.point(int(kind)), Ranges.point(int(code)) if code else None
                    )
                built.icmp_types(number, kinds)
        built.unreadable.extend(_narrowing(entry))
        sides = ("destination", "source") if inbound else ("source", "destination")
        for field, side in zip(("LocalAddress", "RemoteAddress"), sides, strict=True):
            values = _list(entry.get(field))
            target = built.sources if side == "source" else built.destinations
            for family in (4, 6):
                target[family] = target[family] & _addresses(values, family)
        for family in (4, 6):
            if not built.sources[family] or not built.destinations[family]:
                built.families.discard(family)
    except _Unreadable as exc:
        built.unreadable.append(str(exc))
    action = str(entry.get("Action", "Allow")).lower()
    return Rule(
        where=where,
        text=str(entry.get("DisplayName") or entry.get("Name")),
        match=built.space(),
        verdict=Verdict.DROP if action == "block" else Verdict.ACCEPT,
        unreadable=tuple(dict.fromkeys(built.unreadable)),
        comment=entry.get("Group") or None,
    )


def _passes(profile: Mapping[str, Any], default_key: str, hook: Hook) -> bool:
    """Whether a profile lets on what no rule decides: its firewall is off, or its default
    allows (an inbound ``NotConfigured`` blocks, an outbound one allows)."""
    if str(profile.get("Enabled")) != "True":
        return True
    default = str(profile.get(default_key, "NotConfigured"))
    return default == "Allow" or (hook is Hook.OUTPUT and default == "NotConfigured")


def _ignoring_inbound(profiles: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The profiles that ignore every inbound rule: ``AllowInboundRules`` ``False`` (Microsoft's
    Set-NetFirewallProfile: "All inbound firewall rules are ignored.  All inbound traffic will
    use the DefaultInboundAction"); ``True`` and ``NotConfigured`` (no policy sets it) apply
    them."""
    return {n for n, p in profiles.items() if str(p.get("AllowInboundRules")) == "False"}


def _ignoring_local(profiles: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The profiles that ignore the rules the local administrator defined (the
    PersistentStore's, ``PolicyStoreSourceType`` ``Local``): ``AllowLocalFirewallRules``
    ``False`` (Microsoft's Set-NetFirewallProfile: "only firewall rules from GPOs are applied").
    """
    return {n for n, p in profiles.items() if str(p.get("AllowLocalFirewallRules")) == "False"}


def _passing_profiles(passing: list[str], enabled: set[str], name: str, direction: str) -> Rule:
    """What the active profiles that let everything on add where others block by default: the
    audit cannot tell on which network a packet arrives, so it may pass whatever no rule of
    every profile blocks."""
    why = ", ".join(
        f"profile {p} ({'its default allows' if p in enabled else 'its firewall is off'})"
        for p in passing
    )
    return Rule(
        where=f"{name}: the {direction} default of {', '.join(passing)}",
        text=f"{direction} default: allow ({', '.join(passing)})",
        match=MatchBuilder().space(),
        verdict=Verdict.ACCEPT,
        unreadable=(f"the active profiles' defaults differ: {why}",),
    )


def read_active_store(text: str, name: str, plan: Plan, host: str) -> Ruleset:
    """The Windows firewall of ``host`` from the JSON of the documented one-liner."""
    try:
        data = load_json(text)
        rules = data["rules"] or []
        profiles = {str(p["Name"]): p for p in data["profiles"]}
    except (ValueError, KeyError, TypeError) as exc:
        # (Python's own words for a missing key or a list where an object is: not the user's)
        why = str(exc) if isinstance(exc, ValueError) else "no object with 'rules' and 'profiles'"
        raise AuditError(
            f"{name}: not the Windows firewall JSON of docs/audit.md ({why}); export it with "
            "the one-liner of docs/audit.md"
        ) from None
    active = {_CATEGORY.get(str(c).lower(), str(c)) for c in _list(data.get("active"))} - {"Any"}
    ruleset = Ruleset(platform="windows", files=(name,), loopback_filtered=False)
    if not active:
        active = set(_PROFILES)
        ruleset.notes.append("the export names no active profile: rules of every profile read")
    dynamic = Ranges()
    for row in plan.rows_of(host):
        if row.destination == host and row.dynamic_ports is not None:
            dynamic = dynamic | Ranges((r.start, r.end) for r in row.dynamic_ports.ranges)
    rules = rules if isinstance(rules, list) else [rules]
    for index, entry in enumerate(rules):
        if not isinstance(entry, dict):
            raise AuditError(
                f"{name}: rules[{index}] is {shown(entry, 40)}, not a rule object; export the "
                "firewall with the one-liner of docs/audit.md"
            )
    lacking = _lacking(rules, profiles)
    if lacking:
        ruleset.notes.append(f"{name}: {lacking}")
    for hook, direction, default_key in (
        (Hook.INPUT, "inbound", "DefaultInboundAction"),
        (Hook.OUTPUT, "outbound", "DefaultOutboundAction"),
    ):
        chain = Chain(key=f"windows {direction}", name=direction, where=name)
        enabled = {p for p in active if str(profiles.get(p, {}).get("Enabled")) == "True"}
        # the enabled profiles that apply their rules in this direction
        ruled = enabled if hook is Hook.OUTPUT else enabled - _ignoring_inbound(profiles)
        ruleset.notes.extend(
            f"profile {p} ignores its inbound rules (AllowInboundRules False): what comes in "
            "on its network follows its DefaultInboundAction"
            for p in sorted(enabled - ruled)
        )
        ignoring_local = ruled & _ignoring_local(profiles)
        local = sum(str(r.get("PolicyStoreSourceType")) == "Local" for r in rules)
        if hook is Hook.INPUT and local:
            ruleset.notes.extend(
                f"profile {p} ignores the {local} rule(s) defined locally "
                "(AllowLocalFirewallRules False): only those of group policy apply on its network"
                for p in sorted(enabled & _ignoring_local(profiles))
            )
        defaults = {str(profiles.get(p, {}).get(default_key, "NotConfigured")) for p in enabled}
        # each network the host is on follows its own profile: what no rule decides passes
        # where that profile's default allows it, or its firewall is off
        passing = sorted(p for p in active if _passes(profiles.get(p, {}), default_key, hook))
        chain.policy = Verdict.ACCEPT if len(passing) == len(active) else Verdict.DROP
        if len(defaults) > 1:
            ruleset.notes.append(f"the active profiles differ in their {default_key}")
        if ruled:
            # allow rules that override blocks, then blocks, then the other allows
            ordered = sorted(
                enumerate(rules),
                key=lambda pair: 0 if _overrides(pair[1]) else 1 if _blocks(pair[1]) else 2,
            )
            for index, entry in ordered:
                if str(entry.get("Direction", "")).lower() != direction:
                    continue
                applies = _profiles(str(entry.get("Profile", "Any"))) & ruled
                if str(entry.get("PolicyStoreSourceType")) == "Local":
                    applies -= ignoring_local
                if not applies:
                    continue
                where = f"{name}: rules[{index}] {entry.get('DisplayName') or entry.get('Name')}"
                # a rule applies on the networks of its profiles; an allow is as good as
                # there where the profile lets everything on, a block is not
                blocks = _blocks(entry)
                partial = (applies if blocks else applies | set(passing)) != active
                chain.rules.append(_rule(entry, where, hook is Hook.INPUT, dynamic, partial))
        if chain.policy is Verdict.DROP and passing:
            chain.rules.append(_passing_profiles(passing, enabled, name, direction))
        ruleset.chains[chain.key] = chain
        ruleset.paths[hook] = [chain.key]
    return ruleset
