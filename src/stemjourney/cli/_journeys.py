"""Commands that write the clinical record: patients, journeys, moves, records and scores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TextIO

import click

from stemjourney.cli._app import DAY, MOMENT, State, cli, pass_state
from stemjourney.clinical._vocabulary import CellSource, Side

if TYPE_CHECKING:
    from stemjourney.journey._journey import Journey

__all__ = ["journey", "patient"]


def _now(moment: datetime | None) -> datetime:
    return datetime.now(UTC) if moment is None else moment


@cli.group()
def patient() -> None:
    """Add patients."""


@patient.command("add")
@click.argument("external_id")
@click.option("--name", "display_name", help="The patient's name, shown only in their report.")
@click.option("--birth-date", **DAY, help="Date of birth (YYYY-MM-DD).")
@click.option("--id", "patient_id", help="The id to give the patient (a new one by default).")
@pass_state
def add_patient(
    state: State,
    external_id: str,
    display_name: str | None,
    birth_date: date | None,
    patient_id: str | None,
) -> None:
    """Add a patient with the clinic's EXTERNAL_ID; prints the new patient id."""
    found = state.store().add_patient(
        external_id,
        actor=state.actor,
        display_name=display_name,
        birth_date=birth_date,
        patient_id=patient_id,
    )
    click.echo(found.id)


@cli.group()
def journey() -> None:
    """Open, move and show journeys; add records and scores to them."""


@journey.command("open")
@click.argument("patient_id")
@click.option(
    "--condition", required=True, help="The condition treated, e.g. 'osteoarthritis of knee'."
)
@click.option("--site", required=True, help="The treated site, e.g. knee.")
@click.option(
    "--side", required=True, type=click.Choice([s.value for s in Side]), help="Side of the site."
)
@click.option(
    "--cell-source",
    required=True,
    type=click.Choice([c.value for c in CellSource]),
    help="Where the cells are harvested from.",
)
@click.option(
    "--at", "occurred_at", **MOMENT, help="When it was opened (ISO time; now by default)."
)
@click.option("--id", "journey_id", help="The id to give the journey (a new one by default).")
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


@journey.command("move")
@click.argument("journey_id")
@click.argument("target")
@click.option("--at", "occurred_at", **MOMENT, help="When it happened (ISO time; now by default).")
@click.option("--reason", help="Why (required for completed, withdrawn, ineligible, voided).")
@click.option("--override-reason", help="A clinician's reason to cut the minimum rest short.")
@click.option("--late-reason", help="Why a move is entered with a time before the previous one.")
@click.option(
    "--expected-version", type=int, help="Refuse if the journey changed since this version."
)
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
        target,
        actor=state.actor,
        occurred_at=_now(occurred_at),
        reason=reason,
        override_reason=override_reason,
        late_reason=late_reason,
        expected_version=expected_version,
    )
    click.echo(_stand(moved))


@journey.command("record")
@click.argument("journey_id")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option(
    "--expected-version", type=int, help="Refuse if the journey changed since this version."
)
@pass_state
def record(state: State, journey_id: str, source: TextIO, expected_version: int | None) -> None:
    """Add a clinical record, read as JSON from SOURCE (a file, or - for standard input).

    The JSON object names its ``kind`` (eligibility, consent, harvest, processing,
    injection, follow_up_visit, adverse_event, score) and its fields, times as ISO text:

    {"kind": "consent", "signed_at": "2026-03-02T09:00:00+00:00", "form_version": "v3"}
    """
    try:
        data = json.load(source)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"the record is not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(data, dict):
        raise click.ClickException("the record must be a JSON object with a 'kind'")
    from stemjourney.clinical._codec import decode_record

    value = decode_record(data)
    done = state.store().record(
        journey_id, value, actor=state.actor, expected_version=expected_version
    )
    click.echo(f"{_stand(done)} (added {value.kind})")


@journey.command("score")
@click.argument("journey_id")
@click.argument("instrument")
@click.argument("value", type=float)
@click.option(
    "--at", "measured_at", **MOMENT, help="When it was measured (ISO time; now by default)."
)
@pass_state
def score(
    state: State, journey_id: str, instrument: str, value: float, measured_at: datetime | None
) -> None:
    """Add a score on INSTRUMENT (nrs, vas, odi, ...) with VALUE to JOURNEY_ID."""
    from stemjourney.clinical._scores import Score

    shown = Score(instrument=instrument, value=value, measured_at=_now(measured_at))
    done = state.store().record(journey_id, shown, actor=state.actor)
    click.echo(f"{_stand(done)} (added {instrument} {shown.value:g})")


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
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_state
def show(state: State, journey_id: str, fmt: str) -> None:
    """Show JOURNEY_ID: its state, history, records and the moves allowed now."""
    from stemjourney.clinical._scores import Score

    store = state.store()
    j = store.journey(journey_id)
    if fmt == "json":
        click.echo(json.dumps(_as_data(j), indent=2))
        return
    click.echo(
        f"journey {j.id} of patient {j.patient_id}: {j.condition}, {j.site} ({j.side.value}), "
        f"{j.cell_source.value}"
    )
    click.echo(f"now {j.stage}, cycle {j.cycle}, version {j.version}")
    click.echo("history:")
    for e in j.history:
        click.echo(
            f"  {e.seq:>3}  {e.occurred_at:%Y-%m-%d %H:%M}  {e.source or '(opened)':<12} -> "
            f"{e.target:<12} cycle {e.cycle}  by {e.actor}"
        )
    click.echo("records:")
    for r in j.records:
        amended = f"  amends v{r.amends}" if r.amends is not None else ""
        extra = f" {r.record.instrument} {r.record.value:g}" if isinstance(r.record, Score) else ""
        click.echo(
            f"  v{r.version:<3} {r.record.occurred_at:%Y-%m-%d}  {r.record.kind}{extra}  "
            f"({r.stage}, cycle {r.cycle}){amended}"
        )
    allowed = store.allowed(j.id)
    click.echo(f"allowed next: {', '.join(allowed) if allowed else 'none'}")
