"""``portplan audit --ruleset``: a host's ruleset against the plan, as exact packet sets.

Every target's own output (the goldens of the examples) has no finding; rulesets changed on
purpose give each kind of finding, naming the rule; the CLI writes every format (JSON checked
against its schema) and exits 1 on findings.  What the audit says real packets do is checked
against the kernel in ``test_audit_netns``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import examples
import machine
import netns
from portplan.audit import FindingKind, Hook, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.audit.iptables import read_ipsets, read_iptables_save
from portplan.audit.nftables import read_nftables_json
from portplan.audit.ruleset import permitted
from portplan.cli import cli
from portplan.spaces import Packet
from portplan.targets import RuleOptions, get_target
from portplan.targets.hostview import rule_hosts

EXAMPLES = ("shopping-contoso", "smart-id-nexus", "smart-id-k8s")
IPTABLES = examples.GOLDEN / "rules" / "iptables"
NFTABLES = examples.GOLDEN / "rules" / "nftables"
NEXUS = examples.EXAMPLES / "smart-id-nexus.yaml"


def iptables_files(folder: Path, host: str) -> list[RulesetFile]:
    return [RulesetFile(str(p), p.read_text()) for p in sorted(folder.glob(f"{host}.*"))]


def nft_json(path: Path) -> str:
    """A ruleset file as the kernel holds it, from a network namespace of its own."""
    with netns.namespace() as name:
        netns.run(["ip", "netns", "exec", name, "nft", "-f", str(path)])
        return netns.run(["ip", "netns", "exec", name, "nft", "-j", "list", "ruleset"]).stdout


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("case", ["default", "egress-reject"])
def test_iptables_goldens_have_no_finding(example: str, case: str) -> None:
    plan = examples.example_plan(example)
    folder = IPTABLES / example / case
    for host in sorted({p.stem for p in folder.iterdir()}):
        ruleset = read_ruleset(iptables_files(folder, host))
        result = audit_ruleset(plan, host, ruleset, egress=case != "default", annotate=True)
        assert result.findings == [], (host, [f.message for f in result.findings])
        ends_here = [r for r in plan.rows_of(host) if r.destination == host]
        assert result.checked >= len(ends_here)
        assert not [r for r in result.rules if r.effect == "not in plan"]


@pytest.mark.netns
@pytest.mark.parametrize("example", EXAMPLES)
def test_nftables_goldens_have_no_finding(example: str) -> None:
    if netns.unavailable("nft"):
        pytest.skip(str(netns.unavailable("nft")))
    plan = examples.example_plan(example)
    for case in ("default", "egress-reject", "shared", "shared-egress-reject"):
        folder = NFTABLES / example / case
        if not folder.exists():
            continue
        egress = "egress" in case
        for path in sorted(folder.glob("*.nft")):
            ruleset = read_nftables_json(nft_json(path), str(path))
            hosts = rule_hosts(plan) if path.stem == "shared" else (path.stem,)
            for host in hosts:
                result = audit_ruleset(plan, host, ruleset, egress=egress, annotate=True)
                assert result.findings == [], (case, host, [f.message for f in result.findings])


# -- each finding, from a ruleset changed on purpose -------------------------------------------

DA01 = IPTABLES / "smart-id-nexus" / "default"


def changed_da01(tmp_path: Path) -> Path:
    """da01's IPv4 ruleset with the admin port moved (8443 to 8444: missing and extra), RDP
    open to anyone (extra), a drop before the LCP rule (missing, and a shadowed accept)."""
    text = (DA01 / "da01.v4").read_text()
    text = text.replace("--dport 8443", "--dport 8444")
    text = text.replace(
        "-A INPUT -i lo",
        "-A INPUT -s 198.51.100.20/32 -p tcp -m tcp --dport 8301 -j DROP\n-A INPUT -i lo",
    )
    text = text.replace("COMMIT", "-A INPUT -p tcp -m tcp --dport 3389 -j ACCEPT\nCOMMIT")
    path = tmp_path / "da01.v4"
    path.write_text(text)
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_each_finding_names_the_rule(tmp_path: Path) -> None:
    path = changed_da01(tmp_path)
    plan = examples.example_plan("smart-id-nexus")
    files = [RulesetFile(str(path), path.read_text()), *iptables_files(DA01, "da01.v6")]
    result = audit_ruleset(plan, "da01", read_ruleset(files))
    found = {(f.kind, f.flow, f.line) for f in result.findings}
    drop = line_of(path, "8301 -j DROP")
    moved = line_of(path, "--dport 8444")
    rdp = line_of(path, "3389")
    lcp = line_of(path, 'da-lcp-policy-access-point" -j ACCEPT')
    policy = line_of(path, ":INPUT DROP")
    assert found == {
        (FindingKind.MISSING, "smart-id-21.04/da-admin-service", None),
        (FindingKind.MISSING, "smart-id-21.04/da-lcp-policy-access-point", drop),
        (FindingKind.EXTRA, None, moved),
        (FindingKind.EXTRA, None, rdp),
        (FindingKind.SHADOWED, None, lcp),
    }
    by_kind = {(f.kind, f.line): f for f in result.findings}
    admin = next(f for f in result.findings if f.flow == "smart-id-21.04/da-admin-service")
    assert admin.rule == f"{path}:{policy}" and "policy drop" in admin.message
    rdp_finding = by_kind[FindingKind.EXTRA, rdp]
    assert rdp_finding.example == Packet(
        4, *map(__import__("ipaddress").ip_address, ("0.0.0.0", "192.0.2.40")), 6, 3389
    )
    assert str(path) + f":{drop}" in by_kind[FindingKind.SHADOWED, lcp].message


def test_a_flow_permitted_in_part_is_partial(tmp_path: Path) -> None:
    """The RADIUS range 18118-18126 cut to 18118-18120: the rest is what is missing."""
    plan = examples.example_plan("smart-id-nexus")
    text = (DA01 / "da01.v4").read_text().replace("18118:18126", "18118:18120")
    files = [RulesetFile("da01.v4", text), *iptables_files(DA01, "da01.v6")]
    (finding,) = audit_ruleset(plan, "da01", read_ruleset(files)).findings
    assert finding.kind is FindingKind.PARTIAL
    assert finding.flow == "smart-id-21.04/da-radius"
    assert "port 18121-18126" in finding.message
    assert finding.example is not None and finding.example.port == 18121


def test_rules_it_cannot_read_are_findings_and_bound_the_result() -> None:
    """A rate-limited accept may let packets through, never surely: extra at the widest,
    missing at the narrowest, and the rule named as unreadable."""
    plan = examples.example_plan("smart-id-nexus")
    text = (DA01 / "da01.v4").read_text()
    text = text.replace(
        '--dport 22 -m conntrack --ctstate NEW -m comment --comment "management/ssh"',
        '--dport 22 -m limit --limit 3/min -m comment --comment "management/ssh"',
    ).replace("-s 203.0.113.0/28 -d 192.0.2.40/32 -p tcp -m tcp --dport 22", "-p tcp --dport 22")
    files = [RulesetFile("da01.v4", text), *iptables_files(DA01, "da01.v6")]
    ruleset = read_ruleset(files)
    kinds = sorted(f.kind.value for f in audit_ruleset(plan, "da01", ruleset).findings)
    assert kinds == ["extra", "missing", "unreadable"]
    low, high = permitted(plan, "da01", ruleset, Hook.INPUT)
    assert low.issubset(high) and not high.issubset(low)


def test_ipsets_from_an_ipset_restore_script() -> None:
    folder = IPTABLES / "shopping-contoso" / "egress-reject"
    sets = read_ipsets((folder / "admin-pc.ipset").read_text(), "admin-pc.ipset")
    assert sets and all(v is not None for v in sets.values())
    assert not any(name.endswith("_tmp") for name in sets)


def test_a_missing_ipset_is_an_input_error() -> None:
    folder = IPTABLES / "shopping-contoso" / "egress-reject"
    text = (folder / "admin-pc.v4").read_text()
    with pytest.raises(ValueError, match="ipset save"):
        read_iptables_save([("admin-pc.v4", text, 4)], {})


def test_nftables_json_of_a_hand_written_ruleset() -> None:
    """What hand-written rulesets hold: a named port set, a verdict map, a jump to a regular
    chain with a return, and ct state; the IPv6 family of an ip6 table passes untouched."""
    table = {"family": "inet", "name": "fw", "handle": 1}

    def rule(chain: str, handle: int, *exprs: object) -> dict[str, object]:
        return {
            "rule": {
                "family": "inet",
                "table": "fw",
                "chain": chain,
                "handle": handle,
                "expr": list(exprs),
            }
        }

    def match(left: object, right: object, op: str = "==") -> dict[str, object]:
        return {"match": {"op": op, "left": left, "right": right}}

    dport = {"payload": {"protocol": "tcp", "field": "dport"}}
    saddr = {"payload": {"protocol": "ip", "field": "saddr"}}
    ruleset = {
        "nftables": [
            {"table": table},
            {
                "set": {
                    "family": "inet",
                    "table": "fw",
                    "name": "web",
                    "type": "inet_service",
                    "handle": 2,
                    "elem": [80, 443],
                }
            },
            {
                "chain": {
                    "family": "inet",
                    "table": "fw",
                    "name": "input",
                    "handle": 3,
                    "type": "filter",
                    "hook": "input",
                    "prio": 0,
                    "policy": "drop",
                }
            },
            {"chain": {"family": "inet", "table": "fw", "name": "admins", "handle": 4}},
            rule(
                "input",
                5,
                match({"ct": {"key": "state"}}, ["established", "related"], "in"),
                {"accept": None},
            ),
            rule("input", 6, match(dport, "@web"), {"accept": None}),
            rule(
                "input",
                7,
                {
                    "vmap": {
                        "key": dport,
                        "data": {
                            "set": [[22, {"jump": {"target": "admins"}}], [8080, {"drop": None}]]
                        },
                    }
                },
            ),
            rule(
                "admins",
                8,
                match(saddr, {"prefix": {"addr": "203.0.113.0", "len": 28}}, "!="),
                {"return": None},
            ),
            rule("admins", 9, {"accept": None}),
        ]
    }
    parsed = read_nftables_json(json.dumps(ruleset), "fw.json")
    plan = examples.example_plan("smart-id-nexus")
    low, high = permitted(plan, "da01", parsed)
    assert low.same_as(high)
    ip = __import__("ipaddress").ip_address

    def packet(source: str, port: int) -> Packet:
        return Packet(4, ip(source), ip("192.0.2.40"), 6, port)

    assert packet("198.51.100.1", 443) in high
    assert packet("203.0.113.5", 22) in high
    assert packet("198.51.100.1", 22) not in high  # returned from admins: the policy drops it
    assert packet("198.51.100.1", 8080) not in high


# -- the command line ----------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def audit_changed_da01(tmp_path: Path) -> tuple[str, ...]:
    """The audit command of da01 with its changed IPv4 ruleset and its IPv6 golden."""
    bad = str(changed_da01(tmp_path))
    v6 = str(DA01 / "da01.v6")
    return ("audit", str(NEXUS), "--host", "da01", "--ruleset", bad, "--ruleset", v6)


def test_cli_exits_0_without_findings_and_1_with_them(tmp_path: Path) -> None:
    v4, v6 = str(DA01 / "da01.v4"), str(DA01 / "da01.v6")
    code, out, _err = run("audit", str(NEXUS), "--host", "da01", "--ruleset", v4, "--ruleset", v6)
    assert code == 0 and "da01 firewall: no findings" in out
    code, out, _err = run(*audit_changed_da01(tmp_path), "--format", "json")
    assert code == 1
    data = machine.document(out, "audit")
    (audit,) = data["audits"]
    assert data["passed"] is False and audit["counts"]["missing"] == 2
    extra = [f for f in audit["findings"] if f["kind"] == "extra" and f["example"]["port"] == 3389]
    assert extra and extra[0]["packets"][0]["ports"] == [[3389, 3389]]


def test_cli_csv_junit_and_annotated_copy(tmp_path: Path) -> None:
    code, out, _err = run(*audit_changed_da01(tmp_path), "--format", "csv")
    assert code == 1 and out.splitlines()[0].startswith("host,kind,direction,flow")
    assert len(out.splitlines()) == 6
    annotated = str(tmp_path / "annotated")
    code, out, _err = run(
        *audit_changed_da01(tmp_path), "--format", "junit", "--annotate", annotated
    )
    assert code == 1 and 'failures="3"' in out
    copy = (tmp_path / "annotated" / "da01.v4").read_text().splitlines()
    rdp = next(i for i, line in enumerate(copy) if "3389" in line)
    assert copy[rdp - 1] == "# portplan: not in plan"
    ssh = next(i for i, line in enumerate(copy) if '"management/ssh"' in line)
    assert copy[ssh - 1] == "# portplan: serves management/ssh"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "say what to audit"),
        (("--ruleset", "/no/such/file"), "no/such/file"),
        (("--ruleset", str(examples.EXAMPLES / "smart-id-nexus.yaml")), "not a ruleset"),
    ],
)
def test_cli_bad_input_exits_2(args: tuple[str, ...], words: str) -> None:
    code, _out, err = run("audit", str(NEXUS), "--host", "da01", *args)
    assert code == 2 and words in err, err


def test_cli_refuses_an_unknown_host() -> None:
    code, _out, err = run("audit", str(NEXUS), "--host", "da02", "--ruleset", "x")
    assert code == 2 and "did you mean 'da01'" in err


@pytest.mark.netns
def test_cli_reads_an_nftables_text_ruleset_in_a_namespace_of_its_own() -> None:
    if netns.unavailable("nft") or shutil.which("unshare") is None:
        pytest.skip("needs root, nft and unshare")
    path = NFTABLES / "smart-id-nexus" / "default" / "da01.nft"
    code, out, err = run("audit", str(NEXUS), "--host", "da01", "--ruleset", str(path))
    assert code == 0, err
    assert "da01 firewall: no findings" in out
    subprocess.run(["true"], check=True)


# -- matrix --against ------------------------------------------------------------------------------

CONTOSO = examples.EXAMPLES / "shopping-contoso.yaml"
SHOP01 = IPTABLES / "shopping-contoso" / "default"


def test_matrix_against_marks_rows_permitted_and_keeps_what_is_still_to_open(
    tmp_path: Path,
) -> None:
    files = ("--against", str(SHOP01 / "shop01.v4"), "--against", str(SHOP01 / "shop01.v6"))
    code, out, err = run("matrix", str(CONTOSO), *files, "--host", "shop01", "--format", "json")
    assert code == 0, err
    flows = machine.document(out, "matrix")["flows"]
    assert flows and {f["destination"] for f in flows} == {"shop01"}
    assert all(f["permitted"] == "yes" and f["permitted_by"] for f in flows)
    # the rule of the three HTTPS flows taken out: they, and only they, are still to open
    cut = tmp_path / "shop01.v4"
    cut.write_text(
        "".join(
            line
            for line in (SHOP01 / "shop01.v4").read_text().splitlines(keepends=True)
            if "website-https" not in line
        )
    )
    files = ("--against", str(cut), "--against", str(SHOP01 / "shop01.v6"))
    code, out, err = run(
        "matrix", str(CONTOSO), *files, "--host", "shop01", "--still-to-open", "--format", "csv"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("permitted,permitted_by,to_open")
    keys = sorted(line.split(",", 1)[0] for line in lines[1:])
    assert keys == [
        "shopping-6.1/client-https",
        "shopping-6.1/receiver-https",
        "shopping-6.1/website-https",
        "shopping-6.1/website-https",
    ]
    assert all(",no,," in line and "port 8443" in line for line in lines[1:])


def test_matrix_against_needs_a_host() -> None:
    code, _out, err = run("matrix", str(CONTOSO), "--against", str(SHOP01 / "shop01.v4"))
    assert code == 2 and "--host" in err


# -- Kubernetes NetworkPolicies --------------------------------------------------------------------

K8S = examples.GOLDEN / "rules" / "kubernetes" / "smart-id-k8s"


@pytest.mark.parametrize("case", sorted(p.name for p in K8S.iterdir()))
def test_kubernetes_goldens_have_no_finding(case: str) -> None:
    plan = examples.example_plan("smart-id-k8s")
    path = K8S / case / "prod.yaml"
    pods = [name for name, host in plan.hosts.items() if host.kubernetes is not None]
    assert pods
    for host in pods:
        ruleset = read_ruleset([RulesetFile(str(path), path.read_text())], plan, host)
        result = audit_ruleset(plan, host, ruleset)
        assert result.findings == [], (host, [f.message for f in result.findings])


def test_kubernetes_pods_reached_on_a_published_port_are_audited_where_they_listen(
    tmp_path: Path,
) -> None:
    """The Digital Access access point as pods: published on 443, listening on 10443.  A
    NetworkPolicy matches the port on the pods, so the target allows 10443, and the audit
    reads the row there too: the target's own policy has no finding."""
    data = examples.example_data("smart-id-k8s")
    data["hosts"]["da-edge01"]["kubernetes"] = {
        "cluster": "prod",
        "namespace": "smart-id",
        "pod_labels": {"app": "da-access-point"},
    }
    for binding in data["products"].values():
        if "file" in binding:
            binding["file"] = str(examples.EXAMPLES / binding["file"])
    plan = examples.plan_from_data(data, tmp_path, "published-pods")
    text = get_target("kubernetes").render(plan, RuleOptions())["prod.yaml"]
    policy = text.split("# --- da-edge01:")[1].split("\n---\n")[0]
    assert "port: 10443\n" in policy and "port: 443\n" not in policy
    ruleset = read_ruleset([RulesetFile("prod.yaml", text)], plan, "da-edge01")
    result = audit_ruleset(plan, "da-edge01", ruleset)
    assert result.findings == [], [f.message for f in result.findings]
    # the published port on the pods is not what the plan opens there
    wrong = text.replace("port: 10443\n", "port: 443\n")
    ruleset = read_ruleset([RulesetFile("prod.yaml", wrong)], plan, "da-edge01")
    kinds = sorted(f.kind.value for f in audit_ruleset(plan, "da-edge01", ruleset).findings)
    assert kinds == ["extra", "missing"]


def test_kubernetes_policy_with_a_port_too_many_and_one_missing(tmp_path: Path) -> None:
    text = (K8S / "default" / "prod.yaml").read_text()
    text = text.replace("      port: 20400\n", "      port: 20400\n      endPort: 20410\n", 1)
    text = text.replace("      port: 5672\n", "      port: 5673\n", 1)
    path = tmp_path / "prod.yaml"
    path.write_text(text)
    code, out, err = run("audit", str(examples.EXAMPLES / "smart-id-k8s.yaml"), "--host", "msg01",
                         "--ruleset", str(path), "--format", "json")  # fmt: skip
    assert code == 1, err
    (audit,) = machine.document(out, "audit")["audits"]
    (extra,) = audit["findings"]
    assert extra["kind"] == "extra" and extra["example"]["port"] == 20401
    assert "NetworkPolicy smart-id/portplan-msg01 ingress[0]" in extra["rule"]
    code, out, err = run("audit", str(examples.EXAMPLES / "smart-id-k8s.yaml"), "--host", "pa01",
                         "--ruleset", str(path), "--format", "json")  # fmt: skip
    kinds = sorted(f["kind"] for f in machine.document(out, "audit")["audits"][0]["findings"])
    assert code == 1 and kinds == ["extra", "partial"], err


def test_matrix_against_names_every_part_still_to_open_in_a_change_request(
    tmp_path: Path,
) -> None:
    # to_open was cut after 8 parts ("...; and 3 more") in CSV, Markdown and JSON too: a
    # change request the firewall team cannot carry out in full
    deployment = examples.hostile_deployment(tmp_path)
    data = yaml.safe_load(deployment.read_text())
    members = [f"10.0.0.{n}" for n in range(1, 23, 2)]  # 11 machines
    data["hosts"]["web01"] = {"addresses": members, "cluster": True, "zone": "servers"}
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    # each member permitted on one port of 5432-5442 (its own): 11 parts left to open
    product = tmp_path / "deployment-product.yaml"
    product.write_text(product.read_text().replace("ports: 5432", "ports: 5432-5442"))
    rules = [
        f"-A INPUT -s {a}/32 -p tcp --dport {5432 + n} -j ACCEPT" for n, a in enumerate(members)
    ]
    ruleset = tmp_path / "db01.v4"
    ruleset.write_text(
        "# Generated by iptables-save\n*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n" + "\n".join(rules) + "\nCOMMIT\n"
    )
    against = ("--against", f"iptables:{ruleset}", "--host", "db01")
    code, out, err = run("matrix", str(deployment), *against, "--format", "json")
    assert code == 0, err
    (flow,) = machine.document(out, "matrix")["flows"]
    assert flow["permitted"] == "partly"
    parts = flow["to_open"].split("; ")
    assert len(parts) == len(members)
    assert not any(part.startswith("and ") for part in parts)
    # every member still needs the range but its own port: each is named
    named = set(re.findall(r"10\.0\.0\.[0-9]+", flow["to_open"]))
    assert named == set(members)
    code, out, err = run("matrix", str(deployment), *against, "--format", "csv")
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["to_open"] == flow["to_open"]
    # the terminal table stays short
    code, out, err = run("matrix", str(deployment), *against)
    assert code == 0, err
    assert "and 3 more" in out.replace("\n", " ").replace("│", " ")


def test_a_rule_after_an_unreadable_one_is_not_shadowed_by_it() -> None:
    """An earlier rule the audit cannot read may match nothing (a mark no packet carries):
    the drop after it takes effect, and was reported as one that never does."""
    plan = examples.example_plan("smart-id-nexus")
    text = (DA01 / "da01.v4").read_text()
    marked = "-A INPUT -p tcp -m tcp --dport 5985 -m mark --mark 0x1 -j ACCEPT\n"
    dropped = "-A INPUT -p tcp -m tcp --dport 5985 -j DROP\n"
    text = text.replace("COMMIT\n", marked + dropped + "COMMIT\n", 1)
    assert marked in text
    files = [RulesetFile("da01.v4", text), *iptables_files(DA01, "da01.v6")]
    findings = audit_ruleset(plan, "da01", read_ruleset(files)).findings
    kinds = sorted(f.kind.value for f in findings if "5985" in (f.rule_text or ""))
    assert kinds == ["extra", "unreadable"], findings  # the accept may let it in: bounds


def test_the_json_names_every_packet_box_of_a_finding(tmp_path: Path) -> None:
    # a rule accepting every new connection ahead of the policy, on a host that sixty clients
    # reach each on its own port: what it permits beyond the plan is 64 boxes, and the JSON
    # cut the list at 50 without a word
    count = 60
    flows = [
        {"id": f"f{i}", "row": i + 1, "from": f"c{i}", "to": "server", "protocol": "tcp",
         "ports": 20000 + 2 * i, "purpose": "reach the server"}
        for i in range(count)
    ]  # fmt: skip
    components = {f"c{i}": {"name": f"Client {i}", "kind": "client"} for i in range(count)}
    components["server"] = {"name": "Server"}
    product = {"id": "many-1", "name": "Many", "version": "1", "document": {"title": "Many"},
               "components": components, "flows": flows}  # fmt: skip
    (tmp_path / "many.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    hosts = {f"h{i}": {"addresses": [f"198.51.100.{i + 1}"]} for i in range(count)}
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "name": "many",
                "hosts": {**hosts, "srv01": {"addresses": ["192.0.2.10"]}},
                "products": {
                    "many-1": {
                        "file": "many.yaml",
                        "components": {
                            **{f"c{i}": f"h{i}" for i in range(count)},
                            "server": "srv01",
                        },
                    }
                },
            },
            sort_keys=False,
        )
    )
    out = tmp_path / "rules"
    code, _out, err = run(
        "rules", str(deployment), "-t", "iptables", "--host", "srv01", "-o", str(out)
    )
    assert code == 0, err
    v4 = out / "srv01.v4"
    v4.write_text(
        v4.read_text().replace("COMMIT", "-A INPUT -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT")
    )
    code, text, err = run(
        "audit", str(deployment), "--host", "srv01", "--ruleset", str(v4),
        "--ruleset", str(out / "srv01.v6"), "--format", "json",
    )  # fmt: skip
    assert code == 1, err
    (extra,) = [f for f in machine.document(text, "audit")["audits"][0]["findings"]
                if f["kind"] == "extra"]  # fmt: skip
    boxes = extra["packets"]
    assert len(boxes) == 64
    # every planned port is left out of what the rule permits beyond the plan, for its client
    for i in range(count):
        port, client = 20000 + 2 * i, f"198.51.100.{i + 1}/32"
        assert not [
            b for b in boxes
            if client in b["sources"] and any(lo <= port <= hi for lo, hi in b["ports"] or ())
            and 6 in [p for lo, hi in b["protocols"] for p in range(lo, hi + 1)]
        ], port  # fmt: skip
