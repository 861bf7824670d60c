"""The day rules as units over plain figures, and which earlier date a customer's balance is
compared with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from balmon.config.settings import QualitySettings
from balmon.engine.customers import Customer
from balmon.engine.inputs import PreviousBalances, previous_date
from balmon.errors import ErrorCode
from balmon.rules import DayFigures, check_day
from balmon.storage.schema import quality_alarms, verification_results, verification_runs
from tests.conftest import on_backends

DAY = date(2026, 12, 4)
QUALITY = QualitySettings()


def _figures(
    back: int, *, failed: int = 2, unavailable: int = 3, stale: int = 0, total: int = 1000
) -> DayFigures:
    passed = total - failed - unavailable
    answered = passed + failed + stale
    return DayFigures(DAY - timedelta(days=back), passed, failed, unavailable, answered, stale)


def _codes(day: DayFigures, earlier: list[DayFigures], **quality: object) -> list[ErrorCode]:
    settings = QualitySettings.model_validate(quality)
    return [finding.code for finding in check_day(day, earlier, settings)]


ORDINARY = [_figures(n) for n in range(1, 21)]


def test_an_ordinary_day_raises_nothing() -> None:
    assert _codes(_figures(0), ORDINARY) == []


def test_a_stale_feed_at_the_ratio() -> None:
    assert _codes(_figures(0, unavailable=500, stale=500), ORDINARY[:1]) == [ErrorCode.STALE_FEED]
    assert _codes(_figures(0, unavailable=499, stale=499), ORDINARY[:1]) == []
    tighter = {"stale_feed_ratio": 0.3}
    assert _codes(_figures(0, unavailable=300, stale=300), [], **tighter) == [ErrorCode.STALE_FEED]


def test_nothing_answered_is_no_stale_feed() -> None:
    assert _codes(DayFigures(DAY, 0, 0, 0, 0, 0), []) == []


@pytest.mark.parametrize(
    ("failed", "spike"),
    [(40, True), (22, True), (21, False), (6, False)],  # median 2: needs 3x and +20
)
def test_fail_spike_needs_the_factor_and_the_minimum(failed: int, spike: bool) -> None:
    assert (ErrorCode.FAIL_SPIKE in _codes(_figures(0, failed=failed), ORDINARY)) is spike


def test_an_unavailable_spike() -> None:
    assert _codes(_figures(0, unavailable=60), ORDINARY) == [ErrorCode.UNAVAILABLE_SPIKE]


def test_fewer_than_five_earlier_dates_is_no_baseline() -> None:
    assert _codes(_figures(0, failed=500), ORDINARY[:4]) == []
    assert _codes(_figures(0, failed=500), ORDINARY[:5]) == [ErrorCode.FAIL_SPIKE]


def test_the_median_is_over_the_last_twenty_dates_only() -> None:
    old_and_bad = [_figures(n, failed=300) for n in range(21, 60)]
    assert _codes(_figures(0, failed=40), ORDINARY + old_and_bad) == [ErrorCode.FAIL_SPIKE]


def test_a_customer_list_that_grew_tenfold_is_not_a_spike() -> None:
    """Each earlier count is taken at today's size: 20 FAILs of 10,000 is 2 of 1,000."""
    assert _codes(_figures(0, failed=20, unavailable=30, total=10_000), ORDINARY) == []
    assert _codes(_figures(0, failed=80, total=10_000), ORDINARY) == [ErrorCode.FAIL_SPIKE]


def test_each_day_rule_can_be_turned_off() -> None:
    bad = _figures(0, failed=400, unavailable=500, stale=500)
    assert set(_codes(bad, ORDINARY)) == {
        ErrorCode.STALE_FEED,
        ErrorCode.FAIL_SPIKE,
        ErrorCode.UNAVAILABLE_SPIKE,
    }
    off = ["STALE_FEED", "FAIL_SPIKE", "UNAVAILABLE_SPIKE"]
    assert _codes(bad, ORDINARY, disabled=off) == []


def _completed(engine: Engine, day: date, balances: dict[str, str | None]) -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as c:
        run_id = c.execute(
            insert(verification_runs).values(business_date=day, status="completed", started_at=at)
        ).inserted_primary_key[0]
        for customer, balance in balances.items():
            c.execute(
                insert(verification_results).values(
                    run_id=run_id, business_date=day, customer_id=customer, checked_at=at,
                    status="PASS" if balance else "UNAVAILABLE",
                    error_code=None if balance else "TIMEOUT",
                    balance=Decimal(balance) if balance else None, min_balance=Decimal(0),
                )
            )  # fmt: skip


@on_backends()
def test_the_previous_balance_is_the_latest_date_without_a_day_alarm(engine: Engine) -> None:
    _completed(engine, DAY - timedelta(days=3), {"A": "100", "B": "5", "C": "7"})
    _completed(engine, DAY - timedelta(days=1), {"A": "0", "B": "0", "C": None})
    assert previous_date(engine, DAY) == DAY - timedelta(days=1)
    with engine.begin() as c:
        c.execute(
            insert(quality_alarms).values(
                business_date=DAY - timedelta(days=1), code="FAIL_SPIKE", detail="zeroes",
                raised_by="t", raised_at=datetime.now(UTC),
            )
        )  # fmt: skip
    assert previous_date(engine, DAY) == DAY - timedelta(days=3)
    customers = [Customer("A", Decimal(0), 2), Customer("D", Decimal(0), 3)]
    attached = PreviousBalances.of(engine, DAY).attach(customers)
    assert [(c.customer_id, c.previous) for c in attached] == [("A", Decimal(100)), ("D", None)]


@on_backends()
def test_an_unavailable_previous_result_is_no_previous_balance(engine: Engine) -> None:
    _completed(engine, DAY - timedelta(days=1), {"A": "10", "C": None})
    attached = PreviousBalances.of(engine, DAY).attach(
        [Customer("A", Decimal(0), 2), Customer("C", Decimal(0), 3)]
    )
    assert [c.previous for c in attached] == [Decimal(10), None]
    assert PreviousBalances.of(engine, DAY - timedelta(days=1)).before is None
