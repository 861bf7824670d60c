"""Silences: silenced customers are verified, logged and shown as cases, but not alerted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from balmon.alerts import AlertPipeline
from balmon.clock import SystemClock
from balmon.engine import RunRequest, VerificationRun
from balmon.errors import TimeoutFailure, UserError
from balmon.storage.schema import alerts
from balmon.storage.schema import silences as silences_table
from balmon.triage import CaseFilter, list_cases, silences
from tests.alerts.receivers import Webhook, webhook_server
from tests.conftest import on_backends
from tests.engine.fakes import ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

FAILING = {"T1": [TimeoutFailure("slow")], "T2": [TimeoutFailure("slow")]}


def _alerted_day(engine: Engine, path: Path, hook: Webhook, day: date) -> None:
    settings = fast_settings(
        str(engine.url.render_as_string(hide_password=False)),
        alerts={"urls": [f"json://127.0.0.1:{hook.port}/hook"], "group_wait_seconds": 0},
    )
    pipeline = AlertPipeline(engine=engine, settings=settings.alerts, clock=SystemClock())
    source = ScriptedSource(FAILING, default=Decimal(5))
    run = VerificationRun(settings=settings, engine=engine, source=source, alerts=pipeline)
    asyncio.run(run.execute(RunRequest(day, "normal", path)))


def _customers_in(hook: Webhook) -> set[str]:
    lines = "\n".join(p["message"] for p in hook.posts).splitlines()
    return {line.split()[1] for line in lines if line.startswith("- ")}


@on_backends()
def test_a_silenced_customer_is_verified_and_shown_but_not_alerted_until_it_expires(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_customers(tmp_path / "c.csv", [("T1", "1"), ("T2", "1"), ("P1", "1")])
    now = datetime.now(UTC)
    new = silences.NewSilence("T1", None, "known: account being migrated")
    silence_id = silences.add(engine, new, actor="ops", now=now - timedelta(seconds=1))
    with webhook_server() as hook:
        _alerted_day(engine, path, hook, date(2026, 11, 26))
        assert _customers_in(hook) == {"T2"}  # T1 held back
        with engine.connect() as c:
            held = c.execute(select(alerts).where(alerts.c.customer_id == "T1")).one()
            cases = {i["customer_id"]: i for i in list_cases(c, CaseFilter())[0]}
            only_silenced, _ = list_cases(c, CaseFilter(silenced=True))
        assert held.silence_id == silence_id and held.message_id is None  # on record
        assert cases["T1"]["silenced"] and cases["T1"]["outcome"] == "UNAVAILABLE"
        assert not cases["T2"]["silenced"]
        assert [i["customer_id"] for i in only_silenced] == ["T1"]
        assert silences.expire(engine, silence_id, actor="lead", now=datetime.now(UTC))
        hook.posts.clear()
        _alerted_day(engine, path, hook, date(2026, 11, 27))
        assert _customers_in(hook) == {"T1", "T2"}
    with engine.connect() as c:
        row = c.execute(select(silences_table)).one()
    assert (row.created_by, row.expired_by) == ("ops", "lead") and row.expired_at is not None


def test_a_silence_needs_a_target_and_a_reason(engine: Engine) -> None:
    now = datetime.now(UTC)
    for bad in (
        silences.NewSilence(None, None, "why"),
        silences.NewSilence("C1", None, "   "),
        silences.NewSilence("C1", None, "why", expires_at=now - timedelta(days=1)),
    ):
        with pytest.raises(UserError):
            silences.add(engine, bad, actor="ops", now=now)
    code_wide = silences.add(
        engine, silences.NewSilence(None, "NULL_BALANCE", "vendor bug"), actor="ops", now=now
    )
    with engine.connect() as c:
        in_force = c.scalars(
            select(silences_table.c.id).where(
                silences.active_at(now), silences.covering("ANY", "NULL_BALANCE")
            )
        ).all()
        other = c.scalars(
            select(silences_table.c.id).where(
                silences.active_at(now), silences.covering("ANY", "TIMEOUT")
            )
        ).all()
    assert (in_force, other) == ([code_wide], [])
    for never in ("C0000205 ", " C1", "C1\n", "\u202eC1", "C\x001", ".", "x" * 51):
        with pytest.raises(UserError, match="customer"):
            silences.add(engine, silences.NewSilence(never, None, "r"), actor="ops", now=now)
    assert silences.add(engine, silences.NewSilence("%", None, "r"), actor="ops", now=now)


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env["BALMON_DATABASE__URL"] = db_url
    return subprocess.run(
        [sys.executable, "-m", "balmon", "silences", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_silences_commands(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    added = _cli(url, "add", "--customer", "C9", "--code", "TIMEOUT", "--reason", "maintenance",
                 "--expires", "2999-01-01", "--by", "ops")  # fmt: skip
    assert added.returncode == 0 and added.stdout.strip() == "silence 1 added"
    listed = _cli(url, "list")
    assert (
        "C9" in listed.stdout
        and "TIMEOUT" in listed.stdout
        and "by ops: maintenance" in listed.stdout
    )
    assert _cli(url, "add", "--reason", "x").returncode == 2  # no customer, no code
    bad_code = _cli(url, "add", "--code", "NOPE", "--reason", "x")
    assert bad_code.returncode == 2 and "unknown error code" in bad_code.stderr
    assert _cli(url, "expire", "1", "--by", "lead").stdout.strip() == "silence 1 expired"
    assert _cli(url, "list").stdout.strip() == ""
    assert "ended" in _cli(url, "list", "--all").stdout
    again = _cli(url, "expire", "1")
    assert again.returncode == 1 and "no silence 1 in force" in again.stderr
