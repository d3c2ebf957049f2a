"""Meta-tests: the public API, the catalog, the JSON Schemas and the CLI's promises."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import examples
import machine
import portplan
from portplan import _errors as errors
from portplan._errors import PortplanError
from portplan.cli import cli
from portplan.load.catalog import catalog_ids, catalog_path, load_catalog_product
from portplan.model.schema import json_schema
from portplan.report.machine import OUTPUT_KINDS, output_schema

EXAMPLES = sorted(examples.EXAMPLES.glob("*.yaml"))  #: the example deployment files


def test_public_api_is_complete_and_sorted() -> None:
    assert portplan.__all__ == sorted(portplan.__all__)
    for name in portplan.__all__:
        assert getattr(portplan, name) is not None, name
    assert set(dir(portplan)) >= set(portplan.__all__)
    with pytest.raises(AttributeError):
        _ = portplan.no_such_name  # type: ignore[attr-defined]


def test_every_module_imports() -> None:
    for info in pkgutil.walk_packages(portplan.__path__, "portplan."):
        if info.name != "portplan.__main__":
            importlib.import_module(info.name)


def test_every_error_is_a_portplan_error_with_a_builtin_base() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls is not PortplanError:
            assert issubclass(cls, PortplanError)
            assert issubclass(cls, ValueError | LookupError | RuntimeError), name


def test_catalog_holds_both_seed_products_and_each_loads() -> None:
    assert catalog_ids() == ("shopping-6.1", "smart-id-21.04")
    for product_id in catalog_ids():
        assert load_catalog_product(product_id).id == product_id


@pytest.mark.parametrize("kind", ["product", "deployment"])
def test_schema_command_prints_a_valid_json_schema(kind: str) -> None:
    result = CliRunner().invoke(cli, ["schema", kind])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json_schema(kind)


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_every_json_output_kind_has_a_published_schema(kind: str) -> None:
    result = CliRunner().invoke(cli, ["schema", kind])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == output_schema(kind)
    assert schema["properties"]["kind"] == {"const": kind}
    assert set(schema["required"]) >= {"format_version", "kind"}


def test_catalog_and_targets_json_are_versioned_and_typed() -> None:
    catalog = machine.document(
        CliRunner().invoke(cli, ["catalog", "--format", "json"]).stdout, "catalog"
    )
    assert [p["flows"] for p in catalog["products"]] == [26, 20]  # numbers, not text
    targets = machine.document(
        CliRunner().invoke(cli, ["targets", "--format", "json"]).stdout, "targets"
    )
    by_name = {t["name"]: t for t in targets["targets"]}
    assert by_name["nftables"]["capabilities"][:2] == ["port-ranges", "udp"]
    assert by_name["nftables"]["can_apply"] is True and by_name["aws"]["can_apply"] is False
    assert by_name["nftables"]["settings"]["layout"] == ["per-host", "shared"]
    assert all(" " not in key for t in targets["targets"] for key in t)


@pytest.mark.parametrize(
    ("kind", "path"),
    [("product", catalog_path(p)) for p in catalog_ids()] + [("deployment", p) for p in EXAMPLES],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_bundled_files_pass_their_json_schema(kind: str, path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    jsonschema.validate(data, json_schema(kind))


def test_json_schema_rejects_what_the_loader_rejects() -> None:
    data = yaml.safe_load(catalog_path("shopping-6.1").read_text())
    data["flows"][0]["prots"] = 443
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema("product"))


def test_examples_validate_and_every_command_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count(": ok: deployment") == len(EXAMPLES)
    for command in cli.commands:
        help_result = runner.invoke(cli, [command, "--help"])
        assert help_result.exit_code == 0
        assert "Usage: " in help_result.stdout


def test_version_and_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portplan", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"portplan, version {portplan.__version__}"


def test_help_does_not_import_heavy_modules() -> None:
    # logging (with traceback) costs 5 ms of a 50 ms --help: only the commands log
    modules = ("pydantic", "rich", "openpyxl", "yaml", "logging")
    code = (
        "import sys; from portplan.cli import cli; "
        f"print(','.join(m for m in {modules!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_help_imports_neither_shutil_nor_the_error_classes() -> None:
    # shutil (with bz2 and lzma) and the error classes' dataclasses cost 6 ms of a 50 ms --help
    modules = ("shutil", "bz2", "lzma", "dataclasses", "portplan._errors")
    code = (
        "import io, sys, contextlib; from portplan.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(['--help'], prog_name='portplan')\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(','.join(m for m in {modules!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("columns", ["60", "200", "55", "x", "-3", ""])
def test_help_width_is_clicks_own(columns: str) -> None:
    # the same width click finds through shutil, and the help text wraps to it
    env = {**os.environ, "COLUMNS": columns}
    code = (
        "import click; from portplan.cli import _help_width; "
        "print(click.HelpFormatter().width, _help_width(None))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    clicks, ours = result.stdout.split()
    assert ours == clicks
    shown = subprocess.run(
        [sys.executable, "-m", "portplan", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    ).stdout
    assert max(len(line) for line in shown.splitlines()) == int(clicks)
