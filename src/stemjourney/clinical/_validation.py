"""Checks at the edge: the validators every record and score uses.

Each raises :class:`~stemjourney.exceptions.ValidationError` naming the field and
what is allowed; none echoes the offending text back, since it may hold health
information.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

from stemjourney.exceptions import ValidationError

MAX_TEXT = 4000
"""The longest free text accepted, in characters."""

_ALLOWED_CONTROL = {"\n", "\t"}


def clean_text(field: str, value: object, *, max_length: int = MAX_TEXT) -> str:
    """Return ``value`` as NFC text after checking it is sensible free text.

    Refused: a non-string, empty or blank text, NUL and control characters (tab and
    newline are allowed), lone surrogates (not Unicode text: they cannot be stored),
    text over ``max_length`` characters.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"expected text, got {type(value).__name__}", "a string")
    text = value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)
    if not text.strip():
        raise ValidationError(field, "is empty", "non-blank text")
    if len(text) > max_length:
        raise ValidationError(
            field, f"is {len(text)} characters long", f"at most {max_length} characters"
        )
    if text.isprintable():
        return text
    for ch in text:
        kind = unicodedata.category(ch)
        if ch not in _ALLOWED_CONTROL and kind == "Cc":
            raise ValidationError(
                field,
                f"contains control character U+{ord(ch):04X}",
                "printable text, tabs and newlines",
            )
        if kind == "Cs":
            raise ValidationError(
                field, "contains a lone surrogate (not valid Unicode)", "valid Unicode text"
            )
    return text


def normalised_key(text: str) -> str:
    """``text`` as ids and external ids are compared: NFKC, trimmed, case-folded.

    >>> normalised_key("  BMAC-2026-0042 ")
    'bmac-2026-0042'
    """
    return unicodedata.normalize("NFKC", text).strip().casefold()


def optional_text(field: str, value: object, *, max_length: int = MAX_TEXT) -> str | None:
    """Like :func:`clean_text`, but ``None`` passes through."""
    if value is None:
        return None
    return clean_text(field, value, max_length=max_length)


def aware(field: str, value: object) -> datetime:
    """Return ``value`` converted to UTC, refusing anything but an aware datetime."""
    if not isinstance(value, datetime):
        raise ValidationError(
            field, f"expected a datetime, got {type(value).__name__}", "a timezone-aware datetime"
        )
    if value.tzinfo is UTC:  # already UTC: the common case, returned as is
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "has no timezone", "a timezone-aware datetime")
    return value.astimezone(UTC)


def optional_aware(field: str, value: object) -> datetime | None:
    """Like :func:`aware`, but ``None`` passes through."""
    return None if value is None else aware(field, value)


def number(
    field: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    unit: str = "",
) -> float:
    """Return ``value`` as a float after range and type checks.

    Refused: bools, non-numbers, NaN and infinities, values outside ``[low, high]``,
    and (with ``integer=True``) values with a fractional part.
    """
    kind_of = type(value)
    if (
        kind_of is not int
        and kind_of is not float
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        kind = "an integer" if integer else "a number"
        raise ValidationError(
            field, f"expected {kind}, got {type(value).__name__}", _span(low, high, unit)
        )
    as_float = float(value)  # type: ignore[arg-type]  # an int or a float, checked above
    if not math.isfinite(as_float):
        raise ValidationError(field, "is not finite", _span(low, high, unit))
    if integer and not as_float.is_integer():
        raise ValidationError(
            field, "is not a whole number", f"whole numbers {_span(low, high, unit)}"
        )
    if (low is not None and as_float < low) or (high is not None and as_float > high):
        raise ValidationError(field, "is out of range", _span(low, high, unit))
    return as_float


def integer(field: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, refusing bools, fractions and values out of range."""
    return int(number(field, value, low=low, high=high, integer=True))


def processes(field: str, value: object) -> int | None:
    """Return ``value`` as a number of processes (a whole number of 1 or more, not a bool),
    or ``None``: the library chooses."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValidationError(field, "is not a positive integer", "1 or more processes")
    return value


def optional_number(
    field: str, value: object, *, low: float | None = None, high: float | None = None
) -> float | None:
    """Like :func:`number`, but ``None`` passes through."""
    return None if value is None else number(field, value, low=low, high=high)


def choice(field: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``allowed``, else raise naming the choices."""
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        raise ValidationError(field, "is not a known value", ", ".join(options))
    return value


def _span(low: float | None, high: float | None, unit: str) -> str:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{_fmt(low)} to {_fmt(high)}{suffix}"
    if low is not None:
        return f"at least {_fmt(low)}{suffix}"
    if high is not None:
        return f"at most {_fmt(high)}{suffix}"
    return f"a finite number{suffix}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
