"""attrs field factories that validate at the edge and name the field in their errors."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, TypeVar

import attrs

from stemjourney.clinical import _validation as v
from stemjourney.exceptions import ValidationError

E = TypeVar("E", bound=StrEnum)

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def text(*, max_length: int = v.MAX_TEXT) -> Any:
    """A required free-text field."""
    return attrs.field(
        converter=attrs.Converter(
            lambda val, f: v.clean_text(f.name, val, max_length=max_length), takes_field=True
        )
    )


def optional_text(*, max_length: int = v.MAX_TEXT) -> Any:
    """An optional free-text field (``None`` by default)."""
    return attrs.field(
        default=None,
        converter=attrs.Converter(
            lambda val, f: v.optional_text(f.name, val, max_length=max_length), takes_field=True
        ),
    )


def moment() -> Any:
    """A required timezone-aware datetime, stored in UTC."""
    return attrs.field(
        converter=attrs.Converter(lambda val, f: v.aware(f.name, val), takes_field=True)
    )


def quantity(*, low: float | None = None, high: float | None = None, unit: str = "") -> Any:
    """A required finite number within ``[low, high]``."""
    return attrs.field(
        converter=attrs.Converter(
            lambda val, f: v.number(f.name, val, low=low, high=high, unit=unit), takes_field=True
        )
    )


def optional_quantity(*, low: float | None = None, high: float | None = None) -> Any:
    """An optional finite number within ``[low, high]``."""
    return attrs.field(
        default=None,
        converter=attrs.Converter(
            lambda val, f: v.optional_number(f.name, val, low=low, high=high), takes_field=True
        ),
    )


def whole(*, low: int | None = None, high: int | None = None, default: int | None = None) -> Any:
    """A required integer within ``[low, high]``; bools and fractions are refused."""
    conv: attrs.Converter[Any, Any] = attrs.Converter(
        lambda val, f: v.integer(f.name, val, low=low, high=high), takes_field=True
    )
    if default is None:
        return attrs.field(converter=conv)
    return attrs.field(default=default, converter=conv)


def flag(*, default: bool | None = None) -> Any:
    """A required boolean; 0, 1 and strings are refused."""

    def check(val: object, f: Any) -> bool:
        if not isinstance(val, bool):
            raise ValidationError(
                f.name, f"expected true or false, got {type(val).__name__}", "a bool"
            )
        return val

    conv: attrs.Converter[Any, Any] = attrs.Converter(check, takes_field=True)
    if default is None:
        return attrs.field(converter=conv)
    return attrs.field(default=default, converter=conv)


def enum_value(enum: type[E], value: object, field: str) -> E:
    """Return ``value`` as a member of ``enum`` (its string value is accepted too)."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError(
            field, "is not a known value", ", ".join(m.value for m in enum)
        ) from None


def member(enum: type[E], *, default: E | None = None) -> Any:
    """A field holding a member of ``enum``; its string value is accepted too."""
    conv: attrs.Converter[Any, Any] = attrs.Converter(
        lambda val, f: enum_value(enum, val, f.name), takes_field=True
    )
    if default is None:
        return attrs.field(converter=conv)
    return attrs.field(default=default, converter=conv)


def code(value: object, field: str) -> str:
    """Check a short machine code: lowercase letters, digits and ``_.:-``, 64 at most."""
    if not isinstance(value, str) or not _CODE.match(value):
        raise ValidationError(
            field, "is not a valid code", "lowercase letters, digits and _.:- (64 at most)"
        )
    return value


ID_ALLOWED = (
    "letters, digits and _.:- (64 at most, starting with a letter or digit); upper case, "
    "full-width forms and surrounding spaces are normalised"
)
"""What an id field accepts, as its errors say."""


def identifier(value: object, field: str) -> str:
    """Return a clinic's own id ("BMAC-2026-0042") normalised as external ids are.

    NFKC, trimmed and case-folded (``"bmac-2026-0042"``), then checked as a
    :func:`code`; two spellings of one id are the same id.

    >>> identifier(" BMAC-2026-0042", "product_id")
    'bmac-2026-0042'
    """
    if isinstance(value, str):
        if _CODE.match(value):
            return value
        key = v.normalised_key(value)
        if _CODE.match(key):
            return key
    raise ValidationError(field, "is not a valid id", ID_ALLOWED)


def identifier_field() -> Any:
    """A required id, normalised (see :func:`identifier`)."""
    return attrs.field(
        converter=attrs.Converter(lambda val, f: identifier(val, f.name), takes_field=True)
    )


def code_field() -> Any:
    """A required short machine code (see :func:`code`)."""
    return attrs.field(
        converter=attrs.Converter(lambda val, f: code(val, f.name), takes_field=True)
    )


def one_of(options: tuple[str, ...], *, default: str | None = None) -> Any:
    """A required string that must be one of ``options``."""
    conv: attrs.Converter[Any, Any] = attrs.Converter(
        lambda val, f: v.choice(f.name, val, options), takes_field=True
    )
    if default is None:
        return attrs.field(converter=conv)
    return attrs.field(default=default, converter=conv)


def optional_member(enum: type[E]) -> Any:
    """An optional member of ``enum`` (``None`` by default)."""
    return attrs.field(
        default=None,
        converter=attrs.Converter(
            lambda val, f: None if val is None else enum_value(enum, val, f.name), takes_field=True
        ),
    )
