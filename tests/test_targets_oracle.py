"""Every target but nftables and iptables, checked against the matrix rows by an oracle.

``portplan rules`` writes each target's files for stress deployments (tests/data/targets-oracle:
port lists and ranges, overridden parameters, a disabled flow and an unchosen choice, ICMP of
one type, of several, of every type and of ICMPv6 only, IPv4-only, IPv6-only and dual-stack
hosts, a dual-stack cluster and its mesh, networks, an unmanaged system, rows from anywhere,
management over SSH and ICMP, published ports through an ingress and NAT-style, a loopback row,
zones and a host without one, pods in two namespaces and two clusters) and for the examples.
``tests/targetread.py`` reads the files back into the packets they allow, where each is
enforced; the oracle here works out the same from ``portplan matrix --format json`` alone, with
the rules docs/targets.md states for each platform.  The two must be equal: a rule broader than
the rows (a port, an address, a family, a protocol, an ICMP type, a direction, a host too many)
or narrower (a planned row left out) fails, naming a packet that differs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import examples
import machine
from portplan.cli import cli
from targetread import (
    EVERY,
    RPC_KEYWORD,
    Space,
    add,
    aws_space,
    icmp_types,
    kubernetes_space,
    net,
    readers,
    same_packets,
    span,
    windows_space,
)

ORACLE = Path(__file__).resolve().parent / "data" / "targets-oracle"
#: flows whose condition is off in the oracle deployment: no target may name them
DISABLED = ("oracle-1.0/app-legacy", "oracle-1.0/app-dir-plain")
ACL_SUFFIX = {"cisco": ".acl", "juniper": ".jcl", "paloalto": ".xml"}


# -- the deployments -------------------------------------------------------------------------


def _data(base: str) -> dict[str, Any]:
    """The YAML data of the oracle deployment or of an example, product files made absolute
    (the copy is written elsewhere)."""
    path = ORACLE / "deployment.yaml" if base == "oracle" else examples.EXAMPLES / f"{base}.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    for binding in data["products"].values():
        if "file" in binding:
            binding["file"] = str(path.parent / binding["file"])
    return data


def _no_icmp_of_every_type(data: dict[str, Any]) -> None:
    """PAN-OS refuses ICMP of every type: the oracle deployment without that flow."""
    data["products"]["oracle-1.0"]["features"]["icmp_all"] = False


def _any_placed(data: dict[str, Any]) -> None:
    """`any` placed on an Internet host with a zone, and on the kiosk: rows from 0.0.0.0/0
    and ::/0 that cross zone boundaries, and from a single machine (without ICMP of every
    type, so that PAN-OS renders the ICMP types from the Internet)."""
    _no_icmp_of_every_type(data)
    data["hosts"]["internet"] = {"addresses": ["0.0.0.0/0", "::/0"], "zone": "internet"}
    data["products"]["oracle-1.0"]["components"]["any"] = ["internet", "kiosk"]


def _search_addressed(data: dict[str, Any]) -> None:
    """The update service with addresses and a zone, the REST API's clients placed."""
    data["hosts"]["updates"] = {
        "addresses": ["203.0.113.200", "2001:db8:99::200"],
        "zone": "cloud",
        "managed": False,
    }
    data["hosts"]["search"]["addresses"].append("2001:db8:10::11")


def _pods_by_name(data: dict[str, Any]) -> None:
    """The API's pods known by their DNS name only: a NetworkPolicy needs no address of the
    pods it selects, so its ipBlock peers keep both families."""
    del data["hosts"]["api01"]["addresses"]
    data["hosts"]["api01"]["dns_name"] = "api.example.com"
    del data["hosts"]["worker02"]  # it is in another cluster: it must match api01 by address
    data["products"]["oracle-1.0"]["components"]["worker"] = ["worker01"]


def _published_to_pods(data: dict[str, Any]) -> None:
    """The proxy not placed, so the clients reach the API's pods directly on the published 443,
    where the API listens on 9000; a worker's pods are clients too (egress to pods, on the
    port they listen on, and to the web tier outside the cluster, on its published port);
    without ICMP of every type, which PAN-OS refuses."""
    components = data["products"]["oracle-1.0"]["components"]
    del components["proxy"]
    components["client"] = [*components["client"], "worker01"]
    _no_icmp_of_every_type(data)


def _catalog_variant(data: dict[str, Any]) -> None:
    """Shopping with its defaults turned the other way: RBAC on, a local database, a lab
    without Exchange, a restricted RPC range, an IPv6 client network and dual-stack servers."""
    binding = data["products"]["shopping-6.1"]
    binding["features"] = {"rbac": True, "remote_database": False, "lab": True, "exchange": False}
    binding["dynamic_ranges"] = {"windows-rpc": "60000-60100"}
    data["hosts"]["clients"]["addresses"].append("2001:db8:c::/64")
    data["hosts"]["shop01"]["addresses"].append("2001:db8:10::10")
    data["hosts"]["mail01"]["addresses"] = ["2001:db8:10::50"]


@dataclass(frozen=True)
class Case:
    name: str
    base: str  #: "oracle" or an example's name
    change: Any = None  #: edits the YAML data

    def write(self, directory: Path) -> Path:
        data = _data(self.base)
        if self.change is not None:
            self.change(data)
        path = directory / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


CASES = {
    case.name: case
    for case in (
        Case("oracle", "oracle"),
        Case("oracle-no-icmp-any", "oracle", _no_icmp_of_every_type),
        Case("oracle-any-placed", "oracle", _any_placed),
        Case("oracle-pods-by-name", "oracle", _pods_by_name),
        Case("oracle-published-to-pods", "oracle", _published_to_pods),
        Case("shopping-contoso", "shopping-contoso"),
        Case("shopping-variant", "shopping-contoso", _catalog_variant),
        Case("smart-id-nexus", "smart-id-nexus"),
        Case("smart-id-k8s", "smart-id-k8s"),
        Case("search-cluster", "search-cluster"),
        Case("search-addressed", "search-cluster", _search_addressed),
    )
}

#: (case, target, egress) that must be refused, with a word of the refusal
REFUSED = {
    ("oracle", "paloalto", False): "allows ICMP of every type",
    ("search-cluster", "windows", True): "known by its DNS name only",
    ("search-cluster", "aws", True): "known by its DNS name only",
    **{
        ("oracle-pods-by-name", target, egress): "known by its DNS name only"
        for target in ("windows", "aws", "cisco", "juniper", "paloalto")
        for egress in (False, True)
    },
    **{
        (case, "kubernetes", egress): "has no host with `kubernetes:`"
        for case in CASES
        if case.startswith(("shopping", "smart-id-nexus", "search"))
        for egress in (False, True)
    },
}


# -- running portplan -------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _matrix(path: Path) -> list[dict[str, Any]]:
    code, out, err = _run("matrix", str(path), "--format", "json")
    assert code == 0, err
    rows: list[dict[str, Any]] = machine.document(out, "matrix")["flows"]
    return rows


@dataclass
class Deployment:
    rows: list[dict[str, Any]]
    hosts: dict[str, dict[str, Any]]  #: the YAML of each host

    def managed(self, host: str) -> bool:
        return host in self.hosts and self.hosts[host].get("managed", True)

    def families(self, host: str) -> set[int]:
        return {net(a).version for a in self.hosts[host].get("addresses", [])}

    def is_network(self, host: str) -> bool:
        entry = self.hosts[host]
        group = any(net(a).num_addresses > 1 for a in entry.get("addresses", []))
        return group and not entry.get("cluster", False)


def _deployment(path: Path) -> Deployment:
    data = yaml.safe_load(path.read_text())
    hosts = {
        name: {**host, "addresses": list(host.get("addresses", []))}
        for name, host in data["hosts"].items()
    }
    return Deployment(rows=_matrix(path), hosts=hosts)


def _render(path: Path, target: str, egress: bool, out: Path, *extra: str) -> tuple[int, str]:
    args = ["rules", str(path), "-t", target, "-o", str(out)]
    if target == "windows":
        args.append("--all-hosts")
    if egress:
        args.append("--egress")
    code, _out, err = _run(*args, *extra)
    return code, err


# -- what the rows allow ------------------------------------------------------------------------


def _ports(row: dict[str, Any], family: int) -> list[tuple[str, tuple[int, int]]]:
    """(protocol, ports or ICMP types) of a row in ``family``."""
    if row["protocol"] == "icmp":
        return [("icmp", types) for types in icmp_types(row["icmp"], family)]
    return [(row["protocol"], (start, end)) for start, end in row["ports"]]


def _spans(addresses: list[str], family: int) -> list[tuple[int, int]]:
    return [span(n) for a in addresses if (n := net(a)).version == family]


def _row_boxes(row: dict[str, Any]) -> Iterator[tuple[int, str, tuple[Any, ...]]]:
    """(family, protocol, (source, destination, port)) of every packet box of a row."""
    for family in (4, 6):
        for src in _spans(row["source_address"], family):
            for dst in _spans(row["destination_address"], family):
                for protocol, ports in _ports(row, family):
                    yield family, protocol, (src, dst, ports)


def _network_rows(d: Deployment) -> list[dict[str, Any]]:
    return [row for row in d.rows if not row["loopback"]]


def _windows_expected(d: Deployment, egress: bool, *, keywords: bool) -> Space:
    space: Space = {}
    for row in _network_rows(d):
        rpc = (
            keywords
            and row["app_protocol"] == "msrpc"
            and row["protocol"] == "tcp"
            and row["dynamic_ports"]
        )
        dynamic = [tuple(r) for r in row["dynamic_ports"] or []]
        for family, protocol, (src, dst, ports) in _row_boxes(row):
            sides = []
            if row["destination"] in d.hosts and d.managed(row["destination"]):
                sides.append((row["destination"], "Inbound"))
            if egress and d.managed(row["source"]):
                sides.append((row["source"], "Outbound"))
            for host, direction in sides:
                if rpc and direction == "Inbound" and ports in dynamic:
                    add(space, (host, direction, family, "tcp-rpc"), (src, dst, RPC_KEYWORD))
                else:
                    add(space, (host, direction, family, protocol), (src, dst, ports))
    return space


def _aws_groups(d: Deployment, egress: bool) -> set[str]:
    rows = _network_rows(d)
    groups = {row["destination"] for row in rows if d.managed(row["destination"])}
    if egress:
        groups |= {
            row["source"]
            for row in rows
            if d.managed(row["source"]) and not d.is_network(row["source"])
        }
    return groups


def _aws_expected(d: Deployment, egress: bool) -> Space:
    """A group has no address of its own: its side is every address of a family it has (of
    both, for a host known by name only)."""
    space: Space = {}
    groups = _aws_groups(d, egress)

    def families(host: str) -> set[int]:
        return d.families(host) or {4, 6}

    for row in _network_rows(d):
        for family, protocol, (src, dst, ports) in _row_boxes_any(row):
            if row["destination"] in groups and family in families(row["destination"]):
                add(
                    space, (row["destination"], "in", family, protocol), (src, EVERY[family], ports)
                )
            if egress and row["source"] in groups and family in families(row["source"]):
                add(space, (row["source"], "out", family, protocol), (EVERY[family], dst, ports))
    if not egress:
        for group in groups:
            for family in (4, 6):
                add(space, (group, "out", family, "all"), (EVERY[family], EVERY[family], (0, 0)))
    return space


def _row_boxes_any(row: dict[str, Any]) -> Iterator[tuple[int, str, tuple[Any, ...]]]:
    """As :func:`_row_boxes`, an end without addresses (known by name) being every address
    of the family: a security group never matches the group's own side by address."""
    for family in (4, 6):
        sources = _spans(row["source_address"], family) or (
            [] if row["source_address"] else [EVERY[family]]
        )
        dests = _spans(row["destination_address"], family) or (
            [] if row["destination_address"] else [EVERY[family]]
        )
        for src in sources:
            for dst in dests:
                for protocol, ports in _ports(row, family):
                    yield family, protocol, (src, dst, ports)


def _kubernetes_expected(d: Deployment, egress: bool) -> tuple[Space, list[tuple[str, str]]]:
    """The policies' packets, and the (host, flow) of each ICMP row they must name as left out."""
    space: Space = {}
    icmp: list[tuple[str, str]] = []
    pods = {
        name: host["kubernetes"]
        for name, host in d.hosts.items()
        if "kubernetes" in host and d.managed(name)
    }
    for row in _network_rows(d):
        sides = [(row["destination"], "ingress", row["source"], row["source_address"])]
        if egress:
            sides.append((row["source"], "egress", row["destination"], row["destination_address"]))
        for host, section, peer, addresses in sides:
            if host not in pods:
                continue
            if row["protocol"] == "icmp":
                icmp.append((host, row["flow"]))
                continue
            k8s = pods[host]
            peer_k8s = d.hosts.get(peer, {}).get("kubernetes")
            in_cluster = peer_k8s is not None and peer_k8s["cluster"] == k8s["cluster"]
            # a policy's port is the port on the pods, where the service listens (after a
            # Service or NodePort translated the published one); egress to a peer outside
            # the cluster keeps the port the pods connect to
            on_pods = section == "ingress" or in_cluster
            for start, end in (row["listen_ports"] if on_pods else None) or row["ports"]:
                if in_cluster:
                    kind = (
                        "pods",
                        peer_k8s["namespace"],
                        tuple(sorted(peer_k8s["pod_labels"].items())),
                    )
                    add(space, (host, section, row["protocol"], kind), ((0, 0), (start, end)))
                    continue
                # the pods' own addresses are not matched: known by name, they have either
                for family in d.families(host) or {4, 6}:
                    for where in _spans(addresses, family):
                        add(
                            space,
                            (host, section, row["protocol"], ("ip", family)),
                            (where, (start, end)),
                        )
    return space, icmp


def _acl_expected(d: Deployment) -> Space:
    space: Space = {}
    for row in _network_rows(d):
        zones = (row["source_zone"], row["destination_zone"])
        if None in zones or zones[0] == zones[1]:
            continue
        for family, protocol, box in _row_boxes(row):
            add(space, (*zones, family, protocol), box)
    return space


# -- the checks -------------------------------------------------------------------------------


def _no_disabled_flow(files: dict[str, str]) -> None:
    for name, text in files.items():
        for flow in DISABLED:
            assert flow not in text, f"{name} names {flow}, whose condition is off"


def _read(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.iterdir())}


def _check_windows(d: Deployment, files: dict[str, str], egress: bool, keywords: bool) -> None:
    actual: Space = {}
    hosts = {name.removesuffix(".ps1") for name in files}
    for name, text in files.items():
        actual.update(windows_space(name.removesuffix(".ps1"), text))
    destinations = {r["destination"] for r in _network_rows(d) if d.managed(r["destination"])}
    assert destinations <= hosts, f"no ruleset for {destinations - hosts}"
    assert all(d.managed(h) for h in hosts), "a ruleset for a host portplan does not manage"
    expected = _windows_expected(d, egress, keywords=keywords)
    same_packets(actual, {k: v for k, v in expected.items() if k[0] in hosts}, "windows")


def _check_kubernetes(d: Deployment, files: dict[str, str], egress: bool, err: str) -> None:
    actual: Space = {}
    for name, text in files.items():
        space, policies = kubernetes_space(text)
        actual.update(space)
        for host, policy in policies.items():
            k8s = d.hosts[host]["kubernetes"]
            assert d.managed(host) and name == f"{k8s['cluster']}.yaml"
            assert policy["metadata"]["namespace"] == k8s["namespace"]
            assert policy["spec"]["podSelector"] == {"matchLabels": k8s["pod_labels"]}
            assert policy["spec"]["policyTypes"] == (
                ["Ingress", "Egress"] if egress else ["Ingress"]
            )
            assert "ingress" in policy["spec"] and ("egress" in policy["spec"]) == egress
    expected, icmp = _kubernetes_expected(d, egress)
    same_packets(actual, expected, "kubernetes")
    text = "\n".join(files.values())
    for host, flow in icmp:
        assert f"{flow} (ICMP" in text and flow in err, f"{host}: ICMP row {flow} not named"
    pods = {n for n, h in d.hosts.items() if "kubernetes" in h and d.managed(n)}
    named = {p for t in files.values() for p in kubernetes_space(t)[1]}
    assert named == pods, "a policy per managed host that is pods"


def _check_aws(d: Deployment, files: dict[str, str], egress: bool) -> None:
    assert list(files) == ["security-groups.tf"]
    actual, groups = aws_space(files["security-groups.tf"])
    assert groups == _aws_groups(d, egress)
    same_packets(actual, _aws_expected(d, egress), "aws")


def _check_acl(d: Deployment, target: str, files: dict[str, str]) -> None:
    """Cisco and Junos: a file per source zone, for the interface facing it, which allows
    the union of the rows from that zone to every other zone (an interface takes one filter
    per family and direction).  PAN-OS: a file per boundary, its rules naming both zones."""
    zones = {h.get("zone") for h in d.hosts.values()} - {None}
    expected = _acl_expected(d)
    if target == "paloalto":
        units: dict[str, Any] = {f"{a}-to-{b}": (a, b) for a in zones for b in zones if a != b}
    else:
        units = {f"from-{zone}": zone for zone in zones}
        by_zone: Space = {}
        for (source_zone, _destination_zone, *rest), boxes in expected.items():
            add(by_zone, (source_zone, *rest), *boxes)
        expected = by_zone
    read = readers()[target]
    actual: Space = {}
    for name, text in files.items():
        assert name.endswith(ACL_SUFFIX[target]), name
        actual.update(read(units[name.removesuffix(ACL_SUFFIX[target])], text))
    sources = {key[0] if target != "paloalto" else key[:2] for key in expected}
    if target in ("cisco", "juniper"):  # IPv6 neighbour discovery, on every interface
        for zone in sources:
            for kind in (135, 136):
                add(expected, (zone, 6, "icmp"), (EVERY[6], EVERY[6], (kind, kind)))
    same_packets(actual, expected, target)
    written = {units[n.rsplit(".", 1)[0]] for n in files}
    assert written == sources, "a file per source zone (cisco, juniper) or boundary (paloalto)"


def _combos() -> Iterator[Any]:
    for name in CASES:
        for target in ("windows", "aws", "kubernetes"):
            for egress in (False, True):
                yield pytest.param(
                    name, target, egress, id=f"{name}-{target}-{'egress' if egress else 'in'}"
                )
        for target in ("cisco", "juniper", "paloalto"):
            yield pytest.param(name, target, False, id=f"{name}-{target}")


@pytest.mark.parametrize(("case", "target", "egress"), list(_combos()))
def test_rules_allow_exactly_the_matrix_rows(
    case: str, target: str, egress: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = CASES[case].write(tmp_path)
    d = _deployment(path)
    out = tmp_path / "out"
    out.mkdir()
    with caplog.at_level(logging.WARNING):
        code, err = _render(path, target, egress, out)
    refusal = REFUSED.get((case, target, egress))
    if refusal is not None:
        assert code == 2 and refusal in err, err
        assert not list(out.iterdir()), "a refusal writes nothing"
        return
    assert code == 0, err
    files = _read(out)
    _no_disabled_flow(files)
    if target == "windows":
        _check_windows(d, files, egress, keywords=True)
    elif target == "kubernetes":
        _check_kubernetes(d, files, egress, err)
    elif target == "aws":
        _check_aws(d, files, egress)
    else:
        _check_acl(d, target, files)


@pytest.mark.parametrize("egress", [False, True], ids=["in", "egress"])
def test_windows_rpc_ports_setting_is_exactly_the_rows(egress: bool, tmp_path: Path) -> None:
    path = CASES["oracle"].write(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, err = _render(path, "windows", egress, out, "--set", "rpc=ports")
    assert code == 0, err
    _check_windows(_deployment(path), _read(out), egress, keywords=False)


def test_the_oracle_deployment_holds_the_edge_cases(tmp_path: Path) -> None:
    """The stress deployment still has what it is for (so the oracle test checks it)."""
    d = _deployment(CASES["oracle"].write(tmp_path))
    flows = {row["flow"] for row in d.rows}
    assert not flows & set(DISABLED)
    icmp = {tuple(row["icmp"]) for row in d.rows if row["protocol"] == "icmp"}
    assert {("any",), ("destination-unreachable", "packet-too-big"), ("echo-request",)} <= icmp
    assert any(r["source"] == r["destination"] == "web" for r in d.rows)  # a cluster's mesh
    assert any(r["source"] == "anywhere" for r in d.rows)
    assert any(r["dynamic_ports"] for r in d.rows)
    assert any(r["loopback"] for r in d.rows)
    assert {"oracle-1.0/client-api/ingress", "oracle-1.0/client-api/backend"} <= flows
    assert any(r["ports"] == [[8080, 8080], [8443, 8445]] for r in d.rows)  # an override


#: (target, text, tampered text): each makes a file broader or narrower than the plan
TAMPERING = [
    ("windows", "-LocalPort '5433'", "-LocalPort '5433-5434'"),
    ("windows", "-IcmpType '8'", "-IcmpType '8', '0'"),
    ("windows", "-LocalAddress '192.0.2.31'", "-LocalAddress '192.0.2.0/24'"),
    ("windows", "-RemoteAddress '203.0.113.0/28'", "-RemoteAddress 'Any'"),
    ("windows", "-Direction Inbound", "-Direction Outbound"),
    ("windows", "-Protocol UDP", "-Protocol TCP"),
    ("aws", "from_port         = 8\n", "from_port         = -1\n"),
    ("aws", 'cidr_ipv4         = "203.0.113.0/28"', 'cidr_ipv4         = "203.0.113.0/27"'),
    (
        "aws",
        'resource "aws_vpc_security_group_ingress_rule"',
        'resource "aws_vpc_security_group_egress_rule"',
    ),
    ("kubernetes", "endPort: 9105", "endPort: 9106"),
    ("kubernetes", "kubernetes.io/metadata.name: jobs", "kubernetes.io/metadata.name: api"),
    ("kubernetes", "cidr: 203.0.113.0/28", "cidr: 203.0.113.0/24"),
    ("cisco", "host 192.0.2.31 eq 5433", "host 192.0.2.31 range 5433 5434"),
    ("cisco", "permit icmp host 192.0.2.130 host 192.0.2.21 11\n", ""),
    (
        "cisco",
        " icmp 2001:db8:ad::/64 host 2001:db8:1::11 128",
        " icmp any host 2001:db8:1::11 128",
    ),
    ("juniper", "icmp-type 8;", "icmp-type [ 8 0 ];"),
    ("juniper", "destination-port 5433;", "destination-port 5433-5500;"),
    ("juniper", "next-header icmp6;", "next-header tcp;"),
    ("paloalto", "<port>5433</port>", "<port>5433,5434</port>"),
    ("paloalto", "<type>8</type>", "<type>0</type>"),
]


@pytest.mark.parametrize(("target", "old", "new"), TAMPERING)
def test_the_oracle_sees_a_rule_broader_or_narrower_than_the_rows(
    target: str, old: str, new: str, tmp_path: Path
) -> None:
    """The checker itself: the same files, one rule changed, no longer pass."""
    path = CASES["oracle-no-icmp-any"].write(tmp_path)
    d = _deployment(path)
    out = tmp_path / "out"
    out.mkdir()
    code, err = _render(path, target, False, out)
    assert code == 0, err
    files = _read(out)
    name = next(n for n, text in files.items() if old in text)
    tampered = {**files, name: files[name].replace(old, new, 1)}
    assert tampered != files
    checks = {
        "windows": lambda f: _check_windows(d, f, False, keywords=True),
        "kubernetes": lambda f: _check_kubernetes(d, f, False, err),
        "aws": lambda f: _check_aws(d, f, False),
    }
    check = checks.get(target, lambda f: _check_acl(d, target, f))
    check(files)
    with pytest.raises(AssertionError):
        check(tampered)


@pytest.mark.parametrize("target", ["cisco", "juniper", "paloalto"])
def test_acls_that_reject_allow_exactly_the_rows(target: str, tmp_path: Path) -> None:
    """--default reject changes the final term only: what is allowed stays the rows."""
    path = CASES["oracle-any-placed"].write(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, err = _render(path, target, False, out, "--default", "reject")
    assert code == 0, err
    files = _read(out)
    final = {"cisco": " deny ip any any", "juniper": "reject;", "paloalto": "reset-client"}
    assert all(final[target] in text for text in files.values())
    _check_acl(_deployment(path), target, files)
