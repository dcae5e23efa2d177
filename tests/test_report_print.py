"""Reports a clinician prints: identified or de-identified, a summary, visits, a cohort
overview with contents and small groups flagged, readable charts and a print layout."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest

import stemjourney as sj
from _report_journeys import DAY0, ENGINE, adverse, consulted, inject, scores, treated
from stemjourney import outcomes
from stemjourney.exceptions import ValidationError
from stemjourney.reports import (
    FORMATS,
    PatientReport,
    cohort_report,
    patient_report,
    render,
    to_html,
    to_markdown,
    to_text,
)
from stemjourney.reports._charts import date_axis
from stemjourney.reports._html import cohort_chart, css_string, series_chart

INJECTED = DAY0 + timedelta(days=14)
NAME = "Zelda Quixotic-Marrow"
BORN = date(1961, 7, 14)
MRN = "MRN-SECRET-77"


class NamedStore:
    """A store-like source whose one patient has a name, a birth date and a clinic number."""

    def __init__(self, journeys: list[sj.Journey]) -> None:
        self.journeys = journeys

    def journeys_of(self, patient_id: str) -> list[sj.Journey]:
        """The patient's journeys."""
        return [j for j in self.journeys if j.patient_id == patient_id]

    def patient(self, patient_id: str) -> sj.Patient:
        """The patient, named."""
        return sj.Patient(id=patient_id, external_id=MRN, display_name=NAME, birth_date=BORN)


def _withdrawn(reason: object) -> sj.Journey:
    j = treated(follow=[(42, 5)])
    moved, _ = ENGINE.move(
        j, "withdrawn", actor="dr.a", occurred_at=INJECTED + timedelta(days=60), reason=reason
    )
    return moved


def _named(identified: bool, reason: object = f"{NAME} moved abroad") -> PatientReport:
    j = adverse(_withdrawn(reason), INJECTED + timedelta(days=2))
    return patient_report(NamedStore([j]), "p-1", on=date(2026, 6, 1), identified=identified)


def test_identified_report_names_the_patient_and_says_so() -> None:
    """By default the report carries name, birth date and clinic number, in every format."""
    report = _named(identified=True)
    assert (report.display_name, report.birth_date, report.external_id) == (NAME, BORN, MRN)
    assert report.identified is True
    text = to_text(report)
    assert "Identified report" in text
    assert f"Name: {NAME}" in text
    assert "Born: 1961-07-14" in text
    page = to_html(report)
    assert 'class="sj-section sj-who sj-identified"' in page
    assert NAME in page
    assert report.as_dict()["birth_date"] == "1961-07-14"


def test_identified_report_without_a_name_says_it_is_not_recorded() -> None:
    """Plain journeys hold no name: the identified report says so instead of guessing."""
    text = to_text(patient_report([treated()], "p-1", on=date(2026, 6, 1)))
    assert "Name: not recorded" in text
    assert "Born: not recorded" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_de_identified_report_holds_no_name_birth_date_or_clinic_number(fmt: str) -> None:
    """Not in text, Markdown, CSV, HTML or JSON: nor in a free-text reason that names them."""
    out = render(_named(identified=False), fmt)
    for secret in (NAME, "Zelda", "Quixotic", "1961-07-14", "1961", MRN, "SECRET"):
        assert secret not in out, secret
    assert "p-1" in out


def test_de_identified_data_and_reasons() -> None:
    """as_dict() has no identity; a free-text reason is left out, a coded one kept."""
    report = _named(identified=False)
    data = json.dumps(report.as_dict())
    assert NAME not in data
    assert report.as_dict()["identified"] is False
    assert report.journeys[0].timeline[-1].reason == "reason given (free text left out)"
    coded = sj.WithdrawalReason(initiated_by="patient", code="patient_choice", detail=NAME)
    kept = _named(identified=False, reason=coded)
    assert kept.journeys[0].timeline[-1].reason == "withdrawn by patient: patient_choice"
    assert "De-identified report" in to_text(kept)
    assert 'class="sj-section sj-who sj-deidentified"' in to_html(kept)


def test_a_de_identified_report_value_refuses_identity() -> None:
    """Building a de-identified PatientReport with a name raises, without the name."""
    with pytest.raises(ValidationError, match="display_name") as caught:
        PatientReport("p-1", date(2026, 1, 1), (), display_name=NAME, identified=False)
    assert NAME not in str(caught.value)


def test_every_printed_page_names_the_patient_or_says_de_identified() -> None:
    """The print stylesheet puts who the report is about at each page's foot, escaped."""
    running = "Identified, confidential: Zelda Quixotic-Marrow, born 1961-07-14, patient p-1"
    assert f'@bottom-left {{ content: "{running}";' in to_html(_named(True))
    assert '@bottom-left { content: "De-identified: patient p-1";' in to_html(_named(False))
    assert css_string('a"b') == "a\\000022b"


def test_summary_gives_baseline_latest_change_and_responder_with_the_rule_in_words() -> None:
    """The latest score after injection is the one compared; each rule is described."""
    report = patient_report([treated()], "p-1", on=date(2026, 6, 1))
    (series,) = report.journeys[0].series
    assert series.latest == series.points[-1]
    assert series.latest is not None
    assert (series.latest.time_point, series.latest.change) == ("3m", -4)
    assert dict(series.rules) == {
        rule.label: rule.describe() for rule in sj.DEFAULT_PROTOCOL.rules_for("nrs")
    }
    assert (series.name, series.unit) == ("Pain numeric rating scale 0-10", "points")
    text = to_text(report)
    summary = text.split("Summary\n.......\n")[1].split("\n\n")[0]
    assert re.search(r"Pain numeric rating scale 0-10\s+lower\s+8\s+2026-01-05\s+4\s+", summary)
    assert "responder, substantial" in summary
    assert "an improvement of at least 2 points and at least 30 % from baseline" in summary
    assert "how-outcomes-are-computed" in summary


def test_summary_before_any_follow_up_has_no_latest_score() -> None:
    """Scored only at baseline: the latest is empty and the summary shows dashes."""
    (series,) = patient_report([consulted()], "p-1", on=date(2026, 2, 1)).journeys[0].series
    assert series.latest is None
    assert "No baseline on nrs" in to_text(
        patient_report([consulted()], "p-1", on=date(2026, 2, 1))
    )


def test_missed_and_overdue_visits_come_from_the_schedule_status() -> None:
    """Every planned visit is listed with its outcomes status; missed and overdue picked."""
    j = treated(follow=[(91, 4)])
    on = date(2026, 7, 20)
    jr = patient_report([j], "p-1", on=on).journeys[0]
    truth = outcomes.schedule_status(j, on)
    assert [(v.label, v.status) for v in jr.visits] == [(s.label, s.status.value) for s in truth]
    assert [(v.label, v.status) for v in jr.missed_or_overdue] == [
        ("6w", "missed"),
        ("6m", "overdue"),
    ]
    text = to_text(patient_report([j], "p-1", on=on))
    assert "Missed or overdue visits: 2." in text
    assert re.search(r"6w\s+1\s+2026-03-02\s+2026-02-16 to 2026-03-16\s+missed", text)


def test_an_ended_journey_lists_no_visit_after_it_ended() -> None:
    """Withdrawn after 6w: later visits are neither overdue nor missed in its report."""
    jr = patient_report([_withdrawn("moved")], "p-1", on=date(2027, 6, 1)).journeys[0]
    assert [(v.label, v.status) for v in jr.visits] == [("6w", "completed")]
    assert jr.next_visit is None


def test_patient_tables_right_align_numbers() -> None:
    """Score, change and per cent cells carry class num; the stylesheet right-aligns them."""
    page = to_html(patient_report([treated()], "p-1", on=date(2026, 6, 1)))
    assert "th.num, td.num { text-align: right;" in page
    assert '<td class="num">-3</td>' in page
    assert '<td class="date">2026-03-02</td>' in page


def test_print_stylesheet_sets_a4_page_breaks_and_unsplit_tables() -> None:
    """A4 pages with numbers, a new page per part, tables and charts kept whole."""
    page = to_html(cohort_report([treated()], on=date(2026, 6, 1)))
    assert "size: A4;" in page
    assert 'counter(page) " of " counter(pages)' in page
    assert ".sj-new-page { break-before: page; }" in page
    assert "table { break-inside: avoid; }" in page
    assert "thead { display: table-header-group; }" in page


def _cohort() -> sj.reports.CohortReport:
    big = [treated(f"j-{i}", f"p-{i}", baseline=7 + i % 3) for i in range(6)]
    hip = treated("j-h", "p-h", condition="osteoarthritis of hip", site="hip")
    return cohort_report([*big, hip], on=date(2026, 6, 1))


def test_cohort_flags_small_groups_and_carries_the_rules() -> None:
    """A group under five journeys is small; the rules are in words; the bar is settable."""
    report = _cohort()
    assert [(g.site, g.journeys, g.small) for g in report.groups] == [
        ("hip", 1, True),
        ("knee", 6, False),
    ]
    assert report.small_group == 5
    assert dict(report.rules)["responder"].startswith("an improvement of at least 2 points")
    assert report.as_dict()["groups"][0]["small"] is True
    lenient = cohort_report([treated()], on=date(2026, 6, 1), small_group=1)
    assert not lenient.groups[0].small
    with pytest.raises(ValidationError, match="small_group"):
        cohort_report([], small_group=0)


def test_cohort_text_has_overview_contents_and_groups_in_two_parts() -> None:
    """Overview row per group (responders, scored/due), contents, small groups after."""
    text = to_text(_cohort())
    order = [
        text.index(heading)
        for heading in (
            "Contents\n",
            "Overview\n",
            "Mean change from baseline\n",
            "Groups of 5 or more journeys\n",
            "Small groups (fewer than 5 journeys)\n",
        )
    ]
    assert order == sorted(order)
    assert "1 small group(s) of fewer than 5 journeys" in text
    assert "  - osteoarthritis of hip, hip, bone marrow, cycle 1" in text
    assert re.search(r"osteoarthritis of hip, hip, bone marrow, cycle 1 \(small\)\s+1\s+1\s+", text)
    assert re.search(r"cycle 1\s+6\s+6\s+67% \(6/6\)\s+100% \(6/6\)\s+-", text)
    assert "Small group: fewer than 5 journeys; read with care." in text


def test_cohort_markdown_tables_match_their_headers() -> None:
    """In every Markdown table each row has as many cells as its header, numbers right."""
    md = to_markdown(_cohort())
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    for table in filter(None, tables):
        assert len({row.count("|") for row in table}) == 1
        assert "---:" in table[1]


def test_cohort_html_links_its_contents_and_draws_one_chart_for_all_groups() -> None:
    """Contents link to each group; one forest chart with a row per group, small ones grey."""
    report = _cohort()
    page = to_html(report)
    assert page.count('class="sj-chart sj-bars"') == 1
    assert '<a href="#group-1">osteoarthritis of hip, hip, bone marrow, cycle 1</a>' in page
    assert 'id="group-1"' in page
    assert 'class="sj-section sj-group sj-small"' in page
    chart = cohort_chart(report)
    assert chart is not None
    assert chart.count('class="sj-row-label"') == 4
    assert "n=1 (small)" in chart
    assert "Left of zero is better (lower is better)" in chart
    assert 'fill="#fff" stroke="#9ca3af"' in chart


def test_cohort_chart_is_left_out_when_no_group_has_a_change() -> None:
    """Only baselines: no chart to draw."""
    report = cohort_report([treated(follow=())], on=date(2026, 6, 1))
    assert cohort_chart(report) is None
    assert "<svg" not in to_html(report)


def test_date_ticks_are_month_starts_or_whole_days() -> None:
    """Never odd steps of days: months for a long span, whole days for a short one."""
    axis, origin = date_axis(date(2026, 1, 5), date(2026, 4, 20))
    assert origin == date(2026, 1, 1)
    assert [label for _, label in axis.ticks] == [
        "Jan 2026",
        "Feb 2026",
        "Mar 2026",
        "Apr 2026",
        "May 2026",
    ]
    days = [origin + timedelta(days=int(x)) for x, _ in axis.ticks]
    assert all(d.day == 1 for d in days)
    short, start = date_axis(date(2026, 3, 2), date(2026, 3, 5))
    assert start == date(2026, 3, 2)
    assert [x for x, _ in short.ticks] == [0, 1, 2, 3]
    years, _ = date_axis(date(2020, 3, 1), date(2026, 3, 1))
    assert [label for _, label in years.ticks] == ["2021", "2022", "2023", "2024", "2025", "2026"]


def _chart_of(instrument: str, values: list[tuple[int, float]]) -> str:
    j = scores(treated(), INJECTED, values, instrument=instrument)
    report = patient_report([j], "p-1", on=date(2026, 9, 1))
    (found,) = [s for s in report.journeys[0].series if s.instrument == instrument]
    chart = series_chart(found)
    assert chart is not None
    return chart


def test_charts_span_the_instruments_scale_with_named_axes_and_rounded_labels() -> None:
    """A KOOS chart runs 0-100 whatever the values, says higher is better, rounds baseline."""
    chart = _chart_of("koos_pain", [(42, 41.2), (91, 44.4)])
    ticks = re.findall(r'class="sj-tick sj-tick-y"[^>]*>([^<]+)<', chart)
    assert ticks == ["0", "20", "40", "60", "80", "100"]
    assert ">KOOS Pain</text>" in chart
    assert "score (points), higher is better" in chart
    assert "koos_pain" not in re.sub(r"<title>.*?</title>", "", chart)
    odi = _chart_of("odi", [(42, 33.3333)])
    assert "score (%), lower is better" in odi
    assert "33.3333" not in odi


def test_baseline_label_is_rounded() -> None:
    """The baseline line's label shows one decimal at most."""
    j = consulted(baseline=None)
    j = scores(j, DAY0, [(0, 29.4118)], instrument="koos_pain")
    j = inject(scores(j, DAY0, [(0, 7)]), INJECTED)
    j = scores(j, INJECTED, [(42, 50)], instrument="koos_pain")
    (koos,) = [
        s
        for s in patient_report([j], "p-1", on=date(2026, 6, 1)).journeys[0].series
        if s.instrument == "koos_pain"
    ]
    chart = series_chart(koos)
    assert chart is not None
    assert ">baseline 29.4</text>" in chart


def test_patient_csv_has_no_identity_even_when_identified() -> None:
    """The CSV is for analysis: ids only, never the name, in either kind of report."""
    rows = list(csv.DictReader(io.StringIO(render(_named(identified=True), "csv"))))
    assert rows
    assert not any(NAME in value for row in rows for value in row.values())
