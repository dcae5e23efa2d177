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
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

__all__ = ["MAX_WORKERS", "deadline", "default_workers", "finish", "serve", "start", "stop"]

MAX_WORKERS = 4
"""The most processes a read is split over when the caller leaves it to the library."""

_BOOT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from {module} import main; sys.exit(main())"
)
"""A worker's first step: take the caller's import path, so it imports the same stemjourney,
then run ``main`` of its module."""

Child = subprocess.Popen[bytes]

SLOWER = 4
"""How many times the caller's own part of the work a worker may take beyond it before it
is given up (its part then done by the caller): a worker is a fresh process doing as much."""
PATIENCE = 60.0
"""The fewest seconds a worker is waited for after the caller has done its own part."""


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
    can start: no interpreter is known, or this is a frozen application, whose executable
    is the application itself, not a Python."""
    if not sys.executable or getattr(sys, "frozen", False):
        return None
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


def deadline(began: float) -> float:
    """When (``time.monotonic``) the workers started with the caller's own part of the work,
    which it began at ``began`` and has just done, are given up: :data:`SLOWER` times that
    part later, and not before :data:`PATIENCE` seconds."""
    now = time.monotonic()
    return now + max(PATIENCE, SLOWER * (now - began))


def finish(child: Child | None, by: float | None = None) -> Any:
    """What ``child`` answered; ``None`` when it did not start, failed, answered nothing
    readable, or had not answered by ``by`` (``time.monotonic``; it is then stopped)."""
    if child is None:
        return None
    try:
        out, _ = child.communicate(timeout=None if by is None else max(0.0, by - time.monotonic()))
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return None
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
