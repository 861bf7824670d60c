"""Measure `balmon run` throughput (customers per second) against the built-in bank simulator.

The simulator runs as its own process (`balmon bank-sim`), like a real bank would, and
`balmon run` is timed end to end, including the final commit. Run by hand:

    .venv/bin/python bench/run_throughput.py --customers 100000
    .venv/bin/python bench/run_throughput.py --customers 100000 --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from balmon.banksim import write_customers_csv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_sim/stats", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("simulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="balmon-bench-"))
    customers = write_customers_csv(work / "customers.csv", args.customers)
    port = _free_port()
    balmon = [sys.executable, "-m", "balmon"]
    sim = subprocess.Popen(
        [
            *balmon,
            "bank-sim",
            "--port",
            str(port),
            "--generate",
            str(args.customers),
            "--fault-rate",
            str(args.fault_rate),
            "--trickle-interval",
            "0.05",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        env = dict(
            os.environ,
            BALMON_DATABASE__URL=args.db or f"sqlite:///{work / 'balmon.db'}",
            BALMON_SOURCE__URL=url,
            BALMON_ENGINE__CONCURRENCY=str(args.concurrency),
            BALMON_SOURCE__TIMEOUT_SECONDS="0.3",
            BALMON_RETRY__DELAYS_SECONDS="[0.05, 0.1, 0.2]",
            BALMON_LOGGING__FILE=str(work / "balmon.log"),
        )
        started = time.perf_counter()
        done = subprocess.run(
            [*balmon, "run", "--customers", str(customers), "--json", "--rerun"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"balmon run failed ({done.returncode}): {done.stderr[-1500:]}")
    finally:
        sim.terminate()
        sim.wait()
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"customers={summary['total']:,} concurrency={args.concurrency} "
        f"fault_rate={args.fault_rate} db={env['BALMON_DATABASE__URL'].split(':')[0]}\n"
        f"run duration {summary['duration_seconds']:.1f}s -> "
        f"{summary['customers_per_second']:,.0f} customers/s "
        f"(process wall time {wall:.1f}s incl. start-up)\n"
        f"PASS {summary['pass']:,} FAIL {summary['fail']:,} UNAVAILABLE {summary['unavailable']:,}"
    )


if __name__ == "__main__":
    main()
