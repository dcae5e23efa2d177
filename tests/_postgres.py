"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, started with
pg_ctl on a Unix socket in that folder, stopped and removed afterwards.

The server binaries of Debian's postgresql package live in its own bin folder (not on
PATH): ``/usr/lib/postgresql/<version>/bin``, or ``STEMJOURNEY_PG_BIN``. When the tests
run as root, the cluster runs as the unprivileged ``postgres`` user (PostgreSQL refuses
to run as root). Without the binaries, :func:`find_bin` says how to install them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["Cluster", "find_bin", "missing_reason"]

INSTALL = (
    "PostgreSQL's server is not installed: install Debian's postgresql package "
    "(apt-get install postgresql), or set STEMJOURNEY_PG_BIN to the folder holding "
    "initdb and pg_ctl; the psycopg extra: pip install 'stemjourney[postgres]'"
)


def find_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or ``None``."""
    given = os.environ.get("STEMJOURNEY_PG_BIN")
    candidates = [given] if given else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return None if found is None else Path(found).parent


def missing_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or ``None`` when they can."""
    if find_bin() is None:
        return INSTALL
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return INSTALL
    return None


class Cluster:
    """One running throwaway cluster; :meth:`dsn` connects to its database."""

    def __init__(self) -> None:
        folder = find_bin()
        assert folder is not None, INSTALL
        self.bin = folder
        self.root = Path(tempfile.mkdtemp(prefix="stemjourney-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        self.start()
        self._run("createdb", "-h", str(self.root), "-U", "postgres", "clinic")

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Start the server (again) on the Unix socket in the cluster's folder."""
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.root}' "
            "-c max_connections=100 -c fsync=on"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.root / "log"), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint, no shutdown)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def dsn(self, database: str = "clinic") -> str:
        """A connection string for ``database`` over the cluster's socket."""
        return f"postgresql://postgres@/{database}?host={self.root}"

    def remove(self) -> None:
        """Stop the server and delete the cluster's folder."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
