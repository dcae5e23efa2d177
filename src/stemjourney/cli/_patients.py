"""Commands for patients: add one, find one by the clinic's number, list them."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from stemjourney.cli._app import DAY, State, cli, pass_state
from stemjourney.cli._output import FORMAT, write_rows

if TYPE_CHECKING:
    from datetime import date

    from stemjourney.clinical._patient import Patient

__all__ = ["patient"]

PATIENT_COLUMNS = ("id", "external_id", "journeys")
"""What ``patient find`` and ``patient list`` show; names and birth dates only with --names."""
NAMED_COLUMNS = (*PATIENT_COLUMNS, "display_name", "birth_date")


@cli.group()
def patient() -> None:
    """Add, find and list patients."""


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


def _row(p: Patient, journeys: int, names: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"id": p.id, "external_id": p.external_id, "journeys": journeys}
    if names:
        row["display_name"] = p.display_name
        row["birth_date"] = None if p.birth_date is None else p.birth_date.isoformat()
    return row


_NAMES = click.option(
    "--names", is_flag=True, help="Also show the names and birth dates (health information)."
)


@patient.command("find")
@click.argument("external_id")
@_NAMES
@FORMAT
@pass_state
def find_patient(state: State, external_id: str, names: bool, fmt: str) -> None:
    """Find the patient with the clinic's EXTERNAL_ID (case, spaces and accents ignored)."""
    store = state.store()
    found = store.patient_by_external_id(external_id)
    if found is None:
        raise click.ClickException(
            "no patient has that external id; 'stemjourney patient list' lists them"
        )
    rows = [_row(found, len(store.journeys_of(found.id)), names)]
    write_rows(sys.stdout, NAMED_COLUMNS if names else PATIENT_COLUMNS, rows, fmt)


@patient.command("list")
@_NAMES
@FORMAT
@pass_state
def list_patients(state: State, names: bool, fmt: str) -> None:
    """List every patient, by id, with how many journeys each has."""
    store = state.store()
    counts = Counter(
        f.patient_id for f in store.iter_outcome_facts(with_scores=False, with_records=False)
    )
    rows = [_row(p, counts[p.id], names) for p in store.iter_patients()]
    write_rows(sys.stdout, NAMED_COLUMNS if names else PATIENT_COLUMNS, rows, fmt)
