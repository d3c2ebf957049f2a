"""Outputs: never over an input (product files included), never over an existing file without
--overwrite, the umask's mode for new files and the old mode for replaced ones, a folder where
a folder is asked for, and on a full, read-only or unwritable target a one-line error with
nothing left behind (no partial file, no temporary file), also when a signal ends the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import examples
from portplan.cli import cli
from portplan.load.catalog import catalog_path

PORTPLAN = [sys.executable, "-m", "portplan"]
SMART_ID = examples.EXAMPLES / "smart-id-nexus.yaml"


def portplan(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PORTPLAN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def leftovers(folder: Path) -> list[str]:
    """Temporary files portplan may have left in ``folder`` (``.NAME.XXXX``)."""
    return sorted(p.name for p in folder.rglob(".*") if p.is_file())


@pytest.fixture
def product_deployment(tmp_path: Path) -> Path:
    """A deployment whose product comes from a file beside it, `prod.yaml`."""
    (tmp_path / "prod.yaml").write_text(catalog_path("smart-id-21.04").read_text())
    data = yaml.safe_load((examples.EXAMPLES / "smart-id-k8s.yaml").read_text())
    data["products"]["smart-id-21.04"]["file"] = "prod.yaml"
    deployment = tmp_path / "k8s.yaml"
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    return deployment


def test_no_output_goes_over_a_product_file(product_deployment: Path) -> None:
    folder = product_deployment.parent
    product = (folder / "prod.yaml").read_text()
    result = portplan("matrix", product_deployment, "-o", folder / "prod.yaml", "--overwrite")
    assert result.returncode == 2
    assert "it is one of the input files" in result.stderr
    # the cluster `prod` writes prod.yaml: into the product's own folder, refused too
    result = portplan("rules", product_deployment, "-t", "kubernetes", "-o", ".", cwd=folder)
    assert result.returncode == 2, result.stderr
    assert "prod.yaml: it is one of the input files" in result.stderr
    assert (folder / "prod.yaml").read_text() == product
    assert leftovers(folder) == []


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "d2"])
def test_a_diagram_of_a_deployment_goes_over_no_product_file(
    product_deployment: Path, fmt: str
) -> None:
    # diagram reads a deployment or a product: a deployment's product files are inputs too
    folder = product_deployment.parent
    product = (folder / "prod.yaml").read_text()
    result = portplan(
        "diagram", product_deployment, "--format", fmt, "-o", folder / "prod.yaml", "--overwrite"
    )
    assert result.returncode == 2, result.stderr
    assert f"refusing to write {folder / 'prod.yaml'}: it is one of the input files" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert (folder / "prod.yaml").read_text() == product
    assert leftovers(folder) == []


@pytest.mark.parametrize(
    "args",
    [
        ["rules", SMART_ID, "-t", "nftables", "--all-hosts"],  # files into a folder
        ["matrix", SMART_ID],  # one file
    ],
    ids=["folder", "file"],
)
def test_an_empty_output_path_is_refused(tmp_path: Path, args: list[str | Path]) -> None:
    # `-o "$OUT"` with OUT unset: not the current folder, not a message about a folder ''
    result = portplan(*args, "-o", "", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "portplan: error: -o is empty; give a file name, a folder (ending in '/') "
        "or '-' for standard output\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_replaced_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "matrix.csv"
    out.write_text("mine\n")
    out.chmod(0o640)
    refused = portplan("matrix", SMART_ID, "--format", "csv", "-o", out)
    assert refused.returncode == 2
    assert f"{out} already exists; give --overwrite to replace what is there" in refused.stderr
    assert out.read_text() == "mine\n"
    replaced = portplan("matrix", SMART_ID, "--format", "csv", "-o", out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_text().startswith("flow,source,")
    assert out.stat().st_mode & 0o777 == 0o640  # the replaced file's mode is kept


def test_a_link_to_an_input_among_many_outputs_is_refused(tmp_path: Path) -> None:
    deployment = tmp_path / "d.yaml"
    deployment.write_text(SMART_ID.read_text())
    folder = tmp_path / "rules"
    result = portplan("rules", deployment, "-t", "nftables", "--all-hosts", "-o", f"{folder}/")
    assert result.returncode == 0, result.stderr
    written = sorted(folder.iterdir())
    assert len(written) > 2
    written[0].chmod(0o600)  # a replaced file keeps its own mode
    written[1].unlink()
    written[1].symlink_to(deployment)  # one of the outputs now leads to the input
    refused = portplan(
        "rules", deployment, "-t", "nftables", "--all-hosts", "-o", f"{folder}/", "--overwrite"
    )
    assert refused.returncode == 2
    assert f"{written[1]}: it is one of the input files" in refused.stderr
    assert deployment.read_text() == SMART_ID.read_text()
    written[1].unlink()
    replaced = portplan(
        "rules", deployment, "-t", "nftables", "--all-hosts", "-o", f"{folder}/", "--overwrite"
    )
    assert replaced.returncode == 0, replaced.stderr
    assert written[0].stat().st_mode & 0o777 == 0o600
    assert written[1].is_file() and not written[1].is_symlink()
    assert leftovers(folder) == []


def test_a_new_output_gets_the_umask_mode(tmp_path: Path) -> None:
    out = tmp_path / "new.csv"
    old = os.umask(0o027)
    try:
        result = portplan("matrix", SMART_ID, "--format", "csv", "-o", out)
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600


@pytest.mark.parametrize("many", [False, True])
def test_a_replaced_output_keeps_bits_the_umask_would_take(tmp_path: Path, many: bool) -> None:
    """(the temporary file is made with the mode asked for, less the umask: what the umask
    took is given back)"""
    folder = tmp_path / "rules"
    args = ["rules", SMART_ID, "-t", "nftables", "--all-hosts", "-o", f"{folder}/"]
    if not many:
        args = ["matrix", SMART_ID, "--format", "csv", "-o", folder / "m.csv"]
        folder.mkdir()
    assert portplan(*args).returncode == 0
    written = sorted(folder.iterdir())
    for path in written:
        path.chmod(0o664)
    old = os.umask(0o077)
    try:
        result = portplan(*args, "--overwrite")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert [p.stat().st_mode & 0o777 for p in written] == [0o664] * len(written)
    assert leftovers(folder) == []


def test_a_folder_output_is_a_folder_even_for_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    result = portplan("rules", SMART_ID, "-t", "nftables", "--host", "da01", "-o", f"{folder}/")
    assert result.returncode == 0, result.stderr
    assert folder.is_dir()
    assert [p.name for p in folder.iterdir()] == ["da01.nft"]
    assert result.stderr == f"portplan: wrote 1 file to {folder}/\n"
    two = portplan("rules", SMART_ID, "-t", "nftables", "--host", "da01", "--host", "pa01",
                   "-o", f"{folder}/", "--overwrite")  # fmt: skip
    assert two.stderr == f"portplan: wrote 2 files to {folder}/\n"
    to_stdout = portplan("rules", SMART_ID, "-t", "nftables", "--host", "da01", "--host", "pa01")
    assert to_stdout.returncode == 2
    assert "2 files to write (da01.nft, pa01.nft): give -o FOLDER" in to_stdout.stderr
    single = portplan("matrix", SMART_ID, "-o", f"{tmp_path / 'matrix'}/")
    assert single.returncode == 2
    assert "is a folder; give a file name" in single.stderr


def test_a_device_output_is_written_to_and_a_full_one_is_an_error(tmp_path: Path) -> None:
    result = portplan("matrix", SMART_ID, "--format", "csv", "-o", "/dev/full")
    assert result.returncode == 3
    assert result.stderr.startswith("portplan: error: cannot write /dev/full: No space left")
    assert "Traceback" not in result.stderr
    assert Path("/dev/full").is_char_device()  # written to, never replaced


def test_a_host_name_too_long_for_a_file_name_is_refused_where_written(tmp_path: Path) -> None:
    text = SMART_ID.read_text().replace("  da01:", "  " + "d" * 300 + ":", 1)
    deployment = tmp_path / "long.yaml"
    deployment.write_text(text)
    result = portplan("rules", deployment, "-t", "nftables", "--all-hosts", "-o", tmp_path)
    assert result.returncode == 2
    line = text.splitlines().index("  " + "d" * 300 + ":") + 1
    assert f"{deployment}:{line}:" in result.stderr
    assert "at most 128 characters" in result.stderr


# -- file systems that refuse: a small tmpfs, full or read-only (root) -------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


pytestmark_root = pytest.mark.netns  # needs root like the namespace tests; never skipped in CI


@pytestmark_root
def test_a_full_disk_leaves_nothing_behind(small_tmpfs: Path) -> None:
    shopping = examples.EXAMPLES / "shopping-contoso.yaml"
    result = portplan("rules", shopping, "-t", "iptables", "--all-hosts", "-o", small_tmpfs)
    assert result.returncode == 3, result.stderr
    assert "No space left on device; free some space, or write elsewhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(small_tmpfs.iterdir()) == []  # not one file of the set, no temporary file


@pytestmark_root
def test_a_read_only_file_system_is_an_error(small_tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    result = portplan("matrix", SMART_ID, "-o", small_tmpfs / "m.txt")
    assert result.returncode == 3
    assert "Read-only file system; the file system is read-only: write elsewhere" in result.stderr


# -- a signal while writing ---------------------------------------------------------------------


def big_deployment(folder: Path, hosts: int) -> Path:
    """A deployment of ``hosts`` single-address client hosts (RFC 3849 addresses; never probed)."""
    data = yaml.safe_load(SMART_ID.read_text())
    for index in range(hosts):
        data["hosts"][f"client{index}"] = {"addresses": [f"2001:db8:c1::{index + 1:x}"]}
    binding = data["products"]["smart-id-21.04"]["components"]
    binding["radius_client"] = [f"client{index}" for index in range(hosts)]
    path = folder / "big.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_while_writing_leaves_no_temporary_file(tmp_path: Path, signum: int) -> None:
    deployment = big_deployment(tmp_path, 3000)
    out = tmp_path / "rules"
    out.mkdir()
    process = subprocess.Popen(
        [*PORTPLAN, "rules", str(deployment), "-t", "nftables", "--all-hosts", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(out.iterdir()):  # the first temporary file: it is writing now
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "portplan never started writing"
            time.sleep(0.005)
        process.send_signal(signum)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode in (130, 128 + signum), err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # all or nothing: the run was cut before renaming


def test_a_folder_yet_to_be_made_hides_no_file(product_deployment: Path) -> None:
    # `new/../X` is X once `new` is made: the input, or a file there, is seen as such
    folder = product_deployment.parent
    product = (folder / "prod.yaml").read_text()
    result = portplan("matrix", product_deployment, "-o", folder / "new" / ".." / "prod.yaml")
    assert result.returncode == 2, result.stderr
    assert "it is one of the input files" in result.stderr
    assert (folder / "prod.yaml").read_text() == product
    (folder / "mine.csv").write_text("mine\n")
    result = portplan("matrix", product_deployment, "-o", folder / "new" / ".." / "mine.csv")
    assert result.returncode == 2
    assert "already exists; give --overwrite" in result.stderr
    assert (folder / "mine.csv").read_text() == "mine\n"
    assert not (folder / "new").exists()
    assert leftovers(folder) == []


#: every command that writes ``-o PATH``, as it runs without it (verify, which must probe
#: first, is left out: it writes through the same code)
_WRITERS: dict[str, list[str | Path]] = {
    "matrix": ["matrix", SMART_ID],
    "rules": ["rules", SMART_ID, "--target", "nftables", "--host", "traefik01"],
    "rules-many": ["rules", SMART_ID, "--target", "nftables", "--all-hosts"],
    "inventory": ["inventory", SMART_ID],
    "report": ["report", SMART_ID],
    "diagram": ["diagram", SMART_ID],
    "show": ["show", "smart-id-21.04"],
    "import": ["import", Path(__file__).parent / "data" / "vendor-docs" / "catalogic-vplus-7.0"
               / "platform-requirements.md"],
    "diff": ["diff", SMART_ID, SMART_ID],
    "audit": ["audit", SMART_ID, "--boundary", "dmz:internal", "--ruleset",
              f"cisco:{examples.GOLDEN}/rules/cisco/smart-id-nexus/default/from-dmz.acl"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(_WRITERS))
@pytest.mark.parametrize("where", ["file/out.txt", "file/deeper/out.txt", "file/folder/"])
def test_an_output_under_a_file_is_a_usage_error(tmp_path: Path, command: str, where: str) -> None:
    (tmp_path / "file").write_text("mine\n")
    output = str(tmp_path / where) + ("/" if where.endswith("/") else "")
    args = [*map(str, _WRITERS[command]), "-o", output]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (  # (diagram warns of what it leaves out first)
        f"portplan: error: cannot write {output.rstrip('/')}: {tmp_path / 'file'} is a file, "
        "not a folder; give an output path whose folders are folders (or move that file "
        "away)"
    )
    assert (tmp_path / "file").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("command", sorted(_WRITERS))
def test_an_existing_output_is_refused_before_any_work(tmp_path: Path, command: str) -> None:
    # the inputs are not read at all: a deployment that is not there is not even noticed,
    # where a plan of 50,000 clients was made (seconds) before the refusal
    args = [str(tmp_path / "absent.yaml") if a == SMART_ID else str(a) for a in _WRITERS[command]]
    mine = tmp_path / "mine.txt"
    mine.write_text("mine\n")
    result = CliRunner().invoke(cli, [*args, "-o", str(mine)])
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        f"portplan: error: {mine} already exists; give --overwrite to replace what is there\n"
    )
    assert mine.read_text() == "mine\n"


@pytest.mark.parametrize(
    "args",
    [
        ["matrix", SMART_ID, "--format", "csv", "-o", "csv"],  # a format
        ["rules", SMART_ID, "-t", "nftables", "--host", "traefik01", "-o", "nftables"],  # a target
        ["import", _WRITERS["import"][1], "--name", "draft", "-o", "draft"],  # a name
        # a file named on the command line among several (a tuple) is an input all the same
        ["report", SMART_ID, "--verify", "in.json", "-o", "in.json"],
    ],
    ids=["format", "target", "name", "repeated-path"],
)
def test_only_files_named_as_inputs_count_as_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str | Path]
) -> None:
    # an option's text (a format, a target, a host) that happens to be the output's file name
    # is no input: --overwrite replaces that file; a file given to an option that reads it is
    monkeypatch.chdir(tmp_path)
    output = Path(str(args[-1]))
    output.write_text("[]\n")
    result = CliRunner().invoke(cli, [*map(str, args), "--overwrite"])
    if output.name == "in.json":
        assert result.exit_code == 2
        assert result.stderr == (
            "portplan: error: refusing to write in.json: it is one of the input files; write the "
            "output to another path\n"
        )
        assert output.read_text() == "[]\n"
        return
    # (import: 1, the draft written with cells it could not read, to complete by hand)
    assert result.exit_code == (1 if args[0] == "import" else 0), result.stderr
    assert "input files" not in result.stderr
    assert output.read_text() != "[]\n"


def unprivileged(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """portplan as a user that file permissions bind: root without the capabilities that pass
    over them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        return portplan(*args)
    drop = "-dac_override,-dac_read_search"
    return subprocess.run(
        ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *PORTPLAN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (["matrix", SMART_ID], "m.txt"),  # the output's own folder may not be searched
        (["matrix", SMART_ID], "sub/m.txt"),  # a folder above it may not
        (["rules", SMART_ID, "-t", "iptables", "--all-hosts"], "sub/"),  # several files
    ],
)
def test_an_output_in_a_folder_that_may_not_be_searched_is_an_error_that_says_what_to_do(
    tmp_path: Path, command: list[str | Path], where: str
) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o000)
    try:
        result = unprivileged(*command, "-o", f"{closed}/{where}")
    finally:
        closed.chmod(0o755)
    assert result.returncode == 3, result.stderr
    assert f"portplan: error: cannot write {closed}/{where.rstrip('/')}:" in result.stderr
    assert "Permission denied; you may not write there: write elsewhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(closed.iterdir()) == []


def test_an_output_in_a_folder_that_may_be_written_not_listed_is_written(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir(mode=0o300)  # write and search, no listing: a drop box
    try:
        result = unprivileged("matrix", SMART_ID, "-o", drop / "m.txt")
        again = unprivileged("matrix", SMART_ID, "-o", drop / "m.txt")
    finally:
        drop.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "Flow matrix" in (drop / "m.txt").read_text()
    assert again.returncode == 2  # what is there is still looked at, file by file
    assert "already exists; give --overwrite" in again.stderr
