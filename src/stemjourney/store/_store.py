"""The durable store: the engine's journeys persisted in SQLite or PostgreSQL, one
transaction per change."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from stemjourney._files import create_private, make_private
from stemjourney.clinical import _validation as v
from stemjourney.clinical._codec import time_text
from stemjourney.clinical._patient import Patient, normalise_external_id
from stemjourney.clinical._protocol import Protocol
from stemjourney.clinical._records import Record
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import (
    ConflictError,
    NotFoundError,
    ReadOnlyError,
    StorageError,
    ValidationError,
)
from stemjourney.journey._engine import Engine
from stemjourney.journey._history import HistoryFacts
from stemjourney.journey._journey import Journey, ReasonRecord
from stemjourney.journey._pipeline import Pipeline
from stemjourney.outcomes import OutcomeFacts
from stemjourney.store import _operations as ops
from stemjourney.store import _queries as q
from stemjourney.store import _writes as w
from stemjourney.store._chain import Chain, Head
from stemjourney.store._db import Backend, Db
from stemjourney.store._facts import iter_facts
from stemjourney.store._import import import_scores
from stemjourney.store._schedule import Scheduled, iter_scheduled
from stemjourney.store._shards import FactShard, shards_of
from stemjourney.store._sqlite import SQLITE
from stemjourney.store._state import Copies, Stamp, amendable, stamp, trim, working

if TYPE_CHECKING:
    import sqlite3

    from stemjourney.store._verify import VerifyReport

__all__ = ["Store"]

_ACTOR_MAX = 200


def _new_id() -> str:
    import uuid  # on first use: uuid loads platform, which reading commands never need

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
    """Patients and journeys persisted in one SQLite file or a PostgreSQL schema,
    append-only and hash-chained.

    Open one with :func:`~stemjourney.store.open_store`. Every write is one
    transaction (``BEGIN IMMEDIATE`` on SQLite) holding the rows, the audit entry and
    the journey's version bump; an error rolls all of it back. Writes that change a
    journey take ``expected_version`` (the version the caller read; a
    :class:`~stemjourney.exceptions.ConflictError` when another writer got there
    first) and ``idempotency_key`` (a resubmitted write with the same key is not
    applied twice; the journey or patient is returned as it stands).

    A write reads only what the engine needs (the journey's working copy, see
    :attr:`Journey.complete <stemjourney.Journey.complete>`), so it costs the same at
    any history length; it returns that working copy. :meth:`journey` reads the whole
    history. ``db`` is, for read-only browsing, an ``sqlite_utils.Database`` over the
    same connection on SQLite, the connection itself on PostgreSQL.
    """

    def __init__(
        self,
        conn: Db,
        engine: Engine,
        *,
        owns: bool,
        chain: Chain | None = None,
        writable: bool = True,
        db: Any = None,
        backend: Backend = SQLITE,
    ) -> None:
        self._conn = conn
        self.engine = engine
        self._owns = owns
        self._chain = Chain() if chain is None else chain
        self._writable = writable
        self._pid = os.getpid()
        self._copies = Copies()
        self._db: Any = db
        self.backend = backend

    # -- plumbing ---------------------------------------------------------------------

    @property
    def db(self) -> Any:
        """An ``sqlite_utils.Database`` over the store's connection (made on first use) on
        SQLite; the store's connection on PostgreSQL (``execute(sql, params)``, ``?``
        parameters)."""
        if self._db is None:
            if self.backend.name != "sqlite":
                return self._conn
            import sqlite_utils

            self._db = sqlite_utils.Database(cast("sqlite3.Connection", self._conn))
        return self._db

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
        if self._owns and os.getpid() == self._pid:
            self._conn.close()

    def _here(self) -> None:
        if os.getpid() != self._pid:
            raise StorageError(
                "this store was opened in another process (before a fork); a connection "
                "cannot be shared across processes; allowed: open_store() in this process"
            )

    @contextmanager
    def _write(self, operation: str) -> Iterator[w.Context]:
        self._here()
        if not self._writable:
            raise ValidationError(
                "key",
                "is missing: the file's hash chain is keyed, so writes need its key",
                "open_store(..., key=...) with the key the file was created with",
            )
        conn, backend = self._conn, self.backend
        with backend.errors(operation):
            if conn.in_transaction:
                raise StorageError(
                    f"{operation}: the connection already has a transaction open; "
                    "commit or roll it back first"
                )
            backend.begin(conn)
            try:
                yield w.Context(conn, self._chain, self.engine, backend, self._copies)
                backend.commit(conn)
            except BaseException:
                backend.rollback(conn)
                raise
        self._seal(conn, operation, backend.after_commit)  # committed: nothing to undo

    @contextmanager
    def _read(self, operation: str) -> Iterator[Db]:
        self._here()
        with self.backend.errors(operation):
            yield self._conn

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
        with self._write("add_patient") as ctx:
            earlier = ops.earlier_write(ctx, key, ("patient_added",))
            if earlier is not None:
                found = q.patient(ctx.conn, str(earlier[0]))
                if found is None:
                    raise NotFoundError("patient", earlier[0])
                return found
            ops.add_patient(ctx, patient, actor, key)
        return patient

    def patient(self, patient_id: str) -> Patient:
        """The patient with ``patient_id``; :class:`NotFoundError` when there is none."""
        with self._read("patient") as conn:
            found = q.patient(conn, patient_id)
        if found is None:
            raise NotFoundError("patient", patient_id)
        return found

    def patient_by_external_id(self, external_id: str) -> Patient | None:
        """The patient with this external id (normalised as on insert), or ``None``."""
        key = normalise_external_id(external_id)
        with self._read("patient_by_external_id") as conn:
            return q.patient_by_key(conn, key)

    def delete_patient(self, patient_id: str, *, actor: str) -> None:
        """Delete a patient added by mistake; refused once the patient has any journey.

        The audit log keeps the deletion (and the digest of the row, no name). Raises
        :class:`~stemjourney.exceptions.IntegrityError` when the patient has history
        (void the journeys instead), :class:`NotFoundError` when unknown.
        """
        actor = v.clean_text("actor", actor, max_length=_ACTOR_MAX)
        with self._write("delete_patient") as ctx:
            ops.delete_patient(ctx, patient_id, actor)

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
        with self._write("open_journey") as ctx:
            earlier = ops.earlier_write(ctx, key, ("journey_opened",))
            if earlier is not None:
                return ops.working_or_missing(ctx, str(earlier[1]))
            ops.open_journey(ctx, journey, key)
        return journey

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
        with self._write("move") as ctx:
            if ops.earlier_write(ctx, key, ("move",), journey_id) is not None:
                return ops.working_or_missing(ctx, journey_id)
            journey = ops.working_or_missing(ctx, journey_id)
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
            kept = ops.apply(ctx, journey, after, entry, key)
        return self._kept(kept, after)

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
        with self._write("record") as ctx:
            if ops.earlier_write(ctx, key, (action,), journey_id) is not None:
                return ops.working_or_missing(ctx, journey_id)
            journey = ops.working_or_missing(ctx, journey_id)
            _expected(journey, expected_version)
            after, entry = self.engine.record(journey, record, actor=actor)
            kept = ops.apply(ctx, journey, after, entry, key)
        return self._kept(kept, after)

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
        with self._write("amend") as ctx:
            if ops.earlier_write(ctx, key, ("amendment",), journey_id) is not None:
                return ops.working_or_missing(ctx, journey_id)
            journey = ops.working_or_missing(ctx, journey_id)
            _expected(journey, expected_version)
            if isinstance(version, int) and not isinstance(version, bool):
                journey = amendable(ctx.conn, journey, version)
            after, entry = self.engine.amend(journey, version, record, actor=actor, reason=reason)
            kept = ops.apply(ctx, journey, after, entry, key)
        return self._kept(kept, after)

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
        added = [0, 0]
        with self._write("import_history") as ctx:
            for patient in patients:
                if not isinstance(patient, Patient):
                    raise ValidationError("patients", "holds a non-patient", "Patient values")
                ops.add_patient(ctx, patient, actor)
                added[0] += 1
            for journey in journeys:
                if not isinstance(journey, Journey):
                    raise ValidationError("journeys", "holds a non-journey", "Journey values")
                if not journey.complete:
                    raise ValidationError(
                        "journeys", "holds a working copy", "whole journeys (Store.journey())"
                    )
                ops.import_journey(ctx, journey)
                added[1] += 1
            w.append(
                ctx,
                ctx.ids()[0],
                action="history_imported",
                recorded_at=ctx.now(),
                actor=actor,
                reason=f"{added[0]} patient(s), {added[1]} journey(s)",
            )
        return added[0], added[1]

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
            with self._write("import_scores") as ctx:
                total += import_scores(ctx, batch, actor, total)
        return total

    # -- journeys: reads --------------------------------------------------------------

    def journey(self, journey_id: str) -> Journey:
        """The journey with its whole history and records; :class:`NotFoundError` if unknown."""
        with self._read("journey") as conn:
            row = q.journey_row(conn, journey_id)
            found = None if row is None else q.load(conn, [row])[0]
        if found is None:
            raise NotFoundError("journey", journey_id)
        self._copies.keep(stamp(row), trim(found))
        return found

    def _kept(self, row_stamp: Stamp, after: Journey) -> Journey:
        """``after``'s working copy, kept under the stamp its committed write left."""
        copy = trim(after)
        self._copies.keep(row_stamp, copy)
        return copy

    def _working(self, journey_id: str) -> Journey:
        with self._read("journey") as conn:
            found = working(conn, journey_id, self._copies)
        if found is None:
            raise NotFoundError("journey", journey_id)
        return found

    def allowed(self, journey_id: str, *, at: datetime | None = None) -> tuple[str, ...]:
        """The stages the journey may move to at ``at`` (now by default), given a reason
        where one is needed (see ``Engine.allowed``)."""
        return self.engine.allowed(self._working(journey_id), at=at)

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
            self._working(journey_id),
            target,
            at=at,
            reason=reason,
            override_reason=override_reason,
        )

    def journeys_of(self, patient_id: str) -> list[Journey]:
        """The journeys of one patient, by id; :class:`NotFoundError` for an unknown patient."""
        self.patient(patient_id)
        with self._read("journeys_of") as conn:
            return q.journeys_of(conn, patient_id)

    def journeys_in(self, stage: str) -> list[Journey]:
        """The journeys now in ``stage`` (a stage or outcome of the pipeline), by id."""
        stages = self.engine.pipeline.stages
        if stage not in stages:
            raise ValidationError("stage", "is not a stage of the pipeline", ", ".join(stages))
        with self._read("journeys_in") as conn:
            return q.journeys_in(conn, stage)

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
        with self._read("iter_patients") as conn:
            yield from q.iter_patients(conn, size)

    def iter_journeys(self, batch_size: int = 500) -> Iterator[Journey]:
        """Every journey, by id, read ``batch_size`` at a time (never all at once)."""
        size = v.integer("batch_size", batch_size, low=1)
        with self._read("iter_journeys") as conn:
            yield from q.iter_journeys(conn, size)

    def iter_histories(self, batch_size: int = 500) -> Iterator[tuple[Patient, list[HistoryFacts]]]:
        """Every patient by id with the history facts of their journeys by id, in one pass.

        What :func:`~stemjourney.export.write_fhir_bundle` streams: patients are read
        ``batch_size`` at a time with their journeys' moves and records, as plain
        values (records as the JSON they are stored as), never all at once.
        """
        size = v.integer("batch_size", batch_size, low=1)
        with self._read("iter_histories") as conn:
            yield from q.iter_histories(conn, size)

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
        :class:`~stemjourney.outcomes.OutcomeFacts`: its identity and stage, the
        injections and adverse events in force, and its scores in force (only
        ``instrument``'s when given; none without ``with_scores``; with
        ``journey_ids``, only those measured at or after ``scores_since`` when
        given); without ``with_records``, no injections or adverse events. The
        cohort report and the work-list read these instead of whole journeys.
        """
        size = v.integer("batch_size", batch_size, low=1)
        since = None if scores_since is None else time_text(v.aware("scores_since", scores_since))
        with self._read("iter_outcome_facts") as conn:
            yield from iter_facts(
                conn,
                instrument=instrument,
                stages=stages,
                journey_ids=journey_ids,
                with_scores=with_scores,
                batch_size=size,
                scores_since=since,
                with_records=with_records,
            )

    def outcome_fact_shards(self, parts: int) -> tuple[FactShard, ...]:
        """The store's journeys as ``parts`` ranges of ids (about as many journeys each) whose
        outcome facts another process can read from the same file, read-only: how the
        cohort report folds a large store on several cores. Empty when no other process
        can open the store: in memory, on a caller's connection (it may be an encrypted
        build) or on PostgreSQL."""
        count = v.integer("parts", parts, low=1)
        path = self._file("outcome_fact_shards")
        if path is None:
            return ()
        with self._read("outcome_fact_shards") as conn:
            return shards_of(cast("sqlite3.Connection", conn), path, count)

    def iter_scheduled(
        self, first: date, last: date, *, pending_on: date | None = None
    ) -> Iterator[Scheduled]:
        """The planned follow-up visits of journeys not ended whose window meets the days
        ``first`` to ``last`` (UTC), by due day: what the work-list reads. With
        ``pending_on``, only the visits not completed on that day (as
        :func:`stemjourney.outcomes.visit_status` says)."""
        with self._read("iter_scheduled") as conn:
            yield from iter_scheduled(conn, first, last, pending_on)

    # -- integrity --------------------------------------------------------------------

    def head(self) -> Head:
        """The hash chain's head: the latest entry's sequence number and hash.

        Keep it outside the file (printed, logged, stored by the host): ``verify(
        expected_head=head)`` then proves the file still holds that entry and every
        entry before it, unchanged, so a cut tail or a rewritten history shows.
        """
        with self._read("head") as conn:
            if self._writable:  # without a keyed chain's key, sealing would break it
                self._seal(conn, "head")
            seq, digest = w.last_entry(conn, self.backend.inline)
        return Head(seq, digest.hex())

    def _seal(self, conn: Any, operation: str, seal: Any = None) -> None:
        """Seal the entries waiting for their place in the chain (PostgreSQL; ``seal`` is the
        backend's step, its ``seal`` unless given), unless this connection may not write (a
        standby, a read-only role): the next writer does."""
        try:
            with self.backend.errors(operation):
                (seal or self.backend.seal)(conn, self._chain)
        except ReadOnlyError:
            pass

    def verify(
        self,
        *,
        expected_head: Head | str | None = None,
        replay: bool = False,
        workers: int | None = None,
    ) -> VerifyReport:
        """Check everything the store promises; never raises on a damaged file.

        The schema (every table, index, trigger and view present and unaltered),
        SQLite's own checks, every row against its audit entry's hash, the chain from
        the first entry to the head, each journey's summary row against its history,
        and with ``expected_head`` that the chain still extends a head kept outside
        the file (see :meth:`head`). With ``replay`` every journey is also replayed
        through the engine, checking each move's guards again. Returns a
        :class:`VerifyReport`, empty (falsy) when all is well.

        ``workers`` is how many processes check the journeys of a store in an SQLite file
        at once, each a range of them read from the file read-only; ``None`` leaves it
        to the library: the cores this process may use (up to 4) for a store of 20,000
        journeys or more, one process below. The problems found are the same whatever
        the number (an audit entry that rows of two ranges name is listed after the other
        problems of the later range).
        Raises :class:`~stemjourney.exceptions.ValidationError` when ``workers`` is not a
        positive integer.
        """
        from stemjourney.store._verify import verify

        self._here()
        v.processes("workers", workers)
        head = Head.parse(expected_head) if isinstance(expected_head, str) else expected_head
        if self._writable:
            self._seal(self._conn, "verify")
        return verify(
            self._conn,
            self.backend,
            self.engine,
            self._chain,
            expected_head=head,
            replay=replay,
            path=self._file("verify"),
            workers=workers,
        )

    def _file(self, operation: str) -> str | None:
        """The SQLite file this store opened (another process can open it too), if any."""
        self._here()
        if not self._owns or self.backend.name != "sqlite":
            return None
        with self.backend.errors(operation):
            found = self._conn.execute("PRAGMA database_list").fetchone()[2]
        return str(found) if found else None

    def backup(self, path: str | os.PathLike[str]) -> None:
        """Copy the database to ``path`` with SQLite's backup API (an owner-only file, also
        when ``path`` existed). On PostgreSQL, back up with its own tools (``pg_dump``,
        base backups) or copy the store into a file with ``stemjourney copy``."""
        self._here()
        if self.backend.name != "sqlite":
            raise StorageError(
                "backup: a PostgreSQL store is backed up with PostgreSQL's own tools "
                "(pg_dump, pg_basebackup); allowed: stemjourney copy to an SQLite file"
            )
        import sqlite3

        create_private(path)
        make_private(path)
        with self.backend.errors("backup"):
            target = sqlite3.connect(os.path.realpath(path))
            try:
                cast("sqlite3.Connection", self._conn).backup(target)
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
