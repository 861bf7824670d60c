"""The circuit breaker opens on a majority of outage failures and closes on a good probe."""

from __future__ import annotations

from balmon.engine.breaker import CircuitBreaker
from balmon.errors import ErrorCode


def _feed(breaker: CircuitBreaker, codes: list[ErrorCode | None], now: float = 0.0) -> None:
    for code in codes:
        breaker.record(code=code, now=now)


def test_judges_only_a_full_window() -> None:
    breaker = CircuitBreaker(window=10, probe_interval=5)
    _feed(breaker, [ErrorCode.TIMEOUT] * 9)
    assert not breaker.is_open
    _feed(breaker, [ErrorCode.TIMEOUT])
    assert breaker.is_open


def test_half_is_not_more_than_half() -> None:
    breaker = CircuitBreaker(window=10, probe_interval=5)
    _feed(breaker, [ErrorCode.API_ERROR, None] * 5)
    assert not breaker.is_open


def test_data_quality_codes_do_not_count_as_outage() -> None:
    breaker = CircuitBreaker(window=10, probe_interval=5)
    _feed(breaker, [ErrorCode.NULL_BALANCE] * 10 + [ErrorCode.MISSING_DATA] * 10)
    assert not breaker.is_open


def test_probes_are_spaced_and_a_good_probe_closes() -> None:
    breaker = CircuitBreaker(window=4, probe_interval=5)
    _feed(breaker, [ErrorCode.NETWORK_ERROR] * 4, now=100.0)
    assert breaker.is_open
    assert not breaker.take_probe(104.9)
    assert breaker.take_probe(105.0)
    assert not breaker.take_probe(106.0)
    breaker.record(code=ErrorCode.NETWORK_ERROR, now=106.0, probe=True)
    assert breaker.is_open
    assert breaker.open_for(130.0) == 30.0
    breaker.record(code=None, now=107.0, probe=False)
    assert breaker.is_open
    breaker.record(code=None, now=111.0, probe=True)
    assert not breaker.is_open


def test_disabled_breaker_never_opens() -> None:
    breaker = CircuitBreaker(window=2, probe_interval=5, enabled=False)
    _feed(breaker, [ErrorCode.TIMEOUT] * 10)
    assert not breaker.is_open
