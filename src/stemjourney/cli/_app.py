"""The root command, its shared options, and the one place errors become one line on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from stemjourney._files import open_private
from stemjourney.exceptions import StemJourneyError

if TYPE_CHECKING:
    from stemjourney.store import Store

__all__ = ["DAY", "MOMENT", "State", "cli", "output", "pass_state"]

DEFAULT_DB = "stemjourney.db"


class _Cli(click.Group):
    """A group whose failures print one line (``error: ...``) and exit non-zero."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = 1
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx is not None else "stemjourney"
            _fail(f"{error.format_message()} (see '{where} --help')", error.exit_code)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except click.Abort:
            _fail("aborted", 1)
        except StemJourneyError as error:
            _fail(str(error), 1)
        except OSError as error:
            _fail(f"{error.strerror or error} ({error.filename or 'file'})", 1)
        else:
            code = result if isinstance(result, int) else 0
            if not standalone_mode:
                return result
        sys.exit(code)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


class State:
    """What every command shares: the database path, the actor, and the open store."""

    def __init__(self, db: str, actor: str) -> None:
        self.db = db
        self.actor = actor
        self._store: Store | None = None

    def store(self, *, create: bool = False) -> Store:
        """The store at ``db``, opened once; refused unless the file exists or ``create``."""
        if self._store is None:
            if not create and self.db != ":memory:" and not Path(self.db).exists():
                raise click.ClickException(
                    f"database {self.db} does not exist; create it with 'stemjourney init' "
                    "or name another with --db"
                )
            from stemjourney.store import open_store

            self._store = open_store(self.db)
        return self._store

    def close(self) -> None:
        """Close the store if a command opened it."""
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(State)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time; without an offset it is read as UTC, a bare date as midnight UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("is not an ISO 8601 time such as 2026-03-02T09:30+01:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """An ISO 8601 date (YYYY-MM-DD)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("is not a date such as 2026-03-02") from None


MOMENT: dict[str, Any] = {"callback": _moment, "metavar": "TIME"}
"""Keyword arguments of a ``click.option`` that takes an ISO time."""
DAY: dict[str, Any] = {"callback": _day, "metavar": "DATE"}
"""Keyword arguments of a ``click.option`` that takes an ISO date."""


@contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or the file at ``path`` (``-`` is standard output too)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    with open_private(target) as handle:
        yield handle
    click.echo(f"wrote {target}", err=True)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    envvar="STEMJOURNEY_DB",
    help="The database file (or set STEMJOURNEY_DB).",
)
@click.option(
    "--actor",
    default=lambda: os.environ.get("USER") or "cli",
    envvar="STEMJOURNEY_ACTOR",
    help="Who is making the changes, for the audit log (default: $USER; or STEMJOURNEY_ACTOR).",
)
@click.version_option(package_name="stemjourney", prog_name="stemjourney")
@click.pass_context
def cli(ctx: click.Context, db: str, actor: str) -> None:
    """Follow regenerative-medicine patients through their treatment journey.

    Every change is written with its audit entry to an append-only SQLite file.
    Start with 'stemjourney init', or try everything on 'stemjourney demo'.
    """
    state = State(db, actor)
    ctx.obj = state
    ctx.call_on_close(state.close)
