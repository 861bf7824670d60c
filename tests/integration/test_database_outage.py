"""The database goes away for 10 s in the middle of a run (issue 12): the run stops with one
line and exit 1 (or rides the outage out), and the rerun completes with nothing lost or
doubled. The database is a throwaway PostgreSQL cluster the test stops and starts."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from balmon.storage import make_engine
from tests.integration import crashes
from tests.integration.pgcluster import throwaway_cluster

pytestmark = [pytest.mark.slow, pytest.mark.backend]

OUTAGE_SECONDS = 10


def test_a_database_outage_mid_run_ends_in_one_line_and_the_rerun_completes(
    tmp_path: Path,
) -> None:
    with throwaway_cluster() as cluster, crashes.simulated_bank(tmp_path, 3000) as bank:
        env = crashes.run_env(cluster.url, bank, tmp_path)
        victim = crashes.start_run(env, bank)
        deadline = time.monotonic() + 60
        while bank.simulator.state.total_requests < 300:
            assert victim.poll() is None and time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        cluster.stop()
        ended_in_outage = _exits_within(victim, OUTAGE_SECONDS)
        cluster.start()
        _, stderr = victim.communicate(timeout=120)
        if victim.returncode != 0:
            # Stopped: one line saying why, no traceback, and while the database was down
            # (not once it was back).
            assert ended_in_outage, stderr
            assert victim.returncode == 1, stderr
            assert stderr.startswith("balmon: database unavailable: "), stderr
            assert stderr.count("\n") == 1 and "Traceback" not in stderr
        db = make_engine(cluster.url)
        try:
            crashes.record_unaccounted(db, bank)
            crashes.finish_run(env, db, bank)
        finally:
            db.dispose()


def _exits_within(process: subprocess.Popen[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return True
        time.sleep(0.05)
    return False
