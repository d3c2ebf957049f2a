"""``portplan diff`` sees every row: rows that share a key, rows of a host known by DNS name
only, rows whose zone-boundary firewall changes, and loopback rows, which are per host.

The product of these cases is one flow, ``rv/report``: client -> db, tcp 9000, under the
feature ``reporting``; ``lb`` is one loopback flow, client -> agent on the same host, tcp 8000.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import machine
from portplan.cli import cli
from portplan.diff import ChangeKind, PlanDiff, diff_plans
from portplan.load.deployment import load_deployment
from portplan.pipeline import plan_bundle
from portplan.plan import Plan
from portplan.report.diff import diff_csv, diff_json, diff_junit, diff_table, diff_xlsx


def _product(product_id: str, body: str) -> str:
    name = product_id.upper()
    return (
        f'id: {product_id}\nname: {name}\nversion: "1"\nvendor: t\n'
        f"document: {{title: {name}, layout: flat}}\n{body}"
    )


PRODUCT = _product(
    "rv",
    """\
features: {reporting: {description: r}}
components: {client: {name: C}, db: {name: D}}
flows:
  - {id: report, row: 1, from: client, to: db, protocol: tcp, ports: 9000,
     condition: reporting, purpose: r}
""",
)

LOOPBACK_PRODUCT = _product(
    "lb",
    """\
components: {client: {name: C}, agent: {name: A, parent: client}}
flows:
  - {id: agent, row: 1, from: client, to: agent, protocol: tcp, ports: 8000, loopback: true,
     purpose: a}
""",
)


def deployment(
    db: str = "{addresses: [10.3.0.10]}",
    clients: str = "{addresses: [10.1.0.0/24]}",
    reporting: bool = True,
    management: str = "  - {id: admin, from: admin, ports: 22, purpose: ssh}\n",
    client: str = "clients",
) -> str:
    return (
        "name: rv\nhosts:\n"
        f"  clients: {clients}\n  db01: {db}\n  admin: {{addresses: [10.9.0.0/28]}}\n"
        "products:\n  rv: {file: p.yaml, components: {client: " + client + ", db: db01}, "
        f"features: {{reporting: {str(reporting).lower()}}}}}\n"
        f"management:\n{management}"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(PRODUCT)
    (tmp_path / "lb.yaml").write_text(LOOPBACK_PRODUCT)
    return tmp_path


def side(folder: Path, name: str, text: str) -> tuple[object, Plan]:
    path = folder / name
    path.write_text(text)
    bundle = load_deployment(path)
    return bundle, plan_bundle(bundle)


def compare(folder: Path, old: str, new: str) -> PlanDiff:
    old_bundle, old_plan = side(folder, "old.yaml", old)
    new_bundle, new_plan = side(folder, "new.yaml", new)
    return diff_plans(old_plan, new_plan, old_side=old_bundle, new_side=new_bundle)  # type: ignore[arg-type]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout


def ports(space: object) -> list[tuple[int, int]]:
    """The port ranges of ``space``, whatever the family."""
    return sorted({i for box in space.normalised() for i in box.ports})  # type: ignore[attr-defined]


# -- 1. rows that share a key --------------------------------------------------------------


def _renamed(plan: Plan, old_id: str, new_id: str, product: str | None = None) -> Plan:
    """``plan`` with the rows of flow ``old_id`` given the id ``new_id`` (and ``product``): two
    rows of one key, as a loader that let a duplicate id through would give."""
    rows = []
    for row in plan.rows:
        if row.flow_id != old_id:
            rows.append(row)
            continue
        owner = product or row.product
        facts = dataclasses.replace(
            row.facts, key=f"{owner}/{new_id}", flow_id=new_id, product=owner
        )
        rows.append(dataclasses.replace(row, facts=facts))
    return dataclasses.replace(plan, rows=tuple(rows))


def test_two_rows_of_one_key_are_both_compared(folder: Path) -> None:
    two = (
        "  - {id: admin, from: admin, ports: 22, purpose: ssh}\n"
        "  - {id: admin2, from: admin, ports: 3389, purpose: rdp}\n"
    )
    _, old_plan = side(folder, "old.yaml", deployment(management=two))
    old_plan = _renamed(old_plan, "admin2", "admin")
    # the new side keeps only the RDP entry, under the id both had
    rdp = "  - {id: admin, from: admin, ports: 3389, purpose: rdp}\n"
    _, new_plan = side(folder, "new.yaml", deployment(management=rdp))
    found = diff_plans(old_plan, new_plan)
    assert not found.identical
    closed = {(c.source, c.destination): ports(c.closed) for c in found.changes}
    assert closed == {("admin", "db01"): [(22, 22)]}  # (clients and admin are networks)
    assert {c.kind for c in found.changes} == {ChangeKind.NARROW}
    assert all(not c.opened for c in found.changes)
    # ... and a plan compared with itself is identical, duplicate keys and all
    assert diff_plans(old_plan, old_plan).identical


def test_a_product_flow_and_a_management_access_of_one_key_are_both_compared(
    folder: Path,
) -> None:
    """A product ``management`` with a flow of a management access's id (now refused by the
    loader, but diff must not depend on that): both rows are admin -> db01 over tcp."""
    management = "  - {id: admin, from: admin, to: [db01], ports: 22, purpose: ssh}\n"
    old_text = deployment(management=management, client="admin")
    _, old_plan = side(folder, "old.yaml", old_text)
    old_plan = _renamed(old_plan, "report", "admin", product="management")
    keys = [(r.key, r.source, r.destination) for r in old_plan.rows]
    assert keys.count(("management/admin", "admin", "db01")) == 2
    _, new_plan = side(folder, "new.yaml", old_text.replace("reporting: true", "reporting: false"))
    found = diff_plans(old_plan, new_plan)
    assert [(c.kind, c.source, c.destination, ports(c.closed)) for c in found.changes] == [
        (ChangeKind.NARROW, "admin", "db01", [(9000, 9000)])
    ]


# -- 4. loopback rows are per host ---------------------------------------------------------

LOOPBACK_DEPLOYMENT = """\
name: lb
hosts:
  ws1: {addresses: [10.1.0.1]}
  ws2: {addresses: [10.1.0.2]}
products:
  lb: {file: lb.yaml, components: {client: [CLIENTS]}}
"""


def test_a_loopback_flow_removed_from_one_host_is_closed_there(folder: Path) -> None:
    both = LOOPBACK_DEPLOYMENT.replace("CLIENTS", "ws1, ws2")
    one = LOOPBACK_DEPLOYMENT.replace("CLIENTS", "ws2")
    for old, new, kind in ((both, one, ChangeKind.CLOSE), (one, both, ChangeKind.OPEN)):
        found = compare(folder, old, new)
        assert [(c.kind, c.source, c.destination) for c in found.changes] == [(kind, "ws1", "ws1")]
        assert ports(found.changes[0].opened | found.changes[0].closed) == [(8000, 8000)]


def test_a_loopback_flow_of_a_host_moved_to_another_zone_crosses_no_boundary(
    folder: Path,
) -> None:
    # loopback packets never reach a zone firewall: ws1 moving from zone a to zone b changes
    # nothing of its loopback flow, and the change request must not ask a zone firewall to
    # open or close 127.0.0.0/8
    old = LOOPBACK_DEPLOYMENT.replace("CLIENTS", "ws1").replace(
        "[10.1.0.1]}", "[10.1.0.1], zone: a}"
    )
    found = compare(folder, old, old.replace("zone: a", "zone: b"))
    assert found.identical, [(c.kind, c.flow) for c in found.changes]
    assert diff_csv(found).count("\n") == 1  # the heading alone


def test_a_loopback_flow_renamed_on_a_host_moved_to_another_zone_changes_nothing(
    folder: Path,
) -> None:
    # the loopback packets ws1's new flow needs its old flow needed: on the host, where zones
    # do not matter; they were compared per zone boundary, so the change request asked the
    # zone firewalls to open 127.0.0.0/8 -> 127.0.0.0/8 tcp 8000 on the new and close it on
    # the old
    old = LOOPBACK_DEPLOYMENT.replace("CLIENTS", "ws1").replace(
        "[10.1.0.1]}", "[10.1.0.1], zone: a}"
    )
    old_bundle, old_plan = side(folder, "old.yaml", old)
    (folder / "lb.yaml").write_text(LOOPBACK_PRODUCT.replace("{id: agent,", "{id: agent2,"))
    new_bundle, new_plan = side(folder, "new.yaml", old.replace("zone: a", "zone: b"))
    found = diff_plans(old_plan, new_plan, old_side=old_bundle, new_side=new_bundle)  # type: ignore[arg-type]
    assert found.identical, [(c.kind, c.flow) for c in found.changes]
    assert found.already_needed == 2


# -- 2. a host known by DNS name only ------------------------------------------------------

BY_NAME = "{dns_name: db.example.com, managed: false}"


def test_a_row_to_a_host_known_by_name_is_closed_by_name(folder: Path) -> None:
    found = compare(folder, deployment(db=BY_NAME), deployment(db=BY_NAME, reporting=False))
    (change,) = found.changes
    assert (change.kind, change.source, change.destination) == (
        ChangeKind.CLOSE,
        "clients",
        "db01",
    )
    assert (change.source_name, change.destination_name) == (None, "db.example.com")
    assert ports(change.closed) == [(9000, 9000)]
    assert change.causes == ("feature reporting switched off",)
    # every output names the host where an address would be, never 0.0.0.0/0
    table = diff_table(found, width=200)
    assert "tcp 10.1.0.0/24 -> db.example.com port 9000" in table
    data = machine.document(diff_json(found), "diff")
    (record,) = data["changes"]
    assert record["destination_name"] == "db.example.com"
    assert record["close"][0]["destinations"] == []
    assert record["close"][0]["sources"] == ["10.1.0.0/24"]
    rows = list(csv.DictReader(io.StringIO(diff_csv(found))))
    assert [
        (r["action"], r["source_address"], r["destination_address"], r["ports"]) for r in rows
    ] == [("close", "10.1.0.0/24", "db.example.com", "9000")]
    book = openpyxl.load_workbook(io.BytesIO(diff_xlsx(found)))
    (row,) = book["Close"].iter_rows(min_row=2, values_only=True)
    assert "db.example.com" in row
    assert "db.example.com port 9000" in diff_junit(found)
    assert "0.0.0.0/0" not in table + diff_csv(found) + diff_json(found)
    # ... and opened when the feature comes back
    found = compare(folder, deployment(db=BY_NAME, reporting=False), deployment(db=BY_NAME))
    assert [(c.kind, c.destination_name, ports(c.opened)) for c in found.changes] == [
        (ChangeKind.OPEN, "db.example.com", [(9000, 9000)])
    ]


def test_a_host_renamed_or_given_addresses_is_closed_and_opened(folder: Path) -> None:
    other = BY_NAME.replace("db.example.com", "db2.example.com")
    found = compare(folder, deployment(db=BY_NAME), deployment(db=other))
    assert [(c.kind.value, c.destination_name) for c in found.changes] == [
        ("open", "db2.example.com"),
        ("close", "db.example.com"),
    ]
    assert "host db01 DNS name: db.example.com -> db2.example.com" in found.changes[0].causes
    found = compare(folder, deployment(db=BY_NAME), deployment(db="{addresses: [10.3.0.10]}"))
    assert [(c.kind.value, c.flow, c.destination_name) for c in found.changes] == [
        ("open", "rv/report", None),
        ("close", "rv/report", "db.example.com"),
        ("open", "management/admin", None),  # (db01 is managed now)
    ]
    # the same name on both sides, nothing else changed: identical
    assert compare(folder, deployment(db=BY_NAME), deployment(db=BY_NAME)).identical


def test_the_reviewers_name_only_case_through_the_cli(folder: Path) -> None:
    (folder / "old.yaml").write_text(deployment(db=BY_NAME))
    (folder / "new.yaml").write_text(deployment(db=BY_NAME, reporting=False))
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert out.endswith("0 to open, 1 to close, 0 to change\n")


# -- 3. a row whose zone-boundary firewall changes -----------------------------------------


def test_a_zone_change_moves_the_rule_to_another_boundary(folder: Path) -> None:
    old = deployment(db="{addresses: [10.3.0.10], zone: data}", clients=ZONED)
    new = deployment(db="{addresses: [10.3.0.10], zone: users2}", clients=ZONED)
    found = compare(folder, old, new)
    report = [c for c in found.changes if c.flow == "rv/report"]
    (change,) = report
    assert change.kind is ChangeKind.MOVED
    assert (change.old_source_zone, change.old_destination_zone) == ("users", "data")
    assert (change.source_zone, change.destination_zone) == ("users", "users2")
    assert ports(change.opened) == ports(change.closed) == [(9000, 9000)]
    assert "host db01 zone: data -> users2" in change.causes
    assert not found.identical
    assert found.summary().endswith("to change")
    # every output names both boundaries
    table = diff_table(found, width=400)
    assert "moved" in table and "users -> data" in table and "users -> users2" in table
    data = machine.document(diff_json(found), "diff")
    record = next(r for r in data["changes"] if r["flow"] == "rv/report")
    assert record["kind"] == "moved"
    assert record["zone_moved"] is True
    assert (record["old_source_zone"], record["old_destination_zone"]) == ("users", "data")
    assert (record["source_zone"], record["destination_zone"]) == ("users", "users2")
    rows = [r for r in csv.DictReader(io.StringIO(diff_csv(found))) if r["flow"] == "rv/report"]
    assert [(r["action"], r["change"], r["source_zone"], r["destination_zone"]) for r in rows] == [
        ("open", "moved", "users", "users2"),
        ("close", "moved", "users", "data"),
    ]
    book = openpyxl.load_workbook(io.BytesIO(diff_xlsx(found)))
    header = next(book["Close"].iter_rows(max_row=1, values_only=True))
    assert header[-2:] == ("source_zone", "destination_zone")
    assert "zones: users -&gt; data, now users -&gt; users2" in diff_junit(found)


def test_a_zone_change_with_new_ports_widens_on_the_new_boundary(folder: Path) -> None:
    (folder / "p2.yaml").write_text(PRODUCT.replace("ports: 9000", "ports: [9000, 9001]"))
    old = deployment(db="{addresses: [10.3.0.10], zone: data}", clients=ZONED)
    new = old.replace("zone: data", "zone: users2").replace("p.yaml", "p2.yaml")
    found = compare(folder, old, new)
    changes = [c for c in found.changes if c.flow == "rv/report"]
    assert [(c.kind, ports(c.opened), ports(c.closed)) for c in changes] == [
        (ChangeKind.WIDEN, [(9001, 9001)], []),
        (ChangeKind.MOVED, [(9000, 9000)], [(9000, 9000)]),
    ]
    assert changes[0].destination_zone == "users2"
    # from no zone to a zone is a move too
    unzoned = old.replace(", zone: data", "")
    found = compare(folder, unzoned, new.replace("p2.yaml", "p.yaml"))
    (change,) = [c for c in found.changes if c.flow == "rv/report"]
    assert change.kind is ChangeKind.MOVED and change.zone_moved
    assert (change.old_destination_zone, change.destination_zone) == (None, "users2")
    assert "(zones users -> no zone, now users -> users2)" in diff_table(found, width=400)
    # the same zones: nothing moves
    assert compare(folder, old, old).identical


ZONED = "{addresses: [10.1.0.0/24], zone: users}"


def test_a_host_renamed_into_another_zone_is_closed_and_opened_on_the_two_boundaries(
    folder: Path,
) -> None:
    # db01 becomes db02 with the same address, in zone users2: the old name's rows are gone
    # and the new name's are new, with the same packets.  A zone firewall still has the rule
    # users -> data, which must be closed, and needs users -> users2, which must be opened;
    # the new rows' packets were needed before only on the old boundary, so they are no
    # excuse for leaving either out.
    old = deployment(db="{addresses: [10.3.0.10], zone: data}", clients=ZONED)
    new = old.replace("db01", "db02").replace("zone: data", "zone: users2")
    found = compare(folder, old, new)
    changes = [c for c in found.changes if c.flow == "rv/report"]
    assert [
        (c.kind, c.destination, c.source_zone, c.destination_zone, ports(c.opened), ports(c.closed))
        for c in changes
    ] == [
        (ChangeKind.OPEN, "db02", "users", "users2", [(9000, 9000)], []),
        (ChangeKind.CLOSE, "db01", "users", "data", [], [(9000, 9000)]),
    ]
    (folder / "old.yaml").write_text(old)
    (folder / "new.yaml").write_text(new)
    code, out = run("diff", str(folder / "old.yaml"), str(folder / "new.yaml"))
    assert code == 1
    assert "identical" not in out
    # renamed in the same zone: the same packets on the same boundary, nothing for a zone
    # firewall to change; the host's own rules (its security group, ruleset) have its new
    # name, which is a change (see test_diff_own_rules)
    found = compare(folder, old, old.replace("db01", "db02"))
    assert {c.kind for c in found.changes} == {ChangeKind.REHOST}
    assert all(not c.opened and not c.closed for c in found.changes)


def test_a_move_closes_on_the_old_boundary_only_what_no_row_there_still_needs(
    folder: Path,
) -> None:
    # pc5 is one machine of the client subnet; it moves to zone admin.  Its row's packets
    # leave the boundary users -> data, but the subnet's row still needs them there: they are
    # opened on admin -> data and not closed on users -> data.
    old = deployment(
        db="{addresses: [10.3.0.10], zone: data}", clients=ZONED, client="[clients, pc5]"
    )
    old = old.replace("  db01:", "  pc5: {addresses: [10.1.0.5], zone: users}\n  db01:")
    new = old.replace(
        "pc5: {addresses: [10.1.0.5], zone: users}", "pc5: {addresses: [10.1.0.5], zone: admin}"
    )
    found = compare(folder, old, new)
    changes = [c for c in found.changes if c.flow == "rv/report"]
    assert [(c.kind, c.source, ports(c.opened), ports(c.closed)) for c in changes] == [
        (ChangeKind.MOVED, "pc5", [(9000, 9000)], []),
    ]
    rows = [r for r in csv.DictReader(io.StringIO(diff_csv(found))) if r["flow"] == "rv/report"]
    assert [(r["action"], r["source_zone"], r["destination_zone"]) for r in rows] == [
        ("open", "admin", "data"),
    ]


def test_a_row_from_a_host_to_itself_names_the_host_s_change_once(folder: Path) -> None:
    # the admin network reaches itself (one row, admin -> admin); re-addressed, the cause is
    # the one host's, said once
    peers = "  - {id: peer, from: admin, to: [admin], ports: 22, purpose: p}\n"
    old = deployment(management=peers)
    found = compare(folder, old, old.replace("10.9.0.0/28", "10.9.0.0/27"))
    (change,) = found.changes
    assert (change.kind, change.source, change.destination) == (ChangeKind.WIDEN, "admin", "admin")
    assert change.causes == ("host admin re-addressed: 10.9.0.0/28 -> 10.9.0.0/27",)


def test_addresses_listed_in_another_order_are_no_cause(folder: Path) -> None:
    # the flow's port changes; db01 and the clients keep their addresses and networks, IPv4
    # and IPv6, listed in another order: the same packets, so the port is the only cause
    old = deployment(
        db="{addresses: [10.3.0.10, '2001:db8:3::10']}",
        clients="{addresses: [10.1.0.0/24, '2001:db8:1::/64', 10.2.0.0/24]}",
    )
    reordered = deployment(
        db="{addresses: ['2001:db8:3::10', 10.3.0.10]}",
        clients="{addresses: [10.2.0.0/24, '2001:db8:1::/64', 10.1.0.0/24]}",
    )
    (folder / "p2.yaml").write_text(PRODUCT.replace("ports: 9000", "ports: 9001"))
    found = compare(folder, old, reordered.replace("file: p.yaml", "file: p2.yaml"))
    assert [c.kind for c in found.changes] == [ChangeKind.WIDEN, ChangeKind.NARROW]
    assert all(c.causes == ("vendor row changed: flow report of rv",) for c in found.changes)
    # reordered alone: nothing changes
    assert compare(folder, old, reordered).identical
    # an address added (in the new order) is a cause still
    grown = reordered.replace(
        "'2001:db8:3::10', 10.3.0.10", "'2001:db8:3::10', 10.3.0.11, 10.3.0.10"
    )
    found = compare(folder, old, grown)
    assert [(c.kind, c.destination) for c in found.changes] == [
        (ChangeKind.WIDEN, "db01"),  # the flow, and the management access
        (ChangeKind.WIDEN, "db01"),
    ]
    assert found.changes[0].causes == (
        "host db01 re-addressed: 10.3.0.10, 2001:db8:3::10 -> 2001:db8:3::10, 10.3.0.11, 10.3.0.10",
    )
