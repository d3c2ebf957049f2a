"""A real headless browser for the HTML report: Debian's chromium driven by Debian's
chromium-driver through selenium (no browser is downloaded), started so that it reaches for
nothing on the network by itself, with the console and the network log kept for the tests."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
#: screenshots and PDFs the browser tests write (git-ignored)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: what Chromium needs here: no sandbox (root in a container), no GPU, and none of the
#: background traffic it starts on its own (updates, sync, first-run pages)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--window-size=1400,1000",
)


def needs_browser() -> pytest.MarkDecorator:
    """Skip (never under CI=true, see conftest) where Debian's chromium or its driver is missing."""
    return pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (scripts/test.sh installs them)",
    )


class Page:
    """A browser tab and what it logged."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, path: Path) -> None:
        self.driver.get("about:blank")
        self.console()  # drop what the start page logged
        self.requests()
        self.driver.get(path.resolve().as_uri())

    def console(self) -> list[dict[str, Any]]:
        """The console messages since the last call."""
        entries: list[dict[str, Any]] = self.driver.get_log("browser")
        return entries

    def requests(self) -> list[str]:
        """The URLs requested since the last call (from the DevTools performance log)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.driver.save_screenshot(str(path))
        return path


@contextmanager
def browser() -> Iterator[Page]:
    """A fresh headless Chromium with its own profile, closed (and the profile removed) after."""
    from selenium import webdriver  # noqa: PLC0415 - only the browser tests need selenium
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415 - likewise

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    profile = tempfile.mkdtemp(prefix="portplan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield Page(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
