"""What ``verify --expect-blocked`` plans to probe, worked out from the plan alone (nothing is
sent): only addresses a probe may go to, each from the source host as the firewalls see it."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml

from portplan import load_plan
from portplan.probe.blocked import blocked_probes

PRODUCT: dict[str, Any] = {
    "id": "edges",
    "name": "Edges",
    "version": "1",
    "document": {"title": "Edges ports"},
    "components": {
        "client": {"name": "Client", "kind": "client"},
        "server": {"name": "Server"},
    },
    "flows": [
        {"id": "web", "row": 1, "from": "client", "to": "server", "protocol": "tcp",
         "ports": 8080, "purpose": "pages"},
        {"id": "radius", "row": 2, "from": "client", "to": "server", "protocol": "udp",
         "ports": 1812, "purpose": "authentication"},
    ],
}  # fmt: skip


def _plan(tmp_path: Path, deployment: dict[str, Any]) -> Any:
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(PRODUCT))
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment))
    return load_plan(path)


def test_special_purpose_addresses_are_never_probed_as_expected_blocked(tmp_path: Path) -> None:
    # a broadcast or multicast address names no machine: verify never probes it (and a UDP
    # datagram to a broadcast address fails here with EACCES, which reads as "rejected")
    plan = _plan(
        tmp_path,
        {
            "name": "special",
            "hosts": {
                "client": {"addresses": ["127.0.0.2"]},
                "server": {"addresses": ["127.0.0.3"]},
                "everyone": {"special": ["broadcast"], "addresses": ["255.255.255.255"]},
                "group": {"special": ["multicast"], "addresses": ["224.0.0.251"]},
            },
            "forbidden": [
                {"id": "mdns", "from": "client", "to": ["group", "everyone"], "protocol": "udp",
                 "ports": 5353, "purpose": "no discovery"},
            ],
            "products": {
                "edges": {
                    "file": "product.yaml",
                    "components": {"client": "client", "server": ["server", "everyone", "group"]},
                }
            },
        },
    )  # fmt: skip
    probes = list(blocked_probes(plan, "client", {ipaddress.ip_address("127.0.0.2")}))
    assert probes
    assert {p.address for _row, p, _why in probes} == {"127.0.0.3"}
