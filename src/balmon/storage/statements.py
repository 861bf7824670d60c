"""SQL that each backend spells its own way (SQLite, PostgreSQL, MariaDB/MySQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table, func, insert, text


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
