"""Prometheus metrics, computed from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from balmon.storage.schema import (
    alert_deliveries,
    error_logs,
    verification_results,
    verification_runs,
)


class BalmonCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._engine.connect() as c:
            yield from self._runs(c)
            yield _by(
                "balmon_errors",
                "Failed attempts in the error log by code",
                "code",
                c.execute(
                    select(error_logs.c.error_code, func.count()).group_by(error_logs.c.error_code)
                ),
            )
            yield _by(
                "balmon_alert_deliveries",
                "Alert deliveries by status (sent, failed, pending)",
                "status",
                c.execute(
                    select(alert_deliveries.c.status, func.count()).group_by(
                        alert_deliveries.c.status
                    )
                ),
            )
            retries = c.scalar(select(func.coalesce(func.sum(verification_runs.c.retry_count), 0)))
            yield GaugeMetricFamily(
                "balmon_retries", "Retries made by all runs", value=float(retries or 0)
            )

    def _runs(self, c: object) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import Connection

        assert isinstance(c, Connection)
        r, v = verification_runs.c, verification_results.c
        yield _by(
            "balmon_runs",
            "Verification runs by status",
            "status",
            c.execute(select(r.status, func.count()).group_by(r.status)),
        )
        last = c.execute(
            select(verification_runs)
            .where(r.status == "completed")
            .order_by(r.finished_at.desc())
            .limit(1)
        ).first()
        customers: Any = (
            c.execute(select(v.status, func.count()).where(v.run_id == last.id).group_by(v.status))
            if last
            else []
        )
        yield _by(
            "balmon_customers", "Customers of the last completed run by status", "status", customers
        )
        finished = last.finished_at.timestamp() if last else 0.0
        duration = (last.finished_at - last.started_at).total_seconds() if last else 0.0
        yield GaugeMetricFamily(
            "balmon_last_completed_run_timestamp_seconds",
            "When the last completed run finished",
            value=finished,
        )
        yield GaugeMetricFamily(
            "balmon_last_run_duration_seconds", "Duration of the last completed run", value=duration
        )


def _by(name: str, doc: str, label: str, rows: object) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, count in rows:  # type: ignore[attr-defined]
        family.add_metric([str(key)], float(count))
    return family


def render(engine: Engine) -> bytes:
    registry = CollectorRegistry()
    registry.register(BalmonCollector(engine))
    return generate_latest(registry)
