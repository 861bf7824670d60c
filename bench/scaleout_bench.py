"""Customers per second of a distributed run (`engine.executor = "celery"`) with one and two
worker processes, against the local engine on the same input: nginx answering the balance
contract, PostgreSQL, Redis, all on this machine (docs/scale-out.md).

    .venv/bin/python -m bench.scaleout_bench --customers 100000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import runs, servers

BROKER = "redis://127.0.0.1:6379/6"
# (label, --concurrency of each worker started)
SETUPS = [("1 worker process", [1]), ("2 workers", [1, 1]), ("1 worker, --concurrency 2", [2])]


def _timed(env: dict[str, str], path: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "balmon", "run", "--customers", str(path), "--json"]
    done = subprocess.run(
        [*command, "--rerun"], env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench: balmon run failed: {done.stderr[-1500:]}")
    total = json.loads(done.stdout.strip().splitlines()[-1])["total"]
    return float(total) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="100000,10000")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="balmon-scaleout-"))
    with servers.nginx() as url:
        base = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
        base.update(
            BALMON_SOURCE__URL=url,
            BALMON_LOGGING__FILE=str(work / "balmon.log"),
            BALMON_LOGGING__LEVEL="WARNING",
            BALMON_ENGINE__CONCURRENCY="100",
        )
        for count in (int(n) for n in args.customers.split(",")):
            path = runs.customers(work, count)
            env = dict(base, BALMON_DATABASE__URL=runs.fresh_database("postgresql", work, "sob"))
            migrate = [sys.executable, "-m", "balmon", "db", "upgrade"]
            subprocess.run(migrate, env=env, check=True, capture_output=True)
            print(f"{count:,} customers, local (2 processes): {_timed(env, path):,.0f}/s")
            for label, pools in SETUPS:
                celery = dict(
                    env,
                    BALMON_ENGINE__EXECUTOR="celery",
                    BALMON_CELERY__BROKER_URL=BROKER,
                    BALMON_CELERY__QUEUE=f"bench-{uuid.uuid4().hex[:8]}",
                )
                workers = [
                    subprocess.Popen(
                        [sys.executable, "-m", "balmon", "worker", f"--concurrency={pool}"],
                        env=celery,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                    for pool in pools
                ]
                time.sleep(4)  # warm: the workers are up before the run starts
                try:
                    print(f"{count:,} customers, celery, {label}: {_timed(celery, path):,.0f}/s")
                finally:
                    for worker in workers:
                        os.killpg(worker.pid, signal.SIGTERM)
                    for worker in workers:
                        worker.wait(timeout=60)


if __name__ == "__main__":
    main()
