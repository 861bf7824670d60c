"""Prometheus metrics, computed from the database at scrape time.

Names follow Prometheus conventions: counters end in `_total`, units are in the name,
timestamps are `_timestamp_seconds`. "Latest business date" is the newest date any run
has verified, not the last run to finish (a `--retry-unavailable` of an old date does not
move it). Schedule metrics are computed from this server's `[schedule]`, so a dashboard-only
replica still reports a missing run when no scheduler is alive.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, select

from balmon import __version__
from balmon.alerts import outbox
from balmon.config import Settings
from balmon.dashboard import queries
from balmon.engine import results, state
from balmon.errors.taxonomy import DATE_ALARMS
from balmon.quality import alarms as quality_alarms
from balmon.scaleout import chunks as run_chunks
from balmon.scheduling import Schedule, instances
from balmon.scheduling.alarms import open_alarms, overdue_dates
from balmon.storage.schema import verification_runs
from balmon.triage import timing


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _by(family: GaugeMetricFamily | CounterMetricFamily, rows: Iterable[Any]) -> Metric:
    for key, count in rows:
        family.add_metric([str(key)], float(count))
    return family


def _seconds(moment: datetime | date | None) -> float:
    if moment is None:
        return 0.0
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.timestamp()


class BalmonCollector(Collector):
    def __init__(self, engine: Engine, settings: Settings, now: datetime) -> None:
        self._engine = engine
        self._settings = settings
        self._now = now

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "balmon_build_info", "balmon's version", labels=["version", "python"]
        )
        info.add_metric([__version__, platform.python_version()], 1.0)
        yield info
        with self._engine.connect() as c:
            yield from self._totals(c)
            yield from self._latest_date(c)
            yield from self._alerts(c)
            yield from self._schedule(c)
            yield from self._distributed(c)
            yield from self._quality(c)
            yield from self._cases(c)

    def _totals(self, c: Connection) -> Iterator[Metric]:
        yield _by(
            GaugeMetricFamily("balmon_runs", "Verification runs by status", labels=["status"]),
            state.runs_by_status(c).items(),
        )
        yield _by(
            CounterMetricFamily(
                "balmon_error_logs", "Failed attempts recorded in the error log", labels=["code"]
            ),
            results.errors_by_code(c).items(),
        )
        yield CounterMetricFamily(
            "balmon_retries", "Retries made by all runs", value=state.retries_total(c)
        )
        last = state.last_completed(c)
        yield _gauge(
            "balmon_last_completed_run_timestamp_seconds",
            "When the last completed run finished",
            _seconds(last.finished_at if last else None),
        )
        duration = (last.finished_at - last.started_at).total_seconds() if last else 0.0
        yield _gauge(
            "balmon_last_completed_run_duration_seconds",
            "How long the last completed run took",
            duration,
        )

    def _distributed(self, c: Connection) -> Iterator[Metric]:
        """The chunks of the distributed runs still running: how far each is, per worker."""
        running = list(
            c.scalars(select(verification_runs.c.id).where(verification_runs.c.status == "running"))
        )
        chunk_family = GaugeMetricFamily(
            "balmon_distributed_run_chunks",
            "Chunks of a running distributed run by status",
            labels=["run_id", "status"],
        )
        customer_family = GaugeMetricFamily(
            "balmon_distributed_run_customers",
            "Customers of a running distributed run: in all its chunks, and in finished ones",
            labels=["run_id", "state"],
        )
        worker_family = GaugeMetricFamily(
            "balmon_distributed_run_worker_chunks_done",
            "Chunks of a running distributed run each worker finished",
            labels=["run_id", "worker"],
        )
        for run_id, run in run_chunks.of_runs(c, running).items():
            for status, count in run.by_status.items():
                chunk_family.add_metric([str(run_id), status], count)
            customer_family.add_metric([str(run_id), "total"], run.customers)
            customer_family.add_metric([str(run_id), "done"], run.customers_done)
            for worker, count in run.by_worker.items():
                worker_family.add_metric([str(run_id), worker], count)
        yield from (chunk_family, customer_family, worker_family)

    def _latest_date(self, c: Connection) -> Iterator[Metric]:
        day = queries.latest_date(c)
        yield _gauge(
            "balmon_latest_business_date_timestamp_seconds",
            "The newest business date verified (midnight UTC)",
            _seconds(day),
        )
        done = bool(day and state.completed_dates(c, [day]))
        yield _gauge(
            "balmon_latest_business_date_completed",
            "1 when the newest business date's latest run completed",
            float(done),
        )
        outcomes = results.of_date(c, day) if day else results.Outcomes()
        yield _by(
            GaugeMetricFamily(
                "balmon_latest_business_date_customers",
                "Customers of the newest business date by latest outcome",
                labels=["status"],
            ),
            outcomes.by_status().items(),
        )

    def _alerts(self, c: Connection) -> Iterator[Metric]:
        yield _by(
            GaugeMetricFamily(
                "balmon_alert_deliveries", "Alert deliveries by status", labels=["status"]
            ),
            outbox.delivery_counts(c).items(),
        )
        pending, oldest = outbox.oldest_pending(c)
        yield _gauge("balmon_alerts_pending", "Alert deliveries not yet sent", float(pending))
        age = (self._now - oldest).total_seconds() if oldest else 0.0
        yield _gauge(
            "balmon_alerts_oldest_pending_age_seconds",
            "How long the oldest pending alert delivery has waited",
            age,
        )

    def _schedule(self, c: Connection) -> Iterator[Metric]:
        schedule = Schedule(self._settings.schedule)
        yield _gauge(
            "balmon_schedule_next_firing_timestamp_seconds",
            "When the schedule fires next",
            _seconds(schedule.next_firing(self._now)),
        )
        yield _gauge(
            "balmon_schedule_overdue_business_dates",
            "Due business dates past their deadline with no completed run",
            float(len(overdue_dates(c, schedule, self._now))),
        )
        yield _gauge(
            "balmon_run_alarms_open",
            "Missed or failed business dates alarmed and still not completed",
            float(len(open_alarms(c))),
        )
        beat, fired = instances.latest_running(c)
        yield _gauge(
            "balmon_scheduler_heartbeat_timestamp_seconds",
            "The newest heartbeat of any running scheduler (0: none)",
            _seconds(beat),
        )
        yield _gauge(
            "balmon_scheduler_last_fired_timestamp_seconds",
            "When a running scheduler last fired",
            _seconds(fired),
        )

    def _quality(self, c: Connection) -> Iterator[Metric]:
        raised = quality_alarms.totals(c)
        family = CounterMetricFamily(
            "balmon_quality_alarms",
            "Data-quality alarms raised over whole business dates, by rule",
            labels=["code"],
        )
        # Every day rule, zero included: an alert rule on a missing series never fires.
        yield _by(family, ((code.value, raised.get(code.value, 0)) for code in DATE_ALARMS))
        recent = quality_alarms.recent(c, limit=1)
        yield _gauge(
            "balmon_quality_alarm_last_business_date_timestamp_seconds",
            "The business date of the newest data-quality alarm (0: none)",
            _seconds(recent[0].business_date if recent else None),
        )

    def _cases(self, c: Connection) -> Iterator[Metric]:
        yield _by(
            GaugeMetricFamily(
                "balmon_cases_open", "Open cases by their code's severity", labels=["severity"]
            ),
            timing.open_by_severity(c).items(),
        )
        yield _by(
            GaugeMetricFamily(
                "balmon_cases_open_over_a_day",
                "Open cases whose first failed attempt is more than a day old, by severity",
                labels=["severity"],
            ),
            timing.open_by_severity(c, since=self._now - timedelta(days=1)).items(),
        )
        for name, doc, histogram in (
            (
                "balmon_case_ack_seconds",
                "From a case's first failed attempt to its acknowledgement",
                timing.until_acknowledged(c),
            ),
            (
                "balmon_case_resolve_seconds",
                "From a case's first failed attempt to its resolution",
                timing.until_resolved(c),
            ),
        ):
            buckets = [(f"{bound:g}", float(n)) for bound, n in histogram.buckets]
            buckets.append(("+Inf", float(histogram.count)))
            yield HistogramMetricFamily(name, doc, buckets=buckets, sum_value=histogram.total)


def render(engine: Engine, settings: Settings, now: datetime | None = None) -> bytes:
    registry = CollectorRegistry()
    registry.register(BalmonCollector(engine, settings, now or datetime.now(UTC)))
    return generate_latest(registry)
