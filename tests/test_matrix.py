"""`portplan matrix`: the concrete flow matrix of the example deployments, in every format."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

import examples
import machine
from portplan.cli import cli
from portplan.load.deployment import load_deployment
from portplan.pipeline import plan_bundle
from portplan.report._workbook import PROGRESS_EVERY
from portplan.report.columns import matrix_rows
from portplan.report.matrix import MATRIX_COLUMNS, matrix_bytes
from portplan.report.text import spreadsheet_row
from portplan.report.xlsx import write_change_request, zone_sheet_titles

DEPLOYMENTS = ["shopping-contoso", "smart-id-nexus", "search-cluster"]
TEXT_FORMATS = {"csv": "csv", "json": "json", "md": "md", "table": "txt"}
REQUIRED_COLUMNS = {
    "flow",
    "source",
    "source_address",
    "destination",
    "destination_address",
    "protocol",
    "ports",
    "service",
    "purpose",
    "condition",
    "configurable",
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.stdout, result.stderr


def rows_of(deployment: str) -> list[dict[str, str]]:
    code, out, err = run("matrix", str(examples.EXAMPLES / f"{deployment}.yaml"), "--format", "csv")
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


@pytest.mark.parametrize("fmt", sorted(TEXT_FORMATS))
@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_matrix_matches_golden(
    deployment: str, fmt: str, golden: Callable[[str, bytes], None]
) -> None:
    code, out, err = run("matrix", str(examples.EXAMPLES / f"{deployment}.yaml"), "--format", fmt)
    assert code == 0, err
    golden(f"matrix/{deployment}.{TEXT_FORMATS[fmt]}", out.encode())


def test_csv_is_a_change_request_with_the_required_columns() -> None:
    rows = rows_of("shopping-contoso")
    assert set(rows[0]) >= REQUIRED_COLUMNS
    assert tuple(rows[0]) == MATRIX_COLUMNS
    assert {row["flow"].split("/")[0] for row in rows} == {"shopping-6.1", "management"}


def test_override_is_applied_and_traced() -> None:
    rows = [r for r in rows_of("shopping-contoso") if r["flow"] == "shopping-6.1/client-https"]
    assert len(rows) == 1
    assert rows[0]["ports"] == "8443"
    assert rows[0]["source_address"] == "198.51.100.0/24"
    assert rows[0]["destination_address"] == "192.0.2.10"
    assert "website_port=8443 (vendor default 443)" in rows[0]["overrides"]
    assert rows[0]["configurable"] == "yes"


def test_conditions_switch_flows_on_and_off() -> None:
    flows = {r["flow"] for r in rows_of("shopping-contoso")}
    assert "shopping-6.1/central-appclarity" in flows  # appclarity: true
    assert "shopping-6.1/central-pop3" not in flows  # lab and not exchange: false
    assert "shopping-6.1/client-smtp" not in flows
    assert "shopping-6.1/central-cm-sql" in flows  # not rbac
    assert "shopping-6.1/console-ldap" in flows  # remote_admin_console: true


def test_dynamic_rpc_range_follows_the_destination_platform() -> None:
    rows = [r for r in rows_of("shopping-contoso") if r["flow"] == "shopping-6.1/central-wmi"]
    assert [(r["destination"], r["ports"]) for r in rows] == [("cm01", "135,445,49152-65535")]


def test_same_host_flows_are_local_and_loopback_flows_stay_on_the_host() -> None:
    rows = rows_of("shopping-contoso")
    # Website and Central Service share shop01; the Receiver and the SMS Provider share cm01
    assert not [
        r
        for r in rows
        if r["source"] == r["destination"] and r["flow"] != ("shopping-6.1/client-agent")
    ]
    agent = [r for r in rows if r["flow"] == "shopping-6.1/client-agent"]
    assert len(agent) == 1
    assert agent[0]["source"] == agent[0]["destination"] == "clients"
    assert agent[0]["source_address"] == agent[0]["destination_address"] == "127.0.0.0/8, ::1"
    assert agent[0]["ports"] == "8000"


def test_ingress_on_its_own_hosts_splits_a_flow_in_two_hops() -> None:
    rows = {r["flow"]: r for r in rows_of("smart-id-nexus")}
    front = rows["smart-id-21.04/im-operator/ingress"]
    back = rows["smart-id-21.04/im-operator/backend"]
    assert (front["source"], front["destination"], front["ports"]) == (
        "internet",
        "traefik01",
        "443",
    )
    assert (back["source"], back["destination"], back["ports"]) == ("traefik01", "idm01", "7071")
    assert "smart-id-21.04/im-operator" not in rows


def test_published_port_without_ingress_keeps_the_listening_port() -> None:
    rows = {r["flow"]: r for r in rows_of("smart-id-nexus")}
    access_point = rows["smart-id-21.04/da-access-point"]
    assert (access_point["ports"], access_point["listen_ports"]) == ("443", "10443")


def test_udp_range_and_parameter_without_default() -> None:
    rows = rows_of("smart-id-nexus")
    radius = [r for r in rows if r["flow"] == "smart-id-21.04/da-radius"]
    assert [(r["source"], r["protocol"], r["ports"]) for r in radius] == [
        ("radius-clients", "udp", "18118-18126")
    ]
    database = [r for r in rows if r["flow"] == "smart-id-21.04/da-external-database"]
    assert [(r["destination"], r["ports"]) for r in database] == [("pgsql01", "5433")]
    assert not [r for r in rows if r["flow"] == "smart-id-21.04/da-database"]


def test_json_carries_typed_fields_and_the_rows_not_required() -> None:
    code, out, _ = run("matrix", str(examples.EXAMPLES / "smart-id-nexus.yaml"), "--format", "json")
    assert code == 0
    data = machine.document(out, "matrix")
    radius = next(f for f in data["flows"] if f["flow"] == "smart-id-21.04/da-radius")
    assert radius["ports"] == [[18118, 18126]]
    assert radius["destination_address"] == ["192.0.2.40"]
    assert radius["hop"] == "direct"
    skipped = {n["flow"]: n["reasons"] for n in data["not_in_plan"]}
    assert any("external_database=true" in r for r in skipped["smart-id-21.04/da-database"])


def test_xlsx_is_a_styled_deterministic_change_request(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")
    for out in (first, second):
        code, _, err = run("matrix", deployment, "--format", "xlsx", "-o", str(out))
        assert code == 0, err
    assert first.read_bytes() == second.read_bytes()
    # no clock in the file: the same bytes whenever it is written, not only within one second
    book = load_workbook(first)
    assert book.properties.created == book.properties.modified == datetime(2000, 1, 1)
    sheet = book["Flows"]
    header = [c.value for c in sheet[1]]
    assert tuple(header) == (*MATRIX_COLUMNS, "requester", "justification", "ticket", "expiry")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:Z{sheet.max_row}"
    # the change board's columns: empty but there, the justification prefilled with the purpose
    for row in sheet.iter_rows(min_row=2, values_only=True):
        record = dict(zip(header, row, strict=True))
        assert record["justification"] == record["purpose"] and record["purpose"]
        assert record["requester"] is record["ticket"] is record["expiry"] is None
    assert sheet["A1"].font.bold
    assert sheet["A1"].fill.fgColor.rgb.endswith("1F4E78")
    assert sheet.column_dimensions["A"].width > 20
    # purpose is wrapped, not a mile wide: 60 characters, which the file stores as Excel's
    # 60.71 (the characters plus the cell's padding)
    assert sheet.column_dimensions["O"].width < 61
    assert sheet.max_row == 1 + len(rows_of("shopping-contoso"))
    assert book["Not in plan"]["A2"].value.startswith("shopping-6.1/")
    # one sheet per zone firewall, holding exactly the rows that cross it
    assert book.sheetnames == ["Change request", "Flows", "FW clients to servers", "Not in plan"]
    # the cover: the deployment, products and their documents, openings per firewall
    cover = [
        tuple(v for v in row if v is not None)
        for row in book["Change request"].iter_rows(values_only=True)
    ]
    assert cover[0] == ("Firewall change request: contoso-shopping",)
    assert ("Deployment", "contoso-shopping") in cover
    assert (
        "Shopping", "6.1", "1E", "Shopping 6.1 - Communications Ports",
        "shared/seeds/shopping-6.1-communications-ports.txt",
    ) in cover  # fmt: skip
    rows = rows_of("shopping-contoso")
    # counts are numbers, which a spreadsheet adds up (as text, SUM gave 0)
    assert ("Rows (openings)", len(rows)) in cover
    for firewall in {r["host_firewall"] for r in rows if r["host_firewall"]}:
        count = sum(r["host_firewall"] == firewall for r in rows)
        assert ("host", firewall, count) in cover
    crossing = [r for r in rows_of("shopping-contoso") if r["zone_boundary"]]
    assert ("zone", "clients -> servers", len(crossing), "FW clients to servers") in cover
    assert {r["zone_boundary"] for r in crossing} == {"clients -> servers"}
    assert book["FW clients to servers"].max_row == 1 + len(crossing)


def test_explain_says_why_a_flow_is_in_or_out() -> None:
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")
    code, out, _ = run("matrix", deployment, "--explain", "central-pop3")
    assert code == 0
    assert "shopping-6.1/central-pop3: OUT" in out
    assert "condition 'lab and not exchange' is false" in out
    code, out, _ = run("matrix", deployment, "--explain", "shopping-6.1/website-https")
    assert "IN" in out.splitlines()[0]
    assert "website_port=8443 (vendor default 443)" in out
    assert "shopping-contoso.yaml:" in out
    code, out, _ = run("matrix", deployment, "--explain", "receiver-wmi")
    assert "same host" in out
    code, _, err = run("matrix", deployment, "--explain", "central-pop")
    assert code == 2
    assert "did you mean" in err


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "xlsx"])
def test_explain_in_a_machine_format_is_refused(fmt: str) -> None:
    # --explain writes text: a script that asked for JSON was handed text, exit 0
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")
    code, out, err = run("matrix", deployment, "--explain", "central-pop3", "--format", fmt)
    assert (code, out) == (2, "")
    assert f"it has no --format {fmt} (leave --format out)" in err


def test_explain_of_a_flow_id_two_products_have_names_both(tmp_path: Path) -> None:
    # a flow id two products share named neither: the error said "no flow 'web' in this
    # deployment; did you mean 'web'?", the very word typed
    product = yaml.safe_load((Path(__file__).parent / "data" / "loop-product.yaml").read_text())
    for new_id in ("loop-a", "loop-b"):
        (tmp_path / f"{new_id}.yaml").write_text(yaml.safe_dump({**product, "id": new_id}))
    binding = {"components": {"client": "client", "server": "server"}}
    deployment = tmp_path / "d.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "name": "two",
                "hosts": {
                    "client": {"addresses": "192.0.2.1"},
                    "server": {"addresses": "192.0.2.2"},
                },
                "products": {p: {"file": f"{p}.yaml", **binding} for p in ("loop-a", "loop-b")},
            }
        )
    )
    code, _, err = run("matrix", str(deployment), "--explain", "web")
    assert code == 2
    message = " ".join(err.split())
    assert "flow id 'web' is a flow of several products: loop-a/web, loop-b/web" in message
    assert "did you mean 'web'" not in message
    code, out, err = run("matrix", str(deployment), "--explain", "loop-b/web")
    assert code == 0, err
    assert out.startswith("loop-b/web: IN")


def test_explain_names_a_subcomponent_placed_on_an_empty_list(tmp_path: Path) -> None:
    # written out, an empty list replaces the main component's hosts: the agent runs nowhere,
    # and only --explain can say that this is why its flow gives no rows
    deployment = tmp_path / "d.yaml"
    text = (examples.EXAMPLES / "shopping-contoso.yaml").read_text()
    deployment.write_text(
        text.replace("      client: clients\n", "      client: clients\n      agent: []\n")
    )
    code, out, err = run("matrix", str(deployment), "--explain", "client-agent")
    assert code == 0, err
    assert "shopping-6.1/client-agent: OUT" in out
    assert (
        "'agent' is placed on an empty list (products.shopping-6.1.components.agent: []), so "
        "it runs on no host rather than where its main component 'client' runs"
        in " ".join(out.split())
    )
    # left out, it runs with the client, and nothing is said of a list
    code, out, _ = run(
        "matrix", str(examples.EXAMPLES / "shopping-contoso.yaml"), "--explain", "client-agent"
    )
    assert "shopping-6.1/client-agent: IN" in out
    assert "empty list" not in out


def test_output_never_overwrites_the_input(tmp_path: Path) -> None:
    deployment = tmp_path / "d.yaml"
    original = (examples.EXAMPLES / "shopping-contoso.yaml").read_text()
    deployment.write_text(original)
    code, _, err = run("matrix", str(deployment), "--format", "csv", "-o", str(deployment))
    assert code == 2
    assert "one of the input files" in err
    assert deployment.read_text() == original


def test_one_deployment_plans_two_products_on_shared_hosts(tmp_path: Path) -> None:
    smart_id = """  smart-id-21.04:
    components:
      digital_access: shop01
      identity_manager: shop01
      user_client: clients
"""
    text = (examples.EXAMPLES / "shopping-contoso.yaml").read_text()
    text = text.replace("products:\n", "products:\n" + smart_id)
    path = tmp_path / "both.yaml"
    path.write_text(text)
    code, out, err = run("matrix", str(path), "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    products = {r["flow"].split("/")[0] for r in rows}
    assert products == {"shopping-6.1", "smart-id-21.04", "management"}
    # shop01 serves the Shopping Website and Identity Manager alike
    into_shop01 = {r["flow"].split("/")[0] for r in rows if r["destination"] == "shop01"}
    assert into_shop01 == {"shopping-6.1", "smart-id-21.04", "management"}
    assert "smart-id-21.04/im-operator" in {r["flow"] for r in rows}


def test_management_access_reaches_every_single_host() -> None:
    rows = [r for r in rows_of("smart-id-nexus") if r["flow"] == "management/ssh"]
    destinations = {r["destination"] for r in rows}
    assert destinations == {
        "traefik01",
        "idm01",
        "pa01",
        "msg01",
        "da-edge01",
        "da01",
        "pgsql01",
        "scim01",
        "rabbit01",
        "sipass01",
    }  # not the groups (internet, admin-net, radius-clients)
    assert {(r["source"], r["protocol"], r["ports"]) for r in rows} == {("admin-net", "tcp", "22")}


def test_each_row_says_which_firewalls_must_open_it() -> None:
    rows = {r["flow"]: r for r in rows_of("smart-id-nexus")}
    front = rows["smart-id-21.04/im-operator/ingress"]
    assert (front["zone_boundary"], front["host_firewall"]) == ("internet -> dmz", "traefik01")
    back = rows["smart-id-21.04/im-operator/backend"]
    assert (back["zone_boundary"], back["host_firewall"]) == ("dmz -> internal", "idm01")
    inside = rows["smart-id-21.04/pa-scim"]
    assert (inside["zone_boundary"], inside["host_firewall"]) == ("", "pa01")


def test_an_override_is_named_at_its_line_from_the_first_reading() -> None:
    deployment = examples.EXAMPLES / "shopping-contoso.yaml"
    line = next(
        number
        for number, text in enumerate(deployment.read_text().splitlines(), start=1)
        if text.strip().startswith("website_port:")
    )
    bundle = load_deployment(deployment)
    plan = plan_bundle(bundle)
    overrides = {o for row in plan.rows for o in row.overrides}
    assert f"website_port=8443 (vendor default 443) (shopping-contoso.yaml:{line})" in overrides
    # the rest of the file's positions are still found when a message needs one
    assert bundle.source.value(("hosts",)) is not None


# search-cluster: ICMP rows, a host known by name only, a cluster's mesh, unmanaged hosts
@pytest.mark.parametrize(
    "name", ["shopping-contoso", "smart-id-nexus", "smart-id-k8s", "search-cluster"]
)
def test_csv_is_what_the_csv_module_writes_of_the_rows(name: str) -> None:
    plan = plan_bundle(load_deployment(examples.EXAMPLES / f"{name}.yaml"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(MATRIX_COLUMNS)
    writer.writerows(map(spreadsheet_row, matrix_rows(plan)))
    assert matrix_bytes(plan, "csv") == buffer.getvalue().encode()


FORMULAS = ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_csv_cell_a_spreadsheet_would_run_starts_with_a_quote(
    tmp_path: Path, formula: str
) -> None:
    deployment = examples.hostile_deployment(tmp_path, purpose=formula)
    code, out, err = run("matrix", str(deployment), "--format", "csv")
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    # a carriage return ends the line where ";" splits it: the "=" after it is guarded too
    assert row["purpose"] == "'" + formula.replace("\r=", "\r'=")
    assert row["ports"] == "5432"  # what portplan writes itself is unchanged


LINE_BREAKS = "\n\r\v\f\x1c\x85\u2028\u2029"


def markdown_cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split at the pipes no backslash escapes."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def test_markdown_text_stays_in_its_heading_and_cell(tmp_path: Path) -> None:
    breaks = "".join(f"{c}## Approved{c}" for c in LINE_BREAKS)
    deployment = examples.hostile_deployment(
        tmp_path,
        deployment=f"md{breaks}",
        purpose=f"Database access.{breaks}APPROVED | by | <b>security</b> & team",
    )
    code, out, err = run("matrix", str(deployment), "--format", "md")
    assert code == 0, err
    heading, blank, header, _rule, row, *rest = out.split("\n")
    assert heading == "# Flow matrix: md" + " ## Approved" * len(LINE_BREAKS)
    assert (blank, rest) == ("", [""])
    cells = markdown_cells(row)
    assert len(cells) == len(markdown_cells(header)) == len(MATRIX_COLUMNS)
    purpose = cells[MATRIX_COLUMNS.index("purpose")]
    assert purpose.endswith(r"APPROVED \| by \| &lt;b>security&lt;/b> &amp; team")


def test_zone_sheets_whose_names_meet_at_31_characters_both_get_a_sheet(tmp_path: Path) -> None:
    # Excel's sheet names: at most 31 characters, unique (XlsxWriter refused the second)
    deployment = examples.hostile_deployment(
        tmp_path, zones=("datacenter-east-servers-web", "datacenter-east-servers-db")
    )
    data = yaml.safe_load(deployment.read_text())
    data["hosts"]["db02"] = {"addresses": ["192.0.2.30"], "zone": "datacenter-east-servers-db2"}
    data["products"]["hostile-1.0"]["components"]["db"] = ["db01", "db02"]
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "m.xlsx"
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(out))
    assert code == 0, err
    book = load_workbook(out)
    assert book.sheetnames == [
        "Change request",
        "Flows",
        "FW datacenter-east-servers-web",
        "FW datacenter-east-servers-we~2",
        "Not in plan",
    ]
    # the cover says which sheet is which boundary's, each named in full
    zones = [
        row[:4]
        for row in book["Change request"].iter_rows(values_only=True)
        if row[0] in ("Firewall", "zone")
    ]
    assert zones == [
        ("Firewall", "Name", "Openings", "Sheet"),
        (
            "zone",
            "datacenter-east-servers-web -> datacenter-east-servers-db",
            1,
            "FW datacenter-east-servers-web",
        ),
        (
            "zone",
            "datacenter-east-servers-web -> datacenter-east-servers-db2",
            1,
            "FW datacenter-east-servers-we~2",
        ),
    ]
    # each sheet holds its own boundary's row, the boundary named in full in its cells
    boundaries = []
    for title in book.sheetnames[2:4]:
        header, *rows = book[title].iter_rows(values_only=True)
        (row,) = rows
        boundaries.append(dict(zip(header, row, strict=True))["zone_boundary"])
    assert boundaries == [
        "datacenter-east-servers-web -> datacenter-east-servers-db",
        "datacenter-east-servers-web -> datacenter-east-servers-db2",
    ]


@pytest.mark.parametrize(
    ("boundary", "title"),
    [
        ("a -> b", "FW a to b"),
        ("lab[1]:x -> y*?/\\z", "FW lab_1__x to y____z"),
        ("a -> " + "b" * 22 + "'c", "FW a to " + "b" * 22),  # no ' at the end
        ("a -> b\n'c", "FW a to b 'c"),
    ],
)
def test_a_zone_sheet_title_is_one_excel_allows(boundary: str, title: str) -> None:
    assert zone_sheet_titles([boundary], taken=["Flows"]) == {boundary: title}


def test_writing_a_workbook_tells_its_progress_and_the_same_bytes_come_out(tmp_path: Path) -> None:
    """``progress(done, total)`` climbs every PROGRESS_EVERY rows to every row of every sheet
    (cover aside); the workbook is the same with or without it."""
    deployment = tmp_path / "many.yaml"
    many = yaml.safe_load((examples.EXAMPLES / "shopping-contoso.yaml").read_text())
    del many["hosts"]["clients"]  # the client network, as 250 single clients
    pcs = [f"pc{number}" for number in range(1, 251)]
    for number, name in enumerate(pcs, start=1):
        many["hosts"][name] = {"addresses": [f"198.51.100.{number}"], "zone": "clients"}
    many["products"]["shopping-6.1"]["components"]["client"] = pcs
    deployment.write_text(yaml.safe_dump(many, sort_keys=False))
    plan = plan_bundle(load_deployment(deployment))
    calls: list[tuple[int, int]] = []
    shown = io.BytesIO()
    write_change_request(plan, shown, progress=lambda done, total: calls.append((done, total)))
    assert shown.getvalue() == matrix_bytes(plan, "xlsx")
    book = load_workbook(shown, read_only=True)
    rows = sum(book[title].max_row - 1 for title in book.sheetnames[1:])
    assert rows > PROGRESS_EVERY  # more than one call, the Flows sheet alone too
    assert calls[-1] == (rows, rows)
    assert all(total == rows for _done, total in calls)
    steps = [b[0] - a[0] for a, b in zip([(0, rows), *calls], calls, strict=False)]
    assert all(0 < step <= PROGRESS_EVERY for step in steps)
    assert steps.count(PROGRESS_EVERY) >= rows // PROGRESS_EVERY - len(book.sheetnames)


def test_an_xlsx_being_written_shows_a_bar_on_a_terminal_and_not_elsewhere(
    tmp_path: Path,
) -> None:
    """On a terminal (standard error) a transient bar names the work; -q, or standard error
    not a terminal, shows none; the workbook is the same."""
    deployment = str(examples.EXAMPLES / "shopping-contoso.yaml")

    def written(*options: str, terminal: bool) -> tuple[str, bytes]:
        out = tmp_path / "m.xlsx"
        argv = [sys.executable, "-m", "portplan", *options, "matrix", deployment]
        argv += ["--format", "xlsx", "-o", str(out), "--overwrite"]
        # (the bar is drawn as it starts, so a run this short shows it too)
        if not terminal:
            done = subprocess.run(argv, capture_output=True, timeout=120, check=True)
            return done.stderr.decode(), out.read_bytes()
        leader, follower = pty.openpty()
        with subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower
        ) as process:
            os.close(follower)
            seen = b""
            while chunk := _read_terminal(leader):
                seen += chunk
            assert process.wait(timeout=120) == 0, seen
        os.close(leader)
        return seen.decode(errors="replace"), out.read_bytes()

    shown, workbook = written(terminal=True)
    assert "writing the workbook" in shown
    assert workbook == matrix_bytes(plan_bundle(load_deployment(Path(deployment))), "xlsx")
    quiet, _ = written("-q", terminal=True)
    assert "writing the workbook" not in quiet
    piped, _ = written(terminal=False)
    assert piped == ""


def _read_terminal(leader: int) -> bytes:
    """What the terminal's other end wrote; ``b""`` once it is closed (EIO on Linux)."""
    try:
        return os.read(leader, 4096)
    except OSError:
        return b""


def test_a_host_named_twice_in_a_placement_gives_each_row_once(tmp_path: Path) -> None:
    data = examples.example_data("smart-id-nexus")
    components = data["products"]["smart-id-21.04"]["components"]
    components["traefik"] = ["traefik01", "traefik01"]
    components["identity_manager"] = ["idm01", "idm01"]
    data["management"][0].update({"from": ["admin-net", "admin-net"], "to": ["da01", "da01"]})
    doubled = examples.plan_from_data(data, tmp_path)
    plain = examples.example_data("smart-id-nexus")
    plain["management"][0]["to"] = ["da01"]
    once = examples.plan_from_data(plain, tmp_path, "once")
    keys = [(r.key, r.source, r.destination) for r in doubled.rows]
    assert len(keys) == len(set(keys))
    assert keys == [(r.key, r.source, r.destination) for r in once.rows]


def cover(deployment: Path, out: Path) -> list[tuple[str | int, ...]]:
    """The cover sheet of ``matrix --format xlsx``, each line its filled cells."""
    code, _, err = run("matrix", str(deployment), "--format", "xlsx", "-o", str(out))
    assert code == 0, err
    return [
        tuple(v for v in row if v is not None)
        for row in load_workbook(out)["Change request"].iter_rows(values_only=True)
    ]


def test_the_xlsx_cover_counts_a_flow_through_an_ingress_once(tmp_path: Path) -> None:
    # an ingress flow's two legs (/ingress, /backend) are one flow of one vendor row, not two;
    # Smart ID's 20 flows are 19 vendor rows, two of them out of the plan
    lines = cover(examples.EXAMPLES / "smart-id-nexus.yaml", tmp_path / "bank.xlsx")
    assert ("Vendor rows in the plan", "17 of 19 (17 of their 20 flows)") in lines
    assert ("Management access in the plan", "1 of 1 entries") in lines


def test_the_xlsx_cover_counts_vendor_rows_and_names_no_management_it_lacks(
    tmp_path: Path,
) -> None:
    # it said "22 of 26 vendor rows and management access": 26 counted the flows (a vendor row
    # of TCP and UDP is two), with management access, and named management access where the
    # deployment declares none
    data = examples.example_data("shopping-contoso")
    del data["management"]
    deployment = tmp_path / "contoso.yaml"
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    lines = cover(deployment, tmp_path / "contoso.xlsx")
    assert ("Vendor rows in the plan", "22 of 25 (22 of their 26 flows)") in lines
    assert not [line for line in lines if any("anagement" in str(cell) for cell in line)]
    # the matrix table and the report say flows, and management access only where there is some
    code, table, err = run("matrix", str(deployment))
    assert code == 0, err
    assert table.rstrip().splitlines()[-1] == "31 rows; 4 product flows give no rows (--explain)"
    code, page, err = run("report", str(deployment))
    assert code == 0, err
    assert "22 flows of 26 needed (22 of 25 vendor rows), giving 31 rows" in page
    assert "anagement access" not in page
    # a management entry that gives no row (from admin-pc to itself) is no product flow
    data["management"] = [
        {"id": "self", "from": "admin-pc", "to": ["admin-pc"], "ports": 3389, "purpose": "RDP"}
    ]
    deployment.write_text(yaml.safe_dump(data, sort_keys=False))
    lines = cover(deployment, tmp_path / "self.xlsx")
    assert ("Management access in the plan", "0 of 1 entries") in lines
    code, table, err = run("matrix", str(deployment))
    assert code == 0, err
    assert table.rstrip().splitlines()[-1] == (
        "31 rows; 4 product flows give no rows, 1 management access entries give none (--explain)"
    )


def test_explain_shows_the_vendor_s_text_as_written_not_as_terminal_commands(
    tmp_path: Path,
) -> None:
    # --explain printed the document's title raw: an ESC sequence cleared the screen and
    # coloured it, a CR or a line break moved the line, where the matrix table showed symbols
    title = "Ports\x1b[2J\x1b[31m red\rover\nwritten"
    deployment = examples.hostile_deployment(tmp_path, title=title)
    code, out, err = run("matrix", str(deployment), "--explain", "web-db")
    assert code == 0, err
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)
    assert "  vendor row: Ports␛[2J␛[31m red␍over␊written > row 1\n" in out
    assert out.splitlines()[0] == "hostile-1.0/web-db: IN"
