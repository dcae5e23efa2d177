"""The report example scripts run as a user would run them, and do what they say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _report_journeys import FixedClock, to_store, treated
from stemjourney.store import open_store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_monthly_report_writes_markdown_and_html_from_the_demo_clinic(tmp_path: Path) -> None:
    """Without a database the script reports on the demo clinic and writes both files."""
    result = _run("monthly_report.py", "--month", "2026-10", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "treated journeys" in result.stdout
    assert (tmp_path / "out" / "cohort.md").read_text().startswith("# Cohort outcomes")
    assert 'class="sj-chart' in (tmp_path / "out" / "cohort.html").read_text()


def test_monthly_report_reads_a_database(tmp_path: Path) -> None:
    """Given a database file, the script reports on its journeys."""
    db = tmp_path / "clinic.db"
    with open_store(db, clock=FixedClock()) as store:
        to_store(store, treated())
    result = _run("monthly_report.py", str(db), "--month", "2026-05", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 treated journeys in 1 groups on 2026-05-31")


def test_worklist_today_prints_the_visits_to_arrange(tmp_path: Path) -> None:
    """The work-list of a database lists the open visit; the demo clinic one runs too."""
    db = tmp_path / "clinic.db"
    with open_store(db, clock=FixedClock()) as store:
        to_store(store, treated(follow=[(42, 5)]))
    result = _run("worklist_today.py", str(db), "--on", "2026-04-10", "--days", "7", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "j-1" in result.stdout
    assert result.stdout.rstrip().endswith("1 visits to arrange, 0 overdue")
    demo = _run("worklist_today.py", "--on", "2026-11-23", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "visits to arrange" in demo.stdout
