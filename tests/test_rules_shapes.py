"""Every target on rows the seed products do not have: ICMP, a destination known by its DNS
name only, clients from anywhere, a mesh inside a cluster, hosts portplan does not manage.

The deployment is ``examples/search-cluster.yaml``; variants change one thing in it.  Each
target's behaviour is a golden file per (target, variant, case): its files, or, where it
refuses, ``refused.txt`` with the reason (tests/golden/rules/TARGET/VARIANT/CASE/).
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import examples
import netns
from portplan._errors import TargetError
from portplan.audit import audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.audit.nftables import read_nftables_json
from portplan.plan import Plan
from portplan.targets import RuleOptions, get_target, target_names
from portplan.targets.acl import AclTarget, Boundary, boundary_terms, expected_permits
from portplan.targets.hostview import rule_hosts

EXAMPLE = "search-cluster"
CASES = {"default": RuleOptions(), "egress": RuleOptions(egress=True)}
ACL = ("cisco", "juniper", "paloalto")


def _addressed(data: dict[str, Any]) -> None:
    """The update service gets an address: egress can be filtered towards it."""
    data["hosts"]["updates"]["addresses"] = ["203.0.113.80"]


def _pods(data: dict[str, Any]) -> None:
    """The nodes and the dashboard are pods of one cluster (and updates has an address)."""
    _addressed(data)
    for host, app in (("search", "search-node"), ("dash01", "dashboard")):
        data["hosts"][host]["kubernetes"] = {
            "cluster": "prod",
            "namespace": "search",
            "pod_labels": {"app": app},
        }


def _fqdn_zone(data: dict[str, Any]) -> None:
    """The update service sits behind the zone firewall: the ACLs must name it."""
    data["hosts"]["updates"]["zone"] = "internet"


def _fqdn_source(data: dict[str, Any]) -> None:
    """The vendor's support comes in from the host known by name only."""
    data["management"].append(
        {
            "id": "vendor-support",
            "from": "updates",
            "to": "search",
            "ports": 22,
            "purpose": "Vendor support.",
        }
    )


#: variant → (the change, the targets and cases it is rendered for)
VARIANTS: dict[
    str, tuple[Callable[[dict[str, Any]], None] | None, tuple[str, ...], tuple[str, ...]]
] = {
    EXAMPLE: (None, target_names(), tuple(CASES)),
    f"{EXAMPLE}-addressed": (
        _addressed,
        tuple(t for t in target_names() if t != "kubernetes"),
        ("egress",),
    ),
    f"{EXAMPLE}-pods": (_pods, ("kubernetes",), tuple(CASES)),
    f"{EXAMPLE}-fqdn-zone": (_fqdn_zone, ACL, ("default",)),
    f"{EXAMPLE}-fqdn-source": (_fqdn_source, target_names(), ("default",)),
}
CASES_RENDERED = [
    (target, variant, case)
    for variant, (_change, targets, cases) in VARIANTS.items()
    for target in targets
    for case in cases
]


def variant_plan(variant: str, tmp_path: Path) -> Plan:
    change = VARIANTS[variant][0]
    if change is None:
        return examples.example_plan(EXAMPLE)
    data = examples.example_data(EXAMPLE)
    change(data)
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    return examples.plan_from_data(data, tmp_path, variant)


def render(target: str, plan: Plan, case: str) -> dict[str, str] | str:
    """The target's files, or the reason it refuses."""
    try:
        return get_target(target).render(plan, CASES[case])
    except TargetError as exc:
        return str(exc)


@pytest.mark.parametrize(("target", "variant", "case"), CASES_RENDERED)
def test_target_behaviour_matches_golden(
    target: str, variant: str, case: str, tmp_path: Path, golden: Callable[[str, bytes], None]
) -> None:
    outcome = render(target, variant_plan(variant, tmp_path), case)
    folder = f"rules/{target}/{variant}/{case}"
    files = {"refused.txt": outcome + "\n"} if isinstance(outcome, str) else outcome
    for name, text in files.items():
        golden(f"{folder}/{name}", text.encode())
    written = {
        p.name for p in (examples.GOLDEN / folder).iterdir() if not p.name.endswith(".actual")
    }
    assert written == set(files), "golden folder holds files the target did not render"


# -- what each behaviour must be, whatever the golden files say -------------------------------


def _refusal(target: str, variant: str, case: str, tmp_path: Path) -> str:
    outcome = render(target, variant_plan(variant, tmp_path), case)
    assert isinstance(outcome, str), f"{target} rendered {variant}/{case}"
    return outcome


@pytest.mark.parametrize("target", ["nftables", "iptables", "windows", "aws", "kubernetes"])
def test_a_name_only_destination_is_refused_where_it_must_be_matched(
    target: str, tmp_path: Path
) -> None:
    variant = EXAMPLE if target != "kubernetes" else f"{EXAMPLE}-pods"
    if target == "kubernetes":  # the pods' egress towards the name-only host
        data = examples.example_data(EXAMPLE)
        _pods(data)
        data["hosts"]["updates"].pop("addresses")
        shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
        plan = examples.plan_from_data(data, tmp_path, variant)
        with pytest.raises(TargetError) as caught:
            get_target(target).render(plan, CASES["egress"])
        message = str(caught.value)
    else:
        message = _refusal(target, variant, "egress", tmp_path)
    assert "flow example-search-2.0/updates" in message
    assert "host 'updates' is known by its DNS name only (updates.example.com)" in message
    assert "addresses" in message


@pytest.mark.parametrize("target", ACL)
def test_acls_refuse_a_name_only_host_behind_a_zone_firewall(target: str, tmp_path: Path) -> None:
    message = _refusal(target, f"{EXAMPLE}-fqdn-zone", "default", tmp_path)
    assert "flow example-search-2.0/updates (search -> updates)" in message
    assert "host 'updates' is known by its DNS name only" in message
    assert "Aerleon" in message and "FQDN" in message


@pytest.mark.parametrize("target", target_names())
def test_a_name_only_source_is_refused(target: str, tmp_path: Path) -> None:
    plan = variant_plan(f"{EXAMPLE}-fqdn-source", tmp_path)
    outcome = render(target, plan, "default")
    if target in ACL:  # updates has no zone: no zone firewall between it and the nodes
        assert not isinstance(outcome, str)
        assert "vendor-support" not in "".join(outcome.values())
        return
    assert isinstance(outcome, str)
    if target == "kubernetes":
        assert "no host with `kubernetes:`" in outcome
        return
    assert "flow management/vendor-support (updates -> search)" in outcome
    assert "known by its DNS name only" in outcome


def test_without_egress_a_name_only_destination_needs_no_rule(tmp_path: Path) -> None:
    plan = examples.example_plan(EXAMPLE)
    for target in ("nftables", "iptables", "windows", "aws"):
        files = get_target(target).render(plan, RuleOptions())
        assert "updates" not in "".join(files), target  # no ruleset for the update service
        text = "".join(files.values())
        assert "example-search-2.0/updates" not in text, target  # nothing to allow inbound


# -- ICMP ------------------------------------------------------------------------------------


def test_nftables_icmp_by_type_and_family() -> None:
    files = get_target("nftables").render(examples.example_plan(EXAMPLE), RuleOptions())
    dash = files["dash01.nft"]
    assert (
        "ip saddr 203.0.113.50 ip daddr 198.51.100.20 icmp type echo-request ct state new accept"
        in dash
    )
    assert "ip6 saddr 2001:db8:50::50 ip6 daddr 2001:db8:20::20 icmpv6 type echo-request" in dash
    # packet-too-big is ICMPv6 only: the IPv4 rule allows destination-unreachable alone
    assert "ip daddr 198.51.100.20 icmp type destination-unreachable ct state new" in dash
    assert "icmpv6 type { destination-unreachable, packet-too-big }" in dash
    assert "icmp type packet-too-big" not in dash
    # neighbour discovery keeps working as before, ahead of the plan's rules
    nd = dash.index("nd-neighbor-solicit")
    assert nd < dash.index("icmpv6 type echo-request")


def test_iptables_icmp_one_rule_per_type() -> None:
    files = get_target("iptables").render(examples.example_plan(EXAMPLE), RuleOptions())
    v6 = files["dash01.v6"]
    assert "-p ipv6-icmp -m icmp6 --icmpv6-type destination-unreachable" in v6
    assert "-p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big" in v6
    assert (
        "-s 2001:db8:50::50/128 -d 2001:db8:20::20/128 -p ipv6-icmp -m icmp6 "
        "--icmpv6-type echo-request" in v6
    )
    v4 = files["dash01.v4"]
    assert "-s 203.0.113.50/32 -d 198.51.100.20/32 -p icmp -m icmp --icmp-type echo-request" in v4
    assert "packet-too-big" not in v4


def test_every_icmp_type_is_the_whole_protocol(tmp_path: Path) -> None:
    product = (examples.EXAMPLES / "products" / "example-search-2.0.yaml").read_text()
    ping = "    protocol: icmp\n    purpose: Monitoring"
    assert ping in product
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / "any.yaml").write_text(
        product.replace(ping, "    protocol: icmp\n    icmp: [any]\n    purpose: Monitoring")
    )
    data = examples.example_data(EXAMPLE)
    data["products"]["example-search-2.0"]["file"] = "products/any.yaml"
    plan = examples.plan_from_data(data, tmp_path)
    nft = get_target("nftables").render(plan, RuleOptions())["search.nft"]
    assert (
        "ip saddr 203.0.113.50 ip daddr { 192.0.2.11, 192.0.2.12/31 } meta l4proto icmp "
        "ct state new accept" in nft
    )
    ipt = get_target("iptables").render(plan, RuleOptions())["search.v4"]
    assert "-s 203.0.113.50/32 -d 192.0.2.11/32 -p icmp -m conntrack --ctstate NEW" in ipt
    windows = get_target("windows").render(plan, RuleOptions())["search.ps1"]
    assert "'portplan in ICMPv4 any type: example-search-2.0/monitoring-ping'" in windows
    assert "-Protocol ICMPv4 `" in windows  # no -IcmpType: every type
    aws = get_target("aws").render(plan, RuleOptions())["security-groups.tf"]
    assert '"search_icmp_all_203_0_113_50_32"' in aws
    assert "from_port         = -1\n  to_port           = -1" in aws
    juniper = get_target("juniper").render(plan, RuleOptions())["from-admin.jcl"]
    assert "protocol icmp;\n" in juniper
    with pytest.raises(TargetError, match="allows ICMP of every type, which target paloalto"):
        get_target("paloalto").render(plan, RuleOptions())


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_kubernetes_says_it_cannot_express_icmp(tmp_path: Path) -> None:
    plan = variant_plan(f"{EXAMPLE}-pods", tmp_path)
    records = _Records()
    logger = logging.getLogger("portplan.targets.kubernetes")
    logger.addHandler(records)  # the CLI's own handler may sit above, without propagation
    try:
        text = get_target("kubernetes").render(plan, RuleOptions())["prod.yaml"]
    finally:
        logger.removeHandler(records)
    assert (
        "# not expressible in a NetworkPolicy (its ports are TCP, UDP or SCTP): whether ICMP "
        "reaches the pods is up to the network plugin: example-search-2.0/node-ping "
        "(ICMP echo-request, search -> search)" in text
    )
    assert any(
        "so the policy of dash01 has no rule for example-search-2.0/path-mtu" in m
        for m in records.messages
    )
    assert len(records.messages) == 4  # one per ICMP row of each policy
    assert "ICMP" not in "".join(line for line in text.splitlines() if not line.startswith("#"))


# -- anywhere, mesh, unmanaged ---------------------------------------------------------------


def test_from_anywhere_needs_no_source_match() -> None:
    plan = examples.example_plan(EXAMPLE)
    nft = get_target("nftables").render(plan, RuleOptions())["dash01.nft"]
    assert "\t\tip daddr 198.51.100.20 tcp dport 5601 ct state new accept" in nft
    assert "0.0.0.0/0" not in nft and "::/0" not in nft
    ipt = get_target("iptables").render(plan, RuleOptions())["dash01.v4"]
    assert "-A INPUT -d 198.51.100.20/32 -p tcp -m tcp --dport 5601 -m conntrack" in ipt
    windows = get_target("windows").render(plan, RuleOptions())["dash01.ps1"]
    assert "-RemoteAddress 'Any'" in windows
    aws = get_target("aws").render(plan, RuleOptions())["security-groups.tf"]
    assert 'cidr_ipv4         = "0.0.0.0/0"' in aws and 'cidr_ipv6         = "::/0"' in aws


def test_a_cluster_allows_its_members_to_each_other() -> None:
    plan = examples.example_plan(EXAMPLE)
    nft = get_target("nftables").render(plan, RuleOptions())["search.nft"]
    assert "elements = { 192.0.2.11, 192.0.2.12/31 }" in nft
    assert re.search(
        r"ip saddr @peers_v4_1 ip daddr \{ 192\.0\.2\.11, 192\.0\.2\.12/31 \} tcp dport 9300", nft
    )


def test_unmanaged_hosts_get_no_ruleset() -> None:
    plan = examples.example_plan(EXAMPLE)
    for target in ("nftables", "iptables", "windows"):
        files = get_target(target).render(plan, RuleOptions())
        assert {name.split(".")[0] for name in files} == {"search", "dash01"}, target
    aws = get_target("aws").render(plan, RuleOptions())["security-groups.tf"]
    assert 'resource "aws_security_group" "monitor"' not in aws
    assert "# no security group for monitor: host 'monitor' is 'managed: false'" in aws
    with pytest.raises(
        TargetError, match="no ruleset for monitor: host 'monitor' is 'managed: false'"
    ):
        get_target("nftables").render(plan, RuleOptions(hosts=("monitor",)))


# -- the rules read back by the audit: exactly the plan, ICMP included ----------------------

AUDITED = [(EXAMPLE, "default"), (f"{EXAMPLE}-addressed", "egress")]


@pytest.mark.parametrize(("variant", "case"), AUDITED)
def test_iptables_rules_audit_clean(variant: str, case: str, tmp_path: Path) -> None:
    plan = variant_plan(variant, tmp_path)
    files = get_target("iptables").render(plan, CASES[case])
    for host in rule_hosts(plan):
        mine = [RulesetFile(n, t) for n, t in files.items() if n.startswith(f"{host}.")]
        result = audit_ruleset(plan, host, read_ruleset(mine), egress=case == "egress")
        assert result.findings == [], (host, [f.message for f in result.findings])


@pytest.mark.netns
@pytest.mark.parametrize(("variant", "case"), AUDITED)
def test_nftables_rules_audit_clean(variant: str, case: str, tmp_path: Path) -> None:
    if netns.unavailable("nft"):
        pytest.skip(str(netns.unavailable("nft")))
    plan = variant_plan(variant, tmp_path)
    files = get_target("nftables").render(plan, CASES[case])
    for host in rule_hosts(plan):
        path = tmp_path / f"{host}.nft"
        path.write_text(files[path.name])
        with netns.namespace() as name:  # the ruleset as the kernel holds it
            netns.run(["ip", "netns", "exec", name, "nft", "-f", str(path)])
            loaded = netns.run(["ip", "netns", "exec", name, "nft", "-j", "list", "ruleset"])
        ruleset = read_nftables_json(loaded.stdout, str(path))
        result = audit_ruleset(plan, host, ruleset, egress=case == "egress")
        assert result.findings == [], (host, [f.message for f in result.findings])


def test_the_audit_finds_an_icmp_type_the_plan_does_not_name(tmp_path: Path) -> None:
    plan = examples.example_plan(EXAMPLE)
    files = get_target("iptables").render(plan, RuleOptions())
    text = files["dash01.v4"].replace("--icmp-type echo-request", "--icmp-type timestamp-request")
    result = audit_ruleset(plan, "dash01", read_ruleset([RulesetFile("dash01.v4", text)]))
    found = {(f.kind.value, f.flow) for f in result.findings}
    assert ("missing", "example-search-2.0/monitoring-ping") in found
    assert ("extra", None) in found


# -- the zone ACLs' read-back check knows ICMP, and refuses anything but the plan -------------

ACL_TAMPERING = {
    "cisco": [
        ("host 203.0.113.50 host 192.0.2.11 8", "host 203.0.113.50 host 192.0.2.11 0"),
        ("host 203.0.113.50 host 192.0.2.11 8", "host 203.0.113.50 host 192.0.2.11"),
        ("host 203.0.113.50 host 192.0.2.11 8", "host 203.0.113.50 host 192.0.2.11 8 0"),
        (
            "permit icmp host 203.0.113.50 host 192.0.2.11 8",
            "permit 58 host 203.0.113.50 host 192.0.2.11 8",
        ),
    ],
    "juniper": [
        ("icmp-type 8;", "icmp-type 0;"),
        ("icmp-type 8;", ""),
        ("icmp-type 8;", "icmp-type 8; destination-port 22;"),
        ("protocol icmp;", "protocol udp;"),
    ],
    "paloalto": [
        ("<type>8</type>", "<type>0</type>"),
        ("<type>8</type>", "<type>8</type><code>0</code>"),
        ("<member>icmp-echo-request</member>", "<member>ping</member>"),
        ("<member>application-default</member>", "<member>any</member>"),
    ],
}


@pytest.mark.parametrize(
    ("target", "old", "new"),
    [(t, old, new) for t, pairs in ACL_TAMPERING.items() for old, new in pairs],
)
def test_the_acl_checks_read_icmp_exactly(target: str, old: str, new: str) -> None:
    plan = examples.example_plan(EXAMPLE)
    rendered = get_target(target)
    assert isinstance(rendered, AclTarget)
    units = rendered.filter_files(boundary_terms(plan))
    unit = next(u for u in units if Boundary("admin", "internal") in u.boundaries)
    expected = expected_permits(units[unit])
    text = rendered.render(plan, RuleOptions())[f"{unit.stem}{rendered.suffix}"]
    rendered.check(text, unit, expected)  # as rendered: exactly the plan
    assert old in text
    with pytest.raises(TargetError):
        rendered.check(text.replace(old, new, 1), unit, expected)


@pytest.mark.parametrize("target", ["nftables", "iptables", "windows"])
def test_a_managed_name_only_host_gets_no_ruleset(target: str, tmp_path: Path) -> None:
    # a ruleset for it would accept nothing: on Windows, a script that blocks every inbound
    # connection, management included
    data = examples.example_data(EXAMPLE)
    data["hosts"]["updates"]["managed"] = True
    data["hosts"]["updates"].pop("addresses", None)
    data["hosts"]["updates"]["dns_name"] = "updates.example.com"
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    plan = examples.plan_from_data(data, tmp_path, f"{EXAMPLE}-managed-name")
    with pytest.raises(TargetError) as caught:
        get_target(target).render(plan, RuleOptions(hosts=("updates",)))
    assert "host 'updates' is known by its DNS name only" in str(caught.value)
