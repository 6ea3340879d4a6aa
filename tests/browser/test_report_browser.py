"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright.

It checks what only a browser can, at a desktop width (1280 px) and a narrow one (800 px): the
page renders, no table or chart runs past the right edge unless it sits in a container that
scrolls sideways, every chart has a size on screen and the data it is drawn from, the console
stays free of errors, and nothing is fetched beyond the file itself. At 1280 px the summary and
the workload tables must fit whole: a reading cut off behind a scroll bar is missed by most
readers. A full-page screenshot per width is kept in $HVLAB_ARTEFACTS_DIR (default: results/browser
in the checkout; the path is printed) for a person to look at. A missing browser fails the test rather
than skipping it: a report nobody has seen rendered is not tested.
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

from hvlab.report.compare import comparisons
from hvlab.report.load import load_results
from hvlab.report.view import EMULATED_BANNER
from hvlab.report.write import write_report

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser")
WIDTHS = (1280, 800)
# The network runs of issue 22: one stalled KVM run, so an outlier is drawn.
NETWORK = {"kvm": (127.9, 10.4, 125.0, 128.7, 51.3), "xen": (111.3, 112.2, 79.9, 60.8, 56.9)}

# Every table and chart that runs past the viewport's right (or left) edge, unless its nearest
# ancestor that scrolls sideways holds it and itself fits; and the page itself scrolling sideways.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + ' in #' + (el.closest('section[id]') || {id: '?'}).id;
  for (const el of document.querySelectorAll('table, svg.chart')) {
    let box = el;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') { box = up; break; }
    }
    const r = box.getBoundingClientRect();
    if (r.left < -0.5 || r.right > width + 0.5) out.push(name(el) + ' reaches ' + Math.round(r.right) + ' px');
  }
  if (document.documentElement.scrollWidth > width) out.push('the page scrolls sideways');
  return out;
}"""

# Tables whose scrolling container hides part of them (they need a sideways scroll to be read).
HIDDEN_JS = """(selector) => Array.from(document.querySelectorAll(selector)).filter(
  (t) => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).map(
  (t) => t.closest('section[id]').id + ': ' + t.parentElement.scrollWidth + ' > ' + t.parentElement.clientWidth)"""


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


@pytest.fixture(scope="module")
def artefacts(request: pytest.FixtureRequest) -> Path:
    path = Path(os.environ.get("HVLAB_ARTEFACTS_DIR") or ROOT / "results" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # printed even when pytest captures the tests' output
        print(f"\nreport screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium())
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fixture = _fixture_module()
    root = fixture.write_results(tmp_path_factory.mktemp("results"))
    for stack, values in NETWORK.items():
        for repeat, value in enumerate(values, 1):
            if (stack, "network", repeat) != fixture.FAILED:
                fixture.write_json(root / "runs" / f"{stack}__g1__network__r{repeat}.json",
                                   fixture.run_record(stack, "g1", "network", repeat, value))
    return root


@pytest.fixture(scope="module")
def report_html(results_dir: Path) -> Path:
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


@pytest.mark.parametrize("width", WIDTHS)
def test_report_renders_whole_at_each_width(browser: Browser, report_html: Path, results_dir: Path,
                                            artefacts: Path, width: int) -> None:
    page, errors, requests = open_report(browser, report_html, width)
    page.screenshot(path=artefacts / f"report-{width}.png", full_page=True)  # before any assertion
    assert page.title() == "hvlab report: KVM vs Xen"
    assert EMULATED_BANNER in page.get_by_role("alert").inner_text()
    assert page.evaluate(OVERFLOW_JS) == []
    if width == 1280:
        assert page.evaluate(HIDDEN_JS, "#summary table, section.workload table") == []

    # Every chart is on screen and carries its data: a bar and a dot per repeat in each workload,
    # a marker per ratio in the overview, the outlier ring where the statistics found one.
    found = comparisons(load_results(results_dir))
    workloads = page.locator("section.workload")
    assert workloads.count() == len(_fixture_module().WORKLOADS)
    charts = page.locator("svg.chart")
    assert charts.count() == workloads.count() + 1
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, f"chart {i}: {box}"
    for i in range(workloads.count()):
        section = workloads.nth(i)
        name = section.locator("h3 code").inner_text()
        items = [c for c in found if c.workload == name]
        chart = section.locator("svg.chart")
        assert chart.locator("rect.bar").count() == sum(1 for c in items for s in c.sides if s.values), name
        assert chart.locator("circle.repeat").count() == sum(len(s.values) for c in items for s in c.sides), name
        assert chart.locator("circle.outlier").count() == sum(len(s.outliers) for c in items for s in c.sides), name
    assert page.locator("#summary svg.chart circle").count() == len(found)
    assert page.locator("#w-network circle.outlier").count() == 1

    assert page.locator("#fairness td.pv").count() == 6  # block, net and clock drivers, both stacks
    assert "runs/xen__g1__network__r3.json" in page.locator("#failed").inner_text()
    assert errors == []
    assert requests == [report_html.as_uri()]
    page.close()


def test_charts_fit_a_phone_screen(browser: Browser, report_html: Path, artefacts: Path) -> None:
    page, errors, _ = open_report(browser, report_html, 390)
    page.screenshot(path=artefacts / "report-390.png")
    charts = page.locator("svg.chart")
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and 0 < box["width"] <= 390 and box["height"] > 0, f"chart {i}: {box}"
    assert page.evaluate(OVERFLOW_JS) == []
    assert errors == []
    page.close()
