"""The Ansible collection: its prober is the engine under src/ (rebuilt, never edited by hand),
it needs nothing but the standard library on a managed host, and ansible-test's checks pass."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_test
import pytest
import yaml

from ansible_env import COLLECTION, REPO, environment, tool
from portplan import __version__

BUILD = REPO / "scripts" / "build-collection.py"
MODULES = ("probe", "listen", "facts")
ENGINE = "ansible_collections.portplan.portplan.plugins.module_utils.engine"


def build(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, BUILD, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shipped_prober_is_the_engine() -> None:
    done = build("--check")
    assert done.returncode == 0, done.stderr


def test_a_stale_prober_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "portplan"
    shutil.copytree(COLLECTION, copy)
    wire = copy / "plugins/module_utils/engine/probe/wire.py"
    wire.write_text(wire.read_text().replace("SELF_CONNECTED = ", "SELF_CONNECTED = 'edited' or "))
    (copy / "plugins/module_utils/engine/probe/extra.py").write_text("")
    done = build("--check", "--collection", copy)
    assert done.returncode == 1
    assert "stale: plugins/module_utils/engine/probe/wire.py" in done.stderr
    assert "not part of the engine: plugins/module_utils/engine/probe/extra.py" in done.stderr
    # and the build puts it right
    assert build("--collection", copy).returncode == 0
    assert build("--check", "--collection", copy).returncode == 0
    assert not (copy / "plugins/module_utils/engine/probe/extra.py").exists()


def test_the_build_refuses_an_engine_that_needs_more_than_the_standard_library() -> None:
    spec = importlib.util.spec_from_file_location("build_collection", BUILD)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    # the certificate reader needs cryptography: it stays on the controller
    with pytest.raises(script.BundleError, match=r"certificate\.py:\d+: imports cryptography"):
        script.closure(["portplan.probe.remote", "portplan.probe.identify.certificate"])
    # and psutil, imported inside the function that needs it, does not stop the bundle
    assert "portplan.probe.local" in script.closure(["portplan.probe.remote"])


def test_the_bundle_loads_with_the_standard_library_alone() -> None:
    # -I -S: no site-packages, no user paths: nothing but the standard library and the repo
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); "
        f"import {ENGINE}.probe.remote, {ENGINE}.probe.listen, {ENGINE}.probe.hostfacts; "
        f"from {ENGINE} import identifiers; "
        f"from {ENGINE}.probe.identify import REGISTRY; "
        "print(len([REGISTRY.find(n) for n in REGISTRY.names()]))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 16  # every identifier loads from the bundle


def test_validate_modules() -> None:
    validate = (
        Path(ansible_test.__file__).parent / "_util/controller/sanity/validate-modules/validate.py"
    )
    ignored = {
        (path, check.split(":", 1)[1])
        for line in (COLLECTION / "tests/sanity/ignore-2.19.txt").read_text().splitlines()
        if line.strip()
        for path, check in [line.split("#")[0].split()]
    }
    done = subprocess.run(
        [
            sys.executable, validate, "--format", "json", "--arg-spec",
            "--collection", "ansible_collections/portplan/portplan",
            "--collection-version", _galaxy_version(),
            *(f"plugins/modules/{m}.py" for m in MODULES),
        ],
        cwd=COLLECTION,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    found = [
        f"{path}: {message['code']}: {message['msg']}"
        for path, report in json.loads(done.stdout).items()
        for message in report["errors"]
        if (path, message["code"]) not in ignored
    ]
    assert found == []


def _galaxy_version() -> str:
    for line in (COLLECTION / "galaxy.yml").read_text().splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("galaxy.yml has no version")


def test_the_collection_version_is_portplans() -> None:
    assert _galaxy_version() == __version__


#: ansible-test's sanity checks that need no packages of their own (the others install theirs
#: from ansible's own servers, which this machine cannot reach; validate-modules runs above)
SANITY = (
    "action-plugin-docs", "compile", "empty-init", "ignores", "line-endings", "no-assert",
    "no-get-exception", "no-illegal-filenames", "no-smart-quotes", "replace-urlopen",
    "shebang", "symlinks", "use-argspec-type-path", "use-compat-six",
)  # fmt: skip


def test_ansible_test_sanity() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("ansible-test lists a collection's files through git")
    argv = [
        tool("ansible-test"),
        "sanity",
        "--python",
        f"{sys.version_info[0]}.{sys.version_info[1]}",
    ]
    for name in SANITY:
        argv += ["--test", name]
    done = subprocess.run(
        argv, cwd=COLLECTION, env=environment(), capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for name in SANITY:
        assert f'Running sanity test "{name}"' in done.stdout + done.stderr


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_reads_every_module(module: str) -> None:
    done = subprocess.run(
        [tool("ansible-doc"), "--json", f"portplan.portplan.{module}"],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)[f"portplan.portplan.{module}"]
    assert doc["doc"]["short_description"]
    assert doc["examples"].strip()
    assert doc["return"]


def test_the_go_live_playbook_in_the_docs_is_the_one_shipped() -> None:
    text = (REPO / "docs" / "ansible.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    shown = [yaml.safe_load(b) for b in blocks if b.startswith("- name: What every host")]
    shipped = yaml.safe_load((COLLECTION / "playbooks" / "go_live.yml").read_text())
    assert shown == [shipped]


def test_the_collection_builds_and_installs_from_its_tarball(tmp_path: Path) -> None:
    galaxy = tool("ansible-galaxy")
    # only the install's own path: the repository's copy would count as installed already
    env = environment(ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "installed"))
    subprocess.run(
        [galaxy, "collection", "build", str(COLLECTION), "--output-path", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    [tarball] = tmp_path.glob("portplan-portplan-*.tar.gz")
    subprocess.run(
        [galaxy, "collection", "install", "-p", str(tmp_path / "installed"), str(tarball)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    done = subprocess.run(
        [tool("ansible-doc"), "-l", "portplan.portplan"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = done.stdout
    assert [line.split()[0] for line in listed.splitlines()] == [
        f"portplan.portplan.{m}" for m in sorted(MODULES)
    ]
    installed = tmp_path / "installed/ansible_collections/portplan/portplan"
    assert (installed / "plugins/module_utils/engine/probe/engine.py").read_text() == (
        COLLECTION / "plugins/module_utils/engine/probe/engine.py"
    ).read_text()
