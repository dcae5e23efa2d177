"""Timing and memory helpers: best-of-n timing, peak memory of the current process."""

from __future__ import annotations

import platform
import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call of ``work`` took, and what it returned."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``repeat`` calls of ``work`` (seconds), and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        seconds, result = timed(work)
        best = min(best, seconds)
    return best, result


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return round(kib * scale, 1)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import os

    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_name() or platform.processor() or platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
