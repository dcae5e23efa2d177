"""The cost of one in-memory move: our engine beside pytransitions, in the same run.

Both drive the default pipeline's treatment loop, follow_up -> harvest -> processing
-> injection -> recovery -> follow_up, over and over: our engine with every guard
checked against a real clinical record (each move starts from a journey that holds
what its guard needs, built once beforehand, so only the move is timed), and a
pytransitions ``Machine`` with the same stages and transitions (model attached once,
no conditions), its triggers fired in the same order. The figure for our engine's
first cycle (consultation -> ... -> follow_up) is printed too.

Prints JSON: microseconds per move (best of ``--repeat`` timeit rounds, interleaved)
and the ratio.

Run: ``python bench/engine_move.py [--number 500] [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from transitions import Machine

import stemjourney as sj
from stemjourney.testing import ManualClock

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
H = timedelta(hours=1)
Case = tuple[sj.Journey, str, datetime, dict[str, Any]]


def _record(engine: sj.Engine, journey: sj.Journey, *records: Any) -> sj.Journey:
    for r in records:
        journey = engine.record(journey, r, actor="bench")[0]
    return journey


def _harvest(at: datetime) -> sj.Harvest:
    return sj.Harvest(
        harvested_at=at, source="bone_marrow", body_site="iliac crest", side="left", volume_ml=60
    )


def _product(at: datetime, pid: str) -> sj.Processing:
    return sj.Processing(
        product_id=pid,
        started_at=at - H,
        finished_at=at,
        method="centrifuge",
        manipulation="minimal",
        final_volume_ml=6,
        tnc_per_ml=2.5e7,
        viability_pct=92,
        released=True,
    )


def _shot(at: datetime, pid: str) -> sj.Injection:
    return sj.Injection(
        injected_at=at, site="knee", side="left", guidance="ultrasound", volume_ml=6, product_id=pid
    )


def build_cases(engine: sj.Engine) -> tuple[list[Case], list[Case]]:
    """The moves of cycle 1 and of the loop, each from a journey ready for it."""
    j = engine.open(
        "j-1",
        patient_id="p-1",
        condition="osteoarthritis of knee",
        site="knee",
        side="left",
        cell_source="bone_marrow",
        actor="bench",
        occurred_at=T0,
    )
    cases: list[Case] = []
    t = T0
    for cycle in (1, 2):
        pid = f"p-{cycle}"
        if cycle == 1:
            j = _record(
                engine,
                j,
                sj.EligibilityAssessment(assessed_at=t),
                sj.Consent(signed_at=t, form_version="v1"),
                sj.nrs(7, t),
            )
        else:
            j = _record(engine, j, sj.nrs(4, t))
        plan: list[tuple[str, Any]] = [
            ("harvest", None),
            ("processing", _harvest),
            ("injection", lambda at, pid=pid: _product(at, pid)),
            ("recovery", lambda at, pid=pid: _shot(at, pid)),
            ("follow_up", None),
        ]
        for target, needs in plan:
            t += 8 * 24 * H if target == "follow_up" else H
            if needs is not None:
                j = _record(engine, j, needs(t))
            cases.append((j, target, t, {}))
            j = engine.move(j, target, actor="bench", occurred_at=t)[0]
    return cases[:5], cases[5:]


def engine_run(engine: sj.Engine, cases: list[Case]) -> tuple[Callable[[], None], int]:
    """A function making every move of ``cases`` once, and how many moves that is."""

    def run() -> None:
        move = engine.move
        for journey, target, at, kwargs in cases:
            move(journey, target, actor="bench", occurred_at=at, **kwargs)

    return run, len(cases)


def pytransitions_run() -> tuple[Callable[[], None], int]:
    """A function firing the loop's triggers once on a pytransitions Machine, and how many."""
    pipeline = sj.DEFAULT_PIPELINE
    model = type("Model", (), {})()
    Machine(
        model=model,
        states=list(pipeline.stages),
        transitions=[
            {"trigger": f"go_{t.target}", "source": t.source, "dest": t.target}
            for t in pipeline.transitions
        ],
        initial=pipeline.initial,
        auto_transitions=False,
    )
    model.go_harvest()  # consultation -> harvest, once: then the loop.
    loop = ["processing", "injection", "recovery", "follow_up", "harvest"]
    triggers = [getattr(model, f"go_{target}") for target in loop]

    def run() -> None:
        for trigger in triggers:
            trigger()

    return run, len(triggers)


def measure(
    runs: dict[str, tuple[Callable[[], None], int]], number: int, repeat: int
) -> dict[str, float]:
    """Microseconds per move of each run: best of ``repeat`` rounds, rounds interleaved
    so that every contender sees the same machine load."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, (run, moves) in runs.items():
            seconds = timeit.timeit(run, number=number)
            best[name] = min(best[name], seconds / (number * moves) * 1e6)
    return best


def main() -> None:
    """Measure both and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=500, help="loops per timeit round")
    parser.add_argument("--repeat", type=int, default=20, help="timeit rounds (best is kept)")
    args = parser.parse_args()
    engine = sj.Engine(clock=ManualClock(T0 + timedelta(days=365)))
    first_cycle, loop = build_cases(engine)
    us = measure(
        {
            "ours": engine_run(engine, loop),
            "ours_first_cycle": engine_run(engine, first_cycle),
            "pytransitions": pytransitions_run(),
        },
        args.number,
        args.repeat,
    )
    figures = {
        "number": args.number,
        "repeat": args.repeat,
        "stemjourney_us_per_move": round(us["ours"], 2),
        "stemjourney_first_cycle_us_per_move": round(us["ours_first_cycle"], 2),
        "pytransitions_us_per_move": round(us["pytransitions"], 2),
        "ratio_stemjourney_to_pytransitions": round(us["ours"] / us["pytransitions"], 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
