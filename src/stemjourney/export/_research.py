"""De-identified research export: one CSV row per event, with nothing that names a person.

What is removed or changed (see ``docs/how-to-research-export.md``):

- ids: patient and journey ids become keyed pseudonyms, ``HMAC-SHA256(key, id)``;
  the same key gives the same pseudonyms in every export, another key unlinkable ones;
- names and birth dates: dropped; the age at the patient's first injection is kept
  as a 5-year band (``45-49``), top-coded at ``90+``;
- free text: no free-text field is written (reasons, details, descriptions, actions,
  body sites, devices, methods, staff names, product ids). Condition, treated site
  and follow-up time point are written only when they are on an allow-list, else
  ``other``; withdrawal, ineligibility and void reasons only as their codes (read
  from the move's reason record; a reason given only as text has no code);
- dates: either shifted per patient by a secret offset of 1 to 365 days drawn from
  the key (every date of a patient moves by the same amount, so intervals are kept),
  or replaced by the day number counted from the patient's first injection (from
  their first visit when they had no injection). Times of day are dropped.

Outcomes are those of :mod:`stemjourney.outcomes`, as every report shows them: each
score row has its time point, whether it is the journey's baseline, its change and
improvement from that baseline and the responder rules it meets; each planned
follow-up visit has a row with its status on the export's day.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from stemjourney.clinical import _validation as v
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
    AdverseEvent,
    EligibilityAssessment,
    FollowUpVisit,
    IneligibilityReason,
    Injection,
    Processing,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score
from stemjourney.clinical._vocabulary import CONTRAINDICATIONS, WITHDRAWAL_CODES
from stemjourney.exceptions import ValidationError
from stemjourney.journey._clock import today
from stemjourney.journey._journey import Journey, RecordEntry, TransitionEntry
from stemjourney.journey._sources import ClinicSource, patients_with_journeys
from stemjourney.outcomes import (
    BASELINE,
    SeriesPoint,
    as_day,
    injection_dates,
    points_by_version,
    schedule_status,
)

__all__ = [
    "CONDITIONS",
    "DATE_MODES",
    "MIN_KEY_BYTES",
    "RESEARCH_COLUMNS",
    "SITES",
    "age_band",
    "date_offset",
    "pseudonym",
    "research_csv",
    "research_rows",
]

MIN_KEY_BYTES = 16
"""The shortest key accepted, in bytes."""

DATE_MODES = ("shift", "days")
"""``shift``: dates moved per patient by a secret offset; ``days``: days from first injection."""

CONDITIONS = frozenset(
    {
        "osteoarthritis of knee",
        "osteoarthritis of hip",
        "osteoarthritis of shoulder",
        "spinal disc degeneration",
        "tendon injury",
        "chronic neck and shoulder pain",
    }
)
"""Conditions written as they are; any other becomes ``other`` (add yours per export)."""

SITES = frozenset(
    {
        "knee",
        "hip",
        "shoulder",
        "elbow",
        "lateral elbow",
        "wrist",
        "ankle",
        "lumbar spine",
        "thoracic spine",
        "cervical spine",
        "achilles tendon",
        "patellar tendon",
        "rotator cuff",
    }
)
"""Treated sites written as they are; any other becomes ``other``."""

RESEARCH_COLUMNS = (
    "patient",
    "journey",
    "condition",
    "site",
    "side",
    "cell_source",
    "age_band",
    "cycle",
    "event",
    "stage",
    "when",
    "instrument",
    "value",
    "amended",
    "time_point",
    "reason_code",
    "grade",
    "serious",
    "relatedness",
    "ae_outcome",
    "guidance",
    "viability_pct",
    "released",
    "is_baseline",
    "change",
    "improvement",
    "improvement_pct",
    "responders",
    "visit_status",
)
"""The columns of the research CSV, in order. ``when`` is a shifted date or a day number.

For scores: ``cycle`` is the cycle the score follows (blank before the first
injection), ``is_baseline`` (the journey's baseline), ``change`` (value - baseline),
``improvement`` and ``improvement_pct`` (in the instrument's good direction; see
"How outcomes are computed") and ``responders`` (the labels of the rules met, joined
by ``+``). Each planned visit is an ``event`` ``visit`` row with its ``visit_status``.
"""


def _key_bytes(key: bytes | str) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes):
        raise ValidationError("key", f"expected bytes or text, got {type(key).__name__}", "bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ValidationError(
            "key", f"is {len(key)} bytes long", f"a secret of at least {MIN_KEY_BYTES} bytes"
        )
    return key


def _mac(key: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def pseudonym(key: bytes | str, kind: str, value: str) -> str:
    """The keyed pseudonym of ``value``: ``HMAC-SHA256(key, kind + value)``, 20 hex digits.

    >>> pseudonym(b"0123456789abcdef", "patient", "mrn-0042")
    'P-3f9067ffcf892b5ec634'
    >>> pseudonym(b"short", "patient", "mrn-0042")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stemjourney.exceptions.ValidationError: key: is 5 bytes long; allowed: a secret of at least ...
    """
    digest = _mac(_key_bytes(key), kind, value).hex()[:20]
    return f"{kind[0].upper()}-{digest}"


def date_offset(key: bytes | str, patient: Patient) -> timedelta:
    """The secret shift of every date of ``patient``: 1 to 365 days, forward or back."""
    raw = int.from_bytes(_mac(_key_bytes(key), "date-shift", patient.external_key)[:8], "big")
    days = raw % 365 + 1
    return timedelta(days=days if raw >> 63 else -days)


def age_band(birth: date | None, on: date | None) -> str:
    """The 5-year age band on ``on`` (``90+`` top-coded); blank when either is unknown.

    >>> age_band(date(1970, 6, 1), date(2026, 5, 31)), age_band(date(1920, 1, 1), date(2026, 1, 1))
    ('55-59', '90+')
    """
    if birth is None or on is None:
        return ""
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if age >= 90:
        return "90+"
    low = max(0, age) // 5 * 5
    return f"{low}-{low + 4}"


def _first_injection(journeys: Iterable[Journey]) -> datetime | None:
    return min((at for j in journeys for at in injection_dates(j).values()), default=None)


def _reason_code(move: TransitionEntry) -> str:
    """A move's reason as its code, from its reason record; free text never passes."""
    found = move.reason_record
    if isinstance(found, WithdrawalReason):
        return found.code if found.code in WITHDRAWAL_CODES else ""
    if isinstance(found, VoidReason):
        return found.code
    if isinstance(found, IneligibilityReason):
        return "+".join(sorted(c for c in found.contraindications if c in CONTRAINDICATIONS))
    return ""


def _allowed(text: str, allowed: frozenset[str]) -> str:
    key = " ".join(text.casefold().split())
    return key if key in allowed else "other"


def _number(value: float) -> str:
    return f"{value:g}"


class _Patient:
    """One patient's de-identification: pseudonyms, the date rule, the age band."""

    def __init__(
        self,
        key: bytes,
        patient: Patient,
        journeys: list[Journey],
        dates: str,
        conditions: frozenset[str],
        sites: frozenset[str],
        protocol: Protocol,
        on: date,
    ) -> None:
        self.key = key
        self.pseudonym = pseudonym(key, "patient", patient.external_key)
        first = _first_injection(journeys)
        opened = min((j.opened_at for j in journeys), default=None)
        anchor = first if first is not None else opened
        self.anchor = None if anchor is None else anchor.astimezone(UTC).date()
        self.age_band = age_band(patient.birth_date, self.anchor)
        self.shift = date_offset(key, patient) if dates == "shift" else None
        self.conditions = conditions
        self.sites = sites
        self.protocol = protocol
        self.on = on
        self.labels = frozenset(visit.label for visit in protocol.schedule)

    def when(self, moment: datetime | date) -> str:
        day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
        if self.shift is not None:
            return (day + self.shift).isoformat()
        assert self.anchor is not None
        return str((day - self.anchor).days)

    def rows(self, journey: Journey) -> Iterator[dict[str, str]]:
        base = {
            "patient": self.pseudonym,
            "journey": pseudonym(self.key, "journey", journey.id),
            "condition": _allowed(journey.condition, self.conditions),
            "site": _allowed(journey.site, self.sites),
            "side": journey.side.value,
            "cell_source": journey.cell_source.value,
            "age_band": self.age_band,
        }
        for move in journey.history:
            yield {
                **base,
                "cycle": str(move.cycle),
                "event": "opened" if move.source is None else "move",
                "stage": move.target,
                "when": self.when(move.occurred_at),
                "reason_code": _reason_code(move),
            }
        points = points_by_version(journey, protocol=self.protocol)
        for entry in journey.current_records():
            point = points.get(entry.version)
            # A score's cycle is the one it follows (see "How outcomes are computed").
            cycle = entry.cycle if point is None else point.cycle
            yield {
                **base,
                "cycle": "" if cycle is None else str(cycle),
                "stage": entry.stage,
                "when": self.when(entry.record.occurred_at),
                **self._record(entry, points),
            }
        for state in schedule_status(journey, self.on, protocol=self.protocol):
            visit = state.visit
            yield {
                **base,
                "cycle": str(visit.cycle),
                "event": "visit",
                "when": self.when(visit.due),
                "time_point": visit.label if visit.label in self.labels else "",
                "visit_status": state.status.value,
            }

    def _record(self, entry: RecordEntry, points: dict[int, SeriesPoint]) -> dict[str, str]:
        record = entry.record
        if isinstance(record, Score):
            point = points[entry.version]
            moved = point.change
            label = point.time_point
            return {
                "event": "score",
                "instrument": record.instrument,
                "value": _number(record.value),
                "amended": "true" if entry.amends is not None else "false",
                "time_point": label if label in self.labels or label == BASELINE else "",
                "is_baseline": "true" if point.time_point == BASELINE else "false",
                "change": "" if moved is None else _number(moved.delta),
                "improvement": "" if moved is None else _number(moved.points),
                "improvement_pct": (
                    "" if moved is None or moved.percent is None else _number(moved.percent)
                ),
                "responders": "+".join(r.label for r in point.responders if r.met),
            }
        if isinstance(record, AdverseEvent):
            return {
                "event": "adverse_event",
                "grade": str(record.grade),
                "serious": "true" if record.serious else "false",
                "relatedness": record.relatedness.value,
                "ae_outcome": record.outcome.value,
            }
        if isinstance(record, Processing):
            return {
                "event": "processing",
                "viability_pct": _number(record.viability_pct),
                "released": "true" if record.released else "false",
            }
        if isinstance(record, Injection):
            return {"event": "injection", "guidance": record.guidance.value}
        if isinstance(record, FollowUpVisit):
            label = record.time_point or ""
            return {"event": "follow_up_visit", "time_point": label if label in self.labels else ""}
        if isinstance(record, EligibilityAssessment):
            codes = sorted(c for c in record.contraindications if c in CONTRAINDICATIONS)
            return {"event": "eligibility", "reason_code": "+".join(codes)}
        return {"event": record.kind}


def _by_patient(
    source: ClinicSource,
    key: bytes | str,
    dates: str,
    patient_ids: Iterable[str] | None,
    conditions: Iterable[str],
    sites: Iterable[str],
    protocol: Protocol,
    on: date | None,
) -> Iterator[list[dict[str, str]]]:
    """The rows of each patient in turn; the key and mode are checked before any is made."""
    secret = _key_bytes(key)
    mode = v.choice("dates", dates, DATE_MODES)
    allowed_conditions = CONDITIONS | {" ".join(c.casefold().split()) for c in conditions}
    allowed_sites = SITES | {" ".join(s.casefold().split()) for s in sites}
    blank = dict.fromkeys(RESEARCH_COLUMNS, "")
    day = today() if on is None else as_day("on", on, UTC)

    def rows() -> Iterator[list[dict[str, str]]]:
        for patient, journeys in patients_with_journeys(source, patient_ids):
            person = _Patient(
                secret, patient, journeys, mode, allowed_conditions, allowed_sites, protocol, day
            )
            yield [{**blank, **row} for journey in journeys for row in person.rows(journey)]

    return rows()


def research_rows(
    source: ClinicSource,
    *,
    key: bytes | str,
    dates: str = "shift",
    patient_ids: Iterable[str] | None = None,
    conditions: Iterable[str] = (),
    sites: Iterable[str] = (),
    protocol: Protocol = DEFAULT_PROTOCOL,
    on: date | None = None,
) -> Iterator[dict[str, str]]:
    """The de-identified rows of every patient of ``source`` (or of ``patient_ids``).

    ``key`` is the caller's secret (16 bytes at least); keep it to link later exports,
    never ship it with the data. ``dates`` is ``"shift"`` or ``"days"``.
    ``conditions`` and ``sites`` extend the allow-lists :data:`CONDITIONS` and
    :data:`SITES`. ``on`` (today by default) is the day the visits' status is read on.
    Each row has every column of :data:`RESEARCH_COLUMNS`.
    Raises :class:`~stemjourney.exceptions.ValidationError` for a short key or an
    unknown ``dates`` at once, before any row is made.
    """
    groups = _by_patient(source, key, dates, patient_ids, conditions, sites, protocol, on)
    return (row for group in groups for row in group)


def research_csv(
    source: ClinicSource,
    out: TextIO,
    *,
    key: bytes | str,
    dates: str = "shift",
    patient_ids: Iterable[str] | None = None,
    conditions: Iterable[str] = (),
    sites: Iterable[str] = (),
    protocol: Protocol = DEFAULT_PROTOCOL,
    progress: Callable[[int], object] | None = None,
    on: date | None = None,
) -> int:
    """Write the research export to ``out`` as CSV with a header; return the rows written.

    Arguments as :func:`research_rows`; nothing is written when they are refused.
    ``progress`` is called with the number of patients written after each one. Open
    ``out`` with ``newline=""``.

    >>> import io
    >>> from stemjourney.demo import demo_clinic
    >>> clinic = demo_clinic(seed=1, patients=3, today=date(2026, 11, 23))
    >>> out = io.StringIO()
    >>> rows = research_csv(clinic, out, key="a secret of 16+ bytes", dates="days")
    >>> out.getvalue().splitlines()[0].split(",")[:6]
    ['patient', 'journey', 'condition', 'site', 'side', 'cell_source']
    """
    groups = _by_patient(source, key, dates, patient_ids, conditions, sites, protocol, on)
    writer = csv.DictWriter(out, fieldnames=RESEARCH_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for done, rows in enumerate(groups, start=1):
        writer.writerows(rows)
        count += len(rows)
        if progress is not None:
            progress(done)
    return count
