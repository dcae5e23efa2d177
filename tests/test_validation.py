"""The edge checks: free text, numbers and aware datetimes."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from hypothesis import given

from stemjourney.clinical import _validation as v
from stemjourney.exceptions import ValidationError
from stemjourney.testing import aware_datetimes, free_text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "expected text, got NoneType"),
        (5, "expected text, got int"),
        (b"abc", "expected text, got bytes"),
        ("", "is empty"),
        ("   \n\t", "is empty"),
        ("a\x00b", "contains control character U+0000"),
        ("a\x1bb", "contains control character U+001B"),
        ("a\x7fb", "contains control character U+007F"),
        ("a\rb", "contains control character U+000D"),
        ("x" * 11, "is 11 characters long"),
    ],
)
def test_clean_text_refuses(value: object, problem: str) -> None:
    """Non-text, blank, control characters and oversized text are refused, naming the field."""
    with pytest.raises(ValidationError) as info:
        v.clean_text("note", value, max_length=10)
    assert info.value.field == "note"
    assert info.value.problem == problem


def test_clean_text_allows_tabs_newlines_and_unicode() -> None:
    """Tabs, newlines, accents and non-Latin scripts pass unchanged."""
    text = "Douleur\tgenou\n\u043f\u043e\u0441\u043b\u0435 日本 ✓ é"
    assert v.clean_text("note", text) == text


def test_clean_text_normalises_to_nfc() -> None:
    """Decomposed text is returned composed (NFC), so equal text compares equal."""
    decomposed = "Jose\u0301"
    assert v.clean_text("note", decomposed) == "José"
    assert unicodedata.is_normalized("NFC", v.clean_text("note", decomposed))


def test_length_is_counted_after_normalisation() -> None:
    """The length limit applies to the NFC form: a decomposed accent counts once."""
    assert v.clean_text("note", "e\u0301" * 5, max_length=5) == "é" * 5


def test_default_text_limit() -> None:
    """Text up to MAX_TEXT characters passes; one more is refused."""
    assert len(v.clean_text("note", "a" * v.MAX_TEXT)) == v.MAX_TEXT
    with pytest.raises(ValidationError):
        v.clean_text("note", "a" * (v.MAX_TEXT + 1))


def test_optional_text() -> None:
    """None passes through optional text; anything else is checked."""
    assert v.optional_text("note", None) is None
    with pytest.raises(ValidationError):
        v.optional_text("note", "")


@given(free_text())
def test_free_text_strategy_is_accepted(text: str) -> None:
    """Every text the testing strategy draws is accepted as is (up to NFC)."""
    assert v.clean_text("note", text) == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, "expected a number, got bool"),
        (False, "expected a number, got bool"),
        ("7", "expected a number, got str"),
        (None, "expected a number, got NoneType"),
        (math.nan, "is not finite"),
        (math.inf, "is not finite"),
        (-math.inf, "is not finite"),
        (-0.5, "is out of range"),
        (10.5, "is out of range"),
    ],
)
def test_number_refuses(value: object, problem: str) -> None:
    """Bools, strings, NaN, infinities and out-of-range values are refused with the range."""
    with pytest.raises(ValidationError) as info:
        v.number("volume_ml", value, low=0, high=10, unit="mL")
    assert info.value.field == "volume_ml"
    assert info.value.problem == problem
    assert info.value.allowed == "0 to 10 mL"


@pytest.mark.parametrize(
    ("low", "high", "allowed"),
    [(0.5, None, "at least 0.5"), (None, 2, "at most 2"), (None, None, "a finite number")],
)
def test_number_describes_its_range(low: float | None, high: float | None, allowed: str) -> None:
    """The allowed range is described from whichever bounds exist."""
    with pytest.raises(ValidationError) as info:
        v.number("x", math.nan, low=low, high=high)
    assert info.value.allowed == allowed


def test_number_bounds_are_inclusive() -> None:
    """Both ends of the range are accepted; ints come back as floats."""
    assert v.number("x", 0, low=0, high=10) == 0.0
    assert v.number("x", 10, low=0, high=10) == 10.0
    assert isinstance(v.number("x", 3), float)


def test_integer_refuses_fractions_and_bools() -> None:
    """integer() refuses fractions and bools and accepts whole floats."""
    assert v.integer("grade", 3.0, low=1, high=5) == 3
    with pytest.raises(ValidationError, match="not a whole number"):
        v.integer("grade", 2.5)
    with pytest.raises(ValidationError, match="got bool"):
        v.integer("grade", True)
    with pytest.raises(ValidationError, match="an integer"):
        v.integer("grade", "3")


def test_optional_number() -> None:
    """None passes through optional numbers; others are checked."""
    assert v.optional_number("x", None) is None
    assert v.optional_number("x", 2, low=0) == 2.0
    with pytest.raises(ValidationError):
        v.optional_number("x", -1, low=0)


def test_choice() -> None:
    """choice() accepts a listed option and lists the options when refusing."""
    assert v.choice("contact", "phone", ("phone", "video")) == "phone"
    with pytest.raises(ValidationError) as info:
        v.choice("contact", 3, ("phone", "video"))
    assert info.value.allowed == "phone, video"


@pytest.mark.parametrize("value", [datetime(2026, 1, 5), "2026-01-05T09:00Z", 1767600000, None])
def test_aware_refuses_naive_and_non_datetimes(value: object) -> None:
    """Naive datetimes, strings, numbers and None are refused as times."""
    with pytest.raises(ValidationError) as info:
        v.aware("occurred_at", value)
    assert info.value.field == "occurred_at"
    assert info.value.allowed == "a timezone-aware datetime"


def test_aware_refuses_tzinfo_without_offset() -> None:
    """A tzinfo whose utcoffset() is None counts as naive."""

    class NoOffset(tzinfo):
        def utcoffset(self, dt: Any) -> None:
            return None

    with pytest.raises(ValidationError, match="no timezone"):
        v.aware("at", datetime(2026, 1, 5, tzinfo=NoOffset()))


@given(aware_datetimes())
def test_aware_keeps_the_instant_in_utc(when: datetime) -> None:
    """An aware datetime comes back as the same instant, in UTC."""
    converted = v.aware("at", when)
    assert converted == when
    assert converted.tzinfo is UTC


def test_optional_aware() -> None:
    """None passes through optional times."""
    assert v.optional_aware("at", None) is None
    local = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    assert v.optional_aware("at", local) == datetime(2026, 1, 5, 9, tzinfo=UTC)
