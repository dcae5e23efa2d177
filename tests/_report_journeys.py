"""Journeys built with the in-memory engine for the report, renderer and CLI tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import stemjourney as sj

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
DAY0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


class FixedClock:
    """A clock stopped at ``NOW``."""

    def now(self) -> datetime:
        """The fixed time."""
        return NOW


ENGINE = sj.Engine(clock=FixedClock())


def consulted(
    jid: str = "j-1",
    pid: str = "p-1",
    *,
    condition: str = "osteoarthritis of knee",
    site: str = "knee",
    side: str = "left",
    source: str = "bone_marrow",
    baseline: float | None = 7,
    instrument: str = "nrs",
    at: datetime = DAY0,
) -> sj.Journey:
    """A journey at consultation with eligibility, consent and (optionally) a baseline."""
    j = ENGINE.open(
        jid,
        patient_id=pid,
        condition=condition,
        site=site,
        side=side,
        cell_source=source,
        actor="dr.a",
        occurred_at=at,
    )
    if baseline is not None:
        score = sj.Score(instrument=instrument, value=baseline, measured_at=at)
        j, _ = ENGINE.record(j, score, actor="nurse.b")
    j, _ = ENGINE.record(j, sj.EligibilityAssessment(assessed_at=at), actor="dr.a")
    j, _ = ENGINE.record(j, sj.Consent(signed_at=at, form_version="v1"), actor="dr.a")
    return j


def inject(j: sj.Journey, at: datetime, *, doses: int = 1, product: str = "") -> sj.Journey:
    """Harvest, process and inject at ``at`` (harvest a day before), then rest to follow-up."""
    pid = product or f"prod-{j.id}-{j.cycle}"
    t = at - timedelta(days=1)
    j, _ = ENGINE.move(j, "harvest", actor="dr.a", occurred_at=t)
    harvest = sj.Harvest(
        harvested_at=t,
        source=j.cell_source,
        body_site="iliac crest",
        side="left",
        volume_ml=60,
    )
    j, _ = ENGINE.record(j, harvest, actor="dr.a")
    j, _ = ENGINE.move(j, "processing", actor="lab", occurred_at=t + timedelta(hours=1))
    lab = sj.Processing(
        product_id=pid,
        started_at=t + timedelta(hours=1),
        finished_at=t + timedelta(hours=2),
        method="centrifugation",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2e7,
        viability_pct=90,
        released=True,
        doses=doses,
    )
    j, _ = ENGINE.record(j, lab, actor="lab")
    return inject_stored(j, at, pid, move_first=True)


def inject_stored(j: sj.Journey, at: datetime, product: str, *, move_first: bool) -> sj.Journey:
    """Move to injection (from processing or follow-up), inject ``product`` and rest.

    From follow-up (a stored dose) the repeat injection needs its own consent first;
    the cycle's baseline is the last follow-up score.
    """
    if j.stage == "follow_up":
        consent = sj.Consent(signed_at=at, form_version="r1", scope="repeat_injection")
        j, _ = ENGINE.record(j, consent, actor="dr.a")
    j, _ = ENGINE.move(j, "injection", actor="dr.a", occurred_at=at)
    shot = sj.Injection(
        injected_at=at,
        site=j.site,
        side=j.side,
        guidance="ultrasound",
        volume_ml=5,
        product_id=product,
    )
    j, _ = ENGINE.record(j, shot, actor="dr.a")
    j, _ = ENGINE.move(j, "recovery", actor="dr.a", occurred_at=at + timedelta(hours=1))
    j, _ = ENGINE.move(j, "follow_up", actor="dr.a", occurred_at=at + timedelta(days=8))
    return j


def scores(
    j: sj.Journey, after: datetime, values: Sequence[tuple[int, float]], instrument: str = "nrs"
) -> sj.Journey:
    """Record (days after ``after``, value) scores."""
    for days, value in values:
        s = sj.Score(instrument=instrument, value=value, measured_at=after + timedelta(days=days))
        j, _ = ENGINE.record(j, s, actor="nurse.b")
    return j


def adverse(j: sj.Journey, at: datetime, *, serious: bool = False, grade: int = 1) -> sj.Journey:
    """Record an adverse event at ``at``."""
    event = sj.AdverseEvent(
        onset_at=at,
        site="knee",
        grade=grade,
        serious=serious,
        relatedness="possible",
        outcome="recovered",
        action_taken="ice",
        description="secret free text",
    )
    j, _ = ENGINE.record(j, event, actor="dr.a")
    return j


def treated(
    jid: str = "j-1",
    pid: str = "p-1",
    *,
    baseline: float = 8,
    follow: Sequence[tuple[int, float]] = ((42, 5), (91, 4)),
    injected: datetime = DAY0 + timedelta(days=14),
    **kwargs: object,
) -> sj.Journey:
    """A journey injected at ``injected`` with baseline and follow-up NRS scores.

    The consultation is on ``DAY0``, or two weeks before the injection when that is
    later (the eligibility assessment unlocks a harvest for 30 days).
    """
    kwargs.setdefault("at", max(DAY0, injected - timedelta(days=14)))
    j = consulted(jid, pid, baseline=baseline, **kwargs)  # type: ignore[arg-type]
    j = inject(j, injected)
    return scores(j, injected, follow)


def to_store(store: object, journey: sj.Journey, *, external_id: str | None = None) -> None:
    """Write ``journey`` (and its patient, when new) into a store, change by change."""
    from stemjourney.exceptions import NotFoundError

    s: Any = store
    try:
        s.patient(journey.patient_id)
    except NotFoundError:
        s.add_patient(
            external_id or f"MRN-{journey.patient_id}", actor="desk", patient_id=journey.patient_id
        )
    opening = journey.history[0]
    s.open_journey(
        journey.patient_id,
        condition=journey.condition,
        site=journey.site,
        side=journey.side.value,
        cell_source=journey.cell_source.value,
        actor=opening.actor,
        occurred_at=opening.occurred_at,
        journey_id=journey.id,
    )
    changes = sorted((*journey.history[1:], *journey.records), key=lambda e: e.version)
    for e in changes:
        if isinstance(e, sj.TransitionEntry):
            s.move(
                journey.id,
                e.target,
                actor=e.actor,
                occurred_at=e.occurred_at,
                reason=e.reason,
                override_reason=e.override_reason,
                late_reason=e.late_reason,
            )
        elif e.amends is not None:
            s.amend(journey.id, e.amends, e.record, actor=e.actor, reason=e.reason)
        else:
            s.record(journey.id, e.record, actor=e.actor)
