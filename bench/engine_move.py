"""The cost of one in-memory move: our engine beside its limit and pytransitions, one run.

All three drive the default pipeline's treatment loop of a second cycle,
follow_up -> harvest -> processing -> injection -> recovery -> follow_up, over and
over, each move from a journey that holds what its guard needs (built once
beforehand, so only the move is timed), every guard checked against that record:

- ours: ``Engine.move`` (arguments checked, time rules, the guard, the history
  entry, the new journey, whose facts are brought up to date in constant time when
  next read);
- the limit: a plain dict machine running the same guard functions (the same
  ``GuardContext``) and building a new state tuple, nothing else;
- pytransitions: a ``Machine`` with the same stages and transitions, the same guard
  functions as its conditions (model attached once), its triggers fired in order.

``engine_vs_limit`` is ours divided by the limit, ``engine_vs_transitions`` ours
divided by pytransitions. The figures for our engine's first cycle (consultation ->
... -> follow_up), and for the loop of a journey holding 1,000 more scores, are
printed too: a move costs the same whatever the length of the record.

Prints JSON: microseconds per move (the best of ``--repeat`` timeit rounds, the
contenders interleaved within each round, so that each sees the quiet moments of a
shared machine) and the ratios of those bests.

Run: ``python bench/engine_move.py [--number 200] [--repeat 50]``.
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
from stemjourney.guards import GuardContext
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


def build_cases(engine: sj.Engine, padding: int = 0) -> tuple[list[Case], list[Case]]:
    """The moves of cycle 1 and of the loop, each from a journey ready for it.

    With ``padding``, the first follow-up holds that many more scores (a long record).
    """
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
            j = _record(engine, j, *(sj.nrs(n % 11, t - H) for n in range(padding)))
            # A new cycle needs its own assessment, consent and baseline, made in follow-up.
            j = _record(
                engine,
                j,
                sj.EligibilityAssessment(assessed_at=t),
                sj.Consent(signed_at=t, form_version="v2"),
                sj.nrs(4, t),
            )
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

    plain = [(j, target, at) for j, target, at, kwargs in cases if not kwargs]
    extra = [(j, target, at, kwargs) for j, target, at, kwargs in cases if kwargs]

    def run() -> None:
        move = engine.move
        for journey, target, at in plain:
            move(journey, target, actor="bench", occurred_at=at)
        for journey, target, at, kwargs in extra:
            move(journey, target, actor="bench", occurred_at=at, **kwargs)

    return run, len(cases)


class DictMachine:
    """The limit: a plain dict of transitions, the same guard functions, a new state tuple."""

    def __init__(self, pipeline: sj.Pipeline, protocol: sj.Protocol) -> None:
        self.table = {(t.source, t.target): t for t in pipeline.transitions}
        self.protocol = protocol

    def move(
        self, journey: sj.Journey, target: str, at: datetime
    ) -> tuple[str, str, int, int, datetime]:
        """The state after ``journey`` moves to ``target`` at ``at``; raise when refused."""
        t = self.table[journey.stage, target]
        missing = t.guard.check(GuardContext(journey, t, self.protocol, at))
        if missing:
            raise ValueError(missing)
        return (journey.id, target, journey.cycle + t.starts_cycle, journey.version + 1, at)


def limit_run(engine: sj.Engine, cases: list[Case]) -> tuple[Callable[[], None], int]:
    """A function making every move of ``cases`` once on the :class:`DictMachine`."""
    machine = DictMachine(engine.pipeline, engine.protocol)
    prepared = [(j, target, at) for j, target, at, _ in cases]

    def run() -> None:
        move = machine.move
        for journey, target, at in prepared:
            move(journey, target, at)

    return run, len(cases)


def pytransitions_run(engine: sj.Engine, cases: list[Case]) -> tuple[Callable[[], None], int]:
    """A function firing the loop's triggers once on a pytransitions Machine whose
    conditions are the same guard functions, and how many triggers that is."""
    pipeline = engine.pipeline
    protocol = engine.protocol
    model = type("Model", (), {})()
    model.journey = None  # type: ignore[attr-defined]

    def condition(t: sj.Transition) -> Callable[..., bool]:
        def passes(at: datetime) -> bool:
            return not t.guard.check(GuardContext(model.journey, t, protocol, at))

        return passes

    Machine(
        model=model,
        states=list(pipeline.stages),
        transitions=[
            {
                "trigger": f"go_{t.target}",
                "source": t.source,
                "dest": t.target,
                "conditions": [condition(t)],
            }
            for t in pipeline.transitions
        ],
        initial=cases[0][0].stage,
        auto_transitions=False,
    )
    steps = [(j, getattr(model, f"go_{target}"), at) for j, target, at, _ in cases]

    def run() -> None:
        for journey, trigger, at in steps:
            model.journey = journey  # type: ignore[attr-defined]
            if not trigger(at=at):
                raise AssertionError("a trigger was refused")

    return run, len(steps)


def measure(
    runs: dict[str, tuple[Callable[[], None], int]], number: int, repeat: int
) -> dict[str, list[float]]:
    """Microseconds per move of each run in each of ``repeat`` rounds; within a round
    the contenders run back to back, so that they see the same machine load."""
    rounds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (run, moves) in runs.items():
            seconds = timeit.timeit(run, number=number)
            rounds[name].append(seconds / (number * moves) * 1e6)
    return rounds


def main() -> None:
    """Measure both and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=200, help="loops per timeit round")
    parser.add_argument("--repeat", type=int, default=50, help="timeit rounds")
    args = parser.parse_args()
    engine = sj.Engine(clock=ManualClock(T0 + timedelta(days=365)))
    first_cycle, loop = build_cases(engine)
    _, long_loop = build_cases(engine, padding=1000)
    rounds = measure(
        {
            "ours": engine_run(engine, loop),
            "ours_first_cycle": engine_run(engine, first_cycle),
            "ours_1000_records": engine_run(engine, long_loop),
            "limit": limit_run(engine, loop),
            "pytransitions": pytransitions_run(engine, loop),
        },
        args.number,
        args.repeat,
    )
    us = {name: min(times) for name, times in rounds.items()}
    figures = {
        "number": args.number,
        "repeat": args.repeat,
        "stemjourney_us_per_move": round(us["ours"], 2),
        "stemjourney_first_cycle_us_per_move": round(us["ours_first_cycle"], 2),
        "stemjourney_us_per_move_1000_more_records": round(us["ours_1000_records"], 2),
        "limit_us_per_move": round(us["limit"], 2),
        "pytransitions_us_per_move": round(us["pytransitions"], 2),
        "engine_vs_limit": round(us["ours"] / us["limit"], 2),
        "engine_vs_transitions": round(us["ours"] / us["pytransitions"], 2),
        "ratio_stemjourney_to_pytransitions": round(us["ours"] / us["pytransitions"], 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
