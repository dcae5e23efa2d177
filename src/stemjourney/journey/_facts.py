"""What the guards read, kept as the journey changes: a small index, not a scan of the record.

A journey carries :class:`JourneyFacts`: the stage visit it is in (when it began, and
the latest record of each kind made in it), the current cycle's treated visit (the
last stage visit of the cycle that held an injection, with its bounds), and the
product stock (released products and the doses used).
Each move or record updates it in constant time, so a guard's cost does not grow with
the journey's records; an amendment, which may replace any earlier entry, rebuilds it.
The update is made when the facts are first read (a pending change, ``(previous
facts, entry)``, until then): a journey that is only stored never pays for it.

"Latest" is by clinical time, and between records of the same time the later entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, cast

from stemjourney.clinical._instruments import PAIN_INSTRUMENTS
from stemjourney.clinical._records import Injection, Processing
from stemjourney.clinical._scores import Score

if TYPE_CHECKING:
    from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry

__all__ = ["JourneyFacts", "StageVisit", "resolve", "slot_of"]

PAIN = "pain"
"""The slot of the latest pain score (any pain instrument) of a stage visit."""


def slot_of(record: object) -> str:
    """The slot a record fills in its stage visit: its kind, or ``"pain"`` for pain scores."""
    if isinstance(record, Score):
        return PAIN if record.instrument in PAIN_INSTRUMENTS else f"score:{record.instrument}"
    kind: str = getattr(record, "kind", "")
    return kind


class StageVisit:
    """One stay in one stage: its move, its cycle, when it began and its latest records.

    ``latest`` maps a slot (a record kind, ``"pain"``) to the latest entry of it made
    in this visit. ``left_at`` is set once the journey has moved on.
    """

    __slots__ = ("cycle", "entered_at", "latest", "left_at", "seq", "stage")

    def __init__(
        self,
        seq: int,
        stage: str,
        cycle: int,
        entered_at: datetime,
        latest: Mapping[str, RecordEntry],
        left_at: datetime | None = None,
    ) -> None:
        self.seq = seq
        self.stage = stage
        self.cycle = cycle
        self.entered_at = entered_at
        self.latest = latest
        self.left_at = left_at

    def get(self, slot: str) -> RecordEntry | None:
        """The latest entry of ``slot`` made in this visit, or ``None``."""
        return self.latest.get(slot)

    def within(self, when: datetime, until: datetime) -> bool:
        """True when ``when`` falls from the visit's start to ``until`` (both included)."""
        return self.entered_at <= when <= until

    def __repr__(self) -> str:
        return f"StageVisit(seq={self.seq}, stage={self.stage!r}, cycle={self.cycle})"


def _later(entry: RecordEntry, than: RecordEntry | None) -> bool:
    if than is None:
        return True
    a, b = entry.record.occurred_at, than.record.occurred_at
    return a > b or (a == b and entry.version > than.version)


class JourneyFacts:
    """The index the guards read (see the module docstring). Built by the journey."""

    __slots__ = ("products", "treated", "used", "visit")

    def __init__(
        self,
        visit: StageVisit,
        treated: StageVisit | None,
        products: Mapping[str, RecordEntry],
        used: Mapping[str, int],
    ) -> None:
        self.visit = visit
        self.treated = treated
        self.products = products
        self.used = used

    @classmethod
    def opened(cls, opening: TransitionEntry) -> JourneyFacts:
        """The facts of a journey just opened."""
        visit = StageVisit(opening.seq, opening.target, opening.cycle, opening.occurred_at, {})
        return cls(visit, None, {}, {})

    @classmethod
    def of(cls, journey: Journey) -> JourneyFacts:
        """Build the facts of ``journey`` from its history and records in force."""
        by_visit: dict[int, list[RecordEntry]] = {}
        for entry in journey.current_records():
            by_visit.setdefault(entry.stage_seq, []).append(entry)
        history = journey.history
        facts = cls.opened(history[0])
        facts = facts._with_all(by_visit.get(history[0].seq, ()))
        for move in history[1:]:
            facts = facts.moved(move)._with_all(by_visit.get(move.seq, ()))
        return facts

    def _with_all(self, entries: Iterable[RecordEntry]) -> JourneyFacts:
        facts = self
        for entry in entries:
            facts = facts.recorded(entry)
        return facts

    def moved(self, move: TransitionEntry) -> JourneyFacts:
        """The facts after ``move``: a new stage visit begins."""
        visit = self.visit
        treated = self.treated
        if move.cycle != visit.cycle:
            treated = None  # a new cycle is treated by its own injection
        elif Injection.kind in visit.latest:
            treated = StageVisit(
                visit.seq,
                visit.stage,
                visit.cycle,
                visit.entered_at,
                visit.latest,
                move.occurred_at,
            )
        return JourneyFacts(
            StageVisit(move.seq, move.target, move.cycle, move.occurred_at, {}),
            treated,
            self.products,
            self.used,
        )

    def recorded(self, entry: RecordEntry) -> JourneyFacts:
        """The facts after ``entry`` was recorded in the current stage visit."""
        record = entry.record
        slot = slot_of(record)
        visit = self.visit
        if _later(entry, visit.latest.get(slot)):
            visit = StageVisit(
                visit.seq, visit.stage, visit.cycle, visit.entered_at, {**visit.latest, slot: entry}
            )
        products, used = self.products, self.used
        if isinstance(record, Processing):
            if _later(entry, products.get(record.product_id)):
                products = {**products, record.product_id: entry}
        elif isinstance(record, Injection):
            used = {**used, record.product_id: used.get(record.product_id, 0) + 1}
        if visit is self.visit and products is self.products and used is self.used:
            return self
        return JourneyFacts(visit, self.treated, products, used)

    def product(self, product_id: str) -> Processing | None:
        """The latest processing record in force of ``product_id``, or ``None``."""
        entry = self.products.get(product_id)
        return None if entry is None else cast(Processing, entry.record)

    def doses_left(self, product_id: str) -> int:
        """How many doses of ``product_id`` are left: its doses less the injections of it."""
        product = self.product(product_id)
        return 0 if product is None else product.doses - self.used.get(product_id, 0)

    def stock(self) -> list[Processing]:
        """The products with a dose left (released or not), in the order they were made."""
        found = []
        for entry in self.products.values():
            product = cast(Processing, entry.record)
            if product.doses > self.used.get(product.product_id, 0):
                found.append(product)
        return found


def resolve(found: object, journey: Journey) -> JourneyFacts:
    """The facts of ``journey``: ``found`` with its pending changes applied, in order.

    ``found`` is facts, a pending change ``(base, entry)`` on them (or on another
    pending change), or ``None``. Each change costs constant time; with nothing to
    start from (a journey built from stored rows, or after an amendment) the facts
    are built from the journey.
    """
    chain: list[object] = []
    while type(found) is tuple:
        found, entry = found
        chain.append(entry)
    if not isinstance(found, JourneyFacts):
        return JourneyFacts.of(journey)
    from stemjourney.journey._journey import TransitionEntry

    for entry in reversed(chain):
        moved = isinstance(entry, TransitionEntry)
        found = found.moved(entry) if moved else found.recorded(entry)  # type: ignore[arg-type]
    return found
