"""The built-in guards, for building a pipeline of your own, and what satisfies each.

Each guard is a :class:`~stemjourney.Guard`: a name, a description and a check that
returns every requirement a move lacks. The default table
(:data:`~stemjourney.DEFAULT_PIPELINE`) uses them; a custom pipeline can reuse them
beside guards of its own. A guard reads the journey's :class:`JourneyFacts` (the
stage visit it is in, :class:`StageVisit`, with the latest record of each kind made
there; the cycle's injection; the product stock), so its cost does not grow with the
record. :data:`SATISFIERS` maps each guard to the records that satisfy it (a
:class:`Preparation`); the test machine reads it, and a pipeline with guards of its own
extends it.

>>> from stemjourney import Pipeline, Transition
>>> from stemjourney.guards import HARVEST_READY, NONE
>>> mini = Pipeline(
...     [Transition("consultation", "harvest", HARVEST_READY),
...      Transition("harvest", "completed", NONE, needs_reason=True)],
...     initial="consultation", outcomes={"completed"})
>>> mini.find("consultation", "harvest").guard.name
'eligible_consented_baseline'
"""

from stemjourney.journey._facts import JourneyFacts, StageVisit
from stemjourney.journey._guards import (
    AFTER_THE_FACT,
    HARVEST_READY,
    HARVEST_RECORDED,
    INJECTION_RECORDED,
    NONE,
    PRODUCT_FAILED,
    PRODUCT_RELEASED,
    REST_OVER,
    STORED_PRODUCT,
    GuardContext,
    Requirement,
)
from stemjourney.journey._satisfiers import SATISFIERS, Preparation, Satisfier

__all__ = [
    "AFTER_THE_FACT",
    "HARVEST_READY",
    "HARVEST_RECORDED",
    "INJECTION_RECORDED",
    "NONE",
    "PRODUCT_FAILED",
    "PRODUCT_RELEASED",
    "REST_OVER",
    "SATISFIERS",
    "STORED_PRODUCT",
    "GuardContext",
    "JourneyFacts",
    "Preparation",
    "Requirement",
    "Satisfier",
    "StageVisit",
]
