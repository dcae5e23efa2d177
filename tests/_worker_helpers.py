"""Workers (fresh interpreters, ``stemjourney._workers``) broken or counted for a test."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from stemjourney import _workers

BROKEN = [
    "no interpreter",
    "no executable",
    "a frozen application",
    "worker fails",
    "worker says nonsense",
    "worker never answers",
]
"""Every way a worker can fail the caller: each must leave its part to the caller."""


def break_workers(monkeypatch: pytest.MonkeyPatch, broken: str, folder: Path) -> None:
    """Make every worker started from now on fail as ``broken`` says (``folder`` holds no
    interpreter)."""
    if broken == "no interpreter":
        monkeypatch.setattr(sys, "executable", str(folder / "no-such-python"))
    elif broken == "no executable":
        monkeypatch.setattr(sys, "executable", None)
    elif broken == "a frozen application":
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    elif broken == "worker never answers":
        monkeypatch.setattr(_workers, "_BOOT", "import time; time.sleep(60)")
        monkeypatch.setattr(_workers, "PATIENCE", 0.5)
        monkeypatch.setattr(_workers, "SLOWER", 0)
    elif broken == "worker fails":
        monkeypatch.setattr(_workers, "_BOOT", "import sys; sys.exit(3)")
    else:
        assert broken == "worker says nonsense"
        monkeypatch.setattr(_workers, "_BOOT", "import sys; sys.stdout.write('not a pickle')")


def count_starts(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each worker started from now on did start, one entry per start, in order."""
    started: list[bool] = []
    plain = _workers.start

    def counted(module: str, payload: bytes) -> Any:
        child = plain(module, payload)
        started.append(child is not None)
        return child

    monkeypatch.setattr(_workers, "start", counted)
    return started
