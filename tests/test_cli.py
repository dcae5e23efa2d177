"""The ``stemjourney`` command line, driven through click's CliRunner: every command."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from _report_journeys import DAY0, FixedClock, adverse, consulted, to_store, treated
from stemjourney.cli import cli
from stemjourney.store import VerifyReport, open_store

INJECTED = DAY0 + timedelta(days=14)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


COMMANDS = _commands(cli)


def run(db: Path | str, *args: str, stdin: str | None = None) -> Result:
    """Invoke the command line with ``--db db`` and return the result."""
    return CliRunner().invoke(cli, ["--db", str(db), "--actor", "tester", *args], input=stdin)


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    """A database with two treated knees (one with an adverse event) and one consultation."""
    db = tmp_path / "clinic.db"
    with open_store(db, clock=FixedClock()) as store:
        to_store(store, adverse(treated(follow=[(42, 5)]), INJECTED + timedelta(days=2)))
        to_store(store, treated("j-2", "p-2", baseline=6, follow=[(42, 5), (91, 3)]))
        to_store(store, consulted("j-3", "p-3"))
    return db


def test_every_command_is_tested_here() -> None:
    """The list of commands is the one these tests were written for."""
    assert COMMANDS == [
        ("copy",),
        ("datasette-metadata",),
        ("demo",),
        ("diagram",),
        ("export",),
        ("export", "fhir"),
        ("export", "fhir-definitions"),
        ("export", "research"),
        ("import",),
        ("import", "fhir"),
        ("import", "scores"),
        ("import-scores",),
        ("init",),
        ("journey",),
        ("journey", "amend"),
        ("journey", "list"),
        ("journey", "move"),
        ("journey", "open"),
        ("journey", "record"),
        ("journey", "score"),
        ("journey", "show"),
        ("patient",),
        ("patient", "add"),
        ("patient", "find"),
        ("patient", "list"),
        ("report",),
        ("report", "cohort"),
        ("report", "patient"),
        ("verify",),
        ("worklist",),
    ]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    """``--help`` of each command exits 0 and shows its own description."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    group: click.Command = cli
    for name in path:
        assert isinstance(group, click.Group)
        group = group.commands[name]
    assert group.help
    assert group.help.split("\n")[0][:30] in " ".join(result.output.split())


def test_copy_moves_a_store_into_a_new_file_with_the_same_chain(
    clinic: Path, tmp_path: Path
) -> None:
    """copy writes every row into a new file, says so, and the copy verifies with the
    source's head; a second copy into it is refused and leaves it as it was."""
    target = tmp_path / "copy.db"
    result = run(clinic, "copy", str(clinic), str(target))
    assert result.exit_code == 0, result.stderr
    with open_store(clinic) as source, open_store(target) as copy:
        head = source.head()
        assert copy.head() == head
        assert copy.verify(expected_head=head).ok
        assert list(copy.iter_journeys()) == list(source.iter_journeys())
    assert result.stdout.splitlines()[0].endswith(f"(3 journeys); head {head}")
    before = target.read_bytes()
    again = run(clinic, "copy", str(clinic), str(target))
    assert again.exit_code == 1
    assert again.stderr == "error: target: is not empty; allowed: a new, empty store\n"
    assert target.read_bytes() == before


def test_a_refused_copy_leaves_no_new_file(tmp_path: Path) -> None:
    """A source that is not a store is refused and the target file it would have made is
    not left behind."""
    source = tmp_path / "notes.txt"
    source.write_text("not a database")
    target = tmp_path / "copy.db"
    result = run(tmp_path / "x.db", "copy", str(source), str(target))
    assert result.exit_code == 1
    assert "not an SQLite database" in result.stderr
    assert not target.exists()


def test_init_creates_the_database_and_rechecks_it(tmp_path: Path) -> None:
    """init creates the file, and says it checked it when run again."""
    db = tmp_path / "new.db"
    first = run(db, "init")
    assert first.exit_code == 0
    assert first.stdout.startswith(f"created database {db}")
    assert db.exists()
    assert run(db, "init").stdout.startswith("checked existing database")


def test_a_missing_database_is_one_line_on_stderr(tmp_path: Path) -> None:
    """Any command but init refuses a missing file with a one-line hint, exit 1."""
    result = run(tmp_path / "none.db", "verify")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: database file not found")
    assert "stemjourney init" in result.stderr
    assert "none.db" not in result.stderr
    assert "Traceback" not in result.output


def test_patient_add_prints_the_id_and_refuses_a_duplicate(tmp_path: Path) -> None:
    """The new id is printed; a second patient with the same number is one error line."""
    db = tmp_path / "c.db"
    run(db, "init")
    added = run(
        db, "patient", "add", "MRN-7", "--name", "Ann Example", "--birth-date", "1960-02-01"
    )
    assert added.exit_code == 0
    assert len(added.stdout.strip()) > 0
    again = run(db, "patient", "add", "mrn-7 ")
    assert again.exit_code == 1
    assert again.stderr.startswith("error: external_id is already")
    assert "Ann" not in again.stderr


def test_a_whole_journey_through_the_command_line(tmp_path: Path) -> None:
    """Open, score, record (file and stdin), move and show, as a coordinator would."""
    db = tmp_path / "c.db"
    run(db, "init")
    run(db, "patient", "add", "MRN-1", "--id", "p-1")
    opened = run(
        db,
        "journey",
        "open",
        "p-1",
        "--condition",
        "osteoarthritis of knee",
        "--site",
        "knee",
        "--side",
        "left",
        "--cell-source",
        "bone_marrow",
        "--at",
        "2026-01-05T09:00",
        "--id",
        "j-1",
    )
    assert opened.stdout == "j-1\n"
    scored = run(db, "journey", "score", "j-1", "nrs", "7", "--at", "2026-01-05T09:10:00+00:00")
    assert scored.stdout.strip().endswith("(added nrs 7)")
    consent = {"kind": "consent", "signed_at": "2026-01-05T09:20:00+00:00", "form_version": "v3"}
    recorded = run(db, "journey", "record", "j-1", stdin=json.dumps(consent))
    assert "(added consent)" in recorded.stdout
    assessment = tmp_path / "eligibility.json"
    assessment.write_text(json.dumps({"kind": "eligibility", "assessed_at": "2026-01-05T09:30Z"}))
    assert run(db, "journey", "record", "j-1", str(assessment)).exit_code == 0
    moved = run(
        db, "journey", "move", "j-1", "harvest", "--at", "2026-01-12", "--expected-version", "4"
    )
    assert moved.stdout == "journey j-1: harvest, cycle 1, version 5\n"
    shown = run(db, "journey", "show", "j-1")
    assert "now harvest, cycle 1, version 5" in shown.stdout
    assert "consultation -> harvest" in shown.stdout
    assert "allowed next: withdrawn, voided" in shown.stdout
    data = json.loads(run(db, "journey", "show", "j-1", "--format", "json").stdout)
    assert [r["record"]["kind"] for r in data["records"]] == ["score", "consent", "eligibility"]


def test_refused_moves_and_bad_records_are_one_error_line(clinic: Path) -> None:
    """Guard refusals, bad JSON, non-objects, bad values and bad times never show a traceback."""
    cases = [
        (("journey", "move", "j-3", "injection"), None, "error: journey j-3 is in 'consultation'"),
        (("journey", "record", "j-3"), "{not json", "error: the record is not valid JSON"),
        (("journey", "record", "j-3"), "[1, 2]", "error: the record must be a JSON object"),
        (("journey", "score", "j-3", "nrs", "11"), None, "error: value: is out of range"),
        (("journey", "move", "j-3", "harvest", "--at", "yesterday"), None, "error: Invalid value"),
        (("journey", "show", "j-404"), None, "error: no journey with id 'j-404'"),
        (("report", "patient", "p-1", "--on", "soon"), None, "error: Invalid value for '--on'"),
        (("nonsense",), None, "error: No such command 'nonsense'."),
    ]
    for args, stdin, expected in cases:
        result = run(clinic, *args, stdin=stdin)
        assert result.exit_code != 0, args
        assert result.stderr.startswith(expected), (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.output


def test_a_move_with_a_stale_version_is_a_conflict(clinic: Path) -> None:
    """--expected-version older than the journey is refused with the conflict message."""
    result = run(
        clinic, "journey", "move", "j-3", "voided", "--reason", "dup", "--expected-version", "1"
    )
    assert result.exit_code == 1
    assert "changed since it was read" in result.stderr


def test_worklist_prints_the_visits_due_in_the_range(clinic: Path) -> None:
    """On 30 April the open 3m visit of j-1 is listed; j-2 was seen on 20 April."""
    result = run(
        clinic, "worklist", "--start", "2026-04-01", "--end", "2026-04-30", "--on", "2026-04-30"
    )
    assert result.exit_code == 0
    assert "j-1" in result.stdout
    assert "j-2" not in result.stdout
    default = run(clinic, "worklist", "--format", "csv")
    assert default.stdout.startswith("patient_id,journey_id,")


def test_report_patient_in_each_format(clinic: Path, tmp_path: Path) -> None:
    """Text on the terminal; HTML and Markdown into files (folders made as needed)."""
    text = run(clinic, "report", "patient", "p-1", "--on", "2026-05-01")
    assert "Follow-up report" in text.stdout
    page = tmp_path / "out" / "p-1.html"
    html = run(clinic, "report", "patient", "p-1", "--format", "html", "-o", str(page))
    assert html.exit_code == 0
    assert f"wrote {page}" in html.stderr
    assert 'class="sj-chart sj-line"' in page.read_text()
    assert "MRN-p-1" in page.read_text()
    md = run(clinic, "report", "patient", "p-2", "--format", "markdown", "--on", "2026-05-01")
    assert md.stdout.startswith("# Follow-up report")


def test_report_patient_de_identified_holds_no_name_or_clinic_number(clinic: Path) -> None:
    """``--de-identified`` gives the report without the identity the store holds."""
    shown = run(clinic, "report", "patient", "p-1", "--on", "2026-05-01", "--format", "json")
    hidden = run(
        clinic, "report", "patient", "p-1", "--on", "2026-05-01", "--format", "json",
        "--de-identified",
    )  # fmt: skip
    assert hidden.exit_code == 0, hidden.output
    identified, anonymous = json.loads(shown.stdout), json.loads(hidden.stdout)
    assert identified["identified"] is True
    assert "MRN-p-1" in shown.stdout
    assert anonymous["identified"] is False
    assert "MRN-p-1" not in hidden.stdout
    assert (anonymous["external_id"], anonymous["birth_date"]) == (None, None)
    assert anonymous["journeys"] == identified["journeys"]


def test_report_cohort_as_csv_and_json(clinic: Path) -> None:
    """The cohort CSV has rows per time point; JSON is the report's plain data."""
    result = run(clinic, "report", "cohort", "--format", "csv", "--on", "2026-05-01")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    six = next(r for r in rows if r["time_point"] == "6w")
    assert (six["patients"], six["mean"]) == ("2", "5.0")
    data = json.loads(run(clinic, "report", "cohort", "--format", "json").stdout)
    assert data["groups"][0]["adverse_event_rate"] == 0.5


def test_writing_into_a_path_under_a_file_is_one_error_line(clinic: Path, tmp_path: Path) -> None:
    """An output path that cannot be made is an OSError shown as one line."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(clinic, "report", "cohort", "-o", str(blocker / "sub" / "c.html"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1


def test_export_fhir_writes_a_bundle(clinic: Path, tmp_path: Path) -> None:
    """The FHIR export is one JSON Bundle with the patients' resources."""
    target = tmp_path / "bundle.json"
    result = run(clinic, "export", "fhir", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    bundle = json.loads(target.read_text())
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "EpisodeOfCare", "Observation"} <= kinds
    one = json.loads(run(clinic, "export", "fhir", "--patient", "p-2").stdout)
    patients = [e for e in one["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1


def test_import_fhir_reads_an_exported_bundle_into_a_new_database(
    clinic: Path, tmp_path: Path
) -> None:
    """A Bundle the export wrote is read into a new database whole: the same journeys, a
    history that verifies; a second import of it is refused and changes nothing."""
    bundle = tmp_path / "bundle.json"
    assert run(clinic, "export", "fhir", "-o", str(bundle)).exit_code == 0
    copy = tmp_path / "copy.db"
    result = run(copy, "import", "fhir", str(bundle))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "imported 3 patients and 3 journeys\n"
    with open_store(clinic) as original, open_store(copy) as imported:
        assert list(imported.iter_journeys()) == list(original.iter_journeys())
        assert imported.verify().ok
        entries = imported.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    again = run(copy, "import", "fhir", str(bundle))
    assert again.exit_code == 1
    assert again.stderr.startswith("error: patient_id p-1 is taken")
    with open_store(copy) as imported:
        assert imported.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == entries


def test_import_fhir_refuses_what_it_cannot_read_and_creates_nothing(tmp_path: Path) -> None:
    """A file that is not JSON, or a Bundle of another writer, is refused with the element at
    fault; no database is created."""
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    result = run(tmp_path / "new.db", "import", "fhir", str(text))
    assert result.exit_code == 1
    assert "is not JSON" in result.stderr
    foreign = tmp_path / "foreign.json"
    foreign.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Medication", "id": "1"}}
                ],
            }
        )
    )
    result = run(tmp_path / "new.db", "import", "fhir", str(foreign))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Medication/1.resourceType: is not a resource")
    assert not (tmp_path / "new.db").exists()


def test_export_fhir_definitions_writes_every_definition(clinic: Path) -> None:
    """The definitions behind the export's own URLs come out as one Bundle."""
    result = run(clinic, "export", "fhir-definitions")
    assert result.exit_code == 0, result.stderr
    kinds = {e["resource"]["resourceType"] for e in json.loads(result.stdout)["entry"]}
    assert kinds == {"StructureDefinition", "CodeSystem", "Questionnaire"}


def test_export_research_writes_pseudonymous_csv(clinic: Path) -> None:
    """The research CSV carries no patient id or clinic number, and needs a long key."""
    result = run(
        clinic, "export", "research", "--key", "a secret of sixteen+ bytes", "--dates", "days"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("patient,journey,")
    assert "p-1" not in result.stdout
    assert "MRN" not in result.stdout
    short = run(clinic, "export", "research", "--key", "short")
    assert short.exit_code == 1
    assert short.stderr.startswith("error: ")


def test_import_scores_from_csv_shows_progress(clinic: Path, tmp_path: Path) -> None:
    """Rows are imported with a progress bar on stderr; the scores land on the journey."""
    source = tmp_path / "scores.csv"
    source.write_text(
        "journey_id,instrument,value,measured_at\n"
        "j-2,nrs,2,2026-07-20T10:00:00+00:00\n"
        "j-2,vas,31.5,2026-07-20T10:00\n"
    )
    result = run(clinic, "import", "scores", str(source))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "imported 2 scores (0 already present)\n"
    assert result.stderr == "checking scores: 2 rows\n"
    shown = run(clinic, "journey", "show", "j-2").stdout
    assert "score vas 31.5" in shown


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "journey,value\nj-2,3\n",
            "error: line 1 (header): lacks journey_id, instrument, measured_at",
        ),
        ("journey_id,instrument,value,measured_at\nj-2,nrs,lots,2026-07-20\n", "line 2, value"),
        ("journey_id,instrument,value,measured_at\nj-2,nrs,3,noon\n", "line 2, measured_at"),
        ("journey_id,instrument,value,measured_at\nj-2,nrs,30,2026-07-20\n", "line 2, value"),
    ],
)
def test_import_scores_refuses_bad_rows_with_their_number(
    clinic: Path, tmp_path: Path, content: str, expected: str
) -> None:
    """A bad header or row is one error line naming the row and field."""
    source = tmp_path / "bad.csv"
    source.write_text(content)
    result = run(clinic, "import", "scores", str(source))
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: ")
    assert expected in last


def test_verify_reports_ok_or_lists_problems(clinic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sound file verifies; problems are listed and the exit code is 1."""
    ok = run(clinic, "verify")
    assert ok.exit_code == 0
    assert ok.stdout.startswith("ok: ")
    from stemjourney.store import Store

    monkeypatch.setattr(Store, "verify", lambda self: VerifyReport(problems=("chain broken at 3",)))
    bad = run(clinic, "verify")
    assert bad.exit_code == 1
    assert bad.stdout == "chain broken at 3\n"
    assert bad.stderr == "error: 1 problem(s) found\n"


def test_diagram_prints_mermaid_or_dot() -> None:
    """The diagram is the pipeline's Mermaid or DOT text."""
    mermaid = CliRunner().invoke(cli, ["diagram"])
    assert mermaid.stdout.startswith("stateDiagram-v2\n    [*] --> consultation")
    dot = CliRunner().invoke(cli, ["diagram", "--format", "dot"])
    assert dot.stdout.startswith("digraph pipeline {")


def test_demo_builds_the_clinic_and_writes_the_reports(tmp_path: Path) -> None:
    """demo writes the database and HTML files, prints the summary and the day's work-list."""
    folder = tmp_path / "demo-output"
    result = CliRunner().invoke(
        cli,
        ["demo", "--output-dir", str(folder), "--patients", "12", "--today", "2026-11-23"],
    )
    assert result.exit_code == 0, result.output
    assert (folder / "clinic.db").exists()
    cohort = (folder / "cohort.html").read_text()
    assert 'class="sj-chart' in cohort
    pages = sorted(folder.glob("patient-*.html"))
    assert len(pages) == 1
    assert "demo clinic (seed 2026, today 2026-11-23)" in result.stdout
    assert "Mean change in nrs" in result.stdout
    assert "Follow-up work-list" in result.stdout
    assert "building the demo clinic" in result.stderr


def test_main_without_standalone_mode_returns_the_result() -> None:
    """Embedding the CLI with standalone_mode=False returns instead of exiting."""
    assert cli.main(["diagram"], standalone_mode=False) is None


def test_an_abort_is_one_line(clinic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (click.Abort) prints 'aborted' and exits 1."""
    from stemjourney.store import Store

    def interrupted(self: Store) -> VerifyReport:
        raise click.Abort

    monkeypatch.setattr(Store, "verify", interrupted)
    result = run(clinic, "verify")
    assert (result.exit_code, result.stderr) == (1, "error: aborted\n")


def test_main_runs_the_console_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() is the console script: it reads sys.argv and exits 0 after a good command."""
    from stemjourney.cli import main

    monkeypatch.setattr("sys.argv", ["stemjourney", "diagram", "--format", "dot"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("digraph pipeline {")


def test_python_dash_m_runs_the_command_line() -> None:
    """``python -m stemjourney.cli`` is the same command line."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "stemjourney.cli", "diagram"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("stateDiagram-v2")
