"""``portplan audit --ruleset windows:FILE``: the Windows Defender Firewall ActiveStore (the
JSON of docs/audit.md's one-liner) against the plan.

The Windows target's own rules for every host of the examples, exported as the one-liner
would (RPC keywords included), audit clean; a block rule, a wider allow and a firewall turned
off give the findings they should.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import examples
from portplan.audit import FindingKind, audit_ruleset, windows
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.plan import Plan
from portplan.targets import RuleOptions
from portplan.targets.hostview import Direction, collapse, rule_hosts
from portplan.targets.windows import _host_plan, _settings  # the rules before PowerShell


def _address(network: Any) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    if network.version == 4:  # as Get-NetFirewallAddressFilter prints an IPv4 subnet
        return f"{network.network_address}/{network.netmask}"
    return str(network)


#: a rule's filters that keep to every interface, user and machine, as the one-liner of
#: docs/audit.md exports them ([string] of each enum is its name: Microsoft's New-NetFirewallRule
#: lists InterfaceType Any/Wired/Wireless/RemoteAccess, Authentication NotRequired/Required/
#: NoEncap, Encryption NotRequired/Required/Dynamic; the filters print an unset user, machine,
#: interface or package as Any, and a rule of no package leaves Package empty)
NOT_NARROWED = {"Package": None, "InterfaceType": "Any", "InterfaceAlias": ["Any"],
                "Authentication": "NotRequired", "Encryption": "NotRequired",
                "OverrideBlockRules": "False", "LocalUser": "Any", "RemoteUser": "Any",
                "RemoteMachine": "Any"}  # fmt: skip


def export(plan: Plan, host: str, egress: bool, extra: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    options = RuleOptions(egress=egress)
    settings = _settings(options)
    found = _host_plan(plan, host, plan.host_addresses(host), options, settings)
    rules = []
    for index, (key, group) in enumerate(found.groups.items()):
        inbound = key.direction is Direction.INBOUND
        ports = [key.keyword] if key.keyword else [str(r) for r in key.ports.ranges]
        rules.append(
            {
                "Name": f"{{{index:08x}-portplan}}",
                "DisplayName": f"portplan {', '.join(group.flows)}",
                "Group": "portplan",
                "Direction": "Inbound" if inbound else "Outbound",
                "Action": "Allow",
                "Profile": ", ".join(settings.profiles),
                "PolicyStoreSourceType": "Local",  # New-NetFirewallRule's PersistentStore
                "Protocol": key.protocol.value.upper(),
                "LocalPort": ports if inbound else ["Any"],
                "RemotePort": ["Any"] if inbound else ports,
                "IcmpType": ["Any"],
                "LocalAddress": [_address(n) for n in key.local],
                "RemoteAddress": [_address(n) for n in collapse(group.peers, key.family)],
                "Program": "Any",
                "Service": "Any",
                **NOT_NARROWED,
            }
        )
    outbound = "Block" if egress else "NotConfigured"
    profiles = [
        {"Name": name, "Enabled": "True", "DefaultInboundAction": "Block",
         "DefaultOutboundAction": outbound, "AllowInboundRules": "True",
         "AllowLocalFirewallRules": "True"}
        for name in ("Domain", "Private", "Public")
    ]  # fmt: skip
    return json.dumps({"active": ["DomainAuthenticated"], "profiles": profiles,
                       "rules": [*rules, *extra]})  # fmt: skip


@pytest.mark.parametrize("example", ["shopping-contoso", "smart-id-nexus", "smart-id-k8s"])
@pytest.mark.parametrize("egress", [False, True])
def test_the_windows_targets_own_rules_audit_clean(example: str, egress: bool) -> None:
    plan = examples.example_plan(example)
    for host in rule_hosts(plan):
        text = export(plan, host, egress)
        ruleset = read_ruleset([RulesetFile(f"{host}.json", text)], plan, host)
        result = audit_ruleset(plan, host, ruleset, egress=egress)
        assert result.findings == [], (host, [f.message for f in result.findings])


def _rule(action: str, port: str, remote: str = "Any", program: str = "Any") -> dict[str, Any]:
    return {"Name": f"{action}-{port}", "DisplayName": f"{action} {port}", "Group": None,
            "Direction": "Inbound", "Action": action, "Profile": "Any",
            "PolicyStoreSourceType": "GroupPolicy", "Protocol": "TCP",
            "LocalPort": [port], "RemotePort": ["Any"], "IcmpType": ["Any"],
            "LocalAddress": ["Any"], "RemoteAddress": [remote], "Program": program,
            "Service": "Any", **NOT_NARROWED}  # fmt: skip


def test_block_wins_wider_allows_are_extra_and_programs_unreadable() -> None:
    plan = examples.example_plan("shopping-contoso")
    extra = [
        _rule("Block", "445"),  # whatever allows it: blocked (WMI needs 445 on cm01)
        _rule("Allow", "5985"),  # WinRM to everyone: not in the plan
        _rule("Allow", "8080", program=r"C:\\Program Files\\App\\app.exe"),
    ]
    text = export(plan, "cm01", False, extra)
    ruleset = read_ruleset([RulesetFile("cm01.json", text)], plan, "cm01")
    found = audit_ruleset(plan, "cm01", ruleset).findings
    kinds = {(f.kind, f.flow) for f in found}
    assert (FindingKind.PARTIAL, "shopping-6.1/central-wmi") in kinds
    assert (FindingKind.PARTIAL, "shopping-6.1/console-wmi") in kinds
    assert any(f.kind is FindingKind.EXTRA and f.example and f.example.port == 5985 for f in found)
    assert any(f.kind is FindingKind.UNREADABLE and "Program C:" in f.message for f in found)
    wmi = next(f for f in found if f.flow == "shopping-6.1/central-wmi")
    assert "Block 445" in wmi.message


def test_a_profile_with_the_firewall_off_lets_everything_in() -> None:
    plan = examples.example_plan("shopping-contoso")
    data = json.loads(export(plan, "shop01", False))
    for profile in data["profiles"]:
        profile["Enabled"] = "False"
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    kinds = {f.kind for f in audit_ruleset(plan, "shop01", ruleset).findings}
    assert kinds == {FindingKind.EXTRA}


@pytest.mark.parametrize("public", ["firewall off", "default allow"])
def test_a_second_active_profile_that_lets_everything_in_is_extra(public: str) -> None:
    # two networks: the Domain one blocks by default, the Public one lets everything in
    plan = examples.example_plan("shopping-contoso")
    data = json.loads(export(plan, "shop01", False))
    data["active"] = ["DomainAuthenticated", "Public"]
    for profile in data["profiles"]:
        if profile["Name"] == "Public" and public == "firewall off":
            profile["Enabled"] = "False"
        elif profile["Name"] == "Public":
            profile["DefaultInboundAction"] = "Allow"
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    found = audit_ruleset(plan, "shop01", ruleset).findings
    extra = [f for f in found if f.kind is FindingKind.EXTRA]
    assert len(extra) == 1 and "default of Public" in extra[0].message
    assert extra[0].example is not None and extra[0].example.port not in (8443, 3389)
    # the planned rows pass on either network: on Domain by their rules, on Public by default
    assert {f.kind for f in found} == {FindingKind.EXTRA, FindingKind.UNREADABLE}


def test_a_block_in_one_of_two_active_profiles_bounds_both_ways() -> None:
    """Two networks, Domain and Public, both blocking by default; 445 (planned) and 5985 (not)
    are blocked on the Domain network only.  On the Public one both pass: the planned row does
    not surely pass (on Domain it is blocked), and 5985 may pass (on Public it does)."""
    plan = examples.example_plan("shopping-contoso")
    blocks = [{**_rule("Block", port), "Profile": "Domain"} for port in ("445", "5985")]
    data = json.loads(export(plan, "cm01", False, [*blocks, _rule("Allow", "5985")]))
    data["active"] = ["DomainAuthenticated", "Public"]
    for rule in data["rules"]:
        rule["Profile"] = "Domain" if rule["Action"] == "Block" else "Any"
    ruleset = read_ruleset([RulesetFile("cm01.json", json.dumps(data))], plan, "cm01")
    found = audit_ruleset(plan, "cm01", ruleset).findings
    wmi = next(f for f in found if f.flow == "shopping-6.1/central-wmi")
    assert wmi.kind is FindingKind.PARTIAL and "Block 445" in wmi.message
    assert any(f.kind is FindingKind.EXTRA and f.example and f.example.port == 5985 for f in found)
    unreadable = {f.rule_text for f in found if f.kind is FindingKind.UNREADABLE}
    assert unreadable == {"Block 445", "Block 5985"}
    # on the Domain network alone the same blocks are exact: 5985's allow never takes effect
    data["active"] = ["DomainAuthenticated"]
    ruleset = read_ruleset([RulesetFile("cm01.json", json.dumps(data))], plan, "cm01")
    found = audit_ruleset(plan, "cm01", ruleset).findings
    assert {f.kind for f in found} == {FindingKind.PARTIAL, FindingKind.SHADOWED}


@pytest.mark.parametrize("allow", ["False", "NotConfigured"])
def test_a_profile_that_ignores_its_inbound_rules_lets_none_of_them_in(allow: str) -> None:
    """``AllowInboundRules`` ``False`` (Set-NetFirewallProfile: every inbound rule is ignored,
    all inbound traffic follows the default): the planned rows the allow rules admit are
    missing, not permitted.  ``NotConfigured`` (no policy sets it) applies the rules."""
    plan = examples.example_plan("shopping-contoso")
    data = json.loads(export(plan, "shop01", False))
    for profile in data["profiles"]:
        profile["AllowInboundRules"] = allow
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    result = audit_ruleset(plan, "shop01", ruleset)
    if allow == "NotConfigured":
        assert result.findings == [] and result.notes == []
        return
    assert result.findings and {f.kind for f in result.findings} == {FindingKind.MISSING}
    assert {f.flow for f in result.findings} == {r.key for r in plan.rows_of("shop01")
                                                 if r.destination == "shop01"}  # fmt: skip
    assert any("ignores its inbound rules" in n for n in result.notes)
    # the same export with a second network whose profile applies them: they may pass there
    data["active"] = ["DomainAuthenticated", "Private"]
    next(p for p in data["profiles"] if p["Name"] == "Private")["AllowInboundRules"] = "True"
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    found = audit_ruleset(plan, "shop01", ruleset).findings
    assert found and all(f.kind is not FindingKind.EXTRA for f in found)
    assert {f.kind for f in found} <= {FindingKind.MISSING, FindingKind.PARTIAL,
                                       FindingKind.UNREADABLE}  # fmt: skip


@pytest.mark.parametrize(
    "narrowed",
    [{"InterfaceType": "Wired"}, {"InterfaceType": "Wired, Wireless"},
     {"InterfaceAlias": ["Ethernet 2"]}, {"LocalUser": "O:LSD:(A;;CC;;;S-1-5-18)"}],
)  # fmt: skip
def test_a_block_for_some_interfaces_or_users_may_not_stop_what_it_names(
    narrowed: dict[str, Any],
) -> None:
    """A block of 5985 limited to wired interfaces (say) does not stop WinRM coming in on a
    wireless one, which an allow of 5985 lets in: that may pass, an ``extra``, not clean."""
    plan = examples.example_plan("shopping-contoso")
    extra = [{**_rule("Block", "5985"), **narrowed}, _rule("Allow", "5985")]
    text = export(plan, "cm01", False, extra)
    found = audit_ruleset(
        plan, "cm01", read_ruleset([RulesetFile("cm01.json", text)], plan, "cm01")
    ).findings
    assert any(f.kind is FindingKind.EXTRA and f.example and f.example.port == 5985 for f in found)
    field = next(iter(narrowed))
    assert any(f.kind is FindingKind.UNREADABLE and f.rule_text == "Block 5985"
               and field in f.message for f in found)  # fmt: skip


@pytest.mark.parametrize(
    "narrowed",
    [{"Authentication": "Required"}, {"Authentication": "NoEncap"}, {"Encryption": "Dynamic"},
     {"Encryption": "Required"}, {"RemoteUser": "O:LSD:(A;;CC;;;S-1-5-21-1-2-3-1104)"},
     {"RemoteMachine": "O:LSD:(A;;CC;;;S-1-5-21-1-2-3-1105)"}, {"InterfaceType": "Wireless"},
     {"Package": "S-1-15-2-1"}],
)  # fmt: skip
def test_a_planned_flow_only_an_allow_for_some_peers_admits_is_not_surely_permitted(
    narrowed: dict[str, Any],
) -> None:
    """The allow of shop01's planned rows needs IPsec, or some users, machines or interfaces:
    the rows are not surely permitted (a peer without them is dropped), not clean."""
    plan = examples.example_plan("shopping-contoso")
    data = json.loads(export(plan, "shop01", False))
    for rule in data["rules"]:
        rule.update(narrowed)
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    found = audit_ruleset(plan, "shop01", ruleset).findings
    planned = {r.key for r in plan.rows_of("shop01") if r.destination == "shop01"}
    assert planned <= {f.flow for f in found if f.kind is FindingKind.MISSING}
    assert all(f.kind in (FindingKind.MISSING, FindingKind.UNREADABLE) for f in found)


def test_an_allow_that_overrides_blocks_may_let_in_what_they_block() -> None:
    """``OverrideBlockRules`` (with the authentication Windows requires of it): WinRM blocked
    for everyone may still come in from the peers the allow authenticates."""
    plan = examples.example_plan("shopping-contoso")
    override = {**_rule("Allow", "5985"), "Authentication": "Required",
                "OverrideBlockRules": "True"}  # fmt: skip
    text = export(plan, "cm01", False, [_rule("Block", "5985"), override])
    found = audit_ruleset(
        plan, "cm01", read_ruleset([RulesetFile("cm01.json", text)], plan, "cm01")
    ).findings
    assert any(f.kind is FindingKind.EXTRA and f.example and f.example.port == 5985 for f in found)
    assert any(f.kind is FindingKind.UNREADABLE and f.rule_text == "Allow 5985"
               and "Authentication Required" in f.message for f in found)  # fmt: skip


@pytest.mark.parametrize("lacks", ["rules", "profiles", "both"])
def test_an_export_by_the_older_one_liner_is_read_as_before_and_says_what_it_assumes(
    lacks: str,
) -> None:
    """The one-liner before the interface, security and package filters and AllowInboundRules:
    its rules read as applying everywhere, as before, and the audit says so once."""
    plan = examples.example_plan("shopping-contoso")
    extra = [_rule("Block", "445"), _rule("Allow", "5985")]
    data = json.loads(export(plan, "cm01", False, extra))
    new = read_ruleset([RulesetFile("cm01.json", json.dumps(data))], plan, "cm01")
    if lacks in ("rules", "both"):
        for rule in data["rules"]:
            for field in [*NOT_NARROWED, "PolicyStoreSourceType"]:
                del rule[field]
    if lacks in ("profiles", "both"):
        for profile in data["profiles"]:
            del profile["AllowInboundRules"], profile["AllowLocalFirewallRules"]
    old = read_ruleset([RulesetFile("cm01.json", json.dumps(data))], plan, "cm01")
    before, after = audit_ruleset(plan, "cm01", new), audit_ruleset(plan, "cm01", old)
    assert before.notes == []
    assert [f.message for f in after.findings] == [f.message for f in before.findings]
    assert after.findings
    (note,) = after.notes
    assert note.startswith("cm01.json: the export lacks ")
    assert ("interface, security and package filters" in note) == (lacks != "profiles")
    assert ("AllowInboundRules and AllowLocalFirewallRules" in note) == (lacks != "rules")
    assert "docs/audit.md" in note


def test_a_profile_that_ignores_local_rules_applies_only_group_policys() -> None:
    """``AllowLocalFirewallRules`` ``False`` (Set-NetFirewallProfile: the rules the local
    administrator defined are ignored, only those of GPOs apply): the Windows target's rules,
    made by New-NetFirewallRule in the PersistentStore (``Local``), do not let shop01's planned
    rows in, and a group policy's allow of WinRM still does."""
    plan = examples.example_plan("shopping-contoso")
    data = json.loads(export(plan, "shop01", False, [_rule("Allow", "5985")]))
    for profile in data["profiles"]:
        profile["AllowLocalFirewallRules"] = "False"
    ruleset = read_ruleset([RulesetFile("shop01.json", json.dumps(data))], plan, "shop01")
    result = audit_ruleset(plan, "shop01", ruleset)
    planned = {r.key for r in plan.rows_of("shop01") if r.destination == "shop01"}
    assert planned == {f.flow for f in result.findings if f.kind is FindingKind.MISSING}
    extra = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    assert len(extra) == 1 and extra[0].example and extra[0].example.port == 5985
    assert any("AllowLocalFirewallRules False" in n for n in result.notes)


def test_the_documented_one_liner_exports_every_field_the_reader_reads() -> None:
    """docs/audit.md's one-liner (one line to paste) is the module's, and names every field of
    a rule and a profile the reader reads: one it left out was read as its most permissive."""
    text = (Path(__file__).parent.parent / "docs" / "audit.md").read_text(encoding="utf-8")
    block = text.split("For Windows, export the firewall", 1)[1].split("```powershell\n", 1)[1]
    (line,) = block.split("\n```", 1)[0].splitlines()
    module = windows.__doc__ or ""
    shown = module.split("::\n", 1)[1].split("firewall.json", 1)[0] + "firewall.json"
    assert "".join(shown.split()) == "".join(line.split())
    rule = line.split("[pscustomobject]@{", 1)[1]
    for field in ("Name", "Direction", "Action", "Profile", "Protocol", "LocalPort",
                  "RemotePort", "IcmpType", "LocalAddress", "RemoteAddress",
                  *windows._RULE_FIELDS):  # fmt: skip
        assert f" {field} = " in f" {rule}", field
    for field in ("Enabled", "DefaultInboundAction", "DefaultOutboundAction",
                  *windows._PROFILE_FIELDS):  # fmt: skip
        assert f"@{{n='{field}'; e={{[string]$_.{field}}}}}" in line, field
