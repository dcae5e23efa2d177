"""Commands that look after the database: create, verify, and the demo clinic."""

from __future__ import annotations

import os
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from stemjourney._files import private_dir, write_private
from stemjourney.cli._app import DAY, State, cli, is_url, open_db, pass_state, shown
from stemjourney.cli._output import table
from stemjourney.cli._params import Whole
from stemjourney.cli._progress import progress

if TYPE_CHECKING:
    from stemjourney.reports import CohortReport, Worklist

__all__ = ["WIDTH", "copy", "demo", "init", "verify"]

WIDTH = 100
"""The demo's terminal output fits this many columns."""


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the database named by --db (or check an existing one)."""
    from stemjourney.store import SCHEMA_VERSION

    if is_url(state.db):
        state.store(create=True)
        click.echo(
            f"ready: schema {state.schema} in {shown(state.db)} (schema version {SCHEMA_VERSION})"
        )
        return
    existed = os.path.exists(state.db)
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


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option(
    "--target-schema",
    default=None,
    help="On PostgreSQL, the target's schema (default: --schema).",
)
@pass_state
def copy(state: State, source: str, target: str, target_schema: str | None) -> None:
    """Copy the store at SOURCE into TARGET, a new or empty store, row for row.

    Each is a file or a postgresql:// URL: a clinic's file moves into the network's
    database and back. The chain is kept as it is (the same entries, hashes and head),
    SOURCE must pass verify, and the copy is verified against SOURCE's head before it
    is committed; nothing is written to TARGET otherwise.
    """
    from stemjourney.store import copy_store

    new_file = not is_url(target) and not os.path.exists(target)
    try:
        with (
            open_db(source, state.schema) as src,
            open_db(target, target_schema or state.schema, create=True) as dst,
        ):
            report = copy_store(src, dst)
    except BaseException:
        if new_file:  # a file made for the copy goes with it
            for leftover in (target, f"{target}-wal", f"{target}-shm"):
                if os.path.lexists(leftover):
                    os.unlink(leftover)
        raise
    rows = sum(report.rows.values())
    journeys = report.rows.get("journeys", 0)
    click.echo(f"copied {rows} rows ({journeys} journeys); head {report.head}")
    click.echo(f"verified: {shown(target)} extends the same chain as {shown(source)}")


def _headline(report: CohortReport) -> list[str]:
    """Mean change from baseline per group and time point, in at most :data:`WIDTH` columns."""
    labels = [r.time_point for r in report.groups[0].rows[1:]] if report.groups else []
    names = [f"{g.site}, {g.cell_source}, c{g.cycle}" for g in report.groups]
    if len(set(names)) < len(names):  # two conditions at one site: name the condition too
        names = [f"{g.condition}, {n}" for g, n in zip(report.groups, names, strict=True)]
    room = WIDTH - 6 - 11 * len(labels)
    rows = []
    for g, name in zip(report.groups, names, strict=True):
        cells = [
            "-" if r.mean_change is None else f"{r.mean_change:+.1f} ({r.patients})"
            for r in g.rows[1:]
        ]
        shown = name if len(name) <= room else name[: room - 1] + "…"
        rows.append([shown, g.journeys, *cells])
    lines = table(["group", "n", *labels], rows)
    return [
        f"Mean change in {report.instrument} from baseline (journeys scored), by group:",
        *lines,
    ]


def _visits(work: Worklist) -> list[str]:
    rows = [
        [i.patient_id, i.journey_id, f"{i.site} ({i.side})", i.cycle, i.time_point, i.due,
         i.status.replace("_", " ")]
        for i in work.items
    ]  # fmt: skip
    head = f"Follow-up work-list for {work.on.isoformat()}: {len(rows)} visit(s) due or overdue"
    columns = ["patient", "journey", "site", "cycle", "time point", "due", "status"]
    return [head, *table(columns, rows)] if rows else [head]


def _wrapped(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if len(line) <= WIDTH:
            out.append(line)
        else:
            import textwrap

            out.extend(textwrap.wrap(line, WIDTH, subsequent_indent="  "))
    return out


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Where to write the demo database and the HTML reports.",
)
@click.option("--patients", type=Whole(1), default=300, show_default=True)
@click.option(
    "--seed", type=Whole(0), default=2026, show_default=True, help="The same seed, the same clinic."
)
@click.option("--today", **DAY, help="The demo's today (today by default).")
def demo(output_dir: str, patients: int, seed: int, today: date | None) -> None:
    """Build the synthetic demo clinic, write its HTML reports, print its summary and work-list.

    No real person is in it. The database is OUTPUT_DIR/clinic.db (rebuilt each time);
    the reports are OUTPUT_DIR/cohort.html and OUTPUT_DIR/patient-<id>.html. The
    output fits 100 columns; then try 'stemjourney --db OUTPUT_DIR/clinic.db worklist'.
    """
    from pathlib import Path

    from stemjourney.demo import build_demo_clinic
    from stemjourney.reports import cohort_report, patient_report, to_html, worklist_report
    from stemjourney.store import open_store

    folder = Path(output_dir)
    private_dir(folder)
    db = folder / "clinic.db"
    with progress("building the demo clinic", "patients", patients) as update:
        summary = build_demo_clinic(
            db,
            seed=seed,
            patients=patients,
            today=today,
            overwrite=True,
            progress=lambda done, _all: update(done),
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
    lines = [*summary.lines(), "", *_headline(cohort), "", *_visits(work), ""]
    lines.append(f"database: {db}")
    lines.extend(f"wrote {path}" for path in written)
    lines.append(f"try: {_program()} --db {db} worklist")
    sys.stdout.write("\n".join(_wrapped(lines)) + "\n")


def _program() -> str:
    """How this command line was started, so the hint works as typed (.venv/bin/...)."""
    typed = sys.argv[0] if sys.argv else ""
    return typed if os.path.basename(typed) == "stemjourney" else "stemjourney"


def _showcase(store: Any) -> str | None:
    """The patient whose journey in follow-up has the most scores: the richest report."""
    best: tuple[int, str] | None = None
    for j in store.journeys_in("follow_up"):
        count = len(j.scores())
        if best is None or count > best[0]:
            best = (count, j.patient_id)
    return None if best is None else best[1]
