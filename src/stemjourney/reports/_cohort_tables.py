"""The cohort report as sections: what it covers, contents, an overview, the chart, groups.

The overview gives each group in one row (journeys, patients, responders and follow-up at
each time point, adverse events); the groups' own tables follow, the groups of enough
journeys first and the small ones, flagged, after them. Every number is one of the
report's own values: nothing is pooled or recomputed here.
"""

from __future__ import annotations

from stemjourney.outcomes import BASELINE
from stemjourney.reports._cohort import CohortGroup, CohortReport, TimePointRow
from stemjourney.reports._section import (
    OUTCOMES_DOC,
    Link,
    Section,
    direction,
    fmt,
    instrument_of,
    instrument_title,
    pct,
    words,
)

__all__ = ["CHART_ANCHOR", "cohort_sections", "group_anchor", "group_title"]

CHART_ANCHOR = "chart"
"""The anchor of the section the HTML report draws the cohort chart in."""


def group_title(g: CohortGroup) -> str:
    """The heading of a cohort group."""
    return f"{g.condition}, {g.site}, {words(g.cell_source)}, cycle {g.cycle}"


def group_anchor(index: int) -> str:
    """The anchor of the group at ``index`` in the report's groups."""
    return f"group-{index + 1}"


def _time_points(report: CohortReport) -> list[str]:
    labels = (r.time_point for g in report.groups for r in g.rows)
    return [label for label in dict.fromkeys(labels) if label != BASELINE]


def _headline(report: CohortReport) -> Section:
    spec = instrument_of(report.instrument)
    what = instrument_title(report.instrument)
    if spec is not None:
        what += f": {spec.unit}, {direction(spec.higher_is_better)}"
    small = sum(g.small for g in report.groups)
    lines = [
        f"{what}. Protocol {report.protocol}, on {report.on}.",
        f"{report.journeys} treated journey(s) in {len(report.groups)} group(s) by condition, "
        "treated site, cell source and cycle.",
    ]
    if small:
        lines.append(
            f"{small} small group(s) of fewer than {report.small_group} journeys, flagged "
            "'small': their numbers rest on very few patients; read them with care."
        )
    lines.extend(f"{label}: {text}." for label, text in report.rules)
    lines.append(
        "Each time point takes the score that stands for it and compares it with the "
        f"cycle's baseline. How these are computed: {OUTCOMES_DOC}."
    )
    return Section("Cohort outcomes", 1, tuple(lines), anchor="report")


def _parts(report: CohortReport) -> tuple[list[int], list[int]]:
    big = [i for i, g in enumerate(report.groups) if not g.small]
    small = [i for i, g in enumerate(report.groups) if g.small]
    return big, small


def _contents(report: CohortReport) -> Section:
    big, small = _parts(report)
    links = [Link("Overview", "overview"), Link("Mean change from baseline", CHART_ANCHOR)]
    for title, anchor, members in (
        (f"Groups of {report.small_group} or more journeys", "groups", big),
        (f"Small groups (fewer than {report.small_group} journeys)", "small-groups", small),
    ):
        if members:
            links.append(Link(title, anchor))
            links.extend(Link(group_title(report.groups[i]), group_anchor(i), 1) for i in members)
    return Section("Contents", 2, anchor="contents", links=tuple(links), classes=("sj-toc",))


def _cell(row: TimePointRow | None, rule: str | None) -> str:
    if row is None or (row.expected == 0 and row.patients == 0):
        return "-"
    shares = dict(row.responders)
    head = pct(shares.get(rule)) if rule is not None else fmt(row.mean_change)
    return f"{head} ({row.patients}/{row.expected})"


def _overview(report: CohortReport) -> Section:
    points = _time_points(report)
    rule = report.rules[0] if report.rules else None
    rows = []
    for g in report.groups:
        by_label = {r.time_point: r for r in g.rows}
        rows.append(
            (
                group_title(g) + (" (small)" if g.small else ""),
                str(g.journeys),
                str(g.patients),
                *(_cell(by_label.get(label), rule and rule[0]) for label in points),
                pct(g.adverse_event_rate),
                pct(g.serious_adverse_event_rate),
            )
        )
    if rule is not None:
        first = (
            f"At each time point: the share of journeys meeting '{rule[0]}' ({rule[1]}) "
            "among those scored with a baseline, then (scored/due): the follow-up "
            "completeness."
        )
    else:
        first = (
            "At each time point: the mean change from baseline (no responder rule on this "
            "instrument), then (scored/due): the follow-up completeness."
        )
    return Section(
        "Overview",
        2,
        (
            first,
            "Adverse events: the share of the group's journeys with one; serious: with a "
            "serious one.",
        ),
        ("group", "journeys", "patients", *points, "adverse events", "serious"),
        tuple(rows),
        ("", *(["num"] * (len(points) + 4))),
        "overview",
        classes=("sj-overview",),
    )


def _chart(report: CohortReport) -> Section:
    spec = instrument_of(report.instrument)
    better = ""
    if spec is not None:
        side = "above" if spec.higher_is_better else "below"
        better = f" A change {side} zero is better ({direction(spec.higher_is_better)})."
    return Section(
        "Mean change from baseline",
        2,
        (
            "Each group's mean change from baseline at each time point (dot), with one "
            "standard deviation either side (line); small groups in grey, hollow. The "
            f"numbers are in the group tables.{better}",
        ),
        anchor=CHART_ANCHOR,
        classes=("sj-new-page",),
    )


def _group(report: CohortReport, index: int) -> Section:
    g = report.groups[index]
    labels = [name for name, _ in g.rows[0].responders] if g.rows else []
    rows = tuple(
        (
            r.time_point,
            str(r.expected),
            str(r.patients),
            fmt(r.mean),
            fmt(r.median),
            fmt(r.mean_change),
            fmt(r.sd_change),
            *(pct(share) for _, share in r.responders),
            pct(r.completeness),
        )
        for r in g.rows
    )
    lines = [
        f"{g.journeys} journey(s), {g.patients} patient(s); adverse events in "
        f"{pct(g.adverse_event_rate)}, serious in {pct(g.serious_adverse_event_rate)}."
    ]
    if g.small:
        lines.append(f"Small group: fewer than {report.small_group} journeys; read with care.")
    return Section(
        group_title(g),
        3,
        tuple(lines),
        (
            "time point",
            "expected",
            "scored",
            "mean",
            "median",
            "mean change",
            "SD change",
            *labels,
            "completeness",
        ),
        rows,
        ("", *(["num"] * (len(labels) + 7))),
        group_anchor(index),
        classes=("sj-group", "sj-small") if g.small else ("sj-group",),
    )


def cohort_sections(report: CohortReport) -> list[Section]:
    """The cohort report as sections, in reading order."""
    out = [_headline(report), _contents(report), _overview(report), _chart(report)]
    big, small = _parts(report)
    legend = (
        "expected: journeys whose visit was due by the report's day, or scored; scored: "
        "journeys with a score; responder shares are among those scored with a baseline; "
        "completeness: scored of expected."
    )
    if big:
        out.append(
            Section(
                f"Groups of {report.small_group} or more journeys",
                2,
                (legend,),
                anchor="groups",
                classes=("sj-new-page",),
            )
        )
        out.extend(_group(report, i) for i in big)
    if small:
        out.append(
            Section(
                f"Small groups (fewer than {report.small_group} journeys)",
                2,
                (legend, "Their numbers rest on very few patients: read them with care."),
                anchor="small-groups",
                classes=("sj-new-page",),
            )
        )
        out.extend(_group(report, i) for i in small)
    return out
