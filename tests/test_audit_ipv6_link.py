"""The IPv6 link rules of portplan's host rulesets are its own infrastructure, and only they.

Multicast listener queries (ICMPv6 130, from a link-local address, hop limit 1) and DHCPv6
replies (UDP 547 to 546 from a link-local address) are accepted ahead of the plan, as neighbour
discovery is: auditing the ruleset portplan wrote names neither as ``extra`` nor as
``unreadable`` (the audit does not read the hop limit or the source port).  The same rule any
wider (another ICMPv6 type, any source) is ``extra``.  Read from traefik01's golden
``ip6tables-restore`` file, whose host has an IPv6 address.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import examples
from portplan.audit import AuditResult, FindingKind, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.plan import Plan
from portplan.spaces import Packet
from portplan.targets import RuleOptions, get_target

HOST = "traefik01"
FOLDER = examples.GOLDEN / "rules" / "iptables" / "smart-id-nexus" / "default"
ADDRESS = ipaddress.IPv6Address("2001:db8:20::10")  #: traefik01's, in the deployment
MLD = (
    "-A INPUT -s fe80::/10 -p ipv6-icmp -m icmp6 --icmpv6-type 130 -m hl --hl-eq 1 "
    '-m comment --comment "IPv6 multicast listener queries" -j ACCEPT'
)
DHCPV6 = (
    "-A INPUT -s fe80::/10 -p udp -m udp --sport 547 --dport 546 "
    '-m comment --comment "DHCPv6 replies" -j ACCEPT'
)


def audit(v6: str) -> AuditResult:
    plan = examples.example_plan("smart-id-nexus")
    files = [
        RulesetFile(f"{HOST}.v4", (FOLDER / f"{HOST}.v4").read_text()),
        RulesetFile(f"{HOST}.v6", v6),
    ]
    return audit_ruleset(plan, HOST, read_ruleset(files), annotate=True)


def test_the_rules_portplan_writes_are_its_own() -> None:
    text = (FOLDER / f"{HOST}.v6").read_text()
    assert MLD in text and DHCPV6 in text
    result = audit(text)
    assert result.findings == [], [f.message for f in result.findings]
    effects = {r.text: r.effect for r in result.rules}
    assert effects[MLD] == "no effect here"
    assert effects[DHCPV6] == "no effect here"


@pytest.mark.parametrize(
    ("rule", "wider", "packet"),
    [
        (MLD, MLD.replace("--icmpv6-type 130", "--icmpv6-type 131"), ("fe80::1", 58, 131 * 256)),
        (MLD, MLD.replace("-s fe80::/10 ", ""), ("2001:db8:99::1", 58, 130 * 256)),
        (DHCPV6, DHCPV6.replace("-s fe80::/10 ", ""), ("2001:db8:99::1", 17, 546)),
        (DHCPV6, DHCPV6.replace("--dport 546", "--dport 545"), ("fe80::1", 17, 545)),
    ],
    ids=["mld-report", "mld-any-source", "dhcpv6-any-source", "dhcpv6-other-port"],
)
def test_the_same_rule_any_wider_is_extra(
    rule: str, wider: str, packet: tuple[str, int, int]
) -> None:
    text = (FOLDER / f"{HOST}.v6").read_text()
    result = audit(text.replace(rule, wider))
    extra = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    source, protocol, port = packet
    probe = Packet(6, ipaddress.IPv6Address(source), ADDRESS, protocol, port)
    assert [f for f in extra if f.packets is not None and probe in f.packets], [
        f.message for f in result.findings
    ]


# With egress the output chain accepts the host's own link traffic ahead of the plan: its
# multicast listener reports and DHCPv6 requests, from a link-local address (the reports also
# from ::).  The audit's outbound universe is what the host sends from its declared addresses,
# so these rules come into view where the deployment names a link-local address of the host.
LINK_LOCAL = ipaddress.IPv6Address("fe80::10")
REPORT = (
    "-A OUTPUT -s fe80::/10 -d ff02::16/128 -p ipv6-icmp -m icmp6 --icmpv6-type 143 -m hl "
    '--hl-eq 1 -m comment --comment "IPv6 multicast listener reports" -j ACCEPT'
)
REQUEST = (
    "-A OUTPUT -s fe80::/10 -d ff02::1:2/128 -p udp -m udp --sport 546 --dport 547 "
    '-m comment --comment "DHCPv6 requests" -j ACCEPT'
)


def egress_files(target: str, tmp_path: Path) -> tuple[Plan, dict[str, str]]:
    """traefik01's egress ruleset, in a deployment that names its link-local address too."""
    data = examples.example_data("smart-id-nexus")
    data["hosts"][HOST]["addresses"].append(str(LINK_LOCAL))
    plan = examples.plan_from_data(data, tmp_path)
    return plan, get_target(target).render(plan, RuleOptions(hosts=(HOST,), egress=True))


def audit_egress(plan: Plan, files: dict[str, str]) -> AuditResult:
    ruleset = read_ruleset([RulesetFile(name, text) for name, text in files.items()])
    return audit_ruleset(plan, HOST, ruleset, egress=True)


@pytest.mark.parametrize("target", ["iptables", "nftables"])
def test_the_egress_rules_portplan_writes_are_its_own(target: str, tmp_path: Path) -> None:
    plan, files = egress_files(target, tmp_path)
    text = "".join(files.values())
    assert "IPv6 multicast listener reports" in text and "DHCPv6 requests" in text
    result = audit_egress(plan, files)
    assert result.findings == [], [f.message for f in result.findings]


@pytest.mark.parametrize(
    ("rule", "wider", "packet"),
    [
        (REPORT, REPORT.replace("-d ff02::16/128 ", ""), (LINK_LOCAL, "2001:db8:99::1", 58, 143)),
        (REPORT, REPORT.replace("type 143", "type 144"), (LINK_LOCAL, "ff02::16", 58, 144)),
        (
            REQUEST,
            REQUEST.replace("-d ff02::1:2/128 ", ""),
            (LINK_LOCAL, "2001:db8:99::1", 17, 547),
        ),
        (REQUEST, REQUEST.replace("-s fe80::/10 ", ""), (ADDRESS, "ff02::1:2", 17, 547)),
    ],
    ids=["report-anywhere", "report-other-type", "request-anywhere", "request-any-source"],
)
def test_the_same_egress_rule_any_wider_is_extra(
    rule: str,
    wider: str,
    packet: tuple[ipaddress.IPv6Address, str, int, int],
    tmp_path: Path,
) -> None:
    plan, files = egress_files("iptables", tmp_path)
    assert rule in files[f"{HOST}.v6"]
    files[f"{HOST}.v6"] = files[f"{HOST}.v6"].replace(rule, wider)
    result = audit_egress(plan, files)
    extra = [f for f in result.findings if f.kind is FindingKind.EXTRA]
    source, destination, protocol, number = packet
    port = number * 256 if protocol == 58 else number
    probe = Packet(6, source, ipaddress.IPv6Address(destination), protocol, port)
    assert [f for f in extra if f.packets is not None and probe in f.packets], [
        f.message for f in result.findings
    ]
