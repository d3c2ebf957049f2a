"""Shared fixtures: golden-file comparison, no skipped integration test under CI, and the
same examples of every property test in each CI run."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import settings

import examples

# CI gates a change: a property test there tries the same examples on every run (derandomized),
# so a run fails for what the change did, not for what a random draw found that day.  Runs
# elsewhere draw anew, and what they find goes into the tests as an @example.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, bytes], None]:
    """Compare output with tests/golden/NAME exactly; on mismatch write NAME.actual beside it."""
    update = request.config.getoption("--update-golden")

    def check(name: str, actual: bytes) -> None:
        path = examples.GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden to create it")
        expected = path.read_bytes()
        actual_path = path.with_name(path.name + ".actual")
        if actual != expected:
            actual_path.write_bytes(actual)
            pytest.fail(
                f"output differs from {path}; see {actual_path} "
                "(run pytest --update-golden after reviewing the difference)"
            )
        actual_path.unlink(missing_ok=True)

    return check


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true an integration test marked ``netns``, ``services``, ``graphviz`` or
    ``browser`` may not skip: a skip is a failure."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI") == "true"
        and report.skipped
        and any(
            item.get_closest_marker(name) is not None
            for name in ("netns", "services", "graphviz", "browser")
        )
    ):
        report.outcome = "failed"
        report.longrepr = f"integration test skipped under CI=true: {report.longrepr}"
