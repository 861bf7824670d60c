"""`balmon run` as a user runs it: a real process against the simulator, killed and resumed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from balmon.storage.schema import verification_results, verification_runs
from tests.engine.helpers import write_customers
from tests.integration.conftest import start_simulator

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=f"sqlite:///{tmp_path / 'balmon.db'}",
        BALMON_SOURCE__URL=url,
        # No fault in these tests hangs: a generous deadline keeps a loaded machine from
        # turning a quick reset into a TIMEOUT.
        BALMON_SOURCE__TIMEOUT_SECONDS="3",
        BALMON_RETRY__DELAYS_SECONDS="[0.05, 0.1, 0.2]",
        BALMON_ENGINE__COMMIT_INTERVAL_SECONDS="0.1",
        BALMON_LOGGING__FILE=str(tmp_path / "balmon.log"),
        **{"BALMON_ALERTS__GROUP_WAIT_SECONDS": "0.2", **extra},
    )
    return env


def _balmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "balmon", "run", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_run_prints_json_and_a_completed_date_is_not_fetched_again(tmp_path: Path) -> None:
    customers = write_customers(
        tmp_path / "c.csv", [(f"C{i}", "0") for i in range(200)] + [("", "1")]
    )
    faults = tmp_path / "f.csv"
    faults.write_text("C7,null\nC8,flaky:1\n")
    simulator = start_simulator(customers, faults)
    try:
        env = _env(tmp_path, simulator.url)
        first = _balmon(env, "--date", "2026-11-20", "--customers", str(customers), "--json")
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout.strip().splitlines()[-1])
        assert summary["status"] == "completed"
        assert (summary["total"], summary["pass"], summary["fail"], summary["unavailable"]) == (
            200,
            199,
            0,
            1,
        )
        assert summary["by_code"] == {"NULL_BALANCE": 1}
        assert summary["business_date"] == "2026-11-20" and summary["duration_seconds"] >= 0
        seen = simulator.state.total_requests
        again = _balmon(env, "--date", "2026-11-20", "--customers", str(customers), "--json")
        assert again.returncode == 0
        assert json.loads(again.stdout.strip().splitlines()[-1])["run_id"] == summary["run_id"]
        assert simulator.state.total_requests == seen
    finally:
        simulator.stop()
    log_lines = [json.loads(line) for line in (tmp_path / "balmon.log").read_text().splitlines()]
    failed = [line for line in log_lines if line["msg"] == "attempt failed"]
    assert {(f["customer_id"], f["error_code"], f["attempt"]) for f in failed} == {
        ("C7", "NULL_BALANCE", 1),
        ("C8", "API_ERROR", 1),
    }
    assert all(f["run_id"] == summary["run_id"] for f in failed)


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, "http://127.0.0.1:9")
    missing = _balmon(env, "--date", "2026-11-20", "--customers", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert "customers_file" in missing.stderr and "Traceback" not in missing.stderr
    bad_date = _balmon(env, "--date", "20-11-2026", "--customers", str(tmp_path / "nope.csv"))
    assert bad_date.returncode == 2 and "--date" in bad_date.stderr


def test_a_customer_file_without_customer_id_is_one_config_line(tmp_path: Path) -> None:
    env = _env(tmp_path, "http://127.0.0.1:9")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,min_balance\nC1,5\n", encoding="utf-8")
    result = _balmon(env, "--date", "2026-11-20", "--customers", str(wrong))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"balmon: config error: verification.customers_file: {wrong}: "
        "header has no customer_id column"
    )


def test_a_customer_file_with_no_customer_is_refused_unless_allowed(tmp_path: Path) -> None:
    """An export that came out empty was a completed run of 0 customers, exit 0."""
    env = _env(tmp_path, "http://127.0.0.1:9")
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,min_balance\n", encoding="utf-8")
    result = _balmon(env, "--date", "2026-11-20", "--customers", str(empty))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"balmon: config error: verification.customers_file: {empty}: no customer after the "
        "header (set verification.allow_empty = true if an empty list is expected)"
    )
    allowed = _balmon(
        {**env, "BALMON_VERIFICATION__ALLOW_EMPTY": "true"},
        "--date",
        "2026-11-20",
        "--customers",
        str(empty),
    )
    assert allowed.returncode == 0, allowed.stderr
    assert re.search(r"customers\s+0\s+PASS 0\s+FAIL 0\s+UNAVAILABLE 0", allowed.stdout)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_or_stopped_run_resumes_with_exactly_one_result_per_customer(
    tmp_path: Path, signum: signal.Signals
) -> None:
    count = 1500
    customers = write_customers(tmp_path / "c.csv", [(f"K{i:05d}", "0") for i in range(count)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"K{i:05d},slow:0.02\n" for i in range(count)))
    simulator = start_simulator(customers, faults)
    db = create_engine(f"sqlite:///{tmp_path / 'balmon.db'}")
    try:
        env = _env(tmp_path, simulator.url, BALMON_ENGINE__CONCURRENCY="10")
        args = [
            sys.executable,
            "-m",
            "balmon",
            "run",
            "--date",
            "2026-11-21",
            "--customers",
            str(customers),
        ]
        victim = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        done_before = _wait_for_results(db, at_least=200)
        victim.send_signal(signum)
        _, stderr = victim.communicate(timeout=30)
        with db.connect() as c:
            committed = set(c.scalars(select(verification_results.c.customer_id)))
            status = c.scalar(select(verification_runs.c.status))
        assert 0 < len(committed) < count, done_before
        if signum != signal.SIGKILL:
            # A clean stop: one line, the shell's exit code, the run marked for resumption.
            assert victim.returncode == 128 + signum, stderr
            assert (
                stderr.strip()
                == f"balmon: stopped by {signum.name}: run the same date again to resume"
            )
            assert status == "interrupted"
        resumed = _balmon(env, "--date", "2026-11-21", "--customers", str(customers), "--json")
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert summary["resumed"] is True and summary["total"] == count
        with db.connect() as c:
            per_customer = c.execute(
                select(verification_results.c.customer_id, func.count()).group_by(
                    verification_results.c.customer_id
                )
            ).all()
            runs = c.execute(select(verification_runs.c.status)).scalars().all()
        assert len(per_customer) == count and all(n == 1 for _, n in per_customer)
        assert runs == ["completed"]
        # Customers committed before the kill were not fetched again.
        assert all(simulator.state.requests[cid] == 1 for cid in committed)
    finally:
        db.dispose()
        simulator.stop()


def _wait_for_results(db: object, *, at_least: int) -> int:
    from sqlalchemy import Engine

    assert isinstance(db, Engine)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with db.connect() as c:
                done = c.scalar(select(func.count()).select_from(verification_results)) or 0
        except Exception:  # the schema may not exist yet
            done = 0
        if done >= at_least:
            return int(done)
        time.sleep(0.05)
    raise AssertionError("the run made no progress")


def test_a_run_ends_by_delivering_its_grouped_alerts(tmp_path: Path) -> None:
    from tests.alerts.receivers import webhook_server

    customers = write_customers(tmp_path / "c.csv", [(f"C{i}", "0") for i in range(60)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"C{i},reset\n" for i in range(40)) + "C50,negative\n")
    simulator = start_simulator(customers, faults)
    try:
        with webhook_server() as hook:
            env = _env(
                tmp_path, simulator.url, BALMON_ALERTS__URLS=f'["json://127.0.0.1:{hook.port}/ops"]'
            )
            result = _balmon(env, "--date", "2026-11-22", "--customers", str(customers), "--json")
    finally:
        simulator.stop()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["alerts_raised"] == 41
    delivery = summary["alerts_delivery"]
    assert delivery["pending"] == 0 and delivery["sent"] == len(hook.posts)
    # Grouped by code: a handful of messages whose stated counts add up to every customer
    # (a slow machine may send one group while the run is still going, then the rest).
    counted: dict[str, int] = {}
    for post in hook.posts:
        match = re.match(
            r"\[balmon\] \w+ (\w+): (\d+) customers? unavailable on 2026-11-22", post["title"]
        )
        assert match, post["title"]
        counted[match[1]] = counted.get(match[1], 0) + int(match[2])
    assert counted == {"NETWORK_ERROR": 40, "NEGATIVE_BALANCE": 1}
    assert len(hook.posts) <= 4


def test_a_run_whose_lease_another_process_took_says_so_in_one_line(tmp_path: Path) -> None:
    """Not "database error": the database is fine, and the run goes on in the other process."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from balmon.storage import make_engine
    from balmon.storage.schema import run_leases
    from tests.integration import crashes

    url = f"sqlite:///{tmp_path / 'moved.db'}"
    with crashes.simulated_bank(tmp_path, 3000) as bank:
        env = crashes.run_env(url, bank, tmp_path)
        env["BALMON_ENGINE__HEARTBEAT_SECONDS"] = "0.2"
        run = crashes.start_run(env, bank)
        deadline = time.monotonic() + 60
        while bank.simulator.state.total_requests < 200:
            assert run.poll() is None and time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        db = make_engine(url)
        try:
            with db.begin() as c:
                c.execute(
                    update(run_leases).values(
                        host="instance-b", pid=4242, heartbeat_at=datetime.now(UTC)
                    )
                )
        finally:
            db.dispose()
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 1
    assert stderr == (
        f"balmon: lost the lease on {crashes.DAY}: another process took the run over; "
        "the run goes on there\n"
    )
