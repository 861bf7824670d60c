"""A run's summary and the outcome counts it shares with the dashboard, from seeded rows."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, insert

from balmon.engine import render, results, summarize
from balmon.storage.schema import alerts
from balmon.storage.states import Status
from tests.conftest import on_backends
from tests.engine.seed import DAY, START, add_errors, add_run

FIRST = [
    ("P1", "PASS", None, 1),
    ("P2", "PASS", None, 3),
    ("F1", "FAIL", None, 1),
    ("T1", "UNAVAILABLE", "TIMEOUT", 4),
    ("T2", "UNAVAILABLE", "TIMEOUT", 4),
    ("N1", "UNAVAILABLE", "NULL_BALANCE", 1),
]


def _alert(engine: Engine, run_id: int, customer: str, code: str) -> None:
    with engine.begin() as c:
        c.execute(
            insert(alerts).values(
                business_date=DAY,
                customer_id=customer,
                error_code=code,
                run_id=run_id,
                attempts=4,
                failed_at=START,
                created_at=START,
            )
        )


@on_backends()
def test_a_runs_summary_counts_outcomes_attempts_retries_and_bad_rows(engine: Engine) -> None:
    run_id = add_run(engine, FIRST, seconds=12.5)
    add_errors(
        engine,
        run_id,
        [("T1", "TIMEOUT", None)] * 4
        + [("T2", "TIMEOUT", None)] * 4
        + [("N1", "NULL_BALANCE", None), ("P2", "API_ERROR", None), ("P2", "API_ERROR", None)]
        + [(None, "INVALID_INPUT", 7), ("X", "INVALID_INPUT", 9)],
    )
    _alert(engine, run_id, "T1", "TIMEOUT")
    summary = summarize(engine, run_id)
    assert (summary.total, summary.passed, summary.failed, summary.unavailable) == (6, 2, 1, 3)
    assert summary.by_code == {"TIMEOUT": 2, "NULL_BALANCE": 1}
    assert summary.invalid_input == 2
    assert summary.failed_attempts == 11  # INVALID_INPUT rows are bad input, not attempts
    assert summary.errors_by_code["API_ERROR"] == 2
    assert summary.retries == 2 + 3 + 3  # attempts beyond the first, PASS included
    assert summary.alerts_raised == 1
    assert summary.duration_seconds == 12.5
    assert summary.counts()["unavailable_count"] == 3


def test_a_summary_counts_only_its_own_run(engine: Engine) -> None:
    first = add_run(engine, FIRST)
    second = add_run(engine, [("T1", "PASS", None, 2)], kind="retry_unavailable")
    assert summarize(engine, second).total == 1
    assert summarize(engine, first).total == 6


def test_the_dates_outcomes_count_each_customers_latest_result(engine: Engine) -> None:
    add_run(engine, FIRST)
    add_run(
        engine,
        [("T1", "PASS", None, 2), ("N1", "UNAVAILABLE", "MISSING_DATA", 1)],
        kind="retry_unavailable",
    )
    with engine.connect() as c:
        day = results.of_date(c, DAY)
        naive = results.of_date(c, DAY, several_runs=False)
    assert day.by_status() == {Status.PASS: 3, Status.FAIL: 1, Status.UNAVAILABLE: 2}
    assert day.unavailable_by_code == {"TIMEOUT": 1, "MISSING_DATA": 1}
    assert day.total == 6
    # Without the superseded check every row counts: only right for a date with one run.
    assert naive.total == 8


def test_the_printed_summary_and_json_carry_the_counts(engine: Engine) -> None:
    run_id = add_run(engine, FIRST, seconds=2.0)
    summary = summarize(engine, run_id, finished_at=START + timedelta(seconds=3))
    text = render(summary)
    assert f"run {run_id} for {DAY} (full): completed" in text
    assert "PASS 2   FAIL 1   UNAVAILABLE 3" in text
    assert "TIMEOUT" in text and "NULL_BALANCE" in text
    data = json.loads(summary.to_json())
    assert (data["pass"], data["fail"], data["unavailable"]) == (2, 1, 3)
    assert data["duration_seconds"] == 3.0 and data["customers_per_second"] == 2.0


@on_backends()
def test_a_customers_history_is_its_latest_outcome_on_each_of_its_last_dates(
    engine: Engine,
) -> None:
    for back in range(5):
        day = DAY - timedelta(days=back)
        add_run(engine, [("T1", "UNAVAILABLE", "TIMEOUT", 4)], day=day)
        # Several runs on one date: the latest counts, and still five dates come back.
        for _ in range(5):
            add_run(engine, [("T1", "PASS", None, 1)], day=day, kind="rerun")
    add_run(engine, [("T1", "FAIL", None, 1)], day=DAY + timedelta(days=1))
    with engine.connect() as c:
        history = results.history_of(c, "T1", end=DAY, dates=3)
    assert history == [(DAY - timedelta(days=n), "PASS") for n in (2, 1, 0)]
