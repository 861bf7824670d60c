"""`balmon demo` as a new user runs it: a day's run, then the dashboard, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from balmon.dashboard.queries import top_customers
from balmon.storage import make_engine
from balmon.storage.schema import verification_runs
from balmon.triage import CaseFilter, list_cases
from tests.alerts.receivers import free_port
from tests.integration.conftest import api_request

pytestmark = pytest.mark.slow


def test_a_run_started_from_the_demo_dashboard_fetches_from_the_simulated_bank(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env["BALMON_DASHBOARD__PORT"] = str(port)
    balmon = [sys.executable, "-m", "balmon"]
    with (tmp_path / "demo.err").open("w") as err, (tmp_path / "demo.out").open("w") as out:
        demo = subprocess.Popen(
            [*balmon, "demo", "--customers", "300", "--history-days", "0"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        token = ""
        deadline = time.monotonic() + 90
        while api_request(port, token, "/healthz")[0] != 200:
            assert time.monotonic() < deadline and demo.poll() is None, "the demo did not serve"
            time.sleep(0.2)
        created = subprocess.run(
            [*balmon, "tokens", "create", "ops", "--role", "admin"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        # With no channel configured the demo's alerts land in the dashboard's own inbox.
        messages = json.loads(api_request(port, token, "/api/alerts")[1])["items"]
        inbox = [d for m in messages for d in m["deliveries"] if d["channel"].startswith("inbox")]
        assert inbox and all(d["status"] == "sent" for d in inbox)
        status, body = api_request(port, token, "/api/runs", {"date": "2026-11-20"})
        assert status == 202 and json.loads(body)["state"] == "running", body
        while True:
            runs = json.loads(api_request(port, token, "/api/runs")[1])["items"]
            latest = next(r for r in runs if r["business_date"] == "2026-11-20")
            if latest["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert latest["status"] == "completed" and latest["total"] == 300
    assert latest["pass"] + latest["fail"] > 250  # the bank answered (8% have faults)
    assert demo.returncode == 143
    assert (tmp_path / "demo.err").read_text().strip().splitlines()[
        -1
    ] == "balmon: stopped by SIGTERM"


def test_the_demo_fills_a_history_with_resolved_and_recurring_cases(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    command = [sys.executable, "-m", "balmon", "demo", "--no-serve", "--customers", "400"]
    done = subprocess.run(
        [*command, "--history-days", "9"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "history: verifying 9 earlier business dates first..." in done.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'balmon.db'}")
    with engine.connect() as c:
        dates = c.execute(select(verification_runs.c.business_date).distinct()).all()
        today = max(d for (d,) in dates)
        resolved, n_resolved = list_cases(c, CaseFilter(resolved=True, page_size=500))
        _, recurring = list_cases(c, CaseFilter(day=today, regression=True))
        top = top_customers(c, n=3, start=today - timedelta(days=6), end=today)
    engine.dispose()
    assert len(dates) == 10  # nine earlier dates and today
    assert n_resolved > 0 and all(i["resolved_by"] == "demo-ops" for i in resolved)
    assert all(i["business_date"] <= str(today - timedelta(days=7)) for i in resolved)
    assert recurring > 0  # customers failing again after their case was resolved
    assert top and top[0]["days"] == 7  # a recurring problem, every day of the week
    again = subprocess.run(
        [*command, "--history-days", "9"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert again.returncode == 0 and "history:" not in again.stdout  # done once
