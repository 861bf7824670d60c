"""Database URLs and engines for SQLite (the embedded default), PostgreSQL and MariaDB/MySQL."""

from __future__ import annotations

import math
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from balmon.errors import ConfigError

# Plain scheme names map to the drivers balmon ships with.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "sqlite": "sqlite",
}


def _check_driver(backend: str, driver: str, shipped: str) -> None:
    ours = shipped.partition("+")[2]
    if driver and driver != ours and not (backend == "sqlite" and driver == "pysqlite"):
        raise ConfigError(
            "database.url",
            f"driver {driver!r} is not one balmon ships with: write {backend}:// "
            f"(balmon uses {ours or 'sqlite3'})",
        )


def _check_target(url: URL, backend: str) -> None:
    """A file for SQLite, a database name for the servers: nothing a run would fail on."""
    if backend != "sqlite":
        if not url.database:
            raise ConfigError(
                "database.url", f"no database name: write {backend}://USER@HOST/DATABASE"
            )
        return
    if url.host:
        raise ConfigError(
            "database.url", "write sqlite:///FILE (three slashes) or sqlite:////ABSOLUTE/PATH.db"
        )
    if not url.database or url.database == ":memory:":
        raise ConfigError("database.url", "an in-memory SQLite database keeps nothing: name a file")


def normalize_url(raw: str) -> URL:
    """Parse a database URL and pick balmon's driver when none is named."""
    netloc = raw.split("://", 1)[-1].split("/", 1)[0]
    if netloc.count("@") > 1:
        # Unencoded, the password's "@" would make part of it the host name, and error
        # messages print host names.
        raise ConfigError(
            "database.url", "more than one '@' before the host: write '@' in a password as %40"
        )
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("database.url", "not a valid database URL") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise ConfigError("database.url", "the port is not a number") from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in _DRIVERS:
        raise ConfigError("database.url", f"unsupported database {backend!r}")
    shipped = _DRIVERS[backend]
    _check_driver(backend, driver, shipped)
    _check_target(url, backend)
    if not driver:
        url = url.set(drivername=shipped)
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


class DatabaseConfig(Protocol):
    """The `[database]` settings an engine is made from."""

    @property
    def url(self) -> str: ...
    @property
    def connect_timeout_seconds(self) -> float: ...
    @property
    def statement_timeout_seconds(self) -> float: ...
    @property
    def lock_timeout_seconds(self) -> float: ...


class Timeouts:
    """How long a connection may wait for the server: to connect, for one statement (0: no
    limit), for another session's lock. Every connection of an engine has them, so no call
    waits on the database without bound."""

    __slots__ = ("connect", "lock", "statement")

    def __init__(self, *, connect: float = 10.0, statement: float = 300.0, lock: float = 10.0):
        self.connect = connect
        self.statement = statement
        self.lock = lock

    @classmethod
    def of(cls, config: DatabaseConfig) -> Timeouts:
        return cls(
            connect=config.connect_timeout_seconds,
            statement=config.statement_timeout_seconds,
            lock=config.lock_timeout_seconds,
        )


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _sqlite_pragmas(timeouts: Timeouts) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the dashboard read while a run writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_ms(timeouts.lock)}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    return on_connect


def _postgresql_arguments(timeouts: Timeouts) -> dict[str, Any]:
    options = f"-c lock_timeout={_ms(timeouts.lock)}"
    if timeouts.statement:
        options += f" -c statement_timeout={_ms(timeouts.statement)}"
    return {
        "connect_timeout": max(1, math.ceil(timeouts.connect)),
        "options": options,
        # A server host that vanished (cut off, powered down) is noticed in about a minute,
        # not after the kernel's two hours.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def _mysql_arguments(timeouts: Timeouts) -> dict[str, Any]:
    # PyMySQL reads the server's greeting under its read timeout, not its connect timeout:
    # pointed at a server that speaks another protocol (PostgreSQL's port) it waited 68 s. The
    # connection starts with the connect timeout for both, and `_mysql_session` then sets the
    # statements' own.
    connect = max(1, math.ceil(timeouts.connect))
    return {"connect_timeout": connect, "read_timeout": connect, "write_timeout": connect}


def _mysql_session(timeouts: Timeouts) -> Any:
    # PyMySQL's own socket timeouts bound a server that stops answering (a frozen server
    # enforces no limit of its own): past the server's statement limit, with a margin.
    statements = timeouts.statement + 60 if timeouts.statement else None

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # PyMySQL applies these before each read and write (no public setter after connect).
        dbapi_connection._read_timeout = statements
        dbapi_connection._write_timeout = statements
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, round(timeouts.lock))}")
        # MariaDB's statement limit (MySQL has no such variable: it keeps no limit there).
        if timeouts.statement and "mariadb" in dbapi_connection.get_server_info().lower():
            cursor.execute(f"SET SESSION max_statement_time = {timeouts.statement:g}")
        cursor.close()

    return on_connect


def _sqlite_read_cache(dbapi_connection: Any, _record: Any) -> None:
    # Dashboard aggregates over millions of error rows sort in temporary B-trees: keep them
    # in memory, with a larger page cache and memory-mapped reads.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def make_engine(
    raw_url: str, *, read_cache: bool = True, timeouts: Timeouts | None = None, **kwargs: Any
) -> Engine:
    """Create an engine for `raw_url` with the settings each backend needs. A database
    error's text never lists the statement's parameters (rows of customers and balances).

    `read_cache=False` leaves SQLite's page cache at its default and maps nothing: a run
    reads little but its summary, which would otherwise pull a million-row file into the
    process's memory (the mapped pages count as its resident memory)."""
    url = normalize_url(raw_url)
    timeouts = timeouts or Timeouts()
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(timeouts))
        if read_cache:
            event.listen(engine, "connect", _sqlite_read_cache)
        return engine
    arguments = (
        _postgresql_arguments(timeouts) if backend == "postgresql" else _mysql_arguments(timeouts)
    )
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=3600,
        hide_parameters=True,
        connect_args={**arguments, **kwargs.pop("connect_args", {})},
        **kwargs,
    )
    if backend != "postgresql":
        event.listen(engine, "connect", _mysql_session(timeouts))
    return engine


def engine_for(config: DatabaseConfig, *, read_cache: bool = True) -> Engine:
    """The engine the `[database]` settings describe, timeouts included."""
    return make_engine(config.url, read_cache=read_cache, timeouts=Timeouts.of(config))
