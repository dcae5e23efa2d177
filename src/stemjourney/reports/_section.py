"""The building block every renderer draws: a titled section of prose lines and one table.

Text, Markdown and HTML draw the same sections, so the three say the same things in the
same order; HTML adds the charts and the print layout.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import attrs

from stemjourney.clinical._instruments import INSTRUMENTS, Instrument

__all__ = [
    "OUTCOMES_DOC",
    "Link",
    "Section",
    "direction",
    "fmt",
    "instrument_of",
    "instrument_title",
    "pct",
    "words",
]

OUTCOMES_DOC = (
    '"How outcomes are computed" in the stemjourney documentation '
    "(docs/how-outcomes-are-computed.md)"
)
"""Where the rules a report presents are explained, as the reports cite it."""


@attrs.frozen
class Link:
    """An entry of a table of contents: its text, the anchor it points to, its depth."""

    text: str
    anchor: str
    depth: int = 0


@attrs.frozen
class Section:
    """A heading, lines of prose, an optional table of text cells, and how to lay it out.

    ``notes`` are lines of prose shown after the table (what its columns mean).
    ``kinds`` says, per column, what its cells hold: ``"num"`` (numbers, right-aligned),
    ``"date"`` (kept on one line) or ``""`` (text); ``anchor`` is the
    section's id for links (HTML); ``links`` is a table of contents; ``classes`` are
    layout hints for HTML and print (``sj-new-page`` starts a printed page, ``sj-pair``
    sets the chart beside the table, ``sj-small`` marks a small group, ``sj-identified``
    or ``sj-deidentified`` the kind of patient report).
    """

    title: str
    level: int = 2
    lines: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[str, ...] = ()
    anchor: str = ""
    links: tuple[Link, ...] = ()
    classes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def kind(self, column: int) -> str:
        """What the cells of ``column`` hold: ``"num"``, ``"date"`` or ``""`` for text."""
        return self.kinds[column] if column < len(self.kinds) else ""

    def is_numeric(self, column: int) -> bool:
        """Whether the cells of ``column`` are numbers, to right-align."""
        return self.kind(column) == "num"


def fmt(value: object, digits: int = 1) -> str:
    """A cell's text: numbers rounded to ``digits`` (halves away from zero, as people
    round), ``None`` as a dash, booleans as yes/no.

    >>> fmt(2.0), fmt(33.333), fmt(None), fmt(True), fmt(0.5, 2), fmt(29.4118), fmt(100.0, 0)
    ('2', '33.3', '-', 'yes', '0.5', '29.4', '100')
    >>> fmt(12.5, 0), fmt(-2.25), fmt(-0.04)
    ('13', '-2.3', '0')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isfinite(value):
        step = Decimal(1).scaleb(-digits)
        text = str(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


def pct(value: float | None) -> str:
    """A share as a whole per cent; ``None`` as a dash.

    >>> pct(0.375), pct(None), pct(1.0), pct(0.125)
    ('38%', '-', '100%', '13%')
    """
    return "-" if value is None else f"{fmt(value * 100, 0)}%"


def words(code: str) -> str:
    """A stored code as words for a reader: ``'bone_marrow'`` as ``'bone marrow'``.

    >>> words("follow_up"), words("in_window")
    ('follow-up', 'in window')
    """
    if code == "follow_up":
        return "follow-up"
    return code.replace("_", " ")


def instrument_of(code: str) -> Instrument | None:
    """The registered instrument ``code``, or ``None`` for one the registry does not know."""
    return INSTRUMENTS.get(code)


def direction(higher_is_better: bool | None) -> str:
    """``'higher is better'``, ``'lower is better'``, or ``''`` when unknown."""
    if higher_is_better is None:
        return ""
    return "higher is better" if higher_is_better else "lower is better"


def instrument_title(code: str, name: str | None = None) -> str:
    """The instrument as a heading names it: its name with the code, or the code alone.

    >>> instrument_title("nrs", "Pain numeric rating scale 0-10")
    'Pain numeric rating scale 0-10 (nrs)'
    >>> instrument_title("clinic:not-registered")
    'clinic:not-registered'
    """
    if name is None:
        spec = instrument_of(code)
        name = None if spec is None else spec.name
    return code if name is None else f"{name} ({code})"
