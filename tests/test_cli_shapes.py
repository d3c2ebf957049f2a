"""The commands on examples/search-cluster.yaml: hosts portplan does not manage are skipped
with the reason or refused as input errors, and ICMP rows read as ICMP in every output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import examples
import machine
from portplan.cli import cli
from portplan.cli._options import common_options
from portplan.model import IcmpType

DEPLOYMENT = str(examples.EXAMPLES / "search-cluster.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.stdout, result.stderr


# -- unmanaged hosts ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["nftables", "iptables", "windows"])
def test_all_hosts_skips_the_unmanaged_ones_and_says_why(target: str, tmp_path: Path) -> None:
    code, _out, err = run("rules", DEPLOYMENT, "-t", target, "--all-hosts", "-o", str(tmp_path))
    assert code == 0, err
    assert {p.name.split(".")[0] for p in tmp_path.iterdir()} == {"search", "dash01"}
    assert (
        "portplan: no ruleset for monitor: host 'monitor' is 'managed: false' in the "
        "deployment: a system portplan only talks to, whose firewall others run" in err
    )
    assert "portplan: no ruleset for updates: host 'updates' is 'managed: false'" in err
    assert (
        "portplan: no ruleset for anywhere: 'anywhere' is no machine: it stands for any client"
        in err
    )


@pytest.mark.parametrize(
    ("command", "host", "fix"),
    [
        (("rules", "-t", "nftables", "--host"), "monitor", "remove 'managed: false' from it in"),
        (("apply", "-t", "nftables", "--on"), "updates", "remove 'managed: false' from it in"),
        (("listen", "--on"), "monitor", "remove 'managed: false' from it in"),
        (("rules", "-t", "iptables", "--host"), "anywhere", "place 'any' on hosts in"),
    ],
)
def test_an_unmanaged_host_is_an_input_error(command: tuple[str, ...], host: str, fix: str) -> None:
    verb, *options = command
    code, out, err = run(verb, DEPLOYMENT, *options, host)
    assert code == 2, err
    assert out == ""
    option = options[-1]
    assert err.startswith(f"portplan: error: {option} {host}: ")
    assert "so portplan writes, applies and listens for no ruleset of it" in err
    assert fix in err
    assert "Traceback" not in err
    assert err.count("\n") == 1  # one paragraph


@pytest.mark.parametrize("target", ["aws", "kubernetes", "cisco", "juniper", "paloalto"])
def test_host_is_refused_by_a_target_of_the_whole_deployment(target: str, tmp_path: Path) -> None:
    # aws and kubernetes wrote every host's rules, as if --host had not been given
    code, out, err = run("rules", DEPLOYMENT, "-t", target, "--host", "search", "-o", str(tmp_path))
    assert code == 2, err
    assert out == ""
    assert "--host does not apply" in err, err
    assert err.count("\n") == 1  # one paragraph
    assert not any(tmp_path.iterdir())
    code, _out, err = run("rules", DEPLOYMENT, "-t", target, "--all-hosts", "-o", str(tmp_path))
    assert code == 2, err
    assert "--all-hosts does not apply" in err, err


@pytest.mark.parametrize(
    ("target", "first", "second"),
    [
        ("windows", "profile=domain", "profile = private"),
        ("nftables", "loopback=all", "loopback=planned"),
    ],
)
def test_a_setting_given_twice_is_refused(
    target: str, first: str, second: str, tmp_path: Path
) -> None:
    # the later value won without a word: Domain and Private meant, Private only written
    code, out, err = run(
        "rules", DEPLOYMENT, "-t", target, "--host", "dash01", "--set", first, "--set", second,
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2, err
    assert out == ""
    key = first.partition("=")[0]
    assert err == (
        f"portplan: error: --set {key} is given twice, with two values ({first!r}, {second!r}); "
        "give it once\n"
    )
    assert not any(tmp_path.iterdir())
    # the same value twice says one thing: accepted
    code, _out, err = run(
        "rules", DEPLOYMENT, "-t", target, "--host", "dash01", "--set", first, "--set", first,
        "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize("target", ["nftables", "iptables", "windows"])
def test_host_and_all_hosts_together_are_refused(target: str, tmp_path: Path) -> None:
    # --all-hosts was dropped without a word: only the --host ruleset was written
    code, out, err = run(
        "rules", DEPLOYMENT, "-t", target, "--host", "dash01", "--all-hosts",
        "-o", f"{tmp_path}/",
    )  # fmt: skip
    assert code == 2, err
    assert out == ""
    assert err == (
        "portplan: error: --host and --all-hosts together: give --host HOST (repeatable) for "
        "some hosts, or --all-hosts for every one\n"
    )
    assert not any(tmp_path.iterdir())


def test_rulesets_whose_names_differ_in_case_only_are_refused(tmp_path: Path) -> None:
    # hosts Dash01 and dash01 wrote Dash01.nft and dash01.nft: where case is ignored, one
    # host's file replaced the other's, and it got the other's rules
    text = (examples.EXAMPLES / "search-cluster.yaml").read_text()
    text = text.replace(
        "  dash01:\n", "  Dash01:\n    addresses: [198.51.100.21]\n    zone: dmz\n  dash01:\n"
    )
    text = text.replace("dashboard: dash01", "dashboard: [dash01, Dash01]")
    text = text.replace("file: products/", f"file: {examples.EXAMPLES}/products/")
    deployment = tmp_path / "cased.yaml"
    deployment.write_text(text)
    out = tmp_path / "rules"
    code, _out, err = run("rules", str(deployment), "-t", "nftables", "--all-hosts", "-o", str(out))
    assert code == 2, err
    error = err.splitlines()[-1]  # after the notes on hosts that get no ruleset
    assert error.startswith(
        "portplan: error: the files Dash01.nft and dash01.nft differ only in case"
    ), err
    assert not out.exists() or not any(out.iterdir())


def test_a_setting_the_product_does_not_have_names_the_product_not_the_file(
    tmp_path: Path,
) -> None:
    # the hint said "this file declares no features" while naming the deployment file
    text = (examples.EXAMPLES / "search-cluster.yaml").read_text()
    text = text.replace("file: products/", f"file: {examples.EXAMPLES}/products/")
    text = text.replace(
        "      update_service: updates\n",
        "      update_service: updates\n    features:\n      appclarity: true\n",
    )
    deployment = tmp_path / "d.yaml"
    deployment.write_text(text)
    code, _out, err = run("validate", str(deployment))
    assert code == 2, err
    assert "has no feature 'appclarity' (product example-search-2.0 declares no features)" in err
    assert "this file" not in err


def test_aws_names_the_hosts_it_writes_no_group_for() -> None:
    code, out, err = run("rules", DEPLOYMENT, "-t", "aws")
    assert code == 0, err
    assert "# no security group for monitor: host 'monitor' is 'managed: false'" in out
    assert 'resource "aws_security_group" "updates"' not in out


# -- ICMP and name-only hosts in the outputs ---------------------------------------------------


def test_matrix_json_carries_the_icmp_types() -> None:
    code, out, err = run("matrix", DEPLOYMENT, "--format", "json")
    assert code == 0, err
    flows = machine.document(out, "matrix")["flows"]
    ping = next(f for f in flows if f["flow"] == "example-search-2.0/monitoring-ping")
    assert (ping["protocol"], ping["ports"], ping["icmp"]) == ("icmp", [], ["echo-request"])
    mtu = next(f for f in flows if f["flow"] == "example-search-2.0/path-mtu")
    assert mtu["icmp"] == ["destination-unreachable", "packet-too-big"]
    assert mtu["source_address"] == ["0.0.0.0/0", "::/0"]
    updates = next(f for f in flows if f["destination"] == "updates")
    assert updates["destination_address"] == []
    assert all(f["icmp"] is None for f in flows if f["protocol"] != "icmp")


def test_the_schema_names_every_icmp_type() -> None:
    code, out, _err = run("schema", "matrix")
    assert code == 0
    flow = json.loads(out)["$defs"]["flow"]["properties"]["icmp"]
    assert set(flow["anyOf"][0]["items"]["enum"]) == {t.value for t in IcmpType}


def test_xlsx_change_request_reads_icmp_and_names(tmp_path: Path) -> None:
    path = tmp_path / "cr.xlsx"
    code, _out, err = run("matrix", DEPLOYMENT, "--format", "xlsx", "-o", str(path))
    assert code == 0, err
    sheet = load_workbook(path)["Flows"]
    cells = [[str(c.value or "") for c in row] for row in sheet.iter_rows()]
    header = cells[0]
    rows = [dict(zip(header, row, strict=False)) for row in cells[1:]]
    mtu = next(r for r in rows if r.get("flow") == "example-search-2.0/path-mtu")
    assert (mtu["protocol"], mtu["ports"]) == ("icmp", "destination-unreachable, packet-too-big")
    updates = next(r for r in rows if r.get("destination") == "updates")
    assert updates["destination_address"] == "updates.example.com"


def test_explain_reads_icmp() -> None:
    code, out, err = run("matrix", DEPLOYMENT, "--explain", "monitoring-ping")
    assert code == 0, err
    assert "example-search-2.0/monitoring-ping: monitor -> search icmp echo-request" in out


def test_report_and_diagrams_read_icmp(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    code, _out, err = run("report", DEPLOYMENT, "-o", str(report))
    assert code == 0, err
    html = report.read_text()
    assert "echo-request" in html and "updates.example.com" in html
    code, out, err = run("diagram", DEPLOYMENT, "--format", "mermaid")
    assert code == 0, err
    assert '|"ICMP echo-request"|' in out
    assert '|"TCP 9300 · ICMP echo-request"|' in out  # the cluster's own edge: a mesh
    code, out, err = run(
        "diagram",
        str(examples.EXAMPLES / "products/example-search-2.0.yaml"),
        "--format",
        "mermaid",
    )
    assert code == 0, err
    assert "ICMP destination-unreachable, packet-too-big" in out


def test_diff_reads_icmp_changes(tmp_path: Path) -> None:
    product = (examples.EXAMPLES / "products" / "example-search-2.0.yaml").read_text()
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / "example-search-2.0.yaml").write_text(
        product.replace("icmp: [echo-request]", "icmp: [echo-request, time-exceeded]")
    )
    new = tmp_path / "search-cluster.yaml"
    new.write_text(Path(DEPLOYMENT).read_text())
    code, out, err = run("diff", DEPLOYMENT, str(new), "--format", "json")
    assert code == 1, err
    (change,) = machine.document(out, "diff")["changes"]
    assert (change["kind"], change["flow"], change["protocol"]) == (
        "widen",
        "example-search-2.0/node-ping",
        "icmp",
    )
    assert [box["icmp"] for box in change["open"]] == [[[11 * 256, 11 * 256 + 255]]]
    code, out, err = run("diff", DEPLOYMENT, str(new), "--format", "csv")
    assert code == 1, err
    assert ",icmp,type 11,vendor row changed: flow node-ping of example-search-2.0," in out


def test_with_v_a_failure_a_command_goes_on_past_shows_its_traceback() -> None:
    """A debug log with its exception (an identifier that failed: verify goes on) shows the
    traceback with -v, to report it; without -v, nothing of it."""

    @click.command()
    @common_options
    def run() -> None:
        try:
            raise KeyError("peer")
        except KeyError:
            logging.getLogger("portplan").debug("the https identifier failed", exc_info=True)

    shown = CliRunner().invoke(run, ["-v"])
    assert "portplan: debug: the https identifier failed\nTraceback" in shown.output
    assert "KeyError: 'peer'" in shown.output
    assert "Traceback" not in CliRunner().invoke(run, []).output
