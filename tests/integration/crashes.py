"""The crash and outage tests' bank, runs and checks: a real `balmon run` against the built-in
simulator (which counts requests per customer), and what must hold after it was resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from balmon.banksim import SimulatorThread
from balmon.crashpoints import VARIABLE
from balmon.storage.schema import (
    alert_deliveries,
    alerts,
    error_logs,
    verification_results,
    verification_runs,
)
from tests.alerts.receivers import Webhook, webhook_server
from tests.engine.helpers import write_customers
from tests.integration.conftest import start_simulator

DAY = "2026-11-23"


def fault(i: int) -> str | None:
    """A mix with every path a kill can interrupt: retries that recover, retries that run out
    (alerts), a code that is not retried, and slow healthy answers so kills land mid-run."""
    kind = i % 20
    if kind == 0:
        return "status:503"  # retried, then UNAVAILABLE and an alert
    if kind in (1, 2):
        return f"flaky:{kind}"  # fails once or twice, then answers
    if kind == 3:
        return "null"  # NULL_BALANCE: not retried, UNAVAILABLE at once
    return "slow:0.01"


@dataclass
class Bank:
    customers: Path
    simulator: SimulatorThread
    hook: Webhook
    count: int
    # Per kill, per customer: the requests since the previous stop that left no record (in
    # flight, or answered and not committed); and the counts at the previous stop.
    unaccounted: list[Counter[str]] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)


@contextmanager
def simulated_bank(tmp_path: Path, count: int) -> Iterator[Bank]:
    rows = [(f"K{i:05d}", "100" if i % 7 == 0 else "0") for i in range(count)]
    customers = write_customers(tmp_path / "c.csv", rows)
    faults = tmp_path / "f.csv"
    faults.write_text(
        "".join(f"K{i:05d},{f}\n" for i in range(count) if (f := fault(i))), encoding="utf-8"
    )
    simulator = start_simulator(customers, faults)
    try:
        with webhook_server() as hook:
            yield Bank(customers, simulator, hook, count)
    finally:
        simulator.stop()


def run_env(
    url: str, bank: Bank, tmp_path: Path, crash: str | None = None, *, processes: int = 1
) -> dict[str, str]:
    """`processes` 1 by default: the crash points kill the process that reaches them, and
    these tests kill the run's own (`test_processes.py` kills fetcher processes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=url,
        BALMON_SOURCE__URL=bank.simulator.url,
        BALMON_SOURCE__TIMEOUT_SECONDS="5",
        BALMON_RETRY__DELAYS_SECONDS="[0.05, 0.1, 0.2]",
        BALMON_ENGINE__CONCURRENCY="10",
        BALMON_ENGINE__PROCESSES=str(processes),
        BALMON_ENGINE__COMMIT_INTERVAL_SECONDS="0.1",
        BALMON_ALERTS__URLS=f'["json://127.0.0.1:{bank.hook.port}/ops"]',
        BALMON_ALERTS__GROUP_WAIT_SECONDS="0.2",
        BALMON_LOGGING__FILE=str(tmp_path / "balmon.log"),
    )
    if crash:
        env[VARIABLE] = crash
    return env


def start_run(env: dict[str, str], bank: Bank) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "balmon", "run", "--date", DAY]
    return subprocess.Popen(
        [*command, "--customers", str(bank.customers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def recorded(db: Engine) -> Counter[str]:
    """Per customer, the attempts the database has a record of: its attempt rows (every one,
    should one be there twice) and its answered attempt when its result is PASS or FAIL."""
    e, r = error_logs.c, verification_results.c
    with db.connect() as c:
        found = Counter(
            {
                cid: int(n)
                for cid, n in c.execute(select(e.customer_id, func.count()).group_by(e.customer_id))
            }
        )
        answered = select(r.customer_id).where(r.status.in_(("PASS", "FAIL")))
        found.update(c.scalars(answered))
    return found


def record_kill(victim: subprocess.Popen[str], db: Engine, bank: Bank) -> None:
    """After a SIGKILL: what the bank saw beyond what the database accounts for."""
    _, stderr = victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL, f"exit {victim.returncode}: {stderr[-2000:]}"
    record_unaccounted(db, bank)


def record_unaccounted(db: Engine, bank: Bank) -> None:
    """Once no balmon process runs: per customer, the requests since the previous stop that
    left no record (in flight, or answered and not committed, when the process stopped)."""
    time.sleep(0.2)  # requests already on the wire reach the simulator's counter
    held, seen = recorded(db), Counter(bank.simulator.state.requests)
    lost = Counter({c: (seen[c] - bank.seen[c]) - (held[c] - bank.held[c]) for c in seen})
    assert min(lost.values(), default=0) >= 0, "more records than requests"
    bank.unaccounted.append(+lost)
    bank.seen, bank.held = seen, held


def finish_run(env: dict[str, str], db: Engine, bank: Bank) -> None:
    victim = start_run(env, bank)
    _, stderr = victim.communicate(timeout=120)
    assert victim.returncode == 0, stderr[-2000:]
    assert_exactly_once(db, bank)


def assert_exactly_once(db: Engine, bank: Bank) -> None:
    e, r, a = error_logs.c, verification_results.c, alerts.c
    with db.connect() as c:
        runs = c.execute(select(verification_runs.c.status)).scalars().all()
        results = {row.customer_id: row for row in c.execute(select(verification_results))}
        per_customer = {
            cid: n
            for cid, n in c.execute(select(r.customer_id, func.count()).group_by(r.customer_id))
        }
        attempts: dict[str, list[int]] = {}
        # Which writer session (its chain segment) wrote each row, and when: for a failure's
        # message, so a soak's rare failure says what happened.
        written: dict[str, list[tuple[object, ...]]] = {}
        rows = select(
            e.customer_id, e.retry_count, e.error_code, e.chain_segment, e.logged_at
        ).order_by(e.id)
        for cid, n, code, segment, at in c.execute(rows):
            attempts.setdefault(cid, []).append(int(n))
            written.setdefault(cid, []).append((n, code, segment, str(at)))
        alerted = Counter(
            (str(d), cid, code)
            for d, cid, code in c.execute(select(a.business_date, a.customer_id, a.error_code))
        )
        undelivered = c.scalar(select(func.count()).where(alert_deliveries.c.status != "sent"))
        unsent = c.scalar(select(func.count()).where(a.message_id.is_(None)))
        messages = c.scalar(select(func.count(func.distinct(alert_deliveries.c.message_id))))
    assert runs == ["completed"]
    # Exactly one result per customer of the file.
    assert len(results) == bank.count and set(per_customer.values()) == {1}
    for cid, result in results.items():
        failed = result.attempts - (1 if result.status in ("PASS", "FAIL") else 0)
        # One row per failed attempt, numbered 0, 1, 2, ... with none twice.
        assert attempts.get(cid, []) == list(range(failed)), (
            cid,
            result.attempts,
            result.chain_segment,
            str(result.checked_at),
            written.get(cid),
            bank.simulator.state.requests[cid],
            [kill[cid] for kill in bank.unaccounted],
        )
        # Never more requests than recorded attempts plus what each stop left without a record:
        # a resumed customer is never asked again for an attempt already recorded.
        allowance = sum(kill[cid] for kill in bank.unaccounted)
        asked = bank.simulator.state.requests[cid]
        assert asked <= result.attempts + allowance, (cid, asked, result.attempts, allowance)
    # One alert per (date, customer, code): every UNAVAILABLE customer, none twice; all sent.
    expected = {
        (DAY, cid, res.error_code) for cid, res in results.items() if res.status == "UNAVAILABLE"
    }
    assert set(alerted) == expected and set(alerted.values()) == {1}
    assert undelivered == 0
    # Delivered at least once: every alert is in a message, and the webhook received at
    # least one post per message.
    assert unsent == 0 and 0 < messages <= len(bank.hook.posts)
