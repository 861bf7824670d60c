"""Database URLs and engines for SQLite (the embedded default), PostgreSQL and MariaDB/MySQL."""

from __future__ import annotations

from typing import Any

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
    backend = url.drivername.split("+", 1)[0]
    if backend not in _DRIVERS:
        raise ConfigError("database.url", f"unsupported database {backend!r}")
    if "+" not in url.drivername:
        url = url.set(drivername=_DRIVERS[backend])
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a run writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_read_cache(dbapi_connection: Any, _record: Any) -> None:
    # Dashboard aggregates over millions of error rows sort in temporary B-trees: keep them
    # in memory, with a larger page cache and memory-mapped reads.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def make_engine(raw_url: str, *, read_cache: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for `raw_url` with the settings each backend needs. A database
    error's text never lists the statement's parameters (rows of customers and balances).

    `read_cache=False` leaves SQLite's page cache at its default and maps nothing: a run
    reads little but its summary, which would otherwise pull a million-row file into the
    process's memory (the mapped pages count as its resident memory)."""
    url = normalize_url(raw_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if read_cache:
            event.listen(engine, "connect", _sqlite_read_cache)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, hide_parameters=True, **kwargs)
