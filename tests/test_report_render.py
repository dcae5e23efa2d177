"""The report renderers: terminal text, Markdown, CSV, JSON and self-contained HTML with SVG."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest

from _report_journeys import DAY0, adverse, consulted, treated
from stemjourney.exceptions import ValidationError
from stemjourney.reports import (
    FORMATS,
    cohort_report,
    patient_report,
    render,
    to_csv,
    to_html,
    to_markdown,
    to_text,
    worklist_report,
)
from stemjourney.reports._charts import Axis, nice_ticks

INJECTED = DAY0 + timedelta(days=14)


def _patient() -> object:
    j = adverse(treated(follow=[(42, 5), (91, 4)]), INJECTED + timedelta(days=2))
    return patient_report([j], "p-1", on=date(2026, 6, 1))


def _cohort() -> object:
    journeys = [treated(f"j-{i}", f"p-{i}", baseline=7 + i % 2) for i in range(4)]
    return cohort_report([*journeys, consulted("j-9", "p-9")], on=date(2026, 6, 1))


def _worklist() -> object:
    return worklist_report([treated(follow=[(42, 5)])], date(2026, 4, 1), date(2026, 4, 30))


def test_text_aligns_columns_and_names_every_section() -> None:
    """Terminal text has the report heading, the journey and its score table."""
    text = to_text(_patient())  # type: ignore[arg-type]
    assert text.startswith("Follow-up report\n================")
    assert "Journey j-1: osteoarthritis of knee, knee (left)" in text
    assert re.search(r"2026-03-02\s+1\s+6w\s+5\s+-3\s+38\s+yes\s+no", text)
    assert "Lower is better." in text
    assert "secret free text" not in text


def test_markdown_draws_pipe_tables_with_matching_columns() -> None:
    """Every Markdown table row has as many cells as its header."""
    md = to_markdown(_cohort())  # type: ignore[arg-type]
    assert md.startswith("# Cohort outcomes")
    table = [line for line in md.splitlines() if line.startswith("|")]
    widths = {line.count("|") for line in table}
    assert len(widths) == 1
    assert "| 6w |" in md


def test_markdown_escapes_pipes_in_cells() -> None:
    """A pipe inside a value cannot break the table."""
    j = treated(condition="knee | hip")
    md = to_markdown(cohort_report([j], on=date(2026, 6, 1)))
    assert "knee \\| hip" not in md.splitlines()[0]
    assert "## knee | hip" in md


def test_patient_csv_has_one_row_per_score_with_responder_columns() -> None:
    """CSV rows carry value, baseline, change and one column per responder rule."""
    rows = list(csv.DictReader(io.StringIO(to_csv(_patient()))))  # type: ignore[arg-type]
    assert [r["time_point"] for r in rows] == ["baseline", "6w", "3m"]
    assert (rows[1]["change"], rows[1]["improvement"], rows[1]["improvement_pct"]) == (
        "-3.0",
        "3.0",
        "37.5",
    )
    assert rows[1]["responder_responder"] == "True"
    assert rows[0]["change"] == ""


def test_cohort_csv_has_one_row_per_group_and_time_point() -> None:
    """Six rows (baseline and five time points) for the one group."""
    rows = list(csv.DictReader(io.StringIO(to_csv(_cohort()))))  # type: ignore[arg-type]
    assert [r["time_point"] for r in rows] == ["baseline", "6w", "3m", "6m", "12m", "24m"]
    assert rows[1]["patients"] == "4"
    assert rows[1]["responders_responder"] == "0.5"


def test_worklist_renders_in_every_format() -> None:
    """The work-list renders to text, Markdown, CSV, JSON and HTML."""
    report = _worklist()
    assert "3m" in to_text(report)  # type: ignore[arg-type]
    assert "| p-1 | j-1 |" in to_markdown(report)  # type: ignore[arg-type]
    assert to_csv(report).splitlines()[1].startswith("p-1,j-1,")  # type: ignore[arg-type]
    assert json.loads(render(report, "json"))["items"][0]["status"] == "in_window"  # type: ignore[arg-type]
    assert "<svg" not in to_html(report)  # type: ignore[arg-type]


def test_an_empty_worklist_says_so_without_a_table() -> None:
    """No visits: one line, no table header."""
    text = to_text(worklist_report([], date(2026, 4, 1), date(2026, 4, 2)))
    assert "0 visit(s)" in text
    assert "patient" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches_every_format(fmt: str) -> None:
    """render() gives a non-empty document for each format name."""
    out = render(_patient(), fmt)  # type: ignore[arg-type]
    assert "p-1" in out


def test_render_refuses_an_unknown_format() -> None:
    """An unknown format is a ValidationError listing the allowed names."""
    with pytest.raises(ValidationError, match="text, markdown, csv, html, json"):
        render(_patient(), "pdf")  # type: ignore[arg-type]


def test_patient_html_is_self_contained_with_a_pain_chart() -> None:
    """The page has an inline SVG line chart with a baseline, and loads nothing."""
    page = to_html(_patient())  # type: ignore[arg-type]
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('class="sj-chart sj-line"') == 1
    assert 'class="sj-baseline"' in page
    assert page.count('class="sj-point"') == 3
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "secret free text" not in page


def test_cohort_html_draws_mean_change_with_spread() -> None:
    """The cohort page has one error-bar chart per group with change data."""
    page = to_html(_cohort())  # type: ignore[arg-type]
    assert page.count('class="sj-chart sj-bars"') == 1
    assert page.count('class="sj-whisker"') == 2


def test_html_escapes_values() -> None:
    """Markup in a value is shown as text, never interpreted."""
    j = treated(condition="<script>alert(1)</script>")
    page = to_html(cohort_report([j], on=date(2026, 6, 1)))
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;" in page


def test_patient_without_scores_gets_no_chart() -> None:
    """A journey with no score has no series and no chart."""
    j = consulted(baseline=None)
    page = to_html(patient_report([j], "p-1", on=date(2026, 6, 1)))
    assert "<svg" not in page


def test_function_score_series_chart_scales_to_its_values() -> None:
    """A non-pain instrument gets an axis from zero to its highest value."""
    from _report_journeys import scores

    j = scores(treated(), INJECTED, [(42, 64)], instrument="odi")
    page = to_html(patient_report([j], "p-1", on=date(2026, 6, 1)))
    assert page.count('class="sj-chart sj-line"') == 2
    assert ">80</text>" in page


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    """Ticks start at or below the low end and reach the high end in round steps."""
    assert nice_ticks(-3.7, 1.2) == (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0)
    assert nice_ticks(5, 5) == (5.0, 5.2, 5.4, 5.6, 5.8, 6.0)
    axis = Axis.numeric(0, 10, "x")
    assert axis.scale(5, 0, 100) == 50


def test_small_helpers_handle_every_kind_of_value() -> None:
    """Enums become their values, integers print as-is, an empty series draws no chart."""
    from stemjourney import Side
    from stemjourney.reports import ScoreSeries
    from stemjourney.reports._html import series_chart
    from stemjourney.reports._serialise import plain
    from stemjourney.reports._tables import fmt

    assert plain({"side": Side.LEFT}) == {"side": "left"}
    assert fmt(3) == "3"
    assert series_chart(ScoreSeries("nrs", None, None, ())) is None
