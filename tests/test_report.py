"""`portplan report`: one self-contained, deterministic HTML page; overlays read by kind and
format_version, anything else refused with exit status 2."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import re
import shutil
from collections import Counter
from html import parser as html_parser
from pathlib import Path

import pytest
from click.testing import CliRunner

import examples
from portplan._errors import OverlayError
from portplan.cli import cli
from portplan.publish import Status, View, overlay_rows, plan_diagram, read_overlay

pytestmark = [
    pytest.mark.graphviz,
    pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot"),
]
DEPLOYMENT = str(examples.EXAMPLES / "smart-id-nexus.yaml")
PA01, SCIM01 = "192.0.2.20", "192.0.2.60"  # their addresses in smart-id-nexus.yaml
RADIUS_CLIENT = "192.0.2.97"  # one of radius-clients, 192.0.2.96/29


def report(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["report", DEPLOYMENT, *args])
    return result.exit_code, result.stdout, result.stderr


def verify_document(checks: list[dict[str, object]], version: str = "1.0", **more: object) -> str:
    return json.dumps(
        {
            "format_version": version,
            "kind": "verify",
            **more,
            "checks": checks,
            "not_probed": [],
            "passed": 0,
            "failed": 0,
        }
    )


def check(
    flow: str,
    source: str,
    destination: str,
    port: int,
    passed: bool,
    protocol: str = "tcp",
    notes: tuple[str, ...] = (),
    address: str = "192.0.2.40",
    source_address: str | None = None,
) -> dict[str, object]:
    return {
        "flow": flow, "reference": "", "source": source, "destination": destination,
        "destination_component": "", "address": address, "dns_name": None,
        "source_address": source_address, "protocol": protocol, "port": port,
        "outcome": "open" if passed else "filtered", "passed": passed,
        "temporary_listener": False,
        "evidence": {"errno": None, "icmp": None, "elapsed_ms": 3.0, "attempts": 1, "note": None},
        "identification": None, "dns": None, "notes": list(notes),
    }  # fmt: skip


def test_the_report_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        code, _, err = report("-o", str(out))
        assert code == 0, err
    assert first.read_bytes() == second.read_bytes()


def test_the_report_fetches_nothing_and_allows_only_its_own_style_and_script() -> None:
    code, html, err = report()
    assert code == 0, err
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    # nothing that loads from elsewhere: no src= at all, links only to anchors of the page
    assert " src=" not in html
    assert re.findall(r'href="([^"#][^"]*)"', html) == []
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    content = html_lib.unescape(policy.group(1))
    rules = dict(r.strip().split(" ", 1) for r in content.split(";") if r.strip())
    assert rules["default-src"] == "'none'"
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    script = re.search(r"<script>(.*?)</script>", html, re.DOTALL)
    assert style is not None and script is not None
    for source, rule in ((style.group(1), "style-src"), (script.group(1), "script-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert rules[rule] == f"'sha256-{digest}'"


class _Ids(html_parser.HTMLParser):
    """Every id attribute of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.extend(value or "" for name, value in attrs if name == "id")


def test_every_id_of_the_page_is_its_own() -> None:
    # each diagram's SVG named its graph "graph0": three elements of one id in one page
    code, html, err = report()
    assert code == 0, err
    found = _Ids()
    found.feed(html)
    assert len(found.ids) > 100
    assert [i for i, n in Counter(found.ids).items() if n > 1] == []


def test_the_summary_vendor_tables_and_rows_not_needed_are_there() -> None:
    code, html, _ = report()
    assert code == 0
    assert "Default ports in Smart ID" in html  # the vendor document
    assert (
        "17 flows of 20 needed (17 of 19 vendor rows), and 1 of 1 management access entries, "
        "giving 34 rows" in html
    )
    assert "<dt>Hosts</dt><dd>13 (13 with flows)</dd>" in html
    assert 'id="flow-smart-id-21.04/da-database"' in html  # not needed, with its reason
    assert "condition &#x27;not external_database&#x27; is false" in html
    # one anchor per flow id, the vendor table linking it
    assert html.count('id="flow-smart-id-21.04/im-operator/ingress"') == 1
    assert 'href="#flow-smart-id-21.04/im-operator/ingress"' in html


def test_the_host_count_is_the_deployment_s_not_the_stand_in_for_any_client() -> None:
    # a vendor row naming only the listener is planned from "anywhere": that stand-in was
    # counted as a sixth host of search-cluster's five
    search = str(examples.EXAMPLES / "search-cluster.yaml")
    result = CliRunner().invoke(cli, ["report", search])
    assert result.exit_code == 0, result.stderr
    assert "<dt>Hosts</dt><dd>5 (5 with flows), and flows from any address</dd>" in result.stdout


def test_verify_results_colour_their_rows(tmp_path: Path) -> None:
    results = tmp_path / "verify.json"
    results.write_text(
        verify_document(
            [
                check("smart-id-21.04/da-radius", "radius-clients", "da01", 18118, False, "udp"),
                check(
                    "smart-id-21.04/pa-scim",
                    "scim01",
                    "pa01",
                    9090,
                    True,
                    address=PA01,
                    source_address=SCIM01,
                ),
                check("smart-id-21.04/no-such-flow", "scim01", "pa01", 9090, True),
            ]
        )
    )
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    assert "1 finding names no row of this plan" in err
    rows = re.findall(r'<tr data-row="(\d+)"[^>]*class="st-(\w+)"', html)
    assert {status for _row, status in rows} == {"failed", "passed"}
    assert "Findings that name no row of this plan" in html


def test_a_results_file_given_twice_is_refused(tmp_path: Path) -> None:
    # its outcomes were laid on the report twice, as two runs that agree
    results = tmp_path / "verify.json"
    results.write_text(
        verify_document([check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True)])
    )
    (tmp_path / "again.json").symlink_to(results)
    for other, said in ((results, ""), (tmp_path / "again.json", f" (the same file as {results})")):
        code, html, err = report("--verify", str(results), "--verify", str(other))
        assert code == 2 and not html, err
        assert (
            f"the results file {other} is given twice{said}: its outcomes would be laid on the "
            "report twice; give each results file once"
        ) in " ".join(err.split()), err


#: what identification found, a key of its details (shown in the evidence) half a pair
IDENTIFIED = {"matches": True, "protocol": "http", "expected": "http", "error": None,
              "details": {"server\ud800": "x"}}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "verify.json:1:2: not JSON"),
        pytest.param(
            '{"a": 1}',
            "verify.json: not a portplan JSON document (it has no format_version and kind); "
            "give what portplan verify DEPLOYMENT --format json -o RESULTS.json writes",
            id="no-kind",
        ),
        pytest.param(
            '{"format_version": 1, "kind": "verify"}',
            "verify.json: format_version 1 is not MAJOR.MINOR; give the unedited output of a "
            "portplan command",
            id="version-number",
        ),
        ('{"format_version": "1.0", "kind": "matrix"}', "a 'matrix' document, but --verify reads"),
        (verify_document([], version="2.0"), "format_version 2.0 of 'verify' documents is not"),
        (verify_document([{"flow": "x"}]), "checks[0].passed is missing"),
        # what verify never writes (its schema: ports 1-65535, addresses as text)
        pytest.param(
            verify_document([check("x/y", "a", "b", 70000, True)]),
            "verify.json: checks[0].port is 70000, not a port (1-65535)",
            id="port-70000",
        ),
        pytest.param(
            verify_document([check("x/y", "a", "b", 0, False)]),
            "verify.json: checks[0].port is 0, not a port (1-65535)",
            id="port-0",
        ),
        pytest.param(
            verify_document([check("x/y", "a", "b", 1, True, address="192.0.2.999")]),
            "verify.json: checks[0].address is not an IP address ('192.0.2.999')",
            id="address",
        ),
        pytest.param(
            verify_document([check("x/y", "a", "b", 1, True, source_address="here")]),
            "verify.json: checks[0].source_address is not an IP address ('here')",
            id="source-address",
        ),
        pytest.param(
            verify_document([{**check("x/y", "a", "b", 1, True), "dns": {"addresses": [5]}}]),
            "verify.json: checks[0].dns.addresses[0] is not an IP address (5)",
            id="lookup-number",
        ),
        # a traceback each: Python's 4300-digit limit, and its stack
        pytest.param(
            '{"format_version": 1' + "0" * 5000 + "}",
            "verify.json: not JSON (a number of 5001 digits)",
            id="5001-digits",
        ),
        pytest.param(
            "[" * 100_000,
            "verify.json: not JSON (lists or objects nested too deeply)",
            id="deep",
        ),
        # JSON's \ud800 escape, half of a pair: a traceback writing the page as UTF-8
        pytest.param(
            verify_document([{**check("x/y", "a", "b", 1, False), "outcome": "filt\udc80"}]),
            "verify.json: checks[0].outcome holds half of a surrogate pair (\\udc80)",
            id="lone-surrogate",
        ),
        pytest.param(
            verify_document([{**check("x/y", "a", "b", 1, False), "identification": IDENTIFIED}]),
            "verify.json: checks[0].identification.details holds half of a surrogate pair "
            "(\\ud800) in a key",
            id="lone-surrogate-key",
        ),
    ],
)
def test_a_document_it_cannot_overlay_is_refused(tmp_path: Path, text: str, message: str) -> None:
    results = tmp_path / "verify.json"
    results.write_text(text)
    code, _, err = report("--verify", str(results))
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_an_unknown_kind_is_refused_by_the_registry() -> None:
    document = '{"format_version": "1.0", "kind": "audit"}'
    with pytest.raises(OverlayError, match="cannot overlay a 'audit' document; it reads: verify"):
        read_overlay(document, "audit.json")


def test_findings_land_on_exactly_their_rows() -> None:
    plan = examples.example_plan("smart-id-nexus")
    overlay = read_overlay(
        verify_document([check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, False)]), "v"
    )
    found = overlay_rows(plan, [overlay])
    expected = [i for i, r in enumerate(plan.rows) if r.key == "smart-id-21.04/pa-scim"]
    assert list(found.status) == expected
    assert set(found.status.values()) == {Status.FAILED}


def test_the_embedded_data_holds_no_markup_characters(tmp_path: Path) -> None:
    hostile = "Web <!--<script> </script> & \u2028\u2029"
    deployment = examples.hostile_deployment(tmp_path, component=hostile)
    result = CliRunner().invoke(cli, ["report", str(deployment)])
    assert result.exit_code == 0, result.stderr
    data = re.search(r'<script type="application/json" id="portplan-data">(.*?)</script>',
                     result.stdout, re.DOTALL)  # fmt: skip
    assert data is not None
    assert not set("<>&\u2028\u2029") & set(data.group(1))
    edges = json.loads(data.group(1))["views"]["component"]["edges"]
    assert edges["component-e0"]["label"] == f"{hostile} → DB: TCP 5432"


def test_a_probe_expected_blocked_verifies_no_row(tmp_path: Path) -> None:
    # verify --on da01 --expect-blocked probes pa-scim's port from da01, where the plan has it
    # from scim01 only: blocked, it passes, but it says nothing of scim01 -> pa01
    why = "expected blocked: smart-id-21.04/pa-scim is planned from scim01, not from da01"
    blocked = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, notes=(why,))
    blocked["outcome"] = "filtered"
    beside = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9091, False, notes=(why,))
    beside["outcome"] = "open"  # not blocked: it fails (verify never fails a blocked one)
    plan = examples.example_plan("smart-id-nexus")
    found = overlay_rows(plan, [read_overlay(verify_document([blocked, beside]), "v")])
    assert found.status == {}
    assert found.unmatched == ()
    assert [f.status for _o, f in found.blocked] == [Status.PASSED, Status.FAILED]
    results = tmp_path / "verify.json"
    results.write_text(verify_document([blocked, beside]))
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    assert re.findall(r'<tr data-row="\d+"[^>]*class="st-', html) == []
    assert "0 passed, 0 failed, 0 not probed; of what must stay blocked, 1 blocked, 1 not " in html
    section = html[html.index('id="blocked"') :]
    assert "✔ blocked" in section and "✘ not proven blocked" in section


def test_a_forbidden_connection_not_probed_is_counted_once() -> None:
    # it was counted among the rows not probed and again among what is not proven blocked:
    # "0 passed, 0 failed, 2 not probed; of what must stay blocked, 0 blocked, 1 not proven
    # blocked" for two entries
    document = json.loads(verify_document([]))
    document["not_probed"] = [
        {"flow": "forbidden/ssh", "source": "da01", "destination": "pa01", "reason": "a name"},
        {"flow": "smart-id-21.04/pa-scim", "source": "scim01", "destination": "pa01",
         "reason": "no route"},
    ]  # fmt: skip
    overlay = read_overlay(json.dumps(document), "v")
    assert overlay.summary == (
        "0 passed, 0 failed, 1 not probed; of what must stay blocked, 0 blocked, "
        "1 not proven blocked"
    )


def test_a_forbidden_connection_not_probed_is_sent_from_nowhere(tmp_path: Path) -> None:
    # its "sent from" read "this machine (the kernel's address)", as a probe sent without a
    # source address does: no probe was sent
    document = json.loads(verify_document([]))
    document["not_probed"] = [
        {"flow": "forbidden/ssh", "source": "da01", "destination": "pa01", "reason": "a name"}
    ]
    results = tmp_path / "verify.json"
    results.write_text(json.dumps(document))
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    section = html[html.index('id="blocked"') :]
    row = re.search(r"<tbody>(.*?)</tbody>", section, re.DOTALL)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.DOTALL)
    assert cells[1:4] == ["forbidden/ssh", "not sent", "pa01"]


def test_a_pass_counts_only_for_what_the_row_holds_now() -> None:
    # results of an older plan (pa-scim was 9091), of another deployment with the same names
    # (pa01 elsewhere), or sent from another host's address: the pass is about no row of this
    # plan; a failure still fails the row it names
    plan = examples.example_plan("smart-id-nexus")
    scim = [i for i, r in enumerate(plan.rows) if r.key == "smart-id-21.04/pa-scim"]
    old_port = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9091, True, address=PA01)
    elsewhere = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address="10.9.9.9")
    other_source = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01)
    other_source["source_address"] = "192.0.2.40"  # da01's, not scim01's 192.0.2.60
    for passed in (old_port, elsewhere, other_source):
        found = overlay_rows(plan, [read_overlay(verify_document([passed]), "v")])
        assert found.status == {}
        assert len(found.unmatched) == 1
    failed = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9091, False, address=PA01)
    found = overlay_rows(plan, [read_overlay(verify_document([failed]), "v")])
    assert list(found.status.values()) == [Status.FAILED] * len(scim)


def test_a_row_passes_only_when_every_planned_port_was_probed() -> None:
    # da-radius is 18118-18126: one port probed (a sampled range, or results of a plan that
    # had one port) leaves the row unchecked, with what was not probed
    plan = examples.example_plan("smart-id-nexus")
    radius = [i for i, r in enumerate(plan.rows) if r.key == "smart-id-21.04/da-radius"]
    one = check(
        "smart-id-21.04/da-radius",
        "radius-clients",
        "da01",
        18118,
        True,
        "udp",
        source_address=RADIUS_CLIENT,
    )
    found = overlay_rows(plan, [read_overlay(verify_document([one]), "v")])
    assert [found.status[i] for i in radius] == [Status.UNCHECKED]
    gap = found.findings[radius[0]][-1][1]
    assert gap.evidence.startswith("ports 18119-18126 not probed by these results (1 of 9 probed")
    every = [
        check(
            "smart-id-21.04/da-radius",
            "radius-clients",
            "da01",
            port,
            True,
            "udp",
            source_address=RADIUS_CLIENT,
        )
        for port in range(18118, 18127)
    ]
    found = overlay_rows(plan, [read_overlay(verify_document(every), "v")])
    assert [found.status[i] for i in radius] == [Status.PASSED]


def test_two_copies_of_one_results_file_read_the_same_in_both_columns(tmp_path: Path) -> None:
    # the two readings of one file are equal: what the probes of both left unprobed was put
    # in the first column only, and the second read "passed" for a row only one port of
    # whose nine was probed
    plan = examples.example_plan("smart-id-nexus")
    (radius,) = [i for i, r in enumerate(plan.rows) if r.key == "smart-id-21.04/da-radius"]
    one = check("smart-id-21.04/da-radius", "radius-clients", "da01", 18118, True, "udp",
                source_address=RADIUS_CLIENT)  # fmt: skip
    results, copy = tmp_path / "verify.json", tmp_path / "copy.json"
    results.write_text(verify_document([one]))
    copy.write_text(verify_document([one]))  # (one file given twice is refused)
    code, html, err = report("--verify", str(results), "--verify", str(copy))
    assert code == 0, err
    row = re.search(rf'<tr data-row="{radius}".*?</tr>', html, re.DOTALL)
    assert row is not None
    assert re.findall(r'class="status (\w+)"', row.group()) == ["unchecked", "unchecked"]


def test_an_edge_reads_passed_only_when_every_row_on_it_passed() -> None:
    # results of one machine pass its rows; the other rows of the same arrow have none
    plan = examples.example_plan("smart-id-nexus")
    diagram = plan_diagram(plan, View.COMPONENT)
    index, edge = next((i, e) for i, e in enumerate(diagram.edges) if len(e.rows) > 1)
    one = diagram.with_status({edge.rows[0]: Status.PASSED})
    assert one.edges[index].status is Status.UNCHECKED
    assert [e.status for i, e in enumerate(one.edges) if i != index] == [None] * (
        len(one.edges) - 1
    )
    every = diagram.with_status(dict.fromkeys(edge.rows, Status.PASSED))
    assert every.edges[index].status is Status.PASSED


def test_a_pass_on_anything_but_open_that_is_not_expected_blocked_is_refused(
    tmp_path: Path,
) -> None:
    # only an open port passes a planned row; a "filtered" pass is a probe expected blocked
    # whose note is gone (an edited file, another writer): refused rather than a row passed
    unmarked = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01)
    unmarked["outcome"] = "filtered"
    results = tmp_path / "verify.json"
    results.write_text(verify_document([unmarked]))
    code, _, err = report("--verify", str(results))
    assert code == 2
    assert "checks[0].passed is true for outcome 'filtered' of a probe not expected blocked" in err


def test_a_pass_not_sent_from_the_source_host_leaves_its_row_unchecked() -> None:
    # verify --on scim01 on a machine that holds none of scim01's addresses: the kernel chose
    # the address (source_address null, and a note says so): not scim01 as firewalls see it
    plan = examples.example_plan("smart-id-nexus")
    scim = [i for i, r in enumerate(plan.rows) if r.key == "smart-id-21.04/pa-scim"]
    kernel = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01)
    found = overlay_rows(plan, [read_overlay(verify_document([kernel]), "v")])
    assert [found.status[i] for i in scim] == [Status.UNCHECKED]
    [(_overlay, placed)] = found.findings[scim[0]]
    assert placed.outcome == "open, not from scim01"
    own = check(
        "smart-id-21.04/pa-scim",
        "scim01",
        "pa01",
        9090,
        True,
        address=PA01,
        source_address=SCIM01,
    )
    found = overlay_rows(plan, [read_overlay(verify_document([own]), "v")])
    assert [found.status[i] for i in scim] == [Status.PASSED]


def test_results_of_another_deployment_are_refused(tmp_path: Path) -> None:
    # a lab copy with the same host names and addresses: only the name tells them apart
    passed = check(
        "smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01,
        source_address=SCIM01,
    )  # fmt: skip
    results = tmp_path / "verify.json"
    results.write_text(verify_document([passed], "1.1", deployment="bank-smart-id-lab"))
    code, html, err = report("--verify", str(results))
    assert code == 2
    assert "verify.json: results of deployment 'bank-smart-id-lab', not of 'bank-smart-id'" in err
    results.write_text(verify_document([passed], "1.1", deployment="bank-smart-id"))
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    assert 'class="st-passed"' in html


def test_a_row_not_probed_is_unchecked_only_for_its_own_source() -> None:
    # hermod/ingress to traefik01 has rows from da01 and idm01; idm01's results say its row was
    # not probed, which says nothing of da01's row
    plan = examples.example_plan("smart-id-nexus")
    rows = {
        plan.rows[i].source: i for i, r in enumerate(plan.rows) if r.key.endswith("hermod/ingress")
    }
    skipped = {
        "flow": "smart-id-21.04/hermod/ingress",
        "source": "idm01",
        "destination": "traefik01",
        "reason": "idm01 has no IPv6 address",
    }
    document = json.loads(verify_document([], "1.1"))
    document["not_probed"] = [skipped]
    found = overlay_rows(plan, [read_overlay(json.dumps(document), "v")])
    assert found.status == {rows["idm01"]: Status.UNCHECKED}


def test_the_summary_counts_rows_as_the_matrix_shows_them(tmp_path: Path) -> None:
    # the file counts 2 probes passed; neither verifies a row as it stands (one sent from the
    # kernel's address, one on a port pa-scim no longer has)
    kernel = check("smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01)
    old = check(
        "smart-id-21.04/pa-scim", "scim01", "pa01", 9091, True, address=PA01,
        source_address=SCIM01,
    )  # fmt: skip
    results = tmp_path / "verify.json"
    results.write_text(verify_document([kernel, old]))
    code, html, err = report("--verify", str(results))
    assert code == 0, err
    assert (
        "<dd>probes: 2 passed, 0 failed, 0 not probed<div>"
        f"{results} does not say which plan it verified"
    ) in html  # format_version 1.0
    assert (
        "<dt>Rows verified</dt><dd>of 34 rows: 0 failed, 1 unchecked, 0 passed, 33 without "
        "results; 1 finding names no row of this plan</dd>"
    ) in html


def test_each_results_file_has_a_column_named_by_its_file(tmp_path: Path) -> None:
    # verify ran on two machines: which column is whose must be readable
    passed = check(
        "smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01,
        source_address=SCIM01,
    )  # fmt: skip
    args = []
    for name in ("scim01.json", "da01.json"):
        (tmp_path / name).write_text(verify_document([passed]))
        args += ["--verify", str(tmp_path / name)]
    code, html, err = report(*args)
    assert code == 0, err
    headers = re.findall(
        r'<th scope="col"><button type="button" class="sort">([^<]*)</button>', html
    )
    assert [h for h in headers if h.startswith("Verification")] == [
        f"Verification ({tmp_path / 'scim01.json'})",
        f"Verification ({tmp_path / 'da01.json'})",
    ]


def test_a_row_to_a_host_running_two_members_of_a_group_filters_by_each(tmp_path: Path) -> None:
    (tmp_path / "grouped.yaml").write_text(
        "id: grouped-1.0\nname: Grouped\nversion: '1.0'\ndocument: {title: Grouped}\n"
        "components:\n  web: {name: Web}\n  api: {name: API}\n  db: {name: Database}\n"
        "  backends: {name: Backends, kind: group, members: [api, db]}\n"
        "flows:\n  - {id: to-group, row: 1, from: web, to: backends, protocol: tcp, "
        "ports: 8443, purpose: Both}\n"
    )
    (tmp_path / "site.yaml").write_text(
        "name: site\nhosts:\n  web01: {addresses: [192.0.2.10]}\n"
        "  app01: {addresses: [192.0.2.20]}\n"
        "products:\n  grouped-1.0:\n    file: grouped.yaml\n"
        "    components: {web: web01, api: app01, db: app01}\n"
    )
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "site.yaml")])
    assert result.exit_code == 0, result.stderr
    assert 'data-components="grouped-1.0/web|grouped-1.0/api|grouped-1.0/db"' in result.stdout
    assert '<option value="grouped-1.0/db">' in result.stdout


def test_what_identification_found_and_warned_of_is_in_the_evidence() -> None:
    # verify's table shows the banner, the certificate and its warnings; the report dropped
    # them, so an expired certificate on a passed flow was nowhere in the page
    passed = check(
        "smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01,
        source_address=SCIM01,
    )  # fmt: skip
    passed["identification"] = {
        "expected": "https", "protocol": "https", "matches": True,
        "details": {"tls_subject": "CN=pa01 <b>", "server": "nginx/1.25"},
        "warnings": ["certificate expired on 2024-01-01 (700 days ago)"], "error": None,
    }  # fmt: skip
    (finding,) = read_overlay(verify_document([passed]), "v").findings
    assert finding.evidence == (
        f"tcp/9090 {PA01}: open; 3 ms; identified https; tls_subject=CN=pa01 <b>; "
        "server=nginx/1.25; "
        "warning: certificate expired on 2024-01-01 (700 days ago)"
    )
    passed["identification"]["warnings"] = [7]  # type: ignore[index]
    with pytest.raises(OverlayError, match=r"checks\[0\]\.identification\.warnings\[0\] is int"):
        read_overlay(verify_document([passed]), "v")


def test_a_temporary_listener_that_answered_is_in_the_evidence() -> None:
    # verify's table says "open (temporary listener)"; the report said "open; 3 ms", so a row
    # only `portplan listen` answered read as the service itself verified
    passed = check(
        "smart-id-21.04/pa-scim", "scim01", "pa01", 9090, True, address=PA01,
        source_address=SCIM01,
    )  # fmt: skip
    passed["temporary_listener"] = True
    (finding,) = read_overlay(verify_document([passed]), "v").findings
    assert finding.evidence == f"tcp/9090 {PA01}: open (temporary listener); 3 ms"
    passed["temporary_listener"] = "yes"
    with pytest.raises(OverlayError, match=r"checks\[0\]\.temporary_listener is str"):
        read_overlay(verify_document([passed]), "v")


def _empty_plan(directory: Path) -> Path:
    """A deployment whose only flow is off (its feature is not chosen): a plan of no row."""
    (directory / "product.yaml").write_text(
        "id: quiet-1.0\nname: Quiet\nversion: '1.0'\ndocument: {title: Quiet}\n"
        "features: {sync: {description: Sync}}\n"
        "components: {web: {name: Web}, db: {name: DB}}\n"
        "flows:\n  - {id: sql, row: 1, from: web, to: db, protocol: tcp, ports: 5432,\n"
        "     purpose: x, condition: sync}\n"
    )
    path = directory / "deployment.yaml"
    path.write_text(
        "name: quiet\nhosts: {web01: {addresses: [192.0.2.10]}, db01: {addresses: [192.0.2.20]}}\n"
        "products: {quiet-1.0: {file: product.yaml, components: {web: web01, db: db01}}}\n"
    )
    return path


def test_a_plan_of_no_row_is_a_report_with_nothing_to_draw(tmp_path: Path) -> None:
    # it was refused: "no planned row matches : nothing to draw", exit 2, no page
    result = CliRunner().invoke(cli, ["report", str(_empty_plan(tmp_path))])
    assert result.exit_code == 0, result.stderr
    page = result.stdout
    assert page.count("Nothing to draw in this view.") == 2  # by component, by host
    assert "0 flows of 1 needed (0 of 1 vendor rows), giving 0 rows" in page
    assert 'id="flow-quiet-1.0/sql"' in page  # among the rows not needed, with its reason
