"""Journey values with injections and scores, built directly for the outcomes tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import stemjourney as sj

DAY0 = datetime(2025, 1, 6, 9, tzinfo=UTC)


def shot(at: datetime) -> sj.Injection:
    """An injection into the left knee at ``at``."""
    return sj.Injection(
        injected_at=at,
        site="knee",
        side="left",
        guidance="ultrasound",
        volume_ml=5,
        product_id="prod-1",
    )


def journey(
    injections: Sequence[datetime] = (),
    scores: Sequence[sj.Score] = (),
    *,
    jid: str = "j-1",
    pid: str = "p-1",
    stage: str = "follow_up",
) -> sj.Journey:
    """A journey in ``stage`` holding one injection per cycle and ``scores``.

    Each record's cycle is the number of injections on or before it, at least 1.
    """
    opening = sj.TransitionEntry(
        journey_id=jid,
        seq=1,
        source=None,
        target=stage,
        cycle=max(1, len(injections)),
        occurred_at=DAY0,
        recorded_at=DAY0,
        actor="dr.a",
        version=1,
    )
    records: list[sj.Score | sj.Injection] = [*map(shot, injections), *scores]
    entries = []
    for n, record in enumerate(records, start=2):
        cycle = max(1, sum(1 for at in injections if at <= record.occurred_at))
        entries.append(
            sj.RecordEntry(
                journey_id=jid,
                record=record,
                cycle=cycle,
                stage=stage,
                stage_seq=1,
                recorded_at=DAY0,
                actor="nurse.b",
                version=n,
            )
        )
    return sj.Journey(
        jid,
        pid,
        "osteoarthritis of knee",
        "knee",
        sj.Side("left"),
        sj.CellSource("bone_marrow"),
        history=(opening,),
        records=tuple(entries),
    )
