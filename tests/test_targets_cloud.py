"""The windows, kubernetes and aws targets: exactly the plan, in each platform's own terms.

Each output is parsed back (PowerShell parameters, YAML documents, HCL resources) into what it
allows, and compared with what the plan says for the same host, so a rule broader (or narrower)
than the plan fails whatever the text looks like.  No ``pwsh``, ``kubectl`` or ``terraform`` is
needed: YAML goes through ``yaml.safe_load_all`` and HCL through a brace and resource check.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import examples
from portplan._errors import TargetError
from portplan.model import PortRange, PortSet, Protocol
from portplan.model._types import Network
from portplan.plan import Plan
from portplan.targets import DefaultAction, RuleOptions, get_target
from portplan.targets.aws import hcl_string
from portplan.targets.hostview import rule_hosts
from portplan.targets.windows import port_difference, ps_quote

WMI_FLOWS = ("shopping-6.1/central-wmi", "shopping-6.1/console-wmi", "shopping-6.1/receiver-wmi")


def _variant(tmp_path: Path, example: str, change: Any) -> Plan:
    """A plan of ``example`` after ``change(data)`` edits its YAML data."""
    data = examples.example_data(example)
    change(data)
    return examples.plan_from_data(data, tmp_path, f"{example}-variant")


def _collapse(networks: Iterable[Network]) -> frozenset[Network]:
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return frozenset([*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)])


# --- plan: the dynamic part of a row ---------------------------------------------------------


def test_rows_carry_their_dynamic_ports() -> None:
    plan = examples.example_plan("shopping-contoso")
    wmi = [row for row in plan.rows if row.key in WMI_FLOWS]
    assert wmi
    for row in wmi:
        assert row.dynamic_ports == PortSet.parse("49152-65535")
        assert str(row.ports) == "135,445,49152-65535"
    assert all(row.dynamic_ports is None for row in plan.rows if row.key not in WMI_FLOWS)


# --- windows ---------------------------------------------------------------------------------

_ITEM = r"'(?:[^']|'')*'|[A-Za-z0-9_.]+"
_PARAM = re.compile(rf"-(\w+) ((?:{_ITEM})(?:, (?:{_ITEM}))*)")


def _unquote(item: str) -> str:
    return item[1:-1].replace("''", "'") if item.startswith("'") else item


def _commands(script: str) -> list[dict[str, list[str]]]:
    """Every ``New-NetFirewallRule`` of a script, as parameter name -> values."""
    joined = script.replace(" `\n    ", " ")
    commands = []
    for line in joined.splitlines():
        if not line.startswith("New-NetFirewallRule "):
            continue
        assert line.endswith(" | Out-Null")
        params = {
            m.group(1): [_unquote(v) for v in re.findall(_ITEM, m.group(2))]
            for m in _PARAM.finditer(line.removesuffix(" | Out-Null"))
        }
        commands.append(params)
    return commands


def _windows_expected(
    plan: Plan, host: str, *, egress: bool, keywords: bool = True
) -> dict[tuple[str, int, str, str], frozenset[Network]]:
    """(direction, family, protocol, port token) -> peers the plan allows for ``host``."""
    own = plan.host_addresses(host)
    expected: dict[tuple[str, int, str, str], list[Network]] = {}
    for row in plan.rows:
        if row.loopback:
            continue
        sides = []
        if row.destination == host:
            sides.append(("Inbound", row.source_addresses))
        if egress and row.source == host:
            sides.append(("Outbound", row.destination_addresses))
        for direction, peers in sides:
            rpc = (
                keywords
                and direction == "Inbound"
                and row.app_protocol == "msrpc"
                and row.dynamic_ports is not None
            )
            tokens = []
            for r in row.ports.ranges:
                if rpc and str(r) == "135":
                    tokens.append("RPCEPMap")
                elif rpc and row.dynamic_ports is not None and r in row.dynamic_ports.ranges:
                    tokens.append("RPC")
                else:
                    tokens.append(str(r))
            for peer in peers:
                if not any(a.version == peer.version for a in own):
                    continue
                for token in tokens:
                    key = (direction, peer.version, row.protocol.value.upper(), token)
                    expected.setdefault(key, []).append(peer)
    return {key: _collapse(peers) for key, peers in expected.items()}


def _windows_actual(
    plan: Plan, host: str, script: str
) -> dict[tuple[str, int, str, str], frozenset[Network]]:
    actual: dict[tuple[str, int, str, str], list[Network]] = {}
    own = plan.host_addresses(host)
    for command in _commands(script):
        assert command["Action"] == ["Allow"]
        assert command["Group"] == ["portplan"]
        assert command["RemoteAddress"], "a rule without -RemoteAddress allows Any"
        assert "Any" not in command["RemoteAddress"]
        peers = [ipaddress.ip_network(a) for a in command["RemoteAddress"]]
        local = [ipaddress.ip_network(a) for a in command["LocalAddress"]]
        family = peers[0].version
        assert {p.version for p in peers} == {family}, "a rule never mixes families"
        assert _collapse(local) == _collapse(a for a in own if a.version == family)
        direction = command["Direction"][0]
        ports = command["LocalPort" if direction == "Inbound" else "RemotePort"]
        for token in ports:
            key = (direction, family, command["Protocol"][0], token)
            actual.setdefault(key, []).extend(peers)
    return {key: _collapse(peers) for key, peers in actual.items()}


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
@pytest.mark.parametrize("deployment", ["shopping-contoso", "smart-id-nexus"])
def test_windows_rules_are_exactly_the_plan(deployment: str, egress: bool) -> None:
    plan = examples.example_plan(deployment)
    files = get_target("windows").render(plan, RuleOptions(egress=egress))
    assert list(files) == [f"{host}.ps1" for host in rule_hosts(plan)]
    for host in rule_hosts(plan):
        script = files[f"{host}.ps1"]
        assert _windows_actual(plan, host, script) == _windows_expected(plan, host, egress=egress)


def test_windows_wmi_uses_rpc_keywords_instead_of_the_dynamic_range() -> None:
    plan = examples.example_plan("shopping-contoso")
    script = get_target("windows").render(plan, RuleOptions(hosts=("cm01",)))["cm01.ps1"]
    commands = _commands(script)
    ports = {tuple(c["LocalPort"]) for c in commands}
    assert ("RPCEPMap",) in ports
    assert ("RPC",) in ports
    assert ("445",) in ports  # SMB stays a number
    assert "49152-65535" not in script
    assert "'135'" not in script
    rpc = next(c for c in commands if c["LocalPort"] == ["RPC"])
    assert {"shopping-6.1/central-wmi", "shopping-6.1/console-wmi"} <= set(
        rpc["DisplayName"][0].split(": ", 1)[1].split(", ")
    )
    assert rpc["RemoteAddress"] == ["192.0.2.10", "198.51.100.5"]
    assert rpc["Protocol"] == ["TCP"] and rpc["Direction"] == ["Inbound"]


def test_windows_rpc_ports_setting_writes_the_numbers() -> None:
    plan = examples.example_plan("shopping-contoso")
    options = RuleOptions(hosts=("cm01",), extra={"rpc": "ports"})
    script = get_target("windows").render(plan, options)["cm01.ps1"]
    assert "RPCEPMap" not in script and "-LocalPort 'RPC'" not in script
    assert "-LocalPort '135', '445', '49152-65535'" in script
    assert _windows_actual(plan, "cm01", script) == _windows_expected(
        plan, "cm01", egress=False, keywords=False
    )


def test_windows_outbound_rpc_keeps_numbers_and_blocks_by_default() -> None:
    plan = examples.example_plan("shopping-contoso")
    script = get_target("windows").render(plan, RuleOptions(hosts=("admin-pc",), egress=True))[
        "admin-pc.ps1"
    ]
    assert "-RemotePort '135', '445', '49152-65535'" in script
    assert "-DefaultInboundAction Block -DefaultOutboundAction Block" in script


def test_windows_restricted_rpc_range_still_splits_exactly(tmp_path: Path) -> None:
    def restrict(data: dict[str, Any]) -> None:
        data["hosts"]["cm01"]["dynamic_ranges"] = {"windows-rpc": "5000-5100"}

    plan = _variant(tmp_path, "shopping-contoso", restrict)
    script = get_target("windows").render(plan, RuleOptions(hosts=("cm01",)))["cm01.ps1"]
    assert _windows_actual(plan, "cm01", script) == _windows_expected(plan, "cm01", egress=False)
    assert "5000-5100" not in script
    assert "-LocalPort 'RPC'" in script


def test_windows_script_shape() -> None:
    plan = examples.example_plan("shopping-contoso")
    files = get_target("windows").render(plan, RuleOptions())
    for script in files.values():
        lines = script.splitlines()
        stop = lines.index("$ErrorActionPreference = 'Stop'")
        remove = lines.index(
            "Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue"
        )
        first_rule = next((i for i, x in enumerate(lines) if x.startswith("New-Net")), len(lines))
        assert stop < remove < first_rule
        assert "-Profile Domain, Private" in script
        assert "127.0.0" not in script and "'::1'" not in script
    assert "does not filter loopback" in files["clients.ps1"]
    assert "shopping-6.1/client-agent" in files["clients.ps1"]
    assert "New-NetFirewallRule" not in files["clients.ps1"]


def test_windows_profile_setting() -> None:
    plan = examples.example_plan("smart-id-nexus")
    options = RuleOptions(hosts=("da01",), extra={"profile": "public, DOMAIN"})
    script = get_target("windows").render(plan, options)["da01.ps1"]
    assert "-Profile Domain, Public " in script
    assert "Set-NetFirewallProfile -Profile Domain, Public -Enabled True" in script
    options = RuleOptions(hosts=("da01",), extra={"profile": "any"})
    assert (
        "-Profile Domain, Private, Public "
        in get_target("windows").render(plan, options)["da01.ps1"]
    )


def test_windows_udp_range() -> None:
    plan = examples.example_plan("smart-id-nexus")
    commands = _commands(
        get_target("windows").render(plan, RuleOptions(hosts=("da01",)))["da01.ps1"]
    )
    radius = next(c for c in commands if c["Protocol"] == ["UDP"])
    assert radius["LocalPort"] == ["18118-18126"]
    assert radius["RemoteAddress"] == ["192.0.2.96/29"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RuleOptions(default=DefaultAction.REJECT), "cannot express --default reject"),
        (RuleOptions(extra={"loopback": "planned"}), "has no setting 'loopback'"),
        (RuleOptions(extra={"profile": "home"}), "'home' is not a firewall profile"),
        (RuleOptions(extra={"rpc": "maybe"}), "give rpc=keywords or rpc=ports"),
        (RuleOptions(hosts=("nosuch",)), "no host 'nosuch'"),
    ],
)
def test_windows_refuses(options: RuleOptions, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)):
        get_target("windows").render(examples.example_plan("shopping-contoso"), options)


def test_ps_quote_is_safe() -> None:
    assert ps_quote("it's") == "'it''s'"
    assert ps_quote("a\u2019b") == "'a\u2019\u2019b'"  # PowerShell also ends strings at U+2019
    assert ps_quote("$(Remove-Item C:\\)\n`x") == "'$(Remove-Item C:\\) `x'"
    assert ps_quote("tab\there\x00") == "'tab here'"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 300), st.integers(0, 40)), max_size=5),
    st.lists(st.tuples(st.integers(1, 300), st.integers(0, 40)), max_size=5),
)
def test_port_difference_is_set_difference(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    def ports(spans: list[tuple[int, int]]) -> PortSet:
        return PortSet.of(PortRange(start=s, end=min(s + n, 65535)) for s, n in spans)

    left, right = ports(a), ports(b)
    assert set(port_difference(left, right)) == set(left) - set(right)


# --- kubernetes ------------------------------------------------------------------------------


def _policies(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _in_cluster(data: dict[str, Any]) -> None:
    """Traefik in namespace ingress, Digital Access and its access point in smart-id."""
    hosts = data["hosts"]
    hosts["traefik01"]["kubernetes"] = {
        "cluster": "prod",
        "namespace": "ingress",
        "pod_labels": {"app": "traefik"},
    }
    for host, app in (("da01", "digital-access"), ("da-edge01", "da-access-point")):
        hosts[host]["kubernetes"] = {
            "cluster": "prod",
            "namespace": "smart-id",
            "pod_labels": {"app": app},
        }


def _k8s_peer(peer: dict[str, Any]) -> str | Network:
    if "ipBlock" in peer:
        assert set(peer) == {"ipBlock"} and set(peer["ipBlock"]) == {"cidr"}
        return ipaddress.ip_network(peer["ipBlock"]["cidr"])
    labels = peer["podSelector"]["matchLabels"]
    assert labels, "an empty podSelector selects every pod"
    namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
    assert set(peer) <= {"podSelector", "namespaceSelector"}
    return f"{namespace.get('kubernetes.io/metadata.name', '')}/{sorted(labels.items())}"


def _k8s_actual(policy: dict[str, Any], section: str) -> set[tuple[str, int, int, str]]:
    """(protocol, start, end, peer) the policy's ``section`` allows; ipBlocks kept as CIDRs."""
    side = "from" if section == "ingress" else "to"
    allowed = set()
    for rule in policy["spec"][section]:
        assert rule[side] and rule["ports"], "an empty from/to or ports list allows everything"
        for port in rule["ports"]:
            end = port.get("endPort", port["port"])
            assert end > port["port"] or "endPort" not in port
            for peer in rule[side]:
                allowed.add((port["protocol"], port["port"], end, str(_k8s_peer(peer))))
    return allowed


def _k8s_expected(plan: Plan, host: str, section: str) -> set[tuple[str, int, int, str]]:
    k8s = plan.hosts[host].kubernetes
    assert k8s is not None
    own = {a.version for a in plan.host_addresses(host)} or {4, 6}  # pods known by name
    per_ports: dict[tuple[str, int, int], list[Network]] = {}
    allowed = set()
    for row in plan.rows:
        if row.loopback:
            continue
        if section == "ingress" and row.destination == host:
            peer = row.source
        elif section == "egress" and row.source == host:
            peer = row.destination
        else:
            continue
        peer_k8s = plan.hosts[peer].kubernetes
        in_cluster = peer_k8s is not None and peer_k8s.cluster == k8s.cluster
        # the port on the pods: where the service listens (a policy matches after any NAT);
        # towards a peer outside the cluster, the port the pods connect to
        on_pods = section == "ingress" or in_cluster
        ports = row.listen_ports if on_pods and row.listen_ports is not None else row.ports
        for r in ports.ranges:
            key = (row.protocol.value.upper(), r.start, r.end)
            if peer_k8s is not None and in_cluster:
                namespace = "" if peer_k8s.namespace == k8s.namespace else peer_k8s.namespace
                allowed.add((*key, f"{namespace}/{sorted(peer_k8s.pod_labels.items())}"))
            else:
                peers = [a for a in plan.host_addresses(peer) if a.version in own]
                per_ports.setdefault(key, []).extend(peers)
    for key, networks in per_ports.items():
        allowed.update((*key, str(n)) for n in _collapse(networks))
    return allowed


def _check_policies(plan: Plan, text: str, *, egress: bool) -> list[dict[str, Any]]:
    policies = _policies(text)
    for policy in policies:
        assert policy["apiVersion"] == "networking.k8s.io/v1"
        assert policy["kind"] == "NetworkPolicy"
        host = policy["metadata"]["annotations"]["portplan/host"]
        k8s = plan.hosts[host].kubernetes
        assert k8s is not None
        assert policy["metadata"]["name"] == f"portplan-{host}"
        assert policy["metadata"]["namespace"] == k8s.namespace
        assert policy["spec"]["podSelector"] == {"matchLabels": k8s.pod_labels}
        types = ["Ingress", "Egress"] if egress else ["Ingress"]
        assert policy["spec"]["policyTypes"] == types
        for section in ("ingress", "egress") if egress else ("ingress",):
            assert _k8s_actual(policy, section) == _k8s_expected(plan, host, section)
        if not egress:
            assert "egress" not in policy["spec"]
    return policies


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
def test_kubernetes_policies_are_exactly_the_plan(egress: bool) -> None:
    plan = examples.example_plan("smart-id-k8s")
    files = get_target("kubernetes").render(plan, RuleOptions(egress=egress))
    assert list(files) == ["prod.yaml"]
    policies = _check_policies(plan, files["prod.yaml"], egress=egress)
    assert [p["metadata"]["name"] for p in policies] == [
        "portplan-idm01",
        "portplan-pa01",
        "portplan-msg01",
    ]
    idm = policies[0]
    assert idm["metadata"]["annotations"]["portplan/ingress-1"] == (
        "smart-id-21.04/im-operator/backend"
    )
    # traefik01 is dual-stack, idm01 is not: no IPv6 ipBlock towards an IPv4-only pod host
    assert "2001:db8" not in files["prod.yaml"].split("apiVersion", 1)[1]


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
def test_kubernetes_pods_namespaces_and_end_port(tmp_path: Path, egress: bool) -> None:
    plan = _variant(tmp_path, "smart-id-k8s", _in_cluster)
    text = get_target("kubernetes").render(plan, RuleOptions(egress=egress))["prod.yaml"]
    checked = _check_policies(plan, text, egress=egress)
    policies = {p["metadata"]["annotations"]["portplan/host"]: p for p in checked}
    da = policies["da01"]["spec"]["ingress"]
    radius = next(rule for rule in da if rule["ports"][0]["protocol"] == "UDP")
    assert radius["ports"] == [{"protocol": "UDP", "port": 18118, "endPort": 18126}]
    assert radius["from"] == [{"ipBlock": {"cidr": "192.0.2.96/29"}}]
    # the access point is a pod of the same namespace: a podSelector alone
    xpi = next(rule for rule in da if rule["ports"] == [{"protocol": "TCP", "port": 4443}])
    assert xpi["from"] == [{"podSelector": {"matchLabels": {"app": "da-access-point"}}}]
    # Traefik is a pod of another namespace: both selectors in one peer (AND, not OR)
    idm = policies["idm01"]["spec"]["ingress"]
    assert idm[0]["from"] == [
        {
            "podSelector": {"matchLabels": {"app": "traefik"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}},
        }
    ]
    traefik = policies["traefik01"]
    assert traefik["metadata"]["namespace"] == "ingress"
    if egress:
        assert traefik["spec"]["egress"]
        assert all(
            "namespaceSelector" in peer for rule in traefik["spec"]["egress"] for peer in rule["to"]
        )


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
def test_kubernetes_pods_known_by_name_keep_their_peers(tmp_path: Path, egress: bool) -> None:
    """A policy matches no address of its own pods, so pods known by their DNS name still
    let their planned peers in: before, every ipBlock peer of such a host was left out as
    'not reachable' (Traefik's backend hop and SSH never reached Identity Manager)."""

    def idm_by_name(data: dict[str, Any]) -> None:
        data["hosts"]["idm01"] = {
            "dns_name": "idm.bank.example",
            "zone": "internal",
            "kubernetes": {
                "cluster": "prod",
                "namespace": "smart-id",
                "pod_labels": {"app": "identity-manager"},
            },
        }

    plan = _variant(tmp_path, "smart-id-k8s", idm_by_name)
    text = get_target("kubernetes").render(plan, RuleOptions(egress=egress))["prod.yaml"]
    policies = {p["metadata"]["name"]: p for p in _check_policies(plan, text, egress=egress)}
    ingress = policies["portplan-idm01"]["spec"]["ingress"]
    backend = next(rule for rule in ingress if rule["ports"][0]["port"] == 7071)
    # Traefik is dual-stack: the pods may have either family
    assert backend["from"] == [
        {"ipBlock": {"cidr": "198.51.100.10/32"}},
        {"ipBlock": {"cidr": "2001:db8:20::10/128"}},
    ]
    assert "not reachable" not in text.split("--- idm01", 1)[1].split("apiVersion", 1)[0]


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
def test_kubernetes_pods_are_reached_on_the_port_they_listen_on(
    tmp_path: Path, egress: bool
) -> None:
    """A NetworkPolicy's port is the port on the pod, after any translation (a Service, a
    NodePort, a load balancer).  The Digital Access access point is published on 443 and
    listens on 10443: its pods must let the clients in on 10443.  Before, the policy opened
    443 on the pods (a port the plan does not open there) and blocked the planned 10443."""
    plan = _variant(tmp_path, "smart-id-k8s", _in_cluster)
    (row,) = (r for r in plan.rows if r.key == "smart-id-21.04/da-access-point")
    assert str(row.ports) == "443" and str(row.listen_ports) == "10443"
    text = get_target("kubernetes").render(plan, RuleOptions(egress=egress))["prod.yaml"]
    policies = {p["metadata"]["annotations"]["portplan/host"]: p for p in _policies(text)}
    ingress = policies["da-edge01"]["spec"]["ingress"]
    internet = {"ipBlock": {"cidr": "203.0.113.128/25"}}
    clients = [rule for rule in ingress if internet in rule["from"]]
    assert [rule["ports"] for rule in clients] == [[{"protocol": "TCP", "port": 10443}]]
    assert all(port["port"] != 443 for rule in ingress for port in rule["ports"])
    _check_policies(plan, text, egress=egress)


def test_kubernetes_host_with_nothing_planned_denies_all(tmp_path: Path) -> None:
    def add_idle(data: dict[str, Any]) -> None:
        del data["management"]
        data["hosts"]["idle01"] = {
            "addresses": ["192.0.2.200"],
            "kubernetes": {"cluster": "lab", "namespace": "idle", "pod_labels": {"app": "idle"}},
        }

    plan = _variant(tmp_path, "smart-id-k8s", add_idle)
    files = get_target("kubernetes").render(plan, RuleOptions(egress=True))
    assert list(files) == ["prod.yaml", "lab.yaml"]
    (policy,) = _policies(files["lab.yaml"])
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []


def test_kubernetes_loopback_is_a_comment(tmp_path: Path) -> None:
    def clients_in_cluster(data: dict[str, Any]) -> None:
        data["hosts"]["clients"]["kubernetes"] = {
            "cluster": "desk",
            "namespace": "clients",
            "pod_labels": {"app": "client"},
        }

    plan = _variant(tmp_path, "shopping-contoso", clients_in_cluster)
    text = get_target("kubernetes").render(plan, RuleOptions())["desk.yaml"]
    assert "shopping-6.1/client-agent (TCP 8000) over loopback" in text
    (policy,) = _policies(text)
    assert policy["spec"]["ingress"] == []
    assert "127.0.0" not in text


def _overlap(data: dict[str, Any]) -> None:
    data["hosts"]["pa01"]["kubernetes"]["pod_labels"] = {"app": "identity-manager", "tier": "pa"}


@pytest.mark.parametrize(
    ("example", "change", "options", "message"),
    [
        ("smart-id-nexus", None, RuleOptions(), "has no host with `kubernetes:`"),
        ("shopping-contoso", None, RuleOptions(), "add `kubernetes: {cluster: NAME"),
        ("smart-id-k8s", None, RuleOptions(default=DefaultAction.REJECT), "--default reject"),
        ("smart-id-k8s", None, RuleOptions(extra={"x": "y"}), "has no setting 'x'"),
        ("smart-id-k8s", _overlap, RuleOptions(), "also select the pods of 'pa01'"),
    ],
)
def test_kubernetes_refuses(
    tmp_path: Path, example: str, change: Any, options: RuleOptions, message: str
) -> None:
    plan = _variant(tmp_path, example, change) if change else examples.example_plan(example)
    with pytest.raises(TargetError, match=re.escape(message)):
        get_target("kubernetes").render(plan, options)


# --- aws -------------------------------------------------------------------------------------

_RESOURCE = re.compile(r'^resource "(\w+)" "([A-Za-z_][A-Za-z0-9_-]*)" \{$')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _hcl_blocks(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """Top-level resources as (type, name, attributes); checks that braces balance."""
    depth = 0
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        code = _STRING.sub('""', line)
        assert code.count('"') % 2 == 0, line
        depth += code.count("{") - code.count("}")
        assert depth >= 0, line
    assert depth == 0, "unbalanced braces"
    blocks: list[tuple[str, str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        match = _RESOURCE.match(line)
        if match:
            current = {}
            blocks.append((match.group(1), match.group(2), current))
        elif line == "}":
            current = None
        elif current is not None and line.startswith("  ") and not line.startswith("   "):
            name, _, value = line.strip().partition(" = ")
            if name and value and value != "{":
                current[name.strip()] = value.strip().strip('"')
    names = [(kind, name) for kind, name, _ in blocks]
    assert len(names) == len(set(names)), "resource names are unique"
    return blocks


def _aws_actual(text: str) -> dict[tuple[str, str, str, Network], PortSet]:
    """(group, direction, protocol, peer) -> ports, checking that rules do not overlap."""
    allowed: dict[tuple[str, str, str, Network], list[PortRange]] = {}
    groups = set()
    for kind, name, attrs in _hcl_blocks(text):
        if kind == "aws_security_group":
            assert attrs["vpc_id"] == "var.vpc_id"
            assert attrs["name"] == f"portplan-{name}"
            groups.add(name)
            continue
        direction = {"aws_vpc_security_group_ingress_rule": "in"}.get(kind, "out")
        group = attrs["security_group_id"].removeprefix("aws_security_group.").removesuffix(".id")
        assert group in groups
        assert ("cidr_ipv4" in attrs) != ("cidr_ipv6" in attrs)
        peer = ipaddress.ip_network(attrs.get("cidr_ipv4") or attrs["cidr_ipv6"])
        assert ("cidr_ipv4" in attrs) == (peer.version == 4)
        assert 0 < len(attrs["description"]) <= 255
        if attrs["ip_protocol"] == "-1":
            span = PortRange(start=1, end=65535)
        else:
            span = PortRange(start=int(attrs["from_port"]), end=int(attrs["to_port"]))
        key = (group, direction, attrs["ip_protocol"], peer)
        assert not any(r.start <= span.end and span.start <= r.end for r in allowed.get(key, [])), (
            "rules of one peer and protocol never overlap"
        )
        allowed.setdefault(key, []).append(span)
    return {key: PortSet.of(spans) for key, spans in allowed.items()}


def _aws_expected(plan: Plan, *, egress: bool) -> dict[tuple[str, str, str, Network], PortSet]:
    allowed: dict[tuple[str, str, str, Network], PortSet] = {}
    families = {name: {a.version for a in host.addresses} for name, host in plan.hosts.items()}
    rows = [row for row in plan.rows if not row.loopback]
    groups = {row.destination for row in rows}
    if egress:
        groups |= {row.source for row in rows if not plan.hosts[row.source].is_group}

    def add(
        group: str, direction: str, protocol: Protocol, peers: Iterable[Network], ports: PortSet
    ) -> None:
        for peer in peers:
            if peer.version in families[group]:
                key = (group, direction, protocol.value, peer)
                allowed[key] = allowed.get(key, PortSet()) | ports

    for row in rows:
        add(row.destination, "in", row.protocol, row.source_addresses, row.ports)
        if egress and row.source in groups:
            add(row.source, "out", row.protocol, row.destination_addresses, row.ports)
    if not egress:
        for group in groups:
            for everything in ("0.0.0.0/0", "::/0"):
                key = (group, "out", "-1", ipaddress.ip_network(everything))
                allowed[key] = PortSet.parse("1-65535")
    return allowed


@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
@pytest.mark.parametrize("deployment", ["shopping-contoso", "smart-id-nexus", "smart-id-k8s"])
def test_aws_rules_are_exactly_the_plan(deployment: str, egress: bool) -> None:
    plan = examples.example_plan(deployment)
    files = get_target("aws").render(plan, RuleOptions(egress=egress))
    assert list(files) == ["security-groups.tf"]
    text = files["security-groups.tf"]
    assert _aws_actual(text) == _aws_expected(plan, egress=egress)
    assert 'variable "vpc_id" {' in text


def test_aws_splits_per_range_and_family(tmp_path: Path) -> None:
    def dual_stack(data: dict[str, Any]) -> None:
        data["hosts"]["admin-pc"]["addresses"] = ["198.51.100.5", "2001:db8:30::5"]

    plan = _variant(tmp_path, "shopping-contoso", dual_stack)
    blocks = _hcl_blocks(get_target("aws").render(plan, RuleOptions())["security-groups.tf"])
    cm01 = [
        attrs
        for kind, _name, attrs in blocks
        if kind == "aws_vpc_security_group_ingress_rule"
        and attrs["security_group_id"] == "aws_security_group.cm01.id"
        and attrs.get("cidr_ipv4") == "198.51.100.5/32"
    ]
    spans = sorted((int(a["from_port"]), int(a["to_port"])) for a in cm01)
    assert spans == [(135, 135), (445, 445), (3389, 3389), (49152, 65535)]
    dc01 = {
        (attrs.get("cidr_ipv4"), attrs.get("cidr_ipv6"), attrs["from_port"])
        for kind, _name, attrs in blocks
        if kind == "aws_vpc_security_group_ingress_rule"
        and attrs["security_group_id"] == "aws_security_group.dc01.id"
        and attrs["description"] == "shopping-6.1/console-ldap"
    }
    assert dc01 == {("198.51.100.5/32", None, "389"), (None, "2001:db8:30::5/128", "389")}


def test_aws_loopback_and_groups_that_only_send() -> None:
    plan = examples.example_plan("shopping-contoso")
    text = get_target("aws").render(plan, RuleOptions(egress=True))["security-groups.tf"]
    assert "shopping-6.1/client-agent on clients (tcp 8000) is loopback traffic" in text
    assert "127.0.0" not in text
    names = {name for kind, name, _attrs in _hcl_blocks(text) if kind == "aws_security_group"}
    assert "clients" not in names  # a client subnet that only sends gets no security group
    assert "admin-pc" in names  # a single machine that only sends does, with --egress
    assert "0.0.0.0/0" not in text


def test_aws_merges_flows_of_one_peer_and_protocol() -> None:
    plan = examples.example_plan("smart-id-nexus")
    text = get_target("aws").render(plan, RuleOptions())["security-groups.tf"]
    rule = next(
        attrs
        for kind, name, attrs in _hcl_blocks(text)
        if name == "idm01_tcp_7071-7074_198_51_100_10_32"
    )
    assert (rule["from_port"], rule["to_port"]) == ("7071", "7074")
    assert rule["description"].count("smart-id-21.04/im-") == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RuleOptions(default=DefaultAction.REJECT), "target aws cannot express --default reject"),
        (RuleOptions(extra={"profile": "x"}), "has no setting 'profile'"),
    ],
)
def test_aws_refuses(options: RuleOptions, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)):
        get_target("aws").render(examples.example_plan("smart-id-nexus"), options)


def test_aws_refuses_colliding_terraform_names(tmp_path: Path) -> None:
    def collide(data: dict[str, Any]) -> None:
        hosts = data["hosts"]
        hosts["mail.01"] = hosts.pop("mail01")
        hosts["mail_01"] = {"addresses": ["192.0.2.51"]}
        binding = data["products"]["shopping-6.1"]["components"]
        binding["smtp_gateway"] = "mail.01"
        binding["pop3_server"] = "mail_01"

    plan = _variant(tmp_path, "shopping-contoso", collide)
    with pytest.raises(TargetError, match="both become the Terraform name 'mail_01'"):
        get_target("aws").render(plan, RuleOptions())


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
@pytest.mark.parametrize("egress", [False, True], ids=["inbound", "egress"])
def test_aws_output_is_terraform_formatted(tmp_path: Path, egress: bool) -> None:
    for deployment in ("shopping-contoso", "smart-id-nexus"):
        plan = examples.example_plan(deployment)
        text = get_target("aws").render(plan, RuleOptions(egress=egress))
        folder = tmp_path / deployment
        folder.mkdir()
        (folder / "security-groups.tf").write_text(text["security-groups.tf"])
        result = subprocess.run(
            ["terraform", "fmt", "-check", "-diff", "-no-color", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_hcl_string_escapes() -> None:
    assert hcl_string('a "b" \\ ${x} %{y}') == '"a \\"b\\" \\\\ $${x} %%{y}"'
