"""Commands that read: the work-list, the reports, the exports and the pipeline diagram."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import click

from stemjourney.cli._app import DAY, State, cli, output, pass_state

FORMATS = ("text", "markdown", "csv", "html", "json")
"""The report formats (``stemjourney.reports.FORMATS``; a test checks they agree)."""

__all__ = ["diagram", "export", "report", "worklist"]

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to write the report.",
)
_OUTPUT = click.option(
    "--output",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write to this file, not to the terminal.",
)
_ON = click.option("--on", **DAY, help="The day the report is made for (today by default).")


@cli.command()
@click.option("--start", **DAY, help="First day (today by default).")
@click.option("--end", **DAY, help="Last day (a week after the start by default).")
@_ON
@_FORMAT
@_OUTPUT
@pass_state
def worklist(
    state: State,
    start: date | None,
    end: date | None,
    on: date | None,
    fmt: str,
    out_path: str | None,
) -> None:
    """List the follow-up visits due or overdue from START to END, with their status on ON."""
    from stemjourney.journey._clock import today
    from stemjourney.reports import render, worklist_report

    first = today() if start is None else start
    last = first + timedelta(days=7) if end is None else end
    made = worklist_report(state.store(), first, last, on=on)
    _write(out_path, render(made, fmt))


@cli.group()
def report() -> None:
    """Follow-up reports: one patient's course, or the cohort's outcomes."""


@report.command("patient")
@click.argument("patient_id")
@_ON
@_FORMAT
@_OUTPUT
@pass_state
def patient_command(
    state: State, patient_id: str, on: date | None, fmt: str, out_path: str | None
) -> None:
    """One patient's report: timeline, scores against baseline, adverse events, next visit."""
    from stemjourney.reports import patient_report, render

    made = patient_report(state.store(), patient_id, on=on)
    _write(out_path, render(made, fmt))


@report.command("cohort")
@click.option("--instrument", help="The instrument to summarise (the protocol's first by default).")
@_ON
@_FORMAT
@_OUTPUT
@pass_state
def cohort_command(
    state: State, instrument: str | None, on: date | None, fmt: str, out_path: str | None
) -> None:
    """Cohort outcomes by condition, site, cell source and cycle at each time point."""
    from stemjourney.reports import cohort_report, render

    made = cohort_report(state.store(), on=on, instrument=instrument)
    _write(out_path, render(made, fmt))


def _write(path: str | None, text: str) -> None:
    with output(path) as out:
        out.write(text)


@cli.group()
def export() -> None:
    """Exports: a FHIR R4B Bundle, or a de-identified research CSV."""


@export.command("fhir")
@click.option("--patient", "patients", multiple=True, help="Export only this patient (repeatable).")
@_OUTPUT
@pass_state
def export_fhir(state: State, patients: tuple[str, ...], out_path: str | None) -> None:
    """Write the patients and journeys as one FHIR R4B collection Bundle (JSON)."""
    from stemjourney.export import write_fhir_bundle

    store = state.store()
    with output(out_path) as out:
        count = write_fhir_bundle(
            store, out, patient_ids=patients or None, progress=_counter("patients")
        )
    click.echo(f"\n{count} FHIR resources", err=True)


@export.command("research")
@click.option(
    "--key",
    envvar="STEMJOURNEY_RESEARCH_KEY",
    required=True,
    help="The secret for pseudonyms and date shifts, 16+ characters (or STEMJOURNEY_RESEARCH_KEY).",
)
@click.option(
    "--dates",
    type=click.Choice(["shift", "days"]),
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
    with output(out_path) as out:
        rows = research_csv(store, out, key=key, dates=dates, progress=_counter("rows"))
    click.echo(f"\n{rows} rows", err=True)


def _counter(unit: str) -> Callable[[int], None]:
    """A progress callback that keeps one line on stderr up to date with a count."""

    def show(done: int) -> None:
        click.echo(f"\r{done} {unit}", nl=False, err=True)

    return show


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid stateDiagram-v2, or Graphviz DOT.",
)
def diagram(fmt: str) -> None:
    """Print the pipeline (stages and guarded transitions) as a diagram."""
    from stemjourney.journey._diagrams import to_dot, to_mermaid

    click.echo(to_mermaid() if fmt == "mermaid" else to_dot(), nl=False)
