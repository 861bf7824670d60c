"""A real `balmon run` killed with SIGKILL at named points and at seeded random moments, then
resumed (issue 12): exactly one result per customer, one error row per attempt made, one
alert per (date, customer, code), and no customer asked more often than its recorded attempts
plus what was in flight or uncommitted at each kill.

The kills come from inside (`balmon.crashpoints`, armed by `BALMON_CRASH_AT`) for the named
points, and from this test (after a seeded number of requests reached the bank, plus a seeded
pause) for the random ones. The bank is the built-in simulator, which counts requests.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from balmon.crashpoints import Point
from balmon.storage import make_engine
from tests.conftest import on_backends
from tests.integration import crashes

pytestmark = pytest.mark.slow


# Once each in the suite (the random moments below kill one run many times over).
KILLS_PER_POINT = int(os.environ.get("BALMON_TEST_CRASH_KILLS_PER_POINT", "1"))
POINTS = [
    (Point.BEFORE_REQUEST, 60),
    (Point.AFTER_RESPONSE, 60),
    (Point.MID_COMMIT, 2),
    (Point.AFTER_COMMIT, 2),
    (Point.DELIVERING_ALERT, 1),
]


@on_backends("sqlite", "postgresql")
@pytest.mark.parametrize(("point", "nth"), POINTS, ids=[p.value for p, _ in POINTS])
def test_killed_at_a_named_point_then_resumed(
    fresh_url: str, tmp_path: Path, point: Point, nth: int
) -> None:
    db = make_engine(fresh_url)
    try:
        with crashes.simulated_bank(tmp_path, 300) as bank:
            for _ in range(KILLS_PER_POINT):
                victim = crashes.start_run(
                    crashes.run_env(fresh_url, bank, tmp_path, f"{point}:{nth}"), bank
                )
                crashes.record_kill(victim, db, bank)
            crashes.finish_run(crashes.run_env(fresh_url, bank, tmp_path), db, bank)
            if point is Point.DELIVERING_ALERT:
                # The message sent when the process died went again: at least once, not lost.
                assert len(bank.hook.posts) >= 2
    finally:
        db.dispose()


# 20 in the suite; a soak by hand: BALMON_TEST_CRASH_KILLS=200 (figures in docs/reliability.md).
KILLS = int(os.environ.get("BALMON_TEST_CRASH_KILLS", "20"))


@on_backends("sqlite", "postgresql")
def test_killed_at_seeded_random_moments_then_resumed(fresh_url: str, tmp_path: Path) -> None:
    rng = random.Random(20261123)
    db = make_engine(fresh_url)
    try:
        with crashes.simulated_bank(tmp_path, 150 * KILLS) as bank:
            for _ in range(KILLS):
                seen = bank.simulator.state.total_requests
                victim = crashes.start_run(crashes.run_env(fresh_url, bank, tmp_path), bank)
                target = seen + rng.randint(1, 100)
                deadline = time.monotonic() + 60
                while bank.simulator.state.total_requests < target and victim.poll() is None:
                    assert time.monotonic() < deadline, "the run made no progress"
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.3))
                victim.send_signal(signal.SIGKILL)
                crashes.record_kill(victim, db, bank)
            crashes.finish_run(crashes.run_env(fresh_url, bank, tmp_path), db, bank)
            assert len(bank.unaccounted) == KILLS
            # For the soak's figures (pytest -s): what the kills cost the bank.
            lost = [sum(kill.values()) for kill in bank.unaccounted]
            print(
                f"\ncrash soak: {KILLS} kills, {bank.count} customers, "
                f"{bank.simulator.state.total_requests} requests, {sum(lost)} asked again "
                f"(at most {max(lost)} at one kill)"
            )
    finally:
        db.dispose()
