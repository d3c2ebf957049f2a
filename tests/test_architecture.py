"""The architecture holds: layers import downward only (import-linter, and a broken contract is
caught), no module is over 500 lines, one plugin registry refuses name collisions, and the CLI
lists its commands in workflow order from a table that matches the commands themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import portplan
from portplan._errors import PluginError
from portplan._plugins import ENTRY_POINT_GROUPS, PluginRegistry
from portplan.cli import COMMANDS, cli
from portplan.probe.identify import REGISTRY as IDENTIFIERS
from portplan.targets import REGISTRY as TARGETS
from portplan.targets import Target, get_target

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "portplan"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the contracts of ``root``/pyproject.toml over the package at
    ``source`` (its parent on the import path)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(source.parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT, SOURCE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # planning reads models, never files
        ("plan/_types.py", "from portplan.load import yamlsrc", "Layers import downward only"),
        # the model imports nothing above it
        ("model/ports.py", "from portplan import plan", "Layers import downward only"),
        # only the CLI may talk to the terminal
        ("report/text.py", "import click", "Only the CLI prints and exits"),
        # no cycle hidden inside a package
        ("report/columns.py", "from portplan.report import matrix", "No import cycles"),
    ],
)
def test_a_broken_contract_is_caught(tmp_path: Path, module: str, line: str, contract: str) -> None:
    copy = tmp_path / "src" / "portplan"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = copy / module
    # a lazy import inside a function counts as much as one at the top
    target.write_text(target.read_text() + f"\n\ndef _smuggled() -> None:\n    {line}  # noqa\n")
    result = lint_imports(tmp_path, copy)
    assert result.returncode != 0, result.stdout
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert contract in broken, result.stdout


def test_no_source_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(SOURCE)): n
        for path in SOURCE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert long == {}


# -- the plugin registry ------------------------------------------------------------------------


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Path]:
    """A folder on the import path where a test installs a distribution of its own (a real
    ``.dist-info`` with entry points, as pip would write it)."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("thirdparty_")]:
            del sys.modules[name]


def install(folder: Path, name: str, entry_points: dict[str, dict[str, str]], code: str) -> None:
    """Write package ``thirdparty_<name>`` with ``code`` and its distribution's metadata."""
    package = folder / f"thirdparty_{name}"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(code))
    info = folder / f"thirdparty_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: thirdparty-{name}\nVersion: 1.0\n"
    )
    groups = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items())
        for group, items in entry_points.items()
    )
    (info / "entry_points.txt").write_text(groups)


THIRD_PARTY_TARGET = """
    from portplan.targets import Capability, Scope, Target
    from portplan.targets.apply.nftables import NftablesApplier

    class Echo(Target):
        name = "echo"
        description = "one line per planned row"
        scope = Scope.DEPLOYMENT
        capabilities = frozenset({Capability.PORT_RANGES})
        applier = NftablesApplier

        def render(self, plan, options):
            return {"echo.txt": "".join(f"{r.key}\\n" for r in plan.rows)}
"""


def test_a_third_party_target_is_listed_rendered_and_appliable(distribution: Path) -> None:
    group = ENTRY_POINT_GROUPS["target"]
    install(distribution, "echo", {group: {"echo": "thirdparty_echo:Echo"}}, THIRD_PARTY_TARGET)
    registry: PluginRegistry[Target] = PluginRegistry("target", {}, TARGETS._accept)
    assert registry.plugins()["echo"].origin == "thirdparty-echo"
    target = registry.find("echo")
    assert target is not None and target.applier is not None
    plan = portplan.load_plan(ROOT / "examples" / "smart-id-nexus.yaml")
    text = target.render(plan, portplan.RuleOptions())["echo.txt"]
    assert text.splitlines()[0] == plan.rows[0].key


def test_a_third_party_plugin_may_not_take_a_built_in_name(distribution: Path) -> None:
    group = ENTRY_POINT_GROUPS["target"]
    install(distribution, "clash", {group: {"nftables": "thirdparty_clash:Echo"}}, "")
    registry: PluginRegistry[Target] = PluginRegistry("target", TARGETS._builtins, TARGETS._accept)
    with pytest.raises(PluginError, match=r"two targets are registered as 'nftables'"):
        registry.names()


def test_two_third_party_plugins_may_not_share_a_name(distribution: Path) -> None:
    group = ENTRY_POINT_GROUPS["identifier"]
    install(distribution, "one", {group: {"gopher": "thirdparty_one:identify"}}, "")
    install(distribution, "two", {group: {"gopher": "thirdparty_two:identify"}}, "")
    registry = PluginRegistry("identifier", {}, IDENTIFIERS._accept)
    with pytest.raises(PluginError, match="two identifiers are registered as 'gopher'"):
        registry.find("gopher")


def test_something_that_is_not_a_plugin_is_refused_by_name(distribution: Path) -> None:
    group = ENTRY_POINT_GROUPS["identifier"]
    install(distribution, "odd", {group: {"gopher": "thirdparty_odd:VALUE"}}, "VALUE = 42\n")
    registry = PluginRegistry("identifier", {}, IDENTIFIERS._accept)
    with pytest.raises(PluginError, match=r"thirdparty_odd:VALUE .* is not a portplan identifier"):
        registry.find("gopher")


def test_every_built_in_plugin_loads() -> None:
    for name in TARGETS.names():
        assert get_target(name).name == name
    for name in IDENTIFIERS.names():
        assert IDENTIFIERS.find(name) is not None


# -- the command line -------------------------------------------------------------------------


def test_commands_are_listed_in_workflow_order_from_a_table_that_matches_them() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.stdout[result.stdout.index("Commands:") :]
    positions = [listed.index(f"  {name} ") for name in COMMANDS]
    assert positions == sorted(positions)
    ctx = click.Context(cli)
    for name, (_where, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=200) == short_help, name


def test_every_option_has_an_environment_variable_named_after_it(tmp_path: Path) -> None:
    deployment = str(ROOT / "examples" / "smart-id-nexus.yaml")
    env = {"PORTPLAN_MATRIX_FORMAT": "csv", "PORTPLAN_MATRIX_OUTPUT": str(tmp_path / "m.csv")}
    result = CliRunner().invoke(cli, ["matrix", deployment], env=env)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "m.csv").read_text().startswith("flow,source,")
    help_text = CliRunner().invoke(cli, ["verify", "--help"], terminal_width=200).stdout
    for variable in ("PORTPLAN_VERIFY_TIMEOUT", "PORTPLAN_VERIFY_ON", "PORTPLAN_VERIFY_FORMAT"):
        assert variable in help_text


def test_standard_input_is_read_where_a_file_is(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "smart-id-nexus.yaml").read_text()
    runner = CliRunner()
    from_file = runner.invoke(cli, ["matrix", str(ROOT / "examples" / "smart-id-nexus.yaml")])
    from_stdin = runner.invoke(cli, ["matrix", "-"], input=text)
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    product = (SOURCE / "load" / "catalog" / "shopping-6.1.yaml").read_text()
    shown = runner.invoke(cli, ["show", "-", "--format", "md"], input=product)
    assert shown.exit_code == 0 and shown.stdout.startswith("# Shopping 6.1")
    bad = runner.invoke(cli, ["validate", "-"], input="name: x\nhosts: {}\nproducts: {}\n")
    assert bad.exit_code == 2
    assert "<stdin>:3:" in bad.stderr


def test_renamed_options_still_work_and_say_so() -> None:
    deployment = str(ROOT / "tests" / "data" / "loop-deployment.yaml")
    result = CliRunner().invoke(cli, ["verify", deployment, "--from", "nobody"])
    assert result.exit_code == 2
    assert "--from is deprecated; use --on" in result.stderr
    assert "no host 'nobody'" in result.stderr


def test_quiet_and_verbose_change_what_is_said(tmp_path: Path) -> None:
    deployment = str(ROOT / "examples" / "shopping-contoso.yaml")
    args = ["rules", deployment, "-t", "nftables", "--all-hosts", "-o", str(tmp_path)]
    said = CliRunner().invoke(cli, args).stderr
    assert "portplan: wrote" in said
    quiet = CliRunner().invoke(cli, [*args, "-q", "--overwrite"])
    assert quiet.exit_code == 0 and "wrote" not in quiet.stderr
