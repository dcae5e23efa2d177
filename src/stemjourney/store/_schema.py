"""The store's schema: tables (from :mod:`._tables`), indexes, triggers and views.

A new file gets the current schema at once. History tables (the audit log, moves,
records, scores, erasures, settings) refuse UPDATE and DELETE through triggers; a
journey's identity never changes and its version only grows. ``verify()`` checks
that every object here is present and unaltered (:func:`expected_objects`).
Version 1 files are upgraded on open (see :mod:`._upgrade`).
"""

from __future__ import annotations

from stemjourney.store._tables import (
    AUDIT,
    JOURNEYS,
    OBSERVATIONS,
    PATIENT_ERASURES,
    PATIENTS,
    RECORDS,
    SCHEDULE,
    STORE_META,
    TABLES,
    TRANSITIONS,
)

__all__ = [
    "APPLICATION_ID",
    "APPEND_ONLY",
    "SCHEMA_VERSION",
    "STATEMENTS",
    "VIEW_COLUMNS",
    "VIEW_DESCRIPTIONS",
    "expected_objects",
]

APPLICATION_ID = 0x534A4E59
"""``PRAGMA application_id`` of a stemjourney file ("SJNY")."""

SCHEMA_VERSION = 2
"""The schema version this stemjourney writes (``PRAGMA user_version``)."""

APPEND_ONLY = (
    STORE_META.name,
    AUDIT.name,
    PATIENT_ERASURES.name,
    TRANSITIONS.name,
    RECORDS.name,
    OBSERVATIONS.name,
)
"""The tables whose rows are never changed or removed."""


def _append_only(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, '{table} is append-only: {verb} is refused'); END"
        for verb in ("UPDATE", "DELETE")
    ]


_INDEXES = [
    f"CREATE UNIQUE INDEX audit_log_idempotency_key ON {AUDIT.name} (idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
    f"CREATE INDEX audit_log_unsealed ON {AUDIT.name} (id) WHERE seq IS NULL",
    f"CREATE INDEX journeys_by_patient ON {JOURNEYS.name} (patient_id)",
    f"CREATE INDEX journeys_by_stage ON {JOURNEYS.name} (stage)",
    f"CREATE INDEX records_by_kind ON {RECORDS.name} (journey_id, kind, version)",
    f"CREATE INDEX records_amended ON {RECORDS.name} (journey_id, amends) WHERE amends IS NOT NULL",
    f"CREATE INDEX observations_by_cycle ON {OBSERVATIONS.name} "
    "(journey_id, cycle, instrument, stage_seq, measured_at)",
    f"CREATE INDEX observations_amended ON {OBSERVATIONS.name} (journey_id, amends) "
    "WHERE amends IS NOT NULL",
    f"CREATE INDEX observations_by_time ON {OBSERVATIONS.name} (journey_id, measured_at)",
    f"CREATE INDEX schedule_by_window ON {SCHEDULE.name} (closes, opens)",
]

_TRIGGERS = [
    *[sql for table in APPEND_ONLY for sql in _append_only(table)],
    f"""CREATE TRIGGER journeys_no_delete BEFORE DELETE ON {JOURNEYS.name} BEGIN
        SELECT RAISE(ABORT, 'journeys are never deleted: void the journey instead'); END""",
    f"""CREATE TRIGGER journeys_identity_fixed BEFORE UPDATE OF
        id, patient_id, condition, site, side, cell_source, opened_at ON {JOURNEYS.name}
        WHEN NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id
          OR NEW.condition IS NOT OLD.condition OR NEW.site IS NOT OLD.site
          OR NEW.side IS NOT OLD.side OR NEW.cell_source IS NOT OLD.cell_source
          OR NEW.opened_at IS NOT OLD.opened_at
        BEGIN SELECT RAISE(ABORT, 'a journey''s identity columns cannot change'); END""",
    f"""CREATE TRIGGER journeys_version_grows BEFORE UPDATE ON {JOURNEYS.name}
        WHEN NEW.version <= OLD.version
        BEGIN SELECT RAISE(ABORT, 'a journey''s version only grows'); END""",
    f"""CREATE TRIGGER patients_no_update BEFORE UPDATE ON {PATIENTS.name} BEGIN
        SELECT RAISE(ABORT, 'patients are never changed'); END""",
    f"""CREATE TRIGGER patients_keep_history BEFORE DELETE ON {PATIENTS.name}
        WHEN EXISTS (SELECT 1 FROM {JOURNEYS.name} WHERE patient_id = OLD.id)
        BEGIN SELECT RAISE(ABORT, 'a patient with journeys cannot be deleted'); END""",
]

_VIEWS = [
    f"""CREATE VIEW journey_current_stage AS
        SELECT id AS journey_id, patient_id, stage, cycle, version, moved_at AS entered_at,
               opened_at, closed_at
        FROM {JOURNEYS.name}""",
    f"""CREATE VIEW observations_in_force AS
        SELECT o.journey_id, o.version, o.instrument, o.value, o.answers, o.measured_at,
               o.cycle, t.target AS stage, o.stage_seq, a.recorded_at, a.actor, o.amends,
               a.reason
        FROM {OBSERVATIONS.name} AS o
        JOIN {TRANSITIONS.name} AS t ON t.journey_id = o.journey_id AND t.seq = o.stage_seq
        JOIN {AUDIT.name} AS a ON a.id = o.audit_id
        WHERE NOT EXISTS (
            SELECT 1 FROM {OBSERVATIONS.name} AS n WHERE n.journey_id = o.journey_id
            AND n.amends = o.version)""",
    """CREATE VIEW journey_latest_score AS
        SELECT journey_id, instrument, value, measured_at, version FROM (
            SELECT journey_id, instrument, value, measured_at, version,
                   row_number() OVER (PARTITION BY journey_id, instrument
                                      ORDER BY measured_at DESC, version DESC) AS rank
            FROM observations_in_force) AS ranked
        WHERE rank = 1""",
    f"""CREATE VIEW amendments AS
        SELECT r.journey_id, r.version, r.amends AS amends_version, r.kind, a.reason, a.actor,
               a.recorded_at
        FROM {RECORDS.name} AS r JOIN {AUDIT.name} AS a ON a.id = r.audit_id
        WHERE r.amends IS NOT NULL
        UNION ALL
        SELECT o.journey_id, o.version, o.amends, 'score', a.reason, a.actor, a.recorded_at
        FROM {OBSERVATIONS.name} AS o JOIN {AUDIT.name} AS a ON a.id = o.audit_id
        WHERE o.amends IS NOT NULL""",
    f"""CREATE VIEW visits_due AS
        SELECT s.journey_id, j.patient_id, j.condition, j.site, j.side, s.cycle, s.time_point,
               s.due, s.opens, s.closes, s.first_score_on,
               CASE WHEN s.first_score_on IS NOT NULL
                         AND s.first_score_on <= date('now') THEN 'completed'
                    WHEN date('now') < s.opens THEN 'upcoming'
                    WHEN date('now') <= s.due THEN 'in_window'
                    WHEN date('now') <= s.closes THEN 'overdue'
                    ELSE 'missed' END AS status
        FROM {SCHEDULE.name} AS s JOIN {JOURNEYS.name} AS j ON j.id = s.journey_id
        WHERE j.closed_at IS NULL""",
    f"""CREATE VIEW transition_trail AS
        SELECT t.journey_id, t.seq, t.source AS from_stage, t.target AS to_stage, t.cycle,
               a.occurred_at, a.recorded_at, a.actor, a.reason, t.late_reason,
               t.override_reason, t.reason_record, a.id AS audit_id, a.seq AS audit_seq,
               hex(a.hash) AS hash
        FROM {TRANSITIONS.name} AS t JOIN {AUDIT.name} AS a ON a.id = t.audit_id""",
]

VIEW_DESCRIPTIONS = {
    "journey_current_stage": "Each journey's stage now, with when it entered it.",
    "observations_in_force": "The scores in force (an amended score is replaced by its "
    "amendment), with the stage they were recorded in, who recorded them and when.",
    "journey_latest_score": "Each journey's latest score on each instrument.",
    "amendments": "Every correction of a record or score, with its reason.",
    "transition_trail": "Every move with its audit entry (actor, recorded time, reasons, hash).",
    "visits_due": "Each planned follow-up visit of a journey not ended, with its status "
    "today (UTC).",
}
"""What each view is for (its other columns are those of the tables it reads)."""

VIEW_COLUMNS = {
    "status": "the visit's status today (UTC): completed, upcoming, in_window, overdue or missed",
    "entered_at": "when it entered the current stage (clinical time, UTC)",
    "amends_version": "the version of the entry it corrects",
    "from_stage": "the stage left (empty for the opening)",
    "to_stage": "the stage entered",
    "audit_seq": "the audit entry's place in the hash chain",
    "hash": "the audit entry's chain hash, as hex",
}
"""The columns views compute, which no table holds."""

STATEMENTS: tuple[str, ...] = (
    *(t.create() for t in TABLES),
    *_INDEXES,
    *_TRIGGERS,
    *_VIEWS,
)
"""What a new file is created with, in order."""


def expected_objects() -> dict[str, tuple[str, str]]:
    """Every named schema object by name: (type, the SQL SQLite keeps for it)."""
    found: dict[str, tuple[str, str]] = {}
    for sql in STATEMENTS:
        words = sql.split(None, 4)
        kind = words[1].lower()
        if kind == "unique":
            kind, name = "index", words[3]
        else:
            name = words[2]
        found[name] = (kind, sql)
    return found
