"""What the dashboard shows of the data-quality rules: flagged cases in the work queue and
its filters, the day rules' alarms on the Overview, and their counts in /metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from balmon.storage.schema import error_logs, quality_alarms, verification_results
from tests.dashboard.seed import DAY, START

Login = Callable[[str], tuple[TestClient, str]]


def _flag_and_alarm(engine: Engine) -> None:
    """J1's balance jumped (PASS, flagged); the date had a stale feed."""
    with engine.begin() as c:
        run_id = c.scalar(select(verification_results.c.run_id).limit(1))
        c.execute(
            insert(error_logs).values(
                run_id=run_id,
                business_date=DAY,
                customer_id="J1",
                error_code="BALANCE_JUMP",
                retry_count=0,
                error_message="balance rose 10-fold or more since the previous business date",
                logged_at=START + timedelta(minutes=30),
            )
        )
        c.execute(
            insert(verification_results).values(
                run_id=run_id,
                business_date=DAY,
                customer_id="J1",
                status="PASS",
                attempts=1,
                checked_at=START + timedelta(minutes=30),
                min_balance=Decimal(0),
                balance=Decimal("50000.00"),
            )
        )
        c.execute(
            insert(quality_alarms).values(
                business_date=DAY,
                code="STALE_FEED",
                detail="90 of 100 balances (90%) were stale: the bank served an old snapshot",
                run_id=run_id,
                folded=90,
                raised_by="test",
                raised_at=START + timedelta(hours=1),
            )
        )


def test_a_flagged_balance_is_a_case_that_needs_action(engine: Engine, as_role: Login) -> None:
    _flag_and_alarm(engine)
    client, _ = as_role("viewer")
    jumps = client.get(f"/api/cases?date={DAY}&code=BALANCE_JUMP").json()
    assert [
        (i["customer_id"], i["outcome"], i["flagged"], i["recovered"]) for i in jumps["items"]
    ] == [("J1", "PASS", True, False)]
    action = client.get(f"/api/cases?date={DAY}&outcome=action").json()["items"]
    assert "J1" in {i["customer_id"] for i in action}
    recovered = client.get(f"/api/cases?date={DAY}&outcome=recovered").json()["items"]
    assert "J1" not in {i["customer_id"] for i in recovered}


def test_the_data_quality_filter_of_the_work_queue(engine: Engine, as_role: Login) -> None:
    _flag_and_alarm(engine)
    client, _ = as_role("viewer")
    only = client.get(f"/api/cases?date={DAY}&quality=true").json()["items"]
    # NULL_BALANCE and MISSING_DATA are the story's data-quality codes, BALANCE_JUMP a new one.
    assert {i["code"] for i in only} == {"BALANCE_JUMP", "NULL_BALANCE", "MISSING_DATA"}
    none = client.get(f"/api/cases?date={DAY}&quality=false").json()["items"]
    assert {i["code"] for i in none} == {"TIMEOUT", "API_ERROR"}
    assert client.get(f"/api/cases?date={DAY}&quality=maybe").status_code == 422
    page = client.get(f"/cases?date={DAY}&outcome=all&quality=true").text
    assert 'data-testid="quality-filter"' in page and "J1" in page and "T1</a>" not in page
    assert "PASS, flagged" in page


def test_the_overview_and_metrics_show_the_day_alarms(engine: Engine, as_role: Login) -> None:
    _flag_and_alarm(engine)
    client, _ = as_role("viewer")
    overview = client.get(f"/?date={DAY}").text
    assert 'data-testid="quality-alarms"' in overview
    assert "STALE_FEED" in overview and "90 STALE_BALANCE alerts in this one message" in overview
    listed = client.get("/api/quality-alarms").json()["items"]
    assert [(a["business_date"], a["code"], a["severity"], a["folded"]) for a in listed] == [
        (str(DAY), "STALE_FEED", "CRITICAL", 90)
    ]
    assert client.get("/api/quality-alarms?limit=0").status_code == 422
    admin, _ = as_role("admin")
    metrics = admin.get("/metrics").text
    assert 'balmon_quality_alarms_total{code="STALE_FEED"} 1.0' in metrics
    assert 'balmon_quality_alarms_total{code="FAIL_SPIKE"} 0.0' in metrics


def test_the_overview_has_no_alarm_section_without_alarms(as_role: Login) -> None:
    client, _ = as_role("viewer")
    assert 'data-testid="quality-alarms"' not in client.get(f"/?date={DAY}").text
