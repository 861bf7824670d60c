"""Cases from real runs on every backend: grouping across runs, outcomes, resolving."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import DatabaseError

from balmon.alerts import AlertPipeline
from balmon.clock import SystemClock
from balmon.engine import RunRequest, VerificationRun
from balmon.errors import TimeoutFailure
from balmon.storage import make_engine
from balmon.storage.migrate import alembic_config, seed_error_codes, upgrade
from balmon.storage.schema import (
    cases,
    error_log_resolutions,
    error_logs,
    verification_results,
    verification_runs,
)
from balmon.triage import (
    CaseFilter,
    case_detail,
    describe_regression,
    list_cases,
    resolve_case,
)
from tests.alerts.receivers import webhook_server
from tests.conftest import on_backends
from tests.engine.fakes import NULL, ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _run(engine: Engine, path: Path, source: ScriptedSource, mode: str = "normal") -> None:
    settings = fast_settings(str(engine.url.render_as_string(hide_password=False)))
    run = VerificationRun(settings=settings, engine=engine, source=source)
    asyncio.run(run.execute(RunRequest(DAY, mode, path)))  # type: ignore[arg-type]


def _cases(engine: Engine) -> dict[str, Any]:
    with engine.connect() as c:
        return {r.customer_id: r for r in c.execute(select(cases))}


def _first_day(engine: Engine, tmp_path: Path) -> None:
    path = write_customers(
        tmp_path / "c.csv",
        [("P1", "1"), ("R1", "1"), ("T1", "1"), ("N1", "1"), ("BAD", "x")],
    )
    source = ScriptedSource(
        {
            "R1": [TimeoutFailure("slow"), Decimal(5)],
            "T1": [TimeoutFailure("slow")],
            "N1": [NULL],
        },
        default=Decimal(5),
    )
    _run(engine, path, source)


@on_backends()
def test_a_case_is_a_customer_day_with_failed_attempts_and_its_latest_outcome(
    engine: Engine, tmp_path: Path
) -> None:
    _first_day(engine, tmp_path)
    found = _cases(engine)
    assert set(found) == {"R1", "T1", "N1", "BAD"}  # no case for a clean PASS
    # A line the run could not use is work too: never checked, so no outcome.
    assert (found["BAD"].last_code, found["BAD"].outcome, found["BAD"].attempts) == (
        "INVALID_INPUT",
        None,
        1,
    )
    assert (found["R1"].outcome, found["R1"].final_code, found["R1"].attempts) == ("PASS", None, 1)
    assert (found["T1"].outcome, found["T1"].final_code, found["T1"].attempts) == (
        "UNAVAILABLE",
        "TIMEOUT",
        4,
    )
    assert found["T1"].first_seen < found["T1"].last_seen and found["T1"].open_attempts == 4
    assert (found["N1"].outcome, found["N1"].last_code) == ("UNAVAILABLE", "NULL_BALANCE")
    # A --retry-unavailable run: T1 recovers, N1 fails again; still one case each.
    again = ScriptedSource({"N1": [NULL]}, default=Decimal(0))
    _run(engine, tmp_path / "c.csv", again, mode="retry_unavailable")
    found = _cases(engine)
    assert len(found) == 4
    assert (found["T1"].outcome, found["T1"].final_code, found["T1"].attempts) == (
        "FAIL",
        None,
        4,
    )
    assert (found["N1"].outcome, found["N1"].attempts) == ("UNAVAILABLE", 2)


@on_backends()
def test_resolving_a_case_resolves_every_attempt_with_history(
    engine: Engine, tmp_path: Path
) -> None:
    _first_day(engine, tmp_path)
    case_id = _cases(engine)["T1"].id
    assert resolve_case(engine, case_id, notes="bank API restarted", actor="ops", now=NOW)
    with engine.connect() as c:
        attempts = c.execute(select(error_logs).where(error_logs.c.customer_id == "T1")).all()
        history = c.execute(select(error_log_resolutions)).all()
        detail = case_detail(c, case_id)
    assert len(attempts) == 4 and all(a.resolved and a.resolved_by == "ops" for a in attempts)
    assert len(history) == 4
    assert detail is not None and detail["resolved"] and detail["resolution_notes"]
    assert detail["history"] == [
        {"resolved": True, "notes": "bank API restarted", "actor": "ops",
         "at": NOW.isoformat(), "attempts": 4}
    ]  # fmt: skip
    assert len(detail["attempts_list"]) == 4 and detail["code_info"]["suggested_action"]
    assert not resolve_case(engine, 999_999, notes="x", actor="ops", now=NOW)
    # The attempts stay immutable apart from their resolution fields.
    with pytest.raises(DatabaseError), engine.begin() as c:
        c.execute(update(error_logs).where(error_logs.c.id == attempts[0].id).values(
            error_message="rewritten"))  # fmt: skip


def test_the_queue_lists_unavailable_first_then_by_severity_and_filters(
    engine: Engine, tmp_path: Path
) -> None:
    _first_day(engine, tmp_path)
    with engine.connect() as c:
        items, total = list_cases(c, CaseFilter(day=DAY))
        unavailable, _ = list_cases(c, CaseFilter(day=DAY, outcome="unavailable"))
        recovered, _ = list_cases(c, CaseFilter(day=DAY, outcome="recovered"))
        timeouts, _ = list_cases(c, CaseFilter(day=DAY, code="TIMEOUT"))
        low, _ = list_cases(c, CaseFilter(day=DAY, severity="low"))
    assert total == 4
    # What needs action first (no balance, or never checked), then by severity.
    assert [i["customer_id"] for i in items] == ["T1", "BAD", "N1", "R1"]
    assert {i["customer_id"] for i in unavailable} == {"T1", "N1"}
    assert [(i["customer_id"], i["recovered"]) for i in recovered] == [("R1", True)]
    assert {i["customer_id"] for i in timeouts} == {"T1", "R1"}  # R1's last failure
    assert [i["customer_id"] for i in low] == ["N1"]
    resolve_case(engine, items[0]["id"], notes="known", actor="ops", now=NOW)
    with engine.connect() as c:
        open_now, _ = list_cases(c, CaseFilter(day=DAY))
        done, _ = list_cases(c, CaseFilter(day=DAY, resolved=True))
    assert [i["customer_id"] for i in open_now] == ["BAD", "N1", "R1"]
    assert [i["customer_id"] for i in done] == ["T1"]


@on_backends()
def test_upgrading_an_existing_database_builds_cases_from_its_rows(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0007")
        seed_error_codes(connection)
        run = connection.execute(
            insert(verification_runs).values(
                business_date=DAY, status="completed", started_at=NOW, finished_at=NOW
            )
        ).inserted_primary_key[0]
        connection.execute(insert(error_logs), [
            {"run_id": run, "business_date": DAY, "customer_id": "T1", "error_code": code,
             "error_message": "m", "retry_count": n, "logged_at": NOW.replace(minute=n)}
            for n, code in enumerate(["NETWORK_ERROR", "TIMEOUT"])
        ])  # fmt: skip
        connection.execute(insert(verification_results).values(
            run_id=run, business_date=DAY, customer_id="T1", status="UNAVAILABLE",
            error_code="TIMEOUT", attempts=2, checked_at=NOW, min_balance=Decimal(0),
        ))  # fmt: skip
        connection.execute(insert(error_logs), [
            {"run_id": run, "business_date": DAY, "customer_id": customer, "source_line": line,
             "error_code": "INVALID_INPUT", "error_message": "m", "logged_at": NOW}
            for customer, line in [("T1", 9), (None, 6)]
        ])  # fmt: skip
    upgrade(engine)
    found = _cases(engine)
    row = found["T1"]
    assert (row.attempts, row.open_attempts, row.last_code, row.outcome, row.final_code) == (
        3, 3, "TIMEOUT", "UNAVAILABLE", "TIMEOUT",
    )  # fmt: skip
    line = found["(line 6)"]
    assert (line.attempts, line.open_attempts, line.last_code, line.outcome) == (
        1, 1, "INVALID_INPUT", None,
    )  # fmt: skip
    assert set(found) == {"T1", "(line 6)"}
    engine.dispose()


@on_backends()
def test_a_line_without_a_readable_id_is_a_case_of_its_own_and_resolves(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,min_balance\nP1,1\nX\x07Y,1\nP1,2\n", encoding="utf-8")
    _run(engine, path, ScriptedSource({}, default=Decimal(5)))
    found = _cases(engine)
    assert set(found) == {"P1", "(line 3)"}
    assert (found["P1"].outcome, found["P1"].last_code, found["P1"].attempts) == (
        "PASS",
        "INVALID_INPUT",
        1,
    )  # the duplicate line 4 joins P1's case
    with engine.connect() as c:
        detail = case_detail(c, found["(line 3)"].id)
    assert detail is not None
    assert [a["error_code"] for a in detail["attempts_list"]] == ["INVALID_INPUT"]
    assert resolve_case(engine, found["(line 3)"].id, notes="fixed the file", actor="ops", now=NOW)
    with engine.connect() as c:
        queue, total = list_cases(c, CaseFilter(day=DAY, code="INVALID_INPUT"))
    assert total == 1 and queue[0]["customer_id"] == "P1"


def _day(engine: Engine, path: Path, day: date, scripts: dict[str, Any]) -> None:
    settings = fast_settings(str(engine.url.render_as_string(hide_password=False)))
    run = VerificationRun(
        settings=settings, engine=engine, source=ScriptedSource(scripts, default=Decimal(5))
    )
    asyncio.run(run.execute(RunRequest(day, "normal", path)))


@on_backends()
def test_the_same_problem_again_within_the_window_after_a_resolution_is_a_regression(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_customers(tmp_path / "c.csv", [("T1", "1"), ("N1", "1"), ("X1", "1")])
    first, second, much_later = date(2026, 10, 1), date(2026, 10, 20), date(2026, 11, 25)
    failing = {"T1": [TimeoutFailure("slow")], "N1": [NULL]}
    _day(engine, path, first, failing)
    with engine.connect() as c:
        [t1] = list_cases(c, CaseFilter(day=first, customer_id="T1"))[0]
    assert resolve_case(engine, t1["id"], notes="API fixed", actor="ops", now=NOW)
    _day(engine, path, second, {**failing, "X1": [NULL]})
    _day(engine, path, much_later, failing)
    with engine.connect() as c:
        again = {i["customer_id"]: i for i in list_cases(c, CaseFilter(day=second))[0]}
        later = {i["customer_id"]: i for i in list_cases(c, CaseFilter(day=much_later))[0]}
        only, total = list_cases(c, CaseFilter(start=first, end=much_later, regression=True))
        detail = case_detail(c, again["T1"]["id"])
    assert again["T1"]["regression"] and again["T1"]["regression_of"] == t1["id"]
    assert not again["N1"]["regression"]  # its earlier case was never resolved
    assert not again["X1"]["regression"]  # no earlier case at all
    assert not later["T1"]["regression"]  # 56 days later: outside the 30-day window
    assert total == 1 and only[0]["id"] == again["T1"]["id"]
    assert detail is not None and detail["regression_of"]["resolved_by"] == "ops"
    assert describe_regression(detail["regression_of"]) == (
        f"regression of case {t1['id']} of 2026-10-01, resolved on 2026-11-28 by ops"
    )


def test_a_regressions_alert_says_which_case_it_regresses(engine: Engine, tmp_path: Path) -> None:
    path = write_customers(tmp_path / "c.csv", [("T1", "1"), ("T2", "1")])
    first, second = date(2026, 10, 1), date(2026, 10, 2)
    failing = {"T1": [TimeoutFailure("slow")], "T2": [TimeoutFailure("slow")]}
    _day(engine, path, first, failing)
    with engine.connect() as c:
        [t1] = list_cases(c, CaseFilter(day=first, customer_id="T1"))[0]
    resolve_case(engine, t1["id"], notes="API fixed", actor="ops", now=NOW)
    with webhook_server() as hook:
        settings = fast_settings(
            str(engine.url.render_as_string(hide_password=False)),
            alerts={"urls": [f"json://127.0.0.1:{hook.port}/hook"], "group_wait_seconds": 0},
        )
        pipeline = AlertPipeline(
            engine=engine, settings=settings.alerts, clock=SystemClock(), regression_days=30
        )
        source = ScriptedSource(failing, default=Decimal(5))
        run = VerificationRun(settings=settings, engine=engine, source=source, alerts=pipeline)
        asyncio.run(run.execute(RunRequest(second, "normal", path)))
    [post] = hook.posts
    lines = post["message"].splitlines()
    t1_line = next(line for line in lines if line.startswith("- T1 "))
    t2_line = next(line for line in lines if line.startswith("- T2 "))
    assert (
        f"(regression of case {t1['id']} of 2026-10-01, resolved on 2026-11-28 by ops)" in t1_line
    )
    assert "regression" not in t2_line
