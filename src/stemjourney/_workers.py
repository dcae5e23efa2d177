"""Work handed to fresh interpreters, so that a long read runs on several cores at once.

A worker is a fresh ``python`` (never a fork of the caller, never a second import of the
caller's main module) that gets the caller's import path and its task on its standard
input as pickles, runs the ``main`` of the module it was started for, and writes the
answer back as a pickle. Nothing it reads is ever printed: its standard error goes
nowhere. A worker that cannot start or fails gives ``None``, and the caller does that
part of the work itself. The cohort report (:mod:`stemjourney.reports._cohort_shards`)
and ``Store.verify`` (:mod:`stemjourney.store._verify_shards`) use it.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any

__all__ = ["MAX_WORKERS", "default_workers", "finish", "serve", "start", "stop"]

MAX_WORKERS = 4
"""The most processes a read is split over when the caller leaves it to the library."""

_BOOT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from {module} import main; sys.exit(main())"
)
"""A worker's first step: take the caller's import path, so it imports the same stemjourney,
then run ``main`` of its module."""

Child = subprocess.Popen[bytes]


def default_workers() -> int:
    """The processes a large read is split over: the cores this process may run on, up to
    :data:`MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (platforms without affinity: macOS, Windows)
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def start(module: str, payload: bytes) -> Child | None:
    """A worker running ``module``'s ``main`` on ``payload`` (a pickle); ``None`` when none
    can start."""
    try:
        child = subprocess.Popen(
            [sys.executable, "-P", "-c", _BOOT.format(module=module)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError):
        return None
    assert child.stdin is not None
    try:
        child.stdin.write(pickle.dumps(list(sys.path)) + payload)
        child.stdin.close()
    except OSError:
        child.stdin = None
        child.kill()
        child.wait()
        return None
    child.stdin = None  # written and closed: communicate() only reads
    return child


def finish(child: Child | None) -> Any:
    """What ``child`` answered; ``None`` when it did not start, failed or answered nothing
    readable."""
    if child is None:
        return None
    out, _ = child.communicate()
    if child.returncode != 0:
        return None
    try:
        return pickle.loads(out)
    except Exception:
        return None


def stop(children: Iterable[Child | None]) -> None:
    """End every worker still running (the caller is done with them, or failed)."""
    for child in children:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def serve(
    work: Callable[[Any], Any], given: IO[bytes] | None = None, answer: IO[bytes] | None = None
) -> int:
    """A worker's ``main``: read the task (a pickle after the import path), write
    ``work(task)`` as a pickle."""
    given = sys.stdin.buffer if given is None else given
    answer = sys.stdout.buffer if answer is None else answer
    task = pickle.load(given)
    pickle.dump(work(task), answer, protocol=pickle.HIGHEST_PROTOCOL)
    answer.flush()
    return 0
