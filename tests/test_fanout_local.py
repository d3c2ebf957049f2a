"""``verify --inventory`` through real Ansible on a local connection: two deployment hosts on
loopback addresses, each an inventory host that is this machine.  What the run leaves behind
on the hosts (listener files, Ansible's async job files) is checked here; the SSH fan-out
itself is tested in test_verify_inventory.py."""

from __future__ import annotations

import base64
import contextlib
import gc
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import yaml

import netns
import portplan.fanout.run as run_module
from ansible_env import COLLECTIONS, environment
from machine import document
from portplan import __version__, load_plan
from portplan._errors import ToolError
from portplan.fanout import FanoutRun, verify_inventory
from portplan.probe.outcomes import Outcome

#: seconds the listener a run started may take to stop once the run is over
STOP_WAIT = 15.0
#: seconds a stuck host's interpreter sleeps, and the test waits for the run to end
HUNG_SLEEP = 90
HUNG_WAIT = 45.0

PRODUCT = {
    "id": "pair",
    "name": "Pair",
    "version": "1",
    "document": {"title": "Pair ports"},
    "components": {"client": {"name": "Client"}, "server": {"name": "Server"}},
    "flows": [
        {"id": "web", "row": 1, "from": "client", "to": "server", "protocol": "tcp",
         "ports": "PORT", "purpose": "the client reaches the server"},
    ],
}  # fmt: skip


@pytest.fixture
def port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        found: int = probe.getsockname()[1]
    return found


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of the test's own for Ansible's async job files (ANSIBLE_ASYNC_DIR)."""
    path = tmp_path / "async"
    monkeypatch.setenv("ANSIBLE_ASYNC_DIR", str(path))
    return path


def _lab(tmp_path: Path, port: int) -> tuple[Path, Path]:
    (tmp_path / "pair.yaml").write_text(
        yaml.safe_dump(PRODUCT, sort_keys=False).replace("PORT", str(port))
    )
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "name": "pair",
                "hosts": {"a": {"addresses": ["127.0.0.2"]}, "b": {"addresses": ["127.0.0.3"]}},
                "products": {
                    "pair": {"file": "pair.yaml", "components": {"client": "a", "server": "b"}}
                },
            },
            sort_keys=False,
        )
    )
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"a": local, "b": local}}}))
    return deployment, inventory


def _both_ways(tmp_path: Path, port: int) -> None:
    """The pair's product with a flow back from the server: b is a source too."""
    product = dict(PRODUCT, flows=[
        *PRODUCT["flows"],
        {"id": "back", "row": 2, "from": "server", "to": "client", "protocol": "tcp",
         "ports": "PORT", "purpose": "the server calls back"},
    ])  # fmt: skip
    (tmp_path / "pair.yaml").write_text(
        yaml.safe_dump(product, sort_keys=False).replace("PORT", str(port))
    )


def _free(port: int) -> bool:
    with socket.socket() as again:
        try:
            again.bind(("127.0.0.3", port))
        except OSError:
            return False
    return True


def test_listeners_leave_nothing_behind(tmp_path: Path, jobs: Path, port: int) -> None:
    deployment, inventory = _lab(tmp_path, port)
    before = set(Path("/tmp").glob("portplan-listen-*"))
    run = verify_inventory(load_plan(deployment), inventory, listeners=True, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.OPEN and check.temporary_listener, check
    assert run.listener_problems == []
    ends = time.monotonic() + STOP_WAIT
    while not _free(port) and time.monotonic() < ends:
        time.sleep(0.2)
    assert _free(port), "the temporary listener is still up"
    assert set(Path("/tmp").glob("portplan-listen-*")) == before
    left = sorted(p.name for p in jobs.iterdir()) if jobs.exists() else []
    assert left == [], f"Ansible's async job files left in {jobs}"


def test_a_source_whose_probe_never_ends_is_not_run_in_bounded_time(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # host a's Python never answers (an interpreter that sleeps): its probe task ends at the
    # deadline plus the grace, not never, and its probes are not-run with Ansible's reason
    deployment, inventory = _lab(tmp_path, port)
    pid_file = tmp_path / "stuck.pid"
    stuck = tmp_path / "stuck-python"
    stuck.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep {HUNG_SLEEP}\n")
    stuck.chmod(0o755)
    hosts = yaml.safe_load(inventory.read_text())
    hosts["all"]["hosts"]["a"]["ansible_python_interpreter"] = str(stuck)
    inventory.write_text(yaml.safe_dump(hosts))
    monkeypatch.setattr(run_module, "PROBE_GRACE", 3)
    found: list[object] = []
    worker = threading.Thread(
        target=lambda: found.append(
            verify_inventory(load_plan(deployment), inventory, timeout=0.5, deadline=1)
        ),
        daemon=True,
    )
    try:
        worker.start()
        worker.join(HUNG_WAIT)
        assert not worker.is_alive(), f"verify --inventory still runs after {HUNG_WAIT} s"
    finally:
        if pid_file.exists():  # the sleep this test started, by its id
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        worker.join(HUNG_WAIT)
    (run,) = found
    assert isinstance(run, FanoutRun)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.NOT_RUN and not check.passed
    assert check.result is not None and check.result.evidence.note is not None
    assert check.result.evidence.note.startswith("a: "), check.result.evidence.note
    assert "Timed out after 4 second" in check.result.evidence.note  # deadline 1, grace 3


@pytest.mark.parametrize("secret", [b"open", b"127"])
def test_a_radius_secret_found_in_the_results_does_not_mask_them(
    tmp_path: Path, jobs: Path, port: int, secret: bytes
) -> None:
    # Ansible hides a no_log value wherever it occurs in a module's result: a secret such as
    # "open" or "127" must not hide the outcome or the address the host reports
    deployment, inventory = _lab(tmp_path, port)
    with socket.socket() as server:
        server.bind(("127.0.0.3", port))
        server.listen()
        run = verify_inventory(
            load_plan(deployment), inventory, timeout=0.5, secrets={"radius": secret}
        )
    (check,) = run.verification.checks
    assert (check.outcome, check.probe.address, check.probe.port) == (
        Outcome.OPEN,
        "127.0.0.3",
        port,
    )
    assert check.passed


def test_the_radius_secret_is_in_no_log_of_ansible(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an operator's Ansible that shows each task's arguments (ANSIBLE_DISPLAY_ARGS_TO_STDOUT)
    # and keeps its output (ANSIBLE_LOG_PATH): neither the secret nor the sealed text it
    # travels in (base64, readable by anyone) may be written there
    deployment, inventory = _lab(tmp_path, port)
    log = tmp_path / "ansible.log"
    monkeypatch.setenv("ANSIBLE_DISPLAY_ARGS_TO_STDOUT", "true")
    monkeypatch.setenv("ANSIBLE_LOG_PATH", str(log))
    secret = b"radius-shared-secret"
    run = verify_inventory(
        load_plan(deployment), inventory, timeout=0.5, secrets={"radius": secret}
    )
    (check,) = run.verification.checks
    assert check.outcome is Outcome.REFUSED, check
    text = log.read_text()
    assert "TASK [probe" in text  # the log holds the task's banner
    assert secret.decode() not in text
    for word in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", text):
        with contextlib.suppress(ValueError):
            assert secret not in base64.b64decode(word), f"the sealed secret is in the log: {word}"


def test_an_ansible_that_hides_every_result_still_reports_the_probes(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an operator's Ansible with no_log on by default (ANSIBLE_NO_LOG, or no_log in
    # ansible.cfg) hides every task's result from callbacks: the probe's and the listeners'
    # reports must still reach portplan, not read as a collection too old to say its engine
    deployment, inventory = _lab(tmp_path, port)
    monkeypatch.setenv("ANSIBLE_NO_LOG", "true")
    run = verify_inventory(load_plan(deployment), inventory, listeners=True, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.OPEN and check.temporary_listener, check
    assert check.passed
    assert run.listener_problems == []


def test_an_ansible_that_asks_for_passwords_does_not_wait_for_them(
    tmp_path: Path, jobs: Path, port: int
) -> None:
    # an operator's Ansible set to ask for passwords (ANSIBLE_ASK_PASS, or become_ask_pass
    # in ansible.cfg): ansible-playbook runs with no one to answer, and its prompt waited for
    # ever; Ansible now asks nothing, and a host that needs a password fails with its reason
    deployment, inventory = _lab(tmp_path, port)
    asking = {"ANSIBLE_ASK_PASS": "true", "ANSIBLE_BECOME_ASK_PASS": "true"}
    with socket.socket() as server:
        server.bind(("127.0.0.3", port))
        server.listen()
        process = subprocess.Popen(
            [sys.executable, "-m", "portplan", "verify", str(deployment),
             "--inventory", str(inventory), "--timeout", "0.5", "--format", "json"],
            env=environment(**asking), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            out, err = process.communicate(timeout=HUNG_WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started
            process.communicate()
            pytest.fail(f"verify --inventory still waits after {HUNG_WAIT} s")
    assert process.returncode == 0, err
    (check,) = document(out, "verify")["checks"]
    assert (check["outcome"], check["passed"]) == ("open", True), check


def test_a_limited_run_lists_the_sources_it_left_out(tmp_path: Path, jobs: Path, port: int) -> None:
    # b also starts a flow; --limit a leaves b out: its row is in the report, not probed,
    # outside the limit, and standard error says how many sources were left out
    deployment, inventory = _lab(tmp_path, port)
    product = dict(PRODUCT, flows=[
        *PRODUCT["flows"],
        {"id": "back", "row": 2, "from": "server", "to": "client", "protocol": "tcp",
         "ports": "PORT", "purpose": "the server calls back"},
    ])  # fmt: skip
    (tmp_path / "pair.yaml").write_text(
        yaml.safe_dump(product, sort_keys=False).replace("PORT", str(port))
    )
    with socket.socket() as server:
        server.bind(("127.0.0.3", port))
        server.listen()
        done = subprocess.run(
            [sys.executable, "-m", "portplan", "verify", str(deployment),
             "--inventory", str(inventory), "--limit", "a", "--timeout", "0.5",
             "--format", "json"],
            env=environment(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "portplan: warning: --limit a left out 1 source host (b): their flows are listed as "
        "not probed, not verified"
    ) in done.stderr
    report = document(done.stdout, "verify")
    assert [(c["flow"], c["source"], c["outcome"]) for c in report["checks"]] == [
        ("pair/web", "a", "open")
    ]
    assert report["not_probed"] == [
        {
            "flow": "pair/back",
            "source": "b",
            "destination": "a",
            "reason": "from b, which --limit a leaves out: not verified in this run (widen "
            "--limit, or leave it out, to verify it)",
        }
    ]


@pytest.mark.parametrize("limit", ["", " "])
def test_an_empty_limit_is_refused(tmp_path: Path, jobs: Path, port: int, limit: str) -> None:
    # --limit "$HOSTS" with HOSTS empty: Ansible is given no pattern (every host), and a
    # source the inventory lacks (a) was taken as one the limit left out: never probed, the
    # run exited 0 where, without --limit, the missing host is an error
    deployment, inventory = _lab(tmp_path, port)
    _both_ways(tmp_path, port)
    hosts = yaml.safe_load(inventory.read_text())
    del hosts["all"]["hosts"]["a"]
    inventory.write_text(yaml.safe_dump(hosts))
    done = subprocess.run(
        [sys.executable, "-m", "portplan", "verify", str(deployment),
         "--inventory", str(inventory), "--limit", limit, "--timeout", "0.5"],
        env=environment(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("portplan: error: --limit "), done.stderr
    assert "host pattern" in done.stderr and "leave --limit out" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_ctrl_c_reports_the_sources_that_answered_and_restores_the_signal_handlers(
    tmp_path: Path, jobs: Path, port: int
) -> None:
    # a answers at once, c's interpreter never does: Ctrl-C once a has reported ends the run
    # with a's result and c's probes unfinished (ansible-runner cancelled the run, said
    # "status canceled" and reported nothing, and kept its SIGINT and SIGTERM handlers)
    deployment, inventory = _lab(tmp_path, port)
    data = yaml.safe_load(deployment.read_text())
    data["hosts"]["c"] = {"addresses": ["127.0.0.4"]}
    data["products"]["pair"]["components"]["client"] = ["a", "c"]
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    pid_file = tmp_path / "stuck.pid"
    stuck = tmp_path / "stuck-python"
    stuck.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep {HUNG_SLEEP}\n")
    stuck.chmod(0o755)
    hosts = yaml.safe_load(inventory.read_text())
    hosts["all"]["hosts"]["c"] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": str(stuck),
    }
    inventory.write_text(yaml.safe_dump(hosts))
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    pressed: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and not pressed:  # a has reported: the operator presses Ctrl-C
            pressed.append(done)
            signal.raise_signal(signal.SIGINT)

    started = time.monotonic()
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.3", port))
            server.listen()
            run = verify_inventory(
                load_plan(deployment),
                inventory,
                timeout=0.5,
                deadline=HUNG_SLEEP,
                progress=progress,
            )
    finally:
        if pid_file.exists():  # the sleep this test started, by its id
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert time.monotonic() - started < HUNG_WAIT
    assert pressed == [1]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert run.verification.interrupted
    by_source = {c.row.source: c for c in run.verification.checks}
    assert by_source["a"].outcome is Outcome.OPEN and by_source["a"].passed
    unfinished = by_source["c"]
    assert unfinished.outcome is Outcome.UNFINISHED and not unfinished.passed
    assert unfinished.result is not None
    assert (
        unfinished.result.evidence.note == "c: not reported: the run was interrupted first (Ctrl-C)"
    )


def _garble(tmp_path: Path, inventory: Path, code: str) -> None:
    """Host a's Python answers with the module's result changed by ``code`` (on ``d``)."""
    script = f"import json, sys\nd = json.load(sys.stdin)\n{code}\nprint(json.dumps(d))"
    (tmp_path / "garble.py").write_text(script)
    garbling = tmp_path / "garbling-python"
    garbling.write_text(
        f'#!/bin/sh\n{sys.executable} "$@" | {sys.executable} {tmp_path}/garble.py\n'
    )
    garbling.chmod(0o755)
    hosts = yaml.safe_load(inventory.read_text())
    # a's own variables (the inventory writes a's and b's as one YAML alias)
    hosts["all"]["hosts"]["a"] = {
        **hosts["all"]["hosts"]["a"],
        "ansible_python_interpreter": str(garbling),
    }
    inventory.write_text(yaml.safe_dump(hosts))


#: what a host's interpreter does to the probe module's answer before Ansible reads it
GARBLE = {
    "record-without-evidence": "for c in d['checks']: c.pop('evidence')",
    "unknown-outcome": "for c in d['checks']: c['outcome'] = 'wide-open'",
    "checks-not-a-list": "d['checks'] = 'open'",
    "records-not-objects": "d['checks'] = ['open' for c in d['checks']]",
    "elapsed-not-a-number": "d['elapsed'] = 'fast'",
}


def _garbled_run(tmp_path: Path, port: int, code: str) -> subprocess.CompletedProcess[str]:
    """``verify --inventory --format json`` of the lab, both ways, with a and b listening and
    a's module answer changed by ``code`` (see :func:`_garble`)."""
    deployment, inventory = _lab(tmp_path, port)
    _both_ways(tmp_path, port)
    _garble(tmp_path, inventory, code)
    with socket.socket() as server_b, socket.socket() as server_a:
        server_b.bind(("127.0.0.3", port))
        server_b.listen()
        server_a.bind(("127.0.0.2", port))
        server_a.listen()
        return subprocess.run(
            [sys.executable, "-m", "portplan", "verify", str(deployment),
             "--inventory", str(inventory), "--timeout", "0.5", "--format", "json"],
            env=environment(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


@pytest.mark.parametrize("garble", sorted(GARBLE))
def test_a_source_that_returns_a_malformed_result_is_not_run(
    tmp_path: Path, jobs: Path, port: int, garble: str
) -> None:
    # a's Python answers with JSON Ansible reads, but not what the probe module returns
    # (another version of the collection, a broken host): a's probes are not-run with the
    # reason, b's result stands, and the run exits 1 with a report, not a traceback
    done = _garbled_run(tmp_path, port, GARBLE[garble])
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    report = document(done.stdout, "verify")
    by_source = {c["source"]: c for c in report["checks"]}
    assert sorted(by_source) == ["a", "b"]
    assert (by_source["b"]["outcome"], by_source["b"]["passed"]) == ("open", True), by_source["b"]
    broken = by_source["a"]
    assert (broken["outcome"], broken["passed"]) == ("not-run", False)
    note = broken["evidence"]["note"]
    assert note.startswith("a: returned a malformed result"), note


def _other_collection(tmp_path: Path, version: str) -> Path:
    """A copy of the collection whose engine is portplan ``version``'s; the directory that
    holds its ``ansible_collections``."""
    root = tmp_path / "collections"
    shutil.copytree(
        COLLECTIONS / "ansible_collections" / "portplan" / "portplan",
        root / "ansible_collections" / "portplan" / "portplan",
        ignore=shutil.ignore_patterns("tests", "__pycache__"),
    )
    engine = root / "ansible_collections/portplan/portplan/plugins/module_utils/engine"
    stamp = engine / "_version.py"
    text = stamp.read_text()
    assert f'__version__ = "{__version__}"' in text
    stamp.write_text(text.replace(f'"{__version__}"', f'"{version}"'))
    return root


def test_a_collection_of_another_engine_is_refused(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the controller finds another portplan's collection (an older one installed with
    # ansible-galaxy): its records still parse, but an older engine's probes (bugs fixed
    # since) must not decide the verdict; a's probes are not-run naming both versions and
    # the fix, and the listeners' report of that engine is not read as this one's
    deployment, inventory = _lab(tmp_path, port)
    monkeypatch.setattr(run_module, "_CHECKOUT_COLLECTIONS", _other_collection(tmp_path, "0.1.0"))
    run = verify_inventory(load_plan(deployment), inventory, listeners=True, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.NOT_RUN and not check.passed, check
    assert check.result is not None and check.result.evidence.note is not None
    note = check.result.evidence.note
    assert note.startswith("a: ran the collection portplan.portplan of portplan 0.1.0"), note
    assert f"this is portplan {__version__}" in note, note
    assert "ansible-galaxy collection install" in note, note
    (problem,) = run.listener_problems
    assert problem.startswith("listeners on b (b): ran the collection portplan.portplan of "
                              "portplan 0.1.0"), problem  # fmt: skip
    ends = time.monotonic() + STOP_WAIT
    while not _free(port) and time.monotonic() < ends:
        time.sleep(0.2)
    assert _free(port), "the temporary listener is still up"


def test_an_installed_collection_is_found_where_ansible_cfg_says(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # portplan installed (not run from a checkout), and its collection installed with
    # ansible-galaxy where the project's ansible.cfg says (collections_path): ansible-playbook
    # looked only in Ansible's default folders, and could not find the probe module
    deployment, inventory = _lab(tmp_path, port)
    project = tmp_path / "project"
    shutil.copytree(COLLECTIONS / "ansible_collections", project / "found" / "ansible_collections")
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = ./found\n")
    monkeypatch.chdir(project)
    monkeypatch.delenv("ANSIBLE_COLLECTIONS_PATH", raising=False)
    monkeypatch.setattr(run_module, "_CHECKOUT_COLLECTIONS", tmp_path / "not-a-checkout")
    with socket.socket() as server:
        server.bind(("127.0.0.3", port))
        server.listen()
        run = verify_inventory(load_plan(deployment), inventory, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.OPEN and check.passed, check


def test_a_ready_file_not_the_listen_module_s_report_is_a_listener_problem(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a ready file whose failed listeners are not a list of items (garbled on the way, or
    # not the module's) ended the run in a traceback (a string's item['address'])
    deployment, inventory = _lab(tmp_path, port)
    root = _other_collection(tmp_path, __version__)
    module = root / "ansible_collections/portplan/portplan/plugins/modules/listen.py"
    text = module.read_text()
    written = '"failed_listeners": [_item(b, why) for b, why in failed],'
    assert written in text
    module.write_text(text.replace(written, '"failed_listeners": "garbled",'))
    monkeypatch.setattr(run_module, "_CHECKOUT_COLLECTIONS", root)
    run = verify_inventory(load_plan(deployment), inventory, listeners=True, timeout=0.5)
    (check,) = run.verification.checks
    assert check.outcome is Outcome.OPEN and check.passed, check  # the listener answered
    assert list(run.listener_problems) == [
        "listeners on b (b): their ready file is not the listen module's report; which "
        "listeners could not open is not known",
    ]


def test_a_collection_too_old_to_say_its_engine_is_refused(
    tmp_path: Path, jobs: Path, port: int
) -> None:
    # a collection from before the modules reported their engine's version: a's probes are
    # not-run (exit 1), b's result stands
    done = _garbled_run(tmp_path, port, "d.pop('engine_version', None)")
    assert done.returncode == 1, done.stderr
    by_source = {c["source"]: c for c in document(done.stdout, "verify")["checks"]}
    assert (by_source["b"]["outcome"], by_source["b"]["passed"]) == ("open", True), by_source["b"]
    old = by_source["a"]
    assert (old["outcome"], old["passed"]) == ("not-run", False)
    note = old["evidence"]["note"]
    assert note.startswith("a: ran a collection portplan.portplan too old to say"), note
    assert f"this is portplan {__version__}" in note, note
    assert "ansible-galaxy collection install" in note, note


#: a dynamic inventory that answers portplan's read, then (ansible-playbook's read) fails or
#: holds b alone: a cloud API that went down, or an instance gone, in between
CHANGING_INVENTORY = """\
import json, sys
from pathlib import Path
calls = Path(__file__).with_name("calls")
n = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(n + 1))
if n and WHEN == "down":
    sys.exit("the inventory service is down")
local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
hosts = {"127.0.0.2": dict(local, portplan_host="a"), "127.0.0.3": dict(local, portplan_host="b")}
if n:
    del hosts["127.0.0.2"]
print(json.dumps({"all": {"hosts": list(hosts)}, "_meta": {"hostvars": hosts}}))
"""


@pytest.mark.netns
@pytest.mark.parametrize("when", ["down", "changed"])
def test_a_host_the_inventory_no_longer_holds_is_not_reached_by_its_name(
    tmp_path: Path, port: int, when: str
) -> None:
    # ansible-playbook reads the inventory again; a host portplan read but Ansible no longer
    # finds there was still a host (portplan's own variables name it), reached by its bare
    # name over SSH with none of the inventory's settings: another machine, maybe. In a
    # namespace of the test's own (nothing but lo), so no SSH leaves it
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(reason)
    deployment, _ = _lab(tmp_path, port)
    _both_ways(tmp_path, port)
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"#!{sys.executable}\nWHEN = {when!r}\n" + CHANGING_INVENTORY)
    inventory.chmod(0o755)
    with netns.namespace() as namespace:
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-m", "portplan", "verify",
             str(deployment), "--inventory", str(inventory), "--listen", "--timeout", "0.5",
             "--format", "json"],
            env=environment(ANSIBLE_ASYNC_DIR=str(tmp_path / "async")),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "calls").read_text() == "2"
    by_source = {c["source"]: c for c in document(done.stdout, "verify")["checks"]}
    gone = by_source["a"]
    assert (gone["outcome"], gone["passed"]) == ("not-run", False)
    note = gone["evidence"]["note"]
    assert note.startswith("127.0.0.2: not in the inventory when ansible-playbook read it"), note
    assert "ssh" not in note.lower(), note
    assert f"warning: listeners on a (127.0.0.2): {note.split(': ', 1)[1]}" in done.stderr
    held = by_source["b"]
    if when == "down":
        assert held["outcome"] == "not-run", held
        assert held["evidence"]["note"].startswith("127.0.0.3: not in the inventory"), held
    else:  # b is still there: probed (nothing listens on a's address in the namespace)
        assert held["outcome"] == "refused", held


def test_a_playbook_that_fails_before_any_source_reports_says_what_it_printed(
    tmp_path: Path, jobs: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a play Ansible refuses before any task runs (a strategy it does not know): the error
    # quotes the end of what ansible-playbook printed, read from ansible-runner's folder;
    # it was read through a handle never closed (a ResourceWarning)
    deployment, inventory = _lab(tmp_path, port)
    monkeypatch.setenv("ANSIBLE_STRATEGY", "no-such-strategy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with pytest.raises(ToolError, match=r"before any source reported: .*no-such-strategy"):
            verify_inventory(load_plan(deployment), inventory, timeout=0.5)
        gc.collect()  # an unclosed file's warning comes when it is collected
