"""Alerts delivered to real local receivers: content, grouping, outbox, retries, routing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from balmon.alerts import AlertPipeline
from balmon.clock import SystemClock
from balmon.config.settings import AlertSettings
from balmon.engine import summarize
from balmon.storage.schema import alert_deliveries, alert_messages, alerts, verification_runs
from tests.alerts.receivers import smtp_server, webhook_server

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def _seed(engine: Engine, customers: list[tuple[str, str]]) -> int:
    with engine.begin() as c:
        key = c.execute(
            insert(verification_runs).values(
                business_date=DAY, status="completed", started_at=T0, finished_at=T0
            )
        ).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        c.execute(
            insert(alerts),
            [
                {
                    "business_date": DAY,
                    "customer_id": cid,
                    "error_code": code,
                    "run_id": run_id,
                    "attempts": 4,
                    "failed_at": T0 + timedelta(seconds=i),
                    "created_at": datetime.now(UTC),
                }
                for i, (cid, code) in enumerate(customers)
            ],
        )
    return run_id


def _settings(urls: list[str], **extra: Any) -> AlertSettings:
    values: dict[str, Any] = {
        "urls": urls,
        "group_wait_seconds": 0,
        "delivery_backoff_seconds": 0.01,
        "dashboard_url": "https://balmon.bank.example",
        **extra,
    }
    return AlertSettings.model_validate(values)


def _mailto(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=balmon@bank.example&to=ops@bank.example&mode=insecure"


def _alerts_cli(engine: Engine, urls: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `balmon alerts ARGS` in a real process configured through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(BALMON_DATABASE__URL=str(engine.url), BALMON_ALERTS__URLS=json.dumps(urls))
    command = [sys.executable, "-m", "balmon", "alerts", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def _finish(engine: Engine, settings: AlertSettings, run_id: int) -> dict[str, int]:
    pipeline = AlertPipeline(engine=engine, settings=settings, clock=SystemClock())
    return asyncio.run(pipeline.finish(summarize(engine, run_id))).as_dict()


def test_an_alert_names_date_code_customers_times_attempts_and_link(engine: Engine) -> None:
    run_id = _seed(engine, [("C0000012", "TIMEOUT"), ("C0000013", "TIMEOUT")])
    with smtp_server() as (mailbox, port), webhook_server() as hook:
        report = _finish(
            engine, _settings([_mailto(port), f"json://127.0.0.1:{hook.port}/hook"]), run_id
        )
    assert report == {"messages": 1, "sent": 2, "pending": 0, "failed": 0, "sending": 0}
    [mail] = mailbox.texts()
    [post] = hook.posts
    for text in (mail, f"{post['title']}\n{post['message']}"):
        assert "2026-11-24" in text and "TIMEOUT" in text and "HIGH" in text
        assert "C0000012" in text and "C0000013" in text
        assert "2026-11-24 06:00:01Z" in text and "4 attempts" in text
        assert "contact banking system team" in text
        assert "https://balmon.bank.example/errors?date=2026-11-24&code=TIMEOUT" in text
        assert "balance" not in text.lower().replace("balance api", "")


def test_an_outage_of_300_customers_is_one_message_stating_the_count(engine: Engine) -> None:
    run_id = _seed(
        engine, [(f"C{i:07d}", "NETWORK_ERROR") for i in range(300)] + [("X1", "NULL_BALANCE")]
    )
    with webhook_server() as hook:
        report = _finish(engine, _settings([f"json://127.0.0.1:{hook.port}/hook"]), run_id)
    assert report["messages"] == 2 and report["sent"] == 2
    outage = next(p for p in hook.posts if "NETWORK_ERROR" in p["title"])
    assert "300 customers" in outage["title"]
    assert outage["message"].count("\n- C") == 50
    assert "...and 250 more" in outage["message"]
    with engine.connect() as c:
        assert c.scalar(select(alerts.c.id).where(alerts.c.message_id.is_(None))) is None


def test_a_channel_down_during_the_run_is_delivered_by_flush_once(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = _seed(engine, [("C1", "API_ERROR")])
    with webhook_server() as hook:
        url = f"json://127.0.0.1:{hook.port}/hook"
        hook.status = 503
        report = _finish(engine, _settings([url], delivery_attempts=3), run_id)
        assert report["pending"] == 1 and report["sent"] == 0 and hook.posts == []
        with engine.connect() as c:
            delivery = c.execute(select(alert_deliveries)).one()
        assert delivery.status == "pending" and delivery.attempts == 3 and delivery.last_error
        down = _alerts_cli(engine, [url], "flush")
        assert down.returncode == 1 and "1 deliveries still pending" in down.stderr
        hook.status = 200
        up = _alerts_cli(engine, [url], "flush")
        assert up.returncode == 0, up.stderr
        again = _alerts_cli(engine, [url], "flush")
        assert again.returncode == 0
        assert len(hook.posts) == 1
        listing = _alerts_cli(engine, [url], "list")
    assert (
        "sent" in listing.stdout
        and "json://127.0.0.1" in listing.stdout
        and "API_ERROR" in listing.stdout
    )


def test_the_same_customer_and_code_is_never_alerted_twice(engine: Engine) -> None:
    run_id = _seed(engine, [("C1", "NULL_BALANCE")])
    from balmon.storage.statements import insert_ignoring_duplicates

    with engine.begin() as c:
        c.execute(
            insert_ignoring_duplicates(alerts, engine.dialect.name),
            [
                {
                    "business_date": DAY,
                    "customer_id": "C1",
                    "error_code": "NULL_BALANCE",
                    "run_id": run_id,
                    "attempts": 1,
                    "failed_at": T0,
                    "created_at": T0,
                }
            ],
        )
    with webhook_server() as hook:
        settings = _settings([f"json://127.0.0.1:{hook.port}/hook"])
        _finish(engine, settings, run_id)
        _finish(engine, settings, run_id)
        asyncio.run(AlertPipeline(engine=engine, settings=settings, clock=SystemClock()).flush())
    assert len(hook.posts) == 1


def test_sms_channels_get_a_short_text_and_routes_pick_channels(engine: Engine) -> None:
    run_id = _seed(engine, [(f"C{i}", "TIMEOUT") for i in range(80)] + [("N1", "NULL_BALANCE")])
    with webhook_server() as pager, webhook_server() as everyone:
        settings = _settings(
            [
                f"json://127.0.0.1:{pager.port}/sms?tag=sms,pager",
                f"json://127.0.0.1:{everyone.port}/all?tag=email",
            ],
            routes={"HIGH": ["pager"], "LOW": ["email"]},
        )
        _finish(engine, settings, run_id)
    [sms] = pager.posts
    assert "TIMEOUT" in sms["message"] and len(sms["message"]) <= 300 and "\n" not in sms["message"]
    assert [p["title"] for p in everyone.posts] == [
        "[balmon] LOW NULL_BALANCE: 1 customer unavailable on 2026-11-24"
    ]


def test_alerts_test_reports_each_channel(engine: Engine) -> None:
    with smtp_server() as (mailbox, port), webhook_server() as hook:
        dead = "json://127.0.0.1:1/nothing-listens-here"
        urls = [_mailto(port), f"json://127.0.0.1:{hook.port}/hook", dead]
        result = _alerts_cli(engine, urls, "test")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("mailto://127.0.0.1") and lines[0].endswith(": ok")
    assert lines[1].endswith(": ok") and "FAILED" in lines[2]
    assert len(mailbox.messages) == 1 and len(hook.posts) == 1
    with engine.connect() as c:
        assert c.scalar(select(alert_messages.c.kind)) == "test"


def test_email_keeps_one_customer_per_line(engine: Engine) -> None:
    run_id = _seed(engine, [("C1", "MISSING_DATA"), ("C2", "MISSING_DATA")])
    with smtp_server() as (mailbox, port):
        _finish(engine, _settings([_mailto(port)]), run_id)
    [text] = mailbox.texts()
    lines = text.splitlines()
    assert any(line.startswith("- C1  MISSING_DATA") for line in lines)
    assert any(line.startswith("- C2  MISSING_DATA") for line in lines)


def test_the_optional_end_of_run_summary_states_counts_and_link(engine: Engine) -> None:
    from tests.dashboard.seed import seed_day

    run_id = seed_day(engine)["run_id"]
    with webhook_server() as hook:
        pipeline = AlertPipeline(
            engine=engine,
            settings=_settings([f"json://127.0.0.1:{hook.port}/hook"], summary=True),
            clock=SystemClock(),
        )
        asyncio.run(pipeline.finish(summarize(engine, run_id)))
    summary = next(p for p in hook.posts if p["title"].startswith("[balmon] run"))
    assert summary["title"] == f"[balmon] run {run_id} for 2026-11-27: PASS 6 FAIL 2 UNAVAILABLE 3"
    assert "duration 42.0s" in summary["message"] and "- TIMEOUT: 1" in summary["message"]
    assert "https://balmon.bank.example/?date=2026-11-27" in summary["message"]


def test_the_inbox_channel_delivers_to_the_dashboard_without_a_network(engine: Engine) -> None:
    run_id = _seed(engine, [("C1", "TIMEOUT"), ("C2", "NULL_BALANCE")])
    report = _finish(engine, _settings(["inbox://local"]), run_id)
    assert report == {"messages": 2, "sent": 2, "pending": 0, "failed": 0, "sending": 0}
    with engine.connect() as c:
        channels = {r.channel for r in c.execute(select(alert_deliveries))}
    assert channels == {"inbox://local #1"}


class _SleepLog(SystemClock):
    """The system's time, but sleeps are recorded and return at once."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_finished_run_sends_its_groups_without_waiting_out_the_window(engine: Engine) -> None:
    """The run raised its last alert: waiting `group_wait_seconds` for more would only hold up
    the end of the run (30 s by default) and collect nothing."""
    run_id = _seed(engine, [("C1", "NETWORK_ERROR"), ("C2", "NETWORK_ERROR")])
    clock = _SleepLog()
    with webhook_server() as hook:
        settings = _settings([f"json://127.0.0.1:{hook.port}/hook"], group_wait_seconds=30)
        pipeline = AlertPipeline(engine=engine, settings=settings, clock=clock)
        report = asyncio.run(pipeline.finish(summarize(engine, run_id))).as_dict()
    assert report["messages"] == 1 and report["sent"] == 1
    assert "2 customers" in hook.posts[0]["title"]
    assert clock.slept == []
