"""SQL that each backend spells its own way (SQLite, PostgreSQL, MariaDB/MySQL)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, func, insert, text
from sqlalchemy.exc import DBAPIError

from balmon import limits


def database_reason(exc: DBAPIError) -> str:
    """What the database refused, never the refused row: the driver's message up to its first
    quote, and the names of balmon's own tables, constraints and indexes the message mentions
    ("duplicate key value violates unique constraint [uq_verification_results_...]").

    The whole text is not safe: SQLAlchemy appends the statement's parameters, PostgreSQL's
    DETAIL and COPY CONTEXT lines quote whole rows, MariaDB's first line quotes the duplicate
    key ("Duplicate entry '1-C042' ..."), and a quoted value may itself hold a quote (a
    customer id like O'Brien), so no quote-matching can be trusted to withhold it."""
    if exc.orig is None:
        return type(exc).__name__
    args = exc.orig.args
    number = ""
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (error number, message)
        number, text = f" ({args[0]})", str(args[1])
    else:
        text = str(exc.orig)
    first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
    head = _QUOTE.split(first, maxsplit=1)[0].strip().rstrip(":")
    names = [n for n in dict.fromkeys(_NAME.findall(first)) if n in _schema_names()]
    shown = head + number + (f" [{', '.join(names)}]" if names else "")
    return limits.clip(shown, limits.REASON)


def failure_reason(exc: BaseException) -> str:
    """Why a run failed, as recorded on the run and logged: a database's refusal as
    `database_reason` says it, anything else by its type and message."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {database_reason(exc)}"
    return limits.clip(f"{type(exc).__name__}: {exc}", limits.REASON)


# Any quotation mark a driver or a translated server message may use.
_QUOTE = re.compile("[\"'`\u00ab\u00bb\u2018\u2019\u201a\u201c\u201d\u201e\u2039\u203a]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


@cache
def _schema_names() -> frozenset[str]:
    """balmon's tables, constraints and indexes (not columns: their names are common words)."""
    from balmon.storage.schema import metadata

    names: set[str] = set()
    for table in metadata.tables.values():
        names.add(table.name)
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


def seconds_between(start: Any, end: Any, dialect: str) -> Any:
    """The seconds from one timestamp column to another, as a number."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    if dialect in ("mysql", "mariadb"):
        return func.timestampdiff(text("MICROSECOND"), start, end) / 1e6
    return (func.julianday(end) - func.julianday(start)) * 86400.0


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
