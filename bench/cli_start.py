"""The command line's first answer: a whole ``stemjourney`` process against plain python.

For ``journey show`` and ``report patient`` of a typical journey in follow-up (and its
patient), and ``worklist`` for a week, each run as the installed
console script does (a new process: interpreter start, imports, store opened, rows read,
answer printed), against ``_cli_floor.py``: a plain python script with sqlite3 and json
reading the same rows (the work-list answered by the harness's SQL reference) and
printing them. Both have their compiled bytecode cached, as an ordinary install has it:
the environment may set ``PYTHONDONTWRITEBYTECODE``, so this harness removes it and
points ``PYTHONPYCACHEPREFIX`` at a cache of its own, filled by one unmeasured run of
each. Runs are interleaved (command line, floor, floor, command line, ...) and the
figure is the ratio of the medians of the wall times. ``dependencies_only`` is
``python -c "import attrs, click"`` timed the same way: the least any command can cost
(not judged). With nothing cached (an empty
cache that is never written) each is also run a few times: reported, not judged.

Prints JSON: ``cli_first_answer_ratio`` per command, the medians in milliseconds, the
CPU time (user + system) medians, and the nothing-cached times.

Run: ``python bench/cli_start.py --db demo-output/clinic.db [--rounds 21] [--today DAY]``
(``make demo`` writes that database; ``run.py`` runs this on its own clinic).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = 2.5
"""At most this many times the floor's median, for each command."""
DEPENDENCIES = [sys.executable, "-c", "import attrs, click"]
"""The library's two start-up dependencies and nothing else: the lower bound of any command,
reported beside the ratios (not judged)."""


def _julian(day: date) -> float:
    return day.toordinal() + 1721424.5


def _choose(db: Path, today: date | None) -> tuple[str, str, date]:
    """A typical journey in follow-up (the median number of scores among them), its
    patient, and the day to ask about (the latest score's, unless given)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counted = conn.execute(
        "SELECT o.journey_id, j.patient_id, count(*) AS n FROM observations AS o "
        "JOIN journeys AS j ON j.id = o.journey_id WHERE j.stage = 'follow_up' "
        "GROUP BY o.journey_id ORDER BY n, o.journey_id"
    ).fetchall()
    row = counted[len(counted) // 2] if counted else None
    if today is None:
        latest = conn.execute("SELECT max(measured_at) FROM observations").fetchone()[0]
        today = date.fromisoformat(latest[:10])
    conn.close()
    if row is None:
        raise SystemExit("the database has no journey in follow-up with scores")
    return row[0], row[1], today


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("stemjourney")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stemjourney.cli"]


def _floor() -> list[str]:
    return [sys.executable, "-c", "import _cli_floor; _cli_floor.main()"]


def _cases(db: Path, work: Path, today: date | None) -> dict[str, Any]:
    journey_id, patient_id, day = _choose(db, today)
    end = day + timedelta(days=6)
    sys.path.insert(0, str(HERE))
    from _refs import worklist_sql

    from stemjourney import DEFAULT_PROTOCOL

    query = work / "worklist.json"
    query.write_text(
        json.dumps(
            {
                "sql": worklist_sql(DEFAULT_PROTOCOL),
                "args": {"first": _julian(day), "last": _julian(end), "on": _julian(day)},
            }
        ),
        encoding="utf-8",
    )
    base = [*_cli(), "--db", str(db)]
    floor = _floor()
    return {
        "journey show": {
            "cli": [*base, "journey", "show", journey_id],
            "floor": [*floor, "show", str(db), journey_id],
        },
        "report patient": {
            "cli": [*base, "report", "patient", patient_id, "--on", day.isoformat()],
            "floor": [*floor, "patient", str(db), patient_id],
        },
        "worklist": {
            "cli": [
                *base,
                "worklist",
                "--start",
                day.isoformat(),
                "--end",
                end.isoformat(),
                "--on",
                day.isoformat(),
            ],
            "floor": [*floor, "worklist", str(db), str(query)],
        },
        "_chosen": {"journey": journey_id, "patient": patient_id, "day": day.isoformat()},
    }


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and standard output of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _envs(cache: Path, *, cached: bool) -> tuple[dict[str, str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    floor = {**env, "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])}
    return env, floor


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(db: Path, *, rounds: int = 21, cold_rounds: int = 3, today: date | None = None
            ) -> dict[str, Any]:  # fmt: skip
    """Every figure, as the JSON object this script prints."""
    with tempfile.TemporaryDirectory(prefix="stemjourney-cli-") as tmp:
        work = Path(tmp)
        cases = _cases(db, work, today)
        chosen = cases.pop("_chosen")
        cache, empty = work / "pycache", work / "empty"
        env, floor_env = _envs(cache, cached=True)
        outputs: dict[str, dict[str, str]] = {}
        for name, case in cases.items():  # fill the cache; check both answer
            outputs[name] = {
                "cli": _run(case["cli"], env)[2],
                "floor": _run(case["floor"], floor_env)[2],
            }
        times: dict[str, dict[str, list[float]]] = {
            name: {"cli": [], "floor": [], "cli_cpu": [], "floor_cpu": []} for name in cases
        }
        deps: list[float] = []
        _run(DEPENDENCIES, env)
        for n in range(rounds):
            deps.append(_run(DEPENDENCIES, env)[0])
            for name, case in cases.items():
                order = ("cli", "floor") if n % 2 == 0 else ("floor", "cli")
                for who in order:
                    wall, cpu, _ = _run(case[who], env if who == "cli" else floor_env)
                    times[name][who].append(wall)
                    times[name][f"{who}_cpu"].append(cpu)
        cold: dict[str, dict[str, float]] = {}
        for name, case in cases.items():
            shutil.rmtree(empty, ignore_errors=True)
            empty.mkdir()
            c_env, c_floor = _envs(empty, cached=False)
            cold[name] = {
                "cli_ms": _ms(median(_run(case["cli"], c_env)[0] for _ in range(cold_rounds))),
                "floor_ms": _ms(
                    median(_run(case["floor"], c_floor)[0] for _ in range(cold_rounds))
                ),
            }
    commands: dict[str, Any] = {}
    for name, t in times.items():
        cli_ms, floor_ms = _ms(median(t["cli"])), _ms(median(t["floor"]))
        commands[name] = {
            "cli_first_answer_ratio": round(median(t["cli"]) / median(t["floor"]), 2),
            "cli_ms": cli_ms,
            "floor_ms": floor_ms,
            "cpu_ratio": round(median(t["cli_cpu"]) / median(t["floor_cpu"]), 2),
            "cli_cpu_ms": _ms(median(t["cli_cpu"])),
            "floor_cpu_ms": _ms(median(t["floor_cpu"])),
            "cli_range_ms": [_ms(min(t["cli"])), _ms(max(t["cli"]))],
            "floor_range_ms": [_ms(min(t["floor"])), _ms(max(t["floor"]))],
            "nothing_cached": cold[name],
            "output_lines": {k: v.count("\n") for k, v in outputs[name].items()},
        }
    worst = max(c["cli_first_answer_ratio"] for c in commands.values())
    floors = median(median(t["floor"]) for t in times.values())
    return {
        "cli_first_answer_ratio": {k: v["cli_first_answer_ratio"] for k, v in commands.items()},
        "worst_ratio": worst,
        "target": f"<= {TARGET}",
        "met": worst <= TARGET,
        "commands": commands,
        "dependencies_only": {
            "what": "python -c 'import attrs, click': the least any command costs",
            "ms": _ms(median(deps)),
            "ratio_to_floor": round(median(deps) / floors, 2),
        },
        "chosen": chosen,
        "rounds": rounds,
        "database": str(db),
    }


def main() -> int:
    """Measure and print the JSON; exit 1 when a command misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("demo-output/clinic.db"))
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--today", type=date.fromisoformat, help="the day asked about")
    parser.add_argument(
        "--no-exit-status", action="store_true", help="exit 0 even when a target is missed"
    )
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: run 'make demo' or name one with --db")
    found = measure(args.db, rounds=args.rounds, cold_rounds=args.cold_rounds, today=args.today)
    print(json.dumps(found, indent=2))
    return 0 if found["met"] or args.no_exit_status else 1


if __name__ == "__main__":
    sys.exit(main())
