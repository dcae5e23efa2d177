"""The follow-up schedule in the file: planned with the injection, replanned by amendments,
completed by scores, read by the work-list with an index range, and checked by verify().

The visits must be exactly those :func:`stemjourney.outcomes.planned_visits` plans
(docs/how-outcomes-are-computed.md, "The follow-up schedule").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest
from stemjourney.outcomes import VisitStatus, planned_visits, schedule_status, visit_status
from stemjourney.reports import worklist_report
from stemjourney.store import Store

SHOT = DAY0 + timedelta(days=8, hours=2)


def _treat(store: Store, jid: str = "j-1") -> None:
    """Take journey ``jid`` (ready for harvest) through an injection at SHOT."""
    ready_for_harvest(store, jid)
    t = DAY0 + timedelta(days=7)
    store.move(jid, "harvest", actor="dr", occurred_at=t)
    store.record(jid, sj.Harvest(harvested_at=t, source="bone_marrow", body_site="iliac crest",
                                 side="left", volume_ml=60), actor="dr")  # fmt: skip
    store.move(jid, "processing", actor="dr", occurred_at=t + timedelta(hours=1))
    store.record(jid, sj.Processing(
        product_id="bm-1", started_at=t, finished_at=t + timedelta(hours=1), method="spin",
        manipulation="minimal", final_volume_ml=6, tnc_per_ml=2e7, viability_pct=90,
        released=True, doses=2,
    ), actor="lab")  # fmt: skip
    store.move(jid, "injection", actor="dr", occurred_at=SHOT - timedelta(hours=1))
    store.record(jid, sj.Injection(injected_at=SHOT, site="knee", side="left",
                                   guidance="ultrasound", volume_ml=6, product_id="bm-1"),
                 actor="dr")  # fmt: skip


def _rows(store: Store, jid: str = "j-1") -> list[tuple[object, ...]]:
    return store.db.execute(
        "SELECT cycle, time_point, due, opens, closes, first_score_on FROM schedule "
        "WHERE journey_id = ? ORDER BY cycle, due",
        [jid],
    ).fetchall()


def _planned(store: Store, jid: str = "j-1") -> list[tuple[object, ...]]:
    journey = store.journey(jid)
    status = {s.visit: s for s in schedule_status(journey, date(2100, 1, 1))}
    return [
        (
            v.cycle,
            v.label,
            v.due.isoformat(),
            v.opens.isoformat(),
            v.closes.isoformat(),
            None
            if status[v].completed_by is None
            else status[v].completed_by.measured_at.date().isoformat(),  # type: ignore[union-attr]
        )
        for v in planned_visits(journey)
    ]


def test_an_injection_plans_the_visits_the_schedule_rules_give(tmp_path: Path) -> None:
    """Recording the injection writes each planned visit, equal to outcomes.planned_visits."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        ready_for_harvest(store)
        assert _rows(store) == []
        _treat(store)
        assert len(_rows(store)) == len(sj.DEFAULT_PROTOCOL.schedule)
        assert _rows(store) == _planned(store)
        assert store.verify().ok


def test_scores_complete_visits_and_amendments_redo_them(tmp_path: Path) -> None:
    """A score in a window completes it; amending the score away reopens it; verify agrees."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        _treat(store)
        six_weeks = SHOT + timedelta(weeks=6)
        scored = store.record("j-1", sj.nrs(4, six_weeks), actor="nurse")
        assert _rows(store)[0][5] == six_weeks.date().isoformat()
        version = scored.version
        store.amend("j-1", version, sj.nrs(4, SHOT + timedelta(days=20)), actor="n", reason="date")
        assert _rows(store)[0][5] is None
        assert _rows(store) == _planned(store)
        store.import_scores([("j-1", "vas", 30, six_weeks + timedelta(days=2))], actor="imp")
        assert _rows(store)[0][5] == (six_weeks + timedelta(days=2)).date().isoformat()
        assert _rows(store) == _planned(store)
        assert store.verify().ok


def test_amending_the_injection_replans_the_visits(tmp_path: Path) -> None:
    """An amendment that moves the injection moves every due date with it."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        _treat(store)
        journey = store.journey("j-1")
        shot = next(e for e in journey.records if isinstance(e.record, sj.Injection))
        moved = attrs.evolve(shot.record, injected_at=SHOT - timedelta(minutes=30))
        store.amend("j-1", shot.version, moved, actor="dr", reason="clock was wrong")
        assert _rows(store) == _planned(store)
        store.move("j-1", "recovery", actor="dr", occurred_at=SHOT + timedelta(hours=1))
        tomorrow = attrs.evolve(moved, injected_at=SHOT + timedelta(days=-1))
        amended = next(e for e in store.journey("j-1").records if e.amends == shot.version)
        store.amend("j-1", amended.version, tomorrow, actor="dr", reason="day was wrong")
        assert (
            _rows(store)[0][2] == (SHOT.date() - timedelta(days=1) + timedelta(weeks=6)).isoformat()
        )
        assert store.verify().ok


def test_the_worklist_reads_the_schedule_with_an_index_range(tmp_path: Path) -> None:
    """The store's work-list is an index range over the schedule, equal to the planned one."""
    with open_file(tmp_path / "c.db") as store:
        for n in range(3):
            add_journey(store, f"p-{n}", f"j-{n}")
            _treat(store, f"j-{n}")
        start = SHOT.date() + timedelta(days=30)
        fast = worklist_report(store, start, start + timedelta(days=20))
        slow = worklist_report(list(store.iter_journeys()), start, start + timedelta(days=20))
        assert fast == slow
        assert [i.time_point for i in fast.items] == ["6w"] * 3
        plan = " ".join(
            r[3]
            for r in store.db.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM schedule WHERE closes >= ? AND opens <= ?",
                ["2026-01-01", "2026-02-01"],
            )
        )
        assert "INDEX schedule_by_window" in plan


def test_the_visits_due_view_says_what_the_schedule_rules_say_today(tmp_path: Path) -> None:
    """The SQL view's status of each visit equals outcomes.visit_status on today's date."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        _treat(store)
        today = datetime.now(UTC).date()
        view = dict(
            store.db.execute("SELECT time_point, status FROM visits_due WHERE journey_id = 'j-1'")
        )
        journey = store.journey("j-1")
        for visit in planned_visits(journey):
            window = (
                visit.cycle,
                visit.label,
                visit.injected_on,
                visit.due,
                visit.opens,
                visit.closes,
            )
            assert view[visit.label] == visit_status(window, None, today).value


def test_the_pending_read_leaves_out_exactly_what_visit_status_calls_completed(
    tmp_path: Path,
) -> None:
    """``iter_scheduled(..., pending_on=day)`` filters in SQL by the first rule of
    ``visit_status``: on every day around the scores, it keeps exactly the visits that
    rule does not call completed."""
    from stemjourney.demo import build_demo_clinic

    today = date(2026, 11, 2)
    build_demo_clinic(tmp_path / "demo.db", patients=30, today=today)
    with open_file(tmp_path / "demo.db") as store:
        first, last = today - timedelta(days=400), today + timedelta(days=60)
        every = list(store.iter_scheduled(first, last))
        completed = 0
        for day in (today - timedelta(days=d) for d in range(0, 400, 9)):
            pending = list(store.iter_scheduled(first, last, pending_on=day))
            wanted = [
                s for s in every if visit_status(s[5], s[6], day) is not VisitStatus.COMPLETED
            ]
            assert pending == wanted
            completed += len(every) - len(pending)
        assert completed > 100  # the rule was exercised, not only the empty case


def test_one_planner_gives_each_journey_its_own_rows_from_a_plan_it_keeps() -> None:
    """verify()'s planner keeps each plan by its injection days: two journeys injected on
    the same days get the same visits under their own ids, each completed by its own
    scores, as the plain rule gives them; a third with other days gets its own plan."""
    from stemjourney.store._schedule import Planner, planned_rows

    planner = Planner(sj.DEFAULT_PROTOCOL)
    shots = [(1, date(2026, 1, 5)), (2, date(2026, 9, 1))]
    cases = [
        ("j-1", shots, [date(2026, 2, 16), date(2026, 7, 6)]),
        ("j-2", shots, [date(2026, 4, 6)]),
        ("j-3", [(1, date(2026, 3, 3))], []),
    ]
    for jid, injections, days in cases:
        rows = planner.rows(jid, injections, days)
        assert rows == planned_rows(jid, injections, days, sj.DEFAULT_PROTOCOL)
        assert {row[0] for row in rows} == {jid}
    one, two = planner.rows("j-1", shots, []), planner.rows("j-2", shots, [date(2026, 2, 16)])
    assert [r[1:7] for r in one] == [r[1:7] for r in two]
    assert [r[7] for r in two].count("2026-02-16") == 1


def test_a_bulk_import_completes_each_visit_on_its_first_day_in_the_window(
    tmp_path: Path,
) -> None:
    """Imported scores set each visit's first score day as the plain rule does: several
    in one window (the earliest counts), one before a day already kept (it takes over),
    one after it (nothing changes), one in no window, late in the evening UTC-wise."""
    six_weeks = SHOT + timedelta(weeks=6)
    three_months = SHOT + timedelta(days=91)
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        _treat(store)
        store.record("j-1", sj.nrs(4, three_months), actor="nurse")
        store.import_scores(
            [
                ("j-1", "nrs", 3, six_weeks + timedelta(days=3)),
                ("j-1", "vas", 30, six_weeks - timedelta(days=2, hours=-20)),
                ("j-1", "nrs", 3, six_weeks + timedelta(days=1)),
                ("j-1", "nrs", 2, three_months - timedelta(days=4)),
                ("j-1", "nrs", 2, three_months + timedelta(days=3)),
                ("j-1", "nrs", 5, SHOT + timedelta(days=2)),
            ],
            actor="imp",
        )
        rows = _rows(store)
        assert rows[0][5] == (six_weeks - timedelta(days=2, hours=-20)).date().isoformat()
        assert rows[1][5] == (three_months - timedelta(days=4)).date().isoformat()
        assert rows == _planned(store)
        assert store.verify().ok
