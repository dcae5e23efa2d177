"""Writer processes for the crash and concurrency tests, started from a forkserver.

:func:`crash` writes continuously to three ping-pong journeys (moves, scores, bulk
imports, patients) and appends ``KIND ID VERSION`` to an acks file after each write
returns, until killed. :func:`race` tries version-checked moves on two shared
journeys and reports what happened.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import stemjourney as sj
from _store_helpers import NEXT, PING_PONG
from stemjourney.exceptions import BusyError, ConflictError, NotFoundError
from stemjourney.store import Store, open_store

JOURNEYS = ("j-0", "j-1", "j-2")


def now() -> datetime:
    """The system time, aware."""
    return datetime.now(UTC)


def setup(store: Store) -> None:
    """Add the shared patient and journeys unless an earlier run did."""
    if store.patient_by_external_id("mrn-shared") is None:
        store.add_patient("mrn-shared", actor="w", patient_id="p-w", idempotency_key="p-w")
    for jid in JOURNEYS:
        try:
            store.journey(jid)
        except NotFoundError:
            store.open_journey(
                "p-w",
                condition="c",
                site="knee",
                side="left",
                cell_source="bone_marrow",
                actor="w",
                occurred_at=now(),
                journey_id=jid,
                idempotency_key=f"open-{jid}",
            )


def crash(path: str, seed: int, acks_path: str, ready: Any, schema: str = "stemjourney") -> None:
    """Write until killed, acknowledging every write that returned (one line each)."""
    rng = random.Random(seed)
    with (
        open_store(path, pipeline=PING_PONG, schema=schema) as store,
        open(acks_path, "a", buffering=1) as acks,
    ):
        setup(store)
        ready.set()
        for n in range(1_000_000):
            jid = rng.choice(JOURNEYS)
            pick = rng.random()
            if pick < 0.5:
                j = store.journey(jid)
                j = store.move(
                    jid, NEXT[j.stage], actor="w", occurred_at=now(), expected_version=j.version
                )
                acks.write(f"move {jid} {j.version}\n")
            elif pick < 0.85:
                j = store.record(jid, sj.nrs(rng.randint(0, 10), now()), actor="w")
                acks.write(f"score {jid} {j.version}\n")
            elif pick < 0.95:
                rows = [(jid, "nrs", rng.randint(0, 10), now()) for _ in range(rng.randint(2, 60))]
                store.import_scores(rows, actor="w", batch_size=25)
                acks.write(f"import {jid} {store.journey(jid).version}\n")
            else:
                p = store.add_patient(f"mrn-{seed}-{n}", actor="w")
                acks.write(f"patient {p.id} 0\n")


def race(
    path: str, seed: int, moves: int, start: Any, results: Any, schema: str = "stemjourney"
) -> None:
    """Try ``moves`` version-checked moves on two shared journeys; report the counts."""
    rng = random.Random(seed)
    done = conflicts = busy = 0
    with open_store(path, pipeline=PING_PONG, busy_timeout=30, schema=schema) as store:
        start.wait()
        for _ in range(moves):
            jid = rng.choice(JOURNEYS[:2])
            j = store.journey(jid)
            try:
                store.move(
                    jid,
                    NEXT[j.stage],
                    actor=f"w{seed}",
                    occurred_at=now(),
                    expected_version=j.version,
                )
                done += 1
            except ConflictError:
                conflicts += 1
            except BusyError:
                busy += 1
    results.put({"moves": done, "conflicts": conflicts, "busy": busy})


LONG = "j-long"
"""The shared journey with a long history of :func:`race_long`."""


def race_long(
    path: str, seed: int, writes: int, start: Any, results: Any, schema: str = "stemjourney"
) -> None:
    """Land ``writes`` writes on one long journey, each a move or a score made against the
    version just read, retried after a conflict; report what happened."""
    rng = random.Random(seed)
    done = conflicts = busy = 0
    actor = f"w{seed}"
    with open_store(path, pipeline=PING_PONG, busy_timeout=30, schema=schema) as store:
        read = "SELECT stage, version FROM journeys WHERE id = ?"
        start.wait()
        while done < writes:
            stage, version = store.db.execute(read, [LONG]).fetchone()
            try:
                if rng.random() < 0.5:
                    store.move(
                        LONG, NEXT[stage], actor=actor, occurred_at=now(), expected_version=version
                    )
                else:
                    score = sj.nrs(rng.randint(0, 10), now())
                    store.record(LONG, score, actor=actor, expected_version=version)
                done += 1
            except ConflictError:
                conflicts += 1
            except BusyError:
                busy += 1
    results.put({"writes": done, "conflicts": conflicts, "busy": busy})
