"""Migrations build the schema balmon expects, on every backend, with immutable audit rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select, text, update
from sqlalchemy.exc import DatabaseError

from balmon.errors import CODES
from balmon.storage.migrate import current_revision, ensure_schema, head_revision
from balmon.storage.schema import error_codes, error_log_resolutions, error_logs, metadata
from tests.conftest import on_backends


def _log_one(engine: Engine) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            insert(error_logs).values(
                customer_id="C1",
                error_code="TIMEOUT",
                error_message="no response within 30s",
                retry_count=0,
                logged_at=datetime.now(UTC),
            )
        )
        return int(result.inserted_primary_key[0])


@on_backends()
def test_migrated_schema_matches_the_model(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    relevant = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert relevant == []
    assert current_revision(engine) == head_revision()


@on_backends()
def test_upgrade_seeds_every_code_with_its_retryability(engine: Engine) -> None:
    with engine.connect() as connection:
        rows = {r.code: r for r in connection.execute(select(error_codes))}
    assert set(rows) == {code.value for code in CODES}
    for code, entry in CODES.items():
        assert rows[code.value].severity == entry.severity.value
        assert rows[code.value].retryable is entry.retryable


@on_backends()
def test_changing_an_original_field_is_rejected_by_the_database(engine: Engine) -> None:
    log_id = _log_one(engine)
    for change in ({"error_code": "API_ERROR"}, {"customer_id": "C2"}, {"retry_count": 3}):
        with pytest.raises(DatabaseError, match="immutable audit record"), engine.begin() as c:
            c.execute(update(error_logs).where(error_logs.c.id == log_id).values(**change))
    with engine.connect() as connection:
        row = connection.execute(select(error_logs)).one()
    assert (row.error_code, row.customer_id, row.retry_count) == ("TIMEOUT", "C1", 0)


@on_backends()
def test_deleting_audit_rows_is_rejected_by_the_database(engine: Engine) -> None:
    _log_one(engine)
    with pytest.raises(DatabaseError, match="cannot be deleted"), engine.begin() as c:
        c.execute(text("DELETE FROM error_logs"))
    with engine.connect() as connection:
        assert connection.execute(select(error_logs.c.id)).all() != []


@on_backends()
def test_resolving_appends_to_an_append_only_history(engine: Engine) -> None:
    log_id = _log_one(engine)
    now = datetime.now(UTC)
    for resolved, notes in ((True, "bank fixed the sync"), (False, "reopened: recurred")):
        with engine.begin() as connection:
            connection.execute(
                update(error_logs)
                .where(error_logs.c.id == log_id)
                .values(
                    resolved=resolved, resolution_notes=notes, resolved_by="ops", resolved_at=now
                )
            )
    with engine.connect() as connection:
        history = connection.execute(
            select(error_log_resolutions).order_by(error_log_resolutions.c.id)
        ).all()
    assert [(h.resolved, h.notes, h.actor) for h in history] == [
        (True, "bank fixed the sync", "ops"),
        (False, "reopened: recurred", "ops"),
    ]
    for statement, refusal in (
        ("UPDATE error_log_resolutions SET notes = 'x'", "append-only"),
        ("DELETE FROM error_log_resolutions", "outside the retention procedure"),
    ):
        with pytest.raises(DatabaseError, match=refusal), engine.begin() as c:
            c.execute(text(statement))


def test_ensure_schema_is_idempotent(fresh_url: str) -> None:
    from balmon.storage import make_engine

    db = make_engine(fresh_url)
    ensure_schema(db)
    ensure_schema(db)
    assert current_revision(db) == head_revision()
    db.dispose()


@on_backends()
def test_the_retired_rollup_is_gone_and_comes_back_on_downgrade(fresh_url: str) -> None:
    """0010 drops error_customer_days and its trigger (cases replaced it); going back to 0009
    rebuilds it from the attempts logged in the meantime."""
    from alembic import command

    from balmon.storage import make_engine
    from balmon.storage.migrate import alembic_config, seed_error_codes

    db = make_engine(fresh_url)
    with db.begin() as connection:  # 0010 and no further: later ones are not reversible
        command.upgrade(alembic_config(connection), "0010")
        seed_error_codes(connection)
    day, t0 = date(2026, 11, 27), datetime(2026, 11, 27, 6, tzinfo=UTC)
    with db.begin() as connection:
        connection.execute(
            insert(error_logs),
            [
                {"business_date": day, "customer_id": cid, "error_code": "TIMEOUT"}
                | {"retry_count": n, "logged_at": t0 + timedelta(seconds=n)}
                for cid, n in [("C1", 0), ("C1", 1), ("C2", 0)]
            ],
        )
    assert "error_customer_days" not in inspect(db).get_table_names()
    with db.begin() as connection:
        command.downgrade(alembic_config(connection), "0009")
    with db.connect() as connection:
        rollup = dict(
            connection.execute(text("SELECT customer_id, errors FROM error_customer_days")).all()
        )
    assert rollup == {"C1": 2, "C2": 1}
    with db.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
    assert "error_customer_days" not in inspect(db).get_table_names()
    db.dispose()


@on_backends()
def test_attempts_logged_twice_before_the_attempt_key_do_not_stop_the_upgrade(
    fresh_url: str,
) -> None:
    """Duplicated attempt rows a resume logged before 0014 cannot be changed or deleted (they
    are audit records): they keep a NULL key, and the key holds for every row after them."""
    from alembic import command

    from balmon.storage import make_engine
    from balmon.storage.migrate import alembic_config, seed_error_codes

    db = make_engine(fresh_url)
    with db.begin() as connection:
        command.upgrade(alembic_config(connection), "0013")
        seed_error_codes(connection)
    twice = text(
        "INSERT INTO error_logs (run_id, customer_id, error_code, retry_count) "
        "VALUES (1, 'C1', 'TIMEOUT', 1)"
    )
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO verification_runs (id, business_date, status, started_at) "
                "VALUES (1, '2026-11-27', 'interrupted', '2026-11-27 06:00:00')"
            )
        )
        connection.execute(twice)
        connection.execute(twice)
    with db.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with db.connect() as connection:
        keys = connection.execute(select(error_logs.c.attempt)).scalars().all()
    assert keys == [None, None]
    db.dispose()
