"""`portplan verify` between the members of a cluster, each member a network namespace of its own.

A cluster host of three members (`cluster: true`, one address each) runs a component whose
members reach each other over TCP and ping each other.  The real CLI runs in each member's
namespace with only `--on nodes`: it must find the member it is from its own address, probe
the two others from that address, and never itself.  Every address is a documentation address
on a namespace this test made.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import machine
import netns

pytestmark = pytest.mark.netns

MEMBERS = {"n1": "192.0.2.31", "n2": "192.0.2.32", "n3": "192.0.2.33"}
GOSSIP_PORT = 7946


def _deployment(directory: Path) -> Path:
    product = {
        "id": "mesh-lab",
        "name": "Mesh lab",
        "version": "1",
        "document": {"title": "Mesh lab ports"},
        "components": {"node": {"name": "Node"}},
        "flows": [
            {"id": "gossip", "row": 1, "from": "node", "to": "node", "protocol": "tcp",
             "ports": GOSSIP_PORT, "purpose": "members exchange state"},
            {"id": "health", "row": 2, "from": "node", "to": "node", "protocol": "icmp",
             "purpose": "members ping each other"},
        ],
    }  # fmt: skip
    (directory / "mesh-lab.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    deployment = {
        "name": "mesh-lab",
        "hosts": {"nodes": {"addresses": sorted(MEMBERS.values()), "cluster": True}},
        "products": {"mesh-lab": {"file": "mesh-lab.yaml", "components": {"node": "nodes"}}},
    }
    path = directory / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[netns.Topology, dict[str, netns.Node], Path]]:
    with netns.guard(), netns.topology() as topo:
        nodes = {
            name: topo.add_node(name, [ipaddress.ip_address(address)])
            for name, address in MEMBERS.items()
        }
        for name, node in nodes.items():
            topo.listen(node, [("tcp", ipaddress.ip_address(MEMBERS[name]), GOSSIP_PORT)])
        yield topo, nodes, _deployment(tmp_path_factory.mktemp("mesh"))


def _verify(node: netns.Node, deployment: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            "ip", "netns", "exec", node.netns, sys.executable, "-m", "portplan", "verify",
            str(deployment), "--on", "nodes", "--timeout", "0.5", "--format", "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return machine.document(done.stdout, "verify")


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_each_member_probes_the_others_from_its_own_address(
    lab: tuple[netns.Topology, dict[str, netns.Node], Path], member: str
) -> None:
    _topo, nodes, deployment = lab
    report = _verify(nodes[member], deployment)
    others = sorted(a for name, a in MEMBERS.items() if name != member)
    seen = sorted(
        (c["flow"], c["address"], c["source_address"], c["outcome"]) for c in report["checks"]
    )
    assert seen == sorted(
        [("mesh-lab/gossip", a, MEMBERS[member], "open") for a in others]
        + [("mesh-lab/health", a, MEMBERS[member], "open") for a in others]
    )
    assert report["not_probed"] == []
    assert (report["passed"], report["failed"]) == (4, 0)
