"""Records and scores to JSON-able dicts and back, for the store, reports and exports.

A record is encoded as a dict of its fields plus its ``kind``; times become UTC text
as SQLite writes it (``2026-01-05 09:00:00``, with microseconds only when there are
any: it sorts as time does), dates ISO dates, frozensets sorted lists, tuples lists
and enums their values. Decoding looks the class up by ``kind``
and lets the class's own converters check every field again.

>>> from datetime import UTC, datetime
>>> from stemjourney.clinical._scores import nrs
>>> data = encode_record(nrs(7, datetime(2026, 1, 5, 9, tzinfo=UTC)))
>>> data["kind"], data["measured_at"]
('score', '2026-01-05 09:00:00')
>>> decode_record(data) == nrs(7, datetime(2026, 1, 5, 9, tzinfo=UTC))
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import attrs

from stemjourney.clinical._records import (
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    FollowUpVisit,
    Harvest,
    IneligibilityReason,
    Injection,
    Processing,
    Record,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score
from stemjourney.exceptions import ValidationError

__all__ = [
    "RECORD_TYPES",
    "canonical_json",
    "decode_record",
    "encode",
    "encode_record",
    "parse_time",
    "time_text",
]

RECORD_TYPES: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        EligibilityAssessment,
        Consent,
        Harvest,
        Processing,
        Injection,
        FollowUpVisit,
        AdverseEvent,
        Score,
        WithdrawalReason,
        IneligibilityReason,
        VoidReason,
    )
}
"""Every record class the codec knows, by its ``kind``."""


_CLOCK = tuple(f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_SECONDS = tuple(f"{second:02d}" for second in range(60))
_DAYS: dict[int, str] = {}
_DAYS_KEPT = 1 << 16
"""How many days' text :func:`time_text` keeps: a clinic's whole calendar for decades."""


def time_text(moment: datetime) -> str:
    """An aware datetime as UTC text, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (sortable as text).

    The text of ``moment.astimezone(UTC).isoformat(" ")`` without the offset, and
    without microseconds when there are none; put together from the day's text (kept)
    and the time of day, as a bulk import writes a million of them
    (``tests/test_codec.py`` checks it equal to that formula).

    >>> time_text(datetime(2026, 1, 5, 9, tzinfo=UTC))
    '2026-01-05 09:00:00'
    >>> time_text(datetime(2026, 1, 5, 9, 0, 0, 5, UTC))
    '2026-01-05 09:00:00.000005'
    """
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    ordinal = moment.toordinal()
    day = _DAYS.get(ordinal)
    if day is None:
        day = moment.date().isoformat() + " "
        if len(_DAYS) < _DAYS_KEPT:
            _DAYS[ordinal] = day
    text = day + _CLOCK[moment.hour * 60 + moment.minute] + _SECONDS[moment.second]
    micro = moment.microsecond
    return f"{text}.{micro:06d}" if micro else text


def parse_time(text: str) -> datetime:
    """The aware UTC datetime :func:`time_text` wrote (text with an offset is read as such)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def encode(value: object) -> Any:
    """Any stemjourney value as JSON-able data (attrs classes become dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return time_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    cls: Any = type(value)
    if attrs.has(cls):
        data = {a.name: encode(getattr(value, a.name)) for a in attrs.fields(cls)}
        kind = getattr(cls, "kind", None)
        if isinstance(kind, str):
            data["kind"] = kind
        return data
    raise TypeError(f"cannot encode a {cls.__name__}")


def encode_record(record: Record | Score) -> dict[str, Any]:
    """A record or score as a dict with its ``kind``."""
    data: dict[str, Any] = encode(record)
    return data


def _decoder(annotation: object) -> Callable[[Any], Any] | None:
    text = str(annotation)
    if "datetime" in text:
        return lambda v: None if v is None else parse_time(v)
    if "date" in text:
        return lambda v: None if v is None else date.fromisoformat(v)
    if "frozenset" in text:
        return lambda v: None if v is None else frozenset(v)
    if "tuple" in text:
        return lambda v: None if v is None else tuple(v)
    return None


_DECODERS: dict[str, dict[str, Callable[[Any], Any]]] = {}


def _decoders(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    found = _DECODERS.get(cls.kind)
    if found is None:
        found = {}
        for a in attrs.fields(cls):
            decoder = _decoder(a.type)
            if decoder is not None:
                found[a.name] = decoder
        _DECODERS[cls.kind] = found
    return found


def decode_record(data: Mapping[str, Any]) -> Any:
    """The record :func:`encode_record` encoded, checked again by its class.

    Raises :class:`~stemjourney.exceptions.ValidationError` for an unknown ``kind``
    or a field the class refuses.
    """
    kind = data.get("kind")
    cls = RECORD_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValidationError("kind", "is not a known record kind", ", ".join(sorted(RECORD_TYPES)))
    decoders = _decoders(cls)
    fields = {}
    for name, value in data.items():
        if name == "kind":
            continue
        decoder = decoders.get(name)
        fields[name] = value if decoder is None else decoder(value)
    return cls(**fields)


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(data: object) -> str:
    """Compact JSON with sorted keys: the same data always gives the same text."""
    return _CANONICAL.encode(data)
