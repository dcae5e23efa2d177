"""``journey list``: journeys by stage, by patient, or with a follow-up visit due in a window."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Any

import click

from stemjourney.cli._app import DAY, TZ, State, command_zone, pass_state
from stemjourney.cli._journeys import journey, known_stage
from stemjourney.cli._output import FORMAT, write_rows

__all__ = ["JOURNEY_COLUMNS", "DUE_COLUMNS", "list_journeys"]

JOURNEY_COLUMNS = ("id", "patient_id", "condition", "site", "side", "cell_source", "stage")
"""The columns of ``journey list``."""
DUE_COLUMNS = (*JOURNEY_COLUMNS, "cycle", "time_point", "due", "status")
"""The columns of ``journey list --due-from/--due-to``: one row per visit due."""


@journey.command("list")
@click.option(
    "--stage", "stages", multiple=True, help="Only journeys now in this stage (repeatable)."
)
@click.option("--patient", "patient_id", help="Only the journeys of this patient id.")
@click.option(
    "--due-from", **DAY, help="With --due-to: only journeys with a visit due from this day."
)
@click.option("--due-to", **DAY, help="With --due-from: ... up to this day (included).")
@FORMAT
@TZ
@pass_state
def list_journeys(
    state: State,
    stages: tuple[str, ...],
    patient_id: str | None,
    due_from: date | None,
    due_to: date | None,
    fmt: str,
) -> None:
    """List journeys, by id: all of them, or those in --stage, of --patient, or with a
    follow-up visit not yet done whose window meets --due-from to --due-to.

    With a due window there is one row per visit (its time point, due day and status
    today); a window given at one end only runs a week from, or up to, that day.
    """
    store = state.store()
    wanted = tuple(known_stage(state, s) for s in stages) or None
    if patient_id is not None:
        store.patient(patient_id)  # an unknown patient is an error, not an empty list
    facts = store.iter_outcome_facts(stages=wanted, with_scores=False, with_records=False)
    rows: list[dict[str, Any]] = [
        {c: getattr(f, "journey_id" if c == "id" else c) for c in JOURNEY_COLUMNS}
        for f in facts
        if patient_id is None or f.patient_id == patient_id
    ]
    if due_from is None and due_to is None:
        write_rows(sys.stdout, JOURNEY_COLUMNS, rows, fmt)
        return
    from stemjourney.journey._clock import today
    from stemjourney.reports import worklist_report

    zone = command_zone()
    if due_from is not None:
        first = due_from
        last = due_to if due_to is not None else first + timedelta(days=7)
    else:
        assert due_to is not None
        first, last = due_to - timedelta(days=7), due_to
    if last < first:
        raise click.BadParameter("is before --due-from", param_hint="'--due-to'")
    by_id = {r["id"]: r for r in rows}
    work = worklist_report(store, first, last, on=today(zone), protocol=store.protocol, tz=zone)
    due = [
        {**by_id[i.journey_id], "cycle": i.cycle, "time_point": i.time_point,
         "due": i.due.isoformat(), "status": i.status}
        for i in work.items
        if i.journey_id in by_id
    ]  # fmt: skip
    due.sort(key=lambda r: (r["id"], r["cycle"], r["due"]))
    write_rows(sys.stdout, DUE_COLUMNS, due, fmt)
