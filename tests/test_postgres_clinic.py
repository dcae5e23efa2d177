"""The demo clinic on PostgreSQL: the same answers as its SQLite file, everywhere.

The clinic is built into an SQLite file, copied into a schema of the tests' throwaway
cluster with ``copy_store`` and back into a new file: reports, exports, the FHIR round
trip, the command line with ``--db postgresql://...`` and the testing helpers give on
the server exactly what they give on the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stemjourney as sj
from _postgres import Cluster
from stemjourney.cli import cli
from stemjourney.demo import build_demo_clinic
from stemjourney.export import import_fhir, research_csv, write_fhir_bundle
from stemjourney.reports import cohort_report, patient_report, to_text, worklist_report
from stemjourney.store import copy_store, open_store

TODAY = date(2026, 11, 2)
_NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)
SCHEMA = "clinic_network"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster) -> Iterator[Any]:
    """(the SQLite file's store, the PostgreSQL store, the folder): the same clinic."""
    folder = tmp_path_factory.mktemp("network")
    build_demo_clinic(folder / "clinic.db", patients=24, today=TODAY)
    with (
        open_store(folder / "clinic.db") as lite,
        open_store(pg_cluster.dsn(), schema=SCHEMA) as pg,
    ):
        report = copy_store(lite, pg)
        assert report.head == lite.head() == pg.head()
        yield lite, pg, folder


def test_every_journey_and_patient_reads_back_the_same(stores: Any) -> None:
    lite, pg, _ = stores
    assert list(pg.iter_journeys()) == list(lite.iter_journeys())
    assert list(pg.iter_patients()) == list(lite.iter_patients())
    assert pg.verify(expected_head=lite.head()).ok


def test_reports_are_the_same(stores: Any) -> None:
    lite, pg, _ = stores
    for instrument in ("nrs", None):
        assert cohort_report(pg, on=TODAY, instrument=instrument) == cohort_report(
            lite, on=TODAY, instrument=instrument
        )
    start, end = date(2026, 10, 1), date(2026, 12, 31)
    assert worklist_report(pg, start, end, on=TODAY) == worklist_report(lite, start, end, on=TODAY)
    for patient in list(lite.iter_patients())[:6]:
        ours = patient_report(pg, patient.id, on=TODAY)
        assert ours == patient_report(lite, patient.id, on=TODAY)
        assert to_text(ours)


def test_exports_are_the_same(stores: Any) -> None:
    lite, pg, _ = stores
    bundles = []
    for store in (lite, pg):
        out = io.StringIO()
        write_fhir_bundle(store, out, timestamp=_NOON)
        bundles.append(json.loads(out.getvalue()))
    assert bundles[0] == bundles[1]
    csvs = []
    for store in (lite, pg):
        out = io.StringIO()
        research_csv(store, out, key=b"research key of 32 bytes........", on=TODAY)
        csvs.append(out.getvalue())
    assert csvs[0] == csvs[1]
    assert csvs[0].count("\n") > 24


def test_a_bundle_imports_into_postgresql(stores: Any, pg_cluster: Cluster) -> None:
    lite, _, _ = stores
    out = io.StringIO()
    write_fhir_bundle(lite, out, timestamp=_NOON)
    with open_store(pg_cluster.dsn(), schema="from_fhir") as target:
        patients, journeys = import_fhir(target, json.loads(out.getvalue()))
        assert patients == sum(1 for _ in lite.iter_patients())
        assert journeys == sum(1 for _ in lite.iter_journeys())
        assert target.verify().ok


def test_copy_back_into_a_file_keeps_the_chain(stores: Any, tmp_path: Path) -> None:
    lite, pg, _ = stores
    with open_store(tmp_path / "back.db") as back:
        report = copy_store(pg, back)
        assert report.head == lite.head() == back.head()
        assert back.verify(expected_head=lite.head()).ok
        assert list(back.iter_journeys()) == list(lite.iter_journeys())


def _cli(db: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", db, "--actor", "tester", *args])


@pytest.mark.parametrize(
    "args",
    [
        ("verify",),
        ("worklist", "--start", "2026-10-01", "--end", "2026-12-31", "--on", "2026-11-02"),
        ("report", "cohort", "--on", "2026-11-02", "--format", "json"),
        ("journey", "list", "--format", "csv"),
        ("patient", "list", "--format", "json"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_the_command_line_answers_the_same(
    stores: Any, pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """``--db postgresql://...`` with the schema from ``STEMJOURNEY_SCHEMA``."""
    _, _, folder = stores
    file = _cli(str(folder / "clinic.db"), *args)
    monkeypatch.setenv("STEMJOURNEY_SCHEMA", SCHEMA)
    server = _cli(pg_cluster.dsn(), *args)
    assert file.exit_code == 0, file.output
    assert server.exit_code == 0, server.output
    assert server.output == file.output


def test_the_command_line_writes_to_postgresql(pg_cluster: Cluster) -> None:
    """init, patient add, journey open and show on the server; errors stay one line."""
    dsn = pg_cluster.dsn()
    assert _cli(dsn, "--schema", "cli_writes", "init").exit_code == 0
    added = _cli(dsn, "--schema", "cli_writes", "patient", "add", "MRN-77", "--id", "p-77")
    assert added.exit_code == 0, added.output
    again = _cli(dsn, "--schema", "cli_writes", "patient", "add", "MRN-77")
    assert again.exit_code != 0
    assert again.output.count("\n") == 1
    assert "MRN-77" not in again.output


def test_the_testing_helpers_play_on_postgresql(pg_cluster: Cluster) -> None:
    """A journey the testing helpers make reads back from a PostgreSQL store unchanged."""
    from stemjourney.testing import ManualClock, treated_journey

    journey = treated_journey()
    patient = sj.Patient(id=journey.patient_id, external_id="MRN-1")
    with open_store(pg_cluster.dsn(), schema="helpers", clock=ManualClock(_NOON)) as store:
        store.import_history([patient], [journey], actor="tester")
        assert store.journey(journey.id) == journey
        assert store.verify().ok
