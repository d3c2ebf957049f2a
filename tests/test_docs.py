"""The documentation's examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), flags=re.MULTILINE | re.DOTALL)


def run_python(code: str) -> str:
    """The output of ``code`` run from the repository root; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_api_example_runs_as_written() -> None:
    blocks = python_blocks(ROOT / "docs" / "api.md")
    assert len(blocks) >= 4
    out = run_python("\n".join(blocks))
    assert "rows; the first: smart-id-21.04/im-operator/ingress internet -> traefik01" in out
    assert "refused: nftables has no setting 'layuot'; did you mean 'layout'?" in out
    assert "examples/no-such-deployment.yaml no such file" in out
    assert "demo-1.0/web 127.0.0.3" in out and " open True" in out


def test_the_import_example_runs_as_written() -> None:
    (block,) = python_blocks(ROOT / "docs" / "import.md")
    out = run_python(block)
    assert "Workers ('From', 'To', 'Protocol', 'Port', 'Notes')" in out
    assert "5 ('Worker',) -> ('Veeam backup repository or gateway server',)" in out
    assert "6162/tcp or 2500-3300/tcp" in out


# --- what the pages show portplan printing, and what they say about the command line ---

#: commands a console sample may run here: they read files and print, never write or probe
SAFE_COMMANDS = {"catalog", "show", "validate", "matrix", "targets", "rules", "diff", "schema"}
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def console_samples(path: Path) -> list[tuple[str, str]]:
    """Each ``$ portplan ...`` command of the page's console blocks that is followed by the
    output it shows, with that output (continuation lines joined)."""
    samples: list[tuple[str, str]] = []
    blocks = re.findall(r"^```console\n(.*?)^```$", path.read_text(), re.MULTILINE | re.DOTALL)
    for block in blocks:
        command: str | None = None
        output: list[str] = []
        lines = iter(block.splitlines())
        for line in lines:
            if line.startswith("$ "):
                if command is not None and output:
                    samples.append((command, "\n".join(output)))
                command, output = line[2:], []
                while command.endswith("\\"):
                    command = command[:-1] + next(lines).strip()
            elif command is not None:
                output.append(line)
        if command is not None and output:
            samples.append((command, "\n".join(output)))
    return samples


def runnable(command: str) -> list[str] | None:
    """The arguments of a sample that can run here as written, or None: one portplan command
    of :data:`SAFE_COMMANDS` without shell syntax or an output file, every file it names in
    the repository (a page also shows files of the reader's, such as ``bank.yaml``)."""
    if any(mark in command for mark in (";", "|", ">", "<", "$", "#")):
        return None
    words = command.split()
    if words[0] != "portplan" or len(words) < 2 or words[1] not in SAFE_COMMANDS:
        return None
    if "-o" in words or "--output" in words:
        return None
    args: list[str] = []
    for word in words[1:]:
        if not word.startswith("-") and ("/" in word or word.endswith(".yaml")):
            found = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(word))
            if not found:
                return None
            args.extend(found)
        else:
            args.append(word)
    return args


def test_the_console_samples_show_what_portplan_prints() -> None:
    checked = []
    for page in PAGES:
        for command, shown in console_samples(page):
            args = runnable(command)
            if args is None or "..." in shown:
                continue
            result = subprocess.run(
                [sys.executable, "-m", "portplan", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={**os.environ, "COLUMNS": "200"},
            )
            printed = " ".join((result.stdout + result.stderr).split())
            assert printed == " ".join(shown.split()), f"{page.name}: $ {command}"
            checked.append(command)
    # model.md: two --explain samples and validate; targets.md: a refusal
    assert len(checked) >= 4, checked


def test_the_readme_lists_the_commands_in_workflow_order() -> None:
    from portplan.cli import COMMANDS  # noqa: PLC0415 - the table, not the commands

    readme = " ".join((ROOT / "README.md").read_text().split())
    (listed,) = re.findall(r"Commands, in the order of the work: (.*?)\(", readme)
    assert re.findall(r"`([a-z]+)`", listed) == list(COMMANDS)


def test_verify_help_names_the_outcomes_that_pass_as_blocked() -> None:
    from portplan.cli.verify import verify_cmd  # noqa: PLC0415
    from portplan.probe.outcomes import BLOCKED_OUTCOMES  # noqa: PLC0415

    (option,) = [p for p in verify_cmd.params if p.name == "expect_blocked"]
    assert isinstance(option, click.Option) and option.help is not None
    (named,) = re.findall(r"passes only when blocked: (.*?) \(", option.help)
    assert set(re.split(r", | or ", named)) == {str(outcome) for outcome in BLOCKED_OUTCOMES}


def test_the_api_page_names_every_public_name() -> None:
    import portplan  # noqa: PLC0415

    page = (ROOT / "docs" / "api.md").read_text()
    missing = [
        name
        for name in portplan.__all__
        if name != "__version__" and not re.search(rf"`{name}[`(]", page)
    ]
    assert not missing


def test_the_whole_deployments_the_pages_show_validate(tmp_path: Path) -> None:
    """A YAML sample that starts with a deployment's name is a whole file a reader may copy
    (one that takes its hosts from an inventory needs that inventory, and is left out)."""
    files = []
    for page in PAGES:
        blocks = re.findall(r"^```yaml\n(.*?)^```$", page.read_text(), re.MULTILINE | re.DOTALL)
        for number, block in enumerate(blocks):
            if block.startswith("name:") and "hosts_from:" not in block:
                files.append(tmp_path / f"{page.stem}-{number}.yaml")
                files[-1].write_text(block)
    assert len(files) >= 2, files  # README's Contoso, model.md's deployment file
    result = subprocess.run(
        [sys.executable, "-m", "portplan", "validate", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
