"""What every subcommand shares: the --config option and turning errors into exit codes."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from balmon import limits, logs
from balmon.config import Settings, load_settings
from balmon.errors import BalmonError, ConfigError, LeaseLost, StorageError
from balmon.storage import engine_for, ensure_schema
from balmon.storage.statements import database_reason

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file (else $BALMON_CONFIG, else ./balmon.toml).",
        dir_okay=False,
    ),
]


ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: the login name).")
]


def actor(by: str | None) -> str:
    """Who does it: `--by`, else the login name; too long to record is a usage error."""
    who = by if by is not None else getpass.getuser()
    if not who.strip() or len(who) > limits.ACTOR:
        fail(f"--by: give a name of 1 to {limits.ACTOR} characters", 2)
    return who


def customer_id(value: str | None) -> str | None:
    """A `--customer` value balmon can store, or a usage error."""
    if value is not None and not 0 < len(value) <= limits.CUSTOMER_ID:
        fail(f"--customer: a customer id has 1 to {limits.CUSTOMER_ID} characters", 2)
    return value


def day_option(value: str | None, option: str) -> date | None:
    """A `--date`-like option as a date (None when not given), or a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: expected YYYY-MM-DD, got {value!r}", 2)


def row_id(value: int, what: str) -> int:
    """An id given on the command line; one no table can hold names nothing that exists."""
    if not 0 < value <= limits.ROW_ID:
        fail(f"no {what} {value}", 1)
    return value


def fail(message: str, code: int) -> NoReturn:
    """Print one line on stderr and exit with `code`."""
    typer.echo(f"balmon: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None) -> Settings:
    """Load settings and set up logging; a bad value ends the command with one line, exit 2."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(f"config error: {exc}", 2)
    try:
        logs.configure(settings.logging)
    except OSError as exc:
        fail(f"config error: logging.file: cannot open {settings.logging.file}: {exc.strerror}", 2)
    if settings.dashboard.secret_key is not None:
        typer.echo(
            "balmon: warning: dashboard.secret_key is deprecated and ignored "
            "(sessions live in the database); remove it",
            err=True,
        )
    return settings


def ready_engine(settings: Settings) -> Engine:
    """An engine on the configured database, its schema migrated to this version."""
    engine = engine_for(settings.database)
    ensure_schema(engine)
    return engine


@contextmanager
def exit_on_error() -> Iterator[None]:
    """The CLI's one error handler: any `BalmonError` or unreachable database is one line.

    Bad configuration exits 2; everything else (database down, run refused, ...) exits 1.
    """
    try:
        yield
    except ConfigError as exc:
        fail(f"config error: {exc}", 2)
    except OperationalError as exc:
        fail(f"database unavailable: {database_reason(exc)}", 1)
    except LeaseLost as exc:  # not the database's fault: another process runs the date now
        fail(f"{exc}; the run goes on there", 1)
    except StorageError as exc:
        fail(f"database error: {exc}", 1)
    except DBAPIError as exc:  # refused by the database: one line, never its parameters
        fail(f"database refused: {database_reason(exc)}", 1)
    except BalmonError as exc:
        fail(str(exc), 1)
