"""Kubernetes: the policies are YAML that kubectl reads as portplan wrote it.

kubectl reads YAML as go-yaml does (YAML 1.1): a plain ``y``, ``on`` or ``1e3`` is a boolean
or a number there, and a label value or a namespace must be text, so the policy would be
refused.  Such text is quoted; what needs no quotes stays as it was (the goldens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from portplan import load_plan
from portplan.targets import RuleOptions, get_target

PRODUCT = {
    "id": "kq-1.0",
    "name": "KQ",
    "version": "1.0",
    "document": {"title": "KQ ports"},
    "components": {"front": {"name": "Front"}, "api": {"name": "API"}},
    "flows": [
        {"id": "front-api", "row": 1, "from": "front", "to": "api", "protocol": "tcp",
         "ports": 9090, "purpose": "front calls api"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("value", ["y", "N", "on", "off", "true", "null", "1e3", "0x1f", "1_000"])
def test_text_go_yaml_would_read_otherwise_is_quoted(tmp_path: Path, value: str) -> None:
    (tmp_path / "product.yaml").write_text(yaml.safe_dump(PRODUCT, sort_keys=False))
    hosts = {
        name: {
            "addresses": ["192.0.2.0/28" if name == "front" else "192.0.2.16/28"],
            "kubernetes": {"cluster": "prod", "namespace": "shop", "pod_labels": labels},
        }
        for name, labels in (("front", {"app": "web"}), ("api", {"app": "api", "ver": value}))
    }
    deployment = {
        "name": "k8s-yaml",
        "hosts": hosts,
        "products": {
            "kq-1.0": {"file": "product.yaml", "components": {"front": "front", "api": "api"}}
        },
    }
    path = tmp_path / "deploy.yaml"
    path.write_text(json.dumps(deployment))  # JSON is YAML, and every value in it is text
    text = get_target("kubernetes").render(load_plan(path), RuleOptions())["prod.yaml"]
    assert f"ver: '{value}'" in text
    policies = [d for d in yaml.safe_load_all(text) if d]
    (api,) = [p for p in policies if p["metadata"]["name"] == "portplan-api"]
    assert api["spec"]["podSelector"]["matchLabels"] == {"app": "api", "ver": value}
    assert "app: api" in text and "app: web" in text  # plain text stays plain
