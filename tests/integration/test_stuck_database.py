"""A stop is bounded whatever the database does (issue 28): SIGTERM while the run's database
call is stuck behind another session's lock, or on a server whose processes are all frozen,
exits 143 within `engine.shutdown_grace_seconds`; a frozen server and no SIGTERM is one line
and exit 1 once a call has waited past `database.statement_timeout_seconds` and as long again.
Real `balmon run` processes, a real lock on the machine's PostgreSQL, and a throwaway cluster
of the test's own that the test freezes with SIGSTOP."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from balmon.storage import make_engine
from tests.conftest import on_backends
from tests.integration import crashes
from tests.integration.pgcluster import throwaway_cluster

pytestmark = [pytest.mark.slow, pytest.mark.backend]

GRACE = 3.0


def _started(env: dict[str, str], bank: crashes.Bank) -> subprocess.Popen[str]:
    env = {**env, "BALMON_ENGINE__SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    run = crashes.start_run(env, bank)
    deadline = time.monotonic() + 60
    while bank.simulator.state.total_requests < 200:
        assert run.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    return run


def _stopped_within(run: subprocess.Popen[str], seconds: float) -> tuple[float, str]:
    began = time.monotonic()
    try:
        _, stderr = run.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        run.kill()
        _, stderr = run.communicate()
        pytest.fail(f"still running {seconds:g}s after the stop: {stderr[-500:]}")
    return time.monotonic() - began, stderr


@contextmanager
def _lease_locked(url: str) -> Iterator[None]:
    """Another session holds the date's lease row (as a stuck admin query would)."""
    engine: Engine = make_engine(url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("SELECT * FROM run_leases FOR UPDATE"))
    try:
        yield
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


@on_backends("postgresql", "mariadb")
def test_sigterm_while_the_run_waits_for_another_sessions_lock_exits_143_in_the_grace(
    fresh_url: str, tmp_path: Path
) -> None:
    with crashes.simulated_bank(tmp_path, 20_000) as bank:
        env = crashes.run_env(fresh_url, bank, tmp_path)
        env["BALMON_DATABASE__LOCK_TIMEOUT_SECONDS"] = "600"  # the stop, not the limit, ends it
        run = _started(env, bank)
        with _lease_locked(fresh_url):
            time.sleep(1.0)  # the writer's next commit is now waiting for the lock
            run.send_signal(signal.SIGTERM)
            took, stderr = _stopped_within(run, GRACE + 10)
    assert run.returncode == 143, stderr
    assert took < GRACE + 3, took


def test_sigterm_on_a_frozen_server_exits_143_in_the_grace(tmp_path: Path) -> None:
    with throwaway_cluster() as cluster, crashes.simulated_bank(tmp_path, 20_000) as bank:
        run = _started(crashes.run_env(cluster.url, bank, tmp_path), bank)
        cluster.freeze()
        try:
            time.sleep(1.0)
            run.send_signal(signal.SIGTERM)
            took, stderr = _stopped_within(run, GRACE + 10)
        finally:
            cluster.thaw()
    assert run.returncode == 143, stderr
    assert took < GRACE + 3, took
    assert f"not stopped {GRACE:g}s after SIGTERM; exiting" in stderr


def test_a_frozen_server_ends_the_run_in_one_line_and_exit_1(tmp_path: Path) -> None:
    """No one sends a signal: the run itself notices the server stopped answering, after the
    statement limit (2 s) and as long again, instead of waiting on the socket for ever."""
    with throwaway_cluster() as cluster, crashes.simulated_bank(tmp_path, 20_000) as bank:
        env = crashes.run_env(cluster.url, bank, tmp_path)
        env["BALMON_DATABASE__STATEMENT_TIMEOUT_SECONDS"] = "2"
        run = _started(env, bank)
        cluster.freeze()
        try:
            took, stderr = _stopped_within(run, 30)
        finally:
            cluster.thaw()
    assert run.returncode == 1, stderr
    assert took < 4 + 3, took
    [line] = [line for line in stderr.splitlines() if line.startswith("balmon:")]
    assert line.startswith("balmon: database unavailable: no answer for "), stderr
    assert line.endswith("(limit 4s); the run resumes where it stopped when started again")
