"""The ``stemjourney`` command line: every command has ``--help``.

Errors print one line on stderr (``error: ...``) and exit non-zero, never a traceback.
"""

from stemjourney.cli import _admin, _journeys, _reports
from stemjourney.cli._app import cli

__all__ = ["cli", "main"]

_COMMANDS = (_admin, _journeys, _reports)


def main() -> None:
    """Run the command line (the ``stemjourney`` console script)."""
    cli(prog_name="stemjourney")
