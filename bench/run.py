"""The benchmark harness at clinic-network scale: ``make bench``.

Builds its own clinic with a fixed seed (100,000 journeys through the engine,
persisted in bulk; then 1,000,000 NRS scores through the store's bulk import), runs
every measurement against a reference measured in the same run, and prints ONE JSON
object: the figures, the ratios, the targets and whether each was met, and the
machine. Exits 1 when a target is missed or a library result disagrees with its
reference, so anyone can check.

Each step runs in its own process (its peak memory is its own); the crash trials
(``_crash.py``: the reliability test's code, 1,000 kills) and the concurrency trials
(``tests/test_store_concurrency.py`` with more processes and moves) run beside
``verify()`` at the end, when nothing is being timed against a target.

Run: ``python bench/run.py [--journeys 100000] [--scores 1000000] [--crash-trials 1000]``.
Smaller sizes give a quick smoke run; targets are judged at any size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TARGETS: dict[str, tuple[str, float]] = {
    "import_ratio": (">=", 0.5),
    "move_ratio": ("<=", 1.5),
    "engine_vs_limit": ("<=", 2.0),
    "engine_vs_transitions": ("<=", 0.5),
    "cohort_ratio": ("<=", 2.0),
    "cohort_vs_floor": ("<=", 2.0),
    "cohort_peak_mb": ("<", 300.0),
    "worklist_ratio": ("<=", 1.5),
    "worklist_speedup": (">=", 5.0),
    "fhir_vs_floor": (">=", 0.6),
    "cli_first_answer_ratio": ("<=", 2.5),
    # The store (schema 2): verify, cold moves, bytes per score, the bulk import.
    "verify_vs_floor": ("<=", 2.5),
    "verify_vs_floor_cold": ("<=", 2.5),
    "cold_move_ratio_10": ("<=", 1.5),
    "cold_move_ratio_100": ("<=", 1.5),
    "cold_move_ratio_1000": ("<=", 1.5),
    "cold_move_growth": ("<=", 1.2),
    "bytes_per_score_written": ("<=", 600.0),
    "import_vs_lean": (">=", 0.35),
    # PostgreSQL (_pg.py): one server started for them; skipped (and not met) without it.
    "pg_move_ratio": ("<=", 1.5),
    "pg_writers_speedup_16": (">=", 3.0),
    "pg_cohort_ratio": ("<=", 2.0),
    "pg_worklist_ratio": ("<=", 2.0),
}
SKIPPED: dict[str, str] = {}
"""Figures that could not be measured here, each with the reason (a skipped figure is not
met: ``make bench`` exits 1 and says why)."""


def _python(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python args`` and read the JSON object it prints last."""
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    text = done.stdout
    found: dict[str, Any] = json.loads(text[text.index("{") :])
    return found


def _step(name: str, work: Path, size: dict[str, Any]) -> dict[str, Any]:
    args = [str(HERE / "run.py"), "--step", name, "--work", str(work), "--size", json.dumps(size)]
    return _python(args)


def _pytest(test: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--no-cov"),
            # the race on the file; PostgreSQL's writers are measured apart (_pg.py)
            *(test, "-k", "sqlite"),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _trial(proc: subprocess.Popen[str], started: float, patterns: dict[str, str]) -> dict[str, Any]:
    """Wait for a test run; its status, time and the totals each pattern's line gives."""
    out, _ = proc.communicate()
    found: dict[str, Any] = {"passed": proc.returncode == 0}
    found["seconds"] = round(time.perf_counter() - started, 1)
    for name, pattern in patterns.items():
        match = re.search(pattern, out)
        if match:
            found[name] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}
    if proc.returncode != 0:
        found["output"] = out[-2000:]
    return found


def _started(args: list[str]) -> subprocess.Popen[str]:
    """``python args`` started in the background (read with :func:`_json_of`)."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _json_of(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON object a background run printed last, ``passed: False`` if it failed."""
    out, err = proc.communicate()
    found: dict[str, Any] = json.loads(out[out.index("{") :]) if "{" in out else {}
    if proc.returncode != 0:
        found.update(passed=False, output=err[-2000:])
    return found


def _judge(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's value and whether it is met; a figure not measured (``None``) is not
    met, and says why."""
    verdicts: dict[str, dict[str, Any]] = {}
    for name, (op, limit) in TARGETS.items():
        value = figures[name]
        verdicts[name] = {"value": value, "target": f"{op} {limit}"}
        if value is None:
            verdicts[name].update(met=False, skipped=SKIPPED.get(name, "not measured"))
            continue
        verdicts[name]["met"] = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
    return verdicts


def _store_unjudged(steps: dict[str, Any]) -> dict[str, Any]:
    """The seconds and bytes behind the store's figures (schema 2)."""
    verify, cold, written = steps["verify"], steps["cold_move"], steps["written"]
    sizes = ("10", "100", "1000")
    return {
        "verify_seconds": {
            k: verify[f"{k}_s"] for k in ("cold", "warm", "one_process", "floor_cold", "floor_warm")
        },
        "verify_workers": verify["workers"],
        "verify_vs_floor_one_process": verify["vs_floor_one_process"],
        "verify_sqlite_checks_s": verify["sqlite_checks_s"],
        "verify_vs_floor_cpu": {
            "warm": verify["vs_floor_cpu"],
            "cold": verify["vs_floor_cold_cpu"],
        },
        "cold_move_prior_entries": {n: cold[n]["prior_entries"] for n in sizes},
        "cold_move_ratio_whole": {n: cold[n]["ratio_whole"] for n in sizes},
        "cold_move_us_median": {n: cold[n]["us_median"] for n in sizes},
        "bytes_per_score_bulk": written["bulk"]["bytes_per_score"],
        "import_vs_lean_seconds": {k: steps["import"][f"{k}_s"] for k in ("store", "lean", "raw")},
        "import_vs_lean_median_batch": steps["import"]["vs_lean_median_batch"],
    }


def _pg_figures(pg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
    """The PostgreSQL figures and checks (``None`` figures, no checks, when skipped)."""
    names = ("pg_move_ratio", "pg_writers_speedup_16", "pg_cohort_ratio", "pg_worklist_ratio")
    if "skipped" in pg:
        SKIPPED.update(dict.fromkeys(names, pg["skipped"]))
        return dict.fromkeys(names, None), {}
    move, writers = pg["move"], pg["writers"]
    figures = {
        "pg_move_ratio": move["ratio"],
        "pg_writers_speedup_16": writers["speedup_16"],
        "pg_writers_speedup_4": writers["speedup_4"],
        "pg_writers_moves_per_s": writers["moves_per_s"],
        "pg_cohort_ratio": pg["cohort"]["ratio"],
        "pg_worklist_ratio": pg["worklist"]["ratio"],
    }
    checks = {
        "pg_move_same_rows": not move["rows_differ"],
        "pg_move_verify_ok": move["verify_ok"],
        "pg_writers_verify_ok": writers["verify_ok"],
        "pg_writers_moves_all_written": writers["moves_made"] == writers["moves_expected"],
        "pg_cohort_agrees_with_sql": pg["cohort"]["agree"],
        "pg_worklist_agrees_with_sql": pg["worklist"]["agree"],
        "pg_clinic_same_head": pg["load"]["same_head"],
        "pg_clinic_same_rows": pg["load"]["same_rows"],
    }
    return figures, checks


def _pg_unjudged(pg: dict[str, Any]) -> dict[str, Any]:
    """What explains the PostgreSQL figures: the server's commit, the CPU per move, the copy."""
    if "skipped" in pg:
        return {"pg_skipped": pg["skipped"]}
    writers, load = pg["writers"], pg["load"]
    return {
        "pg_move_us_median": pg["move"]["us_per_move_median"],
        "pg_commit_us": writers["commit_us"],
        "pg_cpu_us_per_move": writers["cpu_us_per_move"],
        "pg_writers_cpu_bound_speedup": writers["cpu_bound_speedup"],
        "pg_clinic_load": {k: load[k] for k in ("how", "seconds", "rows_per_s")},
        "pg_clinic_rows": load["rows"],
        "pg_seconds": pg["seconds"],
    }


def main() -> int:
    """Run everything, print the JSON, return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="import batch size")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing (best kept)")
    parser.add_argument("--crash-trials", type=int, default=1000)
    parser.add_argument("--race-processes", type=int, default=8)
    parser.add_argument("--race-moves", type=int, default=500)
    parser.add_argument("--moves", type=int, default=500, help="persisted moves of each kind")
    parser.add_argument("--cold-blocks", type=int, default=30, help="blocks of 5 cold moves")
    parser.add_argument(
        "--written-journeys", type=int, default=10_000, help="journeys written change by change"
    )
    parser.add_argument("--pg-moves", type=int, default=500, help="persisted moves on PostgreSQL")
    parser.add_argument(
        "--pg-writer-moves", type=int, default=200, help="moves of each PostgreSQL writer"
    )
    parser.add_argument("--work", type=Path, help="work directory (a temporary one if not given)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        from _steps import run_step

        print(json.dumps(run_step(args.step, args.work, json.loads(args.size))))
        return 0
    from _measure import machine

    size = {
        "journeys": args.journeys,
        "scores": args.scores,
        "batch": args.batch,
        "repeat": args.repeat,
        "written_journeys": args.written_journeys,
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stemjourney-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        steps: dict[str, Any] = {}
        for name in ("build", "import", "cohort", "worklist", "fhir"):
            steps[name] = _step(name, work, size)
        steps["move"] = _python(
            [str(HERE / "_move.py"), "--blocks", str(args.moves // 25), "--block", "25"]
        )
        steps["cold_move"] = _python(
            [str(HERE / "_cold_move.py"), "--blocks", str(args.cold_blocks), "--block", "5"]
        )
        steps["engine"] = _python([str(HERE / "engine_move.py")])
        steps["cli"] = _python(
            [str(HERE / "cli_start.py"), "--db", str(work / "clinic.db"), "--no-exit-status"]
        )
        steps["verify"] = _step("verify", work, size)
        steps["postgres"] = _python(
            [
                str(HERE / "_pg.py"),
                "--clinic",
                str(work / "clinic.db"),
                "--blocks",
                str(args.pg_moves // 25),
                "--block",
                "25",
                "--writer-moves",
                str(args.pg_writer_moves),
                "--repeat",
                str(args.repeat),
            ]
        )
        # Nothing below is timed against a target: the crash trials and the clinic
        # written change by change (its bytes) side by side, then the race.
        crash = _started([str(HERE / "_crash.py"), "--trials", str(args.crash_trials)])
        step = ["--step", "written", "--work", str(work), "--size", json.dumps(size)]
        written = _started([str(HERE / "run.py"), *step])
        steps["written"] = _json_of(written)
        race_started = time.perf_counter()
        race = _pytest(
            "tests/test_store_concurrency.py",
            {
                "STEMJOURNEY_RACE_PROCESSES": str(args.race_processes),
                "STEMJOURNEY_RACE_MOVES": str(args.race_moves),
            },
        )
        steps["race_trials"] = _trial(
            race,
            race_started,
            {"totals": r"race \(sqlite\): (.*)", "long_journey": r"race-long \(sqlite\): (.*)"},
        )
        steps["race_trials"].update(processes=args.race_processes, moves=args.race_moves)
        steps["crash_trials"] = _json_of(crash)
        steps["crash_trials"].setdefault("passed", False)
    figures = {
        "import_ratio": steps["import"]["ratio"],
        "move_ratio": steps["move"]["ratio_warm"],
        "move_ratio_cold": steps["move"]["ratio_cold"],
        "move_ratio_to_minimal_tables": steps["move"]["ratio_warm_to_minimal"],
        "engine_vs_limit": steps["engine"]["engine_vs_limit"],
        "engine_vs_transitions": steps["engine"]["engine_vs_transitions"],
        "cohort_ratio": steps["cohort"]["ratio"],
        "cohort_vs_floor": steps["cohort"]["vs_floor"],
        "cohort_peak_mb": steps["cohort"]["report_peak_mb"],
        "worklist_ratio": steps["worklist"]["ratio"],
        "worklist_speedup": steps["worklist"]["speedup"],
        "fhir_vs_floor": steps["fhir"]["ratio"],
        "fhir_export_peak_mb": steps["fhir"]["export_peak_mb"],
        "cli_first_answer_ratio": steps["cli"]["worst_ratio"],
        "verify_vs_floor": steps["verify"]["vs_floor"],
        "verify_vs_floor_cold": steps["verify"]["vs_floor_cold"],
        **{f"cold_move_ratio_{n}": steps["cold_move"][str(n)]["ratio"] for n in (10, 100, 1000)},
        "cold_move_growth": steps["cold_move"]["growth"],
        "bytes_per_score_written": steps["written"]["bytes_per_score"],
        "import_vs_lean": steps["import"]["vs_lean"],
    }
    pg_figures, pg_checks = _pg_figures(steps["postgres"])
    figures.update(pg_figures)
    targets = _judge(figures)
    checks = {
        "cohort_agrees_with_sql": steps["cohort"]["agree"],
        "worklist_agrees_with_sql": steps["worklist"]["agree"],
        "verify_ok": steps["verify"]["ok"],
        "verify_one_process_agrees": steps["verify"]["one_process_agrees"],
        "written_verify_ok": steps["written"]["written"]["verify_ok"],
        "cold_move_verify_ok": steps["cold_move"]["verify_ok"],
        "cold_move_same_statements": not any(
            steps["cold_move"][str(n)]["hand_differs"] for n in (10, 100, 1000)
        ),
        "move_same_statements": not steps["move"]["same_sql_differs"],
        "crash_trials_passed": steps["crash_trials"]["passed"],
        "race_trials_passed": steps["race_trials"]["passed"],
        **pg_checks,
    }
    ok = all(t["met"] for t in targets.values()) and all(checks.values())
    result = {
        "ok": ok,
        **figures,
        "targets": targets,
        "checks": checks,
        "unjudged": {
            "cohort_vs_floor_cold": steps["cohort"]["vs_floor_cold"],
            "cohort_vs_floor_one_process": steps["cohort"]["vs_floor_one_process"],
            "cohort_workers": steps["cohort"]["report_workers"],
            "cohort_seconds": {
                k: steps["cohort"][f"{k}_s"]
                for k in (
                    "report_cold",
                    "report_warm",
                    "report_cpu_warm",
                    "one_process_warm",
                    "floor_cold",
                    "floor_warm",
                )
            },
            "verify_s_per_million_audit_entries": steps["verify"]["s_per_million_audit_entries"],
            "db_mb_per_million_scores": steps["import"]["db_mb_per_million_scores"],
            "import_mb_per_million_scores": steps["import"]["import_mb_per_million_scores"],
            **_store_unjudged(steps),
            **_pg_unjudged(steps["postgres"]),
            "peak_mb": {k: v["peak_mb"] for k, v in steps.items() if "peak_mb" in v},
        },
        "steps": steps,
        "sizes": size,
        "total_s": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
