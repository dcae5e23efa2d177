"""Shared test settings: Hypothesis profiles.

The "ci" profile (the default) keeps the whole suite within a few minutes on two
cores; "dev" runs fewer examples, "thorough" many more. Choose one with
``HYPOTHESIS_PROFILE=thorough pytest``; show example counts with
``pytest --hypothesis-show-statistics``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from _backends import Where
from _postgres import Cluster, missing_reason

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    # On a CI machine the examples are fixed, so a run there is repeatable.
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- the store's backends ----------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (skipped, saying how to install
    PostgreSQL, where it is missing)."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: Any, tmp_path: Path) -> Where:
    """The test's store location, once on each backend."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        return Where("postgresql", tmp_path, cluster.dsn())
    return Where("sqlite", tmp_path)
