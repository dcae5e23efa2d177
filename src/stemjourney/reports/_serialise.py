"""Reports as plain data: attrs values to dicts, dates to ISO text, label pairs to dicts."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import attrs

__all__ = ["plain"]


def _is_pairs(value: tuple[Any, ...]) -> bool:
    return bool(value) and all(
        isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in value
    )


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data.

    >>> plain({"on": date(2026, 1, 5), "responder": (("responder", True),)})
    {'on': '2026-01-05', 'responder': {'responder': True}}
    """
    if attrs.has(type(value)):
        return {a.name: plain(getattr(value, a.name)) for a in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and _is_pairs(value):
        return {k: plain(v) for k, v in value}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
