"""The crash trials at scale: the reliability test's own code, a fresh file every 50 trials.

``tests/test_store_crash.py`` runs every trial on one file and verifies the whole file
after each kill, so its cost grows with the square of the trials; this runs the same
trial (``kill_at_random``: a writer SIGKILLed at a random moment) and the same
checks (every acknowledged write present, ``verify()`` clean) ``--trials`` times,
starting a new file every ``--per-file`` trials so the cost stays linear. Prints the
totals as JSON; exits 1 when anything acknowledged was lost or verify complained.

Run: ``python bench/_crash.py [--trials 1000] [--per-file 50]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def main() -> int:
    """Run the trials and print the totals."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--per-file", type=int, default=50)
    args = parser.parse_args()
    # The forkserver that starts the writers finds ``_store_writer`` through PYTHONPATH.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p
    )
    sys.path.insert(0, str(TESTS))
    from _backends import Where
    from test_store_crash import check, kill_at_random

    rng = random.Random(20261123)
    totals = {"trials": 0, "acknowledged": 0, "lost": 0, "partial": 0, "integrity": 0}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stemjourney-crash-") as tmp:
        for trial in range(args.trials):
            folder = Path(tmp) / f"crash-{trial // args.per_file}"
            folder.mkdir(exist_ok=True)
            where = Where("sqlite", folder)
            acks = kill_at_random(where, Path(tmp) / "acks.txt", trial, rng.uniform(0.0, 0.08))
            check(where, acks, totals)
    passed = (totals["lost"], totals["partial"], totals["integrity"]) == (0, 0, 0)
    out = {"passed": passed, "seconds": round(time.perf_counter() - start, 1), **totals}
    print(json.dumps(out))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
