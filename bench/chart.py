"""The suite's figures as one PNG: throughput against wrk and the target, the backoff run
against the clean one, error-logging overhead, and the dashboard's slowest p95."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen here: draw to a file
import matplotlib.pyplot as plt


def draw(data: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    _throughput(axes[0][0], data)
    _backoff(axes[0][1], data)
    _logging(axes[1][0], data)
    _dashboard(axes[1][1], data)
    machine = data.get("machine", {})
    figure.suptitle(
        f"balmon benchmarks: {machine.get('cpus')} cores, Python {machine.get('python')}, "
        f"{str(data.get('started', ''))[:16]} UTC"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _bars(axis: Any, labels: list[str], values: list[float], title: str, unit: str) -> None:
    axis.barh(labels, values, color="#4a78b5")
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(unit)


def _throughput(axis: Any, data: dict[str, Any]) -> None:
    runs = {k: v for k, v in data.items() if k.startswith("throughput_")}
    if not runs:
        axis.set_visible(False)
        return
    labels = [f"{k.split('_')[1]} {v['customers']:,}" for k, v in runs.items()]
    _bars(
        axis,
        labels,
        [v["customers_per_second"] for v in runs.values()],
        "balmon run",
        "customers/s",
    )
    axis.axvline(10_000, color="#c0392b", linestyle="--", label="target 10,000/s")
    axis.legend(fontsize=8, loc="lower right")
    wrk = data.get("wrk_requests_per_second")
    if wrk:
        axis.set_title(f"balmon run (wrk on the same nginx: {wrk:,.0f} requests/s)", fontsize=10)


def _backoff(axis: Any, data: dict[str, Any]) -> None:
    backoff = data.get("backoff")
    if not backoff:
        axis.set_visible(False)
        return
    labels = ["clean", "5%+1% faults, real delays", "target: clean + 40 s"]
    values = [
        backoff["clean_wall_seconds"],
        backoff["faulty_wall_seconds"],
        backoff["clean_wall_seconds"] + 40,
    ]
    _bars(axis, labels, values, f"{backoff['customers']:,} customers, 20 ms latency", "seconds")
    hours = backoff["sequential_extrapolated_seconds"] / 3600
    axis.text(
        0.02, -0.25, f"story's sequential algorithm: {hours:,.1f} h", transform=axis.transAxes
    )


def _logging(axis: Any, data: dict[str, Any]) -> None:
    overhead = data.get("logging_overhead")
    if not overhead:
        axis.set_visible(False)
        return
    labels = ["none failing", "10% failing 4 times"]
    values = [overhead["cpu_seconds_none_failing"], overhead["cpu_seconds_10_percent_failing"]]
    _bars(axis, labels, values, f"CPU time, ratio {overhead['ratio_per_customer']:.2f}", "seconds")


def _dashboard(axis: Any, data: dict[str, Any]) -> None:
    worst = {
        key.split("_", 1)[1]: max(p95 for _, p95 in calls.values())
        for key, calls in data.items()
        if key.startswith("dashboard_")
    }
    if not worst:
        axis.set_visible(False)
        return
    _bars(axis, list(worst), list(worst.values()), "dashboard: slowest call's p95", "ms")
    axis.axvline(300, color="#c0392b", linestyle="--", label="target 300 ms")
    axis.legend(fontsize=8, loc="lower right")
