"""Escalation (issue 24): an open HIGH case nobody acknowledged reaches the escalation
channel after `after_seconds`, again every `repeat_seconds`, until someone acknowledges or
resolves it; exactly once per step, whoever evaluates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select

from balmon.alerts.escalation import escalate
from balmon.config.settings import EscalationSettings
from balmon.dashboard.auth import Role, add_user
from balmon.storage.schema import (
    alert_deliveries,
    alert_messages,
    cases,
    error_logs,
    verification_results,
    verification_runs,
)
from balmon.triage import ownership, resolve_case, silences
from tests.alerts.receivers import webhook_server
from tests.conftest import on_backends

DAY = date(2026, 12, 3)
SEEN = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
# customer -> its failed attempt's code (TIMEOUT and NETWORK_ERROR are HIGH, MISSING_DATA MEDIUM)
CUSTOMERS = {"T1": "TIMEOUT", "T2": "NETWORK_ERROR", "M1": "MISSING_DATA", "S1": "TIMEOUT"}


def _seed(engine: Engine) -> dict[str, int]:
    """One completed run: every customer UNAVAILABLE after one failed attempt at SEEN."""
    with engine.begin() as c:
        run_id = c.execute(
            insert(verification_runs).values(
                business_date=DAY, status="completed", started_at=SEEN, finished_at=SEEN
            )
        ).inserted_primary_key[0]
        for customer, code in CUSTOMERS.items():
            c.execute(
                insert(error_logs).values(
                    run_id=run_id, business_date=DAY, customer_id=customer, error_code=code,
                    retry_count=0, attempt=0, error_message="failed", logged_at=SEEN,
                )
            )  # fmt: skip
            c.execute(
                insert(verification_results).values(
                    run_id=run_id, business_date=DAY, customer_id=customer, status="UNAVAILABLE",
                    error_code=code, attempts=1, checked_at=SEEN,
                )
            )  # fmt: skip
        return dict(c.execute(select(cases.c.customer_id, cases.c.id)).all())


def _settings(**extra: object) -> EscalationSettings:
    base = {"urls": ["json://127.0.0.1:9/escalate"], "after_seconds": 10, "repeat_seconds": 60}
    return EscalationSettings.model_validate({**base, **extra})


def _messages(engine: Engine) -> list[tuple[str, str, list[str]]]:
    with engine.connect() as c:
        rows = c.execute(
            select(alert_messages.c.id, alert_messages.c.kind, alert_messages.c.body).order_by(
                alert_messages.c.id
            )
        ).all()
        channels = {
            row.id: sorted(
                c.scalars(
                    select(alert_deliveries.c.channel).where(
                        alert_deliveries.c.message_id == row.id
                    )
                )
            )
            for row in rows
        }
    return [(row.kind, row.body, channels[row.id]) for row in rows]


def _named(body: str) -> set[str]:
    return {line.split()[1] for line in body.splitlines() if line.startswith("- ")}


@on_backends()
def test_high_cases_escalate_on_time_and_again_until_acknowledged_or_resolved(
    engine: Engine,
) -> None:
    ids = _seed(engine)
    settings = _settings()
    add_user(engine, "ops", "correct horse battery", Role.OPERATOR, SEEN)
    silences.add(engine, silences.NewSilence("S1", None, "known"), actor="ops", now=SEEN)

    def at(seconds: float) -> int:
        return escalate(engine, settings, now=SEEN + timedelta(seconds=seconds), dashboard_url=None)

    assert at(9) == 0  # not before after_seconds
    assert at(11) == 2  # T1 and T2: HIGH; M1 is MEDIUM; S1 is silenced
    assert at(11.5) == 0  # an immediate second evaluation sends nothing
    assert at(40) == 0  # within repeat_seconds
    kind, body, channels = _messages(engine)[0]
    assert kind == "escalation" and _named(body) == {"T1", "T2"}
    assert channels == ["escalation json://127.0.0.1:9 #1"]
    assert "owner nobody" in body and "TIMEOUT" in body and str(DAY) in body
    now = SEEN + timedelta(seconds=50)
    assert ownership.acknowledge(engine, ids["T1"], actor="ops", now=now).changed  # type: ignore[union-attr]
    assert ownership.assign(engine, ids["T2"], owner="ops", actor="ops", now=now).changed  # type: ignore[union-attr]
    assert at(72) == 1  # the repeat names the unacknowledged one only
    assert _named(_messages(engine)[1][1]) == {"T2"} and "owner ops" in _messages(engine)[1][1]
    assert resolve_case(engine, ids["T2"], notes="fixed", actor="ops", now=now) == 1
    assert at(200) == 0  # resolved: silence
    with engine.connect() as c:
        counts = dict(c.execute(select(cases.c.customer_id, cases.c.escalations)).all())
    assert counts == {"T1": 1, "T2": 2, "M1": 0, "S1": 0}


@on_backends()
def test_min_severity_and_routes_choose_what_escalates_and_where(engine: Engine) -> None:
    _seed(engine)
    settings = _settings(
        min_severity="MEDIUM",
        routes=[{"code": "TIMEOUT", "urls": ["json://127.0.0.1:9/timeouts"]}],
    )
    later = SEEN + timedelta(seconds=11)
    assert escalate(engine, settings, now=later, dashboard_url="https://b.example") == 4
    messages = _messages(engine)
    by_channel = {tuple(channels): _named(body) for _, body, channels in messages}
    # TIMEOUT's cases (S1's too: no silence here) go to the route, the rest to the defaults.
    assert by_channel == {
        ("escalation route 1 json://127.0.0.1:9 #1",): {"T1", "S1"},
        ("escalation json://127.0.0.1:9 #1",): {"T2", "M1"},
    }
    assert any("https://b.example/cases/" in body for _, body, _ in messages)


@on_backends("postgresql", "mariadb")
def test_two_evaluators_at_once_send_each_step_once(engine: Engine) -> None:
    _seed(engine)
    settings = _settings()
    start = threading.Barrier(2)
    done: list[int] = []

    def evaluate() -> None:
        start.wait()
        # The same instant for both: the claim must not rely on the clocks differing.
        now = SEEN + timedelta(seconds=11)
        done.append(escalate(engine, settings, now=now, dashboard_url=None))

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == [0, 3]  # T1, T2, S1 (no silence here)
    assert len(_messages(engine)) == 1


def test_balmon_alerts_flush_escalates_through_the_escalation_channel(
    engine: Engine, tmp_path: Path
) -> None:
    """End to end with two real receivers: the ordinary channel and the escalation channel."""
    _seed(engine)
    with webhook_server() as ordinary, webhook_server() as escalation:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
        env.update(
            BALMON_DATABASE__URL=engine.url.render_as_string(hide_password=False),
            BALMON_ALERTS__URLS=json.dumps([f"json://127.0.0.1:{ordinary.port}/ops"]),
            BALMON_ESCALATION__URLS=json.dumps([f"json://127.0.0.1:{escalation.port}/esc"]),
            BALMON_ESCALATION__AFTER_SECONDS="0",
            BALMON_ESCALATION__REPEAT_SECONDS="3600",
            BALMON_LOGGING__FILE=str(tmp_path / "balmon.log"),
        )

        def flush() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "balmon", "alerts", "flush"],
                env=env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip

        first = flush()
        assert first.returncode == 0, first.stderr
        assert len(escalation.posts) == 1
        assert "T1" in escalation.posts[0]["message"] and "M1" not in escalation.posts[0]["message"]
        assert all("ESCALATION" not in post["title"] for post in ordinary.posts)
        assert flush().returncode == 0
        assert len(escalation.posts) == 1  # an immediate second flush sends nothing


@on_backends()
def test_how_long_problems_stay_open_in_metrics(engine: Engine) -> None:
    """`balmon_cases_open{severity}` and the time-to-acknowledge and time-to-resolve
    histograms, computed by the database (each dialect's timestamp arithmetic)."""
    from prometheus_client.parser import text_string_to_metric_families

    from balmon.config import Settings
    from balmon.dashboard.metrics import render

    ids = _seed(engine)
    ownership.acknowledge(engine, ids["T1"], actor="ops", now=SEEN + timedelta(minutes=30))
    resolve_case(engine, ids["T2"], notes="done", actor="ops", now=SEEN + timedelta(hours=2))
    text = render(engine, Settings(), SEEN + timedelta(hours=3)).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("balmon_cases_open", (("severity", "HIGH"),))] == 2  # T1, S1
    assert samples[("balmon_cases_open", (("severity", "MEDIUM"),))] == 1
    assert samples[("balmon_cases_open", (("severity", "CRITICAL"),))] == 0
    ack, resolve = "balmon_case_ack_seconds", "balmon_case_resolve_seconds"
    assert samples[(f"{ack}_bucket", (("le", "900"),))] == 0
    assert samples[(f"{ack}_bucket", (("le", "3600"),))] == 1
    assert samples[(f"{ack}_count", ())] == 1
    assert abs(samples[(f"{ack}_sum", ())] - 1800) < 1
    assert samples[(f"{resolve}_bucket", (("le", "3600"),))] == 0
    assert samples[(f"{resolve}_bucket", (("le", "14400"),))] == 1
    assert abs(samples[(f"{resolve}_sum", ())] - 7200) < 1


@on_backends()
def test_the_morning_digest_goes_once_a_day_from_its_time(engine: Engine) -> None:
    """Open cases by severity and owner, the oldest first, once a day from `digest.at` in
    the schedule's zone, whoever evaluates."""
    from balmon.alerts.digest import send_if_due
    from balmon.config.settings import DigestSettings

    ids = _seed(engine)
    add_user(engine, "ops", "correct horse battery", Role.OPERATOR, SEEN)
    ownership.assign(engine, ids["T1"], owner="ops", actor="ops", now=SEEN)
    settings = DigestSettings.model_validate({"at": "08:30", "urls": ["json://127.0.0.1:9/d"]})

    def at(local: str, day: int = 4) -> bool:
        # Europe/Berlin is UTC+1 in December: 08:30 there is 07:30 UTC.
        now = datetime.fromisoformat(f"2026-12-{day:02d}T{local}+01:00")
        return send_if_due(
            engine, settings, timezone="Europe/Berlin", now=now, by="a", dashboard_url=None
        )

    assert not at("08:29")
    assert at("08:31")
    assert not at("09:00")  # once a day, whoever evaluates
    assert at("08:30", day=5)  # the next day again
    kind, body, channels = _messages(engine)[0]
    assert kind == "digest" and channels == ["digest json://127.0.0.1:9 #1"]
    assert "Open cases: 4 (HIGH 3, MEDIUM 1)" in body
    assert "ops 1" in body and "nobody 3" in body
    assert _named(body) == set(CUSTOMERS)
