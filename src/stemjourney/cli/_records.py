"""Records and scores from what a person types: JSON objects, instrument names, numbers.

Each refusal is a :class:`~stemjourney.exceptions.ValidationError` that names the field
and what is allowed (the fields of the kind, the registered instruments, the time
rule), never the value given.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

import attrs

from stemjourney.cli._params import parse_day, parse_moment
from stemjourney.exceptions import ValidationError

__all__ = ["RECORD_KINDS", "check_instrument", "record_from_json", "score"]

RECORD_KINDS = (
    "eligibility",
    "consent",
    "harvest",
    "processing",
    "injection",
    "follow_up_visit",
    "adverse_event",
    "score",
)
"""The kinds ``journey record`` and ``journey amend`` take."""

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def check_instrument(code: object) -> str:
    """``code`` when it is a registered instrument (built in, or by a ``--plugin``)."""
    from stemjourney.clinical._instruments import INSTRUMENTS

    if not isinstance(code, str) or code not in INSTRUMENTS:
        raise ValidationError(
            "instrument",
            "is not a registered instrument",
            ", ".join(INSTRUMENTS) + " (a clinic's own once a --plugin module registers it)",
        )
    return code


def score(instrument: object, value: Any, measured_at: datetime, answers: Any = None) -> Any:
    """A :class:`~stemjourney.Score` on a registered instrument."""
    from stemjourney.clinical._scores import Score

    return Score(
        instrument=check_instrument(instrument),
        value=value,
        measured_at=measured_at,
        answers=answers,
    )


def _fields_of(cls: type[Any]) -> tuple[attrs.Attribute[Any], ...]:
    return tuple(attrs.fields(cls))


def _listing(kind: str, fields: tuple[attrs.Attribute[Any], ...]) -> str:
    names = [a.name if a.default is attrs.NOTHING else f"{a.name} (optional)" for a in fields]
    return f"the fields of {kind}: " + ", ".join(names)


def _convert(field: attrs.Attribute[Any], value: Any, zone: tzinfo, where: str) -> Any:
    text = str(field.type)
    if value is None:
        return None
    if "datetime" in text:
        return parse_moment(value, zone, where)
    if "date" in text:
        return parse_day(value, where)
    if "frozenset" in text or "tuple" in text:
        if not isinstance(value, list):
            raise ValidationError(where, "is not a list", "a JSON list")
        return frozenset(value) if "frozenset" in text else tuple(value)
    return value


def record_from_json(data: object, zone: tzinfo) -> Any:
    """The record or score a JSON object describes, its times read in ``zone``.

    The object names its ``kind`` and gives the kind's fields; times are ISO text.
    """
    from stemjourney.clinical._codec import RECORD_TYPES

    if not isinstance(data, dict):
        raise ValidationError("record", "is not a JSON object", "an object with a 'kind'")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in RECORD_KINDS:
        raise ValidationError("kind", "is missing or not a record kind", ", ".join(RECORD_KINDS))
    cls = RECORD_TYPES[kind]
    fields = _fields_of(cls)
    known = {a.name: a for a in fields}
    given = [name for name in data if name != "kind"]
    unknown = [n for n in given if n not in known]
    if unknown:
        shown = [n for n in unknown if isinstance(n, str) and _NAME.match(n)]
        what = ", ".join(shown) if len(shown) == len(unknown) else f"{len(unknown)} field(s)"
        raise ValidationError(kind, f"has unknown {what}", _listing(kind, fields))
    missing = [a.name for a in fields if a.default is attrs.NOTHING and a.name not in data]
    if missing:
        raise ValidationError(kind, f"lacks {', '.join(missing)}", _listing(kind, fields))
    values = {n: _convert(known[n], data[n], zone, f"{kind}.{n}") for n in given}
    if kind == "score":
        values["instrument"] = check_instrument(values.get("instrument"))
    try:
        return cls(**values)
    except ValidationError as error:
        raise ValidationError(f"{kind}.{error.field}", error.problem, error.allowed) from None
    except (TypeError, ValueError):
        raise ValidationError(
            kind, "has a field of the wrong type", _listing(kind, fields)
        ) from None
