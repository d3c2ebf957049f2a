"""`report --verify` refuses a results file whose `passed` its outcome cannot give (a file
edited by hand, forged or corrupted): a probe expected blocked marked passed while the port is
`open` would otherwise read as blocked.  What `verify` itself writes is read as it is: the
results here come from real `portplan verify` runs on loopback addresses of this machine."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from portplan.cli import cli
from portplan.probe.engine import BLOCKED_OUTCOMES
from portplan.publish._verify_overlay import _BLOCKED
from test_report_coverage import deployment, verified


def _report(path: Path, results: dict[str, Any], folder: Path) -> tuple[int, str]:
    written = folder / "verify.json"
    written.write_text(json.dumps(results))
    done = CliRunner().invoke(cli, ["report", str(path), "--verify", str(written)])
    return done.exit_code, done.stderr


def _listening(tmp_path: Path) -> tuple[Path, socket.socket]:
    server = socket.create_server(("127.0.0.3", 0))
    return deployment(tmp_path, server.getsockname()[1]), server


def test_the_blocked_outcomes_are_the_probers() -> None:
    # the report cannot import the prober (one layer): its copy is checked here
    assert {o.value for o in BLOCKED_OUTCOMES} == _BLOCKED


def test_a_probe_expected_blocked_marked_passed_while_open_is_refused(tmp_path: Path) -> None:
    path, server = _listening(tmp_path)
    with server:
        results = verified(path, "--on", "src", "--expect-blocked")
    blocked = [c for c in results["checks"] if c["passed"]]
    assert blocked and all(c["outcome"] == "refused" for c in blocked), results
    code, err = _report(path, results, tmp_path)
    assert code == 0, err  # as verify wrote it
    index = results["checks"].index(blocked[0])
    results["checks"][index]["outcome"] = "open"
    code, err = _report(path, results, tmp_path)
    assert code == 2, err
    assert "verify.json" in err, err
    assert f"checks[{index}].passed is true for outcome 'open' of a probe expected blocked" in err
    assert "Traceback" not in err, err
    # the reverse: a blocked outcome marked failed is no file verify writes either
    results["checks"][index].update(outcome="refused", passed=False)
    code, err = _report(path, results, tmp_path)
    assert code == 2, err
    assert f"checks[{index}].passed is false for outcome 'refused' of a probe expected" in err


def test_a_planned_pass_whose_service_was_not_identified_is_refused(tmp_path: Path) -> None:
    path, server = _listening(tmp_path)
    with server:
        results = verified(path, "--on", "nodes", "--flow", "feed", "--from-address", "127.0.0.4")
    passed = [c for c in results["checks"] if c["passed"]]
    assert passed, results
    code, err = _report(path, results, tmp_path)
    assert code == 0, err
    index = results["checks"].index(passed[0])
    results["checks"][index]["identification"] = {
        "expected": "http", "protocol": None, "matches": False, "details": {}, "warnings": [],
        "error": "no answer",
    }  # fmt: skip
    code, err = _report(path, results, tmp_path)
    assert code == 2, err
    assert f"checks[{index}].passed is true for a port whose service was not identified" in err
