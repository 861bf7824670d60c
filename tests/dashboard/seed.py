"""Seed a realistic day into a migrated database for dashboard tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from balmon.dashboard.auth import Role, add_user
from balmon.storage.schema import (
    alert_deliveries,
    alert_messages,
    error_logs,
    verification_results,
    verification_runs,
)

DAY = date(2026, 11, 27)
START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
XSS_ID = "<script>alert(1)</script>"


def seed_day(engine: Engine) -> dict[str, Any]:
    """One completed run: 6 PASS, 2 FAIL, 3 UNAVAILABLE, and their failed attempts."""
    with engine.begin() as c:
        key = c.execute(
            insert(verification_runs).values(
                business_date=DAY,
                status="completed",
                started_at=START,
                finished_at=START + timedelta(seconds=42),
                total=11,
                pass_count=6,
                fail_count=2,
                unavailable_count=3,
                error_count=9,
            )
        ).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        results = [(f"P{i}", "PASS", None, 1) for i in range(6)] + [
            ("F0", "FAIL", None, 1),
            ("F1", "FAIL", None, 2),
        ]
        results += [
            ("T1", "UNAVAILABLE", "TIMEOUT", 4),
            ("N1", "UNAVAILABLE", "NULL_BALANCE", 1),
            (XSS_ID, "UNAVAILABLE", "MISSING_DATA", 4),
        ]
        # Attempts first, then results: the order a run writes them in (cases follow it).
        logs = [("T1", "TIMEOUT", n) for n in range(4)] + [
            ("N1", "NULL_BALANCE", 0),
            ("F1", "API_ERROR", 0),
        ]
        logs += [(XSS_ID, "MISSING_DATA", n) for n in range(3)]
        c.execute(
            insert(error_logs),
            [
                {
                    "run_id": run_id,
                    "business_date": DAY,
                    "customer_id": cid,
                    "error_code": code,
                    "retry_count": n,
                    "error_message": f"attempt {n + 1} failed",
                    "stack_trace": "Traceback: secret internals" if code == "TIMEOUT" else None,
                    "logged_at": START + timedelta(minutes=i),
                }
                for i, (cid, code, n) in enumerate(logs)
            ],
        )
        c.execute(
            insert(verification_results),
            [
                {
                    "run_id": run_id,
                    "business_date": DAY,
                    "customer_id": cid,
                    "status": status,
                    "error_code": code,
                    "attempts": attempts,
                    "checked_at": START,
                    "min_balance": Decimal("100.00") if status == "FAIL" else Decimal(0),
                    "balance": None if status == "UNAVAILABLE" else Decimal("12.50"),
                }
                for cid, status, code, attempts in results
            ],
        )
        message = c.execute(
            insert(alert_messages).values(
                kind="group",
                business_date=DAY,
                run_id=run_id,
                error_code="TIMEOUT",
                customers_count=1,
                severity="HIGH",
                title=f"[balmon] HIGH TIMEOUT: 1 customer unavailable on {DAY}",
                body=f"Error code: TIMEOUT (severity HIGH)\nCustomers: T1\nBusiness date: {DAY}",
                created_at=START,
            )
        ).inserted_primary_key
        assert message is not None
        c.execute(
            insert(alert_deliveries).values(
                message_id=message[0],
                channel="json://x #1",
                status="pending",
                attempts=3,
                created_at=START,
                updated_at=START,
            )
        )
    for role in Role:
        add_user(engine, role.label, PASSWORD, role, START)
    return {"run_id": run_id}
