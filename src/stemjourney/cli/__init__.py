"""The ``stemjourney`` command line: every command has ``--help``.

Errors print one line on stderr (``error: ...``) and exit non-zero, never a traceback.
Importing this package loads click and the command definitions only: each command
imports the store, reports or exports it needs when it runs.
"""

from stemjourney.cli import (
    _admin,
    _datasette,
    _imports,
    _journeys,
    _listing,
    _patients,
    _reports,
)
from stemjourney.cli._app import cli

__all__ = ["cli", "main"]

_COMMANDS = (_admin, _datasette, _imports, _journeys, _listing, _patients, _reports)


def main() -> None:
    """Run the command line (the ``stemjourney`` console script)."""
    cli(prog_name="stemjourney")
