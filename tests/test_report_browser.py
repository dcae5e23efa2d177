"""The HTML reports open in a real headless Chromium, render without errors and draw their charts.

``make test`` installs Chromium (``make chromium``); the test is skipped only when no
Chromium could be installed on the machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from _report_journeys import DAY0, adverse, treated
from stemjourney.reports import cohort_report, patient_report, to_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (run `make chromium` to install it)"
)


def _dump_dom(page: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _body(dom: str) -> str:
    match = re.search(r"<body[^>]*>", dom)
    assert match is not None
    return match.group(0)


def test_patient_report_renders_in_chromium_with_its_chart(tmp_path: Path) -> None:
    """Chromium runs the page's check script: rendered, one chart drawn, no error marker."""
    injected = DAY0 + timedelta(days=14)
    j = adverse(treated(follow=[(42, 5), (91, 4)]), injected + timedelta(days=2))
    page = tmp_path / "patient.html"
    page.write_text(to_html(patient_report([j], "p-1", on=date(2026, 6, 1))), encoding="utf-8")
    dom = _dump_dom(page, tmp_path / "profile")
    body = _body(dom)
    assert 'data-rendered="yes"' in body
    assert 'data-charts-drawn="1"' in body
    assert "data-error" not in body
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="sj-chart sj-line"' in dom


def test_cohort_report_renders_in_chromium_with_its_chart(tmp_path: Path) -> None:
    """The cohort page draws its mean-change chart in Chromium without an error."""
    journeys = [treated(f"j-{i}", f"p-{i}", baseline=7 + i % 3) for i in range(5)]
    page = tmp_path / "cohort.html"
    page.write_text(to_html(cohort_report(journeys, on=date(2026, 6, 1))), encoding="utf-8")
    body = _body(_dump_dom(page, tmp_path / "profile"))
    assert 'data-rendered="yes"' in body
    assert 'data-charts-drawn="1"' in body
    assert "data-error" not in body
