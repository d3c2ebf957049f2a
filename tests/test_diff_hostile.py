"""``portplan diff`` against changes that widen an opening subtly: each change must list exactly
the packets to open and to close, nothing missed and nothing phantom, and say why.

The oracle is set algebra on the plans themselves, per zone boundary (a zone firewall holds
the rules of its boundary): what to open on a boundary is every packet the new plan's rows
need there that the old plan's did not, what to close the other way round.  The changes the
diff lists must add up to exactly that, and each must name a cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from portplan.diff import PlanDiff, diff_plans
from portplan.load.deployment import load_deployment
from portplan.pipeline import plan_bundle
from portplan.plan import Plan
from portplan.spaces import Space, flow_space

PRODUCT = """\
id: hz
name: HZ
version: "1"
vendor: t
document: {title: HZ, layout: flat}
features: {reporting: {description: r}}
parameters:
  api_port: {description: API port, default: 8443, allowed: 9443}
components:
  client: {name: C, kind: client}
  api: {name: A}
  db: {name: D}
  peer: {name: P}
  monitor: {name: M}
  everyone: {name: E, kind: group, members: [api, db]}
flows:
  - {id: range, row: 1, from: client, to: api, protocol: tcp, ports: 9000-9010, purpose: r}
  - {id: api, row: 2, from: client, to: api, protocol: tcp, ports: api_port, purpose: a}
  - {id: report, row: 3, from: client, to: db, protocol: tcp, ports: 7000,
     condition: reporting, purpose: r}
  - {id: ping, row: 4, from: monitor, to: api, protocol: icmp, icmp: [echo-request], purpose: p}
  - {id: mesh, row: 5, from: peer, to: peer, protocol: tcp, ports: 7400, purpose: m}
  - {id: snmp, row: 6, from: monitor, to: everyone, protocol: udp, ports: 161, purpose: s}
"""

DEPLOYMENT = """\
name: hz
hosts:
  clients: {addresses: [192.0.2.0/25], zone: users}
  api01: {addresses: [198.51.100.10], zone: servers}
  db01: {addresses: [198.51.100.20], zone: servers}
  peers: {addresses: [198.51.100.30, 198.51.100.31], cluster: true, zone: servers}
  mon: {addresses: [203.0.113.5], zone: ops}
products:
  hz:
    file: p.yaml
    components: {client: clients, api: api01, db: db01, peer: peers, monitor: mon}
    features: {reporting: false}
"""

API = "api01: {addresses: [198.51.100.10], zone: servers}"

#: name → (the product, the deployment) of the new side, and the changes it must give:
#: (kind, flow, source, destination) → a cause it must name
CASES: dict[str, tuple[str, str, dict[tuple[str, str, str, str], str]]] = {
    "a port range grows by one": (
        PRODUCT.replace("ports: 9000-9010", "ports: 9000-9011"),
        DEPLOYMENT,
        {("widen", "hz/range", "clients", "api01"): "vendor row changed: flow range"},
    ),
    "a host gains an address": (
        PRODUCT,
        DEPLOYMENT.replace("[198.51.100.10]", "[198.51.100.10, 198.51.100.11]"),
        {
            ("widen", f"hz/{flow}", source, "api01"): "host api01 re-addressed"
            for flow, source in (
                ("range", "clients"),
                ("api", "clients"),
                ("ping", "mon"),
                ("snmp", "mon"),
            )
        },
    ),
    "a client network gains addresses": (
        PRODUCT,
        DEPLOYMENT.replace("192.0.2.0/25", "192.0.2.0/24"),
        {
            ("widen", "hz/range", "clients", "api01"): "host clients re-addressed",
            ("widen", "hz/api", "clients", "api01"): "host clients re-addressed",
        },
    ),
    "an address moves from one host to another": (
        PRODUCT,
        DEPLOYMENT.replace("[198.51.100.10]", "[198.51.100.11]").replace(
            "[198.51.100.20]", "[198.51.100.20, 198.51.100.10]"
        ),
        {
            ("readdress", "hz/range", "clients", "api01"): "host api01 re-addressed",
            ("readdress", "hz/api", "clients", "api01"): "host api01 re-addressed",
            ("readdress", "hz/ping", "mon", "api01"): "host api01 re-addressed",
            # mon -> 198.51.100.10 udp 161 stays: db01's row needs it now
            ("widen", "hz/snmp", "mon", "api01"): "host api01 re-addressed",
        },
    ),
    "a host moves zones and a range grows": (
        PRODUCT.replace("ports: 9000-9010", "ports: 9000-9011"),
        DEPLOYMENT.replace(API, API.replace("servers", "dmz")),
        {
            ("widen", "hz/range", "clients", "api01"): "vendor row changed",
            ("moved", "hz/range", "clients", "api01"): "host api01 zone: servers -> dmz",
            ("moved", "hz/api", "clients", "api01"): "host api01 zone: servers -> dmz",
            ("moved", "hz/ping", "mon", "api01"): "host api01 zone: servers -> dmz",
            ("moved", "hz/snmp", "mon", "api01"): "host api01 zone: servers -> dmz",
        },
    ),
    "a feature switches a conditional flow on": (
        PRODUCT,
        DEPLOYMENT.replace("reporting: false", "reporting: true"),
        {("open", "hz/report", "clients", "db01"): "feature reporting switched on"},
    ),
    "a parameter is overridden": (
        PRODUCT,
        DEPLOYMENT + "    parameters: {api_port: 9443}\n",
        {
            ("widen", "hz/api", "clients", "api01"): "parameter api_port overridden",
            ("narrow", "hz/api", "clients", "api01"): "parameter api_port overridden",
        },
    ),
    "ICMP types are added": (
        PRODUCT.replace("icmp: [echo-request]", "icmp: [echo-request, echo-reply]"),
        DEPLOYMENT,
        {("widen", "hz/ping", "mon", "api01"): "vendor row changed: flow ping"},
    ),
    "a cluster flag is switched off": (
        PRODUCT,
        DEPLOYMENT.replace(", cluster: true", ""),
        {("close", "hz/mesh", "peers", "peers"): "host peers cluster: yes -> no"},
    ),
    "a cluster flag is switched on": (
        PRODUCT,
        DEPLOYMENT.replace("[198.51.100.20], zone", "[198.51.100.20, 198.51.100.21], zone")
        .replace("peer: peers", "peer: db01")
        .replace("db01: {addresses", "db01: {cluster: true, addresses"),
        {
            ("open", "hz/mesh", "db01", "db01"): "host db01 cluster: no -> yes",
            ("close", "hz/mesh", "peers", "peers"): "component peer moved: peers -> db01",
            ("widen", "hz/snmp", "mon", "db01"): "host db01 re-addressed",
        },
    ),
    "a group gains a member": (
        PRODUCT.replace("members: [api, db]", "members: [api, db, peer]"),
        DEPLOYMENT,
        {
            (
                "open",
                "hz/snmp",
                "mon",
                "peers",
            ): "group everyone of hz: members api, db -> api, db, peer"
        },
    ),
    "a group gains a member on a host it reaches already": (
        PRODUCT.replace("members: [api, db]", "members: [api, db, peer]"),
        DEPLOYMENT.replace("peer: peers", "peer: api01"),
        # the mesh row is gone (api01 is one machine), and snmp to api01 was needed already
        {("close", "hz/mesh", "peers", "peers"): "component peer moved: peers -> api01"},
    ),
}


def side(folder: Path, name: str, product: str, deployment: str) -> tuple[object, Plan]:
    (folder / name).mkdir()
    (folder / name / "p.yaml").write_text(product)
    (folder / name / "d.yaml").write_text(deployment)
    bundle = load_deployment(folder / name / "d.yaml")
    return bundle, plan_bundle(bundle)


def needed(plan: Plan) -> dict[tuple[str | None, str | None], Space]:
    """Every packet the plan's network rows need, per zone boundary."""
    out: dict[tuple[str | None, str | None], Space] = {}
    for row in plan.rows:
        if row.loopback:
            continue
        space = flow_space(
            row.source_addresses, row.destination_addresses, row.protocol, row.ports, row.icmp
        )
        boundary = (row.source_zone, row.destination_zone)
        out[boundary] = out.get(boundary, Space.empty()) | space
    return out


def check_against_the_plans(found: PlanDiff, old: Plan, new: Plan) -> None:
    before, after = needed(old), needed(new)
    for boundary in {*before, *after}:
        was, now = before.get(boundary, Space.empty()), after.get(boundary, Space.empty())
        opened = Space(
            b
            for c in found.changes
            if (c.source_zone, c.destination_zone) == boundary
            for b in c.opened.boxes
        )
        closed = Space(
            b
            for c in found.changes
            if (
                (c.old_source_zone, c.old_destination_zone)
                if c.zone_moved
                else (c.source_zone, c.destination_zone)
            )
            == boundary
            for b in c.closed.boxes
        )
        assert opened.same_as(now - was), (boundary, "to open")
        assert closed.same_as(was - now), (boundary, "to close")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_subtle_change_lists_exactly_its_packets(case: str, tmp_path: Path) -> None:
    product, deployment, expected = CASES[case]
    old_bundle, old = side(tmp_path, "old", PRODUCT, DEPLOYMENT)
    new_bundle, new = side(tmp_path, "new", product, deployment)
    found = diff_plans(old, new, old_side=old_bundle, new_side=new_bundle)  # type: ignore[arg-type]
    check_against_the_plans(found, old, new)
    listed = {(c.kind.value, c.flow, c.source, c.destination): c for c in found.changes}
    assert set(listed) == set(expected)
    for key, cause in expected.items():
        assert any(cause in c for c in listed[key].causes), (key, listed[key].causes)
    assert all(c.opened or c.closed for c in found.changes)  # no change of nothing


def test_the_same_plan_has_no_change(tmp_path: Path) -> None:
    old_bundle, old = side(tmp_path, "old", PRODUCT, DEPLOYMENT)
    new_bundle, new = side(tmp_path, "new", PRODUCT, DEPLOYMENT)
    found = diff_plans(old, new, old_side=old_bundle, new_side=new_bundle)  # type: ignore[arg-type]
    assert found.identical and found.changes == []
