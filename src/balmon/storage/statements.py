"""SQL that each backend spells its own way (SQLite, PostgreSQL, MariaDB/MySQL)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, func, insert, text
from sqlalchemy.exc import DBAPIError

from balmon import limits


def database_reason(exc: DBAPIError) -> str:
    """The first line of the driver's own message, clipped, with every quoted value withheld:
    what the database refused, never the refused row. The parameters and PostgreSQL's DETAIL
    and CONTEXT lines quote whole rows; MariaDB's first line quotes the duplicate key
    ("Duplicate entry '1-C042' for key ...") and PostgreSQL's a value it could not read. Quoted
    names of balmon's own tables, columns, constraints and indexes stay: they say what broke."""
    if exc.orig is None:
        return type(exc).__name__
    args = exc.orig.args
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (error number, message)
        text = f"{args[1]} ({args[0]})"
    else:
        text = str(exc.orig)
    first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
    return limits.clip(_QUOTED.sub(_name_or_withheld, first), limits.REASON)


def failure_reason(exc: BaseException) -> str:
    """Why a run failed, as recorded on the run and logged: a database's refusal as
    `database_reason` says it, anything else by its type and message."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {database_reason(exc)}"
    return limits.clip(f"{type(exc).__name__}: {exc}", limits.REASON)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _name_or_withheld(quoted: re.Match[str]) -> str:
    return quoted.group(0) if quoted.group(0)[1:-1] in _schema_names() else "'…'"


@cache
def _schema_names() -> frozenset[str]:
    from balmon.storage.schema import metadata

    names: set[str] = set()
    for table in metadata.tables.values():
        names.add(table.name)
        names.update(column.name for column in table.columns)
        names.update(str(c.name) for c in table.constraints if c.name)
        names.update(str(i.name) for i in table.indexes if i.name)
    return frozenset(names)


def insert_ignoring_duplicates(table: Table, dialect: str) -> Insert:
    """INSERT that skips rows violating a unique constraint, on every backend."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")


def hour_of(column: Any, dialect: str) -> Any:
    """A timestamp column as text naming its hour, 'YYYY-MM-DD HH:00'."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24:00")
    if dialect in ("mysql", "mariadb"):
        return func.date_format(column, "%Y-%m-%d %H:00")
    return func.strftime("%Y-%m-%d %H:00", column)


def days_before(column: Any, days: int, dialect: str) -> Any:
    """A date column moved `days` days back (an int from validated settings, never input)."""
    days = int(days)
    if dialect == "postgresql":
        return column - days
    if dialect in ("mysql", "mariadb"):
        return func.date_sub(column, text(f"INTERVAL {days} DAY"))
    return func.date(column, f"-{days} days")


def wait_for_locks_at_most(connection: Connection, seconds: float) -> None:
    """Bound how long this transaction's statements wait for another's row locks (SQLite
    has no row locks: its busy timeout bounds the wait for its one write lock)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text(f"SET LOCAL lock_timeout = {max(1, int(seconds * 1000))}"))
    elif dialect in ("mysql", "mariadb"):
        # Session-wide (the connection keeps it); no lock wait of balmon's is meant to be longer.
        connection.execute(text(f"SET SESSION innodb_lock_wait_timeout = {max(1, round(seconds))}"))


def is_lock_timeout(error: DBAPIError) -> bool:
    """Whether the statement gave up waiting for a row lock (`wait_for_locks_at_most`)."""
    cause = error.orig
    if getattr(cause, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    args: tuple[object, ...] = getattr(cause, "args", ())
    return bool(args) and args[0] == 1205  # MariaDB/MySQL: lock wait timeout exceeded
