"""No call waits on the database without bound: every connection carries the `[database]`
timeouts, and a run's watch ends the process when the server stops answering altogether."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from balmon.config import Settings
from balmon.storage import engine_for, make_engine
from balmon.storage.database import Timeouts
from balmon.storage.watch import DatabaseWatch, limit_for
from tests.conftest import on_backends


def _settings(url: str) -> Settings:
    return Settings.model_validate(
        {
            "database": {
                "url": url,
                "statement_timeout_seconds": 42,
                "lock_timeout_seconds": 7,
                "connect_timeout_seconds": 3,
            }
        }
    )


@on_backends()
def test_every_connection_carries_the_configured_timeouts(fresh_url: str) -> None:
    engine = engine_for(_settings(fresh_url).database)
    try:
        with engine.connect() as c:
            backend = engine.url.get_backend_name()
            if backend == "postgresql":
                found = (
                    c.scalar(text("SHOW statement_timeout")),
                    c.scalar(text("SHOW lock_timeout")),
                )
                assert found == ("42s", "7s")
            elif backend == "sqlite":
                assert c.scalar(text("PRAGMA busy_timeout")) == 7000
            else:
                lock = c.scalar(text("SELECT @@SESSION.innodb_lock_wait_timeout"))
                statement = c.scalar(text("SELECT @@SESSION.max_statement_time"))
                assert (int(lock), float(statement)) == (7, 42.0)
    finally:
        engine.dispose()


@on_backends("postgresql")
def test_a_statement_past_the_limit_is_ended_by_the_server(fresh_url: str) -> None:
    engine = make_engine(fresh_url, timeouts=Timeouts(statement=0.5))
    try:
        with pytest.raises(Exception, match="statement timeout"), engine.connect() as c:
            c.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()


def test_the_watch_ends_the_process_once_a_call_waits_past_its_limit(
    capfd: pytest.CaptureFixture[str],
) -> None:
    now = [100.0]
    codes: list[int] = []

    def leave(code: int) -> None:
        codes.append(code)

    watch = DatabaseWatch(4.0, exit=leave, clock=lambda: now[0])
    with watch.waiting():
        now[0] += 4.0
        assert not watch.check() and codes == []
        now[0] += 0.5
        assert watch.check() and codes == [1]
    assert "balmon: database unavailable: no answer for 4s (limit 4s)" in capfd.readouterr().err
    now[0] += 100
    assert not watch.check()  # nothing waiting: nothing to end


def test_the_watch_times_every_call_through_the_engines_dialect(tmp_path: Path) -> None:
    """A statement in progress counts as waiting (seen from inside it, by a SQL function the
    statement calls); once it returned, nothing waits."""
    ticks = iter(range(1000))
    watch = DatabaseWatch(60.0, clock=lambda: float(next(ticks)))
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    seen: list[float] = []

    @event.listens_for(engine, "connect")
    def probe(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("probe", 0, lambda: seen.append(watch.longest_wait()))

    watch.watch(engine)
    try:
        with engine.begin() as c:
            c.execute(text("SELECT probe()"))
    finally:
        engine.dispose()
    assert len(seen) == 1 and seen[0] > 0
    assert watch.longest_wait() == 0.0
    assert limit_for(300) == 360 and limit_for(2) == 4


def test_the_timeouts_are_settings_with_their_keys_in_errors(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="lock_timeout_seconds"):
        Settings.model_validate({"database": {"lock_timeout_seconds": 0}})
    assert Settings().database.statement_timeout_seconds == 300
