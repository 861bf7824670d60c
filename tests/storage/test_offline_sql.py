"""`balmon db upgrade --sql`: the SQL a DBA reviews builds the same schema as `upgrade`."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from balmon.errors import CODES
from balmon.storage import make_engine
from balmon.storage.migrate import current_revision, ensure_schema, head_revision, upgrade_sql
from balmon.storage.schema import error_codes, metadata


def _apply(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            connection.executescript(sql)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.encode())  # several statements, no parameters


@pytest.mark.parametrize(
    "fresh_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.backend)],
    indirect=True,
)
def test_the_printed_sql_builds_the_schema_and_codes_are_seeded_on_first_use(
    fresh_url: str,
) -> None:
    engine = make_engine(fresh_url)
    try:
        sql = upgrade_sql(engine)
        assert current_revision(engine) is None  # printing applied nothing
        assert "CREATE TABLE error_logs" in sql and "TRIGGER" in sql.upper()
        _apply(fresh_url, sql)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")] == []
        ensure_schema(engine)  # what any command does first
        with engine.connect() as connection:
            seeded = set(connection.scalars(select(error_codes.c.code)))
        assert seeded == {code.value for code in CODES}
        assert upgrade_sql(engine).startswith("-- the database is at the newest revision")
    finally:
        engine.dispose()
