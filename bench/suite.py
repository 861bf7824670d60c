"""`make bench`: every benchmark through the real `balmon run` code path, one table, and JSON
plus a PNG chart under bench/results/.

    .venv/bin/python -m bench.suite            # the whole suite (about half an hour)
    .venv/bin/python -m bench.suite --quick    # smaller inputs, to try the harness
    .venv/bin/python -m bench.suite --only throughput,logging

Targets (issue 13) are printed beside each figure and never asserted: speed is measured."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from balmon.banksim import customer_id
from bench import runs, sequential, servers

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    name: str
    figure: str
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, figure: str, target: str = "", met: bool | None = None) -> None:
        row = Row(name, figure, target, met)
        self.rows.append(row)
        mark = {True: "met", False: "NOT met", None: ""}[met]
        print(f"  {name:<52} {figure:<34} {target:<22} {mark}", flush=True)


# Each database with the default client, then the HTTP clients side by side (issue 13 asks
# for the faster one to be adopted only on measurement): the same input, nginx and database.
VARIANTS = [("sqlite", "auto"), ("postgresql", "auto")]
CLIENTS = [("sqlite", "aiohttp")]


def _throughput(
    report: Report, work: Path, sizes: list[int], variants: list[tuple[str, str]]
) -> None:
    with servers.nginx() as url:
        raw = servers.wrk_rate(url)
        report.add("wrk -t1 -c100 on the same nginx", f"{raw:,.0f} requests/s")
        report.data["wrk_requests_per_second"] = raw
        for count in sizes:
            path = runs.customers(work, count)
            for db, client in variants:
                database = runs.fresh_database(db, work, f"bench_tp_{db}_{count}")
                measured = runs.balmon_run(
                    database=database,
                    source=url,
                    customers_file=path,
                    work=work,
                    ENGINE__CONCURRENCY="100",
                    SOURCE__CLIENT=client,
                )
                rate = measured.customers_per_second
                name = db if client == "auto" else f"{db}-{client}"
                key = f"throughput_{name}_{count}"
                report.data[key] = {
                    "customers": count,
                    "client": "reqwest" if client == "auto" else client,
                    "wall_seconds": measured.wall_seconds,
                    "run_seconds": measured.summary["duration_seconds"],
                    "customers_per_second": rate,
                    "percent_of_wrk": 100 * rate / raw,
                    "peak_rss_mb": measured.peak_rss_mb,
                    "cpu_us_per_customer": 1e6 * measured.cpu_seconds / count,
                }
                target, met = _throughput_target(name, count, rate, measured)
                report.add(
                    f"{name}, {count:,} customers",
                    f"{rate:,.0f}/s ({100 * rate / raw:.1f}% of wrk), "
                    f"{measured.wall_seconds:.0f} s, {measured.peak_rss_mb:.0f} MB",
                    target,
                    met,
                )


def _throughput_target(
    db: str, count: int, rate: float, measured: runs.Measured
) -> tuple[str, bool | None]:
    if count >= 1_000_000:
        ok = measured.wall_seconds < 100 and measured.peak_rss_mb < 300
        return "< 100 s, < 300 MB", ok
    if db == "sqlite" and count >= 200_000:
        return ">= 10,000/s", rate >= 10_000
    return "", None


def _fault_file(work: Path, count: int) -> Path:
    """5% transient (recover on the 2nd or 3rd attempt) and 1% persistent (always 503)."""
    path = work / f"faults-{count}.csv"
    lines = []
    for number in range(1, count + 1):
        kind = number % 100
        if kind < 3:
            lines.append(f"{customer_id(number)},flaky:1\n")
        elif kind < 5:
            lines.append(f"{customer_id(number)},flaky:2\n")
        elif kind == 5:
            lines.append(f"{customer_id(number)},status:503\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _backoff(report: Report, work: Path, count: int, sample: int) -> None:
    path = runs.customers(work, count)
    faults = _fault_file(work, count)
    common = ["--generate", str(count), "--latency", "0.02"]
    timings = {}
    for name, options in (("clean", []), ("faulty", ["--faults", str(faults)])):
        with servers.simulator(*common, *options) as url:
            database = runs.fresh_database("sqlite", work, f"bench_backoff_{name}")
            # The story's real delays (5/10/20 s) and the default 30 s timeout.
            measured = runs.balmon_run(
                database=database,
                source=url,
                customers_file=path,
                work=work,
                ENGINE__CONCURRENCY="100",
            )
            timings[name] = measured
    clean, faulty = timings["clean"], timings["faulty"]
    # The story's sequential algorithm on an evenly spread sample (every k-th customer, so
    # the fault mix is the input's), against a fresh simulator (its flaky counters unused).
    step = max(1, count // sample)
    picked = [customer_id(n) for n in range(1, count + 1, step)][:sample]
    with servers.simulator(*common, "--faults", str(faults)) as url:
        baseline = sequential.run_sample(url, picked)
    extrapolated = baseline.extrapolate(count)
    extra = faulty.wall_seconds - clean.wall_seconds
    report.data["backoff"] = {
        "customers": count,
        "latency_seconds": 0.02,
        "clean_wall_seconds": clean.wall_seconds,
        "faulty_wall_seconds": faulty.wall_seconds,
        "faulty_summary": {k: faulty.summary[k] for k in ("pass", "fail", "unavailable")},
        "sequential_sample": baseline.__dict__,
        "sequential_extrapolated_seconds": extrapolated,
    }
    report.add(f"backoff, {count:,} customers: clean", f"{clean.wall_seconds:.1f} s")
    report.add(
        "backoff: 5% transient, 1% persistent, real delays",
        f"{faulty.wall_seconds:.1f} s (clean + {extra:.1f} s)",
        "<= clean + 40 s",
        extra <= 40,
    )
    report.add(
        f"story's sequential algorithm ({len(picked)} sampled)",
        f"{extrapolated / 3600:,.1f} h ({extrapolated / faulty.wall_seconds:,.0f}x balmon)",
    )


def _logging_overhead(report: Report, work: Path, count: int) -> None:
    path = runs.customers(work, count)
    failing = work / f"failing-{count}.csv"
    failing.write_text(
        "".join(f"{customer_id(n)},status:503\n" for n in range(1, count + 1) if n % 10 == 0),
        encoding="utf-8",
    )
    cpu: dict[str, runs.Measured] = {}
    for name, options in (("none", []), ("10%", ["--faults", str(failing)])):
        with servers.simulator("--generate", str(count), *options) as url:
            cpu[name] = runs.balmon_run(
                database=runs.fresh_database("sqlite", work, f"bench_log_{name.strip('%')}"),
                source=url,
                customers_file=path,
                work=work,
                ENGINE__CONCURRENCY="100",
                RETRY__DELAYS_SECONDS="[0, 0, 0]",
            )
    none, failing_run = cpu["none"], cpu["10%"]
    per_customer = failing_run.cpu_seconds / none.cpu_seconds
    requests = {"none": count, "10%": count + 3 * count // 10}  # 4 attempts for each failing
    per_request = (failing_run.cpu_seconds / requests["10%"]) / (none.cpu_seconds / count)
    report.data["logging_overhead"] = {
        "customers": count,
        "cpu_seconds_none_failing": none.cpu_seconds,
        "cpu_seconds_10_percent_failing": failing_run.cpu_seconds,
        "ratio_per_customer": per_customer,
        "ratio_per_request": per_request,
    }
    report.add(
        f"error logging, {count:,} customers, 10% fail 4 times",
        f"CPU/customer x{per_customer:.2f} (x{per_request:.2f}/request)",
        "<= 1.3",
        per_customer <= 1.3,
    )


# Every data-quality rule off, and the answer's currency and as_of not even read: the cost
# of verifying before the rules (issue 23), against which the rules are measured.
_RULES_OFF = {
    "QUALITY__DISABLED": json.dumps(
        [
            "STALE_BALANCE",
            "CURRENCY_MISMATCH",
            "BALANCE_JUMP",
            "STALE_FEED",
            "FAIL_SPIKE",
            "UNAVAILABLE_SPIKE",
        ]
    ),
    "SOURCE__CURRENCY_FIELD": "",
    "SOURCE__AS_OF_FIELD": "",
}
_RULES_ON = {"VERIFICATION__CURRENCY": "USD"}


def _quality(report: Report, work: Path, count: int, rounds: int = 3) -> None:
    """The rules' cost: the same date on a copy of one database whose previous business date
    holds every customer's balance, with every rule on and with every rule off, alternated."""
    path = runs.customers(work, count)
    day, before = "2026-12-04", "2026-12-03"
    with servers.nginx() as url:
        history = runs.fresh_database("sqlite", work, "bench_quality_history")
        runs.balmon_run(
            database=history,
            source=url,
            customers_file=path,
            work=work,
            arguments=("--date", before),
            ENGINE__CONCURRENCY="100",
        )
        seed = Path(history.removeprefix("sqlite:///"))
        rates: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        for n in range(rounds):
            for name, options in (("off", _RULES_OFF), ("on", _RULES_ON)):
                copy = work / f"bench_quality_{name}_{n}.db"
                shutil.copyfile(seed, copy)
                measured = runs.balmon_run(
                    database=f"sqlite:///{copy}",
                    source=url,
                    customers_file=path,
                    work=work,
                    arguments=("--date", day),
                    ENGINE__CONCURRENCY="100",
                    **options,
                )
                rates[name].append(measured.customers_per_second)
                cpu[name].append(1e6 * measured.cpu_seconds / count)
                copy.unlink()
    off, on = max(rates["off"]), max(rates["on"])
    cost = 100 * (1 - on / off)
    # CPU time drifts far less than the rate on a shared 2-core machine: reported beside it.
    cpu_off, cpu_on = min(cpu["off"]), min(cpu["on"])
    cpu_cost = 100 * (cpu_on / cpu_off - 1)
    report.data["quality_rules"] = {
        "customers": count,
        "rates": rates,
        "cpu_us_per_customer": cpu,
        "cost_percent": cost,
        "cpu_cost_percent": cpu_cost,
    }
    report.add(
        f"data-quality rules, {count:,} customers (best of {rounds})",
        f"{on:,.0f}/s on, {off:,.0f}/s off: {cost:+.1f}%; CPU {cpu_cost:+.1f}%",
        "cost <= 10%",
        cost <= 10,
    )


def _dashboard(report: Report, dbs: list[str]) -> None:
    from balmon.storage import make_engine, upgrade
    from bench import dashboard_bench

    for db in dbs:
        engine = make_engine(dashboard_bench.fresh_database(db))
        upgrade(engine)
        dashboard_bench.seed(engine)
        measured = dashboard_bench.measure(engine, repeat=20)
        engine.dispose()
        worst_path, (_, worst) = max(measured.items(), key=lambda item: item[1][1])
        report.data[f"dashboard_{db}"] = {path: list(pair) for path, pair in measured.items()}
        report.add(
            f"dashboard p95, 1,000,000 error rows, {db}",
            f"worst {worst:.0f} ms ({worst_path.split('?')[0]})",
            "<= 300 ms",
            worst <= 300,
        )


def _serve(report: Report, work: Path, count: int) -> None:
    from bench import serve_bench

    with servers.nginx() as url:
        measured = serve_bench.measure(work, url, count)
    report.data["serve"] = measured
    idle, during = measured["idle"], measured["during_run"]
    report.add(
        f"serve: /healthz p95 during a {count:,}-customer run",
        f"{during['healthz']['p95']:.0f} ms (idle {idle['healthz']['p95']:.0f}, "
        f"max {during['healthz']['max']:.0f})",
        "<= 50 ms",
        during["healthz"]["p95"] <= 50,
    )
    limit = 2 * idle["cases"]["p95"]
    report.add(
        "serve: /api/cases p95 during the run",
        f"{during['cases']['p95']:.0f} ms (idle {idle['cases']['p95']:.0f})",
        f"<= {limit:.0f} ms (2x idle)",
        during["cases"]["p95"] <= limit,
    )
    share = measured["serve_share_of_run"]
    report.add(
        "serve: the run's rate against balmon run's",
        f"{measured['serve_customers_per_second']:,.0f}/s vs "
        f"{measured['run_customers_per_second']:,.0f}/s ({100 * share:.0f}%)",
        ">= 90%",
        share >= 0.9,
    )


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (harness check)")
    parser.add_argument(
        "--only",
        default="throughput,million,backoff,logging,quality,dashboard,serve",
        help="which parts",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="balmon-bench-"))
    report = Report(data={"machine": _machine(), "started": datetime.now(UTC).isoformat()})
    quick = args.quick
    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "throughput",
            lambda: _throughput(report, work, [20_000 if quick else 200_000], VARIANTS + CLIENTS),
        ),
        (
            "million",
            lambda: _throughput(report, work, [100_000 if quick else 1_000_000], VARIANTS),
        ),
        (
            "backoff",
            lambda: _backoff(report, work, 5_000 if quick else 100_000, 100 if quick else 400),
        ),
        ("logging", lambda: _logging_overhead(report, work, 10_000 if quick else 100_000)),
        ("quality", lambda: _quality(report, work, 20_000 if quick else 200_000)),
        ("dashboard", lambda: _dashboard(report, [] if quick else ["sqlite", "postgresql"])),
        ("serve", lambda: _serve(report, work, 20_000 if quick else 200_000)),
    ]
    print(f"  {'benchmark':<52} {'measured':<34} {'target':<22}")
    started = time.monotonic()
    try:
        for name, step in steps:
            if name in parts:
                step()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.data["suite_seconds"] = time.monotonic() - started
    report.data["rows"] = [row.__dict__ for row in report.rows]
    whole = args.only == parser.get_default("only")
    _save(report, quick, "" if whole else "-" + "-".join(sorted(parts)))


def _save(report: Report, quick: bool, part: str) -> None:
    from bench import chart

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}{part}{'-quick' if quick else ''}"
    text = json.dumps(report.data, indent=2, default=str)
    # A quick run (small inputs, a harness check) never replaces the latest real figures,
    # nor does a run of some parts only (`--only`): it has its own latest file.
    latest = f"latest{part}{'-quick' if quick else ''}"
    (RESULTS / f"{name}.json").write_text(text, encoding="utf-8")
    (RESULTS / f"{latest}.json").write_text(text, encoding="utf-8")
    chart.draw(report.data, RESULTS / f"{latest}.png")
    print(f"\nwrote bench/results/{name}.json, {latest}.json and {latest}.png")


if __name__ == "__main__":
    main()
