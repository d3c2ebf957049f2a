"""``portplan diff`` sees what changes only in the rules a host holds itself: the packets
between zones stay, and the rules portplan generates change all the same.

The product of these cases is one flow, ``pub/web``: clients -> app, published on tcp 443, its
service listening on ``app_port`` (10443 unless the deployment overrides it).  Both hosts are
pods of one Kubernetes cluster, so ``rules -t kubernetes`` writes a NetworkPolicy for each.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

import machine
from portplan.cli import cli
from portplan.diff import ChangeKind, PlanDiff, diff_plans
from portplan.plan import Plan
from portplan.report.diff import diff_csv, diff_json, diff_junit, diff_table
from portplan.targets.aws import FILE_NAME, AwsTarget
from portplan.targets.base import RuleOptions
from portplan.targets.kubernetes import KubernetesTarget
from test_diff_rows import side

PRODUCT = """\
id: pub
name: PUB
version: "1"
vendor: t
document: {title: PUB, layout: flat}
parameters:
  app_port: {description: internal port, default: 10443, allowed: 10444}
components: {client: {name: C}, app: {name: A}}
flows:
  - {id: web, row: 1, from: client, to: app, protocol: tcp, ports: app_port,
     published: {ports: 443}, purpose: w}
"""

DEPLOYMENT = """\
name: pub
hosts:
  clients:
    addresses: [10.1.0.0/24]
    zone: users
    kubernetes: {cluster: prod, namespace: web, pod_labels: {app: client}}
  app01:
    addresses: [10.3.0.10]
    zone: data
    kubernetes: {cluster: prod, namespace: web, pod_labels: {app: app}}
products:
  pub: {file: p.yaml, components: {client: clients, app: app01}}
"""

OVERRIDE = "app01}}\n", "app01}, parameters: {app_port: 10444}}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(PRODUCT)
    return tmp_path


def compare(folder: Path, old: str, new: str) -> tuple[PlanDiff, Plan, Plan]:
    old_bundle, old_plan = side(folder, "old.yaml", old)
    new_bundle, new_plan = side(folder, "new.yaml", new)
    found = diff_plans(old_plan, new_plan, old_side=old_bundle, new_side=new_bundle)  # type: ignore[arg-type]
    return found, old_plan, new_plan


def policies(plan: Plan) -> dict[str, str]:
    return KubernetesTarget().render(plan, RuleOptions())


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout


# -- 1. where the destination listens behind a published port ------------------------------


def test_a_listening_port_raised_behind_the_same_published_port_is_a_change(
    folder: Path,
) -> None:
    found, old, new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace(*OVERRIDE))
    # the packets between zones stay (clients -> app01 tcp 443), the policy does not
    assert [row.ports for row in old.rows] == [row.ports for row in new.rows]
    assert policies(old) != policies(new)
    assert not found.identical
    (change,) = found.changes
    assert (change.kind, change.flow, change.source, change.destination) == (
        ChangeKind.LISTEN,
        "pub/web",
        "clients",
        "app01",
    )
    assert not change.opened and not change.closed  # nothing to open on a zone firewall
    assert change.detail == "listens on tcp/10444, was tcp/10443"
    assert change.causes == ("parameter app_port overridden: the vendor default -> 10444",)
    assert (change.source_zone, change.destination_zone) == ("users", "data")
    assert found.summary() == "0 to open, 0 to close, 1 to change"
    # every output says so
    assert "clients -> app01 (listens on tcp/10444, was tcp/10443)" in diff_table(found, width=200)
    data = machine.document(diff_json(found), "diff")
    assert data["identical"] is False
    (record,) = data["changes"]
    assert (record["kind"], record["open"], record["close"]) == ("listen", [], [])
    assert record["detail"] == "listens on tcp/10444, was tcp/10443"
    assert "listens on tcp/10444, was tcp/10443" in diff_junit(found)
    # the zone firewalls' change request has no line for it
    assert list(csv.DictReader(io.StringIO(diff_csv(found)))) == []
    # ... and the command exits 1, as for any change
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert out.endswith("0 to open, 0 to close, 1 to change\n")


def test_a_published_port_moved_with_the_listening_port_kept_is_only_its_packets(
    folder: Path,
) -> None:
    (folder / "p2.yaml").write_text(PRODUCT.replace("ports: 443}", "ports: 444}"))
    found, _old, _new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("p.yaml", "p2.yaml"))
    assert [c.kind for c in found.changes] == [ChangeKind.WIDEN, ChangeKind.NARROW]
    assert all(c.detail is None for c in found.changes)
    # and a port that stops being translated, where the service listens the same: the
    # packets change, the listener does not
    (folder / "p3.yaml").write_text(PRODUCT.replace(",\n     published: {ports: 443}", ""))
    found, _old, _new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("p.yaml", "p3.yaml"))
    assert [c.kind for c in found.changes] == [ChangeKind.WIDEN, ChangeKind.NARROW]
    # the same plan: identical
    found, _old, _new = compare(folder, DEPLOYMENT, DEPLOYMENT)
    assert found.identical


def test_a_port_published_where_the_service_listens_already_is_a_listen_change(
    folder: Path,
) -> None:
    # before: clients connect to 443, where the service listens; after: they still connect
    # to 443, published in front of a service that listens on 10443
    (folder / "p0.yaml").write_text(
        PRODUCT.replace("ports: app_port,\n     published: {ports: 443}", "ports: 443")
    )
    found, old, new = compare(folder, DEPLOYMENT.replace("p.yaml", "p0.yaml"), DEPLOYMENT)
    assert policies(old) != policies(new)
    (change,) = found.changes
    assert change.kind is ChangeKind.LISTEN
    assert change.detail == "listens on tcp/10443, was tcp/443"


# -- 2. the pods an end stands for ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "detail", "cause"),
    [
        (
            ("pod_labels: {app: app}", "pod_labels: {app: app2}"),
            "pods of app01: prod/web app=app2, were prod/web app=app",
            "host app01 pods: prod/web app=app -> prod/web app=app2",
        ),
        (
            (
                "namespace: web, pod_labels: {app: client}",
                "namespace: front, pod_labels: {app: client}",
            ),
            "pods of clients: prod/front app=client, were prod/web app=client",
            "host clients pods: prod/web app=client -> prod/front app=client",
        ),
        (
            ("    kubernetes: {cluster: prod, namespace: web, pod_labels: {app: app}}\n", ""),
            "pods of app01: none, were prod/web app=app",
            "host app01 pods: prod/web app=app -> none",
        ),
    ],
    ids=["destination-labels", "source-namespace", "destination-no-longer-pods"],
)
def test_other_pods_behind_the_same_packets_are_a_change(
    folder: Path, change: tuple[str, str], detail: str, cause: str
) -> None:
    found, old, new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace(*change))
    # the packets between zones stay, the policies do not
    assert [(r.source_addresses, r.destination_addresses, r.ports) for r in old.rows] == [
        (r.source_addresses, r.destination_addresses, r.ports) for r in new.rows
    ]
    assert policies(old) != policies(new)
    (pods,) = found.changes
    assert (pods.kind, pods.flow, pods.source, pods.destination) == (
        ChangeKind.PODS,
        "pub/web",
        "clients",
        "app01",
    )
    assert not pods.opened and not pods.closed
    assert pods.detail == detail
    assert pods.causes == (cause,)
    data = machine.document(diff_json(found), "diff")
    assert [(r["kind"], r["detail"]) for r in data["changes"]] == [("pods", detail)]
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert out.endswith("0 to open, 0 to close, 1 to change\n")


def test_pods_and_a_listening_port_changed_together_are_two_changes(folder: Path) -> None:
    new = DEPLOYMENT.replace(*OVERRIDE).replace("{app: app}", "{app: app2}")
    found, _old, _new = compare(folder, DEPLOYMENT, new)
    assert [c.kind for c in found.changes] == [ChangeKind.LISTEN, ChangeKind.PODS]


# -- 3. which host's own rules hold a row ---------------------------------------------------


def test_a_host_renamed_in_its_zone_is_a_change_of_the_host_s_own_rules(folder: Path) -> None:
    found, old, new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("app01", "app02"))
    # the AWS target's security group and the NetworkPolicy go by the host's name
    aws_old, aws_new = (
        AwsTarget().render(old, RuleOptions()),
        AwsTarget().render(new, RuleOptions()),
    )
    assert "portplan-app01" in aws_old[FILE_NAME] and "portplan-app02" in aws_new[FILE_NAME]
    assert policies(old) != policies(new)
    assert not found.identical
    assert [(c.kind, c.source, c.destination, c.detail) for c in found.changes] == [
        (
            ChangeKind.REHOST,
            "clients",
            "app02",
            "host app02 added: its own rules hold tcp/443 (other rows needed it)",
        ),
        (
            ChangeKind.REHOST,
            "clients",
            "app01",
            "host app01 removed: its own rules held tcp/443 (other rows need it still)",
        ),
    ]
    assert all(not c.opened and not c.closed for c in found.changes)  # the same packets
    assert "host app02 added" in found.changes[0].causes
    assert "host app01 removed" in found.changes[1].causes
    assert found.summary() == "0 to open, 0 to close, 2 to change"
    data = machine.document(diff_json(found), "diff")
    assert [r["kind"] for r in data["changes"]] == ["rehost", "rehost"]
    assert list(csv.DictReader(io.StringIO(diff_csv(found)))) == []
    # diff --delta aws makes the new group, and its exit status says the plans differ
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"), "--delta", "aws")
    assert code == 1
    assert "create-security-group --group-name portplan-app02" in out


def test_a_host_added_with_packets_of_its_own_opens_them_and_is_no_rehost(folder: Path) -> None:
    # app02, a new address: its packets are new, an open names the host added; nothing more
    found, _old, _new = compare(
        folder,
        DEPLOYMENT,
        DEPLOYMENT.replace("app01", "app02").replace("10.3.0.10", "10.3.0.11"),
    )
    assert [(c.kind, c.destination) for c in found.changes] == [
        (ChangeKind.OPEN, "app02"),
        (ChangeKind.CLOSE, "app01"),
    ]
    # a flow renamed, its hosts kept: the same packets, the same hosts' rules; identical
    (folder / "p4.yaml").write_text(PRODUCT.replace("{id: web,", "{id: web2,"))
    found, _old, _new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("p.yaml", "p4.yaml"))
    assert found.identical


def test_a_rehost_names_whose_rules_hold_the_row(folder: Path) -> None:
    # clients as one machine, renamed with its address kept: app01's rules hold the row for
    # its address; its own (a security group of its own, an egress rule) only with --egress
    machine_text = DEPLOYMENT.replace("10.1.0.0/24", "10.1.0.5")
    found, _old, new = compare(folder, machine_text, machine_text.replace("clients", "clients2"))
    assert "portplan-clients2" not in aws(new) and "portplan-clients2" in aws(new, egress=True)
    assert [(c.kind, c.source, c.detail) for c in found.changes] == [
        (
            ChangeKind.REHOST,
            "clients2",
            "host clients2 added: app01's rules hold tcp/443 for source 10.1.0.5 (a "
            "NetworkPolicy: for its pods); its own rules hold it with --egress (other rows "
            "needed it)",
        ),
        (
            ChangeKind.REHOST,
            "clients",
            "host clients removed: app01's rules held tcp/443 for source 10.1.0.5 (a "
            "NetworkPolicy: for its pods); its own rules held it with --egress (other rows "
            "need it still)",
        ),
    ]
    # a network renamed: it sends with no rules of its own, --egress or not
    found, _old, new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("clients", "clients2"))
    assert "portplan-clients2" not in aws(new, egress=True)
    assert found.changes[0].detail == (
        "host clients2 added: app01's rules hold tcp/443 for source 10.1.0.0/24 (a "
        "NetworkPolicy: for its pods); it is a network: no rules of its own send it (other "
        "rows needed it)"
    )
    # a source portplan does not manage, out of the cluster: no rules of portplan's are its
    unmanaged_source = machine_text.replace(
        "kubernetes: {cluster: prod, namespace: web, pod_labels: {app: client}}", "managed: false"
    )
    found, _old, _new = compare(
        folder, unmanaged_source, unmanaged_source.replace("clients", "clients2")
    )
    assert found.changes[0].detail == (
        "host clients2 added: app01's rules hold tcp/443 for source 10.1.0.5; it is not "
        "managed: portplan writes it no rules (other rows needed it)"
    )
    # a destination portplan does not manage: none of its own
    unmanaged = DEPLOYMENT.replace("    zone: data\n", "    zone: data\n    managed: false\n")
    found, _old, new = compare(folder, unmanaged, unmanaged.replace("app01", "app02"))
    assert "portplan-app02" not in aws(new, egress=True)
    assert [c.detail for c in found.changes] == [
        "host app02 added: it is not managed: portplan writes it no rules (other rows needed it)",
        "host app01 removed: it is not managed: portplan writes it no rules (other rows need it "
        "still)",
    ]
    # both ends renamed: each one's own
    found, _old, _new = compare(
        folder, machine_text, machine_text.replace("clients", "clients2").replace("app01", "app02")
    )
    assert found.changes[0].detail == (
        "host clients2 and host app02 added: app02's own rules hold tcp/443; clients2's own "
        "rules hold it with --egress (other rows needed it)"
    )
    # ... the destination not managed: the source's own, with --egress, hold the row
    found, _old, _new = compare(
        folder,
        unmanaged.replace("10.1.0.0/24", "10.1.0.5"),
        unmanaged.replace("10.1.0.0/24", "10.1.0.5")
        .replace("clients", "clients2")
        .replace("app01", "app02"),
    )
    assert found.changes[0].detail == (
        "host clients2 and host app02 added: app02 is not managed: portplan writes it no "
        "rules; clients2's own rules hold tcp/443 with --egress (other rows needed it)"
    )


# -- 4. the rules a host holds per peer address range (AWS security groups) ----------------

#: admin, a host inside the clients' subnet: the clients' row already needs its packets
ADMIN = "  app01:\n", "  admin:\n    addresses: [10.1.0.5]\n    zone: users\n  app01:\n"
BOUND = "client: clients,", "client: [clients, admin],"


def aws(plan: Plan, *, egress: bool = False) -> str:
    return AwsTarget().render(plan, RuleOptions(egress=egress))[FILE_NAME]


def test_a_host_bound_inside_a_subnet_another_row_comes_from_is_a_peer_change(
    folder: Path,
) -> None:
    old_text = DEPLOYMENT.replace(*ADMIN)
    found, old, new = compare(folder, old_text, old_text.replace(*BOUND))
    # the zone firewall needs nothing new (10.1.0.0/24 -> 10.3.0.10 tcp/443 holds admin's
    # packets), and app01's security group gains a rule for admin's own address all the same
    assert found.already_needed == 1
    assert "10.1.0.5/32" not in aws(old) and '"10.1.0.5/32"' in aws(new)
    assert not found.identical
    (change,) = found.changes
    assert (change.kind, change.flow, change.source, change.destination) == (
        ChangeKind.PEER,
        "pub/web",
        "admin",
        "app01",
    )
    assert not change.opened and not change.closed
    assert change.detail == (
        "app01's rules for source 10.1.0.5 gain tcp/443; "
        "admin's rules for destination 10.3.0.10 gain tcp/443 (with --egress)"
    )
    assert change.causes == ("component client moved: clients -> clients, admin",)
    assert found.summary() == "0 to open, 0 to close, 1 to change"
    data = machine.document(diff_json(found), "diff")
    assert [(r["kind"], r["open"], r["close"]) for r in data["changes"]] == [("peer", [], [])]
    assert list(csv.DictReader(io.StringIO(diff_csv(found)))) == []
    # diff --delta aws authorizes that rule (and, with --egress, admin's outbound one), and
    # the exit status says the plans differ
    old_file, new_file = str(folder / "old.yaml"), str(folder / "new.yaml")
    code, out = run("diff", old_file, new_file, "--delta", "aws")
    assert code == 1
    assert "1 rule to authorize, 0 to revoke" in out
    assert "portplan-app01)\" --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443," in out
    assert "CidrIp=10.1.0.5/32" in out
    code, out = run("diff", old_file, new_file, "--delta", "aws", "--egress")
    assert code == 1
    assert "2 rules to authorize, 0 to revoke" in out
    assert "CidrIp=10.3.0.10/32" in out
    # and the table says what changes
    assert "admin -> app01 (app01's rules for source 10.1.0.5 gain tcp/443;" in " ".join(
        diff_table(found, width=400).split()
    )


def test_a_host_re_addressed_inside_the_subnet_another_row_comes_from_is_a_peer_change(
    folder: Path,
) -> None:
    old_text = DEPLOYMENT.replace(*ADMIN).replace(*BOUND)
    found, _old, _new = compare(folder, old_text, old_text.replace("10.1.0.5", "10.1.0.6"))
    (change,) = found.changes
    assert (change.kind, change.source, change.destination) == (ChangeKind.PEER, "admin", "app01")
    assert change.detail == (
        "app01's rules for source 10.1.0.6 gain tcp/443; "
        "app01's rules for source 10.1.0.5 lose tcp/443"
    )
    assert change.causes == ("host admin re-addressed: 10.1.0.5 -> 10.1.0.6",)
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"), "--delta", "aws")
    assert code == 1
    assert "1 rule to authorize, 1 to revoke" in out
    # unbound again: its rule goes, while the clients' row still needs its packets
    found, _old, _new = compare(folder, old_text, DEPLOYMENT.replace(*ADMIN))
    (change,) = found.changes
    assert change.kind is ChangeKind.PEER
    assert change.detail == (
        "app01's rules for source 10.1.0.5 lose tcp/443; "
        "admin's rules for destination 10.3.0.10 lose tcp/443 (with --egress)"
    )


def test_a_host_added_inside_the_subnet_is_a_rehost_and_a_peer_change(folder: Path) -> None:
    new_text = DEPLOYMENT.replace(*ADMIN).replace(*BOUND)
    found, _old, _new = compare(folder, DEPLOYMENT, new_text)
    # admin's own group is new (rehost); app01's, which is not, gains a rule (peer)
    assert [(c.kind, c.detail) for c in found.changes] == [
        (
            ChangeKind.REHOST,
            "host admin added: app01's rules hold tcp/443 for source 10.1.0.5; its own rules "
            "hold it with --egress (other rows needed it)",
        ),
        (ChangeKind.PEER, "app01's rules for source 10.1.0.5 gain tcp/443"),
    ]


def test_another_flow_with_the_same_rules_per_peer_is_no_peer_change(folder: Path) -> None:
    # a second flow of the same hosts and ports: the rules per peer stay (only their
    # description, which names the flows, changes): no change
    product = PRODUCT + (
        "  - {id: web2, row: 2, from: client, to: app, protocol: tcp, ports: app_port,\n"
        "     published: {ports: 443}, purpose: w}\n"
    )
    (folder / "p5.yaml").write_text(product)
    found, _old, _new = compare(folder, DEPLOYMENT, DEPLOYMENT.replace("p.yaml", "p5.yaml"))
    assert found.identical


def test_a_host_made_managed_gains_its_rules_per_peer(folder: Path) -> None:
    # app01's firewall becomes portplan's: its security group holds the clients' rule now
    unmanaged = DEPLOYMENT.replace("    zone: data\n", "    zone: data\n    managed: false\n")
    found, old, new = compare(folder, unmanaged, DEPLOYMENT)
    assert "portplan-app01" not in aws(old) and "portplan-app01" in aws(new)
    (change,) = found.changes
    assert (change.kind, change.detail) == (
        ChangeKind.PEER,
        "app01's rules for source 10.1.0.0/24 gain tcp/443",
    )
    assert change.causes == ("host app01 managed: no -> yes",)
    # and back: they go
    found, _old, _new = compare(folder, DEPLOYMENT, unmanaged)
    assert [(c.kind, c.detail) for c in found.changes] == [
        (ChangeKind.PEER, "app01's rules for source 10.1.0.0/24 lose tcp/443")
    ]


# -- 5. the pods of a host no row starts or ends on ----------------------------------------

#: db01: pods of the cluster that no row reaches; rules -t kubernetes gives them a policy
#: that denies all
DB = (
    "products:\n",
    (
        "  db01:\n    addresses: [10.3.0.20]\n    zone: data\n"
        "    kubernetes: {cluster: prod, namespace: web, pod_labels: {app: db}}\n"
        "products:\n"
    ),
)


def test_other_pods_of_a_host_on_no_row_are_a_change_of_its_deny_all_policy(
    folder: Path,
) -> None:
    old_text = DEPLOYMENT.replace(*DB)
    found, old, new = compare(folder, old_text, old_text.replace("{app: db}", "{app: db2}"))
    assert not any("db01" in (row.source, row.destination) for row in (*old.rows, *new.rows))
    # the packets stay; the deny-all policy portplan-db01 selects other pods
    assert "app: db\n" in policies(old)["prod.yaml"]
    assert "app: db2\n" in policies(new)["prod.yaml"]
    (change,) = found.changes
    assert (change.kind, change.flow, change.source, change.destination, change.protocol) == (
        ChangeKind.PODS,
        "",
        "db01",
        "db01",
        None,
    )
    assert not change.opened and not change.closed
    assert change.detail == (
        "pods of db01: prod/web app=db2, were prod/web app=db (no row leaves or "
        "reaches db01's pods: its policy, which denies all, selects other pods)"
    )
    assert change.causes == ("host db01 pods: prod/web app=db -> prod/web app=db2",)
    assert (change.source_zone, change.destination_zone) == ("data", "data")
    assert found.summary() == "0 to open, 0 to close, 1 to change"
    data = machine.document(diff_json(found), "diff")
    assert [(r["kind"], r["flow"], r["protocol"]) for r in data["changes"]] == [("pods", "", None)]
    assert list(csv.DictReader(io.StringIO(diff_csv(found)))) == []
    assert "db01 (pods of db01: prod/web app=db2" in " ".join(diff_table(found, width=400).split())
    junit = diff_junit(found)
    assert 'classname="diff" name="pods db01"' in junit
    assert "pods of db01: prod/web app=db2" in junit
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert out.endswith("0 to open, 0 to close, 1 to change\n")
    # it becomes pods, or stops being pods: a policy is written, or no more
    no_pods = old_text.replace(
        "    kubernetes: {cluster: prod, namespace: web, pod_labels: {app: db}}\n", ""
    )
    found, _old, _new = compare(folder, no_pods, old_text)
    assert [(c.kind, c.source, c.detail) for c in found.changes] == [
        (
            ChangeKind.PODS,
            "db01",
            "pods of db01: prod/web app=db, were none (no row leaves or reaches db01's "
            "pods: a policy that denies all is written for them)",
        )
    ]
    # unmanaged, before and after: no policy of portplan's selects them
    unmanaged = old_text.replace(
        "zone: data\n    kubernetes", "zone: data\n    managed: false\n    kubernetes"
    )
    found, _old, _new = compare(folder, unmanaged, unmanaged.replace("{app: db}", "{app: db2}"))
    assert found.identical


def test_a_host_on_no_row_whose_deny_all_policy_comes_or_goes_is_a_pods_change(
    folder: Path,
) -> None:
    managed = DEPLOYMENT.replace(*DB)
    unmanaged = managed.replace("10.3.0.20]\n", "10.3.0.20]\n    managed: false\n")
    written = "(no row leaves or reaches db01's pods: a policy that denies all is written for them)"
    gone = (
        "(no row leaves or reaches db01's pods: its policy, which denied all, is written no more)"
    )
    # made managed, its pods the same: the policy portplan-db01 is written
    found, old, new = compare(folder, unmanaged, managed)
    assert "portplan-db01" not in policies(old)["prod.yaml"]
    assert "portplan-db01" in policies(new)["prod.yaml"]
    (change,) = found.changes
    assert (change.kind, change.flow, change.source, change.protocol, change.detail) == (
        ChangeKind.PODS,
        "",
        "db01",
        None,
        f"pods of db01: prod/web app=db {written}",
    )
    assert change.causes == ("host db01 managed: no -> yes",)
    assert (change.source_zone, change.destination_zone) == ("data", "data")
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert out.endswith("0 to open, 0 to close, 1 to change\n")
    # unmade managed: it is written no more
    found, old, new = compare(folder, managed, unmanaged)
    assert "portplan-db01" in policies(old)["prod.yaml"]
    assert "portplan-db01" not in policies(new)["prod.yaml"]
    assert [(c.kind, c.source, c.detail, c.causes) for c in found.changes] == [
        (
            ChangeKind.PODS,
            "db01",
            f"pods of db01: prod/web app=db {gone}",
            ("host db01 managed: yes -> no",),
        )
    ]
    # unmade managed with other pods: the old pods' policy goes
    found, _old, _new = compare(folder, managed, unmanaged.replace("{app: db}", "{app: db2}"))
    assert [c.detail for c in found.changes] == [
        f"pods of db01: prod/web app=db2, were prod/web app=db {gone}"
    ]
    # the host added, or removed (in its zone, data)
    found, old, new = compare(folder, DEPLOYMENT, managed)
    assert "portplan-db01" not in policies(old)["prod.yaml"]
    assert "portplan-db01" in policies(new)["prod.yaml"]
    assert [(c.kind, c.source, c.destination_zone, c.detail, c.causes) for c in found.changes] == [
        (
            ChangeKind.PODS,
            "db01",
            "data",
            f"pods of db01: prod/web app=db {written}",
            ("host db01 added",),
        )
    ]
    found, _old, _new = compare(folder, managed, DEPLOYMENT)
    assert [(c.kind, c.source, c.destination_zone, c.detail, c.causes) for c in found.changes] == [
        (
            ChangeKind.PODS,
            "db01",
            "data",
            f"pods of db01: prod/web app=db {gone}",
            ("host db01 removed",),
        )
    ]
    data = machine.document(diff_json(found), "diff")
    assert [(r["kind"], r["flow"], r["source"], r["protocol"]) for r in data["changes"]] == [
        ("pods", "", "db01", None)
    ]
    # an unmanaged host added or removed: no policy of portplan's, before or after
    assert compare(folder, DEPLOYMENT, unmanaged)[0].identical
    assert compare(folder, unmanaged, DEPLOYMENT)[0].identical
