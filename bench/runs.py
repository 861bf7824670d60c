"""Time one real `balmon run` (its own process, as an operator starts it): wall time, the
summary it prints, peak RSS of its whole process tree, and the CPU time the tree used."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text

from balmon.banksim import write_customers_csv

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Measured:
    wall_seconds: float
    summary: dict[str, Any]
    peak_rss_mb: float
    cpu_seconds: float

    @property
    def customers_per_second(self) -> float:
        return float(self.summary["total"]) / self.wall_seconds


def customers(work: Path, count: int) -> Path:
    path = work / f"customers-{count}.csv"
    if not path.exists():
        write_customers_csv(path, count)
    return path


def fresh_database(kind: str, work: Path, name: str) -> str:
    """An empty database for one measured run: a new SQLite file, or a PostgreSQL database
    made (again) on the machine's server."""
    if kind == "sqlite":
        path = work / f"{name}.db"
        for leftover in work.glob(f"{name}.db*"):
            leftover.unlink()
        return f"sqlite:///{path}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


class _TreeSampler(threading.Thread):
    """Peak resident memory of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self._root = psutil.Process(pid)
        self._halt = threading.Event()
        self.peak = 0

    def run(self) -> None:
        while not self._halt.wait(0.05):
            try:
                tree = [self._root, *self._root.children(recursive=True)]
                total = 0
                for process in tree:
                    with contextlib.suppress(psutil.Error):  # ended between the two calls
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def balmon_run(
    *,
    database: str,
    source: str,
    customers_file: Path,
    work: Path,
    arguments: tuple[str, ...] = (),
    **settings: str,
) -> Measured:
    """`balmon run --json` to completion; `settings` are BALMON_* variables (upper-case
    names without the prefix, e.g. ENGINE__CONCURRENCY); `arguments` more of the command
    line (`--date D`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=database,
        BALMON_SOURCE__URL=source,
        BALMON_LOGGING__FILE=str(work / "balmon.log"),
        BALMON_LOGGING__LEVEL="WARNING",
        **{f"BALMON_{key}": value for key, value in settings.items()},
    )
    command = [sys.executable, "-m", "balmon", "run", "--customers", str(customers_file)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *arguments, "--json", "--rerun"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = _TreeSampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"bench: balmon run failed ({process.returncode}): {stderr[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(stdout.strip().splitlines()[-1])
    return Measured(wall, summary, peak / 2**20, cpu)
