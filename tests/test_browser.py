"""The HTML report in a real browser: Debian's headless Chromium, driven through chromedriver by
selenium. No console errors; a date column sorts rows by time; the filter shows matching rows;
on a 390 px wide screen a wide table scrolls sideways with its first column held in view.

Marked ``browser``: CI runs it as a step of its own (``pytest -m browser``), after installing
``chromium`` and ``chromium-driver``. Elsewhere it is skipped when they are missing.
"""

import io
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.simulator import Fleet

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Headless Chromium through chromedriver, both found on PATH (never downloaded)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        message = "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of a real run against the simulator (a fleet with inventory
    attributes, so the server table is wider than a phone)."""
    from reporter.simulator import SimulatorServer

    folder = tmp_path_factory.mktemp("browser-run")
    fleet = Fleet.generate(servers=24, executions_per_server=2, seed=21)
    inventory = fleet.write_inventory(folder / "inventory.csv")
    sim = SimulatorServer(fleet, host="127.0.0.1", port=0, user="demo", password="demo")
    with sim, pytest.MonkeyPatch.context() as env:
        env.setenv("CLC_USER", "demo")
        env.setenv("CLC_PASSWORD", "demo")
        env.delenv("CLC_BEARER_TOKEN", raising=False)
        argv = ["run", str(inventory), "--out", str(folder / "out"), "--format", "html"]
        argv += ["--api-url", sim.api_url, "--login-url", sim.login_url, "--no-history"]
        argv += ["--columns", "owner,environment,business_unit,os"]
        assert main(argv, stdout=io.StringIO()) in (0, 3)
    [html] = (folder / "out").glob("*.html")
    return html


def open_report(browser, report: Path, width: int | None = None) -> None:
    if width is None:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True},
        )
    browser.get(report.as_uri())
    browser.get_log("browser")  # what the page said is read by the caller


def column_index(browser, table_id: str, header: str) -> int:
    labels = browser.execute_script(
        "return Array.from(document.getElementById(arguments[0]).tHead.rows[0].cells)"
        ".map(function (th) { return th.textContent.trim(); });",
        table_id,
    )
    return next(index for index, label in enumerate(labels) if label.startswith(header))


def column_texts(browser, table_id: str, index: int) -> list[str]:
    return browser.execute_script(
        "var index = arguments[1];"
        "return Array.from(document.getElementById(arguments[0]).tBodies[0].rows)"
        ".filter(function (row) { return !row.hidden; })"
        ".map(function (row) { return row.cells[index].textContent.trim(); });",
        table_id,
        index,
    )


def test_the_report_loads_without_console_errors(browser, report):
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.get(report.as_uri())
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    # The script ran: the long tables have sort buttons and a filter box.
    assert browser.execute_script("return document.querySelectorAll('button.sort').length") > 10
    assert browser.execute_script("return document.querySelectorAll('.table-tools').length") > 0


def test_a_date_column_sorts_rows_by_time(browser, report):
    open_report(browser, report)
    index = column_index(browser, "t-executions", "Start")
    header = browser.find_elements("css selector", "#t-executions thead th button.sort")[index]

    def moments() -> list[datetime | None]:
        texts = column_texts(browser, "t-executions", index)
        return [None if text in ("", "\u2014") else datetime.fromisoformat(text) for text in texts]

    original = moments()
    header.click()
    ascending = moments()
    known = [moment for moment in ascending if moment is not None]
    assert len(known) > 10 and known == sorted(known) and ascending != original
    assert ascending[: len(known)] == known  # rows without a time come last
    header.click()
    descending = [moment for moment in moments() if moment is not None]
    assert descending == sorted(known, reverse=True)


def test_the_filter_shows_only_matching_rows(browser, report):
    open_report(browser, report)
    before = column_texts(browser, "t-servers", 0)
    wanted = before[3]
    box = browser.find_element("css selector", "input[type=search][aria-controls='t-servers']")
    box.send_keys(wanted)
    shown = column_texts(browser, "t-servers", 0)
    assert wanted in shown and len(shown) < len(before)
    assert all(wanted.lower() in text.lower() for text in shown)
    count = browser.execute_script(
        "return arguments[0].parentNode.parentNode.querySelector('span').textContent", box
    )
    assert count == f"{len(shown)} of {len(before)} rows"


def test_on_a_phone_the_first_column_stays_in_view_while_the_table_scrolls(browser, report):
    open_report(browser, report, width=PHONE_WIDTH)
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    found = browser.execute_script(
        """
        var table = document.getElementById('t-servers');
        var wrap = table.closest('.table-wrap');
        wrap.scrollIntoView();
        var row = table.tBodies[0].rows[0];
        var before = row.cells[1].getBoundingClientRect().left;
        wrap.scrollLeft = wrap.scrollWidth;
        var box = wrap.getBoundingClientRect();
        function place(cell) {
          var r = cell.getBoundingClientRect();
          return {left: r.left, right: r.right};
        }
        return {
          overflow: wrap.scrollWidth - wrap.clientWidth,
          scrolled: wrap.scrollLeft,
          wrap: {left: box.left, right: box.right},
          first: place(row.cells[0]),
          header: place(table.tHead.rows[0].cells[0]),
          last: place(table.tBodies[0].rows[table.tBodies[0].rows.length - 1].cells[0]),
          second: place(row.cells[1]),
          secondBefore: before
        };
        """
    )
    assert found["overflow"] > 100 and found["scrolled"] > 100  # wider than the phone
    assert found["second"]["left"] < found["secondBefore"] - 100  # the rest moved sideways
    for cell in ("first", "header", "last"):
        place = found[cell]
        assert found["wrap"]["left"] - 1 <= place["left"], cell
        assert place["right"] <= PHONE_WIDTH, cell
