"""Start-up: the command line and ``import stemjourney`` load only what a command needs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from _report_journeys import FixedClock, to_store, treated
from stemjourney.store import open_store

HEAVY = ("jinja2", "sqlite_utils", "stemjourney.reports._html", "stemjourney.export._fhir")


def _loaded(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    """``import stemjourney.cli`` imports neither jinja2, sqlite_utils, the HTML renderer,
    the FHIR exporter, the store, nor the reports."""
    loaded = _loaded("import stemjourney.cli")
    assert not loaded & {*HEAVY, "stemjourney.store", "stemjourney.reports"}


def test_import_stemjourney_loads_names_on_first_use() -> None:
    """``import stemjourney`` loads no subpackage; a name brings in only its own module."""
    assert not {m for m in _loaded("import stemjourney") if m.startswith("stemjourney.")}
    engine = _loaded("import stemjourney; stemjourney.Engine")
    assert "stemjourney.journey._engine" in engine
    assert not engine & {*HEAVY, "stemjourney.store", "stemjourney.reports"}


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    """A database with one treated knee."""
    db = tmp_path / "clinic.db"
    with open_store(db, clock=FixedClock()) as store:
        to_store(store, treated(follow=[(42, 5)]))
    return db


@pytest.mark.parametrize(
    "args",
    [
        ("journey", "show", "j-1"),
        ("report", "patient", "p-1", "--on", "2026-05-01"),
        ("worklist", "--start", "2026-04-01", "--end", "2026-04-30"),
        ("report", "cohort", "--format", "csv"),
    ],
    ids=" ".join,
)
def test_a_text_command_loads_no_heavy_module(clinic: Path, args: tuple[str, ...]) -> None:
    """Reading commands answer without jinja2, sqlite_utils, the HTML renderer or FHIR."""
    argv = ["--db", str(clinic), *args]
    code = (
        "import contextlib, io\nfrom stemjourney.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main({argv!r}, standalone_mode=False)"
    )
    assert not _loaded(code) & set(HEAVY)


ONLY_OTHER_COMMANDS = (
    "pathlib",
    "urllib.parse",
    "stemjourney.store._copy",
    "stemjourney.store._verify",
    "stemjourney.store._schema1",
    "statistics",
)
"""Modules a reading command never needs: paths as objects and URL parsing (which loads
``ipaddress``), copying, verifying, the schema-1 upgrade, and the cohort's medians
(``statistics`` loads decimal, fractions and random)."""


@pytest.mark.parametrize(
    "args",
    [
        ("journey", "show", "j-1"),
        ("report", "patient", "p-1", "--on", "2026-05-01"),
        ("worklist", "--start", "2026-04-01", "--end", "2026-04-30"),
    ],
    ids=" ".join,
)
def test_a_reading_command_loads_only_what_it_needs(clinic: Path, args: tuple[str, ...]) -> None:
    """The first answer of a reading command pays for none of the other commands' modules;
    ``journey show`` also leaves the calendar arithmetic (python-dateutil) unloaded."""
    argv = ["--db", str(clinic), *args]
    code = (
        "import contextlib, io\nfrom stemjourney.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main({argv!r}, standalone_mode=False)"
    )
    loaded = _loaded(code)
    assert "stemjourney.store._store" in loaded  # the command did open the store
    assert not loaded & set(ONLY_OTHER_COMMANDS)
    if args[0] == "journey":
        assert "dateutil.relativedelta" not in loaded


def test_verify_and_copy_still_load_on_first_use() -> None:
    """The store's lazily loaded names are the modules' own (``from ... import`` works)."""
    loaded = _loaded("from stemjourney.store import VerifyReport, Problem, CopyReport, copy_store")
    assert {"stemjourney.store._verify", "stemjourney.store._copy"} <= loaded


def test_an_html_report_still_loads_the_html_renderer(clinic: Path) -> None:
    """--format html imports the renderer (and jinja2) when it is asked for."""
    argv = ["--db", str(clinic), "report", "patient", "p-1", "--format", "html"]
    code = (
        "import contextlib, io\nfrom stemjourney.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main({argv!r}, standalone_mode=False)"
    )
    assert {"jinja2", "stemjourney.reports._html"} <= _loaded(code)


@pytest.mark.parametrize(
    "module", ["stemjourney", "stemjourney.reports", "stemjourney.outcomes", "stemjourney.store"]
)
def test_lazy_namespaces_list_and_resolve_every_name(module: str) -> None:
    """dir() lists every public name; each resolves; an unknown name is an AttributeError."""
    mod = importlib.import_module(module)
    assert set(mod.__all__) <= set(dir(mod))
    for name in mod.__all__:
        assert getattr(mod, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        mod.nonsense  # noqa: B018


def test_the_cli_report_formats_are_the_renderers() -> None:
    """The CLI's --format choices are stemjourney.reports.FORMATS (kept apart to load lazily)."""
    from stemjourney.cli._reports import FORMATS
    from stemjourney.reports import FORMATS as RENDERED

    assert FORMATS == RENDERED
