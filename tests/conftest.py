"""Shared test settings: Hypothesis profiles.

The "ci" profile (the default) keeps the whole suite within a few minutes on two
cores; "dev" runs fewer examples, "thorough" many more. Choose one with
``HYPOTHESIS_PROFILE=thorough pytest``; show example counts with
``pytest --hypothesis-show-statistics``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
