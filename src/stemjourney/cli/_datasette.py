"""``stemjourney datasette-metadata``: Datasette metadata generated from the schema.

Table and column descriptions come from the store's one list of tables
(``store/_tables.py``); the views and their columns from the schema's own statements
(``store/_schema.py``), run in a scratch in-memory database, each view column described
by the column of the same name in the tables it reads; the units of scores from the
instrument registry; the canned queries from the protocol (its 6-month visit, its
look-back and its first responder rule). Nothing here repeats a description.

Run ``datasette serve demo-output/clinic.db -m metadata.json`` with the file it writes.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from stemjourney.cli._app import State, cli, output, pass_state

if TYPE_CHECKING:
    from stemjourney.clinical._protocol import Protocol, ResponderRule

__all__ = ["QUERY_NAMES", "datasette_metadata", "metadata"]

QUERY_NAMES = (
    "overdue_this_week",
    "pain_over_time",
    "adverse_events_by_grade",
    "responders_at_6_months",
)
"""The canned queries, in the order Datasette lists them."""

_READS = r"\b(?:FROM|JOIN)\s+(\w+)"


def _tables() -> Any:
    from stemjourney.store._tables import TABLES

    return TABLES


def _views() -> dict[str, tuple[list[str], list[str]]]:
    """Each view's columns and the tables (or views) it reads, from the schema itself."""
    import re
    import sqlite3

    from stemjourney.store._schema import STATEMENTS, expected_objects

    conn = sqlite3.connect(":memory:")
    try:
        for sql in STATEMENTS:
            conn.execute(sql)
        found = {}
        for name, (kind, sql) in expected_objects().items():
            if kind != "view":
                continue
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
            found[name] = (columns, list(dict.fromkeys(re.findall(_READS, sql, re.I))))
        return found
    finally:
        conn.close()


def _units(protocol: Protocol) -> str:
    from stemjourney.clinical._instruments import INSTRUMENTS

    parts = []
    for code in INSTRUMENTS:
        i = INSTRUMENTS[code]
        parts.append(f"{code} {i.low:g}-{i.high:g} {i.unit}")
    return "units by instrument: " + ", ".join(parts)


def _unit_case(column: str) -> str:
    from stemjourney.clinical._instruments import INSTRUMENTS

    whens = " ".join(f"WHEN '{c}' THEN '{INSTRUMENTS[c].unit}'" for c in INSTRUMENTS)
    return f"CASE {column} {whens} END"


def _pain_instruments() -> list[str]:
    from stemjourney.clinical._instruments import PAIN_INSTRUMENTS

    return sorted(PAIN_INSTRUMENTS)


_IN_FORCE = "NOT EXISTS (SELECT 1 FROM records AS n WHERE n.journey_id = {t}.journey_id AND n.amends = {t}.version)"  # noqa: E501


def _responder_sql(protocol: Protocol, rule: ResponderRule, label: str) -> str:
    from stemjourney.clinical._instruments import INSTRUMENTS

    instrument = INSTRUMENTS[rule.instrument]
    better = "x.value - b.baseline" if instrument.higher_is_better else "b.baseline - x.value"
    room = "(100.0 - b.baseline)" if instrument.higher_is_better else "b.baseline"
    tests = []
    if rule.min_points is not None:
        tests.append(f"{better} >= {rule.min_points:g}")
    if rule.min_percent is not None:
        tests.append(f"{room} > 0 AND ({better}) * 100.0 / {room} >= {rule.min_percent:g}")
    joined = (" AND " if rule.combine == "all" else " OR ").join(f"({t})" for t in tests)
    days = protocol.baseline_lookback.days
    return f"""WITH shots AS (
    SELECT r.journey_id, r.cycle, min(r.occurred_at) AS at FROM records AS r
    WHERE r.kind = 'injection' AND {_IN_FORCE.format(t="r")}
    GROUP BY r.journey_id, r.cycle
), scores AS (
    SELECT journey_id, version, value, measured_at FROM observations_in_force
    WHERE instrument = '{rule.instrument}'
), base AS (
    SELECT s.journey_id, s.cycle, (
        SELECT o.value FROM scores AS o WHERE o.journey_id = s.journey_id
          AND o.measured_at < s.at AND o.measured_at >= datetime(s.at, '-{days} days')
        ORDER BY o.measured_at DESC, o.version DESC LIMIT 1) AS baseline
    FROM shots AS s
), visit AS (
    SELECT journey_id, cycle, value FROM (
        SELECT v.journey_id, v.cycle, o.value, row_number() OVER (
            PARTITION BY v.journey_id, v.cycle
            ORDER BY abs(julianday(substr(o.measured_at, 1, 10)) - julianday(v.due)),
                     o.measured_at, o.version) AS rank
        FROM schedule AS v JOIN scores AS o ON o.journey_id = v.journey_id
          AND substr(o.measured_at, 1, 10) BETWEEN v.opens AND v.closes
        WHERE v.time_point = '{label}')
    WHERE rank = 1
)
SELECT j.condition, j.site, j.cell_source, x.cycle, count(*) AS journeys,
       sum(CASE WHEN {joined} THEN 1 ELSE 0 END) AS responders,
       round(100.0 * sum(CASE WHEN {joined} THEN 1 ELSE 0 END) / count(*), 1) AS responder_pct
FROM visit AS x JOIN base AS b ON b.journey_id = x.journey_id AND b.cycle = x.cycle
JOIN journeys AS j ON j.id = x.journey_id
WHERE x.value IS NOT NULL AND b.baseline IS NOT NULL
GROUP BY j.condition, j.site, j.cell_source, x.cycle
ORDER BY j.condition, j.site, j.cell_source, x.cycle"""


def queries(protocol: Protocol) -> dict[str, dict[str, Any]]:
    """The canned queries, built from ``protocol`` and the instrument registry."""
    six = next((v for v in protocol.schedule if v.months == 6 and v.weeks == 0), None)
    label = "6m" if six is None else six.label
    rule = protocol.responder_rules[0]
    pain = ", ".join(f"'{c}'" for c in _pain_instruments())
    return {
        "overdue_this_week": {
            "title": "Overdue or due this week",
            "description": "Follow-up visits overdue today, or in their window and due within "
            "seven days (UTC days), soonest first.",
            "sql": "SELECT patient_id, journey_id, site, side, cycle, time_point, due, opens, "
            "closes, status FROM visits_due WHERE status = 'overdue' OR (status = 'in_window' "
            "AND due <= date('now', '+7 days')) ORDER BY due, journey_id",
        },
        "pain_over_time": {
            "title": "Pain over time for one patient",
            "description": "Every pain score in force of one patient's journeys, with its unit.",
            "sql": "SELECT o.journey_id, o.cycle, o.stage, o.measured_at, o.instrument, o.value, "
            f"{_unit_case('o.instrument')} AS unit FROM observations_in_force AS o "
            "JOIN journeys AS j ON j.id = o.journey_id WHERE j.patient_id = :patient_id "
            f"AND o.instrument IN ({pain}) ORDER BY o.journey_id, o.measured_at, o.version",
        },
        "adverse_events_by_grade": {
            "title": "Adverse events by grade",
            "description": "Adverse events in force by CTCAE grade: how many, how many "
            "serious, in how many journeys.",
            "sql": "SELECT json_extract(r.payload, '$.grade') AS grade, count(*) AS events, "
            "sum(json_extract(r.payload, '$.serious')) AS serious, "
            "count(DISTINCT r.journey_id) AS journeys FROM records AS r "
            f"WHERE r.kind = 'adverse_event' AND {_IN_FORCE.format(t='r')} "
            "GROUP BY grade ORDER BY grade",
        },
        "responders_at_6_months": {
            "title": f"Responders at {label}",
            "description": f"Journeys scored on {rule.instrument} at the {label} visit with a "
            f"baseline, and the share that are '{rule.label}' by the protocol's rule, per "
            "condition, site, cell source and cycle (as the cohort report counts them).",
            "sql": _responder_sql(protocol, rule, label),
        },
    }


def metadata(database: str, protocol: Protocol) -> dict[str, Any]:
    """Datasette metadata for a store file that Datasette names ``database``."""
    from stemjourney.store._schema import VIEW_COLUMNS, VIEW_DESCRIPTIONS

    tables: dict[str, Any] = {}
    described: dict[str, dict[str, str]] = {}
    for table in _tables():
        columns = {c.name: c.description for c in table.columns}
        described[table.name] = columns
        entry: dict[str, Any] = {"description": table.description, "columns": columns}
        tables[table.name] = entry
    tables["observations"]["columns"]["value"] += f" ({_units(protocol)})"
    for name, (names, reads) in _views().items():
        sources = [described[t] for t in reads if t in described]
        view_columns = {}
        for column in names:
            text = next((s[column] for s in sources if column in s), None)
            text = VIEW_COLUMNS.get(column, text)
            if text is None:
                text = next((d[column] for d in described.values() if column in d), "")
            view_columns[column] = text
        tables[name] = {"description": VIEW_DESCRIPTIONS.get(name, ""), "columns": view_columns}
    return {
        "title": "stemjourney clinic",
        "description": "Regenerative-medicine treatment journeys, append-only and "
        "hash-chained. Times are UTC text; history tables refuse UPDATE and DELETE.",
        "databases": {
            database: {
                "description": "A stemjourney store (schema from store/_tables.py).",
                "tables": tables,
                "queries": queries(protocol),
            }
        },
    }


@cli.command("datasette-metadata")
@click.option(
    "--database-name",
    help="The database's name in Datasette (the file name without .db by default).",
)
@click.option(
    "--output",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to this file (owner-only), not to the terminal.",
)
@pass_state
def datasette_metadata(state: State, database_name: str | None, out_path: str | None) -> None:
    """Write Datasette metadata (JSON) for --db: descriptions, units, views, canned queries.

    Then: datasette serve DB -m metadata.json. The canned queries are 'overdue this
    week', 'pain over time for one patient', 'adverse events by grade' and 'responders
    at 6 months'.
    """
    from stemjourney.clinical._protocol import DEFAULT_PROTOCOL

    name = database_name or os.path.splitext(os.path.basename(state.db))[0]
    with output(out_path) as out:
        out.write(json.dumps(metadata(name, DEFAULT_PROTOCOL), indent=2) + "\n")
