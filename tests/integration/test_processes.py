"""A run on several cores (`engine.processes`): fetcher processes do the requests, the run's
own process writes every row. The same outcomes as one process, and exactly once after a
fetcher or the run's own process is killed and the date run again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from balmon.storage import make_engine
from balmon.storage.schema import error_logs, verification_results
from tests.conftest import on_backends
from tests.integration import crashes

pytestmark = pytest.mark.slow


def _fetchers(pid: int) -> list[int]:
    """The run's fetcher processes (multiprocessing's resource tracker is a child too)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(child) for child in path.read_text().split()] if path.exists() else []
    return [
        child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _outcomes(db: Engine) -> tuple[dict[str, tuple[object, ...]], dict[tuple[str, str], int]]:
    e = error_logs.c
    with db.connect() as c:
        results = {
            row.customer_id: (row.status, row.error_code, row.attempts, row.balance)
            for row in c.execute(select(verification_results))
        }
        attempts = {
            (cid, code): int(n)
            for cid, code, n in c.execute(
                select(e.customer_id, e.error_code, func.count()).group_by(
                    e.customer_id, e.error_code
                )
            )
        }
    return results, attempts


def test_two_processes_give_the_outcomes_of_one(tmp_path: Path) -> None:
    """Per customer the same status, code, attempts and balance, and the same attempt rows,
    as a run in one process over the same bank (the faults are per customer, not random)."""
    outcomes = []
    for processes in (1, 2):
        url = f"sqlite:///{tmp_path / f'p{processes}.db'}"
        db = make_engine(url)
        try:
            (tmp_path / f"bank{processes}").mkdir()
            with crashes.simulated_bank(tmp_path / f"bank{processes}", 1000) as bank:
                env = crashes.run_env(url, bank, tmp_path, processes=processes)
                crashes.finish_run(env, db, bank)
                outcomes.append(_outcomes(db))
        finally:
            db.dispose()
    results, attempts = outcomes[0]
    assert len(attempts) > 100
    assert len(results) == 1000 and {s for s, *_ in results.values()} >= {"PASS", "UNAVAILABLE"}
    assert outcomes[1] == outcomes[0]


def _wait_for_requests(bank: crashes.Bank, victim: subprocess.Popen[str], target: int) -> None:
    deadline = time.monotonic() + 60
    while bank.simulator.state.total_requests < target:
        assert victim.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)


@on_backends("sqlite", "postgresql")
def test_a_killed_fetcher_stops_the_run_in_one_line_and_the_rerun_completes(
    fresh_url: str, tmp_path: Path
) -> None:
    db = make_engine(fresh_url)
    try:
        with crashes.simulated_bank(tmp_path, 3000) as bank:
            env = crashes.run_env(fresh_url, bank, tmp_path, processes=2)
            victim = crashes.start_run(env, bank)
            _wait_for_requests(bank, victim, 500)
            fetchers = _fetchers(victim.pid)
            assert len(fetchers) == 2, fetchers
            os.kill(fetchers[0], signal.SIGKILL)
            _, stderr = victim.communicate(timeout=60)
            assert victim.returncode == 1, stderr[-2000:]
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and "fetcher process" in lines[0], stderr[-2000:]
            assert "run the same date again" in lines[0]
            assert not any(_alive(pid) for pid in fetchers), "a fetcher outlived its run"
            crashes.record_unaccounted(db, bank)
            crashes.finish_run(env, db, bank)
    finally:
        db.dispose()


@on_backends("sqlite", "postgresql")
def test_the_run_killed_at_random_moments_takes_its_fetchers_and_resumes_exactly_once(
    fresh_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261129)
    kills, caught = 4, 0
    db = make_engine(fresh_url)
    try:
        with crashes.simulated_bank(tmp_path, 150 * kills) as bank:
            env = crashes.run_env(fresh_url, bank, tmp_path, processes=2)
            for _ in range(kills):
                victim = crashes.start_run(env, bank)
                _wait_for_requests(
                    bank, victim, bank.simulator.state.total_requests + rng.randint(1, 100)
                )
                fetchers = _fetchers(victim.pid)
                caught += len(fetchers) == 2
                time.sleep(rng.uniform(0, 0.3))
                victim.send_signal(signal.SIGKILL)
                victim.communicate(timeout=60)
                deadline = time.monotonic() + 10
                while any(_alive(pid) for pid in fetchers):
                    assert time.monotonic() < deadline, "a fetcher outlived its killed run"
                    time.sleep(0.05)
                crashes.record_unaccounted(db, bank)
            assert caught >= kills // 2, "the kills came before the fetchers started"
            crashes.finish_run(env, db, bank)
    finally:
        db.dispose()
