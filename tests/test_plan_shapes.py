"""The plan of the row shapes real vendor documents have: listener-only rows, several
destinations and groups, clusters whose members reach each other, ICMP, hosts known by name
only, enumerated features, port alternatives, and open ports reported once."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portplan import load_plan
from portplan._errors import InputError
from portplan.cli import cli
from portplan.model import ANYWHERE, Protocol
from portplan.plan import Plan

PRODUCT = """\
id: shapes-1.0
name: Shapes
version: "1.0"
document:
  title: Shapes ports
components:
  web: {name: Web server}
  api: {name: API server}
  db: {name: Database}
  node: {name: Cluster node}
  repo: {name: Repository, kind: external}
  backends: {name: Backends, kind: group, members: [web, api]}
features:
  database:
    description: Which database the product uses.
    choices: [postgresql, mysql]
parameters:
  data_port:
    description: Data channel port.
    default: 6162
    allowed: 2500-3300
  nfs_port:
    description: The NFS provider's port; the vendor leaves it to the deployment.
flows:
  - {id: jmx, row: 1, to: web, protocol: tcp, ports: 1689, purpose: JMX (listener only)}
  - {id: fan-out, row: 2, from: web, to: [api, db], protocol: tcp, ports: 443, purpose: Both}
  - {id: to-group, row: 3, from: db, to: backends, protocol: tcp, ports: 8443, purpose: Group}
  - {id: mesh, row: 4, from: node, to: node, protocol: tcp, ports: 7000, purpose: Gossip}
  - {id: ping, row: 5, from: web, to: db, protocol: icmp, purpose: Reachable by ping}
  - {id: updates, row: 6, from: web, to: repo, protocol: tcp, ports: 443, purpose: Updates}
  - id: pg
    row: 7
    from: web
    to: db
    protocol: tcp
    ports: 5432
    purpose: PostgreSQL
    condition: database == postgresql
  - id: mysql
    row: 8
    from: web
    to: db
    protocol: tcp
    ports: 3306
    purpose: MySQL
    condition: database == mysql
  - {id: data, row: 9, from: web, to: api, protocol: tcp, ports: data_port, purpose: Data}
  - {id: nfs-a, row: 10, from: web, to: db, protocol: tcp, ports: nfs_port, purpose: NFS}
  - {id: nfs-b, row: 11, from: api, to: db, protocol: tcp, ports: nfs_port, purpose: NFS too}
"""


def deployment(**overrides: Any) -> str:
    features = overrides.get("features", "{database: mysql}")
    parameters = overrides.get("parameters", "{nfs_port: 2049, data_port: 2600}")
    extra = overrides.get("components", "")
    return f"""\
name: shapes-site
hosts:
  web01: {{addresses: [192.0.2.10]}}
  api01: {{addresses: [192.0.2.11]}}
  db01: {{addresses: [192.0.2.12]}}
  nodes: {{addresses: [192.0.2.21, 192.0.2.22, 192.0.2.23], cluster: true}}
  repo: {{dns_name: repository.example.com, managed: false}}
products:
  shapes-1.0:
    file: shapes.yaml
    features: {features}
    parameters: {parameters}
    components:
      web: [web01]
      api: [api01]
      db: [db01]
      node: [nodes]
      repo: [repo]{extra}
"""


def plan(tmp_path: Path, **overrides: Any) -> Plan:
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    path.write_text(deployment(**overrides))
    return load_plan(path)


def rows(result: Plan, flow: str) -> list[tuple[str, str, str]]:
    return [
        (r.source, r.destination, r.destination_component) for r in result.rows if r.flow_id == flow
    ]


def test_a_listener_only_row_comes_from_anywhere_unless_any_is_placed(tmp_path: Path) -> None:
    result = plan(tmp_path)
    assert rows(result, "jmx") == [(ANYWHERE, "web01", "web")]
    (row,) = [r for r in result.rows if r.flow_id == "jmx"]
    assert row.source_addresses == (
        ipaddress.ip_network("0.0.0.0/0"),
        ipaddress.ip_network("::/0"),
    )
    assert not result.hosts[ANYWHERE].managed
    reasons = " ".join(result.decision("shapes-1.0/jmx").reasons)  # type: ignore[union-attr]
    assert "from anywhere" in reasons
    (tmp_path / "placed").mkdir()
    placed = plan(tmp_path / "placed", components="\n      any: [api01]")
    assert rows(placed, "jmx") == [("api01", "web01", "web")]
    assert ANYWHERE not in placed.hosts


def test_any_placed_on_an_empty_list_is_no_client_not_anywhere(tmp_path: Path) -> None:
    # written out, an empty list says no host runs the client: the listener-only row has no
    # source, never 0.0.0.0/0 and ::/0 (what leaving the key out means)
    result = plan(tmp_path, components="\n      any: []")
    assert rows(result, "jmx") == []
    assert ANYWHERE not in result.hosts
    decision = result.decision("shapes-1.0/jmx")
    assert decision is not None and not decision.included
    reasons = " ".join(decision.reasons)
    assert "(any client), not placed" not in reasons
    assert "'any' is placed on an empty list" in reasons


def test_several_destinations_and_a_group_give_a_row_per_destination(tmp_path: Path) -> None:
    result = plan(tmp_path)
    assert rows(result, "fan-out") == [("web01", "api01", "api"), ("web01", "db01", "db")]
    assert rows(result, "to-group") == [("db01", "web01", "web"), ("db01", "api01", "api")]


def test_a_cluster_keeps_its_members_flow_with_the_reason(tmp_path: Path) -> None:
    result = plan(tmp_path)
    assert rows(result, "mesh") == [("nodes", "nodes", "node")]
    decision = result.decision("shapes-1.0/mesh")
    assert decision is not None and decision.included
    assert any("between the members of nodes" in r for r in decision.reasons)


def test_a_cluster_of_one_machine_keeps_its_members_flow_local(tmp_path: Path) -> None:
    # one member has no other to reach: like a single machine, no row from it to itself
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    three = "[192.0.2.21, 192.0.2.22, 192.0.2.23], cluster: true"
    assert three in deployment()
    path = tmp_path / "site.yaml"
    path.write_text(deployment().replace(three, "[192.0.2.21], cluster: true"))
    result = load_plan(path)
    assert rows(result, "mesh") == []
    decision = result.decision("shapes-1.0/mesh")
    assert decision is not None and not decision.included
    assert any("same host" in r for r in decision.reasons)
    assert not any("between the members" in r for r in decision.reasons)


def test_management_between_the_members_of_a_cluster_is_a_row(tmp_path: Path) -> None:
    # planned like a product's flows: the members of a cluster reach each other over the
    # network, so access from the cluster to itself is a row (apply keeps it), while a
    # single machine's access to itself stays local
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    path.write_text(
        deployment()
        + "management:\n"
        + "  - {id: ssh, from: [nodes, web01], to: [nodes, web01], ports: 22, purpose: Peers}\n"
    )
    result = load_plan(path)
    assert rows(result, "ssh") == [
        ("nodes", "nodes", "management"),
        ("web01", "nodes", "management"),
        ("nodes", "web01", "management"),
    ]


def test_an_icmp_row_has_types_and_no_ports(tmp_path: Path) -> None:
    result = plan(tmp_path)
    (row,) = [r for r in result.rows if r.flow_id == "ping"]
    assert row.protocol is Protocol.ICMP
    assert row.facts.icmp == ("echo-request",)
    assert not row.ports.ranges


def test_a_name_only_destination_has_no_address(tmp_path: Path) -> None:
    result = plan(tmp_path)
    (row,) = [r for r in result.rows if r.flow_id == "updates"]
    assert row.destination == "repo" and row.destination_addresses == ()
    assert result.hosts["repo"].dns_name == "repository.example.com"


def test_an_enumerated_feature_picks_its_flows(tmp_path: Path) -> None:
    result = plan(tmp_path)
    assert rows(result, "mysql") and not rows(result, "pg")
    decision = result.decision("shapes-1.0/pg")
    assert decision is not None
    assert any("database=mysql" in r for r in decision.reasons)
    default = plan(tmp_path, features="{}")
    assert rows(default, "pg") and not rows(default, "mysql")  # the first choice


def test_a_port_alternative_is_checked_against_what_the_vendor_allows(tmp_path: Path) -> None:
    result = plan(tmp_path)
    (row,) = [r for r in result.rows if r.flow_id == "data"]
    assert str(row.ports) == "2600"
    with pytest.raises(InputError, match="may be 6162 or one of 2500-3300, not 8080"):
        plan(tmp_path, parameters="{nfs_port: 2049, data_port: 8080}")


def test_a_wrong_choice_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is one of postgresql, mysql, not 'mariadb'"):
        plan(tmp_path, features="{database: mariadb}")


def test_an_open_port_is_reported_once_naming_every_flow(tmp_path: Path) -> None:
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    path.write_text(deployment(parameters="{data_port: 2600}"))
    result = CliRunner().invoke(cli, ["matrix", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if "nfs_port" in line]
    assert len(lines) == 1, result.stderr
    assert "flows shapes-1.0/nfs-a, shapes-1.0/nfs-b need port parameter 'nfs_port'" in lines[0]
    assert "site.yaml:" in lines[0]


def test_a_forbidden_icmp_connection_has_types_and_clashes_with_a_planned_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    forbid = (
        "forbidden:\n"
        "  - {id: no-ping, from: api01, to: db01, protocol: icmp, purpose: No ping from the API}\n"
    )
    path.write_text(deployment() + forbid)
    (entry,) = load_plan(path).forbidden
    assert (entry.protocol, entry.icmp, entry.ports.ranges) == (
        Protocol.ICMP,
        ("echo-request",),
        (),
    )
    path.write_text(deployment() + forbid.replace("from: api01", "from: web01"))
    with pytest.raises(InputError, match=r"forbids what flow shapes-1\.0/ping needs"):
        load_plan(path)
    path.write_text(deployment() + forbid.replace("protocol: icmp", "protocol: icmp, ports: 7"))
    with pytest.raises(InputError, match="an icmp connection has no ports"):
        load_plan(path)
    path.write_text(deployment() + forbid.replace("protocol: icmp", "protocol: tcp"))
    with pytest.raises(InputError, match="a tcp connection needs 'ports'"):
        load_plan(path)


def test_a_loopback_flow_between_two_hosts_is_out_for_what_it_is(tmp_path: Path) -> None:
    # loopback stays on one machine: ends placed on two hosts give no row, and the reason
    # is that, not "every source is the destination host itself", its opposite
    (tmp_path / "lb.yaml").write_text(
        "id: lb-1.0\nname: Lb\nversion: '1.0'\ndocument: {title: Lb}\n"
        "components: {web: {name: Web}, agent: {name: Agent}}\n"
        "flows:\n  - {id: local, row: 1, from: web, to: agent, protocol: tcp, ports: 8000,\n"
        "     loopback: true, purpose: The browser asks the local agent}\n"
    )
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: lb\nhosts:\n  w01: {addresses: [192.0.2.1]}\n  a01: {addresses: [192.0.2.2]}\n"
        "products:\n  lb-1.0:\n    file: lb.yaml\n    components: {web: w01, agent: a01}\n"
    )
    result = load_plan(path)
    decision = result.decision("local")
    assert decision is not None and not decision.included
    assert decision.reasons[-1] == (
        "out: a loopback flow stays on one machine, and no host runs both a source (w01) "
        "and the destination (a01)"
    )
    assert result.warnings == (
        "lb-1.0/local: 'web' and 'agent' talk over loopback but are placed on different hosts "
        "(w01; a01), so this required flow has no rows; place them on one host under "
        "products.lb-1.0.components",
    )


@pytest.mark.parametrize(
    "entry",
    [
        "{id: no-updates, from: web01, to: repo, protocol: tcp, ports: 443, purpose: No updates}",
        "{id: no-updates, to: repo, protocol: tcp, ports: 400-500, purpose: Nothing to the repo}",
        # web01 is in the network lan, the source the entry names
        "{id: no-updates, from: lan, to: repo, protocol: tcp, ports: 443, purpose: Not the LAN}",
    ],
)
def test_a_forbidden_connection_to_a_name_only_host_clashes_with_a_planned_one(
    tmp_path: Path, entry: str
) -> None:
    # repo has no address to compare: the host names are the connection
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    site = deployment().replace("hosts:\n", "hosts:\n  lan: {addresses: [192.0.2.0/24]}\n")
    path.write_text(site + f"forbidden:\n  - {entry}\n")
    with pytest.raises(InputError, match=r"forbids what flow shapes-1\.0/updates needs"):
        load_plan(path)
    path.write_text(site + "forbidden:\n  - " + entry.replace("443", "80") + "\n")
    if "400-500" not in entry:  # another port of the same pair: no clash
        assert load_plan(path).forbidden[0].id == "no-updates"


def test_a_forbidden_source_known_by_name_only_clashes_with_a_row_from_anywhere(
    tmp_path: Path,
) -> None:
    # jmx comes from anywhere (any is not placed): every machine, whatever repo's name
    # resolves to, so forbidding repo -> web01 on 1689 forbids what jmx needs
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    entry = "{id: no-jmx, from: repo, to: web01, protocol: tcp, ports: 1689, purpose: No}"
    path.write_text(deployment() + f"forbidden:\n  - {entry}\n")
    with pytest.raises(InputError, match=r"forbids what flow shapes-1\.0/jmx needs"):
        load_plan(path)
    path.write_text(deployment() + "forbidden:\n  - " + entry.replace("1689", "1690") + "\n")
    assert load_plan(path).forbidden[0].id == "no-jmx"  # another port: no clash


FROM_GROUP = """\
id: from-group-1.0
name: From a group
version: "1.0"
document: {title: From a group}
components:
  web: {name: Web}
  api: {name: API}
  db: {name: Database}
  backends: {name: Backends, kind: group, members: [api, db]}
flows:
  - {id: from-group, row: 1, from: backends, to: web, protocol: tcp, ports: 8443, purpose: Back}
"""


def test_a_row_from_a_host_running_two_members_of_a_group_names_both(tmp_path: Path) -> None:
    # app01 runs api and db: one row from it, for both; db01 runs db only
    (tmp_path / "grouped.yaml").write_text(FROM_GROUP)
    (tmp_path / "site.yaml").write_text(
        "name: site\nhosts:\n  web01: {addresses: [192.0.2.10]}\n"
        "  app01: {addresses: [192.0.2.20]}\n  db01: {addresses: [192.0.2.30]}\n"
        "products:\n  from-group-1.0:\n    file: grouped.yaml\n"
        "    components: {web: web01, api: app01, db: [app01, db01]}\n"
    )
    plan = load_plan(tmp_path / "site.yaml")
    assert [(r.source, r.source_component, r.destination) for r in plan.rows] == [
        ("app01", "api, db", "web01"),
        ("db01", "db", "web01"),
    ]


def test_a_component_placed_with_every_flow_switched_off_is_warned(tmp_path: Path) -> None:
    # placing the console says it runs there; a false feature leaving out all of its flows
    # (and so every opening to and from it) was silent, `validate` said ok
    (tmp_path / "c.yaml").write_text(
        "id: c-1.0\nname: C\nversion: '1.0'\ndocument: {title: C}\n"
        "components: {server: {name: Server}, console: {name: Console}}\n"
        "features: {remote_console: {description: The console is remote}}\n"
        "flows:\n"
        "  - {id: admin, row: 1, from: console, to: server, protocol: tcp, ports: 8443,\n"
        "     condition: remote_console, purpose: The console manages the server}\n"
        "  - {id: push, row: 2, from: server, to: console, protocol: tcp, ports: 9000,\n"
        "     condition: remote_console, purpose: The server pushes events}\n"
        "  - {id: web, row: 3, from: any, to: server, protocol: tcp, ports: 443,\n"
        "     purpose: Users}\n"
    )
    path = tmp_path / "site.yaml"
    site = (
        "name: c\nhosts:\n  s01: {addresses: [192.0.2.1]}\n  pc01: {addresses: [192.0.2.2]}\n"
        "products:\n  c-1.0:\n    file: c.yaml\n    components: {server: s01, console: pc01}\n"
    )
    path.write_text(site)
    assert load_plan(path).warnings == (
        "c-1.0: 'console' is placed on pc01, but every flow it takes part in is left out "
        "(condition 'remote_console' is false (remote_console=false (default))); set the "
        "feature under products.c-1.0.features if it should talk, or remove the placement",
    )
    path.write_text(site + "    features: {remote_console: true}\n")
    assert load_plan(path).warnings == ()
    # not placed: nothing to warn about (the flows are out for their condition only)
    path.write_text(site.replace(", console: pc01", ""))
    assert load_plan(path).warnings == ()


def test_a_component_that_takes_part_through_another_is_not_warned(tmp_path: Path) -> None:
    # a placed component also takes part in the flows of its subcomponents placed nowhere
    # (they run on its hosts), of the groups it is a member of, and of the flows published
    # through it as their ingress: each of im, db and edge was warned about (and told to
    # remove its placement) because its own flows were off, though its hosts carry rows
    (tmp_path / "p.yaml").write_text(
        "id: sub-1\nname: Sub\nversion: '1'\ndocument: {title: Sub}\n"
        "features: {admin: {description: The admin API}}\n"
        "components:\n  pc: {name: PC, kind: client}\n  im: {name: IM}\n"
        "  op: {name: Operator, parent: im}\n  db: {name: DB}\n"
        "  grp: {name: Group, kind: group, members: [im, db]}\n"
        "  app: {name: App}\n  edge: {name: Edge, kind: ingress}\n"
        "flows:\n"
        "  - {id: op-web, row: 1, from: pc, to: op, protocol: tcp, ports: 8080, purpose: Pages}\n"
        "  - {id: grp-mon, row: 2, from: pc, to: grp, protocol: tcp, ports: 9200, purpose: Mon}\n"
        "  - {id: web, row: 3, from: pc, to: app, protocol: tcp, ports: 8081,\n"
        "     published: {ports: 443, via: edge}, purpose: Pages}\n"
        + "".join(
            f"  - {{id: {c}-admin, row: {n}, from: pc, to: {c}, protocol: tcp, ports: 9000,\n"
            "     condition: admin, purpose: Admin}\n"
            for n, c in enumerate(("im", "db", "edge", "pc"), 4)
        )
    )
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: sub\nhosts:\n  pc01: {addresses: [203.0.113.9]}\n"
        "  im01: {addresses: [192.0.2.10]}\n  db01: {addresses: [192.0.2.30]}\n"
        "  app01: {addresses: [192.0.2.40]}\n  edge01: {addresses: [192.0.2.50]}\n"
        "products:\n  sub-1:\n    file: p.yaml\n"
        "    components: {pc: pc01, im: im01, db: db01, app: app01, edge: edge01}\n"
    )
    plan = load_plan(path)
    assert {r.destination for r in plan.rows} >= {"im01", "db01", "edge01"}
    assert plan.warnings == ()


def test_a_management_access_that_names_a_tls_service_is_tls(tmp_path: Path) -> None:
    """A `management:` entry with `app_protocol: https` was planned with `tls: false`: the
    matrix and its change request said "TLS: no" for the HTTPS console they named."""
    (tmp_path / "shapes.yaml").write_text(PRODUCT)
    path = tmp_path / "site.yaml"
    path.write_text(
        deployment()
        + "management:\n"
        + "  - {id: web, from: [web01], ports: 443, app_protocol: https, purpose: Console}\n"
        + "  - {id: dir, from: [web01], ports: 636, app_protocol: ldaps, purpose: Directory}\n"
        + "  - {id: ssh, from: [web01], ports: 22, app_protocol: ssh, purpose: Shell}\n"
    )
    result = load_plan(path)
    tls = {r.flow_id: (r.facts.app_protocol, r.facts.tls) for r in result.rows}
    assert (tls["web"], tls["dir"], tls["ssh"]) == (
        ("https", True),
        ("ldaps", True),
        ("ssh", False),
    ), tls


def test_a_row_from_anywhere_names_any_as_its_source_component(tmp_path: Path) -> None:
    # from: [web, any] with any not placed: the row from anywhere is any's, not web's
    (tmp_path / "shapes.yaml").write_text(
        PRODUCT.replace(
            "  - {id: jmx, row: 1, to: web,", "  - {id: jmx, row: 1, from: [api, any], to: web,"
        )
    )
    path = tmp_path / "site.yaml"
    path.write_text(deployment())
    rows = {(r.source, r.source_component) for r in load_plan(path).rows if r.flow_id == "jmx"}
    assert rows == {("api01", "api"), (ANYWHERE, "any")}
