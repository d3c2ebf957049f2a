"""`portplan diagram`: one edge per pair with its ports, as DOT, Mermaid and D2 text (golden
files), laid out by Graphviz's dot as SVG (valid XML) and PNG, readable at 50 hosts."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import examples
from portplan import load_plan
from portplan.cli import cli
from portplan.load.catalog import load_catalog_product
from portplan.load.product import load_product
from portplan.publish import (
    MERMAID_MAX_EDGES,
    Diagram,
    View,
    dot_text,
    layout,
    mermaid_parts,
    plan_diagram,
    product_diagram,
)
from portplan.publish.dot import wrap_label
from portplan.publish.mermaid import MERMAID_MAX_TEXT

DEPLOYMENTS = ["shopping-contoso", "smart-id-nexus"]
graphviz = pytest.mark.graphviz
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="needs Graphviz's dot (scripts/test.sh installs it)"
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout_bytes, result.stderr


def edge(diagram: Diagram, source: str, target: str) -> Any:
    (found,) = [e for e in diagram.edges if e.source == source and e.target == target]
    return found


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize(("fmt", "suffix"), [("dot", "dot"), ("mermaid", "mmd"), ("d2", "d2")])
def test_diagram_text_matches_golden(
    deployment: str, fmt: str, suffix: str, golden: Callable[[str, bytes], None]
) -> None:
    code, out, err = run("diagram", str(examples.EXAMPLES / f"{deployment}.yaml"), "--format", fmt)
    assert code == 0, err
    golden(f"diagram/{deployment}.{suffix}", out)


@pytest.mark.parametrize("view", ["host", "zone"])
def test_other_views_match_golden(view: str, golden: Callable[[str, bytes], None]) -> None:
    deployment = str(examples.EXAMPLES / "smart-id-nexus.yaml")
    code, out, err = run("diagram", deployment, "--by", view, "--format", "dot")
    assert code == 0, err
    golden(f"diagram/smart-id-nexus-{view}.dot", out)


@pytest.mark.parametrize("product", ["shopping-6.1", "smart-id-21.04"])
def test_a_product_alone_matches_golden(product: str, golden: Callable[[str, bytes], None]) -> None:
    code, out, err = run("diagram", product, "--format", "dot")
    assert code == 0, err
    golden(f"diagram/{product}.dot", out)


def test_an_edge_aggregates_every_port_between_its_pair() -> None:
    plan = examples.example_plan("shopping-contoso")
    diagram = plan_diagram(plan)
    ldap = edge(diagram, "shopping-6.1/website", "shopping-6.1/active_directory")
    assert ldap.label == ("TCP 389, 636, 3269",)
    assert ldap.flows == ("shopping-6.1/website-ldap", "shopping-6.1/website-ldaps")
    # a configurable port shows its parameter; a dynamic range its name
    https = edge(diagram, "shopping-6.1/client", "shopping-6.1/website")
    assert https.label == ("TCP website_port=8443",)
    wmi = edge(diagram, "shopping-6.1/central_service", "shopping-6.1/sms_provider")
    assert wmi.label == ("TCP 135, 445, windows-rpc=49152-65535",)
    # every plan row is on exactly one edge, or counted in a note
    drawn = sorted(r for e in diagram.edges for r in e.rows)
    management = [i for i, r in enumerate(plan.rows) if r.product == "management"]
    assert sorted(drawn + management) == list(range(len(plan.rows)))
    assert diagram.notes == (
        f"{len(management)} rows of management access are drawn with --by host or --by zone, "
        "not between components",
    )


def test_one_row_of_management_access_is_one_row_in_the_note(tmp_path: Path) -> None:
    plan = examples.example_plan("shopping-contoso")
    first = next(i for i, r in enumerate(plan.rows) if r.product == "management")
    keep = [r for i, r in enumerate(plan.rows) if r.product != "management" or i == first]
    diagram = plan_diagram(dataclasses.replace(plan, rows=tuple(keep)))
    assert diagram.notes == (
        "1 row of management access is drawn with --by host or --by zone, not between components",
    )


def test_conditional_flows_are_dashed_with_the_condition_in_the_tooltip() -> None:
    diagram = plan_diagram(examples.example_plan("shopping-contoso"))
    sql = edge(diagram, "shopping-6.1/website", "shopping-6.1/shopping_database")
    assert sql.conditional and "when remote_database" in sql.tooltip
    always = edge(diagram, "shopping-6.1/website", "shopping-6.1/active_directory")
    assert not always.conditional
    text = dot_text(diagram)
    assert '"shopping-6.1/website" -> "shopping-6.1/shopping_database" [' in text
    line = next(x for x in text.splitlines() if '-> "shopping-6.1/shopping_database"' in x)
    assert 'style="dashed"' in line and "when remote_database" in line


def test_a_placed_ingress_is_drawn_source_to_proxy_to_destination() -> None:
    diagram = plan_diagram(examples.example_plan("smart-id-nexus"))
    first = edge(diagram, "smart-id-21.04/user_client", "smart-id-21.04/traefik")
    assert first.label == ("TCP 443, 8443",)
    second = edge(diagram, "smart-id-21.04/traefik", "smart-id-21.04/im_operator")
    assert second.label == ("TCP 7071",)
    # published without a proxy: where the published port leads
    nat = edge(diagram, "smart-id-21.04/user_client", "smart-id-21.04/da_access_point")
    assert nat.label == ("TCP 443→10443",)


def test_a_product_alone_draws_the_proxy_and_parameters_with_their_defaults() -> None:
    diagram = product_diagram(load_catalog_product("smart-id-21.04"))
    assert edge(diagram, "smart-id-21.04/traefik", "smart-id-21.04/im_operator").label == (
        "TCP 7071",
    )
    scim = edge(diagram, "smart-id-21.04/scim_api", "smart-id-21.04/physical_access")
    assert scim.label == ("TCP scim_port=90",)
    # subcomponents sit in a box with their main component
    operator = next(n for n in diagram.nodes if n.id == "smart-id-21.04/im_operator")
    assert operator.cluster == "identity_manager"


def test_a_product_alone_shows_the_dynamic_range_of_a_published_flow(tmp_path: Path) -> None:
    # the plan adds the range to the published port and to the listening one: so does the
    # product's diagram, on the edge to the destination and never on the one to the proxy
    path = tmp_path / "product.yaml"
    path.write_text(
        "id: rpc-1.0\nname: Rpc\nversion: '1.0'\ndocument: {title: Rpc}\n"
        "components: {client: {name: Client, kind: client}, server: {name: Server},\n"
        "  proxy: {name: Proxy, kind: ingress}}\n"
        "dynamic_ranges:\n  rpc:\n    description: RPC\n    by_platform:\n"
        "      - {platforms: [linux], ports: 40000-40100}\n"
        "flows:\n"
        "  - {id: nat, row: 1, from: client, to: server, protocol: tcp, ports: 1433,\n"
        "     published: {ports: 443}, dynamic: rpc, purpose: Mapped}\n"
        "  - {id: same, row: 2, from: server, to: client, protocol: tcp, ports: 135,\n"
        "     published: {ports: 135}, dynamic: rpc, purpose: Not mapped}\n"
        "  - {id: proxied, row: 3, from: client, to: server, protocol: udp, ports: 53,\n"
        "     published: {ports: 5353, via: proxy}, dynamic: rpc, purpose: Proxied}\n"
    )
    diagram = product_diagram(load_product(path))
    assert edge(diagram, "rpc-1.0/client", "rpc-1.0/server").label == ("TCP 443, rpc→1433, rpc",)
    assert edge(diagram, "rpc-1.0/server", "rpc-1.0/client").label == ("TCP 135, rpc",)
    assert edge(diagram, "rpc-1.0/client", "rpc-1.0/proxy").label == ("UDP 5353",)
    assert edge(diagram, "rpc-1.0/proxy", "rpc-1.0/server").label == ("UDP 53, rpc",)


GROUP_PRODUCT = """\
id: grouped-1.0
name: Grouped
version: "1.0"
document: {title: Grouped}
components:
  web: {name: Web}
  api: {name: API}
  db: {name: Database}
  backends: {name: Backends, kind: group, members: [api, db]}
flows:
  - {id: to-group, row: 1, from: web, to: backends, protocol: tcp, ports: 8443, purpose: Both}
"""


def test_a_row_to_a_host_running_two_members_of_a_group_is_drawn_to_both(
    tmp_path: Path,
) -> None:
    # one host runs api and db: the row to it stands for both ("api, db"), one opening
    (tmp_path / "grouped.yaml").write_text(GROUP_PRODUCT)
    (tmp_path / "site.yaml").write_text(
        "name: site\nhosts:\n  web01: {addresses: [192.0.2.10]}\n"
        "  app01: {addresses: [192.0.2.20]}\n"
        "products:\n  grouped-1.0:\n    file: grouped.yaml\n"
        "    components: {web: web01, api: app01, db: app01}\n"
    )
    plan = load_plan(tmp_path / "site.yaml")
    (row,) = plan.rows
    assert row.destination_component == "api, db"
    diagram = plan_diagram(plan)
    assert [(e.source, e.target, e.rows) for e in diagram.edges] == [
        ("grouped-1.0/web", "grouped-1.0/api", (0,)),
        ("grouped-1.0/web", "grouped-1.0/db", (0,)),
    ]
    by_id = {n.id: n for n in diagram.nodes}
    assert by_id["grouped-1.0/db"].label == ("Database", "app01")
    host = plan_diagram(plan, View.HOST)
    assert next(n for n in host.nodes if n.id == "app01").label[-1] == "API, Database"
    assert plan_diagram(plan, components=["db"]).edges  # the row touches db
    code, out, err = run("diagram", str(tmp_path / "site.yaml"), "--format", "dot")
    assert code == 0, err
    assert b"grouped-1.0/db" in out


def test_a_host_known_by_name_only_shows_its_name_where_others_show_addresses(
    tmp_path: Path,
) -> None:
    # the matrix's address column of such a host is its name: so is the diagram's
    (tmp_path / "grouped.yaml").write_text(GROUP_PRODUCT)
    (tmp_path / "site.yaml").write_text(
        "name: site\nhosts:\n  web01: {addresses: [192.0.2.10]}\n"
        "  app01: {dns_name: app01.example.com}\n"
        "products:\n  grouped-1.0:\n    file: grouped.yaml\n"
        "    components: {web: web01, api: app01}\n"
    )
    diagram = plan_diagram(load_plan(tmp_path / "site.yaml"), View.HOST)
    node = next(n for n in diagram.nodes if n.id == "app01")
    assert node.label == ("app01", "app01.example.com", "API")
    assert node.tooltip.startswith("app01: app01.example.com;")


def test_flow_and_component_narrow_the_diagram() -> None:
    plan = examples.example_plan("shopping-contoso")
    only = plan_diagram(plan, flows=["website-ldap"])
    assert [(e.source, e.target, e.label) for e in only.edges] == [
        ("shopping-6.1/website", "shopping-6.1/active_directory", ("TCP 389",))
    ]
    around = plan_diagram(plan, components=["active_directory"])
    assert {e.target for e in around.edges} == {"shopping-6.1/active_directory"}
    assert len(around.edges) == 4


def test_a_group_selects_its_members_flows_and_a_member_its_groups_flows() -> None:
    # Smart ID's "All services" group stands for five Digital Access services
    members = {
        "da_admin_service",
        "da_access_point",
        "da_policy_service",
        "da_distribution_service",
        "da_authentication_service",
    }
    plan = examples.example_plan("smart-id-nexus")
    group = plan_diagram(plan, components=["da_all_services"])
    each = plan_diagram(plan, components=sorted(members))
    assert group.edges and group.edges == each.edges
    # a member's flows include those the vendor wrote from the group: policy -> admin on 8300
    product = load_catalog_product("smart-id-21.04")
    policy = product_diagram(product, components=["da_policy_service"])
    assert ("smart-id-21.04/da_all_services", "smart-id-21.04/da_admin_service") in {
        (e.source, e.target) for e in policy.edges
    }
    # and the group's own drawing holds every flow of its members, not only the group's one
    grouped = product_diagram(product, components=["da_all_services"])
    assert {(e.source, e.target) for e in policy.edges} <= {
        (e.source, e.target) for e in grouped.edges
    }


def test_bad_selections_and_views_are_usage_errors() -> None:
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")
    code, _, err = run("diagram", deployment, "--flow", "website-ldpa", "--format", "dot")
    assert code == 2 and "did you mean 'website-ldap'?" in err
    code, _, err = run("diagram", deployment, "--component", "websiet", "--format", "dot")
    assert code == 2 and "did you mean 'website'?" in err
    code, _, err = run("diagram", deployment, "--flow", "central-pop3", "--format", "dot")
    assert code == 2 and "not in this deployment's plan" in err
    code, _, err = run("diagram", "shopping-6.1", "--by", "host")
    assert code == 2 and "--by host needs a deployment" in err


def test_without_dot_svg_is_an_environment_error_and_text_still_works(tmp_path: Path) -> None:
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")
    env = {"PATH": str(tmp_path)}
    code, _, err = run("diagram", deployment, "--format", "svg", env=env)
    assert code == 3 and "apt-get install graphviz" in err
    code, out, _ = run("diagram", deployment, "--format", "dot", env=env)
    assert code == 0 and out.startswith(b"digraph")


def test_mermaid_splits_itself_under_its_limits(tmp_path: Path) -> None:
    big = plan_diagram(load_plan(_many_pairs_file(tmp_path)), View.HOST, group_hosts=False)
    assert len(big.edges) == 620
    parts = mermaid_parts(big)
    assert len(parts) == 2
    edges_in = [sum(" -->" in line for line in part.splitlines()) for part in parts]
    assert sum(edges_in) == len(big.edges)
    assert all(n <= MERMAID_MAX_EDGES for n in edges_in)
    assert all(len(part) <= MERMAID_MAX_TEXT for part in parts)
    assert all(part.startswith("---\ntitle:") and "flowchart LR" in part for part in parts)
    assert "(part 2 of 2)" in parts[1]
    assert len(mermaid_parts(plan_diagram(examples.example_plan("smart-id-nexus")))) == 1


def test_mermaid_parts_stay_under_its_text_limit_with_many_boxes(tmp_path: Path) -> None:
    # each part's edges were kept under the limit, and the boxes they use were not counted
    # once the boxes alone passed it: 1000 workstations drawn one by one gave parts of 51,651
    # characters, which Mermaid refuses
    path = _many_pairs_file(tmp_path, 1000, 1, client_name="Workstation of the operations team")
    big = plan_diagram(load_plan(path), View.HOST, group_hosts=False)
    parts = mermaid_parts(big)
    assert [len(part) <= MERMAID_MAX_TEXT for part in parts] == [True] * len(parts)
    edges = [line for part in parts for line in part.splitlines() if " -->" in line]
    assert len(edges) == len(big.edges) == 1000
    for part in parts:  # every box an edge of the part uses is in the part
        boxes = {line.split("(", 1)[0].strip() for line in part.splitlines() if '(["' in line}
        boxes |= {line.split("(", 1)[0].strip() for line in part.splitlines() if '("' in line}
        ends = {end for line in part.splitlines() if " -->" in line
                for end in (line.split()[0], line.split()[-1])}  # fmt: skip
        assert ends <= boxes


def test_mermaid_parts_need_a_directory(tmp_path: Path) -> None:
    path = _many_pairs_file(tmp_path)
    code, _, err = run("diagram", str(path), "--by", "host", "--each-host", "--format", "mermaid")
    assert code == 2 and "give -o FOLDER" in err
    code, _, err = run(
        "diagram", str(path), "--by", "host", "--each-host", "--format", "mermaid",
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "pairs-host-1.mmd",
        "pairs-host-2.mmd",
    ]


def _many_pairs_file(
    directory: Path, clients: int = 31, servers: int = 20, client_name: str = "Client"
) -> Path:
    """A deployment whose every client reaches every server: 31 x 20 = 620 edges by host."""
    hosts = {
        f"c{n}": {"addresses": [f"198.51.{100 + n // 250}.{n % 250 + 1}"]} for n in range(clients)
    }
    hosts.update({f"s{n}": {"addresses": [f"192.0.{2 + n // 250}.{n % 250 + 1}"]}
                  for n in range(servers)})  # fmt: skip
    product = {
        "id": "pairs-1.0",
        "name": "Pairs",
        "version": "1.0",
        "document": {"title": "Pairs"},
        "components": {"app": {"name": "App"}, "client": {"name": client_name, "kind": "client"}},
        "flows": [
            {"id": "web", "row": 1, "from": "client", "to": "app", "protocol": "tcp",
             "ports": 443, "purpose": "Pages."}
        ],
    }  # fmt: skip
    (directory / "pairs.yaml").write_text(json.dumps(product))
    deployment = {
        "name": "pairs",
        "hosts": hosts,
        "products": {
            "pairs-1.0": {
                "file": "pairs.yaml",
                "components": {"client": list(hosts)[:clients], "app": list(hosts)[clients:]},
            }
        },
    }
    path = directory / "deployment.yaml"
    path.write_text(json.dumps(deployment))
    return path


@graphviz
@needs_dot
def test_control_characters_in_names_give_a_valid_svg_showing_them(tmp_path: Path) -> None:
    # NUL ended dot's quoted string (exit 3, no diagram, no report); a bell or an escape went
    # into the SVG as it was, which no XML reader takes
    path = tmp_path / "product.yaml"
    path.write_text(
        "id: odd-1.0\nname: Odd\nversion: '1.0'\ndocument: {title: Odd}\n"
        'components: {web: {name: "We\\0b"}, db: {name: "D\\ab\\e[31m"}}\n'
        "flows:\n  - {id: sql, row: 1, from: web, to: db, protocol: tcp, ports: 5432,\n"
        '     service: "SQL\\x7f", purpose: x}\n'
    )
    code, out, err = run("diagram", str(path))
    assert code == 0, err
    root = ET.fromstring(out)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "We\u2400b" in texts and "D\u2407b\u241b[31m" in texts
    titles = [a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter()]
    assert any("SQL\u2421" in t for t in titles)


@graphviz
@needs_dot
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_svg_is_valid_xml_with_an_id_per_edge(deployment: str) -> None:
    code, out, err = run("diagram", str(examples.EXAMPLES / f"{deployment}.yaml"))
    assert code == 0, err
    root = ET.fromstring(out)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    edges = [
        g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "edge" in (g.get("class") or "").split()
    ]
    diagram = plan_diagram(examples.example_plan(deployment))
    ids = {g.get("id"): g for g in edges}
    assert sorted(ids) == sorted(f"e{i}" for i in range(len(diagram.edges)))
    # the tooltip (flows, services, conditions) rides on each edge's link
    xlink = "{http://www.w3.org/1999/xlink}title"
    for index, drawn in enumerate(diagram.edges):
        titles = [a.get(xlink) for a in ids[f"e{index}"].iter() if a.get(xlink)]
        assert titles[0] == drawn.tooltip


@graphviz
@needs_dot
def test_png_is_written(tmp_path: Path) -> None:
    out = tmp_path / "d.png"
    code, _, err = run("diagram", str(examples.EXAMPLES / "smart-id-nexus.yaml"), "--format",
                       "png", "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def _boxes(layout_json: bytes) -> tuple[list[tuple[str, Box]], list[tuple[str, Box]]]:
    """Node boxes and edge label boxes (points) from ``dot -Tjson``."""
    data = json.loads(layout_json)
    nodes = []
    for obj in data.get("objects", []):
        if "pos" in obj and "width" in obj:
            x, y = map(float, obj["pos"].split(","))
            w, h = float(obj["width"]) * 72, float(obj["height"]) * 72
            nodes.append((obj["name"], (x - w / 2, y - h / 2, x + w / 2, y + h / 2)))
    labels = []
    for item in data.get("edges", []):
        texts = [op for op in item.get("_ldraw_", []) if op["op"] == "T"]
        if not texts:
            continue
        size = next(op["size"] for op in item["_ldraw_"] if op["op"] == "F")
        left = min(op["pt"][0] - op["width"] / 2 for op in texts)
        right = max(op["pt"][0] + op["width"] / 2 for op in texts)
        bottom = min(op["pt"][1] for op in texts) - size * 0.3
        top = max(op["pt"][1] for op in texts) + size * 0.9
        labels.append((item.get("id", ""), (left, bottom, right, top)))
    return nodes, labels


Box = tuple[float, float, float, float]


def _overlaps(boxes: list[tuple[str, Box]]) -> list[tuple[str, str]]:
    found = []
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
        for b, (bx0, by0, bx1, by1) in boxes[i + 1 :]:
            if ax0 < bx1 - 0.5 and bx0 < ax1 - 0.5 and ay0 < by1 - 0.5 and by0 < ay1 - 0.5:
                found.append((a, b))
    return found


@graphviz
@needs_dot
@pytest.mark.parametrize("each_host", [False, True])
def test_fifty_hosts_are_laid_out_without_overlapping_boxes(
    tmp_path: Path, each_host: bool
) -> None:
    plan = load_plan(examples.fifty_host_deployment(tmp_path))
    assert len(plan.hosts) == 50
    diagram = plan_diagram(plan, View.HOST, group_hosts=not each_host)
    if each_host:
        assert len(diagram.nodes) == 50
    else:  # 34 workstations, 5 admin PCs, 2 web servers and 4 DCs each play one part
        assert len(diagram.nodes) == 9
        assert next(n for n in diagram.nodes if n.label[0] == "34 hosts").tooltip.count("ws") == 34
    nodes, labels = _boxes(layout(dot_text(diagram), "json"))
    assert len(nodes) == len(diagram.nodes)
    assert _overlaps(nodes) == []
    assert _overlaps(labels) == []
    assert _overlaps(nodes + labels) == []


def test_the_readme_diagram_is_the_tools_output() -> None:
    """docs/images/shopping-contoso.svg (scripts/readme-images.sh) draws today's diagram."""
    svg = Path(__file__).resolve().parent.parent / "docs" / "images" / "shopping-contoso.svg"
    root = ET.fromstring(svg.read_bytes())
    diagram = plan_diagram(examples.example_plan("shopping-contoso"))
    groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {f"e{i}" for i in range(len(diagram.edges))} <= set(groups)
    assert f"e{len(diagram.edges)}" not in groups
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {n.label[0] for n in diagram.nodes} <= texts
    assert {line for e in diagram.edges for line in wrap_label(e.label)} <= texts


HOSTILE_TITLE = "prod\nfake_fw -> c1.n1: ANY approved\r\u2028#"
HOSTILE_NAME = 'Web "x" \\ ${secret} %%{init: {"theme": "dark"}}%%\n<b>y</b>'
#: a D2 double-quoted string: no raw quote, backslash or `$` (a substitution) inside
D2_STRING = r'"(?:[^"\\$\n]|\\[^\n])*"'
D2_LINE = re.compile(
    rf"# [^\n]*|direction: right|"
    rf"(c\d+(\.n\d+)?|n\d+|(c\d+\.)?n\d+ -> (c\d+\.)?n\d+): {D2_STRING} \{{|"
    rf"  (shape|style\.[a-z-]+): [a-z0-9]+|  (tooltip|style\.[a-z]+): {D2_STRING}|\}}|"
)


def d2_string(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), text[1:-1])


def test_d2_text_keeps_every_name_in_its_string(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(
        tmp_path, deployment=HOSTILE_TITLE, component=HOSTILE_NAME
    )
    code, out, err = run("diagram", str(deployment), "--format", "d2")
    assert code == 0, err
    lines = out.decode().split("\n")
    assert lines[0] == "# prod fake_fw -> c1.n1: ANY approved #: flows by component"
    assert [line for line in lines if not D2_LINE.fullmatch(line)] == []
    assert [line for line in lines if " -> " in line and not line.startswith("#")] == [
        'c0.n0 -> c1.n1: "TCP 5432" {'
    ]
    labels = [d2_string(m) for m in re.findall(D2_STRING, out.decode())]
    assert 'Web "x" \\ ${secret} %%{init: {"theme": "dark"}}%% <b>y</b>\nweb01' in labels


def test_mermaid_text_keeps_every_name_in_its_label(tmp_path: Path) -> None:
    deployment = examples.hostile_deployment(
        tmp_path, deployment=HOSTILE_TITLE.replace("prod", "prod \\q"), component=HOSTILE_NAME
    )
    code, out, err = run("diagram", str(deployment), "--format", "mermaid")
    assert code == 0, err
    text = out.decode()
    _, front, body = text.split("---\n")
    assert yaml.safe_load(front) == {
        "title": "prod \\q fake_fw -> c1.n1: ANY approved #: flows by component"
    }
    assert "%%" not in text  # no directive, whatever the name holds
    lines = body.split("\n")
    assert lines[0] == "flowchart LR"
    node = next(line for line in lines if "Web" in line)
    assert node.strip() == (
        'n0("Web #quot;x#quot; \\ ${secret} #37;#37;{init: {#quot;theme#quot;: #quot;dark'
        '#quot;}}#37;#37; #lt;b#gt;y#lt;/b#gt;<br/>web01")'
    )
    assert [line.strip() for line in lines if "-->" in line] == ['n0 -->|"TCP 5432"| n1']


def test_mermaid_shows_references_and_its_own_entities_as_written(tmp_path: Path) -> None:
    # Mermaid reads `#lt;` as its entity for "<", and draws labels as HTML, where `&amp;`
    # is "&": a component called "R&amp;D #lt;b#gt;" was drawn as "R&D <b>"
    name = "R&amp;D #lt;b#gt; AT&T"
    deployment = examples.hostile_deployment(tmp_path, deployment="t", component=name)
    code, out, err = run("diagram", str(deployment), "--format", "mermaid")
    assert code == 0, err
    node = next(line for line in out.decode().split("\n") if "AT" in line)
    assert "R#amp;amp;D #35;lt;b#35;gt; AT#amp;T<br/>" in node


def test_a_name_starting_with_a_backtick_is_no_markdown_string(tmp_path: Path) -> None:
    # Mermaid's lexer reads a label that opens with "` as a Markdown string, which must end
    # with `": a component "`web` server" ended the string inside the name, and its next
    # backtick is text Mermaid cannot read: the whole diagram was refused
    deployment = examples.hostile_deployment(tmp_path, deployment="t", component="`web` server")
    code, out, err = run("diagram", str(deployment), "--format", "mermaid")
    assert code == 0, err
    text = out.decode()
    assert '"`' not in text and "`" not in text
    node = next(line for line in text.split("\n") if "web01" in line)
    assert node.strip() == 'n0("#96;web#96; server<br/>web01")'


@graphviz
@needs_dot
def test_a_character_reference_in_a_name_is_shown_as_written(tmp_path: Path) -> None:
    # dot reads `&amp;`, `&lt;` and `&#65;` in a label or tooltip as the character they name:
    # a component called "R&amp;D &lt;b&gt;" was drawn as "R&D <b>"
    name = "R&amp;D &lt;b&gt; &#65; AT&T"
    deployment = examples.hostile_deployment(
        tmp_path, deployment=f"lab {name}", component=name, purpose="x"
    )
    code, out, err = run("diagram", str(deployment))
    assert code == 0, err
    root = ET.fromstring(out)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert name in texts
    assert f"lab {name}: flows by component" in texts
    xlink = "{http://www.w3.org/1999/xlink}title"
    titles = [a.get(xlink) or "" for a in root.iter()]
    assert any(t.startswith(f"{name} (component of Hostile 1.0)") for t in titles), titles


@graphviz
@needs_dot
def test_a_backslash_in_a_tooltip_is_shown_as_written(tmp_path: Path) -> None:
    # dot reads a tooltip's escapes twice (\\ to \, then \N, \G, \L... to the node's name,
    # the graph's name, the label): a component "Web\Nx" had the tooltip "Webodd-1.0/webx",
    # a service "a\Tb" the tooltip "aodd-1.0/webb"
    (tmp_path / "product.yaml").write_text(
        "id: odd-1.0\nname: Odd\nversion: '1.0'\ndocument: {title: Odd}\n"
        "components: {web: {name: 'Web\\Nx \\G \\L \\\\ \\n \\'}, db: {name: DB}}\n"
        "flows:\n  - {id: sql, row: 1, from: web, to: db, protocol: tcp, ports: 5432,\n"
        "     service: 'a\\Tb \\H \\E', purpose: x}\n"
    )
    path = tmp_path / "deployment.yaml"
    path.write_text(
        "name: odd\nhosts: {web01: {addresses: [192.0.2.10], zone: a},\n"
        "        db01: {addresses: [192.0.2.20], zone: b}}\n"
        "products: {odd-1.0: {file: product.yaml, components: {web: web01, db: db01}}}\n"
    )
    plan = load_plan(path)
    xlink = "{http://www.w3.org/1999/xlink}title"
    for view in View:
        diagram = plan_diagram(plan, view)
        root = ET.fromstring(layout(dot_text(diagram), "svg"))
        groups = {g.get("id"): g for g in root.iter("{http://www.w3.org/2000/svg}g")}
        drawn = [(f"n{i}", n.tooltip) for i, n in enumerate(diagram.nodes)]
        drawn += [(f"e{i}", e.tooltip) for i, e in enumerate(diagram.edges)]
        assert any("\\N" in t for _, t in drawn) or view is View.ZONE
        for svg_id, tooltip in drawn:
            titles = [a.get(xlink) for a in groups[svg_id].iter() if a.get(xlink)]
            assert titles[0] == tooltip, (view, svg_id)


def test_a_plan_of_no_row_is_an_empty_diagram_with_a_warning(tmp_path: Path) -> None:
    # it was a usage error with a message naming no selection: "no planned row matches :"
    (tmp_path / "product.yaml").write_text(
        "id: quiet-1.0\nname: Quiet\nversion: '1.0'\ndocument: {title: Quiet}\n"
        "features: {sync: {description: Sync}}\ncomponents: {web: {name: Web}, db: {name: DB}}\n"
        "flows:\n  - {id: sql, row: 1, from: web, to: db, protocol: tcp, ports: 5432,\n"
        "     purpose: x, condition: sync}\n"
    )
    path = tmp_path / "deployment.yaml"
    path.write_text(
        "name: quiet\nhosts: {web01: {addresses: [192.0.2.10]}, db01: {addresses: [192.0.2.20]}}\n"
        "products: {quiet-1.0: {file: product.yaml, components: {web: web01, db: db01}}}\n"
    )
    code, out, err = run("diagram", str(path), "--format", "dot")
    assert code == 0, err
    assert "nothing to draw: no flow between two components" in err
    assert " -> " not in out.decode()
    # a selection that matches nothing is still refused, naming it
    code, _, err = run("diagram", str(path), "--component", "web")
    assert code == 2
    assert "no planned row matches --component web: nothing to draw" in err
