"""The HTML report in a real headless browser (Debian's chromium through chromium-driver):
it loads with no console error and no network request, its port search and diagram filter
give exactly the expected rows, verify results colour failed flows, and it prints to PDF.
Screenshots and PDFs go to tests/artifacts/."""

from __future__ import annotations

import base64
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import browser
import examples
from portplan.cli import cli
from portplan.publish import View, plan_diagram

pytestmark = [pytest.mark.browser, browser.needs_browser()]
DATA = Path(__file__).resolve().parent / "data"
FAILED_BACKGROUND = "rgb(253, 231, 231)"  # --failed-bg of report.css
FAILED_STROKE = "#c00000"  # the failed colour of publish.dot


def write_report(deployment: Path, out: Path, *args: str) -> Path:
    result = CliRunner().invoke(cli, ["report", str(deployment), "-o", str(out), *args])
    assert result.exit_code == 0, result.stderr
    return out


def visible_rows(page: browser.Page) -> list[int]:
    rows = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#matrix tbody tr'))"
        ".filter(r => !r.hidden).map(r => Number(r.dataset.row));"
    )
    return sorted(rows)


@pytest.fixture(scope="module")
def page() -> Iterator[browser.Page]:
    with browser.browser() as opened:
        yield opened


@pytest.mark.parametrize("name", ["shopping-contoso", "smart-id-nexus"])
def test_the_report_loads_with_no_console_error_and_no_request(
    page: browser.Page, tmp_path: Path, name: str
) -> None:
    path = write_report(examples.EXAMPLES / f"{name}.yaml", tmp_path / f"{name}.html")
    page.open(path)
    assert page.driver.title == f"portplan report: {examples.example_plan(name).deployment}"
    assert page.console() == []
    # the page itself is the one request: no style, script, font or image from anywhere
    assert page.requests() == [path.resolve().as_uri()]
    rows = len(examples.example_plan(name).rows)
    assert page.driver.find_element("id", "matrix-count").text == f"Showing {rows} of {rows} rows"
    page.screenshot(f"report-{name}.png")


def test_a_comment_opener_in_a_name_leaves_the_script_running(
    page: browser.Page, tmp_path: Path
) -> None:
    # `<!--<script>` inside a <script> element's JSON would put the parser in its "double
    # escaped" state: the page's own script would become part of the data and never run
    hostile = "Web <!--<script> </script> & \u2028"
    deployment = examples.hostile_deployment(
        tmp_path, component=hostile, purpose=f"Database access {hostile}"
    )
    page.open(write_report(deployment, tmp_path / "hostile.html"))
    assert page.console() == []
    assert page.driver.find_element("id", "matrix-count").text == "Showing 1 of 1 rows"
    data = page.driver.execute_script(
        "return JSON.parse(document.getElementById('portplan-data').textContent);"
    )
    label = data["views"]["component"]["edges"]["component-e0"]["label"]
    assert label == f"{hostile} → DB: TCP 5432"  # the text itself arrives unchanged


def test_searching_a_port_filters_the_matrix_to_exactly_its_rows(
    page: browser.Page, tmp_path: Path
) -> None:
    plan = examples.example_plan("shopping-contoso")
    page.open(write_report(examples.EXAMPLES / "shopping-contoso.yaml", tmp_path / "r.html"))
    port = page.driver.find_element("id", "matrix-port")
    for number in (1433, 50000, 8443):  # 50000: inside the dynamic RPC range 49152-65535
        port.clear()
        port.send_keys(str(number))
        expected = [i for i, row in enumerate(plan.rows) if number in row.ports]
        assert expected, number
        assert visible_rows(page) == expected, number
    page.screenshot("report-port-8443.png")
    port.clear()
    port.send_keys("8")  # a port nothing uses
    assert visible_rows(page) == [i for i, r in enumerate(plan.rows) if 8 in r.ports] == []
    page.driver.find_element("css selector", 'button[data-clear="matrix"]').click()
    assert visible_rows(page) == list(range(len(plan.rows)))


def test_clicking_a_diagram_edge_filters_to_that_pairs_rows(
    page: browser.Page, tmp_path: Path
) -> None:
    plan = examples.example_plan("smart-id-nexus")
    page.open(write_report(examples.EXAMPLES / "smart-id-nexus.yaml", tmp_path / "r.html"))
    diagram = plan_diagram(plan, View.COMPONENT)
    index, edge = next(
        (i, e)
        for i, e in enumerate(diagram.edges)
        if (e.source, e.target) == ("smart-id-21.04/user_client", "smart-id-21.04/traefik")
    )
    label = page.driver.find_element("css selector", f"g#component-e{index} text")
    label.click()
    expected = sorted(edge.rows)
    assert [plan.rows[i].source_component for i in expected] == ["user_client"] * len(expected)
    assert visible_rows(page) == expected
    selection = page.driver.find_element("id", "selection-text").text
    assert selection.startswith("Diagram selection: User client → Traefik: TCP 443, 8443")
    # the vendor tables keep only the rows of those flows
    flows = {f"{plan.rows[i].product}/{plan.rows[i].flow_id}" for i in expected}
    vendor = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('table[data-kind=vendor] tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.dataset.flows);"
    )
    assert vendor and all(set(v.split()) & flows for v in vendor)
    page.screenshot("report-edge-selected.png")
    # a box filters to every row that starts or ends on it
    node = next(i for i, n in enumerate(diagram.nodes) if n.id == "smart-id-21.04/traefik")
    page.driver.find_element("css selector", f"g#component-n{node} text").click()
    assert visible_rows(page) == sorted(diagram.nodes[node].rows)
    page.driver.find_element("id", "selection-clear").click()
    assert visible_rows(page) == list(range(len(plan.rows)))


@pytest.fixture
def web_listeners() -> Iterator[None]:
    """The loop deployment's web service on 127.0.0.3 (18080, 18081); nothing on its other
    ports, so those flows fail."""
    servers = [socket.create_server(("127.0.0.3", port)) for port in (18080, 18081)]
    try:
        yield
    finally:
        for server in servers:
            server.close()


def test_a_verify_overlay_shows_failed_flows_in_the_failed_colour(
    page: browser.Page, tmp_path: Path, web_listeners: None
) -> None:
    deployment = DATA / "loop-deployment.yaml"
    verified = CliRunner().invoke(
        cli,
        ["verify", str(deployment), "--on", "client", "--format", "json", "--timeout", "0.3",
         "--no-identify", "-o", str(tmp_path / "verify.json")],
    )  # fmt: skip
    assert verified.exit_code == 1, verified.stderr  # some flows fail, the web flow passes
    path = write_report(
        deployment, tmp_path / "loop.html", "--verify", str(tmp_path / "verify.json")
    )
    page.open(path)
    assert page.console() == []
    plan = examples.load_plan(deployment)
    statuses = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#matrix tbody tr')).map(r => "
        "[Number(r.dataset.row), r.className, getComputedStyle(r).backgroundColor]);"
    )
    by_key = {plan.rows[row].key: (cls, colour) for row, cls, colour in statuses}
    assert by_key["loop-1.0/web"][0] == "st-passed"
    assert by_key["loop-1.0/closed"] == ("st-failed", FAILED_BACKGROUND)
    # the diagram's edge between the pair carries the worst outcome: failed
    stroke = page.driver.execute_script(
        "return document.querySelector('#component-e0 path').getAttribute('stroke');"
    )
    assert stroke == FAILED_STROKE
    cell = page.driver.find_element(
        "css selector", 'tr[data-flowid="loop-1.0/closed"] td:last-child'
    )
    cell.find_element("css selector", "summary").click()  # unfold the evidence
    assert "tcp/18090 127.0.0.3: refused" in cell.text
    page.screenshot("report-verify-overlay.png")


def test_the_report_prints_to_pdf(page: browser.Page, tmp_path: Path) -> None:
    page.open(write_report(examples.EXAMPLES / "shopping-contoso.yaml", tmp_path / "r.html"))
    pdf = base64.b64decode(page.driver.print_page())
    browser.ARTIFACTS.mkdir(exist_ok=True)
    (browser.ARTIFACTS / "report-shopping-contoso.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    # the summary, the diagram on a page of its own, then the tables
    assert pages >= 3


def test_screenshots_are_pngs() -> None:
    for path in browser.ARTIFACTS.glob("report-*.png"):
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG")
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 1000 and height >= 500
