"""`balmon serve` and `balmon scheduler` as an operations team runs them: real processes on a
real PostgreSQL database, killed and stopped; `balmon check`; JSON logs with correlation ids."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from balmon.storage.schema import verification_results, verification_runs
from tests.alerts.receivers import free_port
from tests.engine.helpers import write_customers
from tests.integration.conftest import api_request, start_simulator

pytestmark = pytest.mark.slow
COUNT = 1200


def _env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=db_url,
        BALMON_SOURCE__TIMEOUT_SECONDS="3",
        BALMON_RETRY__DELAYS_SECONDS="[0.05, 0.1, 0.2]",
        BALMON_ENGINE__COMMIT_INTERVAL_SECONDS="0.1",
        BALMON_ENGINE__HEARTBEAT_SECONDS="0.5",
        BALMON_ENGINE__STALE_AFTER_SECONDS="4",
        BALMON_ENGINE__CONCURRENCY="10",
        BALMON_SCHEDULE__CRON="* * * * * */2",
        BALMON_SCHEDULE__CATCH_UP_DAYS="1",
        **extra,
    )
    return env


def _spawn(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[str]:
    """Start balmon with stderr to `log` and stdout to `log`.out (the child keeps its copies)."""
    with log.open("w") as err, log.with_suffix(".out").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "balmon", *args], env=env, stdout=out, stderr=err, text=True
        )


def _wait(condition: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize(
    "fresh_url", [pytest.param("postgresql", marks=pytest.mark.backend)], indirect=True
)
def test_two_schedulers_run_each_date_once_and_one_takes_over_from_a_killed_one(
    fresh_url: str, tmp_path: Path
) -> None:
    customers = write_customers(tmp_path / "c.csv", [(f"T{i:05d}", "0") for i in range(COUNT)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"T{i:05d},slow:0.02\n" for i in range(COUNT)))
    simulator = start_simulator(customers, faults)
    db = create_engine(fresh_url.replace("postgresql://", "postgresql+psycopg://"))
    env = _env(
        tmp_path,
        fresh_url,
        BALMON_SOURCE__URL=simulator.url,
        BALMON_VERIFICATION__CUSTOMERS_FILE=str(customers),
    )
    port = free_port()
    serve = _spawn(
        {**env, "BALMON_DASHBOARD__PORT": str(port)}, "serve", log=tmp_path / "serve.log"
    )
    scheduler = _spawn(env, "scheduler", log=tmp_path / "scheduler.log")
    processes = {serve.pid: serve, scheduler.pid: scheduler}
    try:
        holder = _running_holder(db)
        _wait(lambda: holder() is not None)
        # The run lives in a child of serve or scheduler; its parent is killed outright, and
        # the child, told by the kernel, commits and leaves the date to the other instance.
        victim = processes.pop(_parent_of(holder()))
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        today = datetime.now(UTC).date()
        due = {today - timedelta(days=2), today - timedelta(days=1)}

        def all_completed() -> bool:
            with db.connect() as c:
                rows = c.execute(select(verification_runs)).all()
            return {r.business_date for r in rows if r.status == "completed"} == due

        _wait(all_completed)
        time.sleep(3)  # more firings: nothing more may run
        with db.connect() as c:
            runs = c.execute(select(verification_runs)).all()
            per = c.execute(
                select(
                    verification_results.c.run_id, verification_results.c.customer_id, func.count()
                ).group_by(verification_results.c.run_id, verification_results.c.customer_id)
            ).all()
        assert sorted(r.business_date for r in runs) == sorted(due)  # one run per date
        assert all(n == 1 for *_, n in per) and len(per) == COUNT * len(due)
        survivor = next(iter(processes.values()))
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=30)
        assert survivor.returncode == 143
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        db.dispose()
        simulator.stop()


def _running_holder(db: Any) -> Any:
    def holder() -> int | None:
        try:
            return _holder(db)
        except Exception:  # the schema is still being created
            return None

    return holder


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _holder(db: Any) -> int | None:
    with db.connect() as c:
        pid = c.scalar(
            select(verification_runs.c.lease_pid).where(verification_runs.c.status == "running")
        )
        done = c.scalar(select(func.count()).select_from(verification_results)) or 0
    return int(pid) if pid and done >= 100 else None


def test_serve_logs_json_with_the_correlation_id_of_a_500_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    db_file = tmp_path / "balmon.db"
    env = _env(tmp_path, f"sqlite:///{db_file}")
    token_out = subprocess.run(
        [sys.executable, "-m", "balmon", "tokens", "create", "ops", "--role", "viewer"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = token_out.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "serve.log"
    serve = _spawn({**env, "BALMON_DASHBOARD__PORT": str(port)}, "serve", "--no-scheduler", log=log)
    try:
        _wait(lambda: api_request(port, token, "/healthz")[0] == 200, timeout=30)
        with closing(sqlite3.connect(db_file)) as c:  # break the database under the server
            c.execute("ALTER TABLE verification_results RENAME TO broken")
        status, body = api_request(port, token, "/api/summary?date=2026-11-27")
        assert status == 500
        correlation = json.loads(body)["correlation_id"]
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 143
    *logged, last = log.read_text().splitlines()
    assert last == "balmon: stopped by SIGTERM"  # the one line for the operator
    lines = [json.loads(line) for line in logged]  # every other line is JSON
    crash = [line for line in lines if line.get("correlation_id") == correlation]
    assert len(crash) == 1 and "Traceback" in crash[0]["exc"] and crash[0]["level"] == "ERROR"
    assert any(line["logger"] == "uvicorn.access" for line in lines)
    assert (
        lines[-1]["msg"].startswith("Finished server process") or "Traceback" not in log.read_text()
    )
    assert log.with_suffix(".out").read_text().startswith("balmon dashboard on")


def test_sigterm_to_serve_reaches_its_run_process_which_exits_143_resumable(
    tmp_path: Path,
) -> None:
    customers = write_customers(tmp_path / "c.csv", [(f"G{i:04d}", "0") for i in range(400)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"G{i:04d},slow:0.05\n" for i in range(400)))
    simulator = start_simulator(customers, faults)
    db_file = tmp_path / "balmon.db"
    env = _env(
        tmp_path,
        f"sqlite:///{db_file}",
        BALMON_SOURCE__URL=simulator.url,
        BALMON_VERIFICATION__CUSTOMERS_FILE=str(customers),
        BALMON_SCHEDULE__ENABLED="false",
    )
    token = _token(env, "admin")
    port = free_port()
    log = tmp_path / "serve.log"
    serve = _spawn({**env, "BALMON_DASHBOARD__PORT": str(port)}, "serve", log=log)
    db = create_engine(f"sqlite:///{db_file}")
    try:
        _wait(lambda: api_request(port, token, "/healthz")[0] == 200, timeout=30)
        status, body = api_request(port, token, "/api/runs", {"date": "2026-11-27"})
        assert status == 202 and json.loads(body)["state"] == "running", body
        _wait(lambda: _holder(db) is not None)
        child = _holder(db)
        assert child is not None and _parent_of(child) == serve.pid
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
        with db.connect() as c:
            run = c.execute(select(verification_runs)).one()
    finally:
        if serve.poll() is None:
            serve.kill()
        db.dispose()
        simulator.stop()
    assert serve.returncode == 143
    assert (run.status, run.lease_pid) == ("interrupted", None)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ended = [line for line in lines if line["msg"] == "run process ended"]
    assert [(e["pid"], e["exit_code"], e["state"]) for e in ended] == [(child, 143, "interrupted")]
    assert not Path(f"/proc/{child}").exists()


def _token(env: dict[str, str], role: str) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "balmon", "tokens", "create", f"t-{role}", "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def test_check_on_a_weekend_or_a_holiday_says_no_run_is_due_and_exits_0(tmp_path: Path) -> None:
    """A daily check of "yesterday" failed every Monday ("no run yet", exit 1)."""
    env = _env(
        tmp_path,
        f"sqlite:///{tmp_path / 'balmon.db'}",
        BALMON_SCHEDULE__BUSINESS_DAYS_ONLY="true",
        BALMON_SCHEDULE__HOLIDAYS='["2026-12-25"]',
    )

    def check(day: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "balmon", "check", "--date", day],
            env=env,
            capture_output=True,
            text=True,
        )
        return done.returncode, done.stdout.strip()

    saturday, christmas, monday = check("2026-11-21"), check("2026-12-25"), check("2026-11-23")
    said = "not a business date (weekend or holiday in [schedule]); no run due"
    assert saturday == (0, f"2026-11-21: {said}")
    assert christmas == (0, f"2026-12-25: {said}")
    assert monday == (1, "2026-11-23: no run yet")


def test_check_says_whether_a_dates_run_completed(tmp_path: Path) -> None:
    customers = write_customers(tmp_path / "c.csv", [(f"Q{i}", "0") for i in range(20)])
    simulator = start_simulator(customers)
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'balmon.db'}", BALMON_SOURCE__URL=simulator.url)

    def balmon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "balmon", *args], env=env, capture_output=True, text=True
        )

    try:
        missing = balmon("check", "--date", "2026-11-20")
        assert (missing.returncode, missing.stdout.strip()) == (1, "2026-11-20: no run yet")
        assert balmon("run", "--date", "2026-11-20", "--customers", str(customers)).returncode == 0
        done = balmon("check", "--date", "2026-11-20")
    finally:
        simulator.stop()
    assert done.returncode == 0
    assert done.stdout.startswith("2026-11-20: completed (run 1, 20 customers, finished ")
    bad = balmon("check", "--date", "yesterday")
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "balmon: --date: expected YYYY-MM-DD, got 'yesterday'"
    )
