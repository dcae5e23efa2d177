"""The scripts in examples/ run and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def run(script: Path, cwd: Path) -> str:
    """Run a script in a fresh interpreter from ``cwd``; return its standard output."""
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    """Each example script exits cleanly and prints something."""
    assert run(script, tmp_path).strip()


def test_first_journey_output(tmp_path: Path) -> None:
    """first_journey.py shows the refusal, then the journey's stage and its six moves."""
    out = run(EXAMPLES / "first_journey.py", tmp_path).splitlines()
    assert out[0] == "refused: ['a signed consent']"
    assert out[1] == "journey j-0001: follow_up, cycle 1, version 13"
    moves = out[2:]
    assert len(moves) == 6
    assert "(opened)" in moves[0]
    assert moves[-1].split()[3:6] == ["recovery", "->", "follow_up"]


def test_first_journey_run_returns_the_journey() -> None:
    """first_journey.run() returns a journey that replays to itself."""
    import runpy

    import stemjourney as sj

    namespace = runpy.run_path(str(EXAMPLES / "first_journey.py"))
    journey = namespace["run"]()
    assert journey.stage == "follow_up"
    assert sj.Engine().replay(journey) == journey
