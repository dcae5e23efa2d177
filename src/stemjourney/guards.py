"""The built-in guards, for building a pipeline of your own.

Each guard is a :class:`~stemjourney.Guard`: a name, a description and a check that
returns every requirement a move lacks. The default table
(:data:`~stemjourney.DEFAULT_PIPELINE`) uses them; a custom pipeline can reuse them
beside guards of its own.

>>> from stemjourney import Pipeline, Transition
>>> from stemjourney.guards import HARVEST_READY, NONE
>>> mini = Pipeline(
...     [Transition("consultation", "harvest", HARVEST_READY),
...      Transition("harvest", "completed", NONE, needs_reason=True)],
...     initial="consultation", outcomes={"completed"})
>>> mini.find("consultation", "harvest").guard.name
'eligible_consented_baseline'
"""

from stemjourney.journey._guards import (
    HARVEST_READY,
    HARVEST_RECORDED,
    INJECTION_RECORDED,
    NONE,
    PRODUCT_FAILED,
    PRODUCT_RELEASED,
    REST_OVER,
    STORED_PRODUCT,
    GuardContext,
)

__all__ = [
    "HARVEST_READY",
    "HARVEST_RECORDED",
    "INJECTION_RECORDED",
    "NONE",
    "PRODUCT_FAILED",
    "PRODUCT_RELEASED",
    "REST_OVER",
    "STORED_PRODUCT",
    "GuardContext",
]
