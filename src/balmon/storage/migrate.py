"""Apply Alembic migrations and seed the error-code reference table."""

from __future__ import annotations

import fcntl
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, select, text

from balmon.errors import CODES
from balmon.storage.schema import error_codes

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x62616C6D6F6E  # "balmon": one advisory lock key for schema migrations


def alembic_config(connection: Connection | None) -> Config:
    """Alembic's configuration for balmon's migrations, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of balmon."""
    script = ScriptDirectory.from_config(alembic_config(None))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision and (re)seed `error_codes`."""
    with engine.connect() as locked, _migration_lock(locked):
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        with engine.begin() as connection:
            seed_error_codes(connection)


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Serialise migrations of processes starting together (two `serve` on a new database)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        with _file_lock(connection.engine.url.database):
            yield
        return
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
    elif dialect in ("mysql", "mariadb"):
        connection.execute(text("SELECT GET_LOCK('balmon_migrate', 300)"))
    try:
        yield
    finally:
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        elif dialect in ("mysql", "mariadb"):
            connection.execute(text("SELECT RELEASE_LOCK('balmon_migrate')"))
        connection.commit()


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    """SQLite has no advisory lock, and pysqlite runs DDL outside a transaction: two processes
    creating one new database would both create its tables. A lock on a file beside it (never
    on the database file itself: closing another descriptor of that file would drop SQLite's
    own locks) makes the second wait, then find nothing left to do."""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(engine: Engine) -> None:
    """Upgrade only when the database is behind, so commands start fast."""
    if current_revision(engine) != head_revision():
        upgrade(engine)  # under the lock, a second process finds nothing left to do
    elif not _codes_seeded(engine):
        # A DBA applied `balmon db upgrade --sql` by hand: the schema is current, the
        # reference data is not yet.
        with engine.begin() as connection:
            seed_error_codes(connection)


def _codes_seeded(engine: Engine) -> bool:
    with engine.connect() as connection:
        return set(connection.scalars(select(error_codes.c.code))) >= {c.value for c in CODES}


def upgrade_sql(engine: Engine) -> str:
    """The SQL that `upgrade` would run on this database, from its revision to the newest."""
    current = current_revision(engine)
    if current == head_revision():
        return "-- the database is at the newest revision: nothing to apply\n"
    buffer = io.StringIO()
    config = alembic_config(None)
    config.output_buffer = buffer
    config.attributes["dialect_name"] = engine.dialect.name
    command.upgrade(config, f"{current}:head" if current else "head", sql=True)
    return buffer.getvalue()


def seed_error_codes(connection: Connection) -> None:
    """Insert new codes and refresh the text of existing ones from the taxonomy."""
    existing = set(connection.scalars(select(error_codes.c.code)))
    now = datetime.now(UTC)
    for code, entry in CODES.items():
        values = {
            "description": entry.description,
            "severity": entry.severity.value,
            "suggested_action": entry.suggested_action,
            "root_cause": entry.root_cause,
            "retryable": entry.retryable,
        }
        if code.value in existing:
            stmt = error_codes.update().where(error_codes.c.code == code.value)
            connection.execute(stmt.values(**values))
        else:
            connection.execute(
                error_codes.insert().values(code=code.value, created_at=now, **values)
            )
