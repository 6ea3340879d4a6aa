"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright.

It checks what only a browser can: the page renders, every chart has a size on screen, the
console stays free of errors, and nothing is fetched beyond the file itself. A screenshot of
the whole page is kept in $HVLAB_ARTEFACTS_DIR (default: artefacts/ in the checkout) for a
person to look at. A missing browser fails the test rather than skipping it: a report nobody
has seen rendered is not tested.
"""

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from hvlab.report.view import EMULATED_BANNER
from hvlab.report.write import write_report

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser")


def _fixture_module() -> ModuleType:
    """tests/unit/report_fixture.py, shared with the unit tests (pytest puts only tests/unit on their path)."""
    if "report_fixture" in sys.modules:
        return sys.modules["report_fixture"]
    spec = importlib.util.spec_from_file_location("report_fixture", ROOT / "tests" / "unit" / "report_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _chromium() -> str:
    explicit = os.environ.get("HVLAB_CHROMIUM")
    found = explicit or next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if not found:
        pytest.fail("no Chromium found: install Debian's `chromium` package (./bootstrap.sh does) "
                    "or point HVLAB_CHROMIUM at a Chromium binary")
    return found


def artefacts_dir() -> Path:
    path = Path(os.environ.get("HVLAB_ARTEFACTS_DIR") or ROOT / "artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium())
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results_dir = _fixture_module().write_results(tmp_path_factory.mktemp("results"))
    return write_report(results_dir, results_dir).html


def open_report(browser: Browser, html: Path, width: int) -> tuple[Page, list[str], list[str]]:
    """The loaded page, the error messages it produced, and every URL it requested."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html.as_uri(), wait_until="load")
    return page, errors, requests


def test_report_renders_in_chromium(browser: Browser, report_html: Path) -> None:
    page, errors, requests = open_report(browser, report_html, 1280)
    assert page.title() == "hvlab report: KVM vs Xen"
    assert EMULATED_BANNER in page.get_by_role("alert").inner_text()

    workloads = page.locator("section.workload")
    assert workloads.count() == len(_fixture_module().WORKLOADS)
    charts = page.locator("svg.chart")
    assert charts.count() == workloads.count() + 1  # one per workload and the ratio overview
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, f"chart {i}: {box}"
    for i in range(workloads.count()):
        assert workloads.nth(i).locator("svg.chart circle.repeat").count() >= 9

    assert page.locator("#fairness td.pv").count() == 6  # block, net and clock drivers, both stacks
    assert "runs/xen__g1__network__r3.json" in page.locator("#failed").inner_text()

    page.screenshot(path=artefacts_dir() / "report.png", full_page=True)
    assert errors == []
    assert requests == [report_html.as_uri()]
    page.close()


def test_charts_fit_a_phone_screen(browser: Browser, report_html: Path) -> None:
    page, errors, _ = open_report(browser, report_html, 390)
    charts = page.locator("svg.chart")
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and 0 < box["width"] <= 390 and box["height"] > 0, f"chart {i}: {box}"
    page.screenshot(path=artefacts_dir() / "report-phone.png")
    assert errors == []
    page.close()
