"""The hand-written references: raw sqlite3 and plain SQL computing the same numbers.

Each reference is what a careful engineer would write against the store's tables
without the library: the cohort outcomes and the work-list as SQL (the calendar
arithmetic of the schedule done by SQLite's date functions, month ends clamped as
python-dateutil does), the bulk import as one ``executemany`` in one transaction.
The harness checks that each reference and the library give the same numbers. The
cohort and work-list SQL is written once; the few words that differ on PostgreSQL
(date arithmetic, ``greatest``/``least``, JSON, temp tables, parameters) come from a
:class:`Dialect`, SQLite's by default, :data:`POSTGRES` for a psycopg connection.

The references implement the documented definitions themselves (they call nothing
of ``stemjourney.outcomes``; they read only the protocol's data):

- a cycle starts at its first injection in force (an amended record is replaced by
  its amendment); a score follows the cycle whose first injection is the latest one
  strictly before it;
- a cycle's baseline is the last score in force measured strictly before its first
  injection and no earlier than the protocol's look-back before it (the higher
  version on a tie);
- improvement points are ``baseline - value`` where lower is better,
  ``value - baseline`` where higher is better; per cent is points of the baseline's
  distance from the best score (undefined at the best score);
- visit windows are UTC calendar days: due = injection day + months (month end
  clamped) + weeks, opening after the injection day and closing by the next cycle's
  injection day, whose later visits are dropped; the score that stands for a time
  point is the one of the cycle inside the window nearest the due day (the earlier
  on a tie).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

from stemjourney import DEFAULT_PROTOCOL, Protocol

Cohort = dict[tuple[Any, ...], tuple[Any, ...]]

_LOWER_IS_BETTER = ("nrs", "vas", "odi", "ndi", "quickdash")
_HIGHER_IS_BETTER = (
    "koos_symptoms",
    "koos_pain",
    "koos_adl",
    "koos_sport",
    "koos_qol",
    "ases",
)


def direction(instrument: str) -> tuple[bool, float] | None:
    """(higher is better, best score) of a built-in instrument, ``None`` for any other."""
    if instrument in _LOWER_IS_BETTER:
        return False, 0.0
    if instrument in _HIGHER_IS_BETTER:
        return True, 100.0
    return None


def _visits(protocol: Protocol, *, labels: bool = False) -> str:
    rows = []
    for i, v in enumerate(protocol.schedule):
        label = f" '{v.label}'," if labels else ""
        rows.append(f"({i},{label} {v.months}, {v.weeks * 7}, {v.window_days})")
    return ", ".join(rows)


def _due(day: str) -> str:
    """SQL for ``day`` plus the visit's months (clamped at month end), then its days."""
    shifted = f"date({day}, '+' || v.months || ' months')"
    clamped = (
        f"CASE WHEN v.months = 0 THEN {day} "
        f"WHEN strftime('%d', {shifted}) = strftime('%d', {day}) THEN {shifted} "
        f"ELSE date({shifted}, 'start of month', '-1 day') END"
    )
    return f"julianday(date({clamped}, '+' || v.days || ' days'))"


class Dialect:
    """The few words of the references that differ from one database to the other: these
    are SQLite's; :class:`Postgres` has PostgreSQL's. Days are Julian day numbers (of
    midnight UTC) in both, as SQLite's ``julianday`` gives them."""

    temp = "temp"
    alias = ""
    false = "0"
    count = "count(*)"

    def param(self, name: str) -> str:
        """A named parameter."""
        return f":{name}"

    def day(self, text: str) -> str:
        """The Julian day of a stored time's UTC day."""
        return f"julianday(substr({text}, 1, 10))"

    def julian(self, day: str) -> str:
        """The Julian day of a day's text (a parameter)."""
        return f"julianday({day})"

    def date(self, julian: str) -> str:
        """A Julian day as the text of its day."""
        return f"date({julian})"

    def due(self, julian: str) -> str:
        """A visit's due day (``v.months`` then ``v.days`` after the Julian day)."""
        return _due(f"date({julian})")

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"min({a}, {b})"

    def earlier(self, text: str, seconds: int) -> str:
        """A stored time ``seconds`` earlier, as text that compares with stored times."""
        return (
            f"strftime('%Y-%m-%dT%H:%M:%S', substr({text}, 1, 19), '-{seconds} seconds')"
            f"\n                       || substr({text}, 20)"
        )

    def serious(self, payload: str) -> str:
        """An adverse event's ``serious`` (1, 0 or NULL)."""
        return f"json_extract({payload}, '$.serious')"

    def flag(self, test: str) -> str:
        """A test as 1 or 0."""
        return test

    def index(self, name: str) -> str:
        """The name of a new index of a temp table."""
        return f"temp.{name}"

    def analyzed(self, statements: list[str]) -> list[str]:
        """The statements that fill the temp tables, with the statistics the planner needs."""
        return statements


_EPOCH = "DATE '2000-01-01'"
_EPOCH_JULIAN = 2451544.5


class Postgres(Dialect):
    """PostgreSQL's words: its own date arithmetic (a month added to a day is clamped at
    the month's end already), ``greatest``/``least``, JSON operators, temp tables in
    ``pg_temp`` analysed once filled, and psycopg's named parameters."""

    temp = "pg_temp"
    alias = " AS nearest"
    false = "false"
    count = "count(*)::int"

    def param(self, name: str) -> str:
        return f"%({name})s"

    def _julian_of(self, day: str) -> str:
        return f"(({day}) - {_EPOCH} + {_EPOCH_JULIAN}::float8)"

    def _day_of(self, julian: str) -> str:
        return f"({_EPOCH} + (({julian}) - {_EPOCH_JULIAN})::int)"

    def day(self, text: str) -> str:
        return self._julian_of(f"substr({text}, 1, 10)::date")

    def julian(self, day: str) -> str:
        return self._julian_of(f"{day}::date")

    def date(self, julian: str) -> str:
        return f"to_char({self._day_of(julian)}, 'YYYY-MM-DD')"

    def due(self, julian: str) -> str:
        shifted = f"({self._day_of(julian)} + make_interval(months => v.months))::date"
        return self._julian_of(f"{shifted} + v.days")

    def greatest(self, a: str, b: str) -> str:
        return f"greatest({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"least({a}, {b})"

    def earlier(self, text: str, seconds: int) -> str:
        return (
            f"to_char(substr({text}, 1, 19)::timestamp - interval '{seconds} seconds', "
            f"'YYYY-MM-DD\"T\"HH24:MI:SS') || substr({text}, 20)"
        )

    def serious(self, payload: str) -> str:
        return f"(({payload}::jsonb ->> 'serious') = 'true')::int"

    def flag(self, test: str) -> str:
        return f"({test})::int"

    def index(self, name: str) -> str:
        return name

    def analyzed(self, statements: list[str]) -> list[str]:
        out = []
        for sql in statements:
            out.append(sql)
            if sql.startswith("CREATE TEMP TABLE"):
                out.append(f"ANALYZE {sql.split()[3]}")
        return out


SQLITE = Dialect()
POSTGRES = Postgres()


def _dues(protocol: Protocol, days: str, d: Dialect = SQLITE) -> str:
    """SQL of each visit's due day (Julian) for each injection day of ``days`` (a query
    of a ``day`` column).

    Due days grow from one visit to the next whatever the injection day (a protocol
    refuses visits whose windows could overlap), so "the visits due after the next
    cycle's injection day are dropped, and all later ones" is the filter
    ``due <= next day``.
    """
    return f"""
        WITH visits (idx, months, days, wd) AS (VALUES {_visits(protocol)})
        SELECT d.day, v.idx, v.wd, {d.due("d.day")} AS due
        FROM ({days}) AS d CROSS JOIN visits AS v"""  # noqa: S608 (constants only)


def _lookback(protocol: Protocol) -> int:
    seconds = protocol.baseline_lookback.total_seconds()
    if seconds != int(seconds):
        raise ValueError("the reference handles a look-back of whole seconds only")
    return int(seconds)


# -- the cohort report -------------------------------------------------------------------

_IN_FORCE = (
    "NOT EXISTS (SELECT 1 FROM ref_rec AS a WHERE a.journey_id = r.journey_id"
    " AND a.amends = r.version)"
)


def cohort_sql(protocol: Protocol, instrument: str, d: Dialect = SQLITE) -> tuple[list[str], str]:
    """The statements that fill the temp tables, and the summary query over them.

    ``ref_rec``: the injection and adverse-event records, and every amendment;
    ``ref_scores``: the instrument's scores in force measured by the day ``:on``;
    ``ref_cyc``: each cycle with an injection of each journey that is not voided,
    with its first injection, the next cycle's injection day, the next first
    injection in time, its baseline and its adverse events; ``ref_win``: each
    cycle's visit windows (the calendar arithmetic done once per injection day);
    ``ref_cells``: each window with the score that stands for it, if any.
    """
    lookback = _lookback(protocol)
    prepare = [
        f"""CREATE TEMP TABLE ref_rec AS
        SELECT journey_id, version, kind, cycle, occurred_at, amends,
               CASE WHEN kind = 'adverse_event' THEN {d.serious("payload")} END
                 AS serious
        FROM records WHERE kind IN ('injection', 'adverse_event') OR amends IS NOT NULL""",  # noqa: S608
        f"CREATE INDEX {d.index('ref_rec_amends')} ON ref_rec (journey_id, amends)",
        f"""CREATE TEMP TABLE ref_scores AS
        SELECT journey_id, version, measured_at, value,
               {d.day("measured_at")} AS day
        FROM observations WHERE instrument = {d.param("instrument")}
          AND substr(measured_at, 1, 10) <= {d.param("on")}
          AND (journey_id, version) NOT IN (
              SELECT journey_id, amends FROM observations WHERE amends IS NOT NULL)""",  # noqa: S608
        f"CREATE INDEX {d.index('ref_scores_time')} ON ref_scores "
        "(journey_id, measured_at, version)",
        f"""CREATE TEMP TABLE ref_cyc AS
        WITH firsts AS (
            SELECT journey_id, cycle, min(occurred_at) AS at FROM ref_rec AS r
            WHERE kind = 'injection' AND {_IN_FORCE}
            GROUP BY journey_id, cycle
        ), events AS (
            SELECT journey_id, cycle, max(coalesce(serious, 0)) AS serious
            FROM ref_rec AS r WHERE kind = 'adverse_event' AND {_IN_FORCE}
            GROUP BY journey_id, cycle
        ), cycles AS (
            SELECT f.journey_id, f.cycle, f.at, j.patient_id, j.condition, j.site,
                   j.cell_source, {d.day("f.at")} AS day,
                   lead({d.day("f.at")})
                       OVER (PARTITION BY f.journey_id ORDER BY f.cycle) AS next_day,
                   lead(f.at) OVER (PARTITION BY f.journey_id ORDER BY f.at, f.cycle) AS next_at,
                   {d.earlier("f.at", lookback)} AS earliest,
                   {d.flag("e.journey_id IS NOT NULL")} AS event,
                   {d.flag("coalesce(e.serious, 0) <> 0")} AS serious
            FROM firsts AS f
            JOIN journeys AS j ON j.id = f.journey_id
            LEFT JOIN events AS e ON e.journey_id = f.journey_id AND e.cycle = f.cycle
            WHERE j.stage <> 'voided'
        )
        SELECT c.*,
               (SELECT s.value FROM ref_scores AS s
                WHERE s.journey_id = c.journey_id AND s.measured_at < c.at
                  AND s.measured_at >= c.earliest
                ORDER BY s.measured_at DESC, s.version DESC LIMIT 1) AS base
        FROM cycles AS c""",  # noqa: S608 (constants only)
        f"""CREATE TEMP TABLE ref_dues AS
        {_dues(protocol, "SELECT DISTINCT day FROM ref_cyc", d)}""",  # noqa: S608 (constants only)
        f"CREATE INDEX {d.index('ref_dues_day')} ON ref_dues (day)",
        f"""CREATE TEMP TABLE ref_win AS
        SELECT c.journey_id, c.condition, c.site, c.cell_source, c.cycle, c.at, c.next_at,
               c.base, d.idx, d.due, {d.greatest("d.due - d.wd", "c.day + 1")} AS opens,
               CASE WHEN c.next_day IS NULL THEN d.due + d.wd
                    ELSE {d.least("d.due + d.wd", "c.next_day")} END AS closes
        FROM ref_cyc AS c JOIN ref_dues AS d ON d.day = c.day
        WHERE c.next_day IS NULL OR d.due <= c.next_day""",  # noqa: S608 (constants only)
        f"""CREATE TEMP TABLE ref_cells AS
        SELECT w.condition, w.site, w.cell_source, w.cycle, w.idx, w.due, w.base,
               (SELECT value FROM (
                    SELECT s.value, abs(s.day - w.due) AS gap, s.measured_at, s.version
                    FROM ref_scores AS s
                    WHERE s.journey_id = w.journey_id
                      AND s.measured_at >= {d.date("w.opens")}
                      AND s.measured_at < {d.date("w.closes + 1")}
                      AND s.measured_at > w.at
                      AND (w.next_at IS NULL OR s.measured_at <= w.next_at)){d.alias}
                ORDER BY gap, measured_at, version LIMIT 1) AS value
        FROM ref_win AS w""",  # noqa: S608 (constants only)
    ]
    rules = ", ".join(_rule_sql(protocol, instrument, d)) or "NULL"
    known = direction(instrument) is not None
    gain = _gain(instrument)
    changed = "base IS NOT NULL AND value IS NOT NULL" if known else d.false
    summary = f"""
    SELECT condition, site, cell_source, cycle, idx,
           sum(CASE WHEN value IS NOT NULL OR due <= {d.julian(d.param("on"))} THEN 1 ELSE 0 END),
           count(value), avg(value),
           count(CASE WHEN {changed} THEN 1 END),
           avg(CASE WHEN {changed} THEN value - base END),
           sum(CASE WHEN {changed} THEN (value - base) * (value - base) END),
           avg(CASE WHEN {changed} THEN {gain} END),
           {rules}
    FROM ref_cells GROUP BY condition, site, cell_source, cycle, idx
    """  # noqa: S608
    return d.analyzed(prepare), summary


def _gain(instrument: str) -> str:
    found = direction(instrument)
    return "(value - base)" if found is not None and found[0] else "(base - value)"


def _rule_sql(protocol: Protocol, instrument: str, d: Dialect = SQLITE) -> list[str]:
    found = direction(instrument)
    best = 0.0 if found is None else found[1]
    gain = _gain(instrument)
    changed = "base IS NOT NULL AND value IS NOT NULL" if found is not None else d.false
    out = []
    for rule in protocol.rules_for(instrument):
        tests = []
        if rule.min_points is not None:
            tests.append(f"{gain} >= {rule.min_points!r} - 1e-9")
        if rule.min_percent is not None:
            tests.append(
                f"(base <> {best!r} AND {gain} * 100 / abs({best!r} - base)"
                f" >= {rule.min_percent!r} - 1e-9)"
            )
        joined = " AND ".join(tests) if rule.combine == "all" else " OR ".join(tests)
        out.append(f"sum(CASE WHEN {changed} AND ({joined}) THEN 1 ELSE 0 END)")
    return out


_MEDIANS = """
WITH counts AS (
    SELECT condition, site, cell_source, cycle, idx, value, {count} AS n
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
       sum(event), sum(serious), count(base), avg(base)
FROM ref_cyc GROUP BY condition, site, cell_source, cycle
"""

_BASE_VALUES = (
    "(SELECT condition, site, cell_source, cycle, -1 AS idx, base AS value FROM ref_cyc){alias}"
)
_TEMP = ("ref_rec", "ref_scores", "ref_cyc", "ref_dues", "ref_win", "ref_cells")


def cohort(
    conn: Any,
    on: date,
    protocol: Protocol = DEFAULT_PROTOCOL,
    instrument: str = "nrs",
    dialect: Dialect = SQLITE,
) -> Cohort:
    """The cohort outcomes by SQL: {(group..., time point): numbers} as the report's rows.

    One read transaction; the temp tables are dropped at the end. ``conn`` is an sqlite3
    connection, or a psycopg one (autocommit) with ``dialect=POSTGRES``.
    """
    d = dialect
    prepare, summary = cohort_sql(protocol, instrument, d)
    args = {"instrument": instrument, "on": on.isoformat()}
    labels = [v.label for v in protocol.schedule]
    rules = [r.label for r in protocol.rules_for(instrument)]
    conn.execute("BEGIN")
    try:
        for sql in prepare:
            given = {k: v for k, v in args.items() if d.param(k) in sql}
            conn.execute(sql, given) if given else conn.execute(sql)
        medians: dict[tuple[Any, ...], float] = {}
        for source in ("ref_cells", _BASE_VALUES.format(alias=d.alias)):
            for row in conn.execute(_MEDIANS.format(source=source, count=d.count)):
                medians[tuple(row[:5])] = row[5]
        groups = conn.execute(_GROUPS).fetchall()
        cells = {tuple(row[:5]): row[5:] for row in conn.execute(summary, {"on": args["on"]})}
        seen = conn.execute("SELECT count(DISTINCT journey_id) FROM ref_cyc").fetchone()[0]
    finally:
        for table in _TEMP:
            conn.execute(f"DROP TABLE IF EXISTS {d.temp}.{table}")
        conn.execute("COMMIT")
    nothing = tuple((name, None) for name in rules)
    out: Cohort = {("journeys",): (seen,)}
    for row in groups:
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
            nothing,
            1.0 if n_base else None,
            None,
        )
        for idx, label in enumerate(labels):
            found = cells.get((*key, idx))
            if found is None:
                out[(*key, label)] = (0, 0, None, None, None, None, nothing, None, None)
                continue
            expected, n, mean, changes, mean_change, squares, gain = found[:7]
            hits = found[7 : 7 + len(rules)]
            sd = None
            if changes > 1:
                var = (squares - changes * mean_change**2) / (changes - 1)
                sd = max(var, 0.0) ** 0.5
            out[(*key, label)] = (
                expected,
                n,
                mean,
                medians.get((*key, idx)),
                mean_change if changes else None,
                sd,
                tuple(
                    (name, hit / changes if changes else None)
                    for name, hit in zip(rules, hits, strict=True)
                ),
                n / expected if expected else None,
                gain if changes else None,
            )
    return out


def from_report(report: Any) -> Cohort:
    """The same numbers read off a ``CohortReport``."""
    out: Cohort = {("journeys",): (report.journeys,)}
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
                row.mean_improvement,
            )
    return out


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def differences(ours: dict[Any, Any], theirs: dict[Any, Any], limit: int = 5) -> list[str]:
    """Where two result dicts disagree (counts exactly, floats beyond rounding noise),
    at most ``limit``."""
    found = []
    for key in sorted(set(ours) | set(theirs), key=repr):
        a, b = ours.get(key), theirs.get(key)
        if not _close(a, b):
            found.append(f"{key}: library {a!r} != reference {b!r}")
            if len(found) >= limit:
                break
    return found


def cohort_floor(conn: sqlite3.Connection, instrument: str = "nrs") -> dict[str, int]:
    """The floor of the cohort report: plain sqlite3 reading the rows it needs, no computing.

    The journeys' identity and stage; the injection and adverse-event records with
    cycle, version, amends, injection time and seriousness; the instrument's scores
    with version, time, value and amends. Each row is fetched into Python and dropped.
    Returns the rows read of each table.
    """
    reads = {
        "journeys": (
            "SELECT id, patient_id, condition, site, side, cell_source, stage FROM journeys",
            (),
        ),
        "records": (
            "SELECT journey_id, version, kind, cycle, amends, occurred_at, "
            "CASE WHEN kind = 'adverse_event' THEN json_extract(payload, '$.serious') END "
            "FROM records WHERE kind IN ('injection', 'adverse_event')",
            (),
        ),
        "observations": (
            "SELECT journey_id, version, measured_at, value, amends FROM observations "
            "WHERE instrument = ?",
            (instrument,),
        ),
    }
    counts = {}
    for table, (sql, args) in reads.items():
        n = 0
        for n, _ in enumerate(conn.execute(sql, args), 1):  # noqa: B007 (the count read)
            pass
        counts[table] = n
    return counts


# -- the work-list -----------------------------------------------------------------------

ENDING = ("completed", "ineligible", "withdrawn", "voided")
"""The stages that end a journey: the work-list leaves their journeys out."""


def worklist_sql(protocol: Protocol, d: Dialect = SQLITE) -> str:
    """The work-list by SQL, rows as the report's items, in its order."""
    ending = ", ".join(f"'{s}'" for s in ENDING)
    first, last, on = d.param("first"), d.param("last"), d.param("on")
    return f"""
    WITH shots AS (
        SELECT r.journey_id, r.cycle, min(r.occurred_at) AS at
        FROM journeys AS j JOIN records AS r ON r.journey_id = j.id
        WHERE j.stage NOT IN ({ending}) AND r.kind = 'injection'
          AND NOT EXISTS (SELECT 1 FROM records AS a
                          WHERE a.journey_id = r.journey_id AND a.amends = r.version)
        GROUP BY r.journey_id, r.cycle
    ), cycles AS MATERIALIZED (
        SELECT journey_id, cycle, {d.day("at")} AS day,
               lead({d.day("at")}) OVER (PARTITION BY journey_id
                                                         ORDER BY cycle) AS stop
        FROM shots
    ), visits (idx, label, months, days, wd) AS (VALUES {_visits(protocol, labels=True)}
    ), planned AS (
        SELECT c.journey_id, c.cycle, v.idx, v.label, c.day, c.stop, v.wd,
               {d.due("c.day")} AS due
        FROM cycles AS c CROSS JOIN visits AS v
        -- only the injection days whose window can meet the days asked for (months of
        -- 28 to 31 days)
        WHERE c.day BETWEEN {first} - v.wd - v.months * 31 - v.days
                        AND {last} + v.wd - v.months * 28 - v.days
    ), windows AS (
        SELECT journey_id, cycle, idx, label, due,
               {d.greatest("due - wd", "day + 1")} AS opens,
               CASE WHEN stop IS NULL THEN due + wd ELSE {d.least("due + wd", "stop")} END AS closes
        FROM planned WHERE stop IS NULL OR due <= stop
    )
    SELECT j.patient_id, w.journey_id, j.condition, j.site, j.side, w.cycle, w.label,
           {d.date("w.due")}, {d.date("w.opens")}, {d.date("w.closes")},
           CASE WHEN {on} < w.opens THEN 'upcoming' WHEN {on} <= w.due THEN 'in_window'
                WHEN {on} <= w.closes THEN 'overdue' ELSE 'missed' END
    FROM windows AS w JOIN journeys AS j ON j.id = w.journey_id
    WHERE w.opens <= {last} AND w.closes >= {first}
      AND NOT EXISTS (
        SELECT 1 FROM observations AS o
        WHERE o.journey_id = w.journey_id
          AND o.measured_at >= {d.date("w.opens")}
          AND o.measured_at < {d.date(d.least("w.closes", on) + " + 1")}
          AND NOT EXISTS (SELECT 1 FROM observations AS a
                          WHERE a.journey_id = o.journey_id AND a.amends = o.version))
    ORDER BY w.due, w.journey_id, w.cycle
    """  # noqa: S608


SCHEDULED_SQL = """
SELECT j.patient_id, s.journey_id, j.condition, j.site, j.side, s.cycle, s.time_point,
       s.due, s.opens, s.closes,
       CASE WHEN :on < s.opens THEN 'upcoming' WHEN :on <= s.due THEN 'in_window'
            WHEN :on <= s.closes THEN 'overdue' ELSE 'missed' END
FROM schedule AS s JOIN journeys AS j ON j.id = s.journey_id
WHERE s.closes >= :first AND s.opens <= :last AND j.closed_at IS NULL
  AND (s.first_score_on IS NULL OR s.first_score_on > :on)
ORDER BY s.due, s.journey_id, s.cycle
"""
"""The work-list by hand over the ``schedule`` table the store keeps (the visits planned
with each injection, ``first_score_on`` set by the first score in the window): the
floor of reading it, an index range and the status by the documented rule."""


def scheduled(conn: Any, start: date, end: date, on: date | None = None) -> list[tuple[Any, ...]]:
    """The work-list rows by hand over the schedule table, as :func:`worklist` gives them."""
    day = start if on is None else on
    args = {"first": start.isoformat(), "last": end.isoformat(), "on": day.isoformat()}
    return [tuple(r) for r in conn.execute(SCHEDULED_SQL, args).fetchall()]


def worklist(
    conn: Any,
    start: date,
    end: date,
    protocol: Protocol = DEFAULT_PROTOCOL,
    on: date | None = None,
    dialect: Dialect = SQLITE,
) -> list[tuple[Any, ...]]:
    """The work-list rows by SQL: (patient, journey, condition, site, side, cycle, label,
    due, opens, closes, status), status read on ``on`` (``start`` unless given); ``conn``
    is an sqlite3 connection, or a psycopg one with ``dialect=POSTGRES``."""
    args = {
        "first": _julian(start),
        "last": _julian(end),
        "on": _julian(start if on is None else on),
    }
    return conn.execute(worklist_sql(protocol, dialect), args).fetchall()


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


# -- the floor of verify() ----------------------------------------------------------------

VERIFY_READS = (
    ("journeys", "SELECT * FROM journeys ORDER BY id"),
    ("transitions", "SELECT * FROM transitions ORDER BY journey_id, seq"),
    ("records", "SELECT * FROM records ORDER BY journey_id, version"),
    ("observations", "SELECT * FROM observations ORDER BY journey_id, version"),
    ("patients", "SELECT * FROM patients ORDER BY id"),
    ("patient_erasures", "SELECT * FROM patient_erasures ORDER BY patient_id"),
    ("audit_log", "SELECT * FROM audit_log ORDER BY id"),
)
"""What ``verify()`` reads, table by table, in the order it reads each table's rows (the
audit log in chain order: by id, as each entry's seq is its id on SQLite)."""


def verify_floor(conn: sqlite3.Connection) -> dict[str, int]:
    """The floor of ``Store.verify()``: every row of every table, in verify's order, and
    SHA-256 of each row's bytes (``repr(row)``); no other work. Returns rows per table."""
    sha256 = hashlib.sha256
    counts = {}
    for table, sql in VERIFY_READS:
        n = 0
        for row in conn.execute(sql):
            sha256(repr(row).encode()).digest()
            n += 1
        counts[table] = n
    return counts
