"""``portplan inventory`` and ``hosts_from: ansible:PATH``: a deployment's machines as an
Ansible inventory, and a deployment that takes its addresses from one (read by Ansible's own
``ansible-inventory``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_env import environment, tool
from examples import EXAMPLES, example_data
from portplan import load_plan
from portplan._errors import ToolError
from portplan.load.inventory import read_inventory

EXAMPLE_NAMES = ("shopping-contoso", "smart-id-nexus", "smart-id-k8s")


def portplan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portplan", *map(str, args)],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_inventory_golden(example: str, golden: Callable[[str, bytes], None]) -> None:
    done = portplan("inventory", EXAMPLES / f"{example}.yaml")
    assert done.returncode == 0, done.stderr
    golden(f"inventory/{example}.yml", done.stdout.encode())


def test_ansible_reads_the_inventory_with_its_roles(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    assert (
        portplan("inventory", EXAMPLES / "shopping-contoso.yaml", "-o", inventory).returncode == 0
    )
    done = subprocess.run(
        [tool("ansible-inventory"), "-i", str(inventory), "--list"],
        env=environment(ANSIBLE_INVENTORY_UNPARSED_FAILED="true"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Invalid characters" not in done.stderr  # every group name is one Ansible accepts
    listing = json.loads(done.stdout)
    assert listing["shopping_6_1_active_directory"]["hosts"] == ["dc01", "dc02"]
    assert listing["shopping_6_1_website"]["hosts"] == ["shop01"]
    assert listing["_meta"]["hostvars"]["dc01"]["portplan_addresses"] == [
        "192.0.2.31",
        "2001:db8:10::31",
    ]
    assert "clients" not in listing["_meta"]["hostvars"]  # a network is no machine


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_hosts_from_an_inventory_gives_the_same_plan(example: str, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts" / "inventory.yml"
    inventory.parent.mkdir()
    done = portplan("inventory", EXAMPLES / f"{example}.yaml", "-o", inventory)
    assert done.returncode == 0, done.stderr
    data = example_data(example)
    data["hosts_from"] = "ansible:hosts/inventory.yml"
    for host in data["hosts"].values():
        if not any("/" in str(a) for a in host["addresses"]):  # machines, not networks
            del host["addresses"]
    deployment = tmp_path / f"{example}.yaml"
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    for product in data["products"].values():  # product files stay beside the example
        if product.get("file"):
            product["file"] = str(EXAMPLES / product["file"])
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    original, taken = load_plan(EXAMPLES / f"{example}.yaml"), load_plan(deployment)

    # the same rows (their override notes name the file and line they come from)
    def shape(row: Any) -> tuple[Any, ...]:
        return (
            row.key, row.source, row.source_addresses, row.destination,
            row.destination_addresses, row.protocol, list(row.ports),
        )  # fmt: skip

    assert [shape(r) for r in taken.rows] == [shape(r) for r in original.rows]
    assert dict(taken.hosts) == dict(original.hosts)


def _deployment(tmp_path: Path, inventory: dict[str, Any] | None, hosts_from: str) -> Path:
    if inventory is not None:
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    data = example_data("shopping-contoso")
    data["hosts_from"] = hosts_from
    del data["hosts"]["sql01"]["addresses"]
    del data["hosts"]["mail01"]["addresses"]
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_hosts_the_inventory_cannot_give_are_each_located(tmp_path: Path) -> None:
    inventory = {"all": {"hosts": {"mail01": {"ansible_host": "mail01.contoso.example"}}}}
    path = _deployment(tmp_path, inventory, "ansible:inventory.yml")
    done = portplan("validate", path)
    assert done.returncode == 2
    assert (
        f"deployment.yaml:{_line_of(path, '  sql01:')}:3: error: host 'sql01' has no "
        "addresses, and inventory.yml gives none: the inventory has no host 'sql01'"
    ) in done.stderr
    assert (
        f"deployment.yaml:{_line_of(path, '  mail01:')}:3: error: host 'mail01' has no "
        "addresses, and inventory.yml gives none: its ansible_host 'mail01.contoso.example' "
        "is not an IP address"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_inventory_is_located_at_hosts_from(tmp_path: Path) -> None:
    path = _deployment(tmp_path, None, "ansible:nowhere.yml")
    done = portplan("matrix", path)
    assert done.returncode == 2
    line = _line_of(path, "hosts_from:")
    assert f"deployment.yaml:{line}:" in done.stderr
    assert "cannot take host addresses from nowhere.yml" in done.stderr
    assert "does not exist; check the path (the path is relative to the deployment" in done.stderr


def test_a_missing_inventory_of_verify_is_told_to_be_checked(tmp_path: Path) -> None:
    done = portplan("verify", EXAMPLES / "search-cluster.yaml", "--inventory",
                    tmp_path / "nowhere.ini")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"portplan: error: inventory {tmp_path / 'nowhere.ini'} does not exist; check the path\n"
    )


def test_hosts_from_takes_the_member_named_by_portplan_host(tmp_path: Path) -> None:
    inventory = {
        "all": {
            "hosts": {
                "db-primary": {"ansible_host": "192.0.2.20", "portplan_host": "sql01"},
                "mail01": {"ansible_host": "192.0.2.50"},
            }
        }
    }
    path = _deployment(tmp_path, inventory, "ansible:inventory.yml")
    plan = load_plan(path)
    assert [str(n) for n in plan.hosts["sql01"].addresses] == ["192.0.2.20/32"]
    assert [str(n) for n in plan.hosts["mail01"].addresses] == ["192.0.2.50/32"]


@pytest.mark.parametrize("command", ["inventory", "matrix", "rules", "report"])
@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_no_output_goes_over_the_inventory_of_hosts_from(
    tmp_path: Path, command: str, folder: bool
) -> None:
    # only `portplan inventory` counted it as an input: `matrix -o inventory.yml --overwrite`
    # replaced the user's inventory with a flow matrix
    hosts = {"sql01": {"ansible_host": "192.0.2.20"}, "mail01": {"ansible_host": "192.0.2.50"}}
    inventory = {"all": {"hosts": hosts}}
    path = _deployment(tmp_path, inventory, "ansible:inventory.yml")
    if folder:  # a folder of inventories: each of its files is read
        (tmp_path / "inventory").mkdir()
        (tmp_path / "inventory.yml").rename(tmp_path / "inventory" / "hosts.yml")
        path.write_text(path.read_text().replace("ansible:inventory.yml", "ansible:inventory"))
    target = tmp_path / "inventory" / "hosts.yml" if folder else tmp_path / "inventory.yml"
    before = target.read_bytes()
    extra = ["-t", "nftables", "--host", "shop01"] if command == "rules" else []
    done = portplan(command, path, *extra, "-o", target, "--overwrite")
    assert done.returncode == 2, done.stderr
    assert f"refusing to write {target}: it is one of the input files" in done.stderr
    assert target.read_bytes() == before


def test_a_host_several_inventory_hosts_stand_for_is_refused_not_cut_to_one(
    tmp_path: Path,
) -> None:
    # two machines of one SQL cluster, each saying which deployment host it is: taking the
    # first one's address would leave the other out of every rule, without a word
    inventory = {
        "all": {
            "hosts": {
                "sql-a": {"ansible_host": "192.0.2.20", "portplan_host": "sql01"},
                "sql-b": {"ansible_host": "192.0.2.21", "portplan_host": "sql01"},
                "mail01": {"ansible_host": "192.0.2.50"},
            }
        }
    }
    path = _deployment(tmp_path, inventory, "ansible:inventory.yml")
    done = portplan("matrix", path)
    assert done.returncode == 2, done.stdout
    assert (
        f"deployment.yaml:{_line_of(path, '  sql01:')}:3: error: host 'sql01' has no "
        "addresses, and inventory.yml gives none: 2 inventory hosts stand for it (sql-a, "
        "sql-b)"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_a_host_known_by_name_only_stays_so_beside_an_inventory(tmp_path: Path) -> None:
    # a cloud endpoint the inventory does not list, and a machine it lists by name (as
    # portplan inventory writes one): neither has an address to give, and neither needs one
    inventory = {
        "all": {
            "hosts": {
                "sql01": {"ansible_host": "192.0.2.20"},
                "mail01": {"ansible_host": "192.0.2.50"},
                "web01": {"ansible_host": "web01.contoso.example", "portplan_host": "web01"},
            }
        }
    }
    path = _deployment(tmp_path, inventory, "ansible:inventory.yml")
    data = yaml.safe_load(path.read_text())
    data["hosts"]["updates"] = {"dns_name": "updates.example.com", "managed": False}
    data["hosts"]["web01"] = {"dns_name": "web01.contoso.example"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = load_plan(path)
    assert plan.hosts["updates"].by_name_only and plan.hosts["web01"].by_name_only
    assert [str(n) for n in plan.hosts["sql01"].addresses] == ["192.0.2.20/32"]


def test_unmanaged_name_only_and_cluster_hosts_in_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(
        "id: demo-1.0\nname: Demo\nversion: '1.0'\ndocument: {title: Demo}\n"
        "components: {web: {name: Web}, cdn: {name: CDN, kind: external}, node: {name: Node}}\n"
        "flows:\n"
        "  - {id: a, row: 1, from: web, to: cdn, protocol: tcp, ports: 443, purpose: Updates}\n"
        "  - {id: b, row: 2, from: node, to: node, protocol: tcp, ports: 7000, purpose: Gossip}\n"
    )
    (tmp_path / "site.yaml").write_text(
        "name: site\nhosts:\n"
        "  web01: {dns_name: web01.example.com}\n"
        "  cdn: {addresses: [203.0.113.0/24], managed: false}\n"
        "  nodes: {addresses: [192.0.2.21, 192.0.2.22], cluster: true}\n"
        "products:\n  demo-1.0:\n    file: demo.yaml\n"
        "    components: {web: [web01], cdn: [cdn], node: [nodes]}\n"
    )
    done = portplan("inventory", tmp_path / "site.yaml")
    assert done.returncode == 0, done.stderr
    comments = [line for line in done.stdout.splitlines() if line.startswith("#")]
    assert any("networks or clusters" in line and "nodes (" in line for line in comments)
    assert any("managed: false), left out: cdn" in line for line in comments)
    hosts = yaml.safe_load(done.stdout)["all"]["hosts"]
    assert hosts == {"web01": {"ansible_host": "web01.example.com", "portplan_host": "web01"}}


def test_a_line_break_in_the_deployment_name_stays_in_the_comment(tmp_path: Path) -> None:
    data = example_data("smart-id-nexus")
    data["name"] = "prod\nzone_x:\n  vars:\n    ansible_ssh_common_args: -o ProxyCommand=x"
    (tmp_path / "products").symlink_to(EXAMPLES / "products")
    deployment = tmp_path / "d.yaml"
    deployment.write_text(yaml.safe_dump(data))
    written = portplan("inventory", deployment)
    assert written.returncode == 0, written.stderr
    assert written.stdout.splitlines()[0].startswith(
        "# Ansible inventory of deployment prod zone_x"
    )
    listed = subprocess.run(
        [tool("ansible-inventory"), "-i", "/dev/stdin", "--list"],
        input=written.stdout, env=environment(), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "ProxyCommand" not in listed.stdout and "zone_x" not in json.loads(listed.stdout)


def _demo_product(tmp_path: Path) -> None:
    """demo.yaml: web talks to db, the product of the inventory-name tests."""
    (tmp_path / "demo.yaml").write_text(
        "id: demo-1.0\nname: Demo\nversion: '1.0'\ndocument: {title: Demo}\n"
        "components: {web: {name: Web}, db: {name: DB}}\n"
        "flows:\n"
        "  - {id: a, row: 1, from: web, to: db, protocol: tcp, ports: 5432, purpose: Data}\n"
    )


def _refused(tmp_path: Path, site: Path) -> list[str]:
    """The error lines of ``inventory SITE -o inventory.yml``, which must exit 2 and write
    nothing."""
    out = tmp_path / "inventory.yml"
    done = portplan("inventory", site, "-o", out)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not out.exists()
    return [line for line in done.stderr.splitlines() if ": error: " in line]


def test_names_ansible_would_take_for_one_group_are_refused_where_written(tmp_path: Path) -> None:
    """Zones 'dmz-a' and 'dmz_a' both became the group zone_dmz_a, and a host named
    zone_servers shared its name with the group of zone 'servers': Ansible merged them, and a
    play aimed at one zone ran on both.  Each clash is an error at the name, nothing written."""
    _demo_product(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text(
        "name: site\nhosts:\n"
        "  web01: {addresses: [192.0.2.10], zone: dmz-a}\n"
        "  db01: {addresses: [192.0.2.20], zone: dmz_a}\n"
        "  db02: {addresses: [192.0.2.21], zone: servers}\n"
        "  zone_servers: {addresses: [192.0.2.22]}\n"
        "products:\n  demo-1.0:\n    file: demo.yaml\n"
        "    components: {web: [web01], db: [db01, db02, zone_servers]}\n"
    )
    errors = _refused(tmp_path, site)
    assert errors == [
        f"{site}:4:41: error: zone 'dmz_a' and zone 'dmz-a' both become the Ansible group "
        "zone_dmz_a (a character other than a letter, a digit or '_' becomes '_'): Ansible "
        "takes them for one, and a play aimed at one would run on both (rename one of them)",
        f"{site}:5:41: error: zone 'servers' becomes the Ansible group zone_servers, the name "
        "of host 'zone_servers': Ansible takes them for one, and a play aimed at one would run "
        "on both (rename one of them)",
    ], errors


def test_hosts_named_like_ansibles_own_groups_are_refused(tmp_path: Path) -> None:
    """A host named all or ungrouped was written as it was: Ansible only warned that a group
    and a host had that name, and a play aimed at the host 'all' ran on every machine of the
    inventory."""
    _demo_product(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text(
        "name: site\nhosts:\n"
        "  all: {addresses: [192.0.2.10]}\n"
        "  ungrouped: {addresses: [192.0.2.20]}\n"
        "products:\n  demo-1.0:\n    file: demo.yaml\n"
        "    components: {web: [all], db: [ungrouped]}\n"
    )
    errors = _refused(tmp_path, site)
    assert errors == [
        f"{site}:3:3: error: host 'all' is named like Ansible's own group all, which holds "
        "every host: Ansible takes them for one, and a play aimed at the host would run on "
        "every machine of the inventory (rename the host)",
        f"{site}:4:3: error: host 'ungrouped' is named like Ansible's own group ungrouped, "
        "which holds every host in no other group: Ansible takes them for one, and a play "
        "aimed at the host would run on every machine of the inventory in no other group "
        "(rename the host)",
    ], errors


def test_an_inventory_that_cannot_be_read_does_not_hide_the_product_files(
    tmp_path: Path,
) -> None:
    """The inventory's problem is the deployment's; the product files it names are still
    read and their problems reported in the same run (they were found only once the
    inventory was fixed)."""
    path = _deployment(tmp_path, None, "ansible:nowhere.yml")
    data = yaml.safe_load(path.read_text())
    product_id = next(iter(data["products"]))
    data["products"][product_id]["file"] = "product.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "product.yaml").write_text(f"id: {product_id}\nname: [unclosed\n")
    for command in ("validate", "matrix"):
        done = portplan(command, path)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if ": error: " in line]
        assert len(errors) == 2, done.stderr
        assert errors[0].startswith(f"{path}:{_line_of(path, 'hosts_from:')}:"), done.stderr
        assert "cannot take host addresses from nowhere.yml" in errors[0]
        assert errors[1].startswith(
            f"{tmp_path / 'product.yaml'}:2:7: error: YAML syntax error: unclosed bracket"
        ), done.stderr


@pytest.mark.parametrize("variable", ["ANSIBLE_VERBOSITY", "ANSIBLE_DEBUG"])
def test_an_operators_ansible_verbosity_does_not_break_reading_the_inventory(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANSIBLE_VERBOSITY=4 (or ANSIBLE_DEBUG) is for the playbook's -vvvv display; Ansible
    printed its version and debug lines before the listing, and verify --inventory ended in a
    JSONDecodeError traceback."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    nms: {ansible_host: 127.0.0.2}\n")
    monkeypatch.setenv(variable, "4" if variable == "ANSIBLE_VERBOSITY" else "true")
    hosts = read_inventory(inventory)
    assert list(hosts) == ["nms"], hosts


def test_an_inventory_script_that_hangs_is_ended_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dynamic inventory that hangs is given up after the timeout: only ansible-inventory
    was killed then, and the script it ran, with the commands the script started, ran on."""
    started = tmp_path / "started"
    inventory = tmp_path / "inventory.sh"
    inventory.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {started}\nwait\n")
    inventory.chmod(0o755)
    monkeypatch.setattr("portplan.load.inventory.INVENTORY_TIMEOUT", 5.0)
    try:
        with pytest.raises(ToolError, match=r"did not read the inventory .* within 5 s"):
            read_inventory(inventory)
        child = int(started.read_text())
        for _ in range(50):  # reaped by init once its parent is gone: at most 5 s
            if not Path(f"/proc/{child}").exists() or _zombie(child):
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{child}").exists() or _zombie(child), "sleep 300 still runs"
    finally:  # the test's own process, ended by its id even when the check failed
        if started.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(started.read_text()), signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
