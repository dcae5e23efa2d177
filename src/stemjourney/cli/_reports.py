"""Commands that read: the work-list, the reports, the exports and the pipeline diagram.

Days given without a zone, and "today", are in the command's ``--tz`` (UTC unless given).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import click

from stemjourney.cli._app import DAY, TZ, State, cli, command_zone, output, pass_state
from stemjourney.cli._params import Choice
from stemjourney.cli._progress import progress

if TYPE_CHECKING:
    from stemjourney.store import Store

__all__ = ["FORMATS", "diagram", "export", "report", "worklist"]

FORMATS = ("text", "markdown", "csv", "html", "json")
"""The report formats (``stemjourney.reports.FORMATS``; a test checks they agree)."""

_FORMAT = click.option(
    "--format",
    "fmt",
    type=Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to write the report.",
)
_OUTPUT = click.option(
    "--output",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to this file (owner-only), not to the terminal.",
)
_ON = click.option("--on", **DAY, help="The day the report is made for (today in --tz by default).")


def _today() -> date:
    from stemjourney.journey._clock import today

    return today(command_zone())


@cli.command()
@click.option("--start", **DAY, help="First day (today in --tz by default).")
@click.option("--end", **DAY, help="Last day (a week after the start by default).")
@click.option("--on", **DAY, help="The day each visit's status is read on (today by default).")
@_FORMAT
@_OUTPUT
@TZ
@pass_state
def worklist(
    state: State,
    start: date | None,
    end: date | None,
    on: date | None,
    fmt: str,
    out_path: str | None,
) -> None:
    """List the follow-up visits not yet done whose window is open at some day from START
    to END, each with its status (upcoming, in window, overdue, missed) on ON."""
    from stemjourney.reports import render, worklist_report

    today = _today()
    first = today if start is None else start
    last = first + timedelta(days=7) if end is None else end
    store = state.store()
    made = worklist_report(
        store, first, last, on=today if on is None else on, protocol=store.protocol,
        tz=command_zone(),
    )  # fmt: skip
    _write(out_path, render(made, fmt))


@cli.group()
def report() -> None:
    """Follow-up reports: one patient's course, or the cohort's outcomes."""


@report.command("patient")
@click.argument("patient_id")
@_ON
@click.option(
    "--identified/--de-identified",
    default=True,
    show_default=True,
    help="With the name, birth date and clinic number the store holds (the report sent "
    "with a letter), or with none of them and no free-text reason.",
)
@_FORMAT
@_OUTPUT
@TZ
@pass_state
def patient_command(
    state: State,
    patient_id: str,
    on: date | None,
    identified: bool,
    fmt: str,
    out_path: str | None,
) -> None:
    """One patient's report: timeline, scores against baseline, adverse events, next visit."""
    from stemjourney.reports import patient_report, render

    store = state.store()
    made = patient_report(
        store, patient_id, on=_today() if on is None else on, protocol=store.protocol,
        tz=command_zone(), identified=identified,
    )  # fmt: skip
    _write(out_path, render(made, fmt))


@report.command("cohort")
@click.option("--instrument", help="The instrument to summarise (the protocol's first by default).")
@_ON
@_FORMAT
@_OUTPUT
@TZ
@pass_state
def cohort_command(
    state: State, instrument: str | None, on: date | None, fmt: str, out_path: str | None
) -> None:
    """Cohort outcomes by condition, site, cell source and cycle at each time point."""
    from stemjourney.reports import cohort_report, render

    store = state.store()
    if instrument is not None:
        from stemjourney.cli._records import check_instrument

        check_instrument(instrument)
    made = cohort_report(
        store, on=_today() if on is None else on, protocol=store.protocol,
        instrument=instrument, tz=command_zone(),
    )  # fmt: skip
    _write(out_path, render(made, fmt))


def _write(path: str | None, text: str) -> None:
    with output(path) as out:
        out.write(text)


@cli.group()
def export() -> None:
    """Exports: a FHIR R4B Bundle, or a de-identified research CSV."""


def _patients(store: Store, chosen: tuple[str, ...]) -> int:
    """How many patients an export goes through (the length of its progress bar)."""
    return len(chosen) if chosen else sum(1 for _ in store.iter_patients())


def _exported(label: str, patients: Callable[[], int]) -> object:
    import sys

    return progress(label, "patients", patients() if sys.stderr.isatty() else None)


@export.command("fhir")
@click.option("--patient", "patients", multiple=True, help="Export only this patient (repeatable).")
@_OUTPUT
@pass_state
def export_fhir(state: State, patients: tuple[str, ...], out_path: str | None) -> None:
    """Write the patients and journeys as one FHIR R4B collection Bundle (JSON)."""
    from stemjourney.export import write_fhir_bundle

    store = state.store()
    with (
        output(out_path) as out,
        _exported(  # type: ignore[attr-defined]
            "exporting FHIR", lambda: _patients(store, patients)
        ) as update,
    ):
        count = write_fhir_bundle(store, out, patient_ids=patients or None, progress=update)
    click.echo(f"{count} FHIR resources", err=True)


@export.command("fhir-definitions")
@_OUTPUT
def export_fhir_definitions(out_path: str | None) -> None:
    """Write the definitions behind the FHIR export's own URLs as one Bundle (JSON).

    The StructureDefinitions of its extensions, its code systems and its
    Questionnaires: give the file to a FHIR validator (the HL7 validator's -ig).
    """
    import json

    from stemjourney.export import fhir_definitions

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": resource["url"], "resource": resource} for resource in fhir_definitions()
        ],
    }
    with output(out_path) as out:
        out.write(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n")


@export.command("research")
@click.option(
    "--key",
    envvar="STEMJOURNEY_RESEARCH_KEY",
    required=True,
    help="The secret for pseudonyms and date shifts, 16+ characters (or STEMJOURNEY_RESEARCH_KEY).",
)
@click.option(
    "--dates",
    type=Choice(["shift", "days"]),
    default="shift",
    show_default=True,
    help="shift: every date moved by a secret per-patient offset; days: days from first injection.",
)
@_OUTPUT
@pass_state
def export_research(state: State, key: str, dates: str, out_path: str | None) -> None:
    """Write the de-identified research CSV: keyed pseudonyms, no names, no free text."""
    from stemjourney.export import research_csv

    store = state.store()
    with (
        output(out_path) as out,
        _exported(  # type: ignore[attr-defined]
            "exporting research rows", lambda: _patients(store, ())
        ) as update,
    ):
        rows = research_csv(store, out, key=key, dates=dates, progress=update)
    click.echo(f"{rows} rows", err=True)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid stateDiagram-v2, or Graphviz DOT.",
)
def diagram(fmt: str) -> None:
    """Print the pipeline (stages and guarded transitions) as a diagram."""
    from stemjourney.journey._diagrams import to_dot, to_mermaid

    click.echo(to_mermaid() if fmt == "mermaid" else to_dot(), nl=False)
