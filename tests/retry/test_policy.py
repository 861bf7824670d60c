"""The retry policy: exact delays, four attempts at most, a bounded total wait."""

from __future__ import annotations

import random

import pytest

from balmon.config.settings import RetrySettings
from balmon.errors import ErrorCode
from balmon.retry import Backoff, RetryPolicy, schedule

TIMEOUT = ErrorCode.TIMEOUT


def test_default_waits_are_5_10_20_then_give_up() -> None:
    policy = RetryPolicy()
    assert schedule(policy, [TIMEOUT] * 10) == [5.0, 10.0, 20.0]
    assert policy.max_attempts == 4


def test_policy_from_settings_follows_the_configuration() -> None:
    policy = RetryPolicy.from_settings(RetrySettings(max_retries=2, delays_seconds=[1, 3]))
    assert schedule(policy, [TIMEOUT] * 5) == [1.0, 3.0]


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.NULL_BALANCE,
        ErrorCode.NEGATIVE_BALANCE,
        ErrorCode.INVALID_INPUT,
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.SOURCE_UNAVAILABLE,
    ],
)
def test_data_quality_and_internal_codes_are_not_retried(code: ErrorCode) -> None:
    assert schedule(RetryPolicy(), [code]) == []


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.TIMEOUT,
        ErrorCode.NETWORK_ERROR,
        ErrorCode.API_ERROR,
        ErrorCode.INVALID_RESPONSE,
        ErrorCode.MISSING_DATA,
    ],
)
def test_transient_codes_are_retried(code: ErrorCode) -> None:
    assert schedule(RetryPolicy(), [code] * 4) == [5.0, 10.0, 20.0]


def test_full_jitter_stays_below_each_delay_and_varies() -> None:
    policy = RetryPolicy(backoff=Backoff(jitter="full"))
    waits = [schedule(policy, [TIMEOUT] * 4, seed=s) for s in range(50)]
    assert all(len(w) == 3 for w in waits)
    assert all(0 <= w[0] <= 5 and 0 <= w[1] <= 10 and 0 <= w[2] <= 20 for w in waits)
    assert len({w[0] for w in waits}) > 40


def _next(
    policy: RetryPolicy, *, retries_done: int, waited: float, retry_after: float | None
) -> float | None:
    return policy.next_delay(
        code=ErrorCode.API_ERROR,
        retries_done=retries_done,
        waited=waited,
        retry_after=retry_after,
        rng=random.Random(0),
    )


def test_a_longer_retry_after_replaces_the_delay_within_the_budget() -> None:
    policy = RetryPolicy()
    assert _next(policy, retries_done=0, waited=0, retry_after=12) == 12
    assert _next(policy, retries_done=0, waited=0, retry_after=2) == 5


def test_a_retry_after_beyond_the_budget_gives_up() -> None:
    policy = RetryPolicy()
    assert _next(policy, retries_done=0, waited=0, retry_after=36) is None
    assert _next(policy, retries_done=2, waited=15, retry_after=21) is None
    assert _next(policy, retries_done=2, waited=15, retry_after=20) == 20


def test_total_wait_never_exceeds_the_sum_of_the_delays() -> None:
    policy = RetryPolicy(backoff=Backoff(jitter="full"))
    for seed in range(100):
        assert sum(schedule(policy, [TIMEOUT] * 4, seed=seed)) <= 35
