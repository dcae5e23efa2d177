"""Datasette metadata generated from the schema, and Datasette serving its canned queries."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from stemjourney.cli import cli
from stemjourney.cli._datasette import QUERY_NAMES
from stemjourney.store._schema import expected_objects
from stemjourney.store._tables import TABLES

DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo clinic and the metadata the command writes for it."""
    folder = tmp_path_factory.mktemp("datasette")
    made = CliRunner().invoke(
        cli, ["demo", "--output-dir", str(folder), "--patients", "40", "--today", DAY.isoformat()]
    )
    assert made.exit_code == 0, made.output
    db = folder / "clinic.db"
    wrote = CliRunner().invoke(
        cli, ["--db", str(db), "datasette-metadata", "-o", str(folder / "metadata.json")]
    )
    assert wrote.exit_code == 0, wrote.output
    return db


def _metadata(db: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads((db.parent / "metadata.json").read_text())
    return found


def test_descriptions_are_the_schemas_own(demo: Path) -> None:
    """Every table and column is described as store/_tables.py describes it."""
    tables = _metadata(demo)["databases"]["clinic"]["tables"]  # type: ignore[index]
    for table in TABLES:
        entry = tables[table.name]
        assert entry["description"] == table.description
        for column in table.columns:
            assert entry["columns"][column.name].startswith(column.description)
    assert "vas 0-100 mm" in tables["observations"]["columns"]["value"]


def test_every_view_is_there_with_every_column_described(demo: Path) -> None:
    """The schema's views, the schedule's among them, each column with a description."""
    tables = _metadata(demo)["databases"]["clinic"]["tables"]  # type: ignore[index]
    views = [name for name, (kind, _) in expected_objects().items() if kind == "view"]
    assert "visits_due" in views
    for view in views:
        assert tables[view]["description"]
        assert tables[view]["columns"]
        assert all(tables[view]["columns"].values()), view


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_datasette_serves_each_canned_query(demo: Path) -> None:
    """Datasette on 127.0.0.1 with the metadata answers every canned query as JSON."""
    pytest.importorskip("datasette")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(demo), "-m",
         str(demo.parent / "metadata.json"), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/clinic"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}.json")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "datasette did not start in 60 s"
                time.sleep(0.3)
        answers = {}
        for name in QUERY_NAMES:
            answers[name] = _get(f"{base}/{name}.json?_shape=array&patient_id=demo-0001")
        described = _get(f"{base}/visits_due.json?_shape=array&_size=1")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    assert isinstance(answers["adverse_events_by_grade"], list)
    assert answers["adverse_events_by_grade"]
    assert {"grade", "events", "serious", "journeys"} <= set(answers["adverse_events_by_grade"][0])
    pain = answers["pain_over_time"]
    assert isinstance(pain, list)
    assert pain
    assert {row["unit"] for row in pain} <= {"points", "mm"}
    responders = answers["responders_at_6_months"]
    assert isinstance(responders, list)
    assert responders
    assert all(0 <= r["responders"] <= r["journeys"] for r in responders)
    assert isinstance(answers["overdue_this_week"], list)
    assert isinstance(described, list)


def test_responders_at_6_months_agree_with_the_cohort_report(demo: Path) -> None:
    """The canned query counts the responders the cohort report counts, group by group."""
    import sqlite3

    from stemjourney.reports import cohort_report
    from stemjourney.store import open_store

    queries = _metadata(demo)["databases"]["clinic"]["queries"]  # type: ignore[index]
    conn = sqlite3.connect(demo)
    try:
        rows = conn.execute(queries["responders_at_6_months"]["sql"]).fetchall()
    finally:
        conn.close()
    by_sql = {tuple(r[:4]): (r[4], r[5]) for r in rows}
    with open_store(demo) as store:
        report = cohort_report(store, on=DAY)
    by_report = {}
    for g in report.groups:
        six = next(r for r in g.rows if r.time_point == "6m")
        share = dict(six.responders).get("responder")
        if six.patients and share is not None:
            key = (g.condition, g.site, g.cell_source, g.cycle)
            by_report[key] = (six.patients, round(share * six.patients))
    assert by_sql == by_report
