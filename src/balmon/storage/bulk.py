"""Many rows into one table through the database driver, for the run's hot path: COPY on
PostgreSQL, the driver's own executemany on SQLite and MariaDB.

Each value still goes through its column type's bind processor (the same conversion a Core
`insert()` applies: UTC datetimes stored naive, SQLite's money as canonical text), but
without SQLAlchemy compiling, caching and building parameters per row around it: that
machinery was most of the run's own process time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError

from balmon.storage import watch

Processor = Callable[[Any], Any] | None


class BulkInsert:
    """Inserts rows (dicts with the same keys) into `table`, within the caller's transaction."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self._table = table
        self._dialect = dialect
        self._processors: dict[str, Processor] = {
            column.name: column.type.dialect_impl(dialect).bind_processor(dialect)
            for column in table.columns
        }

    def __call__(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        # The statement is built from these names: only the table's own columns, quoted.
        unknown = set(names) - self._processors.keys()
        if unknown:
            raise ValueError(f"not columns of {self._table.name}: {sorted(unknown)}")
        values = self._values(names, rows)
        quoted = ", ".join(self._dialect.identifier_preparer.quote(name) for name in names)
        table = self._dialect.identifier_preparer.format_table(self._table)
        # COPY through psycopg's own cursor; another PostgreSQL driver inserts as the rest do.
        if self._dialect.name == "postgresql" and self._dialect.driver == "psycopg":
            self._copy(connection, f"COPY {table} ({quoted}) FROM STDIN", values)
            return
        mark = "?" if self._dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(names))
        statement = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608 (names checked)
        connection.exec_driver_sql(statement, values)

    def _values(self, names: list[str], rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        # Column by column: one processor lookup per column and batch, not per value.
        columns = []
        for name in names:
            process = self._processors[name]
            column = [row[name] for row in rows]
            if process is not None:
                column = [None if value is None else process(value) for value in column]
            columns.append(column)
        return list(zip(*columns, strict=True))

    def _copy(self, connection: Connection, statement: str, values: list[tuple[Any, ...]]) -> None:
        # The psycopg connection under SQLAlchemy's, so the COPY is part of its transaction.
        driver = connection.connection.driver_connection
        assert driver is not None
        dbapi = self._dialect.loaded_dbapi
        try:
            with watch.waiting(), driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in values:
                    copy.write_row(row)
        except dbapi.Error as exc:
            # Raised as SQLAlchemy raises a driver's error (IntegrityError, OperationalError...),
            # so the run's and the CLI's handlers treat a refused COPY as any refused INSERT;
            # a connection the failure broke is not handed out by the pool again.
            lost = bool(driver.closed or getattr(driver, "broken", False))
            if lost:
                connection.invalidate()
            raise DBAPIError.instance(
                statement,
                None,
                exc,
                dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=self._dialect,
            ) from exc
