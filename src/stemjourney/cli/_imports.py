"""``stemjourney import ...``: bring data in (scores from CSV; other sources beside it).

``import scores`` is all or nothing: every row is read and checked first (line numbers
are the file's, 1-based, the header being line 1), then all are written in one
transaction. Each row's idempotency key is its content (journey, instrument, time of
measurement, value, answers): a row whose score the journey already holds is skipped,
so running the same file again adds nothing twice. ``--dry-run`` checks and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import csv

import click

from stemjourney.cli._app import TZ, State, cli, command_zone, pass_state
from stemjourney.cli._params import ExistingFile, parse_moment, parse_number
from stemjourney.cli._progress import progress
from stemjourney.exceptions import NotFoundError, ValidationError

if TYPE_CHECKING:
    from stemjourney.store import Store

__all__ = ["SCORE_COLUMNS", "import_fhir", "import_group", "import_scores", "read_scores"]

SCORE_COLUMNS = ("journey_id", "instrument", "value", "measured_at")
"""The columns ``import scores`` reads (a header row names them; others are ignored)."""

Row = tuple[str, str, float, datetime, Any]
"""A checked row: journey id, instrument, value, measured at, answers (or None)."""


def _at(line: int, error: ValidationError) -> ValidationError:
    return ValidationError(f"line {line}, {error.field}", error.problem, error.allowed)


def _reader(handle: TextIO) -> csv.DictReader[str]:
    import csv

    reader = csv.DictReader(handle)
    missing = [c for c in SCORE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValidationError(
            "line 1 (header)",
            f"lacks {', '.join(missing)}",
            "a header row with " + ", ".join(SCORE_COLUMNS),
        )
    return reader


def read_scores(handle: TextIO, zone: tzinfo) -> Iterator[tuple[int, Row]]:
    """(line, row) of each row of a score CSV, checked; the first bad one raises."""
    from stemjourney.cli._records import score

    reader = _reader(handle)
    for line in reader:
        n = reader.line_num
        try:
            if None in line or any(line[c] is None for c in SCORE_COLUMNS):
                raise ValidationError("row", "has a different number of cells", "one per column")
            value = parse_number(line["value"], "value")
            when = parse_moment(line["measured_at"], zone, "measured_at")
            checked = score(line["instrument"].strip(), value, when)
        except ValidationError as error:
            raise _at(n, error) from None
        yield n, (line["journey_id"].strip(), checked.instrument, checked.value, when, None)


def _key(row: Row | tuple[str, Any, Any, Any, Any]) -> tuple[Any, ...]:
    """A row's idempotency key: its content, times compared as instants."""
    from stemjourney.clinical._codec import time_text

    jid, instrument, value, when, answers = row
    return (jid, instrument, float(value), time_text(when), answers)


def _held(store: Store, journey_ids: set[str], lines: dict[str, int]) -> set[tuple[Any, ...]]:
    """The keys of the scores the journeys hold (amended originals too); refuses a journey
    that does not exist or is voided, naming the first line that names it."""
    from stemjourney.clinical._scores import Score

    held: set[tuple[Any, ...]] = set()
    for jid in sorted(journey_ids, key=lambda j: lines[j]):
        try:
            j = store.journey(jid)
        except NotFoundError as error:
            raise ValidationError(
                f"line {lines[jid]}, journey_id", str(error), "the id of a journey"
            ) from None
        if j.stage == "voided":
            raise ValidationError(
                f"line {lines[jid]}, journey_id",
                f"journey {jid} is voided; no score can be added",
                "a journey that is not voided",
            )
        for e in j.records:
            if isinstance(e.record, Score):
                s = e.record
                held.add(_key((jid, s.instrument, s.value, s.measured_at, s.answers)))
    return held


def _import(state: State, csv_file: str, dry_run: bool) -> None:
    from pathlib import Path

    path = Path(csv_file)
    with path.open(encoding="utf-8", newline="") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    rows: list[Row] = []
    lines: list[int] = []
    first_line: dict[str, int] = {}
    with (
        path.open(encoding="utf-8", newline="") as handle,
        progress("checking scores", "rows", total) as update,
    ):
        for n, row in read_scores(handle, command_zone()):
            rows.append(row)
            lines.append(n)
            first_line.setdefault(row[0], n)
            if len(rows) % 1000 == 0:
                update(len(rows))
        update(len(rows))
    store = state.store()
    limit = store.engine.clock.now() + store.protocol.clock_skew
    for n, row in zip(lines, rows, strict=True):
        if row[3] > limit:
            raise ValidationError(
                f"line {n}, measured_at", "is in the future", f"a time before {limit}"
            )
    seen = _held(store, set(first_line), first_line)
    new: list[Row] = []
    new_lines: list[int] = []
    for n, row in zip(lines, rows, strict=True):
        key = _key(row)
        if key not in seen:
            seen.add(key)
            new.append(row)
            new_lines.append(n)
    present = len(rows) - len(new)
    if dry_run:
        click.echo(
            f"dry run: {len(new)} scores would be imported ({present} already present); "
            "nothing was written"
        )
        return
    written = _write(store, state.actor, new, new_lines)
    click.echo(f"imported {written} scores ({present} already present)")


def _write(store: Store, actor: str, rows: Sequence[Row], lines: Sequence[int]) -> int:
    """All rows in one transaction (one batch larger than the file)."""
    if not rows:
        return 0
    try:
        return store.import_scores([r[:4] for r in rows], actor=actor, batch_size=len(rows) + 1)
    except ValidationError as error:
        field = error.field
        if field.startswith("rows[") and "]" in field:
            index, _, rest = field[5:].partition("]")
            if index.isdigit() and int(index) < len(lines):
                raise ValidationError(
                    f"line {lines[int(index)]}{', ' + rest.lstrip('.') if rest else ''}",
                    error.problem,
                    error.allowed,
                ) from None
        raise


_DOC = """Import scores from CSV_FILE: columns journey_id, instrument, value, measured_at.

    All or nothing: every row is checked first, then all are written in one
    transaction; a bad row is refused with its line number (the header is line 1)
    and nothing is written. A row whose score its journey already holds (same
    instrument, time and value) is skipped, so a retry adds nothing twice. Times
    without an offset are read in --tz. --dry-run checks every row, writes nothing.
    """


def _scores_command(name: str, hidden: bool = False) -> click.Command:
    @click.command(name, help=_DOC, hidden=hidden)
    @click.argument("csv_file", type=ExistingFile())
    @click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
    @TZ
    @pass_state
    def command(state: State, csv_file: str, dry_run: bool) -> None:
        _import(state, csv_file, dry_run)

    return command


@cli.group("import")
def import_group() -> None:
    """Bring data in: scores from a CSV file, a FHIR Bundle the FHIR export wrote."""


import_scores = _scores_command("scores")
import_group.add_command(import_scores)
cli.add_command(_scores_command("import-scores", hidden=True))


@import_group.command("fhir")
@click.argument("bundle_file", type=ExistingFile())
@pass_state
def import_fhir(state: State, bundle_file: str) -> None:
    """Read BUNDLE_FILE, a Bundle 'stemjourney export fhir' wrote, into the database.

    Every patient and journey is written in one transaction, each journey replayed
    through the engine first; a Bundle that cannot be read back is refused with the
    resource and element at fault, and nothing is written.
    """
    import json
    from pathlib import Path

    from stemjourney.export import read_fhir_bundle

    try:
        bundle = json.loads(Path(bundle_file).read_text(encoding="utf-8"))
    except ValueError:
        raise ValidationError("bundle_file", "is not JSON", "a FHIR Bundle in JSON") from None
    found = read_fhir_bundle(bundle)
    patients, journeys = state.store(create=True).import_history(*found, actor=state.actor)
    click.echo(f"imported {patients} patients and {journeys} journeys")
