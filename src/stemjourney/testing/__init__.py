"""Helpers to test code that uses stemjourney: a clock, Hypothesis strategies, a state machine.

Needs Hypothesis (``pip install stemjourney[test]``). See the how-to
"Testing your integration" in the docs.
"""

from stemjourney.testing._clock import ManualClock
from stemjourney.testing._examples import EXAMPLE_INJECTION, treated_journey
from stemjourney.testing._machine import JourneyMachine, Refusal
from stemjourney.testing._memory_store import memory_store
from stemjourney.testing._sequences import move_sequences
from stemjourney.testing._steps import MoveStep, OpenStep, RecordStep, Step, play
from stemjourney.testing._strategies import (
    DEFAULT_START,
    TimeSpec,
    adverse_events,
    aware_datetimes,
    consents,
    contraindication_codes,
    eligibility_assessments,
    follow_up_visits,
    free_text,
    harvests,
    injections,
    invalid_pain_values,
    pain_scores,
    processings,
    records,
    withdrawal_reasons,
)

__all__ = [
    "DEFAULT_START",
    "EXAMPLE_INJECTION",
    "JourneyMachine",
    "ManualClock",
    "MoveStep",
    "OpenStep",
    "RecordStep",
    "Refusal",
    "Step",
    "TimeSpec",
    "adverse_events",
    "aware_datetimes",
    "consents",
    "contraindication_codes",
    "eligibility_assessments",
    "follow_up_visits",
    "free_text",
    "harvests",
    "injections",
    "invalid_pain_values",
    "memory_store",
    "move_sequences",
    "pain_scores",
    "play",
    "processings",
    "records",
    "treated_journey",
    "withdrawal_reasons",
]
