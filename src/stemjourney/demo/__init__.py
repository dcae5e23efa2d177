"""The demo clinic: a few hundred synthetic patients to try everything on.

:func:`build_demo_clinic` writes it to a database through the store's write API;
:func:`demo_clinic` builds it in memory. A seed and a "today" give the same clinic
every time; no real person is in it.
"""

from stemjourney.demo._build import DEFAULT_SEED, DemoSummary, build_demo_clinic
from stemjourney.demo._memory import DemoClinic, demo_clinic
from stemjourney.demo._synthetic import CONDITIONS, Condition, synthetic_clinic

__all__ = [
    "CONDITIONS",
    "DEFAULT_SEED",
    "Condition",
    "DemoClinic",
    "DemoSummary",
    "build_demo_clinic",
    "demo_clinic",
    "synthetic_clinic",
]
