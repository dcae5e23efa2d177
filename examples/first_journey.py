"""One patient's journey from consultation to follow-up, in memory, with its history printed.

Run it with ``python examples/first_journey.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import stemjourney as sj


def run() -> sj.Journey:
    """Take a left knee through one full treatment cycle and return the journey."""
    engine = sj.Engine()
    day0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    at = day0.__add__

    j = engine.open(
        "j-0001",
        patient_id="p-0001",
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="dr.lee",
        occurred_at=day0,
    )
    j, _ = engine.record(j, sj.nrs(7, day0), actor="nurse.kim")
    j, _ = engine.record(j, sj.EligibilityAssessment(assessed_at=day0), actor="dr.lee")
    print("refused:", engine.why_not(j, "harvest", at=day0))
    j, _ = engine.record(j, sj.Consent(signed_at=day0, form_version="v3"), actor="dr.lee")

    t = at(timedelta(days=7))
    j, _ = engine.move(j, "harvest", actor="dr.lee", occurred_at=t)
    harvest = sj.Harvest(
        harvested_at=t,
        source="bone_marrow",
        body_site="posterior iliac crest",
        side="left",
        volume_ml=60,
        guidance="ultrasound",
    )
    j, _ = engine.record(j, harvest, actor="dr.lee")
    j, _ = engine.move(j, "processing", actor="lab.ops", occurred_at=t + timedelta(hours=1))
    product = sj.Processing(
        product_id="bmac-0001",
        started_at=t + timedelta(hours=1),
        finished_at=t + timedelta(hours=2),
        method="density gradient centrifugation",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2.5e7,
        viability_pct=92,
        released=True,
    )
    j, _ = engine.record(j, product, actor="lab.ops")
    j, _ = engine.move(j, "injection", actor="dr.lee", occurred_at=t + timedelta(hours=3))
    shot = sj.Injection(
        injected_at=t + timedelta(hours=3),
        site="knee",
        side="left",
        guidance="ultrasound",
        volume_ml=6,
        product_id="bmac-0001",
    )
    j, _ = engine.record(j, shot, actor="dr.lee")
    j, _ = engine.move(j, "recovery", actor="dr.lee", occurred_at=t + timedelta(hours=4))
    j, _ = engine.move(j, "follow_up", actor="nurse.kim", occurred_at=t + timedelta(days=8))
    j, _ = engine.record(j, sj.nrs(3, t + timedelta(weeks=6)), actor="nurse.kim")
    return j


if __name__ == "__main__":
    journey = run()
    print(
        f"journey {journey.id}: {journey.stage}, cycle {journey.cycle}, version {journey.version}"
    )
    for entry in journey.history:
        print(
            f"  {entry.seq:>2}  {entry.occurred_at:%Y-%m-%d %H:%M}  "
            f"{entry.source or '(opened)':<13} -> {entry.target:<13} by {entry.actor}"
        )
