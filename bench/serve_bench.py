"""`balmon serve` while it runs a business date: does the dashboard answer as if idle?

The run is started as an operator starts it (`POST /api/runs` on a running `balmon serve`)
against nginx serving the balance contract; meanwhile one client asks `/healthz` and
`/api/cases` in turn, as a load balancer and an operator would. The same customers are run
with `balmon run` in the same bench, so the two rates are measured the same hour."""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import runs, servers

# Between two probes (about 20 requests a second in all): far busier than a load balancer's
# health check and an operator's clicks, and still not a load test of its own.
_PAUSE = 0.05


@dataclass
class Latencies:
    healthz: list[float]
    cases: list[float]

    def summary(self) -> dict[str, dict[str, float]]:
        return {"healthz": _percentiles(self.healthz), "cases": _percentiles(self.cases)}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "max": 0.0}

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return {"n": len(ordered), "p50": at(0.5), "p95": at(0.95), "max": ordered[-1]}


class _Client:
    """One keep-alive connection to the dashboard, as a monitoring probe holds it."""

    def __init__(self, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._headers = {"Authorization": f"Bearer {token}"}

    def timed(self, method: str, path: str, body: dict[str, Any] | None = None) -> float:
        """Milliseconds for one request, body read; the status must be 2xx."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {**self._headers, "Content-Type": "application/json"} if body else self._headers
        started = time.perf_counter()
        self._connection.request(method, path, body=payload, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        elapsed = 1000 * (time.perf_counter() - started)
        if response.status >= 300:
            raise SystemExit(f"bench: {method} {path} answered {response.status}: {data[:300]!r}")
        self.last = data
        return elapsed


def _probe(client: _Client, latencies: Latencies) -> None:
    latencies.healthz.append(client.timed("GET", "/healthz"))
    time.sleep(_PAUSE)
    latencies.cases.append(client.timed("GET", "/api/cases?resolved=all"))
    time.sleep(_PAUSE)


def _env(database: str, source: str, customers: Path, work: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
    env.update(
        BALMON_DATABASE__URL=database,
        BALMON_SOURCE__URL=source,
        BALMON_VERIFICATION__CUSTOMERS_FILE=str(customers),
        BALMON_ENGINE__CONCURRENCY="100",
        BALMON_DASHBOARD__PORT=str(port),
        BALMON_SCHEDULE__ENABLED="false",
        BALMON_LOGGING__FILE=str(work / "serve.log"),
        BALMON_LOGGING__LEVEL="WARNING",
    )
    return env


def _token(env: dict[str, str]) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "balmon", "tokens", "create", "bench", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def _run_of(client: _Client) -> dict[str, Any]:
    client.timed("GET", "/api/runs?page_size=1")
    items: list[dict[str, Any]] = json.loads(client.last)["items"]
    return items[0] if items else {}


def _during_run(client: _Client, day: str) -> tuple[Latencies, dict[str, Any]]:
    during = Latencies([], [])
    client.timed("POST", "/api/runs", {"date": day})
    run: dict[str, Any] = {}
    while run.get("status") not in ("completed", "failed", "interrupted"):
        for _ in range(10):
            _probe(client, during)
        run = _run_of(client)
    return during, run


def _alone_rate(work: Path, url: str, customers: Path) -> float:
    alone = runs.balmon_run(
        database=runs.fresh_database("sqlite", work, "bench_serve_alone"),
        source=url,
        customers_file=customers,
        work=work,
        ENGINE__CONCURRENCY="100",
    )
    return float(alone.summary["total"]) / float(alone.summary["duration_seconds"])


def measure(
    work: Path, url: str, count: int, idle_probes: int = 200, rounds: int = 2
) -> dict[str, Any]:
    """Idle and in-run latencies of `serve`, its runs' rate, and `balmon run`'s rate.

    The two kinds of run alternate, `rounds` of each (one machine's rate drifts by 10% from
    one minute to the next), and each rate is the median of its rounds."""
    customers = runs.customers(work, count)
    port = servers.free_port()
    database = runs.fresh_database("sqlite", work, "bench_serve")
    env = _env(database, url, customers, work, port)
    token = _token(env)
    with (work / "serve.out").open("w") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "balmon", "serve", "--no-scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        servers.wait_for(f"http://127.0.0.1:{port}/healthz")
        client = _Client(port, token)
        idle = Latencies([], [])
        for _ in range(idle_probes):
            _probe(client, idle)
        during = Latencies([], [])
        served: list[float] = []
        alone: list[float] = []
        for back in range(1, rounds + 1):
            alone.append(_alone_rate(work, url, customers))
            client = _Client(port, token)  # uvicorn closed the idle keep-alive meanwhile
            day = (datetime.now(UTC) - timedelta(days=back)).date().isoformat()
            latencies, run = _during_run(client, day)
            during.healthz += latencies.healthz
            during.cases += latencies.cases
            if run["status"] != "completed":
                raise SystemExit(f"bench: the run under serve ended {run['status']}")
            served.append(float(run["total"]) / float(run["duration"]))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    served_rate, alone_rate = statistics.median(served), statistics.median(alone)
    return {
        "customers": count,
        "rounds": rounds,
        "idle": idle.summary(),
        "during_run": during.summary(),
        "serve_rates": served,
        "run_rates": alone,
        "serve_customers_per_second": served_rate,
        "run_customers_per_second": alone_rate,
        "serve_share_of_run": served_rate / alone_rate,
    }
