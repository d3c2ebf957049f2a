"""The example deployments (examples/) and the golden files (tests/golden/) tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from portplan import load_plan
from portplan.plan import Plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def example_plan(name: str) -> Plan:
    """The plan of ``examples/NAME.yaml``."""
    return load_plan(EXAMPLES / f"{name}.yaml")


def example_data(name: str) -> dict[str, Any]:
    """``examples/NAME.yaml`` as YAML data, a fresh copy to edit."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return data


def plan_from_data(data: dict[str, Any], directory: Path, name: str = "deployment") -> Plan:
    """The plan of a deployment given as YAML data, written to ``directory/NAME.yaml`` first."""
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_plan(path)


def fifty_host_deployment(directory: Path) -> Path:
    """A Shopping deployment of 50 hosts (RFC 5737 addresses, three zones): 34 client
    workstations, 5 administrators' PCs, two web servers, four domain controllers and the
    rest of the servers; written to ``directory/fifty.yaml``."""
    hosts: dict[str, Any] = {}
    for n in range(1, 35):
        hosts[f"ws{n:02d}"] = {"addresses": [f"198.51.100.{10 + n}"], "zone": "clients"}
    for n in range(1, 6):
        hosts[f"admin{n}"] = {"addresses": [f"203.0.113.{10 + n}"], "zone": "admin"}
    servers = ["shop01", "shop02", "sql01", "dc01", "dc02", "dc03", "dc04", "cm01", "cmsql01"]
    servers += ["mail01", "appclarity01"]
    for n, name in enumerate(servers, start=1):
        hosts[name] = {
            "addresses": [f"192.0.2.{10 + n}"],
            "zone": "servers",
            "platform": "windows-server-2019",
        }
    assert len(hosts) == 50
    data = {
        "name": "fifty",
        "hosts": hosts,
        "products": {
            "shopping-6.1": {
                "features": {"appclarity": True, "remote_admin_console": True},
                "components": {
                    "website": ["shop01", "shop02"],
                    "central_service": ["shop01", "shop02"],
                    "admin_console": [f"admin{n}" for n in range(1, 6)],
                    "receiver": "cm01",
                    "client": [f"ws{n:02d}" for n in range(1, 35)],
                    "shopping_database": "sql01",
                    "active_directory": ["dc01", "dc02", "dc03", "dc04"],
                    "cm_site_database": "cmsql01",
                    "sms_provider": "cm01",
                    "smtp_gateway": "mail01",
                    "pop3_server": "mail01",
                    "appclarity": "appclarity01",
                },
            }
        },
    }
    path = directory / "fifty.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def hostile_deployment(
    directory: Path,
    *,
    deployment: str = "hostile",
    product: str = "Hostile",
    version: str = "1.0",
    component: str = "Web",
    purpose: str = "Database access.",
    title: str = "Hostile doc",
    ports: int = 5432,
    zones: tuple[str, str] = ("servers", "data"),
    name: str = "deployment",
) -> Path:
    """A one-flow deployment (web → db, TCP) whose free text is the caller's: the text of a
    vendor document or an operator, which must never change the structure of an output.
    The product is written beside it; returns ``directory/NAME.yaml``."""
    product_id = "hostile-1.0"  # the id stays when the version changes, as in the catalog
    product_data = {
        "id": product_id,
        "name": product,
        "version": version,
        "document": {"title": title},
        "components": {"web": {"name": component}, "db": {"name": "DB"}},
        "flows": [
            {"id": "web-db", "row": 1, "from": "web", "to": "db", "protocol": "tcp",
             "ports": ports, "purpose": purpose},
        ],
    }  # fmt: skip
    (directory / f"{name}-product.yaml").write_text(yaml.safe_dump(product_data, sort_keys=False))
    data = {
        "name": deployment,
        "hosts": {
            "web01": {"addresses": ["192.0.2.10"], "zone": zones[0]},
            "db01": {"addresses": ["192.0.2.20"], "zone": zones[1]},
        },
        "products": {
            product_id: {
                "file": f"{name}-product.yaml",
                "components": {"web": "web01", "db": "db01"},
            }
        },
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
