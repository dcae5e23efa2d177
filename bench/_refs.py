"""The hand-written references: raw sqlite3 and plain SQL computing the same numbers.

Each reference is what a careful engineer would write against the store's tables
without the library: the cohort outcomes and the work-list as SQL (the calendar
arithmetic of the schedule done by SQLite's date functions, month ends clamped as
python-dateutil does), the bulk import as one ``executemany`` in one transaction.
The harness checks that each reference and the library give the same numbers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

from stemjourney import DEFAULT_PROTOCOL, Protocol
from stemjourney.outcomes import INSTRUMENTS

Cohort = dict[tuple[Any, ...], tuple[Any, ...]]


def _visits(protocol: Protocol) -> str:
    return ", ".join(
        f"({i}, '{v.label}', {v.months}, {v.weeks * 7}, {v.window_days})"
        for i, v in enumerate(protocol.schedule)
    )


def _due(day: str) -> str:
    """SQL for ``day`` plus the visit's months (clamped at month end), then its days."""
    shifted = f"date({day}, '+' || v.months || ' months')"
    clamped = (
        f"CASE WHEN v.months = 0 THEN {day} "
        f"WHEN strftime('%d', {shifted}) = strftime('%d', {day}) THEN {shifted} "
        f"ELSE date({shifted}, 'start of month', '-1 day') END"
    )
    return f"julianday(date({clamped}, '+' || v.days || ' days'))"


def _rule_sql(protocol: Protocol, instrument: str) -> list[str]:
    known = INSTRUMENTS.get(instrument)
    rising = known is not None and known.higher_is_better
    gain = "(value - base)" if rising else "(base - value)"
    out = []
    for rule in protocol.rules_for(instrument):
        tests = []
        if rule.min_points is not None:
            tests.append(f"{gain} >= {rule.min_points} - 1e-9")
        if rule.min_percent is not None:
            tests.append(f"(base <> 0 AND {gain} * 1.0 / base * 100 >= {rule.min_percent} - 1e-9)")
        joined = " AND ".join(tests) if rule.require_all else " OR ".join(tests)
        out.append(
            f"sum(CASE WHEN base IS NOT NULL AND value IS NOT NULL AND ({joined}) THEN 1 END)"
        )
    return out


def cohort_sql(protocol: Protocol, instrument: str) -> tuple[list[str], str]:
    """The statements that fill the temp tables, and the summary query over them.

    ``ref_scores``: the instrument's scores in force, with their day; ``ref_inj``: the
    first injection of each cycle of each journey that is not voided, with the next
    cycle's injection, the baseline and the adverse events; ``ref_win``: each
    injection's visit windows (the calendar arithmetic done once per injection day);
    ``ref_cells``: each window with the score closest to its due day, if any.
    """
    prepare = [
        """CREATE TEMP TABLE ref_scores AS
        SELECT journey_id, version, measured_at, value,
               julianday(substr(measured_at, 1, 10)) AS day
        FROM observations WHERE instrument = :instrument
          AND (journey_id, version) NOT IN (
              SELECT journey_id, amends FROM observations WHERE amends IS NOT NULL)""",
        """CREATE TEMP TABLE ref_inj AS
        WITH amended AS (
            SELECT journey_id, amends AS version FROM records WHERE amends IS NOT NULL
        ), firsts AS (
            SELECT r.journey_id, r.cycle, min(r.occurred_at) AS at
            FROM records AS r
            WHERE r.kind = 'injection'
              AND (r.journey_id, r.version) NOT IN (SELECT journey_id, version FROM amended)
            GROUP BY r.journey_id, r.cycle
        ), events AS (
            SELECT r.journey_id, r.cycle, max(json_extract(r.payload, '$.serious')) AS serious
            FROM records AS r
            WHERE r.kind = 'adverse_event'
              AND (r.journey_id, r.version) NOT IN (SELECT journey_id, version FROM amended)
            GROUP BY r.journey_id, r.cycle
        )
        SELECT f.journey_id, f.cycle, f.at, j.patient_id, j.condition, j.site, j.cell_source,
               julianday(substr(f.at, 1, 10)) AS day,
               (SELECT n.at FROM firsts AS n WHERE n.journey_id = f.journey_id
                  AND n.cycle = f.cycle + 1) AS until,
               (SELECT o.value FROM observations AS o
                WHERE o.journey_id = f.journey_id AND o.instrument = :instrument
                  AND o.measured_at <= f.at
                  AND NOT EXISTS (SELECT 1 FROM observations AS a
                                  WHERE a.journey_id = o.journey_id AND a.amends = o.version)
                ORDER BY o.measured_at DESC, o.version DESC LIMIT 1) AS base,
               e.serious AS serious
        FROM firsts AS f
        JOIN journeys AS j ON j.id = f.journey_id
        LEFT JOIN events AS e ON e.journey_id = f.journey_id AND e.cycle = f.cycle
        WHERE j.stage <> 'voided'""",
        f"""CREATE TEMP TABLE ref_win AS
        WITH visits (idx, label, months, days, wd) AS (VALUES {_visits(protocol)}),
        dues AS MATERIALIZED (
            SELECT d.day, v.idx, v.wd, {_due("date(d.day)")} AS due
            FROM (SELECT DISTINCT day FROM ref_inj) AS d CROSS JOIN visits AS v
        )
        SELECT i.journey_id, i.cycle, i.at, i.until, i.base, i.condition, i.site,
               i.cell_source, d.idx, d.due, d.due - d.wd AS first, d.due + d.wd AS last
        FROM ref_inj AS i JOIN dues AS d ON d.day = i.day""",  # noqa: S608 (constants only)
        "CREATE INDEX temp.ref_win_journey ON ref_win (journey_id)",
        """CREATE TEMP TABLE ref_cells AS
        WITH hits AS MATERIALIZED (
            SELECT w.rowid AS w, s.value AS value,
                   min(printf('%09d|%s|%09d', abs(s.day - w.due), s.measured_at, s.version))
            FROM ref_scores AS s JOIN ref_win AS w ON w.journey_id = s.journey_id
            WHERE s.day BETWEEN w.first AND w.last AND s.measured_at > w.at
              AND (w.until IS NULL OR s.measured_at < w.until)
            GROUP BY w.rowid
        )
        SELECT w.condition, w.site, w.cell_source, w.cycle, w.idx, w.due, w.base, h.value
        FROM ref_win AS w LEFT JOIN hits AS h ON h.w = w.rowid""",
    ]
    rules = ", ".join(_rule_sql(protocol, instrument)) or "NULL"
    summary = f"""
    SELECT condition, site, cell_source, cycle, idx,
           sum(CASE WHEN value IS NOT NULL OR due <= julianday(:on) THEN 1 ELSE 0 END),
           count(value), avg(value),
           count(CASE WHEN base IS NOT NULL THEN value END),
           avg(CASE WHEN base IS NOT NULL THEN value - base END),
           sum(CASE WHEN base IS NOT NULL THEN (value - base) * (value - base) END),
           {rules}
    FROM ref_cells GROUP BY condition, site, cell_source, cycle, idx
    """  # noqa: S608
    return prepare, summary


_MEDIANS = """
WITH counts AS (
    SELECT condition, site, cell_source, cycle, idx, value, count(*) AS n
    FROM {source} WHERE value IS NOT NULL
    GROUP BY condition, site, cell_source, cycle, idx, value
), running AS (
    SELECT *, sum(n) OVER (PARTITION BY condition, site, cell_source, cycle, idx
                           ORDER BY value ROWS UNBOUNDED PRECEDING) AS upto,
           sum(n) OVER (PARTITION BY condition, site, cell_source, cycle, idx) AS total
    FROM counts
)
SELECT condition, site, cell_source, cycle, idx, avg(value) FROM running
WHERE (upto - n < (total + 1) / 2 AND upto >= (total + 1) / 2)
   OR (upto - n < (total + 2) / 2 AND upto >= (total + 2) / 2)
GROUP BY condition, site, cell_source, cycle, idx
"""

_GROUPS = """
SELECT condition, site, cell_source, cycle, count(*), count(DISTINCT patient_id),
       count(serious), coalesce(sum(serious), 0),
       count(base), avg(base)
FROM ref_inj GROUP BY condition, site, cell_source, cycle
"""

_BASE_VALUES = "(SELECT condition, site, cell_source, cycle, -1 AS idx, base AS value FROM ref_inj)"
_TEMP = ("ref_scores", "ref_inj", "ref_win", "ref_cells")


def cohort(
    conn: sqlite3.Connection,
    on: date,
    protocol: Protocol = DEFAULT_PROTOCOL,
    instrument: str = "nrs",
) -> Cohort:
    """The cohort outcomes by SQL: {(group..., time point): numbers} as the report's rows."""
    prepare, summary = cohort_sql(protocol, instrument)
    for table in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    for sql in prepare:
        conn.execute(sql, {"instrument": instrument} if ":instrument" in sql else {})
    labels = [v.label for v in protocol.schedule]
    rules = [r.label for r in protocol.rules_for(instrument)]
    medians: dict[tuple[Any, ...], float] = {}
    for source in ("ref_cells", _BASE_VALUES):
        for row in conn.execute(_MEDIANS.format(source=source)):
            medians[tuple(row[:5])] = row[5]
    out: Cohort = {}
    for row in conn.execute(_GROUPS):
        key = tuple(row[:4])
        journeys, patients, events, serious, n_base, mean_base = row[4:]
        out[(*key, "group")] = (journeys, patients, events / journeys, serious / journeys)
        out[(*key, "baseline")] = (
            n_base,
            n_base,
            mean_base,
            medians.get((*key, -1)),
            None,
            None,
            tuple((name, None) for name in rules),
            1.0 if n_base else None,
        )
    on_text = on.isoformat()
    for row in conn.execute(summary, {"on": on_text}):
        key, idx = tuple(row[:4]), row[4]
        expected, n, mean, changes, mean_change, squares = row[5:11]
        hits = row[11 : 11 + len(rules)]
        sd = None
        if changes and changes > 1:
            var = (squares - changes * mean_change**2) / (changes - 1)
            sd = max(var, 0.0) ** 0.5
        out[(*key, labels[idx])] = (
            expected,
            n,
            mean,
            medians.get((*key, idx)),
            mean_change if changes else None,
            sd,
            tuple(
                (name, (hit or 0) / changes if changes else None)
                for name, hit in zip(rules, hits, strict=True)
            ),
            n / expected if expected else None,
        )
    return out


def from_report(report: Any) -> Cohort:
    """The same numbers read off a ``CohortReport``."""
    out: Cohort = {}
    for g in report.groups:
        key = (g.condition, g.site, g.cell_source, g.cycle)
        out[(*key, "group")] = (
            g.journeys,
            g.patients,
            g.adverse_event_rate,
            g.serious_adverse_event_rate,
        )
        for row in g.rows:
            out[(*key, row.time_point)] = (
                row.expected,
                row.patients,
                row.mean,
                row.median,
                row.mean_change,
                row.sd_change,
                row.responders,
                row.completeness,
            )
    return out


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def differences(ours: dict[Any, Any], theirs: dict[Any, Any], limit: int = 5) -> list[str]:
    """Where two result dicts disagree (beyond floating-point noise), at most ``limit``."""
    found = []
    for key in sorted(set(ours) | set(theirs), key=repr):
        a, b = ours.get(key), theirs.get(key)
        if not _close(a, b):
            found.append(f"{key}: library {a!r} != reference {b!r}")
            if len(found) >= limit:
                break
    return found


# -- the work-list -----------------------------------------------------------------------

_FOLLOWED = ("recovery", "follow_up")


def worklist_sql(protocol: Protocol) -> str:
    """The work-list by SQL, rows as the report's items, in its order."""
    stages = ", ".join(f"'{s}'" for s in _FOLLOWED)
    return f"""
    WITH visits (idx, label, months, days, wd) AS (VALUES {_visits(protocol)}),
    shots AS (
        SELECT r.journey_id, r.cycle, min(r.occurred_at) AS at
        FROM journeys AS j JOIN records AS r ON r.journey_id = j.id
        WHERE j.stage IN ({stages}) AND r.kind = 'injection'
          AND NOT EXISTS (SELECT 1 FROM records AS a
                          WHERE a.journey_id = r.journey_id AND a.amends = r.version)
        GROUP BY r.journey_id, r.cycle
    ), cycles AS MATERIALIZED (
        SELECT journey_id, cycle, julianday(substr(at, 1, 10)) AS start,
               lead(julianday(substr(at, 1, 10))) OVER (PARTITION BY journey_id
                                                         ORDER BY cycle) AS stop
        FROM shots
    ), planned AS (
        SELECT c.journey_id, c.cycle, v.idx, v.label, c.stop, c.start, v.wd,
               {_due("date(c.start)")} AS due
        FROM cycles AS c CROSS JOIN visits AS v
        -- only injections whose window can meet the days asked for (months of 28-31 days)
        WHERE c.start BETWEEN :first - v.wd - v.months * 31 - v.days
                          AND :last + v.wd - v.months * 28 - v.days
    ), windows AS (
        SELECT journey_id, cycle, idx, label, due,
               max(due - wd, start + 1) AS opens,
               CASE WHEN stop IS NULL THEN due + wd ELSE min(due + wd, stop) END AS closes
        FROM planned WHERE stop IS NULL OR due <= stop
    )
    SELECT j.patient_id, w.journey_id, j.condition, j.site, j.side, w.cycle, w.label,
           date(w.due), date(w.opens), date(w.closes),
           CASE WHEN :on < w.opens THEN 'upcoming' WHEN :on <= w.due THEN 'in_window'
                WHEN :on <= w.closes THEN 'overdue' ELSE 'missed' END
    FROM windows AS w JOIN journeys AS j ON j.id = w.journey_id
    WHERE w.opens <= :last AND w.closes >= :first
      AND NOT EXISTS (
        SELECT 1 FROM observations AS o
        WHERE o.journey_id = w.journey_id
          AND o.measured_at >= date(w.opens)
          AND o.measured_at < date(min(w.closes, :on) + 1)
          AND NOT EXISTS (SELECT 1 FROM observations AS a
                          WHERE a.journey_id = o.journey_id AND a.amends = o.version))
    ORDER BY w.due, w.journey_id, w.cycle
    """  # noqa: S608


def worklist(
    conn: sqlite3.Connection, start: date, end: date, protocol: Protocol = DEFAULT_PROTOCOL
) -> list[tuple[Any, ...]]:
    """The work-list rows by SQL: (patient, journey, condition, site, side, cycle, label,
    due, opens, closes, status), status read on ``start``."""
    args = {
        "first": _julian(start),
        "last": _julian(end),
        "on": _julian(start),
    }
    return conn.execute(worklist_sql(protocol), args).fetchall()


def _julian(day: date) -> float:
    return day.toordinal() + 1721424.5


def worklist_items(report: Any) -> list[tuple[Any, ...]]:
    """The same rows read off a ``Worklist``."""
    return [i.row() for i in report.items]


# -- the bulk import ---------------------------------------------------------------------


def raw_import(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], sql: str) -> None:
    """``executemany`` of ready rows in one transaction: the speed limit of the import."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
