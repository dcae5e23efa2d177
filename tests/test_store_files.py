"""The file itself: refused files left as they were, owner-only modes, errors that carry no text.

A file that is not ours (or newer, or damaged) is looked at read-only and refused
byte for byte unchanged, with no -wal or -shm left beside it. Everything the library
creates is owner-only whatever the umask. Failures have their own error class, and
no exception, its arguments or its cause carries stored or typed text.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stemjourney as sj
from _store_helpers import DAY0, add_journey, open_file, ready_for_harvest
from stemjourney._files import write_private
from stemjourney.exceptions import (
    CorruptDatabaseError,
    NotADatabaseError,
    SchemaError,
    StemJourneyError,
    StorageError,
    ValidationError,
)
from stemjourney.store import SCHEMA_VERSION
from stemjourney.store._connect import uri_path

SECRET = "Ann Quigley-Secret"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Run with umask 000, so only the library's own modes protect the files."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _ours(path: Path) -> Path:
    with open_file(path) as store:
        add_journey(store)
        ready_for_harvest(store)
    return path


def _refused(path: Path, error: type[StemJourneyError]) -> None:
    before = path.read_bytes()
    with pytest.raises(error):
        open_file(path)
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()
    assert not Path(f"{path}-shm").exists()


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    """A file of a newer schema is refused and left byte for byte, with no WAL files made."""
    path = _ours(tmp_path / "c.db")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    _refused(path, SchemaError)


def test_another_applications_file_is_refused_untouched(tmp_path: Path) -> None:
    """Another application's id, or its tables without one, is refused untouched."""
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA application_id = 42")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    _refused(other, SchemaError)
    plain = tmp_path / "plain.db"
    conn = sqlite3.connect(plain)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    _refused(plain, SchemaError)


def test_a_damaged_schema_or_a_text_file_is_refused_untouched(tmp_path: Path) -> None:
    """Damaged schema pages and a file that is not SQLite are refused untouched."""
    path = _ours(tmp_path / "c.db")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the header's page size
    data[100:page] = b"\xa5" * (page - 100)
    path.write_bytes(bytes(data))
    _refused(path, CorruptDatabaseError)
    notes = tmp_path / "notes.db"
    notes.write_text(f"{SECRET} keeps her notes here\n" * 100)
    _refused(notes, NotADatabaseError)


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"])))
def test_the_read_only_looks_uri_names_the_same_path_as_urllib_quote(path: str) -> None:
    """``uri_path`` (which spares every open the import of urllib.parse) decodes to the
    path itself, as ``urllib.parse.quote`` does, and leaves nothing a URI would cut."""
    from urllib.parse import quote, unquote

    mine = uri_path(path)
    assert unquote(mine) == unquote(quote(path)) == path
    assert "?" not in mine
    assert "#" not in mine


@pytest.mark.parametrize("name", ["a?mode=rw.db", "b#frag.db", "c%3F%41 d.db", "é ü.db"])
def test_a_file_whose_name_looks_like_uri_syntax_is_opened_and_refused_as_any(
    tmp_path: Path, name: str
) -> None:
    """The read-only look opens the named file, not a name cut at ``?`` or ``#``."""
    path = _ours(tmp_path / name)
    with open_file(path) as store:
        assert store.verify().ok
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".db")) == [name]
    other = tmp_path / f"other {name}"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    _refused(other, SchemaError)


def test_new_files_and_their_wal_are_owner_only(tmp_path: Path, no_umask: None) -> None:
    """A new store and its -wal and -shm files are 0600 under umask 000."""
    path = tmp_path / "c.db"
    with open_file(path) as store:
        add_journey(store)
        assert _mode(path) == 0o600
        assert _mode(Path(f"{path}-wal")) == 0o600
        assert _mode(Path(f"{path}-shm")) == 0o600


def test_a_store_made_through_a_dangling_symlink_is_owner_only(
    tmp_path: Path, no_umask: None
) -> None:
    """Creating a store through a symlink to a missing file makes the target 0600."""
    target = tmp_path / "real.db"
    link = tmp_path / "link.db"
    link.symlink_to(target)
    with open_file(link) as store:
        add_journey(store)
    assert target.exists()
    assert _mode(target) == 0o600


def test_a_backup_onto_an_existing_file_is_owner_only(tmp_path: Path, no_umask: None) -> None:
    """A backup written over an existing 0644 file leaves it 0600, a sound copy."""
    path = _ours(tmp_path / "c.db")
    copy = tmp_path / "copy.db"
    copy.write_bytes(b"")
    copy.chmod(0o644)
    with open_file(path) as store:
        store.backup(copy)
    assert _mode(copy) == 0o600
    with open_file(copy) as again:
        assert again.verify().ok


def test_written_outputs_and_their_folders_are_owner_only(tmp_path: Path, no_umask: None) -> None:
    """Reports and exports written to a new folder are 0600 in a 0700 folder, also over a file."""
    out = tmp_path / "new" / "deeper" / "report.html"
    write_private(out, "<html></html>")
    assert _mode(out) == 0o600
    assert _mode(out.parent) == 0o700
    assert _mode(out.parent.parent) == 0o700
    old = tmp_path / "old.csv"
    old.write_text("x")
    old.chmod(0o644)
    write_private(old, b"a,b\n")
    assert (_mode(old), old.read_bytes()) == (0o600, b"a,b\n")


def test_a_lone_surrogate_is_a_validation_error_naming_the_field(tmp_path: Path) -> None:
    """Text that is not valid Unicode is refused with the field's name and nothing written."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        with pytest.raises(ValidationError, match="display_name") as refused:
            store.add_patient("mrn-9", actor="desk", display_name="Ann \udc80")
        assert "\udc80" not in str(refused.value.args)
        with pytest.raises(ValidationError, match="actor"):
            store.record("j-1", sj.nrs(3, DAY0), actor="nurse \ud800")
        assert store.verify().ok


def _limited_write(path: Path) -> subprocess.CompletedProcess[str]:
    code = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from datetime import timedelta
import stemjourney as sj
from _store_helpers import DAY0, open_file
from stemjourney.exceptions import DiskFullError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
store = open_file({str(path)!r})
size = {path.stat().st_size}
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 65536, size + 65536))
try:
    for n in range(100000):
        store.add_patient(f"mrn-x{{n}}", actor="desk", display_name="{SECRET}" * 10)
except DiskFullError as error:
    assert "{SECRET}" not in str(error) and error.__cause__ is None
    print("disk full")
"""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )


def test_a_file_size_limit_is_a_disk_full_error(tmp_path: Path) -> None:
    """Writing past the process's file-size limit is DiskFullError, and the file stays sound."""
    path = _ours(tmp_path / "c.db")
    done = _limited_write(path)
    assert "disk full" in done.stdout, done.stderr[-2000:]
    with open_file(path) as store:
        assert store.verify().ok


def test_damaged_pages_raise_corrupt_database_error_without_stored_text(tmp_path: Path) -> None:
    """A read over a damaged page is CorruptDatabaseError whose text holds no stored value."""
    path = tmp_path / "c.db"
    with open_file(path) as store:
        store.add_patient("mrn-1", actor="desk", patient_id="p-1", display_name=SECRET)
        add_journey(store)
        for n in range(200):
            store.record("j-1", sj.nrs(n % 10, DAY0), actor="nurse")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute(
            "SELECT rootpage FROM sqlite_schema WHERE name = 'observations'"
        ).fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page)
        file.write(b"\xa5" * page)
    with open_file(path) as store:
        with pytest.raises(CorruptDatabaseError) as damaged:
            store.journey("j-1")
        assert SECRET not in str(damaged.value)
        assert damaged.value.__cause__ is None
        assert not store.verify().ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_store_used_after_fork_refuses(tmp_path: Path) -> None:
    """A store opened before fork() refuses to write in the child, with a clear error."""
    path = _ours(tmp_path / "c.db")
    with open_file(path) as store:
        pid = os.fork()
        if pid == 0:  # the child
            try:
                store.record("j-1", sj.nrs(3, DAY0), actor="nurse")
            except StorageError as error:
                os._exit(7 if "another process" in str(error) else 3)
            except BaseException:
                os._exit(4)
            os._exit(5)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7
        store.record("j-1", sj.nrs(3, DAY0), actor="nurse")
        assert store.verify().ok


def test_refused_writes_carry_no_typed_text(tmp_path: Path) -> None:
    """Errors name fields and ids; the text a caller typed is in no message, arg or cause."""
    with open_file(tmp_path / "c.db") as store:
        add_journey(store)
        attempts = [
            lambda: store.add_patient(SECRET * 10, actor="desk"),
            lambda: store.add_patient("mrn-1", actor="desk", display_name=SECRET + "\x00"),
            lambda: store.move(
                "j-1", "withdrawn", actor="dr", occurred_at=DAY0, reason=SECRET * 200
            ),
            lambda: store.record("j-1", sj.nrs(3, DAY0), actor=SECRET * 20),
        ]
        for attempt in attempts:
            with pytest.raises(StemJourneyError) as refused:
                attempt()
            error = refused.value
            texts = [str(error), *map(str, error.args), str(error.__cause__ or "")]
            assert all(SECRET not in text for text in texts)


def test_a_copy_is_independent_of_its_source(tmp_path: Path) -> None:
    """A copied file verifies on its own (no state lives outside the file)."""
    path = _ours(tmp_path / "c.db")
    copy = tmp_path / "d.db"
    with open_file(path) as store:
        store.backup(copy)
    shutil.move(copy, tmp_path / "e.db")
    with open_file(tmp_path / "e.db") as moved:
        assert moved.verify().ok


def test_the_cli_writes_reports_owner_only(tmp_path: Path, no_umask: None) -> None:
    """A report the command line writes with -o, in a new folder, is 0600 in a 0700 folder."""
    from click.testing import CliRunner

    from stemjourney.cli import cli

    db = _ours(tmp_path / "c.db")
    out = tmp_path / "reports" / "cohort.csv"
    done = CliRunner().invoke(
        cli, ["--db", str(db), "report", "cohort", "--format", "csv", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert (_mode(out), _mode(out.parent)) == (0o600, 0o700)
