"""``portplan audit --ruleset kubernetes:FILE``: label selectors with ``matchExpressions``.

A policy whose selector's expressions do not select the host's pods leaves them open to
everything; one whose expressions do isolates them; a peer's expressions pick the
deployment's pods they select, and nothing else.
"""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path

import pytest
from click.testing import CliRunner

import examples
from portplan import load_plan
from portplan._errors import AuditError
from portplan.audit import FindingKind, audit_ruleset
from portplan.audit.collect import RulesetFile, read_ruleset
from portplan.audit.ruleset import permitted
from portplan.cli import cli
from portplan.plan import Plan
from portplan.spaces import Packet

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: smart-id}}
spec:
  podSelector:
    matchExpressions:
    - {{key: app, operator: {operator}, values: [database]}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{ipBlock: {{cidr: 192.0.2.0/24}}}}]
    ports: [{{port: 5432}}]
"""


def _audit(text: str, host: str = "pa01") -> list[tuple[FindingKind, str]]:
    plan = examples.example_plan("smart-id-k8s")
    ruleset = read_ruleset([RulesetFile("kubernetes:p.yaml", text)], plan, host)
    return [(f.kind, f.message) for f in audit_ruleset(plan, host, ruleset).findings]


def test_a_policy_whose_expressions_select_other_pods_leaves_these_open() -> None:
    found = _audit(POLICY.format(operator="In"))  # app In [database]: not physical-access
    assert {kind for kind, _m in found} == {FindingKind.EXTRA}
    # the chain that stands for the pods' ingress lets everything on: it is named as such
    (extra,) = [m for _kind, m in found]
    assert extra.startswith("the policy accept of chain pods of pa01 permits ")


def test_a_policy_whose_expressions_select_these_pods_isolates_them() -> None:
    found = _audit(POLICY.format(operator="NotIn"))  # app NotIn [database]: physical-access
    kinds = {kind for kind, _m in found}
    assert kinds == {FindingKind.MISSING, FindingKind.EXTRA}  # exact: nothing unreadable
    (extra,) = [m for kind, m in found if kind is FindingKind.EXTRA]
    assert "port 5432" in extra


@pytest.mark.parametrize(
    ("pods", "namespaces", "reached"),
    [
        ("{key: app, operator: NotIn, values: [identity-manager]}", "In", {"20", "30"}),
        ("{key: tier, operator: DoesNotExist}", "In", {"10", "20", "30"}),
        ("{key: app, operator: Exists}", "NotIn", set()),
    ],
)
def test_a_peers_expressions_pick_the_pods_they_select(
    pods: str, namespaces: str, reached: set[str]
) -> None:
    text = f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: smart-id}}
spec:
  podSelector: {{matchLabels: {{app: messaging}}}}
  ingress:
  - from:
    - podSelector: {{matchExpressions: [{pods}]}}
      namespaceSelector:
        matchExpressions:
        - {{key: kubernetes.io/metadata.name, operator: {namespaces}, values: [smart-id]}}
    ports: [{{port: 5432}}]
"""
    plan = examples.example_plan("smart-id-k8s")
    ruleset = read_ruleset([RulesetFile("kubernetes:p.yaml", text)], plan, "msg01")
    surely, maybe = permitted(plan, "msg01", ruleset)
    assert surely.same_as(maybe)  # every selector read exactly
    for last in ("10", "20", "30", "40"):
        packet = Packet(4, ip_address(f"192.0.2.{last}"), ip_address("192.0.2.30"), 6, 5432)
        assert (packet in surely) == (last in reached), last


def test_an_operator_the_api_server_refuses_is_refused() -> None:
    with pytest.raises(AuditError, match=r"podSelector\.matchExpressions\[0\]: operator 'Has'"):
        _audit(POLICY.format(operator="Has"))


#: messaging's pods admit identity-manager's on ``port``
FROM_IDM_PODS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: smart-id}}
spec:
  podSelector: {{matchLabels: {{app: messaging}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: identity-manager}}}}}}]
    ports: [{{port: {port}}}]
"""


def _idm_by_name_only(tmp_path: Path) -> Plan:
    """The Smart ID Kubernetes example with idm01's pods known by DNS name only."""
    text = (examples.EXAMPLES / "smart-id-k8s.yaml").read_text()
    text = text.replace(
        "  idm01:\n    addresses: [192.0.2.10]\n", "  idm01:\n    dns_name: idm.example.com\n"
    )
    assert "idm.example.com" in text
    (tmp_path / "deployment.yaml").write_text(text)
    return load_plan(tmp_path / "deployment.yaml")


def test_a_peer_known_by_name_only_may_be_any_address(tmp_path: Path) -> None:
    """The pods of a host known by name only have addresses the plan does not say: a rule
    that admits them may admit any address (unreadable), not nobody."""
    plan = _idm_by_name_only(tmp_path)
    policy = FROM_IDM_PODS.format(port="5432")
    ruleset = read_ruleset([RulesetFile("kubernetes:p.yaml", policy)], plan, "msg01")
    surely, maybe = permitted(plan, "msg01", ruleset)
    anyone = Packet(4, ip_address("203.0.113.200"), ip_address("192.0.2.30"), 6, 5432)
    assert anyone in maybe and anyone not in surely
    findings = audit_ruleset(plan, "msg01", ruleset).findings
    assert any("'idm01', a host known by name only" in f.message for f in findings)


def test_the_rule_for_a_peer_known_by_name_only_keeps_what_else_is_unreadable(
    tmp_path: Path,
) -> None:
    """Its rule at any address says all it cannot read: a named port too, not only the peer."""
    plan = _idm_by_name_only(tmp_path)
    policy = FROM_IDM_PODS.format(port="amqp")
    ruleset = read_ruleset([RulesetFile("kubernetes:p.yaml", policy)], plan, "msg01")
    rules = [r for c in ruleset.chains.values() for r in c.rules]
    (anyone,) = [r for r in rules if any("known by name only" in u for u in r.unreadable)]
    assert any("named port" in u for u in anyone.unreadable), anyone.unreadable


#: physical-access's pods (pa01, namespace smart-id) admit 192.0.2.0/24 on 5432 only, in a
#: policy that names no namespace, as a file for ``kubectl apply`` often does
UNPLACED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
spec:
  podSelector: {matchLabels: {app: physical-access}}
  ingress:
  - from: [{ipBlock: {cidr: 192.0.2.0/24}}]
    ports: [{port: 5432}]
"""


def test_a_policy_that_names_no_namespace_is_refused_without_one() -> None:
    """kubectl puts it in the namespace of its context, which the file does not say: it is
    not read as ``default`` (which here would leave pa01's pods open to everything)."""
    plan = examples.example_plan("smart-id-k8s")
    with pytest.raises(AuditError) as refused:
        read_ruleset([RulesetFile("p.yaml", UNPLACED)], plan, "pa01")
    message = str(refused.value)
    assert message.startswith("p.yaml:1: NetworkPolicy 'p' has no metadata.namespace")
    assert "--namespace NAME" in message and "\n" not in message


def test_namespace_says_where_a_policy_that_names_none_is() -> None:
    """With ``namespace``, such a policy is in it, as the same policy naming it would be;
    a policy that names its namespace keeps it."""
    plan = examples.example_plan("smart-id-k8s")
    named = UNPLACED.replace("  name: p\n", "  name: p\n  namespace: smart-id\n")

    def findings(text: str, namespace: str | None) -> list[tuple[FindingKind, str]]:
        files = [RulesetFile("p.yaml", text)]
        ruleset = read_ruleset(files, plan, "pa01", namespace=namespace)
        return [(f.kind, f.message) for f in audit_ruleset(plan, "pa01", ruleset).findings]

    isolated = findings(named, None)
    assert {kind for kind, _m in isolated} == {FindingKind.MISSING, FindingKind.EXTRA}
    assert findings(UNPLACED, "smart-id") == isolated
    assert findings(named, "other") == isolated
    # in another namespace it selects none of pa01's pods: they are open to everything
    (extra,) = findings(UNPLACED, "other")
    assert extra[1].startswith("the policy accept of chain pods of pa01 permits ")


def test_cli_namespace(tmp_path: Path) -> None:
    """``audit --namespace``: without it the policy is refused (exit 2, no traceback); with
    it the audit runs; and it goes with a NetworkPolicy file only."""
    policy = tmp_path / "p.yaml"
    policy.write_text(UNPLACED)
    deployment = str(examples.EXAMPLES / "smart-id-k8s.yaml")
    argv = ["audit", deployment, "--host", "pa01", "--ruleset", str(policy)]
    refused = CliRunner().invoke(cli, argv)
    assert refused.exit_code == 2, refused.output
    assert "p.yaml:1: NetworkPolicy 'p' has no metadata.namespace" in refused.output
    assert "Traceback" not in refused.output
    ran = CliRunner().invoke(cli, [*argv, "--namespace", "smart-id", "--format", "json"])
    assert ran.exit_code == 1, ran.output  # findings: the policy opens 5432 only
    kinds = {f["kind"] for f in json.loads(ran.stdout)["audits"][0]["findings"]}
    assert kinds == {"missing", "extra"}
    against = ["matrix", deployment, "--host", "pa01", "--against", str(policy)]
    assert CliRunner().invoke(cli, against).exit_code == 2
    assert CliRunner().invoke(cli, [*against, "--namespace", "smart-id"]).exit_code == 0
    for wrong in (["--namespace", "Not_A_Name"], ["--namespace", "smart-id", "--live"]):
        result = CliRunner().invoke(cli, [*argv[:4], *wrong])
        assert result.exit_code == 2, result.output
        assert "--namespace" in result.output


def test_matrix_against_policies_marks_every_hosts_rows_by_its_own_policy() -> None:
    """``matrix --against`` read the policies for the first ``--host`` only: with ``--host
    idm01 --host pa01``, pa01's rows were marked by the policy of idm01's pods (3 of 4 `no`)
    against the very file that permits them all."""
    policies = examples.GOLDEN / "rules" / "kubernetes" / "smart-id-k8s" / "default" / "prod.yaml"
    deployment = str(examples.EXAMPLES / "smart-id-k8s.yaml")

    def permitted_by_host(*hosts: str) -> dict[str, set[str]]:
        argv = ["matrix", deployment, "--against", f"kubernetes:{policies}", "--format", "json"]
        result = CliRunner().invoke(cli, [*argv, *(a for h in hosts for a in ("--host", h))])
        assert result.exit_code == 0, result.output
        marks: dict[str, set[str]] = {}
        for row in json.loads(result.stdout)["flows"]:
            marks.setdefault(row["destination"], set()).add(row["permitted"])
        return marks

    alone = permitted_by_host("idm01") | permitted_by_host("pa01")
    assert alone == {"idm01": {"yes"}, "pa01": {"yes"}}
    assert permitted_by_host("idm01", "pa01") == alone
    assert permitted_by_host("pa01", "idm01") == alone


def test_egress_of_policies_is_refused_not_judged_open(tmp_path: Path) -> None:
    """`rules -t kubernetes --egress` writes policies that deny what the plan does not send
    (`egress: []` where nothing leaves the pods); their egress rules are not read, and
    `audit --egress` said "no chain on the output hook (everything passes)" of them."""
    deployment = str(examples.EXAMPLES / "smart-id-k8s.yaml")
    policies = tmp_path / "prod.yaml"
    runner = CliRunner()
    made = runner.invoke(
        cli, ["rules", deployment, "-t", "kubernetes", "--egress", "-o", str(policies)]
    )
    assert made.exit_code == 0, made.output
    assert "  egress: []" in policies.read_text()  # msg01 sends nothing: it is let out nowhere
    args = ["audit", deployment, "--host", "msg01", "--ruleset", f"kubernetes:{policies}"]
    audited = runner.invoke(cli, [*args, "--egress"])
    assert audited.exit_code == 2, audited.output
    assert "egress rules of NetworkPolicies are not read" in audited.output
    assert "everything passes" not in audited.output
    # without --egress the ingress is audited as ever: the policies hold the plan exactly
    plain = runner.invoke(cli, args)
    assert plain.exit_code == 0, plain.output
