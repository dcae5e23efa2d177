"""The command line's conventions: one-line errors that echo nothing, one time rule,
registered instruments, amendments, finding and listing, an all-or-nothing import."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from _report_journeys import DAY0, FixedClock, consulted, to_store, treated
from stemjourney.cli import cli
from stemjourney.store import open_store

SECRET = "Ann Example"
"""Typed where a value is expected: no message may repeat it."""


def run(db: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    """Invoke the command line with ``--db db`` and return the result."""
    return CliRunner(env=env or None).invoke(
        cli, ["--db", str(db), "--actor", "tester", *args], input=stdin
    )


def one_error_line(result: Result, starts: str = "error: ") -> str:
    """The single stderr line of a failed command (checked to be one line, no traceback)."""
    assert result.exit_code != 0, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(starts), result.stderr
    assert "Traceback" not in result.output
    assert SECRET not in result.stderr
    return result.stderr


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    """p-1/j-1 treated (in follow-up), p-2/j-2 treated, p-3/j-3 at consultation."""
    db = tmp_path / "clinic.db"
    with open_store(db, clock=FixedClock()) as store:
        to_store(store, treated(follow=[(42, 5)]))
        to_store(store, treated("j-2", "p-2", baseline=6, follow=[(42, 5), (91, 3)]))
        to_store(store, consulted("j-3", "p-3"))
    return db


def _scores(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM observations").fetchone()[0])
    finally:
        conn.close()


# -- record JSON ------------------------------------------------------------------------

CONSENT = {"kind": "consent", "signed_at": "2026-01-05T09:20:00+00:00", "form_version": "v3"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"kind": "consent", "form_version": "v3"}, "error: consent: lacks signed_at; allowed: "),
        (
            {**CONSENT, "colour": "crimson"},
            "error: consent: has unknown colour; allowed: the fields",
        ),
        ({**CONSENT, SECRET: 1}, "error: consent: has unknown 1 field(s); allowed: the fields"),
        ({**CONSENT, "signed_at": SECRET}, "error: consent.signed_at: is not an ISO 8601 time"),
        ({**CONSENT, "signed_at": 20260105}, "error: consent.signed_at: is not text holding"),
        ({**CONSENT, "form_version": 3}, "error: consent.form_version: expected text"),
        ({**CONSENT, "scope": SECRET}, "error: consent.scope: is not a known value; allowed: "),
        ({"kind": SECRET}, "error: kind: is missing or not a record kind; allowed: eligibility"),
        (
            {"kind": "score", "instrument": "painscale", "value": 5, "measured_at": "2026-01-05"},
            "error: instrument: is not a registered instrument; allowed: nrs, vas",
        ),
        (
            {"kind": "eligibility", "assessed_at": "2026-01-05", "contraindications": "x"},
            "error: eligibility.contraindications: is not a list",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_record_json_is_one_line_naming_the_field(
    clinic: Path, record: dict[str, object], expected: str
) -> None:
    """Fields missing, unknown or mistyped, and times not ISO, are named; nothing is echoed."""
    result = run(clinic, "journey", "record", "j-3", stdin=json.dumps(record))
    message = one_error_line(result, expected)
    assert "crimson" not in message
    shown = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    assert shown["version"] == 4  # nothing was written


def test_a_missing_record_file_is_refused_without_its_path(clinic: Path, tmp_path: Path) -> None:
    """A SOURCE that cannot be read is one line that does not repeat the path."""
    result = run(clinic, "journey", "record", "j-3", str(tmp_path / SECRET))
    one_error_line(result, "error: Invalid value for '[SOURCE]': cannot be read")


# -- one time rule ----------------------------------------------------------------------


def test_times_without_an_offset_are_read_in_tz_everywhere(clinic: Path, tmp_path: Path) -> None:
    """--tz (or STEMJOURNEY_TZ) is the zone of every time given without an offset."""
    paris = ("--tz", "Europe/Paris")
    run(clinic, "journey", "score", "j-3", "nrs", "6", "--at", "2026-01-06T10:00", *paris)
    record = {"kind": "consent", "signed_at": "2026-01-06T10:30", "form_version": "v4"}
    run(clinic, "journey", "record", "j-3", *paris, stdin=json.dumps(record))
    source = tmp_path / "s.csv"
    source.write_text("journey_id,instrument,value,measured_at\nj-3,nrs,5,2026-01-06T11:00\n")
    run(clinic, "import", "scores", str(source), STEMJOURNEY_TZ="Europe/Paris")
    run(clinic, "journey", "move", "j-3", "harvest", "--at", "2026-01-12T10:00", *paris)
    data = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    times = [
        r["record"].get("measured_at") or r["record"].get("signed_at") for r in data["records"]
    ]
    assert times[-3:] == ["2026-01-06 09:00:00", "2026-01-06 09:30:00", "2026-01-06 10:00:00"]
    assert data["history"][-1]["occurred_at"] == "2026-01-12T09:00:00+00:00"


def test_the_default_zone_is_utc_and_said_in_help(clinic: Path) -> None:
    """Without --tz a time without an offset is UTC, and --help says so."""
    run(clinic, "journey", "score", "j-3", "nrs", "6", "--at", "2026-01-06T10:00")
    data = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    assert data["records"][-1]["record"]["measured_at"] == "2026-01-06 10:00:00"
    for command in (["journey", "move"], ["worklist"], ["import", "scores"], ["journey", "record"]):
        shown = " ".join(CliRunner().invoke(cli, [*command, "--help"]).output.split())
        assert "--tz ZONE" in shown
        assert "[default: UTC]" in shown


def test_an_unknown_zone_is_one_line(clinic: Path) -> None:
    """A zone that is not one is refused before anything runs."""
    result = run(clinic, "worklist", "--tz", SECRET)
    one_error_line(result, "error: Invalid value for '--tz': is not a known time zone")


# -- instruments, stages, numbers --------------------------------------------------------


def test_an_unknown_instrument_is_refused_and_nothing_written(clinic: Path) -> None:
    """A typo in the instrument never reaches the append-only history."""
    before = _scores(clinic)
    result = run(clinic, "journey", "score", "j-1", "painscale", "5")
    one_error_line(result, "error: instrument: is not a registered instrument; allowed: nrs")
    assert _scores(clinic) == before


def test_a_plugin_can_register_the_clinics_own_instrument(clinic: Path, tmp_path: Path) -> None:
    """--plugin MODULE imports a module that registers an instrument; its scores are taken."""
    (tmp_path / "clinic_instruments.py").write_text(
        "from stemjourney.outcomes import Instrument, register_instrument\n"
        "register_instrument(Instrument(code='clinic:grip', name='Grip', low=0, high=20,\n"
        "    higher_is_better=True, source='Clinic protocol 2026'))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    base = [sys.executable, "-m", "stemjourney.cli", "--db", str(clinic)]
    done = subprocess.run(
        [*base, "--plugin", "clinic_instruments", "journey", "score", "j-1", "clinic:grip", "12"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("(added clinic:grip 12)")
    missing = subprocess.run(
        [*base, "--plugin", "no_such_module_here", "diagram"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: Invalid value for '--plugin': a module named there")


def test_negative_numbers_are_values_refused_by_the_range(clinic: Path) -> None:
    """``nrs -1`` is a value out of range, not an unknown option."""
    result = run(clinic, "journey", "score", "j-1", "nrs", "-1")
    one_error_line(result, "error: value: is out of range; allowed: 0 to 10")
    words = run(clinic, "journey", "score", "j-1", "nrs", SECRET)
    one_error_line(words, "error: Invalid value for 'VALUE': is not a number")


def test_an_unknown_stage_is_called_unknown(clinic: Path) -> None:
    """A misspelt stage is unknown, with the stages listed; the typed name is not repeated."""
    result = run(clinic, "journey", "move", "j-3", "harvset")
    message = one_error_line(result, "error: target: is an unknown stage; allowed: consultation")
    assert "harvset" not in message
    one_error_line(run(clinic, "journey", "move", "j-3", SECRET))


@pytest.mark.parametrize(
    "args",
    [
        ("journey", "open", "p-3", "--condition", "c", "--site", "knee", "--side", SECRET,
         "--cell-source", "adipose"),
        ("journey", "move", "j-3", "voided", "--at", SECRET),
        ("journey", "show", "j-3", SECRET),
        ("journey", "move", "j-3", "voided", "--expected-version", SECRET),
        ("report", "patient", "p-1", "--on", SECRET),
        ("import", "scores", SECRET),
        ("journey", "list", "--format", SECRET),
    ],
    ids=lambda a: " ".join(a[:2]),
)  # fmt: skip
def test_typed_values_are_never_echoed(clinic: Path, args: tuple[str, ...]) -> None:
    """click's own messages quote what was typed; ours say what is allowed instead."""
    one_error_line(run(clinic, *args))


# -- amend -------------------------------------------------------------------------------


def test_a_score_is_amended_with_a_reason_and_the_original_kept(clinic: Path) -> None:
    """amend --value corrects a score; the original stays, the correction is in force."""
    data = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    version = next(r["version"] for r in data["records"] if r["record"]["kind"] == "score")
    done = run(clinic, "journey", "amend", "j-3", str(version), "--value", "6", "--reason", "typo")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.endswith(f"(amended v{version})\n")
    shown = run(clinic, "journey", "show", "j-3").stdout
    assert f"score nrs 6  (consultation, cycle 1)  amends v{version}" in shown
    assert "score nrs 7" in shown
    negative = run(clinic, "journey", "amend", "j-3", "5", "--value", "-1", "--reason", "x")
    one_error_line(negative, "error: value: is out of range")


def test_a_record_is_amended_with_its_whole_json(clinic: Path) -> None:
    """amend VERSION SOURCE replaces a record by its corrected JSON, with the reason."""
    data = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    version = next(r["version"] for r in data["records"] if r["record"]["kind"] == "consent")
    fixed = {**CONSENT, "form_version": "v4"}
    done = run(
        clinic, "journey", "amend", "j-3", str(version), "-", "--reason", "wrong form",
        stdin=json.dumps(fixed),
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    after = json.loads(run(clinic, "journey", "show", "j-3", "--format", "json").stdout)
    assert after["records"][-1]["amends"] == version
    assert after["records"][-1]["record"]["form_version"] == "v4"


def test_amend_refuses_what_cannot_be_an_amendment(clinic: Path) -> None:
    """No reason, no such version, a record without JSON, or both forms at once: one line."""
    one_error_line(run(clinic, "journey", "amend", "j-3", "2", "--value", "6"))
    one_error_line(
        run(clinic, "journey", "amend", "j-3", "99", "--value", "6", "--reason", "x"),
        "error: version: is not a record or score of the journey",
    )
    one_error_line(
        run(clinic, "journey", "amend", "j-3", "4", "--value", "6", "--reason", "x"),
        "error: a record is corrected with its whole JSON",
    )
    one_error_line(
        run(clinic, "journey", "amend", "j-3", "2", "--reason", "x"),
        "error: give --value, --instrument or --at",
    )
    both = run(
        clinic, "journey", "amend", "j-3", "2", "-", "--value", "6", "--reason", "x", stdin="{}"
    )
    one_error_line(both, "error: give SOURCE or --value/--instrument/--at, not both")


# -- find and list -----------------------------------------------------------------------


def test_patient_find_by_the_clinics_number(clinic: Path) -> None:
    """find normalises the number as on insert; names appear only with --names."""
    found = run(clinic, "patient", "find", " mrn-p-1 ", "--format", "json")
    assert found.exit_code == 0, found.stderr
    assert json.loads(found.stdout) == [{"id": "p-1", "external_id": "MRN-p-1", "journeys": 1}]
    named = json.loads(
        run(clinic, "patient", "find", "MRN-p-1", "--names", "--format", "json").stdout
    )
    assert set(named[0]) == {"id", "external_id", "journeys", "display_name", "birth_date"}
    one_error_line(run(clinic, "patient", "find", SECRET), "error: no patient has that external id")


def test_patient_list_in_each_format(clinic: Path) -> None:
    """table, json and csv hold the same patients, by id."""
    table = run(clinic, "patient", "list").stdout.splitlines()
    assert table[0].split() == ["id", "external_id", "journeys"]
    assert [line.split()[0] for line in table[2:]] == ["p-1", "p-2", "p-3"]
    data = json.loads(run(clinic, "patient", "list", "--format", "json").stdout)
    rows = list(
        csv.DictReader(io.StringIO(run(clinic, "patient", "list", "--format", "csv").stdout))
    )
    assert [r["id"] for r in data] == [r["id"] for r in rows] == ["p-1", "p-2", "p-3"]


def test_journey_list_by_stage_patient_and_due_window(clinic: Path) -> None:
    """Filters combine; a due window lists each visit with its due day and status."""
    every = json.loads(run(clinic, "journey", "list", "--format", "json").stdout)
    assert [j["id"] for j in every] == ["j-1", "j-2", "j-3"]
    staged = run(clinic, "journey", "list", "--stage", "consultation", "--format", "csv").stdout
    assert [r["id"] for r in csv.DictReader(io.StringIO(staged))] == ["j-3"]
    mine = json.loads(run(clinic, "journey", "list", "--patient", "p-2", "--format", "json").stdout)
    assert [j["id"] for j in mine] == ["j-2"]
    due = run(
        clinic, "journey", "list", "--due-from", "2026-04-01", "--due-to", "2026-04-30",
        "--format", "json",
    )  # fmt: skip
    visits = json.loads(due.stdout)
    assert [(v["id"], v["time_point"]) for v in visits] == [("j-1", "3m")]
    assert visits[0]["due"] == "2026-04-19"
    one_error_line(
        run(clinic, "journey", "list", "--stage", "harvset"), "error: stage: is an unknown"
    )
    one_error_line(run(clinic, "journey", "list", "--patient", "p-404"), "error: no patient")


# -- import scores -----------------------------------------------------------------------

HEADER = "journey_id,instrument,value,measured_at\n"


def _csv(tmp_path: Path, *rows: str) -> Path:
    source = tmp_path / "scores.csv"
    source.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return source


def test_a_bad_row_anywhere_writes_nothing(clinic: Path, tmp_path: Path) -> None:
    """A refused row at line 5 leaves the file as it was, and says line 5."""
    good = [f"j-2,nrs,{n},2026-07-{10 + n:02d}T10:00:00+00:00" for n in range(3)]
    source = _csv(tmp_path, *good, "j-2,nrs,11,2026-07-20T10:00:00+00:00")
    before = _scores(clinic)
    result = run(clinic, "import", "scores", str(source))
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: line 5, value: is out of range")
    assert _scores(clinic) == before


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("j-404,nrs,3,2026-07-20", "error: line 3, journey_id: no journey with id 'j-404'"),
        ("j-2,painscale,3,2026-07-20", "error: line 3, instrument: is not a registered"),
        ("j-2,nrs,3,2099-07-20", "error: line 3, measured_at: is in the future"),
        ("j-2,nrs,-1,2026-07-20", "error: line 3, value: is out of range"),
        ("j-2,nrs,3", "error: line 3, row: has a different number of cells"),
    ],
)
def test_refused_rows_name_their_line(
    clinic: Path, tmp_path: Path, row: str, expected: str
) -> None:
    """Rows the journey or the instrument refuse are named by their 1-based line."""
    source = _csv(tmp_path, "j-2,nrs,2,2026-07-19T10:00:00+00:00", row)
    before = _scores(clinic)
    result = run(clinic, "import", "scores", str(source))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(expected), result.stderr
    assert _scores(clinic) == before


def test_a_retry_adds_nothing_twice(clinic: Path, tmp_path: Path) -> None:
    """The same file imported again (or with rows repeated) adds each score once."""
    source = _csv(
        tmp_path,
        "j-2,nrs,2,2026-07-20T10:00:00+00:00",
        "j-2,vas,31.5,2026-07-20T12:00:00+02:00",
        "j-2,nrs,2,2026-07-20T10:00:00Z",
    )
    first = run(clinic, "import", "scores", str(source))
    assert first.stdout == "imported 2 scores (1 already present)\n"
    again = run(clinic, "import", "scores", str(source))
    assert again.stdout == "imported 0 scores (3 already present)\n"
    assert again.stderr == "checking scores: 3 rows\n"


def test_a_dry_run_checks_and_writes_nothing(clinic: Path, tmp_path: Path) -> None:
    """--dry-run says what would be imported; the file is unchanged; a bad row still fails."""
    source = _csv(tmp_path, "j-2,nrs,2,2026-07-20T10:00:00+00:00")
    before = _scores(clinic)
    dry = run(clinic, "import", "scores", str(source), "--dry-run")
    assert (
        dry.stdout
        == "dry run: 1 scores would be imported (0 already present); nothing was written\n"
    )
    assert _scores(clinic) == before
    bad = _csv(tmp_path, "j-2,nrs,12,2026-07-20T10:00:00+00:00")
    assert run(clinic, "import", "scores", str(bad), "--dry-run").exit_code == 1


def test_import_scores_is_still_there_under_its_old_name(clinic: Path, tmp_path: Path) -> None:
    """``import-scores`` (hidden) is ``import scores``."""
    source = _csv(tmp_path, "j-2,nrs,2,2026-07-20T10:00:00+00:00")
    assert run(clinic, "import-scores", str(source)).stdout.startswith("imported 1 scores")


# -- progress, work-list ----------------------------------------------------------------


def test_long_commands_end_with_a_final_count_off_a_terminal(clinic: Path, tmp_path: Path) -> None:
    """Off a terminal: no carriage returns, one final count, a final newline."""
    fhir = run(clinic, "export", "fhir", "-o", str(tmp_path / "b.json"))
    assert fhir.exit_code == 0, fhir.stderr
    lines = fhir.stderr.splitlines()
    assert lines[0] == "exporting FHIR: 3 patients"
    assert lines[-1].endswith("FHIR resources")
    research = run(clinic, "export", "research", "--key", "a secret of sixteen+ bytes")
    assert research.stderr.splitlines()[0] == "exporting research rows: 3 patients"
    assert research.stderr.splitlines()[-1] == f"{research.stdout.count(chr(10)) - 1} rows"
    for result in (fhir, research):
        assert "\r" not in result.stderr
        assert result.stderr.endswith("\n")


def test_progress_draws_clicks_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal the same progress is click's bar, with the label."""
    from stemjourney.cli._progress import progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress("checking scores", "rows", 10) as update:
        update(4)
        update(10)
    assert "checking scores" in capsys.readouterr().err


def test_worklist_status_is_read_today_unless_on_is_given(clinic: Path) -> None:
    """--on defaults to today (in --tz), as documented, not to --start."""
    from stemjourney.journey._clock import today

    window = ("worklist", "--start", "2026-04-01", "--end", "2026-04-30", "--format", "csv")
    default = run(clinic, *window).stdout
    assert default == run(clinic, *window, "--on", today(UTC).isoformat()).stdout
    on_start = run(clinic, *window, "--on", "2026-04-01").stdout
    assert "in_window" in on_start
    assert "in_window" not in default
    east = run(clinic, *window, "--tz", "Pacific/Kiritimati")
    assert east.exit_code == 0, east.stderr


def test_the_demo_fits_100_columns(tmp_path: Path) -> None:
    """Every line the demo prints fits a 100-column terminal."""
    result = CliRunner().invoke(
        cli,
        ["demo", "--output-dir", str(tmp_path / "d"), "--patients", "40", "--today", "2026-11-23"],
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert result.stderr == "building the demo clinic: 40 patients\n"


def test_times_in_the_future_by_the_clock_are_refused_on_import(
    clinic: Path, tmp_path: Path
) -> None:
    """The future is judged by the store's clock plus its skew."""
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    result = run(clinic, "import", "scores", str(_csv(tmp_path, f"j-2,nrs,2,{soon}")))
    assert "line 2, measured_at: is in the future" in result.stderr
    assert DAY0.year == 2026


# -- the parts, one by one ---------------------------------------------------------------


def test_the_time_rule_and_number_parsing_directly() -> None:
    """Zones by name, times with and without offsets, dates and numbers, each refused by name."""
    from zoneinfo import ZoneInfo

    from stemjourney.cli._params import parse_day, parse_moment, parse_number, zone_of
    from stemjourney.exceptions import ValidationError

    assert zone_of("utc") is UTC
    assert zone_of("local") is not None
    assert zone_of("Europe/Paris") == ZoneInfo("Europe/Paris")
    paris = ZoneInfo("Europe/Paris")
    assert parse_moment("2026-01-06T10:00", paris, "t").utcoffset() == timedelta(hours=1)
    assert parse_moment("2026-01-06T10:00Z", paris, "t").utcoffset() == timedelta(0)
    assert parse_day(" 2026-01-06 ", "d").isoformat() == "2026-01-06"
    assert parse_number("-1", "v") == -1
    assert parse_number("31.5", "v") == 31.5
    for bad in ("nan", "inf", SECRET):
        with pytest.raises(ValidationError) as refused:
            parse_number(bad, "value")
        assert SECRET not in str(refused.value)
    with pytest.raises(ValidationError, match="is not an ISO 8601 date"):
        parse_day(5, "d")
    with pytest.raises(ValidationError, match="is not text holding a time"):
        parse_moment(None, UTC, "t")


def test_record_json_for_each_kind_of_field() -> None:
    """Dates, lists, tuples and nulls are read by the field's type; a bad shape is named."""
    from stemjourney.cli._records import record_from_json
    from stemjourney.exceptions import ValidationError

    visit = record_from_json(
        {"kind": "follow_up_visit", "visited_at": "2026-02-01", "time_point": None}, UTC
    )
    assert visit.visited_at == datetime(2026, 2, 1, tzinfo=UTC)
    score = record_from_json(
        {"kind": "score", "instrument": "odi", "value": 32, "measured_at": "2026-02-01",
         "answers": [2, 2, 1, 2, 1, 2, 1, 2, 2, 1]},
        UTC,
    )  # fmt: skip
    assert score.answers == (2, 2, 1, 2, 1, 2, 1, 2, 2, 1)
    with pytest.raises(ValidationError, match=r"^record: is not a JSON object"):
        record_from_json([1], UTC)
    with pytest.raises(ValidationError, match=r"^score\.answers: is not a list"):
        record_from_json(
            {"kind": "score", "instrument": "odi", "value": 3, "measured_at": "2026-02-01",
             "answers": 3},
            UTC,
        )  # fmt: skip


def test_a_refusal_the_store_makes_on_import_is_named_by_line(
    clinic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the store to refuse a row the checks passed, its 0-based row is the file's line."""
    from stemjourney.exceptions import ValidationError
    from stemjourney.store import Store

    def refuse(self: Store, rows: object, **_: object) -> int:
        raise ValidationError("rows[1].value", "is refused", "something else")

    monkeypatch.setattr(Store, "import_scores", refuse)
    source = _csv(
        tmp_path, "j-2,nrs,2,2026-07-20T10:00:00+00:00", "j-2,nrs,3,2026-07-21T10:00:00+00:00"
    )
    result = run(clinic, "import", "scores", str(source))
    assert (
        result.stderr.splitlines()[-1]
        == "error: line 3, value: is refused; allowed: something else"
    )


def test_a_voided_journey_takes_no_imported_score(clinic: Path, tmp_path: Path) -> None:
    """A row for a voided journey is refused by its line."""
    run(clinic, "journey", "move", "j-3", "voided", "--reason", "duplicate")
    result = run(clinic, "import", "scores", str(_csv(tmp_path, "j-3,nrs,2,2026-07-20")))
    assert result.stderr.splitlines()[-1].startswith(
        "error: line 2, journey_id: journey j-3 is voided"
    )
