"""``portplan diff git:REV:PATH``: a deployment's product files are read as they were at REV,
from the revision's tree, or the diff says why it cannot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tracemalloc
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import examples
from portplan.cli import cli
from portplan.load import revision
from portplan.load.deployment import load_deployment

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

SEARCH = examples.EXAMPLES / "search-cluster.yaml"
PRODUCT = examples.EXAMPLES / "products" / "example-search-2.0.yaml"
NAMED = "products/example-search-2.0.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.stdout, result.stderr


def commit(repo: Path) -> None:
    author = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", "-C", str(repo), *author, *args], check=True, capture_output=True)


def test_a_product_file_outside_the_repository_is_refused_not_read_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the deployment names its product outside the repository (../../shared/p.yaml): in the
    # revision's temporary copy that path led out of the copy, to whatever file lay there
    repo, shared, scratch = tmp_path / "repo", tmp_path / "shared", tmp_path / "tmp"
    for folder in (repo / "deploy", shared, scratch / "shared"):
        folder.mkdir(parents=True)
    (repo / "deploy" / "prod.yaml").write_text(
        SEARCH.read_text().replace(NAMED, "../../shared/p.yaml")
    )
    shutil.copy(PRODUCT, shared / "p.yaml")
    # a stranger's file where the copy's path led: another REST port
    decoy = PRODUCT.read_text().replace("ports: 9200\n", "ports: 9201\n", 1)
    (scratch / "shared" / "p.yaml").write_text(decoy)
    commit(repo)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), out
    assert "'../../shared/p.yaml' is outside the repository" in err, err
    assert "git:HEAD:deploy/prod.yaml" in err and "9201" not in err


def test_an_inventory_outside_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hosts_from: ansible:../../shared/inventory.yml led out of the revision's copy likewise
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    text = (examples.EXAMPLES / "shopping-contoso.yaml").read_text()
    (repo / "deploy" / "prod.yaml").write_text(
        "hosts_from: ansible:../../shared/inventory.yml\n" + text
    )
    commit(repo)
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), out
    assert "inventory ../../shared/inventory.yml is outside the repository" in err, err
    assert "no version at git:HEAD:deploy/prod.yaml" in err


def test_a_revision_both_a_tag_and_a_branch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git takes the tag and only warns (a warning portplan dropped): the diff was against
    # the tag's commit without a word, where the branch of that name may have been meant
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    deployment = repo / "deploy" / "prod.yaml"
    deployment.write_text((examples.EXAMPLES / "shopping-contoso.yaml").read_text())
    commit(repo)
    author = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    deployment.write_text(deployment.read_text().replace("appclarity: true", "appclarity: false"))
    for args in (["tag", "v1"], ["commit", "-qam", "second"], ["branch", "v1"]):
        subprocess.run(["git", "-C", str(repo), *author, *args], check=True, capture_output=True)
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:v1:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), out
    assert err.startswith("portplan: error: git:v1:deploy/prod.yaml: 'v1' is ambiguous"), err
    assert "refs/tags/v1" in err and "refs/heads/v1" in err
    assert len(err.splitlines()) == 1
    code, out, err = run("diff", "git:refs/heads/v1:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 0 and "error" not in err, err  # (the branch: the work tree's file)
    assert out == "identical: nothing to open, nothing to close\n"


def test_a_revision_git_cannot_read_in_time_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git archive of a large repository past its time limit raised TimeoutExpired unhandled
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "prod.yaml").write_text(
        (examples.EXAMPLES / "shopping-contoso.yaml").read_text()
    )
    commit(repo)
    monkeypatch.chdir(repo)
    monkeypatch.setattr(revision, "GIT_SECONDS", 0.000_001)  # real git
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (3, ""), err
    assert err.startswith("portplan: error: git:HEAD:deploy/prod.yaml: `git rev-parse` in "), err
    assert "git show HEAD:deploy/prod.yaml > old.yaml" in err and "Traceback" not in err


def _absolute_product_repo(tmp_path: Path, product: Path) -> Path:
    """A repository whose deployment names its product by the absolute path ``product``."""
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "prod.yaml").write_text(SEARCH.read_text().replace(NAMED, str(product)))
    product.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(PRODUCT, product)
    return repo


def test_a_product_file_named_by_an_absolute_path_is_read_at_the_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `file: /abs/repo/products/p.yaml` was read from the work tree for the revision's side
    # too: a product changed since the revision was compared with itself, "identical"
    product = tmp_path / "repo" / "products" / "p.yaml"
    repo = _absolute_product_repo(tmp_path, product)
    commit(repo)
    product.write_text(PRODUCT.read_text().replace("ports: 9200\n", "ports: 9201\n", 1))
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert code == 1, err
    assert "identical" not in out and "9201" in out, out
    # the work tree's side as it is: the same file both sides
    code, out, err = run("diff", "deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (0, "identical: nothing to open, nothing to close\n"), err


def test_a_product_file_named_by_an_absolute_path_out_of_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it has no version at the revision: it was read as it is today, both sides the same
    product = tmp_path / "shared" / "p.yaml"
    repo = _absolute_product_repo(tmp_path, product)
    commit(repo)
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), out
    assert f"product file '{product}' is outside the repository {repo}" in err, err
    assert "so it has no version at git:HEAD:deploy/prod.yaml" in err
    assert "Traceback" not in err
    # an inventory likewise
    text = "hosts_from: ansible:/etc/ansible/hosts\n" + SEARCH.read_text()
    (repo / "deploy" / "prod.yaml").write_text(text.replace(NAMED, "../products/p.yaml"))
    (repo / "products").mkdir()
    shutil.copy(PRODUCT, repo / "products" / "p.yaml")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["add", "."], ["commit", "-qm", "second"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), out
    assert "product file" not in err, err
    assert f"inventory /etc/ansible/hosts is outside the repository {repo}" in err, err


def test_a_product_swapped_into_a_revision_is_the_work_tree_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --product OLD=FILE binds FILE by its absolute path: it is the user's file of today,
    # even where it lies in the repository and the deployment is read at a revision
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "prod.yaml").write_text(SEARCH.read_text().replace(NAMED, "p.yaml"))
    shutil.copy(PRODUCT, repo / "deploy" / "p.yaml")
    commit(repo)
    changed = PRODUCT.read_text().replace("ports: 9200\n", "ports: 9201\n", 1)
    (repo / "deploy" / "p.yaml").write_text(changed)
    (repo / "new.yaml").write_text(changed)  # (not in the revision at all)
    monkeypatch.chdir(repo)
    for swapped in ("deploy/p.yaml", "new.yaml"):
        code, out, err = run(
            "diff", "git:HEAD:deploy/prod.yaml", "--product", f"example-search-2.0={swapped}"
        )
        assert code == 1, err
        assert "9201" in out, out


def test_problems_of_a_revisions_files_name_them_git_rev_path_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # they named the revision's temporary copy, deleted by then (/tmp/portplan-rev-x/...)
    repo = tmp_path / "repo"
    for folder in ("deploy", "products"):
        (repo / folder).mkdir(parents=True)
    good = SEARCH.read_text().replace(NAMED, "../products/p.yaml")
    deployment, product = repo / "deploy" / "prod.yaml", repo / "products" / "p.yaml"
    end = len(good.splitlines()) + 1  # the line of what is added at the end
    shutil.copy(PRODUCT, product)
    states = [  # HEAD~4 .. HEAD: (deployment, product) of each commit
        (good + "nonsense: [\n", PRODUCT.read_text()),  # a YAML syntax error
        (good + "nonsense: 1\n", PRODUCT.read_text()),  # a validation error
        (good, PRODUCT.read_text() + "nonsense: [\n"),
        (good, PRODUCT.read_text() + "nonsense: 1\n"),
        (good.replace("../products/p.yaml", "../products/gone.yaml"), PRODUCT.read_text()),
    ]
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    for number, (deployment_text, product_text) in enumerate(states):
        deployment.write_text(deployment_text)
        product.write_text(product_text)
        for args in (["add", "."], ["commit", "-qm", str(number)]):
            subprocess.run([*git, *args], check=True, capture_output=True)
    deployment.write_text(good)
    product_end = len(PRODUCT.read_text().splitlines()) + 1
    monkeypatch.chdir(repo)
    expected = {
        # (an unclosed bracket is noticed at the end of the file, the line after it)
        "HEAD~4": f"git:HEAD~4:deploy/prod.yaml:{end + 1}:1: error: YAML syntax error: unclosed",
        "HEAD~3": f"git:HEAD~3:deploy/prod.yaml:{end}:1: error: unknown key 'nonsense'",
        "HEAD~2": f"git:HEAD~2:products/p.yaml:{product_end + 1}:1: error: YAML syntax error: ",
        "HEAD~1": f"git:HEAD~1:products/p.yaml:{product_end}:1: error: unknown key 'nonsense'",
        "HEAD": "git:HEAD:deploy/prod.yaml:34:11: error: product file '../products/gone.yaml' "
        "does not exist (looked for git:HEAD:products/gone.yaml;",
    }
    for rev, start in expected.items():
        code, out, err = run("diff", f"git:{rev}:deploy/prod.yaml", "deploy/prod.yaml")
        assert (code, out) == (2, ""), out
        assert err.startswith(start), err
        assert "portplan-rev" not in err and str(tmp_path) not in err, err
        assert len(err.splitlines()) == 2, err  # (and the count of problems)
    # from a folder of the repository, paths are written as the user writes them there
    monkeypatch.chdir(repo / "deploy")
    code, _out, err = run("diff", "git:HEAD~1:prod.yaml", "prod.yaml")
    assert err.startswith(f"git:HEAD~1:../products/p.yaml:{product_end}:1: error: "), err


def test_only_the_files_a_revisions_deployment_names_are_read_from_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `git archive` of the whole revision was held in memory, then all written out: a large
    # repository cost its size in memory (and on disk) for a deployment and a product file
    repo, scratch = tmp_path / "repo", tmp_path / "tmp"
    for folder in (repo / "deploy", repo / "products", scratch):
        folder.mkdir(parents=True)
    shutil.copy(PRODUCT, repo / "products" / "p.yaml")
    (repo / "link").symlink_to("products")  # (a link of the tree, followed)
    (repo / "deploy" / "prod.yaml").write_text(SEARCH.read_text().replace(NAMED, "../link/p.yaml"))
    (repo / "big.bin").write_bytes(os.urandom(24 << 20))
    commit(repo)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(repo)
    tracemalloc.start()  # (what reading the revision costs, not what loading does)
    try:
        with revision.at_revision("git:HEAD:deploy/prod.yaml") as path:
            product = revision.revision_path(path, "../link/p.yaml")
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert isinstance(product, Path) and product.read_text() == PRODUCT.read_text()
            bundle = load_deployment(path)
            written = sorted(
                str(p.relative_to(scratch).relative_to(p.relative_to(scratch).parts[0]))
                for p in scratch.rglob("*")
                if p.is_file()
            )
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # (not the 24 MiB file)
    assert written == ["deploy/prod.yaml", "link/p.yaml"]
    assert set(bundle.products) == {"example-search-2.0"}
    assert not list(scratch.iterdir())  # (the copy is gone)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (0, "identical: nothing to open, nothing to close\n"), err


def test_an_inventory_of_a_revision_is_read_with_the_revisions_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an inventory may read any file of the repository (host_vars beside it, a script's
    # files): the revision's whole tree is written out for it, through a file on disk
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "inventory" / "host_vars").mkdir(parents=True)
    data = yaml.safe_load(SEARCH.read_text())
    data["hosts_from"] = "ansible:../inventory/hosts.yml"
    data["products"]["example-search-2.0"]["file"] = "p.yaml"
    shutil.copy(PRODUCT, repo / "deploy" / "p.yaml")
    lines = ["all:", "  hosts:"]
    for name, host in data["hosts"].items():
        if host.get("addresses") and not any("/" in str(a) for a in host["addresses"]):
            lines.append(f"    {name}:")
            (repo / "inventory" / "host_vars" / f"{name}.yml").write_text(
                f"portplan_addresses: {json.dumps(host.pop('addresses'))}\n"
            )
    (repo / "inventory" / "hosts.yml").write_text("\n".join(lines) + "\n")
    (repo / "deploy" / "prod.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    commit(repo)
    monkeypatch.chdir(repo)
    shutil.rmtree(repo / "inventory")  # (only the revision has it now)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", str(SEARCH))
    assert (code, out) == (0, "identical: nothing to open, nothing to close\n"), err + out


@pytest.mark.parametrize("named", ["old blob", "old tree"])
def test_a_missing_product_file_whose_name_ends_in_a_git_object_type_is_said_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    # `git cat-file --batch` answers a missing name with the name itself: 'REV:deploy/old blob
    # missing' was read as an object 'blob' of size 'missing' (ValueError, a traceback)
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "prod.yaml").write_text(SEARCH.read_text().replace(NAMED, named))
    commit(repo)
    monkeypatch.chdir(repo)
    code, out, err = run("diff", "git:HEAD:deploy/prod.yaml", "deploy/prod.yaml")
    assert (code, out) == (2, ""), err
    assert f"product file '{named}' does not exist" in err, err
    assert f"looked for git:HEAD:deploy/{named}" in err, err
