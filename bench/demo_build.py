"""How long the demo clinic takes to build, and to export, in one run.

Times (best of ``--repeat`` rounds): drawing the synthetic clinic; building it in
memory through the engine; building the database through the store (in memory, then
copied to the file with the backup API, for a clinic of demo size) with and without
the bulk score import; the streamed FHIR export and the research CSV of that
database. Prints JSON with seconds and counts. The target is a whole demo database
"well under a minute".

Run: ``python bench/demo_build.py [--patients 300] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from stemjourney.demo import build_demo_clinic, demo_clinic, synthetic_clinic
from stemjourney.export import research_csv, write_fhir_bundle
from stemjourney.store import open_store

TODAY = date(2026, 11, 23)


def best(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return round(min(times), 3)


def main() -> None:
    """Run every measurement and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, repeat = args.patients, args.repeat
    figures: dict[str, object] = {"patients": n, "repeat": repeat}
    figures["synthetic_s"] = best(repeat, lambda: synthetic_clinic(2026, n, TODAY))
    figures["in_memory_s"] = best(repeat, lambda: demo_clinic(patients=n, today=TODAY))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.db"
        for bulk in (True, False):
            figures[f"store_bulk_{bulk}_s".lower()] = best(
                repeat,
                lambda bulk=bulk: build_demo_clinic(
                    path, patients=n, today=TODAY, overwrite=True, bulk_scores=bulk
                ),
            )
        summary = build_demo_clinic(path, patients=n, today=TODAY, overwrite=True)
        figures["journeys"] = summary.journeys
        figures["scores"] = summary.scores
        with open_store(path) as store:
            figures["fhir_resources"] = write_fhir_bundle(store, io.StringIO())
            figures["fhir_export_s"] = best(repeat, lambda: write_fhir_bundle(store, io.StringIO()))
            key = b"a benchmark key of 32 bytes....."
            figures["research_rows"] = research_csv(store, io.StringIO(), key=key)
            figures["research_export_s"] = best(
                repeat, lambda: research_csv(store, io.StringIO(), key=key)
            )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
