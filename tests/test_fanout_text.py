"""The deployment's text reaches Ansible as text: a product whose document title holds Jinja2
(``{{ lookup('env', 'HOME') }}``) must never have it rendered on the controller.  The real
planning of ``verify --inventory`` (its overlay and its task's arguments), and real
ansible-playbook on a local connection, in place of the probe module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

import examples
from ansible_env import environment, tool
from portplan.fanout.playbook import decoded, plays
from portplan.fanout.run import _overlay
from portplan.fanout.work import plan_fanout
from portplan.load.inventory import read_inventory

TITLE = "Doc {{ 7*7 }} {{ lookup('env', 'HOME') }} {% if true %}x{% endif %} 1e3"


def test_a_template_in_the_products_text_is_never_rendered(tmp_path: Path) -> None:
    shutil.copytree(examples.EXAMPLES / "products", tmp_path / "products")
    product = tmp_path / "products" / "example-search-2.0.yaml"
    text = product.read_text()
    product.write_text(
        text.replace("title: Example Search 2.0 - Network ports", f"title: {TITLE!r}")
    )
    plan = examples.plan_from_data(examples.example_data("search-cluster"), tmp_path)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"hosts": {"dash": {**local, "portplan_host": "dash01"}}}})
    )
    fanout = plan_fanout(plan, read_inventory(inventory), where=str(inventory), limit="dash")
    (work,) = fanout.sources.values()
    assert any(TITLE in json.dumps(r) for r in work.requests)
    overlay = tmp_path / "overlay.json"
    overlay.write_text(json.dumps(_overlay(fanout)))
    # the probe task's own arguments, given to a copy instead of the probe module
    made = plays(fanout, "/tmp/x", probe_options={}, overlay=overlay.name)
    (play,) = [p for p in made if "probe" in p["name"]]
    (task,) = [t for t in play["tasks"] if t["name"] == "probe"]
    probes = next(v for v in task.values() if isinstance(v, dict))["probes"]
    assert probes == decoded("portplan_probes")
    out = tmp_path / "given.json"
    play["tasks"] = [
        {
            "ansible.builtin.copy": {
                "content": probes.replace("}}", "| to_json }}"),
                "dest": str(out),
            }
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play]))
    done = subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), "-i", str(overlay),
         str(tmp_path / "play.yml")],
        capture_output=True, text=True, timeout=120, check=False, env=environment(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text()) == work.requests  # as planned: nothing rendered
