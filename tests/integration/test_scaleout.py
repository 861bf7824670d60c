"""A distributed run through Celery against the real brokers (Redis, RabbitMQ) and PostgreSQL,
with real `balmon worker` processes: the same outcome as a local run, and nothing lost or
doubled when a worker or the broker dies."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from balmon.config import load_settings
from balmon.scheduling.launcher import LaunchState, RunLauncher
from balmon.storage import make_engine
from balmon.storage.schema import run_chunks, verification_results
from tests.conftest import IN_CI, on_backends
from tests.integration import crashes

pytestmark = [pytest.mark.slow, pytest.mark.backend]

BROKERS = {
    "redis": "redis://127.0.0.1:6379/7",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
SUMMARY_KEYS = ("total", "pass", "fail", "unavailable", "by_code", "errors_by_code", "retries")


def _reachable(url: str) -> None:
    host, port = ("127.0.0.1", 6379) if url.startswith("redis") else ("127.0.0.1", 5672)
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        if IN_CI:
            pytest.fail(f"broker {url.split(':')[0]} not reachable: {exc} (CI=true)")
        pytest.skip(f"broker not reachable: {exc}")


def _env(url: str, bank: crashes.Bank, tmp_path: Path, broker: str, **extra: str) -> dict[str, str]:
    _reachable(broker)
    env = crashes.run_env(url, bank, tmp_path)
    env.update(
        {
            "BALMON_ENGINE__EXECUTOR": "celery",
            "BALMON_ENGINE__CONCURRENCY": "20",
            "BALMON_ENGINE__HEARTBEAT_SECONDS": "0.3",
            "BALMON_ENGINE__STALE_AFTER_SECONDS": "2",
            "BALMON_CELERY__BROKER_URL": broker,
            # Its own queue: another test's (or deployment's) workers never take these chunks.
            "BALMON_CELERY__QUEUE": f"test-{uuid.uuid4().hex[:10]}",
            "BALMON_CELERY__CHUNK_SIZE": "500",
            "BALMON_CELERY__RESEND_AFTER_SECONDS": "3",
            **extra,
        }
    )
    return env


@contextmanager
def _workers(
    env: dict[str, str], count: int, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = []
    logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(count)]
    for log in logs:
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "balmon", "worker", "--concurrency", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the worker and its pool: one group to kill
            )
        )
    try:
        yield started
    finally:
        for worker in started:
            _kill_group(worker, signal.SIGTERM)
        for worker in started:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _kill_group(worker, signal.SIGKILL)
                worker.wait()
        for log in logs:
            log.close()


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _run(env: dict[str, str], bank: crashes.Bank, timeout: float = 240) -> dict[str, Any]:
    command = [sys.executable, "-m", "balmon", "run", "--date", crashes.DAY, "--json"]
    done = subprocess.run(
        [*command, "--customers", str(bank.customers)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def _results(db: Engine) -> int:
    with db.connect() as c:
        return int(c.scalar(select(func.count()).select_from(verification_results)) or 0)


def _wait_for_results(db: Engine, run: subprocess.Popen[str], count: int) -> None:
    """Until the run has written `count` results (mid-run, where the tests break things)."""
    deadline = time.monotonic() + 120
    while _results(db) < count:
        assert run.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.05)


def _migrated(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "balmon", "db", "upgrade"], env=env, check=True, capture_output=True
    )


@on_backends("postgresql")
@pytest.mark.timeout(400)
@pytest.mark.parametrize("broker", list(BROKERS))
def test_a_distributed_run_gives_what_a_local_run_gives(
    fresh_url: str, tmp_path: Path, broker: str
) -> None:
    with crashes.simulated_bank(tmp_path, 20_000) as bank:
        local = crashes.run_env(f"sqlite:///{tmp_path / 'local.db'}", bank, tmp_path)
        local["BALMON_ENGINE__CONCURRENCY"] = "40"
        expected = _run(local, bank)
        bank.simulator.state.requests.clear()
        env = _env(fresh_url, bank, tmp_path, BROKERS[broker])
        _migrated(env)
        with _workers(env, 2, tmp_path):
            summary = _run(env, bank)
        db = make_engine(fresh_url)
        try:
            crashes.assert_exactly_once(db, bank)
            with db.connect() as c:
                workers = c.execute(
                    select(run_chunks.c.worker, func.count()).group_by(run_chunks.c.worker)
                ).all()
        finally:
            db.dispose()
    assert {k: summary[k] for k in SUMMARY_KEYS} == {k: expected[k] for k in SUMMARY_KEYS}
    assert summary["unavailable"] > 0 and summary["retries"] > 0  # the fault mix did happen
    assert len(workers) == 2, workers  # both workers verified chunks


@on_backends("postgresql")
@pytest.mark.timeout(300)
def test_a_worker_killed_mid_run_loses_and_doubles_nothing(fresh_url: str, tmp_path: Path) -> None:
    with crashes.simulated_bank(tmp_path, 10_000) as bank:
        env = _env(fresh_url, bank, tmp_path, BROKERS["redis"], BALMON_ENGINE__CONCURRENCY="5")
        _migrated(env)
        db = make_engine(fresh_url)
        try:
            with _workers(env, 2, tmp_path) as (victim, _):
                run = crashes.start_run(env, bank)
                _wait_for_results(db, run, 2_000)
                _kill_group(victim, signal.SIGKILL)
                victim.wait()
                crashes.record_unaccounted(db, bank)
                _, stderr = run.communicate(timeout=240)
                assert run.returncode == 0, stderr[-3000:]
            crashes.assert_exactly_once(db, bank)
        finally:
            db.dispose()


@on_backends("postgresql")
@pytest.mark.timeout(300)
def test_a_coordinator_killed_and_started_again_finishes_the_same_run(
    fresh_url: str, tmp_path: Path
) -> None:
    with crashes.simulated_bank(tmp_path, 10_000) as bank:
        env = _env(fresh_url, bank, tmp_path, BROKERS["redis"], BALMON_ENGINE__CONCURRENCY="5")
        _migrated(env)
        db = make_engine(fresh_url)
        try:
            with _workers(env, 2, tmp_path):
                coordinator = crashes.start_run(env, bank)
                _wait_for_results(db, coordinator, 2_000)
                coordinator.kill()
                coordinator.communicate()
                # The same command again: it takes the stale lease over and resumes the run
                # (`assert_exactly_once` checks there is one run, completed).
                again = crashes.start_run(env, bank)
                _, stderr = again.communicate(timeout=240)
                assert again.returncode == 0, stderr[-3000:]
                # Workers went on under the old coordinator's lease until their next commit
                # was refused: what they asked meanwhile is allowed to be asked again.
                crashes.record_unaccounted(db, bank)
            crashes.assert_exactly_once(db, bank)
        finally:
            db.dispose()
        assert "Traceback" not in stderr


@on_backends("postgresql")
@pytest.mark.timeout(300)
def test_the_scheduler_takes_over_a_distributed_run_whose_coordinator_died(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's launcher (as `balmon serve` runs it) claims the stale lease of a
    distributed run and finishes that run, through the same workers."""
    with crashes.simulated_bank(tmp_path, 6_000) as bank:
        env = _env(fresh_url, bank, tmp_path, BROKERS["redis"], BALMON_ENGINE__CONCURRENCY="5")
        _migrated(env)
        db = make_engine(fresh_url)
        try:
            with _workers(env, 2, tmp_path):
                coordinator = crashes.start_run(env, bank)
                _wait_for_results(db, coordinator, 1_000)
                coordinator.kill()
                coordinator.communicate()
                for name in [n for n in os.environ if n.startswith("BALMON_")]:
                    monkeypatch.delenv(name)
                for name, value in env.items():
                    if name.startswith("BALMON_"):
                        monkeypatch.setenv(name, value)
                monkeypatch.setenv("BALMON_VERIFICATION__CUSTOMERS_FILE", str(bank.customers))
                launcher = RunLauncher(settings=load_settings(None), engine=db)
                launch = asyncio.run(launcher.run(date.fromisoformat(crashes.DAY)))
                crashes.record_unaccounted(db, bank)
            assert launch.state is LaunchState.COMPLETED, launch
            crashes.assert_exactly_once(db, bank)  # one run, completed: the same one
        finally:
            db.dispose()


@on_backends("postgresql")
@pytest.mark.timeout(300)
def test_a_chunk_that_kills_its_worker_every_time_ends_after_max_deliveries(
    fresh_url: str, tmp_path: Path
) -> None:
    with crashes.simulated_bank(tmp_path, 40) as bank:
        env = _env(fresh_url, bank, tmp_path, BROKERS["redis"], BALMON_CELERY__MAX_DELIVERIES="3")
        _migrated(env)
        poison = {**env, "BALMON_CRASH_AT": "before-request:1"}  # every worker process dies
        with _workers(poison, 1, tmp_path):
            summary = _run(env, bank)
        db = make_engine(fresh_url)
        try:
            with db.connect() as c:
                chunk = c.execute(select(run_chunks.c.status, run_chunks.c.deliveries)).one()
        finally:
            db.dispose()
    assert summary["status"] == "completed" and summary["total"] == 40
    assert summary["by_code"] == {"INTERNAL_ERROR": 40}
    assert tuple(chunk) == ("poisoned", 4)


@on_backends("postgresql")
@pytest.mark.timeout(300)
def test_a_broker_restarted_mid_run_loses_nothing(fresh_url: str, tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    assert server, "redis-server (Debian's redis-server package) is needed"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def start_redis() -> subprocess.Popen[bytes]:
        broker = subprocess.Popen(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return broker
            except OSError:
                assert time.monotonic() < deadline, "redis did not start"
                time.sleep(0.05)

    redis = start_redis()
    try:
        with crashes.simulated_bank(tmp_path, 10_000) as bank:
            env = _env(fresh_url, bank, tmp_path, f"redis://127.0.0.1:{port}/0",
                       BALMON_ENGINE__CONCURRENCY="5")  # fmt: skip
            _migrated(env)
            db = make_engine(fresh_url)
            try:
                with _workers(env, 2, tmp_path):
                    run = crashes.start_run(env, bank)
                    _wait_for_results(db, run, 2_000)
                    # Everything the broker held is gone: it keeps nothing on disk.
                    redis.kill()
                    redis.wait()
                    # Down for longer than the coordinator's resend delay (3 s): it must wait
                    # for the broker, not stop.
                    time.sleep(5)
                    redis = start_redis()
                    _, stderr = run.communicate(timeout=240)
                    assert run.returncode == 0, stderr[-3000:]
                crashes.record_unaccounted(db, bank)
                crashes.assert_exactly_once(db, bank)
            finally:
                db.dispose()
    finally:
        redis.kill()
        redis.wait()


def test_sqlite_and_a_short_visibility_timeout_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(BALMON_ENGINE__EXECUTOR="celery", BALMON_SOURCE__URL="http://127.0.0.1:9")
    cases = [
        ({"BALMON_DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}"}, "engine.executor"),
        (
            {
                "BALMON_DATABASE__URL": "postgresql://postgres@127.0.0.1/test",
                "BALMON_CELERY__VISIBILITY_TIMEOUT_SECONDS": "60",
            },
            "celery.visibility_timeout_seconds",
        ),
    ]
    customers = tmp_path / "c.csv"
    customers.write_text("customer_id,min_balance\nC1,1\n", encoding="utf-8")
    for extra, key in cases:
        for command in (["run", "--customers", str(customers)], ["worker"]):
            done = subprocess.run(
                [sys.executable, "-m", "balmon", *command],
                env={**env, **extra},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 2, (command, done.stderr)
            assert done.stderr.startswith(f"balmon: config error: {key}: "), done.stderr
            assert done.stderr.count("\n") == 1, done.stderr
