"""The status page in a real browser (Debian's chromium, headless, through chromedriver):
it renders, its numbers change under load from a real gRPC server, the console stays clean.

Set ``STATUS_SCREENSHOT=path.png`` to keep a screenshot of the page (docs/img/status-page.png
was taken this way)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from resilience.observability import serve_metrics

from .status_world import sync_shop

pytestmark = [pytest.mark.e2e, pytest.mark.timing]

CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1650,900",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver_binary = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_binary is None:
        pytest.skip("chromium and chromium-driver are not installed (make test installs them)")
    with tempfile.TemporaryDirectory(prefix="status-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = webdriver.ChromeService(executable_path=driver_binary)
        driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(15)
        try:
            yield driver
        finally:
            driver.quit()


def cells(driver: Any, method: str, side: str) -> list[str] | None:
    """The text of the methods table's row for (method, side), or None."""
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#methods tbody tr')]"
        ".map(r => [...r.cells].map(c => c.textContent));"
    )
    return next((row for row in rows if row[:2] == [method, side]), None)


def wait(what: str, check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"the page never showed {what}"
        time.sleep(0.2)


def test_the_page_shows_live_numbers_without_console_errors(browser: Any) -> None:
    with serve_metrics(0, set_global=False) as metrics, sync_shop():
        browser.get(metrics.status_url)
        by_id = browser.find_element

        def live() -> bool:
            return bool(by_id("id", "state").text == "live")

        wait("the live state", live)
        first = wait("the server row", lambda: cells(browser, "demo.Shop/Get", "server"))
        seen = {tuple(first[2:7])}
        updated = {by_id("id", "updated").text}
        lapses = set()
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline and (len(seen) < 3 or len(updated) < 3):
            row = cells(browser, "demo.Shop/Get", "server")
            assert row is not None
            seen.add(tuple(row[2:7]))
            updated.add(by_id("id", "updated").text)
            lapses.add(
                browser.execute_script(
                    "return document.querySelector('#faults tbody tr td:last-child').textContent;"
                )
            )
            time.sleep(0.3)
        assert len(seen) >= 3, f"calls/s, errors, p50, p99, in flight never changed: {seen}"
        assert len(updated) >= 3
        assert len(lapses) >= 2
        assert all(text.endswith(" s") for text in lapses)
        client = cells(browser, "demo.Shop/Flaky", "client")
        assert client is not None
        assert float(client[2]) > 0
        server = cells(browser, "demo.Shop/Get", "server")
        assert server is not None
        for row in (client, server):  # the bulkhead's places taken, and calls waiting
            assert re.fullmatch(r"\d active, \d queued", row[-1]), row
        screenshot = os.environ.get("STATUS_SCREENSHOT")
        if screenshot:
            browser.save_screenshot(screenshot)
        assert live()
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        browser.get("about:blank")  # stop polling before the server goes
    assert errors == []
