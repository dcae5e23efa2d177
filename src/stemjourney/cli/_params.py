"""The command line's parameter types and its one rule for times.

Every type here says what was wrong and what is allowed, and never echoes what was
typed (it may be a name or other health information): click's own types quote the
value, so none of them is used for a value a person types.

Times: an ISO 8601 time with an offset (``2026-03-02T09:30+01:00``, ``...Z``) is read as
such; a time without one is read in the zone of ``--tz`` (UTC unless given, or
``STEMJOURNEY_TZ``), and so is a bare date (midnight). The same rule holds for every
command and for the times inside record JSON and score CSV files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import click

from stemjourney.exceptions import ValidationError

__all__ = [
    "DAY",
    "MOMENT",
    "TIME_RULE",
    "TZ",
    "Choice",
    "Day",
    "ExistingFile",
    "InputFile",
    "Moment",
    "Number",
    "Whole",
    "command_zone",
    "parse_day",
    "parse_moment",
    "parse_number",
    "zone_of",
]

TIME_RULE = "an ISO 8601 time such as 2026-03-02T09:30+01:00 (without an offset: read in --tz)"
"""What a time may be, in every message that refuses one."""


def zone_of(name: str) -> tzinfo:
    """The zone called ``name``: ``UTC``, ``local`` (this machine's) or an IANA name.

    Raises :class:`~stemjourney.exceptions.ValidationError` for a name that is not one.
    """
    if name.upper() == "UTC":
        return UTC
    if name == "local":
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "tz", "is not a known time zone", "UTC, local, or an IANA name such as Europe/Paris"
        ) from None


def parse_moment(text: object, zone: tzinfo, field: str) -> datetime:
    """An aware datetime from ISO text; without an offset it is in ``zone``."""
    if not isinstance(text, str):
        raise ValidationError(field, "is not text holding a time", TIME_RULE)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, "is not an ISO 8601 time", TIME_RULE) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_day(text: object, field: str) -> date:
    """A date from ISO text (``YYYY-MM-DD``)."""
    if isinstance(text, str):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise ValidationError(field, "is not an ISO 8601 date", "a date such as 2026-03-02")


def parse_number(text: str, field: str) -> int | float:
    """A whole number or a decimal from text (``-1`` too: the range is checked later)."""
    cleaned = text.strip()
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        number = float(cleaned)
    except ValueError:
        raise ValidationError(field, "is not a number", "a number such as 7 or 31.5") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValidationError(field, "is not finite", "a finite number such as 7 or 31.5")
    return number


def _zone(ctx: click.Context) -> tzinfo:
    found = ctx.meta.get("stemjourney.tz")
    return found if isinstance(found, tzinfo) else UTC


class Moment(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time, read in the command's ``--tz`` when it has no offset."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(value, UTC if ctx is None else _zone(ctx), "time")
        except ValidationError:
            self.fail(f"is not {TIME_RULE}", param, ctx)


class Day(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 date."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, date):
            return value
        try:
            return parse_day(value, "date")
        except ValidationError:
            self.fail("is not a date such as 2026-03-02", param, ctx)


class Number(click.ParamType):  # type: ignore[type-arg]
    """A number (negative ones too); its range is the instrument's to check."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float):
            return value
        try:
            return parse_number(str(value), "value")
        except ValidationError:
            self.fail("is not a number such as 7 or 31.5", param, ctx)


class Whole(click.ParamType):  # type: ignore[type-arg]
    """A whole number of at least ``low``."""

    name = "integer"

    def __init__(self, low: int = 1) -> None:
        self.low = low

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"is not a whole number (at least {self.low})", param, ctx)
        if number < self.low:
            self.fail(
                f"is below {self.low}; allowed: a whole number of at least {self.low}", param, ctx
            )
        return number


class Choice(click.Choice):  # type: ignore[type-arg]
    """click's Choice, whose refusal lists the choices without quoting what was typed."""

    def __init__(self, choices: Sequence[str], case_sensitive: bool = True) -> None:
        super().__init__(list(choices), case_sensitive)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.choices:
            return value
        allowed = ", ".join(str(c) for c in self.choices)
        self.fail(f"is not one of the allowed values; allowed: {allowed}", param, ctx)
        return None  # not reached: fail() raises


class ExistingFile(click.ParamType):  # type: ignore[type-arg]
    """The path of a file that exists (returned as text); the path is never quoted back."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = str(value)
        if not os.path.isfile(path):
            self.fail("is not a file that exists", param, ctx)
        return path


class InputFile(click.ParamType):  # type: ignore[type-arg]
    """A text file opened for reading (``-`` is standard input); the path is never quoted."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if value == "-":
            return sys.stdin
        try:
            handle = open(value, encoding="utf-8")  # noqa: SIM115 (closed with the context)
        except OSError as error:
            self.fail(f"cannot be read ({error.strerror or type(error).__name__})", param, ctx)
        if ctx is not None:
            ctx.call_on_close(handle.close)
        return handle


def _set_zone(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        ctx.meta["stemjourney.tz"] = zone_of(value)
    except ValidationError:
        raise click.BadParameter(
            "is not a known time zone; allowed: UTC, local, or an IANA name such as Europe/Paris"
        ) from None
    return value


TZ = click.option(
    "--tz",
    default="UTC",
    show_default=True,
    envvar="STEMJOURNEY_TZ",
    is_eager=True,
    expose_value=False,
    callback=_set_zone,
    metavar="ZONE",
    help="The zone of times and days given without an offset, and of 'today': UTC, local "
    "(this machine's) or an IANA name such as Europe/Paris (or STEMJOURNEY_TZ).",
)
"""The ``--tz`` option: eager, so every time option of the command is read in its zone."""

MOMENT: dict[str, Any] = {"type": Moment(), "metavar": "TIME"}
"""Keyword arguments of a ``click.option`` that takes an ISO time."""
DAY: dict[str, Any] = {"type": Day(), "metavar": "DATE"}
"""Keyword arguments of a ``click.option`` that takes an ISO date."""


def command_zone() -> tzinfo:
    """The zone of the running command's ``--tz`` (UTC outside a command)."""
    ctx = click.get_current_context(silent=True)
    return UTC if ctx is None else _zone(ctx)
