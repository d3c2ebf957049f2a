"""`portplan apply` in a network namespace: refused, rolled back, kept, never locking out."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import examples
import netns

EXAMPLE = examples.EXAMPLES / "smart-id-nexus.yaml"
PORTPLAN = [sys.executable, "-m", "portplan"]

pytestmark = pytest.mark.netns

OLD_RULESET = (
    "table inet operator {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t}\n}\n"
)


@pytest.fixture
def namespace() -> Iterator[str]:
    reason = netns.unavailable("nft")
    if reason:
        pytest.skip(reason)
    with netns.namespace() as name:
        netns.hold_addresses(name, "192.0.2.40")  # da01's: this namespace is da01
        netns.run(["ip", "netns", "exec", name, "nft", "-f", "-"], stdin=OLD_RULESET)
        yield name


def ruleset(ns: str) -> str:
    return netns.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"]).stdout


def apply(
    ns: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    environment.update(env or {})
    return subprocess.run(
        ["ip", "netns", "exec", ns, *PORTPLAN, "apply", str(EXAMPLE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def test_unconfirmed_apply_is_rolled_back(namespace: str) -> None:
    before = ruleset(namespace)
    result = apply(namespace, "--on", "da01", "--confirm-timeout", "1")
    assert result.returncode == 1, result.stderr
    assert "previous ruleset is restored" in result.stderr
    assert ruleset(namespace) == before


def test_confirmed_apply_is_kept_with_management_access(namespace: str) -> None:
    result = apply(namespace, "--on", "da01", "--confirm-timeout", "10", stdin="yes\n")
    assert result.returncode == 0, result.stderr
    now = ruleset(namespace)
    assert "table inet portplan" in now
    assert "table inet operator" in now  # only portplan's own table is replaced
    assert "ip saddr 203.0.113.0/28 ip daddr 192.0.2.40 tcp dport 22 ct state new accept" in now
    assert 'comment "management/ssh"' in now


def test_a_ruleset_the_checker_refuses_is_never_applied(namespace: str) -> None:
    before = ruleset(namespace)
    code = (
        "from portplan.targets.apply.nftables import NftablesApplier\n"
        "from portplan._errors import ApplyError\n"
        "b = NftablesApplier({'x.nft': 'table inet portplan {\\n"
        "chain input { tcp dport 70000 accept }\\n}\\n'})\n"
        "try:\n    b.check()\nexcept ApplyError as e:\n    print('refused:', e)\n"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith("refused: nft check failed")
    assert ruleset(namespace) == before


def test_check_only_changes_nothing(namespace: str) -> None:
    before = ruleset(namespace)
    result = apply(namespace, "--on", "da01", "--check")
    assert result.returncode == 0, result.stderr
    assert "passes the checker" in result.stderr
    assert ruleset(namespace) == before


def test_a_deployment_on_standard_input_is_refused_before_anything_changes(
    namespace: str,
) -> None:
    # standard input is where 'yes' comes from: read to its end for the deployment, it would
    # answer at once, and the new ruleset would be loaded and rolled back for nothing
    before = ruleset(namespace)
    environment = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}

    def apply_from_stdin(name: str, *options: str) -> subprocess.CompletedProcess[str]:
        with EXAMPLE.open() as deployment:  # ('-', or the file standard input is)
            return subprocess.run(
                ["ip", "netns", "exec", namespace, *PORTPLAN, "apply", name, *options],
                stdin=deployment,
                capture_output=True,
                text=True,
                timeout=120,
                env=environment,
                check=False,
            )

    for name in ("-", "/dev/stdin", str(EXAMPLE)):
        refused = apply_from_stdin(name, "--on", "da01")
        assert refused.returncode == 2, refused.stderr
        said = " ".join(refused.stderr.split())
        assert f"the deployment cannot come from it ({name}): give its file" in said
        assert "applied" not in said and "Traceback" not in said
        assert len(refused.stderr.strip().splitlines()) == 1
        assert ruleset(namespace) == before
    checked = apply_from_stdin("-", "--on", "da01", "--check")  # (changes nothing, reads no answer)
    assert checked.returncode == 0, checked.stderr
    assert ruleset(namespace) == before


def test_an_ssh_session_the_plan_would_cut_is_refused(namespace: str) -> None:
    before = ruleset(namespace)
    outsider = {"SSH_CONNECTION": "192.0.2.200 50000 192.0.2.40 22"}
    result = apply(namespace, "--on", "da01", "--confirm-timeout", "1", env=outsider, stdin="yes\n")
    assert result.returncode == 2
    assert (
        "this SSH session from 192.0.2.200 to 192.0.2.40 port 22 is not accepted" in result.stderr
    )
    assert ruleset(namespace) == before
    admin = {"SSH_CONNECTION": "203.0.113.5 50000 192.0.2.40 22"}
    result = apply(namespace, "--on", "da01", "--confirm-timeout", "5", env=admin, stdin="yes\n")
    assert result.returncode == 0, result.stderr


def test_egress_over_ssh_says_to_type_yes_should_no_prompt_show(namespace: str) -> None:
    # on a host where nothing tracked connections before, the session's next packet out (the
    # prompt) reads as a new connection the new output chain drops, until the operator types
    hint = "with --egress this SSH session may show no prompt until you type"
    admin = {"SSH_CONNECTION": "203.0.113.5 50000 192.0.2.40 22"}
    result = apply(
        namespace, "--on", "da01", "--egress", "--confirm-timeout", "5", env=admin, stdin="yes\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.index(hint) < result.stderr.index("portplan: applied.")
    for args, env in ((("--egress",), None), ((), admin)):  # not from a console, nor without
        result = apply(
            namespace, "--on", "da01", *args, "--confirm-timeout", "5", env=env, stdin="yes\n"
        )
        assert result.returncode == 0, result.stderr
        assert hint not in result.stderr


def test_a_host_without_management_access_needs_force(namespace: str, tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    deployment = tmp_path / "no-management.yaml"
    deployment.write_text(text[: text.index("\nmanagement:")] + "\n")
    before = ruleset(namespace)
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            *PORTPLAN,
            "apply",
            str(deployment),
            "--on",
            "da01",
            "--confirm-timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"},
    )
    assert result.returncode == 2
    assert "declares no management access to da01" in result.stderr
    assert ruleset(namespace) == before


@pytest.mark.parametrize("given", ["option", "environment"])
def test_force_says_which_lockout_check_it_overrides(
    namespace: str, tmp_path: Path, given: str
) -> None:
    # --force, typed or inherited (PORTPLAN_APPLY_FORCE from a profile, a CI job), skipped
    # the management-access check without a word
    text = EXAMPLE.read_text()
    deployment = tmp_path / "no-management.yaml"
    deployment.write_text(text[: text.index("\nmanagement:")] + "\n")
    environment = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    argv = [*PORTPLAN, "apply", str(deployment), "--on", "da01", "--confirm-timeout", "5"]
    if given == "option":
        argv.append("--force")
    else:
        environment["PORTPLAN_APPLY_FORCE"] = "1"
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, *argv],
        input="no\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert result.returncode == 1, result.stderr  # applied (forced), then not confirmed
    said = " ".join(result.stderr.split())
    lead = "PORTPLAN_APPLY_FORCE, set in the environment," if given == "environment" else "--force"
    assert (
        f"warning: {lead} overrides a lockout check: the deployment declares no management" in said
    )
    assert said.index("overrides a lockout check") < said.index("portplan: applied.")


def test_check_only_leaves_live_address_sets_alone(namespace: str, tmp_path: Path) -> None:
    # admin-pc's egress rules name an ipset; `--check` must not swap new members into it
    shopping = examples.EXAMPLES / "shopping-contoso.yaml"
    options = ("--target", "iptables", "--egress")
    subprocess.run(
        [*PORTPLAN, "rules", str(shopping), "--host", "admin-pc", *options, "-o", str(tmp_path)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    sets = (tmp_path / "admin-pc.ipset").read_text()
    names = re.findall(r"^create (portplan_v\d+_[0-9a-f]+) (.+) -exist$", sets, re.MULTILINE)
    assert names, sets
    ipset = ["ip", "netns", "exec", namespace, "ipset"]
    for name, kind in names:  # the sets as a previous apply left them, with one more member
        netns.run([*ipset, "create", name, *kind.split()])
        netns.run([*ipset, "add", name, "192.0.2.250"])
    result = subprocess.run(
        [
            *("ip", "netns", "exec", namespace, *PORTPLAN, "apply", str(shopping)),
            *("--on", "admin-pc", *options, "--check"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "passes the checker" in result.stderr
    for name, _kind in names:
        members = netns.run([*ipset, "list", name]).stdout
        assert "192.0.2.250" in members, members


def test_verbose_shows_the_commands_apply_runs(namespace: str) -> None:
    result = apply(namespace, "--on", "da01", "--check", "-v")
    assert result.returncode == 0, result.stderr
    assert "portplan: debug: running: nft -c -f -" in result.stderr
    quiet = apply(namespace, "--on", "da01", "--check", "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_watchdog_imports_nothing_from_the_working_folder(
    namespace: str, tmp_path: Path
) -> None:
    # run as root from a folder others can write to (/tmp), the watchdog must not take a
    # `portplan` package found there for its own
    planted = tmp_path / "portplan"
    planted.mkdir()
    imported = tmp_path / "imported"
    (planted / "__init__.py").write_text(f"open({str(imported)!r}, 'w').close()\n")
    before = ruleset(namespace)
    result = subprocess.run(
        # (-P: this portplan itself does not look in the working folder either)
        ["ip", "netns", "exec", namespace, sys.executable, "-P", "-m", "portplan", "apply",
         str(EXAMPLE), "--on", "da01", "--confirm-timeout", "1"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"},
    )  # fmt: skip
    assert not imported.exists()
    assert result.returncode == 1, result.stderr  # applied, not confirmed, rolled back
    assert ruleset(namespace) == before


def test_yes_typed_before_the_new_ruleset_is_in_force_does_not_keep_it(namespace: str) -> None:
    # a 'yes' waiting at the terminal since before the load proves nothing about the session
    # the new ruleset leaves: it is dropped; one typed after the prompt keeps the ruleset
    before = ruleset(namespace)
    environment = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    command = ["ip", "netns", "exec", namespace, *PORTPLAN, "apply", str(EXAMPLE), "--on", "da01"]
    for typed_ahead, status in ((True, 1), (False, 0)):
        terminal, stdin = pty.openpty()
        try:
            if typed_ahead:
                os.write(terminal, b"yes\n")
            process = subprocess.Popen(
                [*command, "--confirm-timeout", "3"],
                stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env=environment,
            )  # fmt: skip
            assert process.stderr is not None
            said = ""
            while "Type 'yes'" not in said:
                line = process.stderr.readline()
                assert line, said
                said += line
            if not typed_ahead:
                os.write(terminal, b"yes\n")
            _out, err = process.communicate(timeout=60)
        finally:
            os.close(terminal)
            os.close(stdin)
        assert process.returncode == status, said + err
        assert (ruleset(namespace) == before) is typed_ahead


def test_iptables_without_address_sets_needs_no_ipset_tool(namespace: str, tmp_path: Path) -> None:
    """A host whose rules name no address set applies (and rolls back) with iptables where
    the ipset tool is not installed; it was refused for the missing tool."""
    tools = tmp_path / "bin"  # every command of this machine but ipset
    tools.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for command in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if command.name != "ipset" and not (tools / command.name).exists():
                (tools / command.name).symlink_to(command)
    save = ["ip", "netns", "exec", namespace, "iptables-save", "-t", "filter"]
    before = re.sub(r"(?m)^#.*\n", "", netns.run(save).stdout)
    result = apply(
        namespace, "--on", "da01", "-t", "iptables", "--confirm-timeout", "1",
        env={"PATH": str(tools)},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "ipset" not in result.stderr
    assert "previous ruleset is restored" in result.stderr
    assert re.sub(r"(?m)^#.*\n", "", netns.run(save).stdout) == before
