"""Shared pieces of the store's tests: a clock, a ready journey, a snapshot of the file."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import stemjourney as sj
from stemjourney import Pipeline, Stage, Transition
from stemjourney.guards import NONE
from stemjourney.store import Store, open_store

DAY0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
NOW = DAY0 + timedelta(days=400)

TABLES = (
    "store_meta",
    "patients",
    "patient_erasures",
    "journeys",
    "audit_log",
    "transitions",
    "records",
    "observations",
)

S = Stage
PING_PONG = Pipeline(
    transitions=[
        Transition(S.CONSULTATION, S.HARVEST, NONE),
        Transition(S.HARVEST, S.PROCESSING, NONE),
        Transition(S.PROCESSING, S.HARVEST, NONE),
        Transition(S.CONSULTATION, S.WITHDRAWN, NONE, needs_reason=True),
        Transition(S.HARVEST, S.WITHDRAWN, NONE, needs_reason=True),
        Transition(S.PROCESSING, S.WITHDRAWN, NONE, needs_reason=True),
    ],
    initial=S.CONSULTATION,
    outcomes={S.WITHDRAWN},
)
"""A pipeline with no guards whose journeys can move back and forth for ever."""

NEXT = {"consultation": "harvest", "harvest": "processing", "processing": "harvest"}
"""The next stage of a ping-pong journey."""


def clock() -> Any:
    """A ManualClock standing well after every clinical time the tests use."""
    from stemjourney.testing import ManualClock  # imported here: writers skip Hypothesis

    return ManualClock(NOW)


def add_journey(store: Store, patient_id: str = "p-1", journey_id: str = "j-1") -> sj.Journey:
    """Add a patient (if needed) and open a left-knee journey for them."""
    if store.db.execute("SELECT 1 FROM patients WHERE id = ?", [patient_id]).fetchone() is None:
        store.add_patient(f"mrn-{patient_id}", actor="desk", patient_id=patient_id)
    return store.open_journey(
        patient_id,
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="dr.lee",
        occurred_at=DAY0,
        journey_id=journey_id,
    )


def ready_for_harvest(store: Store, journey_id: str = "j-1") -> sj.Journey:
    """Record a baseline, an eligibility assessment and a consent on the journey."""
    store.record(journey_id, sj.nrs(7, DAY0), actor="nurse.kim")
    store.record(journey_id, sj.EligibilityAssessment(assessed_at=DAY0), actor="dr.lee")
    return store.record(journey_id, sj.Consent(signed_at=DAY0, form_version="v3"), actor="dr.lee")


def through_injection(store: Store, journey_id: str = "j-1") -> sj.Journey:
    """Take a ready journey through harvest, processing and injection to recovery."""
    t = DAY0 + timedelta(days=7)
    store.move(journey_id, "harvest", actor="dr.lee", occurred_at=t)
    store.record(
        journey_id,
        sj.Harvest(
            harvested_at=t,
            source="bone_marrow",
            body_site="posterior iliac crest",
            side="left",
            volume_ml=60,
        ),
        actor="dr.lee",
    )
    store.move(journey_id, "processing", actor="lab", occurred_at=t + timedelta(hours=1))
    store.record(
        journey_id,
        sj.Processing(
            product_id="bmac-1",
            started_at=t + timedelta(hours=1),
            finished_at=t + timedelta(hours=2),
            method="centrifugation",
            manipulation="minimal",
            final_volume_ml=6,
            tnc_per_ml=2.5e7,
            viability_pct=92,
            released=True,
            doses=2,
        ),
        actor="lab",
    )
    store.move(journey_id, "injection", actor="dr.lee", occurred_at=t + timedelta(hours=3))
    store.record(
        journey_id,
        sj.Injection(
            injected_at=t + timedelta(hours=3),
            site="knee",
            side="left",
            guidance="ultrasound",
            volume_ml=6,
            product_id="bmac-1",
        ),
        actor="dr.lee",
    )
    return store.move(journey_id, "recovery", actor="dr.lee", occurred_at=t + timedelta(hours=4))


def snapshot(store: Store | sqlite3.Connection) -> tuple[Any, ...]:
    """Row counts of every table and the last audit hash: equal when nothing was written."""
    if isinstance(store, sqlite3.Connection):
        conn: Any = store
    else:  # the store's own connection on either backend
        conn = store.db if store.backend.name == "postgresql" else store.db.conn
    counts = tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    last = conn.execute(
        "SELECT hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (*counts, None if last is None else tuple(last))


def quick_check(store: Store) -> str:
    """SQLite's quick_check result ('ok' when the file is sound)."""
    return str(store.db.execute("PRAGMA quick_check").fetchone()[0])


def open_file(path: Any, **kw: Any) -> Store:
    """Open a store on ``path`` with the test clock unless one is given."""
    kw.setdefault("clock", clock())
    return open_store(path, **kw)


CTX = multiprocessing.get_context("forkserver")
"""Writer processes start from a forkserver that has the library imported."""
CTX.set_forkserver_preload(["stemjourney", "stemjourney.store", "_store_writer"])


def fast_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the forkserver preload the writer, and keep children from re-running pytest.

    The forkserver finds ``_store_writer`` through ``PYTHONPATH`` (Python 3.11 does not
    pass it ``sys.path`` before preloading). Started as a script, pytest's ``__main__``
    has a ``__file__`` that every child would import again; the writers do not need it.
    """
    here = str(Path(__file__).parent)
    paths = [here, os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
