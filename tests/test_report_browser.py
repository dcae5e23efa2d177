"""The HTML reports in a real headless Chromium: drawn without errors, nothing overflowing
or clipped on screen or as printed on A4, each chart with its axes and labels, and few
printed pages.

``make test`` installs Chromium (``make chromium``); the tests are skipped only when no
Chromium could be installed on the machine. Each report's screenshots (the screen, and the
print layout at A4 width) and its PDF are kept in ``tests/artifacts/`` (ignored by git),
for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from _chromium import A4_WIDTH_PX, CHROMIUM, Chromium
from _report_journeys import DAY0, adverse, treated
from stemjourney.demo import demo_clinic
from stemjourney.reports import cohort_report, patient_report, to_html, worklist_report

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (run `make chromium` to install it)"
)

ARTIFACTS = Path(__file__).parent / "artifacts"
DEMO_DAY = date(2026, 12, 2)

# Every problem a reader would see: text spilling out of its box or cut off, a box
# outside its container, the page wider than the window, chart text outside the chart
# or on top of other chart text, a chart without its title, axes or labels.
LAYOUT_CHECK = r"""
(() => {
  const problems = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " '" +
    (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50) + "'";
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push("page wider than the window: " + root.scrollWidth + " > " + root.clientWidth);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || ["SCRIPT", "STYLE"].includes(el.tagName)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline") {
      problems.push("content wider than its box: " + name(el));
    }
    const p = el.parentElement.getBoundingClientRect();
    if (r.left < p.left - 1 || r.right > p.right + 1) {
      problems.push("outside its container: " + name(el));
    }
  }
  const charts = [];
  for (const svg of document.querySelectorAll("svg.sj-chart")) {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll("text")].map((t) => [t, t.getBoundingClientRect()]);
    for (const [t, r] of texts) {
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        problems.push("chart text clipped: " + name(t));
      }
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, ra] = texts[i], [b, rb] = texts[j];
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 1 && h > 2.5) problems.push("chart text overlaps: " + name(a) + " / " + name(b));
      }
    }
    const text = (css) => [...svg.querySelectorAll(css)].map((t) => t.textContent.trim())
      .filter((s) => s);
    charts.push({
      kind: svg.getAttribute("class"),
      drawn: svg.getBBox().width > 0,
      title: text(".sj-title").join(" "),
      axes: svg.querySelectorAll(".sj-axis-x").length > 0 &&
        svg.querySelectorAll(".sj-axis-y").length > 0,
      xTitle: text(".sj-axis-title-x").join(" "),
      yTitle: text(".sj-axis-title-y").join(" "),
      xTicks: text(".sj-tick-x"),
      yTicks: text(".sj-tick-y"),
      rows: text(".sj-row-label").length,
    });
  }
  return {problems: [...new Set(problems)], charts,
          rendered: document.body.getAttribute("data-rendered"),
          error: document.body.getAttribute("data-error")};
})()
"""

VIEWS = {"screen": (1280, ""), "narrow": (820, ""), "print": (A4_WIDTH_PX, "print")}
"""Window widths and media to check each report in: a desktop, a small laptop, A4 paper."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One Chromium for the module's tests."""
    with Chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def clinic() -> Any:
    """The demo clinic on a fixed day."""
    return demo_clinic(today=DEMO_DAY)


def _showcase(clinic: Any) -> str:
    """The demo patient whose journey in follow-up has the most scores (as `make demo`)."""
    found = max((len(j.scores()), j.patient_id) for j in clinic.journeys if j.stage == "follow_up")
    return found[1]


def _check(browser: Chromium, html: str, name: str) -> dict[str, Any]:
    """Open the page in every view; keep its screenshots and PDF; return what was seen."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    seen: dict[str, Any] = {}
    for view, (width, media) in VIEWS.items():
        browser.open(page, width=width, height=900, media=media)
        seen[view] = browser.evaluate(LAYOUT_CHECK)
        if view != "narrow":
            suffix = "" if view == "screen" else "-print"
            shot = browser.screenshot(ARTIFACTS / f"{name}{suffix}.png")
            print(f"screenshot: {shot}")
    seen["pages"] = browser.pdf(ARTIFACTS / f"{name}.pdf")
    seen["pdf"] = (ARTIFACTS / f"{name}.pdf").read_bytes()
    return seen


def _assert_laid_out(seen: dict[str, Any], charts: int) -> None:
    for view in VIEWS:
        found = seen[view]
        assert found["rendered"] == "yes", view
        assert found["error"] is None, view
        assert found["problems"] == [], view
        assert len(found["charts"]) == charts, view
        for chart in found["charts"]:
            assert chart["drawn"], chart
            assert chart["title"], chart
            assert chart["axes"], chart
            assert chart["xTitle"], chart
            assert chart["yTitle"], chart
            assert len(chart["xTicks"]) >= 2, chart
            assert len(chart["yTicks"]) >= 2 or chart["rows"] >= 1, chart


def _a4(pdf: bytes) -> bool:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return bool(boxes) and all(
        abs(float(w) - 595.92) < 2 and abs(float(h) - 842.88) < 2 for w, h in boxes
    )


def test_demo_patient_report_lays_out_and_prints_on_four_a4_pages(
    browser: Chromium, clinic: Any
) -> None:
    """The demo's richest patient: nothing clipped in any view, six charts, at most 4 pages."""
    report = patient_report(clinic, _showcase(clinic), on=DEMO_DAY)
    seen = _check(browser, to_html(report), "patient")
    _assert_laid_out(seen, charts=6)
    chart = seen["screen"]["charts"][0]
    assert chart["title"] == "Pain numeric rating scale 0-10"
    assert chart["yTicks"] == ["0", "2", "4", "6", "8", "10"]
    assert "lower is better" in chart["yTitle"]
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}", tick) for tick in chart["xTicks"])
    assert seen["pages"] <= 4
    assert _a4(seen["pdf"])


def test_de_identified_patient_report_lays_out_the_same(browser: Chromium, clinic: Any) -> None:
    """The de-identified page is laid out as well as the identified one."""
    report = patient_report(clinic, _showcase(clinic), on=DEMO_DAY, identified=False)
    seen = _check(browser, to_html(report), "patient-deidentified")
    _assert_laid_out(seen, charts=6)
    assert seen["pages"] <= 4


def test_demo_cohort_report_lays_out_with_one_chart_and_prints_on_ten_pages(
    browser: Chromium, clinic: Any
) -> None:
    """The demo cohort: one chart across all groups with a row each, at most 10 A4 pages."""
    report = cohort_report(clinic, on=DEMO_DAY)
    seen = _check(browser, to_html(report), "cohort")
    _assert_laid_out(seen, charts=1)
    (chart,) = seen["screen"]["charts"]
    assert chart["kind"] == "sj-chart sj-bars"
    assert chart["rows"] >= len(report.groups)
    assert "0" in chart["xTicks"]
    assert seen["pages"] <= 10
    assert _a4(seen["pdf"])


def test_worklist_page_lays_out(browser: Chromium, clinic: Any) -> None:
    """The work-list page, a table and no chart, fits every view too."""
    report = worklist_report(clinic, DEMO_DAY, DEMO_DAY + timedelta(days=7), on=DEMO_DAY)
    _assert_laid_out(_check(browser, to_html(report), "worklist"), charts=0)


def test_small_reports_render_with_their_charts(browser: Chromium, tmp_path: Path) -> None:
    """A one-journey patient report and a five-journey cohort draw their chart, no error."""
    injected = DAY0 + timedelta(days=14)
    j = adverse(treated(follow=[(42, 5), (91, 4)]), injected + timedelta(days=2))
    journeys = [treated(f"j-{i}", f"p-{i}", baseline=7 + i % 3) for i in range(5)]
    for name, report in (
        ("patient", patient_report([j], "p-1", on=date(2026, 6, 1))),
        ("cohort", cohort_report(journeys, on=date(2026, 6, 1))),
    ):
        page = tmp_path / f"{name}.html"
        page.write_text(to_html(report), encoding="utf-8")
        for view, (width, media) in VIEWS.items():
            browser.open(page, width=width, height=900, media=media)
            found = browser.evaluate(LAYOUT_CHECK)
            assert found["problems"] == [], (name, view)
            assert [c["drawn"] for c in found["charts"]] == [True], (name, view)
            assert browser.evaluate("document.body.dataset.chartsDrawn") == "1"
