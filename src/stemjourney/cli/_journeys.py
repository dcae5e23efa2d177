"""Commands that write the clinical record: open, move, record, score, amend; and show.

Times without an offset (``--at``, and the times inside record JSON) are read in the
command's ``--tz``, UTC unless given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import click

from stemjourney.cli._app import MOMENT, TZ, State, cli, command_zone, pass_state
from stemjourney.cli._params import Choice, InputFile, Number, Whole
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.exceptions import ValidationError

if TYPE_CHECKING:
    from stemjourney.journey._journey import Journey

__all__ = ["journey"]

_NUMBERS = {"ignore_unknown_options": True}
"""Commands whose arguments may be negative numbers: ``-1`` is a value, not an option."""


def _now(moment: datetime | None) -> datetime:
    return datetime.now(UTC) if moment is None else moment


@cli.group()
def journey() -> None:
    """Open, move, list and show journeys; add and amend records and scores."""


_EXPECTED = click.option(
    "--expected-version",
    type=Whole(1),
    help="Refuse if the journey changed since this version.",
)


@journey.command("open")
@click.argument("patient_id")
@click.option(
    "--condition", required=True, help="The condition treated, e.g. 'osteoarthritis of knee'."
)
@click.option("--site", required=True, help="The treated site, e.g. knee.")
@click.option(
    "--side", required=True, type=Choice([s.value for s in Side]), help="Side of the site."
)
@click.option(
    "--cell-source",
    required=True,
    type=Choice([c.value for c in CellSource]),
    help="Where the cells are harvested from.",
)
@click.option(
    "--at", "occurred_at", **MOMENT, help="When it was opened (ISO time; now by default)."
)
@click.option("--id", "journey_id", help="The id to give the journey (a new one by default).")
@TZ
@pass_state
def open_journey(
    state: State,
    patient_id: str,
    condition: str,
    site: str,
    side: str,
    cell_source: str,
    occurred_at: datetime | None,
    journey_id: str | None,
) -> None:
    """Open a journey for PATIENT_ID at consultation; prints the new journey id."""
    opened = state.store().open_journey(
        patient_id,
        condition=condition,
        site=site,
        side=side,
        cell_source=cell_source,
        actor=state.actor,
        occurred_at=_now(occurred_at),
        journey_id=journey_id,
    )
    click.echo(opened.id)


def _stand(j: Journey) -> str:
    return f"journey {j.id}: {j.stage}, cycle {j.cycle}, version {j.version}"


def known_stage(state: State, stage: str, field: str = "stage") -> str:
    """``stage`` when it is a stage or outcome of the store's pipeline."""
    stages = state.store().pipeline.stages
    if stage not in stages:
        raise ValidationError(field, "is an unknown stage", ", ".join(stages))
    return stage


@journey.command("move")
@click.argument("journey_id")
@click.argument("target")
@click.option("--at", "occurred_at", **MOMENT, help="When it happened (ISO time; now by default).")
@click.option("--reason", help="Why (required for completed, withdrawn, ineligible, voided).")
@click.option("--override-reason", help="A clinician's reason to cut the minimum rest short.")
@click.option("--late-reason", help="Why a move is entered with a time before the previous one.")
@_EXPECTED
@TZ
@pass_state
def move(
    state: State,
    journey_id: str,
    target: str,
    occurred_at: datetime | None,
    reason: str | None,
    override_reason: str | None,
    late_reason: str | None,
    expected_version: int | None,
) -> None:
    """Move JOURNEY_ID to the stage TARGET; a refusal lists everything that is missing."""
    moved = state.store().move(
        journey_id,
        known_stage(state, target, "target"),
        actor=state.actor,
        occurred_at=_now(occurred_at),
        reason=reason,
        override_reason=override_reason,
        late_reason=late_reason,
        expected_version=expected_version,
    )
    click.echo(_stand(moved))


def _read_json(source: TextIO) -> Any:
    try:
        return json.load(source)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"the record is not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    except UnicodeDecodeError:
        raise click.ClickException("the record is not UTF-8 text") from None


def _record_of(source: TextIO) -> Any:
    from stemjourney.cli._records import record_from_json

    data = _read_json(source)
    if not isinstance(data, dict):
        raise click.ClickException("the record must be a JSON object with a 'kind'")
    return record_from_json(data, command_zone())


@journey.command("record")
@click.argument("journey_id")
@click.argument("source", type=InputFile(), default="-")
@_EXPECTED
@TZ
@pass_state
def record(state: State, journey_id: str, source: TextIO, expected_version: int | None) -> None:
    """Add a clinical record, read as JSON from SOURCE (a file, or - for standard input).

    The JSON object names its ``kind`` (eligibility, consent, harvest, processing,
    injection, follow_up_visit, adverse_event, score) and gives that kind's fields
    (a missing, unknown or mistyped field is refused by name); times are ISO text,
    read in --tz when they have no offset:

    {"kind": "consent", "signed_at": "2026-03-02T09:00:00+00:00", "form_version": "v3"}
    """
    value = _record_of(source)
    done = state.store().record(
        journey_id, value, actor=state.actor, expected_version=expected_version
    )
    click.echo(f"{_stand(done)} (added {value.kind})")


@journey.command("score", context_settings=_NUMBERS)
@click.argument("journey_id")
@click.argument("instrument")
@click.argument("value", type=Number())
@click.option(
    "--at", "measured_at", **MOMENT, help="When it was measured (ISO time; now by default)."
)
@TZ
@pass_state
def score(
    state: State, journey_id: str, instrument: str, value: float, measured_at: datetime | None
) -> None:
    """Add a score on INSTRUMENT (nrs, vas, odi, ...) with VALUE to JOURNEY_ID.

    The instrument must be registered (the built-in ones, or a clinic's own through
    --plugin); VALUE must be in its range (``-1`` is a value, refused by that range).
    """
    from stemjourney.cli._records import score as make_score

    shown = make_score(instrument, value, _now(measured_at))
    done = state.store().record(journey_id, shown, actor=state.actor)
    click.echo(f"{_stand(done)} (added {instrument} {shown.value:g})")


@journey.command("amend", context_settings=_NUMBERS)
@click.argument("journey_id")
@click.argument("version", type=Whole(1))
@click.argument("source", type=InputFile(), required=False)
@click.option("--reason", required=True, help="Why the entry is corrected (kept in the audit log).")
@click.option("--value", type=Number(), help="For a score: the corrected value.")
@click.option("--instrument", help="For a score: the corrected instrument.")
@click.option("--at", "moment", **MOMENT, help="For a score: the corrected time of measurement.")
@_EXPECTED
@TZ
@pass_state
def amend(
    state: State,
    journey_id: str,
    version: int,
    source: TextIO | None,
    reason: str,
    value: float | None,
    instrument: str | None,
    moment: datetime | None,
    expected_version: int | None,
) -> None:
    """Correct the record or score at VERSION of JOURNEY_ID, saying why.

    The original stays in the history; the correction takes its place. A score is
    corrected with --value, --instrument and --at (the rest is kept); any entry with
    its whole corrected JSON from SOURCE (a file, or - for standard input), as for
    'journey record'. 'journey show' lists each entry's version.
    """
    from stemjourney.clinical._scores import Score

    store = state.store()
    original = next((e for e in store.journey(journey_id).records if e.version == version), None)
    if original is None:
        raise ValidationError(
            "version", "is not a record or score of the journey", "a version 'journey show' lists"
        )
    changes = (value, instrument, moment)
    if source is not None:
        if any(c is not None for c in changes):
            raise click.UsageError("give SOURCE or --value/--instrument/--at, not both")
        corrected = _record_of(source)
    elif isinstance(original.record, Score):
        if all(c is None for c in changes):
            raise click.UsageError("give --value, --instrument or --at (or SOURCE)")
        from stemjourney.cli._records import score as make_score

        was = original.record
        corrected = make_score(
            was.instrument if instrument is None else instrument,
            was.value if value is None else value,
            was.measured_at if moment is None else moment,
            was.answers if value is None else None,
        )
    else:
        raise click.UsageError("a record is corrected with its whole JSON: give SOURCE")
    done = store.amend(
        journey_id,
        version,
        corrected,
        actor=state.actor,
        reason=reason,
        expected_version=expected_version,
    )
    click.echo(f"{_stand(done)} (amended v{version})")


def _as_data(j: Journey) -> dict[str, Any]:
    from stemjourney.clinical._codec import encode_record

    return {
        **j.summary(),
        "history": [
            {
                "seq": e.seq,
                "source": e.source,
                "target": e.target,
                "cycle": e.cycle,
                "occurred_at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in j.history
        ],
        "records": [
            {
                "version": e.version,
                "cycle": e.cycle,
                "stage": e.stage,
                "amends": e.amends,
                "record": encode_record(e.record),
            }
            for e in j.records
        ],
    }


@journey.command("show")
@click.argument("journey_id")
@click.option("--format", "fmt", type=Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def show(state: State, journey_id: str, fmt: str) -> None:
    """Show JOURNEY_ID: its state, history, records and the moves allowed now."""
    from stemjourney.clinical._scores import Score

    store = state.store()
    j = store.journey(journey_id)
    if fmt == "json":
        click.echo(json.dumps(_as_data(j), indent=2))
        return
    lines = [
        f"journey {j.id} of patient {j.patient_id}: {j.condition}, {j.site} ({j.side.value}), "
        f"{j.cell_source.value}",
        f"now {j.stage}, cycle {j.cycle}, version {j.version}",
        "history (times in UTC):",
    ]
    for e in j.history:
        lines.append(
            f"  {e.seq:>3}  {e.occurred_at:%Y-%m-%d %H:%M}  {e.source or '(opened)':<12} -> "
            f"{e.target:<12} cycle {e.cycle}  by {e.actor}"
        )
    lines.append("records (v = version, for 'journey amend'):")
    for r in j.records:
        amended = f"  amends v{r.amends}" if r.amends is not None else ""
        extra = f" {r.record.instrument} {r.record.value:g}" if isinstance(r.record, Score) else ""
        lines.append(
            f"  v{r.version:<3} {r.record.occurred_at:%Y-%m-%d}  {r.record.kind}{extra}  "
            f"({r.stage}, cycle {r.cycle}){amended}"
        )
    allowed = store.allowed(j.id)
    lines.append(f"allowed next: {', '.join(allowed) if allowed else 'none'}")
    click.echo("\n".join(lines))
