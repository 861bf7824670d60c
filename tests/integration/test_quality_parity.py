"""The data-quality rules give the same verdicts however a date is verified: in one process,
in fetcher processes, resumed after a kill, and on Celery workers (issue 23). The previous
business date's balances travel with each customer, read in batches beside the file."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from balmon.banksim import SimulatorThread
from balmon.crashpoints import VARIABLE
from balmon.storage import make_engine
from balmon.storage.schema import error_logs, verification_results
from tests.conftest import on_backends
from tests.engine.helpers import write_customers
from tests.integration.conftest import start_simulator
from tests.integration.test_scaleout import BROKERS, _migrated, _reachable, _workers

pytestmark = [pytest.mark.slow]
BEFORE, DAY = "2026-11-22", "2026-11-23"
COUNT = 400


def _fault(i: int, day: str) -> str | None:
    if day == BEFORE:
        return "jump" if i % 10 == 6 else None  # high yesterday: a drop today
    return {0: "stale", 1: "currency", 2: "jump", 3: "null", 4: "negative", 5: "flaky:1"}.get(
        i % 10
    )


@contextmanager
def _bank(tmp_path: Path, day: str) -> Iterator[SimulatorThread]:
    faults = tmp_path / f"faults-{day}.csv"
    faults.write_text(
        "".join(f"Q{i:04d},{f}\n" for i in range(COUNT) if (f := _fault(i, day))),
        encoding="utf-8",
    )
    simulator = start_simulator(_customers(tmp_path), faults)
    try:
        yield simulator
    finally:
        simulator.stop()


def _customers(tmp_path: Path) -> Path:
    # Every fifth customer in EUR by the file's own column: the rule reads it.
    path = tmp_path / "customers.csv"
    if not path.exists():
        write_customers(path, [(f"Q{i:04d}", "100") for i in range(COUNT)])
        lines = path.read_text().splitlines()
        rows = [lines[0] + ",currency"] + [
            f"{line},{'EUR' if n % 5 == 4 else ''}" for n, line in enumerate(lines[1:])
        ]
        path.write_text("\n".join(rows) + "\n")
    return path


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=url,
        BALMON_SOURCE__TIMEOUT_SECONDS="5",
        BALMON_RETRY__DELAYS_SECONDS="[0.05, 0.1, 0.2]",
        BALMON_ENGINE__CONCURRENCY="10",
        BALMON_ENGINE__PROCESSES="1",
        BALMON_ENGINE__COMMIT_INTERVAL_SECONDS="0.05",
        BALMON_VERIFICATION__CURRENCY="USD",
        BALMON_LOGGING__FILE=str(tmp_path / "balmon.log"),
    )
    return {**env, **extra}


def _run(env: dict[str, str], tmp_path: Path, day: str, *, killed: bool = False) -> None:
    with _bank(tmp_path, day) as bank, ExitStack() as stack:
        command = [sys.executable, "-m", "balmon", "run", "--date", day]
        command += ["--customers", str(_customers(tmp_path))]
        run_env = {**env, "BALMON_SOURCE__URL": bank.url}
        if env.get("BALMON_ENGINE__EXECUTOR") == "celery":
            # A worker reads its own settings: the day's bank is where it fetches.
            stack.enter_context(_workers(run_env, 2, tmp_path))
        if killed:
            crashed = subprocess.run(
                command,
                env={**run_env, VARIABLE: "after-commit:3"},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert crashed.returncode == -9, crashed.stderr[-2000:]
        done = subprocess.run(
            command, env=run_env, capture_output=True, text=True, timeout=240, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]


Verdicts = tuple[dict[str, tuple[str, str | None]], set[str]]


def _verdicts(url: str) -> Verdicts:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            r, e = verification_results.c, error_logs.c
            results = {
                row.customer_id: (row.status, row.error_code)
                for row in c.execute(
                    select(r.customer_id, r.status, r.error_code).where(
                        r.business_date == date.fromisoformat(DAY)
                    )
                )
            }
            jumps = set(
                c.scalars(
                    select(e.customer_id).where(
                        e.business_date == date.fromisoformat(DAY), e.error_code == "BALANCE_JUMP"
                    )
                )
            )
    finally:
        engine.dispose()
    return results, jumps


def _verified(env: dict[str, str], tmp_path: Path, **how: bool) -> Verdicts:
    _run(env, tmp_path, BEFORE)
    _run(env, tmp_path, DAY, **how)
    return _verdicts(env["BALMON_DATABASE__URL"])


def _expected(results: dict[str, tuple[str, str | None]], jumps: set[str]) -> None:
    """What the fault mix must give, whichever way it was verified."""
    codes = {0: "STALE_BALANCE", 1: "CURRENCY_MISMATCH", 3: "NULL_BALANCE", 4: "NEGATIVE_BALANCE"}
    for i in range(COUNT):
        cid, kind = f"Q{i:04d}", i % 10
        euro = i % 5 == 4
        if kind in codes:
            assert results[cid] == ("UNAVAILABLE", codes[kind]), cid
        elif euro:  # the bank answers USD; the file says EUR
            assert results[cid] == ("UNAVAILABLE", "CURRENCY_MISMATCH"), cid
        else:
            assert results[cid][0] in ("PASS", "FAIL") and results[cid][1] is None, cid
    assert jumps == {f"Q{i:04d}" for i in range(COUNT) if i % 10 in (2, 6) and i % 5 != 4}


@on_backends("postgresql")
@pytest.mark.timeout(600)
def test_local_fetchers_resumed_and_celery_give_the_same_verdicts(
    fresh_url: str, tmp_path: Path
) -> None:
    local = _verified(_env(f"sqlite:///{tmp_path / 'local.db'}", tmp_path), tmp_path)
    _expected(*local)
    fetchers = _env(f"sqlite:///{tmp_path / 'fetchers.db'}", tmp_path, BALMON_ENGINE__PROCESSES="2")
    assert _verified(fetchers, tmp_path) == local
    resumed = _env(f"sqlite:///{tmp_path / 'resumed.db'}", tmp_path)
    assert _verified(resumed, tmp_path, killed=True) == local
    celery = _celery(_env(fresh_url, tmp_path))
    _migrated(celery)
    assert _verified(celery, tmp_path) == local


def _celery(env: dict[str, str]) -> dict[str, str]:
    broker = BROKERS["redis"]
    _reachable(broker)
    return {
        **env,
        "BALMON_ENGINE__EXECUTOR": "celery",
        "BALMON_CELERY__BROKER_URL": broker,
        # Its own queue: another test's workers never take these chunks.
        "BALMON_CELERY__QUEUE": f"test-{uuid.uuid4().hex[:10]}",
        "BALMON_CELERY__CHUNK_SIZE": "50",
        "BALMON_CELERY__RESEND_AFTER_SECONDS": "3",
    }
