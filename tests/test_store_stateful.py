"""A Hypothesis state machine drives the real store beside the pure engine as its model.

Every rule makes the same write on both (refused and stale ones included) and checks
they agree; closing and reopening the file is a rule too. After every step the
stored journeys equal the model's and SQLite's ``quick_check`` passes. The same machine
runs on PostgreSQL, each example in a schema of its own.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import stemjourney as sj
from _postgres import Cluster
from _store_helpers import DAY0, quick_check, snapshot
from stemjourney import Engine, Journey, normalise_external_id
from stemjourney.exceptions import ConflictError, DuplicateError, StemJourneyError
from stemjourney.store import Store, open_store
from stemjourney.store._state import trim, working
from stemjourney.testing import ManualClock

EXTERNAL_IDS = ["MRN-1", " mrn-1", "MRN-2", "\uff2d\uff32\uff2e-2", "mrn-3"]


def _record(kind: str, at: Any, value: int) -> Any:
    """A record of ``kind`` made at ``at`` that the default guards accept."""
    if kind == "nrs":
        return sj.nrs(value, at)
    if kind == "eligibility":
        return sj.EligibilityAssessment(assessed_at=at)
    if kind == "consent":
        return sj.Consent(signed_at=at, form_version="v3")
    if kind == "harvest":
        return sj.Harvest(
            harvested_at=at,
            source="bone_marrow",
            body_site="iliac crest",
            side="left",
            volume_ml=60,
        )
    if kind == "processing":
        return sj.Processing(
            product_id="bmac-1",
            started_at=at,
            finished_at=at,
            method="centrifugation",
            manipulation="minimal",
            final_volume_ml=6,
            tnc_per_ml=2.5e7,
            viability_pct=50 + value * 5,
            released=True,
            doses=3,
        )
    return sj.Injection(
        injected_at=at,
        site="knee",
        side="left",
        guidance="ultrasound",
        volume_ml=6,
        product_id="bmac-1",
    )


class StoreBesideModel(RuleBasedStateMachine):
    """The store and a dict of journeys moved by the engine, kept in step."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.path = Path(self.dir) / "stateful.db"
        self.clock = ManualClock(DAY0)
        self.store = self.open()
        self.engine = Engine(clock=self.clock)
        self.model: dict[str, Journey] = {}
        self.patients: dict[str, str] = {}

    def open(self) -> Store:
        """Open the machine's store (again)."""
        return open_store(self.path, clock=self.clock)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def both(self, jid: str, store_write: Any, model_write: Any) -> None:
        """Make one write on both; a refusal must be the same error, with nothing written."""
        try:
            expected = model_write(self.model[jid])[0]
        except StemJourneyError as error:
            before = snapshot(self.store)
            with pytest.raises(type(error)):
                store_write()
            assert snapshot(self.store) == before
            return
        written = store_write()
        # A write returns its working copy: the model's journey cut to what a write reads.
        assert written == trim(expected)
        assert (written.stage, written.cycle, written.version) == (
            expected.stage,
            expected.cycle,
            expected.version,
        )
        assert self.store.journey(jid) == expected
        self.model[jid] = expected

    @rule(external_id=st.sampled_from(EXTERNAL_IDS))
    def add_patient(self, external_id: str) -> None:
        key = normalise_external_id(external_id)
        if key in self.patients:
            before = snapshot(self.store)
            with pytest.raises(DuplicateError):
                self.store.add_patient(external_id, actor="desk")
            assert snapshot(self.store) == before
        else:
            self.patients[key] = self.store.add_patient(external_id, actor="desk").id

    @precondition(lambda self: self.patients)
    @rule(data=st.data())
    def open_journey(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from(sorted(self.patients.values())))
        jid = f"j-{len(self.model)}"
        fields: dict[str, Any] = {
            "condition": "osteoarthritis of knee",
            "site": "knee",
            "side": "left",
            "cell_source": "bone_marrow",
            "actor": "dr.lee",
            "occurred_at": self.clock.now(),
        }
        opened = self.store.open_journey(pid, journey_id=jid, **fields)
        assert opened == self.engine.open(jid, patient_id=pid, **fields)
        self.model[jid] = opened

    @precondition(lambda self: self.model)
    @rule(
        data=st.data(),
        kind=st.sampled_from(
            ["nrs", "eligibility", "consent", "harvest", "processing", "injection"]
        ),
        value=st.integers(0, 10),
        ago=st.integers(-2, 48),
    )
    def record(self, data: st.DataObject, kind: str, value: int, ago: int) -> None:
        jid = data.draw(st.sampled_from(sorted(self.model)))
        rec = _record(kind, self.clock.now() - timedelta(hours=ago), value)
        self.both(
            jid,
            lambda: self.store.record(jid, rec, actor="nurse"),
            lambda j: self.engine.record(j, rec, actor="nurse"),
        )

    @precondition(lambda self: self.model)
    @rule(
        data=st.data(),
        stage=st.sampled_from(list(sj.DEFAULT_PIPELINE.stages)),
        reason=st.sampled_from([None, "clinical decision"]),
        override=st.sampled_from([None, "pain settled early"]),
        ago=st.sampled_from([0, 0, 0, 30, -30]),
    )
    def move(
        self,
        data: st.DataObject,
        stage: str,
        reason: str | None,
        override: str | None,
        ago: int,
    ) -> None:
        jid = data.draw(st.sampled_from(sorted(self.model)))
        at = self.clock.now() - timedelta(minutes=ago)
        kw = {"actor": "dr.lee", "occurred_at": at, "reason": reason, "override_reason": override}
        self.both(
            jid,
            lambda: self.store.move(jid, stage, expected_version=self.model[jid].version, **kw),
            lambda j: self.engine.move(j, stage, **kw),
        )

    @precondition(lambda self: any(j.version > 1 for j in self.model.values()))
    @rule(data=st.data())
    def stale_write(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(k for k, j in self.model.items() if j.version > 1)))
        before = snapshot(self.store)
        with pytest.raises(ConflictError):
            self.store.record(
                jid,
                sj.nrs(5, self.clock.now()),
                actor="nurse",
                expected_version=self.model[jid].version - 1,
            )
        assert snapshot(self.store) == before

    @precondition(lambda self: any(j.records for j in self.model.values()))
    @rule(data=st.data(), value=st.integers(0, 10), reason=st.sampled_from([None, "typo"]))
    def amend(self, data: st.DataObject, value: int, reason: str | None) -> None:
        jid = data.draw(st.sampled_from(sorted(k for k, j in self.model.items() if j.records)))
        entry = data.draw(st.sampled_from(self.model[jid].records))
        rec = _record(
            entry.record.kind if entry.record.kind != "score" else "nrs",
            entry.record.occurred_at,
            value,
        )
        self.both(
            jid,
            lambda: self.store.amend(jid, entry.version, rec, actor="nurse", reason=reason),  # type: ignore[arg-type]
            lambda j: self.engine.record(
                j, rec, actor="nurse", amends=entry.version, reason=reason
            ),
        )

    @precondition(lambda self: self.model)
    @rule(data=st.data(), value=st.integers(0, 10))
    def another_workstation_writes(self, data: st.DataObject, value: int) -> None:
        """A second store on the same file writes; the first one's kept copy is then stale."""
        jid = data.draw(st.sampled_from(sorted(self.model)))
        rec = sj.nrs(value, self.clock.now())
        other = self.open()
        try:
            self.both(
                jid,
                lambda: other.record(jid, rec, actor="nurse"),
                lambda j: self.engine.record(j, rec, actor="nurse"),
            )
        finally:
            other.close()

    @rule(hours=st.integers(0, 24 * 10))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self.open()

    @invariant()
    def store_agrees_with_model(self) -> None:
        stored = {j.id: j for j in self.store.iter_journeys(batch_size=2)}
        assert stored == self.model
        if self.store.backend.name == "sqlite":
            assert quick_check(self.store) == "ok"

    @invariant()
    def kept_copies_are_fresh_reads(self) -> None:
        """A working copy the store kept equals the one a fresh read gives, when it is used."""
        conn = self.store._conn
        for jid, journey in self.model.items():
            fresh = working(conn, jid)
            assert fresh == trim(journey)
            assert working(conn, jid, self.store._copies) == fresh

    @invariant()
    def patients_agree(self) -> None:
        for key, pid in self.patients.items():
            found = self.store.patient_by_external_id(key)
            assert found is not None
            assert found.id == pid


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
StoreBesideModel.TestCase.settings = SETTINGS
test_store_beside_model = StoreBesideModel.TestCase


class StoreOnPostgresBesideModel(StoreBesideModel):
    """The same machine with the store in a fresh schema of the tests' PostgreSQL cluster."""

    dsn = ""
    schemas = itertools.count(1)

    def open(self) -> Store:
        if not hasattr(self, "schema"):
            self.schema = f"stateful_{next(self.schemas)}"
        return open_store(self.dsn, clock=self.clock, schema=self.schema)

    def teardown(self) -> None:
        self.store.db.execute(f"DROP SCHEMA {self.schema} CASCADE")
        super().teardown()


def test_store_on_postgresql_beside_model(pg_cluster: Cluster) -> None:
    """The state machine on PostgreSQL: the same rules, the same agreement."""
    StoreOnPostgresBesideModel.dsn = pg_cluster.dsn()
    run_state_machine_as_test(StoreOnPostgresBesideModel, settings=SETTINGS)
