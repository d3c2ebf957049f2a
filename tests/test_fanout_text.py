"""The deployment's text reaches Ansible as text: a product whose document title holds Jinja2
(``{{ lookup('env', 'HOME') }}``) must never have it rendered on the controller.  The real
planning of ``verify --inventory`` (its overlay and its task's arguments), and real
ansible-playbook on a local connection, in place of the probe module."""

from __future__ import annotations

import json
import shutil
import socket
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
    overlay.write_text(json.dumps(_overlay(fanout, tag="t")))
    # the probe task's own arguments, given to a copy instead of the probe module
    made = plays(fanout, "/tmp/x", probe_options={}, tag="t")
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


def test_a_template_in_an_inventory_host_name_is_never_rendered(tmp_path: Path) -> None:
    # an inventory host's name is the inventory's text too (a dynamic inventory names hosts
    # after cloud tags): written into the playbook's `hosts:`, Ansible rendered it, and ran
    # its lookup on the controller
    touched = tmp_path / "rendered"
    with socket.socket() as free:
        free.bind(("127.0.0.3", 0))
        port = free.getsockname()[1]
    name = f"a{{{{ lookup('pipe', 'touch {touched}') }}}}"
    (tmp_path / "pair.yaml").write_text(
        "id: pair\nname: Pair\nversion: '1'\ndocument: {title: Pair ports}\n"
        "components: {client: {name: Client}, server: {name: Server}}\n"
        f"flows:\n  - {{id: web, row: 1, from: client, to: server, protocol: tcp, ports: {port},\n"
        "     purpose: the client reaches the server}\n"
    )
    (tmp_path / "deployment.yaml").write_text(
        "name: pair\nhosts: {a: {addresses: [127.0.0.2]}, b: {addresses: [127.0.0.3]}}\n"
        "products: {pair: {file: pair.yaml, components: {client: a, server: b}}}\n"
    )
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"hosts": {name: {**local, "portplan_host": "a"}, "b": local}}})
    )
    done = subprocess.run(
        [sys.executable, "-m", "portplan", "verify", str(tmp_path / "deployment.yaml"),
         "--inventory", str(inventory), "--listen", "--timeout", "0.5", "--format", "json"],
        env=environment(ANSIBLE_ASYNC_DIR=str(tmp_path / "async")),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert not touched.exists(), "the host name's template ran on the controller"
    assert done.returncode == 0, done.stdout + done.stderr
    (check,) = json.loads(done.stdout)["checks"]
    assert (check["source"], check["outcome"], check["temporary_listener"]) == ("a", "open", True)
