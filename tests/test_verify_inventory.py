"""``portplan verify --inventory`` end to end, over real SSH.

Every host of an example deployment is a network namespace running its own sshd (Debian's
openssh-server, a key this test generates); the controller is one more namespace on the same
bridge, so Ansible (ansible-core from PyPI) reaches the hosts by their namespace addresses and
every packet stays inside the test's namespaces.  ``--listen`` opens portplan's temporary
listeners on every destination through Ansible, then every source probes at once; the merged
report must be exact: a deliberate drop on one destination is ``filtered`` and a reject on
another is ``rejected``, each from the one source they aim at, and a source without sshd is
``source-unreachable`` with Ansible's reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import yaml

import machine
import netns
import sshlab
from ansible_env import environment, tool
from examples import EXAMPLES, example_plan
from netns import Address, Node, Topology
from plancheck import OUTSIDER, add_hosts
from portplan.plan import Plan

pytestmark = pytest.mark.netns

#: seconds a whole verify --inventory run may take
RUN_TIMEOUT = 600
SSH_PORT = 2222


@pytest.fixture(scope="module", autouse=True)
def _namespaces() -> Iterator[None]:
    reason = sshlab.unavailable()
    if reason is not None:
        pytest.skip(reason)
    with netns.guard("nft"):
        yield


@dataclass(frozen=True, slots=True)
class Firewall:
    """A rule on ``destination`` against ``source``'s traffic to one TCP port."""

    destination: str
    source: str
    port: int
    outcome: str  #: what the source must see: ``filtered`` (drop) or ``rejected``

    def ruleset(self, plan: Plan) -> str:
        verdict = "drop" if self.outcome == "filtered" else "reject with icmpx admin-prohibited"
        rules = [
            f"{'ip6' if n.version == 6 else 'ip'} saddr {n} tcp dport {self.port} {verdict}"
            for n in plan.hosts[self.source].addresses
        ]
        body = "\n        ".join(rules)
        return (
            "table inet pp_fanout {\n    chain input {\n"
            "        type filter hook input priority 0; policy accept;\n"
            f"        {body}\n    }}\n}}\n"
        )


def _firewalls(plan: Plan, unreachable: str) -> list[Firewall]:
    """A drop and a reject, on two destinations, each against one of two sources of a port."""
    sources: dict[tuple[str, int], list[str]] = {}
    for row in plan.rows:
        if row.loopback or row.protocol.value != "tcp" or row.source == unreachable:
            continue
        if any(n.num_addresses > 1 for n in row.destination_addresses):
            continue  # a group destination is not probed
        for port in list(row.ports)[:1]:
            found = sources.setdefault((row.destination, port), [])
            if row.source not in found:
                found.append(row.source)
    shared = [(key, found) for key, found in sources.items() if len(found) >= 2]
    assert len({d for (d, _p), _s in shared}) >= 2, "the example needs two shared destinations"
    (drop_at, drop_port), drop_from = shared[0]
    (reject_at, reject_port), reject_from = next(s for s in shared if s[0][0] != drop_at)
    return [
        Firewall(drop_at, drop_from[0], drop_port, "filtered"),
        Firewall(reject_at, reject_from[-1], reject_port, "rejected"),
    ]


def _port_mappings(plan: Plan) -> dict[str, str]:
    """nftables redirects for the rows whose service listens elsewhere than it is reached
    (an ingress/NAT mapping), per destination: the product's NAT, in the lab."""
    rules: dict[str, list[str]] = {}
    for row in plan.rows:
        if row.listen_ports is None or list(row.listen_ports) == list(row.ports):
            continue
        for outside, inside in zip(row.ports, row.listen_ports, strict=True):
            rules.setdefault(row.destination, []).append(
                f"{row.protocol.value} dport {outside} redirect to :{inside}"
            )
    return {
        host: "table inet pp_mapping {\n    chain prerouting {\n"
        "        type nat hook prerouting priority -100;\n        "
        + "\n        ".join(lines)
        + "\n    }\n}\n"
        for host, lines in rules.items()
    }


def _unreachable_source(plan: Plan) -> str:
    """The source host with the fewest rows that is no destination (no listener depends on
    it)."""
    destinations = {row.destination for row in plan.rows}
    counts = Counter(row.source for row in plan.rows if row.source not in destinations)
    return min(counts, key=lambda name: (counts[name], name))


def _controller(topo: Topology) -> Node:
    return topo.nodes[OUTSIDER]


def verify_inventory(
    topo: Topology, deployment: Path, inventory: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``portplan verify --inventory`` run in the controller's namespace (in ``cwd``)."""
    argv = [
        "ip", "netns", "exec", _controller(topo).netns,
        sys.executable, "-m", "portplan", "verify", str(deployment),
        "--inventory", str(inventory), *args,
    ]  # fmt: skip
    return subprocess.run(
        argv,
        env=_ssh_environment(inventory.parent),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def _ssh_environment(directory: Path) -> dict[str, str]:
    """Ansible's environment, with SSH connection sharing of this test's own: the sockets
    in ~/.ansible/cp are named after address, port and user, and another test (another
    engineer's, at the same time) reaches the same example addresses in namespaces of its
    own; through a shared socket this run's commands would run on that test's hosts."""
    return environment(
        ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_SSH_CONTROL_PATH_DIR=str(directory / "cp")
    )


def _hosts_lab(
    topo: Topology, lab: sshlab.SshLab, plan: Plan, down: str
) -> tuple[dict[str, Node], dict[str, Address]]:
    """A node with sshd for every host of ``plan`` but ``down``; each host's SSH address."""
    nodes = add_hosts(topo, plan)
    addresses = {name: node.addresses[0] for name, node in nodes.items()}
    for name, node in nodes.items():
        if name != down:
            lab.start(topo, node, addresses[name])
    return nodes, addresses


def go_live(
    topo: Topology, deployment: Path, inventory: Path, directory: Path
) -> subprocess.CompletedProcess[str]:
    """The collection's go-live playbook, run from the controller's namespace in
    ``directory``, with the default report and facts folder: both are made there (the facts
    copy failed for want of its folder, and relative paths went to the playbook's)."""
    argv = [
        "ip", "netns", "exec", _controller(topo).netns,
        tool("ansible-playbook"), "-i", str(inventory), "portplan.portplan.go_live",
        "-e", json.dumps({
            "portplan_deployment": str(deployment),
            "portplan": f"{sys.executable} -m portplan",
            "portplan_become": False,
        }),
    ]  # fmt: skip
    done = subprocess.run(
        argv,
        cwd=directory,
        env={**_ssh_environment(directory), "PWD": str(directory)},  # as a shell sets it
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    # the facts play goes on past the unreachable source; the check finds failures
    assert done.returncode != 0, done.stdout
    assert "Some planned flows failed" in done.stdout, done.stdout + done.stderr
    return done


@pytest.mark.parametrize(
    ("example", "how"), [("shopping-contoso", "cli"), ("smart-id-nexus", "playbook")]
)
def test_every_source_at_once_with_listeners(example: str, how: str, tmp_path: Path) -> None:
    plan = example_plan(example)
    down = _unreachable_source(plan)
    firewalls = _firewalls(plan, down)
    with netns.topology() as topo, sshlab.ssh_lab(tmp_path, SSH_PORT) as lab:
        nodes, addresses = _hosts_lab(topo, lab, plan, down)
        assert len(nodes) >= 8
        for firewall in firewalls:
            topo.nft(nodes[firewall.destination], firewall.ruleset(plan))
        for host, ruleset in _port_mappings(plan).items():
            topo.nft(nodes[host], ruleset)
        # group hosts stand in for one member machine each, through portplan_host
        groups = {
            f"{name}-member": name
            for name, host in plan.hosts.items()
            if any(n.num_addresses > 1 for n in host.addresses)
        }
        named = {member: addresses[host] for member, host in groups.items()}
        named |= {n: a for n, a in addresses.items() if n not in groups.values()}
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(lab.inventory(named, groups=groups))
        deployment = EXAMPLES / f"{example}.yaml"
        if how == "playbook":
            done = go_live(topo, deployment, inventory, tmp_path)
            text = (tmp_path / "go-live.json").read_text()
            facts = json.loads(
                (tmp_path / "facts" / f"{firewalls[0].destination}.json").read_text()
            )
            assert any(s["port"] == SSH_PORT for s in facts["listening"])  # its sshd
            assert "pp_fanout" in facts["ruleset"]["text"]  # the firewall this test loaded
            assert "UNREACHABLE" in done.stdout  # the facts play reports the source without sshd
        else:
            done = verify_inventory(
                topo, deployment, inventory, "--listen", "--format", "json", "--forks", "1"
            )
            assert done.returncode == 1, done.stderr  # the firewalls, the unreachable source
            text = done.stdout
    report = machine.document(text, "verify")
    checks: list[dict[str, Any]] = report["checks"]
    sources = {row.source for row in plan.rows}
    assert {c["source"] for c in checks} == sources  # every source, merged into one report
    wrong = []
    for check in checks:
        expected = "open"
        if check["source"] == down:
            expected = "source-unreachable"
        for firewall in firewalls:
            aimed = (check["source"], check["destination"], check["protocol"], check["port"]) == (
                firewall.source,
                firewall.destination,
                "tcp",
                firewall.port,
            )
            # the rule matches the source's own addresses: its address families only
            families = {n.version for n in plan.hosts[firewall.source].addresses}
            if aimed and (6 if ":" in (check["address"] or "") else 4) in families:
                expected = firewall.outcome
        if check["outcome"] != expected:
            wrong.append(
                f"{check['source']} -> {check['destination']} {check['address']} "
                f"{check['protocol']}/{check['port']}: {check['outcome']}, "
                f"expected {expected} ({check['evidence']})"
            )
        elif expected == "open":
            # the path is proven end to end: portplan's own listener answered
            assert check["temporary_listener"], check
            assert check["passed"], check
    assert wrong == []
    for firewall in firewalls:  # each rule shows up, and from its source only
        aim = (firewall.destination, firewall.port, "tcp")
        hit = [c for c in checks if (c["destination"], c["port"], c["protocol"]) == aim]
        assert {c["source"] for c in hit if c["outcome"] == firewall.outcome} == {firewall.source}
        assert any(c["outcome"] == "open" for c in hit)
    unreachable = [c for c in checks if c["source"] == down]
    assert unreachable and all(c["passed"] is False for c in unreachable)
    reason = unreachable[0]["evidence"]["note"]
    assert reason.startswith(f"{down}") and "ssh" in reason.lower(), reason
    # probes leave from the source host's own address, for hosts of one address per family
    for check in checks:
        if check["source"] == down or check["address"] is None:
            continue
        own = [
            str(n.network_address)
            for n in plan.hosts[check["source"]].addresses
            if n.num_addresses == 1
        ]
        if own and check["address"] not in ("127.0.0.1", "::1"):
            family = ":" in check["address"]
            mine = [a for a in own if (":" in a) == family]
            assert check["source_address"] == (mine[0] if mine else None), check


def test_unknown_inventory_hosts_are_named(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps({"all": {"hosts": {"shop01": {}, "admin-pc": {}, "cm-01": {}}}})
    )
    done = subprocess.run(
        [sys.executable, "-m", "portplan", "verify", str(EXAMPLES / "shopping-contoso.yaml"),
         "--inventory", str(inventory)],
        env=environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "deployment host 'clients' is not in the inventory" in done.stderr
    assert "deployment host 'cm01' is not in the inventory" in done.stderr
    assert "(did you mean 'cm-01'?)" in done.stderr
    assert "portplan_host: clients" in done.stderr
    assert "Traceback" not in done.stderr


PAIR = {
    "id": "pair",
    "name": "Pair",
    "version": "1",
    "document": {"title": "Pair ports"},
    "components": {"client": {"name": "Client"}, "server": {"name": "Server"}},
    "flows": [
        {"id": "web", "row": 1, "from": "client", "to": "server", "protocol": "tcp",
         "ports": "8080", "purpose": "the client reaches the server"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("setting", ["ansible.cfg", "relative-key"])
def test_ansible_runs_in_the_folder_verify_is_run_in(setting: str, tmp_path: Path) -> None:
    # an operator's Ansible project: the connection settings in ./ansible.cfg, or a key path
    # relative to the project folder; ansible-inventory reads them from there, and so must
    # ansible-playbook, or every source is source-unreachable (Permission denied)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pair.yaml").write_text(json.dumps(PAIR))
    client, server = IPv4Address("192.0.2.11"), IPv4Address("192.0.2.12")
    deployment = project / "deployment.yaml"
    deployment.write_text(
        json.dumps(
            {
                "name": "pair",
                "hosts": {"a": {"addresses": [str(client)]}, "b": {"addresses": [str(server)]}},
                "products": {
                    "pair": {"file": "pair.yaml", "components": {"client": "a", "server": "b"}}
                },
            }
        )
    )
    with netns.topology() as topo, sshlab.ssh_lab(tmp_path, SSH_PORT) as lab:
        a = topo.add_node("a", [client])
        topo.listen(topo.add_node("b", [server]), [("tcp", server, 8080)])
        topo.add_node(OUTSIDER, [IPv4Address("198.51.100.200")])
        lab.start(topo, a, client)
        written = yaml.safe_load(lab.inventory({"a": client}))
        settings = written["all"]["vars"]
        key = Path(settings.pop("ansible_ssh_private_key_file"))
        if setting == "ansible.cfg":
            (project / "ansible.cfg").write_text(f"[defaults]\nprivate_key_file = {key}\n")
        else:
            shutil.copy(key, project / "keys")
            settings["ansible_ssh_private_key_file"] = "keys"
        inventory = project / "inventory.yml"
        inventory.write_text(yaml.safe_dump(written))
        done = verify_inventory(topo, deployment, inventory, "--format", "json", cwd=project)
    assert "Traceback" not in done.stderr, done.stderr
    (check,) = machine.document(done.stdout, "verify")["checks"]
    assert (check["outcome"], check["passed"]) == ("open", True), check
    assert done.returncode == 0, done.stderr
