"""Money stays exact and timestamps stay UTC-aware on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, select

from balmon.storage.schema import verification_results, verification_runs
from tests.conftest import on_backends


@on_backends()
def test_money_round_trips_exactly_and_times_come_back_utc(engine: Engine) -> None:
    started = datetime(2026, 11, 28, 6, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(verification_runs).values(
                business_date=date(2026, 11, 28), status="running", started_at=started
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(verification_results).values(
                run_id=run_id,
                business_date=date(2026, 11, 28),
                customer_id="C1",
                status="PASS",
                balance=Decimal("12345678901234.10"),
                min_balance=Decimal("0.01"),
                attempts=1,
                checked_at=started,
            )
        )
    with engine.connect() as connection:
        result = connection.execute(select(verification_results)).one()
        run = connection.execute(select(verification_runs)).one()
    assert result.balance == Decimal("12345678901234.10")
    assert isinstance(result.balance, Decimal)
    assert run.started_at == started
    assert run.started_at.tzinfo == UTC


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as connection:
        connection.execute(
            insert(verification_runs).values(
                business_date=date(2026, 11, 28), status="running", started_at=datetime(2026, 1, 1)
            )
        )
