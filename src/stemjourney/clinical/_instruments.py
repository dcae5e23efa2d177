"""Instruments as data: items, ranges, direction, scoring rule, source; and the registry.

The built-in instruments are fixed. A clinic adds its own with
:func:`register_instrument`, which refuses to replace an instrument already known.
:class:`~stemjourney.Score` consults :data:`INSTRUMENTS` to check every value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType

import attrs

from stemjourney.clinical import _fields as f
from stemjourney.clinical import _scoring_rules as _rules
from stemjourney.clinical import _validation as v
from stemjourney.exceptions import DuplicateError, NotFoundError, ValidationError

__all__ = [
    "BUILT_IN",
    "INSTRUMENTS",
    "Instrument",
    "InstrumentRegistry",
    "Item",
    "KOOS_SUBSCALES",
    "PAIN_INSTRUMENTS",
    "get_instrument",
    "register_instrument",
]

Scorer = Callable[[Sequence[float | None]], float | None]
"""A scoring rule: one answer per item (``None`` when unanswered) to a score, or ``None``."""

_TOLERANCE = 1e-9

PAIN_INSTRUMENTS: dict[str, tuple[float, float, bool]] = {
    "nrs": (0, 10, True),
    "vas": (0, 100, False),
}
"""Pain scales: (lowest, highest, integers only). NRS 0-10 points, VAS 0-100 mm."""


@attrs.frozen
class Item:
    """One question of an instrument and the answers it allows."""

    code: str = f.code_field()
    low: float = f.quantity()
    high: float = f.quantity()
    integer: bool = f.flag(default=True)

    def __attrs_post_init__(self) -> None:
        if self.high <= self.low:
            raise ValidationError("Item", f"'{self.code}' has high <= low", "low below high")

    def check(self, instrument: str, value: object) -> float | None:
        """Return ``value`` as a float (``None`` passes), or raise naming the item."""
        if value is None:
            return None
        return v.number(
            f"answers[{self.code}]",
            value,
            low=self.low,
            high=self.high,
            integer=self.integer,
            unit=f"for {instrument}",
        )


def _items(value: Iterable[Item]) -> tuple[Item, ...]:
    items = tuple(value)
    codes = [i.code for i in items]
    if len(set(codes)) != len(codes):
        raise ValidationError("items", "repeats an item code", "distinct item codes")
    return items


def _missing_rule(value: object) -> str:
    return v.clean_text("missing_rule", value, max_length=300)


def _unit(value: object) -> str:
    return v.clean_text("unit", value, max_length=20)


@attrs.frozen(kw_only=True)
class Instrument:
    """A pain scale or questionnaire: what it asks, how it is scored, where that rule is from.

    ``items`` is empty for a scale whose value is entered directly (NRS, VAS);
    otherwise ``scorer`` turns one answer per item into the score, or ``None``
    when too few are answered, and ``missing_rule`` says in words what it needs.

    >>> get_instrument("odi").score([2, 2, 2, 2, 2, 2, 1, 1, 1, 1])
    32.0
    """

    code: str = f.code_field()
    name: str = f.text(max_length=200)
    low: float = f.quantity()
    high: float = f.quantity()
    higher_is_better: bool = f.flag()
    source: str = f.text(max_length=1000)
    items: tuple[Item, ...] = attrs.field(default=(), converter=_items)
    scorer: Scorer | None = attrs.field(default=None, eq=False)
    missing_rule: str = attrs.field(default="every item answered", converter=_missing_rule)
    integer: bool = f.flag(default=False)
    unit: str = attrs.field(default="points", converter=_unit)
    loinc: str | None = f.optional_text(max_length=20)

    def __attrs_post_init__(self) -> None:
        if self.high <= self.low:
            raise ValidationError("Instrument", f"'{self.code}' has high <= low", "low below high")
        if bool(self.items) != (self.scorer is not None):
            raise ValidationError(
                "Instrument",
                f"'{self.code}' has items without a scorer, or a scorer without items",
                "both items and a scorer, or neither (a value entered directly)",
            )

    @property
    def best(self) -> float:
        """The end of the range that means no problem at all."""
        return self.high if self.higher_is_better else self.low

    def check_value(self, value: object) -> float:
        """Return ``value`` as a float when this instrument allows it, else raise."""
        return v.number(
            "value", value, low=self.low, high=self.high, integer=self.integer, unit=self.unit
        )

    def check_answers(self, answers: object) -> tuple[float | None, ...]:
        """Each answer checked against its item; raise naming the item and what it allows."""
        if not self.items:
            raise ValidationError(
                "answers", f"instrument {self.code} takes no item answers", "None"
            )
        if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
            raise ValidationError(
                "answers", f"expected a sequence for {self.code}", "a tuple of answers or None"
            )
        if len(answers) != len(self.items):
            raise ValidationError(
                "answers",
                f"{len(answers)} answers given for {self.code}",
                f"exactly {len(self.items)} (None for an unanswered item)",
            )
        return tuple(item.check(self.code, a) for item, a in zip(self.items, answers, strict=True))

    def score(self, answers: object) -> float:
        """The score of ``answers`` by the published rule; raise when it cannot be scored."""
        checked = self.check_answers(answers)
        assert self.scorer is not None  # check_answers refuses an instrument without items
        result = self.scorer(checked)
        if result is None:
            answered = sum(a is not None for a in checked)
            raise ValidationError(
                "answers",
                f"{answered} of {len(checked)} items answered; {self.code} cannot be scored",
                self.missing_rule,
            )
        return self.check_value(result)

    def check_score(self, value: object, answers: object) -> float:
        """Check a stored score: its value in range and, with answers, equal to their score."""
        checked = self.check_value(value)
        if answers is not None and not math.isclose(
            checked, self.score(answers), rel_tol=0, abs_tol=_TOLERANCE
        ):
            raise ValidationError(
                "value",
                f"does not match the {self.code} score of its answers",
                "the score the answers give (see score_questionnaire)",
            )
        return checked


class InstrumentRegistry:
    """Instruments by code: the built-in ones, fixed, plus a clinic's own.

    >>> registry = InstrumentRegistry(BUILT_IN)
    >>> registry.register(get_instrument("nrs"))
    Traceback (most recent call last):
    ...
    stemjourney.exceptions.DuplicateError: instrument 'nrs' is built in; register a new code
    """

    def __init__(self, built_in: Iterable[Instrument] = ()) -> None:
        fixed = {i.code: i for i in built_in}
        self._built_in = MappingProxyType(fixed)
        self._own: dict[str, Instrument] = {}

    def register(self, instrument: Instrument) -> Instrument:
        """Add a clinic's instrument; raise :class:`DuplicateError` if its code is taken."""
        if not isinstance(instrument, Instrument):
            raise ValidationError(
                "instrument", f"expected an Instrument, got {type(instrument).__name__}", "one"
            )
        if instrument.code in self._built_in:
            raise DuplicateError(f"instrument '{instrument.code}' is built in; register a new code")
        if instrument.code in self._own:
            raise DuplicateError(f"instrument '{instrument.code}' is already registered")
        self._own[instrument.code] = instrument
        return instrument

    def get(self, code: str) -> Instrument | None:
        """The instrument with ``code``, or ``None``."""
        found = self._built_in.get(code)
        return self._own.get(code) if found is None else found

    def __getitem__(self, code: str) -> Instrument:
        found = self.get(code)
        if found is None:
            raise NotFoundError("instrument", code)
        return found

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def __iter__(self) -> Iterator[str]:
        return iter((*self._built_in, *self._own))

    def __len__(self) -> int:
        return len(self._built_in) + len(self._own)

    def is_built_in(self, code: str) -> bool:
        """Whether ``code`` is one of the instruments stemjourney ships."""
        return code in self._built_in


def _numbered(prefix: str, count: int, low: float, high: float) -> tuple[Item, ...]:
    return tuple(Item(f"{prefix}{n}", low, high) for n in range(1, count + 1))


_KOOS_SOURCE = (
    "Roos EM, Lohmander LS. The Knee injury and Osteoarthritis Outcome Score (KOOS): "
    "from joint injury to osteoarthritis. Health Qual Life Outcomes 2003;1:64; KOOS "
    "User's Guide (koos.nu): 100 - mean item x 25, at least half the items answered."
)
KOOS_SUBSCALES: dict[str, tuple[str, str, int]] = {
    "koos_symptoms": ("KOOS Symptoms", "s", 7),
    "koos_pain": ("KOOS Pain", "p", 9),
    "koos_adl": ("KOOS Function in daily living (ADL)", "a", 17),
    "koos_sport": ("KOOS Function in sport and recreation", "sp", 5),
    "koos_qol": ("KOOS Knee-related quality of life", "q", 4),
}
"""KOOS subscales in the order of the form: code to (name, item prefix, item count)."""
_KOOS_LOINC = {
    "koos_symptoms": "72101-9",
    "koos_pain": "72102-7",
    "koos_adl": "72100-1",
    "koos_sport": "72099-5",
    "koos_qol": "72098-7",
}


def _koos(code: str) -> Instrument:
    name, prefix, count = KOOS_SUBSCALES[code]
    return Instrument(
        code=code,
        name=name,
        low=0,
        high=100,
        higher_is_better=True,
        source=_KOOS_SOURCE,
        items=_numbered(prefix, count, 0, 4),
        scorer=_rules.koos_subscale,
        missing_rule=f"at least {math.ceil(count / 2)} of {count} items answered",
        loinc=_KOOS_LOINC[code],
    )


BUILT_IN: tuple[Instrument, ...] = (
    Instrument(
        code="nrs",
        name="Pain numeric rating scale 0-10",
        low=PAIN_INSTRUMENTS["nrs"][0],
        high=PAIN_INSTRUMENTS["nrs"][1],
        integer=PAIN_INSTRUMENTS["nrs"][2],
        higher_is_better=False,
        source="Farrar JT et al. Pain 2001;94:149-158 (whole numbers 0-10).",
        loinc="72514-3",
    ),
    Instrument(
        code="vas",
        name="Pain visual analogue scale 0-100 mm",
        low=PAIN_INSTRUMENTS["vas"][0],
        high=PAIN_INSTRUMENTS["vas"][1],
        integer=PAIN_INSTRUMENTS["vas"][2],
        higher_is_better=False,
        unit="mm",
        source="Ostelo RW et al. Spine 2008;33:90-94 (0-100 mm line).",
        loinc="38214-3",
    ),
    *(_koos(code) for code in KOOS_SUBSCALES),
    Instrument(
        code="odi",
        name="Oswestry Disability Index",
        low=0,
        high=100,
        higher_is_better=False,
        unit="%",
        source="Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine 2000;25:2940-2952.",
        items=_numbered("s", 10, 0, 5),
        scorer=_rules.odi,
        missing_rule="at least 8 of 10 sections answered",
        loinc="97909-6",
    ),
    Instrument(
        code="ndi",
        name="Neck Disability Index",
        low=0,
        high=100,
        higher_is_better=False,
        unit="%",
        source=(
            "Vernon H, Mior S. The Neck Disability Index. J Manipulative Physiol Ther "
            "1991;14:409-415; Vernon H. J Manipulative Physiol Ther 2008;31:491-502."
        ),
        items=_numbered("i", 10, 0, 5),
        scorer=_rules.ndi,
        missing_rule="at least 8 of 10 items answered",
    ),
    Instrument(
        code="quickdash",
        name="QuickDASH",
        low=0,
        high=100,
        higher_is_better=False,
        source=(
            "Beaton DE, Wright JG, Katz JN. Development of the QuickDASH. J Bone Joint "
            "Surg Am 2005;87:1038-1046."
        ),
        items=_numbered("q", 11, 1, 5),
        scorer=_rules.quickdash,
        missing_rule="at least 10 of 11 items answered",
    ),
    Instrument(
        code="ases",
        name="American Shoulder and Elbow Surgeons shoulder score",
        low=0,
        high=100,
        higher_is_better=True,
        source=(
            "Richards RR et al. A standardized method for the assessment of shoulder "
            "function. J Shoulder Elbow Surg 1994;3:347-352."
        ),
        items=(Item("pain_vas_cm", 0, 10, integer=False), *_numbered("f", 10, 0, 3)),
        scorer=_rules.ases,
        missing_rule="the pain VAS and all 10 activity items answered",
    ),
)
"""The instruments stemjourney ships. WOMAC is licensed, so its items are not included."""

INSTRUMENTS = InstrumentRegistry(BUILT_IN)
"""The registry :class:`~stemjourney.Score` consults: built-ins plus a clinic's own."""


def get_instrument(code: str) -> Instrument:
    """The instrument with ``code`` in :data:`INSTRUMENTS`; raise :class:`NotFoundError`."""
    return INSTRUMENTS[code]


def register_instrument(instrument: Instrument) -> Instrument:
    """Register a clinic's own instrument in :data:`INSTRUMENTS` (built-ins cannot be replaced).

    >>> from stemjourney.outcomes import Item
    >>> own = Instrument(code="clinic:grip", name="Grip comfort", low=0, high=20,
    ...                  higher_is_better=True, source="Clinic protocol 2026",
    ...                  items=(Item("g1", 0, 10), Item("g2", 0, 10)),
    ...                  scorer=lambda a: None if None in a else float(sum(a)))
    >>> register_instrument(own).score([4, 5])
    9.0
    """
    return INSTRUMENTS.register(instrument)
