"""Each per-customer rule as a unit over plain values, and the order the judge applies them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from balmon.config import Settings
from balmon.errors import ErrorCode
from balmon.rules import Flag, Judge, Outcome, Reject, stale_before
from balmon.source import Reading
from balmon.storage.states import Status

DAY = date(2026, 12, 4)
# The end of DAY in UTC (the default schedule's zone), minus the default 36 hours.
CUTOFF = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _settings(**quality: object) -> Settings:
    return Settings.model_validate({"quality": quality, "verification": {"currency": "USD"}})


def _judge(balance: str | None, **kwargs: object) -> Reject | Outcome:
    settings = kwargs.pop("settings", None) or _settings()
    assert isinstance(settings, Settings)
    reading = Reading(
        None if balance is None else Decimal(balance),
        currency=kwargs.pop("currency_reported", None),  # type: ignore[arg-type]
        as_of=kwargs.pop("as_of", None),  # type: ignore[arg-type]
    )
    judge = Judge.for_date(settings, DAY)
    return judge(reading, min_balance=Decimal(kwargs.pop("minimum", "100")), **kwargs)  # type: ignore[arg-type]


def _code(verdict: Reject | Outcome) -> ErrorCode | None:
    return verdict.code if isinstance(verdict, Reject) else None


def test_pass_and_fail_against_the_minimum() -> None:
    assert _judge("100") == Outcome(Status.PASS)
    assert _judge("99.99") == Outcome(Status.FAIL)


def test_null_and_negative_are_rejected_with_the_story_s_codes() -> None:
    assert _code(_judge(None)) is ErrorCode.NULL_BALANCE
    assert _code(_judge("-0.01")) is ErrorCode.NEGATIVE_BALANCE
    assert _judge("0", minimum="0") == Outcome(Status.PASS)


def test_the_cutoff_is_the_end_of_the_business_date_in_the_schedule_s_zone() -> None:
    assert stale_before(_settings(), DAY) == CUTOFF
    zoned = Settings.model_validate({"schedule": {"timezone": "Europe/Berlin"}})
    assert stale_before(zoned, DAY) == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def test_stale_balance() -> None:
    just_in = _judge("500", as_of=CUTOFF)
    assert just_in == Outcome(Status.PASS)
    stale = _judge("500", as_of=CUTOFF - timedelta(seconds=1))
    assert _code(stale) is ErrorCode.STALE_BALANCE
    assert isinstance(stale, Reject) and "500" not in stale.message
    assert _judge("500") == Outcome(Status.PASS)  # no as_of: not checked
    tighter = _settings(stale_after_hours=1)
    assert _code(_judge("500", as_of=CUTOFF, settings=tighter)) is ErrorCode.STALE_BALANCE


def test_require_as_of_makes_a_missing_as_of_an_invalid_response() -> None:
    required = _settings(require_as_of=True)
    assert _code(_judge("500", settings=required)) is ErrorCode.INVALID_RESPONSE
    assert _judge("500", settings=required, as_of=CUTOFF) == Outcome(Status.PASS)


def test_currency_mismatch_against_the_customer_s_currency_else_the_configured_one() -> None:
    assert _code(_judge("500", currency_reported="EUR")) is ErrorCode.CURRENCY_MISMATCH
    assert _judge("500", currency_reported="USD") == Outcome(Status.PASS)
    assert _judge("500", currency_reported="EUR", currency="EUR") == Outcome(Status.PASS)
    assert _code(_judge("500", currency_reported="USD", currency="GBP")) is (
        ErrorCode.CURRENCY_MISMATCH
    )
    assert _judge("500") == Outcome(Status.PASS)  # the answer names no currency
    unset = Settings()
    assert _judge("500", currency_reported="EUR", settings=unset) == Outcome(Status.PASS)


@pytest.mark.parametrize(
    ("previous", "today", "flagged"),
    [
        ("100.00", "50000.00", True),  # up 500-fold, by 49,900
        ("900000.00", "50.00", True),  # down to 1/18,000
        ("100.00", "900.00", False),  # 9-fold: under the factor
        ("100.00", "1000.00", False),  # 10-fold but only 900 moved: under jump_min_change
        ("1000.00", "11000.00", True),  # 11-fold and 10,000 moved: both limits met exactly
        ("0", "10000", True),  # from nothing, by the minimum change
        ("0", "9999.99", False),
        ("500000", "500000", False),
    ],
)
def test_balance_jump(previous: str, today: str, flagged: bool) -> None:
    verdict = _judge(today, previous=Decimal(previous), minimum="0")
    assert isinstance(verdict, Outcome) and verdict.status is Status.PASS
    codes = [flag.code for flag in verdict.flags]
    assert codes == ([ErrorCode.BALANCE_JUMP] if flagged else [])
    for flag in verdict.flags:
        assert "-fold" in flag.message or "1/10 " in flag.message
        assert today not in flag.message and (previous == "0" or previous not in flag.message)


def test_a_jump_keeps_a_fail_a_fail() -> None:
    verdict = _judge("50", previous=Decimal("900000"), minimum="100")
    assert (
        verdict == Outcome(Status.FAIL, (Flag(ErrorCode.BALANCE_JUMP, verdict.flags[0].message),))
        if isinstance(verdict, Outcome)
        else False
    )


def test_no_previous_balance_no_jump_check() -> None:
    assert _judge("50000000", minimum="0") == Outcome(Status.PASS)


def test_each_quality_rule_can_be_turned_off() -> None:
    off = _settings(disabled=["STALE_BALANCE", "CURRENCY_MISMATCH", "BALANCE_JUMP"])
    stale = CUTOFF - timedelta(days=30)
    verdict = _judge(
        "50000", settings=off, as_of=stale, currency_reported="EUR", previous=Decimal(1)
    )
    assert verdict == Outcome(Status.PASS)
    # The story's own codes cannot be: a null balance has nothing to compare.
    assert _code(_judge(None, settings=off)) is ErrorCode.NULL_BALANCE


def test_rejects_come_in_order_null_negative_currency_stale() -> None:
    old = CUTOFF - timedelta(days=3)
    assert _code(_judge("-5", currency_reported="EUR", as_of=old)) is ErrorCode.NEGATIVE_BALANCE
    assert _code(_judge("5", currency_reported="EUR", as_of=old)) is ErrorCode.CURRENCY_MISMATCH
