"""Commands that look after the database: create, verify, import scores, and the demo clinic."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from stemjourney._files import private_dir, write_private
from stemjourney.cli._app import DAY, State, cli, pass_state
from stemjourney.exceptions import ValidationError

if TYPE_CHECKING:
    from stemjourney.reports import CohortReport

__all__ = ["demo", "import_scores", "init", "verify"]

SCORE_COLUMNS = ("journey_id", "instrument", "value", "measured_at")
"""The columns ``import-scores`` reads (a header row names them; others are ignored)."""


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the database named by --db (or check an existing one)."""
    from stemjourney.store import SCHEMA_VERSION

    existed = Path(state.db).exists()
    state.store(create=True)
    verb = "checked existing" if existed else "created"
    click.echo(f"{verb} database {state.db} (schema version {SCHEMA_VERSION})")


@cli.command()
@pass_state
def verify(state: State) -> None:
    """Check the hash chain, the history and the rebuilt state of every journey."""
    found = state.store().verify()
    if found.ok:
        click.echo(f"ok: {found.audit_entries} audit entries, {found.journeys} journeys checked")
        return
    for problem in found.problems:
        click.echo(problem)
    raise click.ClickException(f"{len(found.problems)} problem(s) found")


def _number(text: str, row: int) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"rows[{row}].value", "is not a number", "a number") from None


def _moment(text: str, row: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"rows[{row}].measured_at", "is not an ISO 8601 time", "e.g. 2026-03-02T09:30:00+00:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _reader(handle: TextIO) -> csv.DictReader[str]:
    reader = csv.DictReader(handle)
    missing = [c for c in SCORE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError(
            "header", f"lacks {', '.join(missing)}", "a header row with " + ", ".join(SCORE_COLUMNS)
        )
    return reader


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[Any, ...]]:
    for n, line in enumerate(reader):
        yield (
            line["journey_id"],
            line["instrument"],
            _number(line["value"], n),
            _moment(line["measured_at"], n),
        )


@cli.command("import-scores")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@pass_state
def import_scores(state: State, csv_file: str) -> None:
    """Import scores from CSV_FILE: columns journey_id, instrument, value, measured_at.

    Times without an offset are read as UTC. Rows are written in batches; a bad row
    stops the import with its row number (the batches before it stay written).
    """
    path = Path(csv_file)
    with path.open(encoding="utf-8", newline="") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    store = state.store()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = _reader(handle)
        with click.progressbar(
            _rows(reader),
            length=total,
            label="importing scores",
            file=sys.stderr,
        ) as rows:
            written = store.import_scores(rows, actor=state.actor)
    click.echo(f"imported {written} scores")


def _headline(report: CohortReport) -> str:
    labels = [r.time_point for r in report.groups[0].rows[1:]] if report.groups else []
    lines = [
        "Mean change in " + report.instrument + " from baseline (journeys scored), by group:",
        f"{'group':<64} {'n':>4}  " + "  ".join(f"{label:>12}" for label in labels),
    ]
    for g in report.groups:
        cells = [
            "-" if r.mean_change is None else f"{r.mean_change:+.1f} ({r.patients})"
            for r in g.rows[1:]
        ]
        name = f"{g.condition}, {g.site}, {g.cell_source}, c{g.cycle}"
        lines.append(f"{name[:64]:<64} {g.journeys:>4}  " + "  ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Where to write the demo database and the HTML reports.",
)
@click.option("--patients", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="The same seed, the same clinic."
)
@click.option("--today", **DAY, help="The demo's today (today by default).")
def demo(output_dir: str, patients: int, seed: int, today: date | None) -> None:
    """Build the synthetic demo clinic, write its HTML reports, print its summary and work-list.

    No real person is in it. The database is OUTPUT_DIR/clinic.db (rebuilt each time);
    the reports are OUTPUT_DIR/cohort.html and OUTPUT_DIR/patient-<id>.html.
    """
    from stemjourney.demo import build_demo_clinic
    from stemjourney.reports import cohort_report, patient_report, to_html, to_text, worklist_report
    from stemjourney.store import open_store

    folder = Path(output_dir)
    private_dir(folder)
    db = folder / "clinic.db"
    with click.progressbar(
        length=patients, label="building the demo clinic", file=sys.stderr
    ) as bar:
        summary = build_demo_clinic(
            db,
            seed=seed,
            patients=patients,
            today=today,
            overwrite=True,
            progress=lambda done, _all: bar.update(1),
        )
    day = summary.today
    with open_store(db) as store:
        cohort = cohort_report(store, on=day)
        write_private(folder / "cohort.html", to_html(cohort))
        chosen = _showcase(store)
        written = [folder / "cohort.html"]
        if chosen is not None:
            page = folder / f"patient-{chosen}.html"
            write_private(page, to_html(patient_report(store, chosen, on=day)))
            written.append(page)
        work = worklist_report(store, day, day, on=day)
    click.echo("\n".join(summary.lines()))
    click.echo("")
    click.echo(_headline(cohort))
    click.echo("")
    click.echo(to_text(work))
    click.echo(f"database: {db}")
    for path in written:
        click.echo(f"wrote {path}")


def _showcase(store: Any) -> str | None:
    """The patient whose journey in follow-up has the most scores: the richest report."""
    best: tuple[int, str] | None = None
    for j in store.journeys_in("follow_up"):
        count = len(j.scores())
        if best is None or count > best[0]:
            best = (count, j.patient_id)
    return None if best is None else best[1]
