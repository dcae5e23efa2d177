"""The root command, its shared options, and the one place errors become one line on stderr.

The conventions are the sqlite-utils command line's: ``--db`` names the file (or
``STEMJOURNEY_DB``), every command has ``--help``, lists take ``--format
table|json|csv``, and a failure is one line on stderr (``error: ...``) with a non-zero
exit status, never a traceback and never a value that was typed or stored.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from stemjourney._files import open_private
from stemjourney.cli._params import DAY, MOMENT, TZ, command_zone
from stemjourney.exceptions import StemJourneyError

if TYPE_CHECKING:
    from stemjourney.store import Store

__all__ = ["DAY", "MOMENT", "TZ", "State", "cli", "command_zone", "output", "pass_state"]

DEFAULT_DB = "stemjourney.db"

# click quotes what was typed in a few of its own messages: say the same without it.
_QUOTING = (
    (re.compile(r"^Got unexpected extra arguments? \(.*\)$", re.S), "unexpected extra argument(s)"),
)


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
            _fail(f"{_unquoted(error.format_message())} (see '{where} --help')", error.exit_code)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except click.Abort:
            _fail("aborted", 1)
        except StemJourneyError as error:
            _fail(str(error), 1)
        except OSError as error:
            _fail(f"{error.strerror or type(error).__name__} (a file could not be used)", 1)
        else:
            code = result if isinstance(result, int) else 0
            if not standalone_mode:
                return result
        sys.exit(code)


def _unquoted(message: str) -> str:
    for pattern, said in _QUOTING:
        if pattern.match(message):
            return said
    return message


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def is_url(db: str) -> bool:
    """Whether ``--db`` names a PostgreSQL database rather than a file."""
    return db.startswith(("postgresql://", "postgres://"))


def shown(db: str) -> str:
    """``--db`` as it may be printed: a URL without its password."""
    if not is_url(db):
        return db
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(db)
    if parts.password is None:
        return db
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_db(db: str, schema: str, *, create: bool = False) -> Store:
    """The store at ``db`` (a file, or a PostgreSQL URL and its ``schema``); a file is
    refused unless it exists or ``create``."""
    if is_url(db):
        from stemjourney.store import open_store

        return open_store(db, schema=schema)
    if not create and db != ":memory:" and not os.path.exists(db):
        raise click.ClickException(
            "database file not found (--db or STEMJOURNEY_DB); create it with "
            "'stemjourney init', or try 'make demo' and --db demo-output/clinic.db"
        )
    from stemjourney.store import open_store

    return open_store(db)


class State:
    """What every command shares: the database, the actor, and the open store."""

    def __init__(self, db: str, actor: str, schema: str = "stemjourney") -> None:
        self.db = db
        self.actor = actor
        self.schema = schema
        self._store: Store | None = None

    def store(self, *, create: bool = False) -> Store:
        """The store at ``db``, opened once; a file is refused unless it exists or
        ``create``."""
        if self._store is None:
            self._store = open_db(self.db, self.schema, create=create)
        return self._store

    def close(self) -> None:
        """Close the store if a command opened it."""
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(State)


@contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or the file at ``path`` (``-`` is standard output too), owner-only."""
    if path is None or path == "-":
        yield sys.stdout
        return
    with open_private(path) as handle:
        yield handle
    click.echo(f"wrote {os.path.normpath(path)}", err=True)


def _plugins(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    for name in value:
        try:
            importlib.import_module(name)
        except Exception:  # a plugin's own failure is one line too, without its text
            raise click.BadParameter(
                "a module named there cannot be imported; allowed: an importable module "
                "(for example one that calls stemjourney.outcomes.register_instrument)"
            ) from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    envvar="STEMJOURNEY_DB",
    help="The database: a file, or a postgresql:// URL (or set STEMJOURNEY_DB); 'make demo' "
    "writes demo-output/clinic.db.",
)
@click.option(
    "--schema",
    default="stemjourney",
    show_default=True,
    envvar="STEMJOURNEY_SCHEMA",
    help="On PostgreSQL, the schema the store lives in (or set STEMJOURNEY_SCHEMA).",
)
@click.option(
    "--actor",
    default=lambda: os.environ.get("USER") or "cli",
    envvar="STEMJOURNEY_ACTOR",
    help="Who is making the changes, for the audit log (default: $USER; or STEMJOURNEY_ACTOR).",
)
@click.option(
    "--plugin",
    multiple=True,
    envvar="STEMJOURNEY_PLUGINS",
    metavar="MODULE",
    expose_value=False,
    callback=_plugins,
    help="Import MODULE first (repeatable; or STEMJOURNEY_PLUGINS, space-separated), e.g. one "
    "that registers the clinic's own instruments.",
)
@click.version_option(package_name="stemjourney", prog_name="stemjourney")
@click.pass_context
def cli(ctx: click.Context, db: str, schema: str, actor: str) -> None:
    """Follow regenerative-medicine patients through their treatment journey.

    Every change is written with its audit entry to an append-only SQLite file (or a
    PostgreSQL database: --db postgresql://...).
    Start with 'stemjourney init', or try everything on 'stemjourney demo'.
    Times without an offset are read in each command's --tz (UTC unless given).
    """
    state = State(db, actor, schema)
    ctx.obj = state
    ctx.call_on_close(state.close)
