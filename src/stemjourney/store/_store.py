"""The durable store: the engine's journeys persisted in SQLite, one transaction per change."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from types import TracebackType
from typing import Any

import attrs

from stemjourney.clinical import _validation as v
from stemjourney.clinical._codec import time_text
from stemjourney.clinical._patient import Patient, normalise_external_id
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import Record
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import (
    ConflictError,
    DuplicateError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from stemjourney.journey._engine import Engine
from stemjourney.journey._facts import HistoryFacts
from stemjourney.journey._journey import Journey, ReasonRecord, RecordEntry, TransitionEntry
from stemjourney.journey._pipeline import Pipeline
from stemjourney.outcomes import OutcomeFacts
from stemjourney.store import _queries as q
from stemjourney.store import _rows as r
from stemjourney.store import _writes as w
from stemjourney.store._connect import create_private
from stemjourney.store._errors import map_errors
from stemjourney.store._facts import iter_facts
from stemjourney.store._import import import_scores
from stemjourney.store._verify import VerifyReport, verify

__all__ = ["Store"]

_CACHE_SIZE = 512
_ACTOR_MAX = 200


def _new_id() -> str:
    return uuid.uuid4().hex


def _key(value: str | None) -> str | None:
    return None if value is None else v.clean_text("idempotency_key", value, max_length=200)


def _expected(journey: Journey, expected_version: int | None) -> None:
    if expected_version is None:
        return
    expected = v.integer("expected_version", expected_version, low=1)
    if expected != journey.version:
        raise ConflictError(journey.id, expected, journey.version)


class Store:
    """Patients and journeys persisted in one SQLite file, append-only and hash-chained.

    Open one with :func:`~stemjourney.store.open_store`. Every write is one
    ``BEGIN IMMEDIATE`` transaction holding the rows, the audit entry and the
    journey's version bump; an error rolls all of it back. Writes that change a
    journey take ``expected_version`` (the version the caller read; a
    :class:`~stemjourney.exceptions.ConflictError` when another writer got there
    first) and ``idempotency_key`` (a resubmitted write with the same key is not
    applied twice; the journey or patient is returned as it stands).

    ``db`` is the ``sqlite_utils.Database`` over the same connection, for read-only
    browsing.
    """

    def __init__(self, conn: sqlite3.Connection, db: Any, engine: Engine, *, owns: bool) -> None:
        self._conn = conn
        self.db = db
        self.engine = engine
        self._owns = owns
        self._cache: OrderedDict[str, Journey] = OrderedDict()

    # -- plumbing ---------------------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline the store's journeys follow (its engine's)."""
        return self.engine.pipeline

    @property
    def protocol(self) -> Protocol:
        """The protocol the store's engine applies."""
        return self.engine.protocol

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection if the store opened it (a caller's connection stays open)."""
        self._cache.clear()
        if self._owns:
            self._conn.close()

    @contextmanager
    def _write(self, operation: str) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        with map_errors(operation):
            if conn.in_transaction:
                raise StorageError(
                    f"{operation}: the connection already has a transaction open; "
                    "commit or roll it back first"
                )
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                raise

    def _remember(self, journey: Journey) -> Journey:
        self._cache[journey.id] = journey
        self._cache.move_to_end(journey.id)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return journey

    def _current(self, conn: sqlite3.Connection, journey_id: str) -> Journey:
        row = conn.execute(q.SQL["journey"], (journey_id,)).fetchone()
        if row is None:
            raise NotFoundError("journey", journey_id)
        cached = self._cache.get(journey_id)
        if cached is not None and cached.version == row[6]:
            return cached
        return self._remember(q.load(conn, [row])[0])

    def _replayed(
        self,
        conn: sqlite3.Connection,
        key: str | None,
        actions: Sequence[str],
        journey_id: str | None = None,
    ) -> tuple[str | None, str | None] | None:
        """The (patient, journey) ids of an earlier write with ``key``, or ``None``."""
        if key is None:
            return None
        row = conn.execute(
            "SELECT action, patient_id, journey_id FROM audit_log WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        if row[0] not in actions or (journey_id is not None and row[2] != journey_id):
            raise DuplicateError(
                f"idempotency_key was already used for a {row[0]} on "
                f"{row[2] or row[1]}; allowed: a key not used for another write"
            )
        return row[1], row[2]

    # -- patients ---------------------------------------------------------------------

    def add_patient(
        self,
        external_id: str,
        *,
        actor: str,
        display_name: str | None = None,
        birth_date: date | None = None,
        patient_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Patient:
        """Add a patient; ``external_id`` must be unique after normalising case, spaces, Unicode.

        Raises :class:`~stemjourney.exceptions.DuplicateError` when the id or the
        external id is taken, :class:`~stemjourney.exceptions.ValidationError` for a
        bad field.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        key = _key(idempotency_key)
        patient = Patient(
            id=_new_id() if patient_id is None else patient_id,
            external_id=external_id,
            display_name=display_name,
            birth_date=birth_date,
        )
        with self._write("add_patient") as conn:
            earlier = self._replayed(conn, key, ("patient_added",))
            if earlier is not None:
                found = q.patient(conn, str(earlier[0]))
                if found is None:
                    raise NotFoundError("patient", earlier[0])
                return found
            self._insert_patient(conn, patient, time_text(self.engine.clock.now()), actor, key)
        return patient

    def patient(self, patient_id: str) -> Patient:
        """The patient with ``patient_id``; :class:`NotFoundError` when there is none."""
        with map_errors("patient"):
            found = q.patient(self._conn, patient_id)
        if found is None:
            raise NotFoundError("patient", patient_id)
        return found

    def patient_by_external_id(self, external_id: str) -> Patient | None:
        """The patient with this external id (normalised as on insert), or ``None``."""
        key = normalise_external_id(external_id)
        with map_errors("patient_by_external_id"):
            return q.patient_by_key(self._conn, key)

    def delete_patient(self, patient_id: str, *, actor: str) -> None:
        """Delete a patient added by mistake; refused once the patient has any journey.

        Raises :class:`~stemjourney.exceptions.IntegrityError` when the patient has
        history (void the journeys instead), :class:`NotFoundError` when unknown.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        with self._write("delete_patient") as conn:
            if q.patient(conn, patient_id) is None:
                raise NotFoundError("patient", patient_id)
            count = conn.execute(
                "SELECT count(*) FROM journeys WHERE patient_id = ?", (patient_id,)
            ).fetchone()[0]
            if count:
                raise IntegrityError(
                    f"patient {patient_id} has {count} journey(s); a patient with history "
                    "cannot be deleted; allowed: void the journeys, keeping the record"
                )
            w.append_audit(
                conn,
                action="patient_deleted",
                recorded_at=time_text(self.engine.clock.now()),
                actor=actor,
                payload={},
                patient_id=patient_id,
            )
            conn.execute("DELETE FROM patients WHERE id = ?", (patient_id,))

    # -- journeys: writes -------------------------------------------------------------

    def open_journey(
        self,
        patient_id: str,
        *,
        condition: str,
        site: str,
        side: str,
        cell_source: str,
        actor: str,
        occurred_at: datetime,
        journey_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Journey:
        """Open a journey for a patient at the pipeline's first stage (see ``Engine.open``)."""
        key = _key(idempotency_key)
        journey = self.engine.open(
            _new_id() if journey_id is None else journey_id,
            patient_id=patient_id,
            condition=condition,
            site=site,
            side=side,
            cell_source=cell_source,
            actor=actor,
            occurred_at=occurred_at,
        )
        with self._write("open_journey") as conn:
            earlier = self._replayed(conn, key, ("journey_opened",))
            if earlier is not None:
                return self._current(conn, str(earlier[1]))
            if q.patient(conn, journey.patient_id) is None:
                raise NotFoundError("patient", journey.patient_id)
            if conn.execute("SELECT 1 FROM journeys WHERE id = ?", (journey.id,)).fetchone():
                raise DuplicateError(f"journey_id {journey.id} is taken; allowed: a new id")
            opening = journey.history[0]
            audit_id = w.append_audit(
                conn,
                action="journey_opened",
                recorded_at=time_text(opening.recorded_at),
                actor=opening.actor,
                payload=w.opening_payload(journey),
                patient_id=journey.patient_id,
                journey_id=journey.id,
                version=1,
                key=key,
            )
            w.insert_journey(conn, journey, audit_id)
        return self._remember(journey)

    def _apply(
        self,
        conn: sqlite3.Connection,
        before: Journey,
        after: Journey,
        entry: TransitionEntry | RecordEntry,
        action: str,
        key: str | None,
    ) -> None:
        recorded = time_text(entry.recorded_at)
        audit_id = w.append_audit(
            conn,
            action=action,
            recorded_at=recorded,
            actor=entry.actor,
            payload=w.entry_payload(entry),
            patient_id=after.patient_id,
            journey_id=after.id,
            version=entry.version,
            key=key,
        )
        w.insert_entry(conn, entry, audit_id)
        closed = None
        if isinstance(entry, TransitionEntry) and self.engine.pipeline.is_outcome(entry.target):
            closed = time_text(entry.occurred_at)
        w.update_journey(conn, after, before.version, closed, recorded)

    def move(
        self,
        journey_id: str,
        target: str,
        *,
        actor: str,
        occurred_at: datetime,
        reason: str | ReasonRecord | None = None,
        override_reason: str | None = None,
        late_reason: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Journey:
        """Move a journey to ``target`` (see ``Engine.move``) and return it as it now stands.

        Raises what ``Engine.move`` raises, :class:`ConflictError` when the journey is
        no longer at ``expected_version``, :class:`NotFoundError` for an unknown id.
        """
        key = _key(idempotency_key)
        with self._write("move") as conn:
            if self._replayed(conn, key, ("move",), journey_id) is not None:
                return self._current(conn, journey_id)
            journey = self._current(conn, journey_id)
            _expected(journey, expected_version)
            after, entry = self.engine.move(
                journey,
                target,
                actor=actor,
                occurred_at=occurred_at,
                reason=reason,
                override_reason=override_reason,
                late_reason=late_reason,
            )
            self._apply(conn, journey, after, entry, "move", key)
        return self._remember(after)

    def record(
        self,
        journey_id: str,
        record: Record | Score,
        *,
        actor: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Journey:
        """Add a clinical record or score to a journey (see ``Engine.record``)."""
        key = _key(idempotency_key)
        action = "score" if isinstance(record, Score) else "record"
        with self._write("record") as conn:
            if self._replayed(conn, key, (action,), journey_id) is not None:
                return self._current(conn, journey_id)
            journey = self._current(conn, journey_id)
            _expected(journey, expected_version)
            after, entry = self.engine.record(journey, record, actor=actor)
            self._apply(conn, journey, after, entry, action, key)
        return self._remember(after)

    def amend(
        self,
        journey_id: str,
        version: int,
        record: Record | Score,
        *,
        actor: str,
        reason: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Journey:
        """Correct the record entry at ``version`` with ``record``, saying why (see
        ``Engine.amend``).

        The original stays in the history; the amendment replaces it in force. A
        resubmitted amendment with the same ``idempotency_key`` is not applied twice.
        """
        key = _key(idempotency_key)
        with self._write("amend") as conn:
            if self._replayed(conn, key, ("amendment",), journey_id) is not None:
                return self._current(conn, journey_id)
            journey = self._current(conn, journey_id)
            _expected(journey, expected_version)
            after, entry = self.engine.amend(journey, version, record, actor=actor, reason=reason)
            self._apply(conn, journey, after, entry, "amendment", key)
        return self._remember(after)

    def import_history(
        self, patients: Iterable[Patient], journeys: Iterable[Journey], *, actor: str
    ) -> tuple[int, int]:
        """Write whole patients and journeys, as another store or an export holds them, in one
        transaction; return how many patients and journeys were added.

        Each journey keeps its history as it was: every move and record with its clinical
        and recorded times, actor, version, reasons and amendments. Each is checked first
        by replaying it through the engine (the guards, the time order, the amendments) and
        must belong to a patient given here or already in the store. Nothing is written
        when any patient or journey is refused: :class:`DuplicateError` for an id or
        external id already taken, :class:`NotFoundError` for an unknown patient, and what
        ``Engine.replay`` raises for a history the engine would refuse. The import itself
        is an audit entry of its own, by ``actor``.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        added_patients = 0
        added_journeys = 0
        with self._write("import_history") as conn:
            for patient in patients:
                if not isinstance(patient, Patient):
                    raise ValidationError("patients", "holds a non-patient", "Patient values")
                self._insert_patient(conn, patient, time_text(self.engine.clock.now()), actor)
                added_patients += 1
            for journey in journeys:
                if not isinstance(journey, Journey):
                    raise ValidationError("journeys", "holds a non-journey", "Journey values")
                self._insert_history(conn, journey)
                added_journeys += 1
            w.append_audit(
                conn,
                action="history_imported",
                recorded_at=time_text(self.engine.clock.now()),
                actor=actor,
                payload={"patients": added_patients, "journeys": added_journeys},
            )
        self._cache.clear()
        return added_patients, added_journeys

    def _insert_patient(
        self,
        conn: sqlite3.Connection,
        patient: Patient,
        now: str,
        actor: str,
        key: str | None = None,
    ) -> None:
        if q.patient(conn, patient.id) is not None:
            raise DuplicateError(f"patient_id {patient.id} is taken; allowed: a new id")
        other = q.patient_by_key(conn, patient.external_key)
        if other is not None:
            raise DuplicateError(
                f"external_id is already the external id of patient {other.id} (compared "
                "ignoring case, surrounding spaces and Unicode form); allowed: a new one"
            )
        row = r.patient_row(patient, now, actor)
        w.append_audit(
            conn,
            action="patient_added",
            recorded_at=now,
            actor=actor,
            payload={"patient": w.digest(row)},
            patient_id=patient.id,
            key=key,
        )
        conn.execute(
            "INSERT INTO patients (id, external_id, external_key, display_name, birth_date, "
            "added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    def _insert_history(self, conn: sqlite3.Connection, journey: Journey) -> None:
        if q.patient(conn, journey.patient_id) is None:
            raise NotFoundError("patient", journey.patient_id)
        if conn.execute("SELECT 1 FROM journeys WHERE id = ?", (journey.id,)).fetchone():
            raise DuplicateError(f"journey_id {journey.id} is taken; allowed: a new id")
        self.engine.replay(journey)
        opening = journey.history[0]
        first = attrs.evolve(journey, history=journey.history[:1], records=())
        audit_id = w.append_audit(
            conn,
            action="journey_opened",
            recorded_at=time_text(opening.recorded_at),
            actor=opening.actor,
            payload=w.opening_payload(first),
            patient_id=journey.patient_id,
            journey_id=journey.id,
            version=1,
        )
        w.insert_journey(conn, first, audit_id)
        events: list[TransitionEntry | RecordEntry] = sorted(
            (*journey.history[1:], *journey.records), key=lambda e: e.version
        )
        current = first
        for entry in events:
            if isinstance(entry, TransitionEntry):
                after = current.with_move(entry)
                action = "move"
            else:
                after = current.with_record(entry)
                is_score = isinstance(entry.record, Score)
                action = (
                    "amendment" if entry.amends is not None else "score" if is_score else "record"
                )
            self._apply(conn, current, after, entry, action, None)
            current = after

    def import_scores(
        self, rows: Iterable[Sequence[Any]], *, actor: str, batch_size: int = 20_000
    ) -> int:
        """Add many scores fast: rows of (journey_id, instrument, value, measured_at[, answers]).

        Rows are checked as plain tuples and written ``batch_size`` per transaction,
        each transaction with one audit entry per journey it touches. A bad row
        raises with its row number; the batches before it stay written, its own
        batch is rolled back. Returns how many scores were written.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        size = v.integer("batch_size", batch_size, low=1)
        total = 0
        for batch in _batches(rows, size):
            with self._write("import_scores") as conn:
                total += import_scores(conn, self.engine, batch, actor, total)
        return total

    # -- journeys: reads --------------------------------------------------------------

    def journey(self, journey_id: str) -> Journey:
        """The journey with its whole history and records; :class:`NotFoundError` if unknown."""
        with map_errors("journey"):
            return self._current(self._conn, journey_id)

    def allowed(self, journey_id: str, *, at: datetime | None = None) -> tuple[str, ...]:
        """The stages the journey may move to at ``at`` (now by default), given a reason
        where one is needed (see ``Engine.allowed``)."""
        return self.engine.allowed(self.journey(journey_id), at=at)

    def why_not(
        self,
        journey_id: str,
        target: str,
        *,
        at: datetime | None = None,
        reason: str | ReasonRecord | None = None,
        override_reason: str | None = None,
    ) -> list[str]:
        """What the move to ``target`` lacks; empty when it may go ahead (see ``Engine``)."""
        return self.engine.why_not(
            self.journey(journey_id),
            target,
            at=at,
            reason=reason,
            override_reason=override_reason,
        )

    def journeys_of(self, patient_id: str) -> list[Journey]:
        """The journeys of one patient, by id; :class:`NotFoundError` for an unknown patient."""
        self.patient(patient_id)
        with map_errors("journeys_of"):
            return q.journeys_of(self._conn, patient_id)

    def journeys_in(self, stage: str) -> list[Journey]:
        """The journeys now in ``stage`` (a stage or outcome of the pipeline), by id."""
        stages = self.engine.pipeline.stages
        if stage not in stages:
            raise ValidationError("stage", "is not a stage of the pipeline", ", ".join(stages))
        with map_errors("journeys_in"):
            return q.journeys_in(self._conn, stage)

    def journey_as_of(self, journey_id: str, moment: datetime) -> Journey:
        """The journey as its record stood at ``moment`` (when entries were recorded).

        This is the auditor's question: what did the record say then. Raises
        :class:`NotFoundError` when the journey did not exist yet.
        """
        when = v.aware("moment", moment)
        found = q.journey_as_of(self.journey(journey_id), when)
        if found is None:
            raise NotFoundError("journey (at that moment)", journey_id)
        return found

    def iter_patients(self, batch_size: int = 500) -> Iterator[Patient]:
        """Every patient, by id, read ``batch_size`` at a time (never all at once)."""
        size = v.integer("batch_size", batch_size, low=1)
        with map_errors("iter_patients"):
            yield from q.iter_patients(self._conn, size)

    def iter_journeys(self, batch_size: int = 500) -> Iterator[Journey]:
        """Every journey, by id, read ``batch_size`` at a time (never all at once)."""
        size = v.integer("batch_size", batch_size, low=1)
        with map_errors("iter_journeys"):
            yield from q.iter_journeys(self._conn, size)

    def iter_histories(self, batch_size: int = 500) -> Iterator[tuple[Patient, list[HistoryFacts]]]:
        """Every patient by id with the history facts of their journeys by id, in one pass.

        What :func:`~stemjourney.export.write_fhir_bundle` streams: patients are read
        ``batch_size`` at a time with their journeys' moves and records, as plain
        values (records as the JSON they are stored as), never all at once.
        """
        size = v.integer("batch_size", batch_size, low=1)
        with map_errors("iter_histories"):
            yield from q.iter_histories(self._conn, size)

    def iter_outcome_facts(
        self,
        *,
        instrument: str | None = None,
        stages: Sequence[str] | None = None,
        journey_ids: Iterable[str] | None = None,
        with_scores: bool = True,
        scores_since: datetime | None = None,
        with_records: bool = True,
        batch_size: int = 1000,
    ) -> Iterator[OutcomeFacts]:
        """What the outcome reports need of each journey, as plain rows, by id.

        Every journey (or those in ``stages``, or those of ``journey_ids``) as an
        :class:`~stemjourney.store.OutcomeFacts`: its identity and stage, the
        injections and adverse events in force, and its scores in force (only
        ``instrument``'s when given; none without ``with_scores``; with
        ``journey_ids``, only those measured at or after ``scores_since`` when
        given); without ``with_records``, no injections or adverse events. The
        cohort report and the work-list read these instead of whole journeys.
        """
        size = v.integer("batch_size", batch_size, low=1)
        since = None if scores_since is None else time_text(v.aware("scores_since", scores_since))
        with map_errors("iter_outcome_facts"):
            yield from iter_facts(
                self._conn,
                instrument=instrument,
                stages=stages,
                journey_ids=journey_ids,
                with_scores=with_scores,
                batch_size=size,
                scores_since=since,
                with_records=with_records,
            )

    # -- integrity --------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Check the hash chain, replay every journey, run SQLite's own checks.

        Returns a :class:`VerifyReport`; it is empty (falsy) when all is well.
        """
        return verify(self._conn, self.engine)

    def backup(self, path: str | os.PathLike[str]) -> None:
        """Copy the database to ``path`` with SQLite's backup API (owner-only file)."""
        create_private(path)
        with map_errors("backup"):
            target = sqlite3.connect(path)
            try:
                self._conn.backup(target)
            finally:
                target.close()


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
