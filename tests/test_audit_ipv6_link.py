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

import pytest

import examples
from portplan.audit import AuditResult, FindingKind, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.spaces import Packet

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
