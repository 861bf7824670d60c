"""balmon's Celery app: the settings that make a chunk survive its worker and its broker.

- Late acknowledgement, and a task whose worker process dies is rejected back to the queue
  (`task_reject_on_worker_lost`): a chunk is acknowledged only once it is finished.
- One task at a time per worker process (`worker_prefetch_multiplier` 1): a worker that dies
  takes no waiting chunks with it.
- The broker's visibility timeout (Redis) is `celery.visibility_timeout_seconds`, checked
  at start against a chunk's worst case (`worst_case_seconds`)."""

from __future__ import annotations

import math
from typing import Any

from celery import Celery

from balmon.config import Settings
from balmon.errors import ConfigError

TASK = "balmon.verify_chunk"


def make_app(settings: Settings) -> Celery:
    celery = settings.celery
    app = Celery("balmon", set_as_current=False)
    app.conf.update(
        broker_url=celery.broker_url.get_secret_value(),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": celery.visibility_timeout_seconds},
        task_default_queue=celery.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A failed task is acknowledged (its worker gave the chunk back, `chunks.release`);
        # one whose worker died is not (`task_reject_on_worker_lost`).
        task_acks_on_failure=True,
        task_acks_on_timeout=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


def worst_case_seconds(settings: Settings) -> float:
    """How long one chunk can take at worst: its customers go through the worker's slots
    in waves, each customer of a wave using every attempt to its deadline and waiting every
    retry delay, and the circuit breaker may hold the batch for one outage timeout. (A rate
    limit slower than that pace is not counted: set the visibility timeout with it in mind.)"""
    engine, retry, source = settings.engine, settings.retry, settings.source
    waves = math.ceil(settings.celery.chunk_size / engine.concurrency)
    attempts = retry.max_retries + 1
    delays = sum(retry.delays_seconds[: retry.max_retries])
    per_wave = source.timeout_seconds * attempts + delays
    return waves * per_wave + source.outage_timeout_seconds


def check(settings: Settings) -> None:
    """Refuse, in one line, a distributed run that cannot be safe."""
    if settings.database.url.startswith("sqlite"):
        raise ConfigError(
            "engine.executor",
            "celery needs PostgreSQL or MariaDB: workers on other machines cannot share "
            "a SQLite file",
        )
    worst = worst_case_seconds(settings)
    timeout = settings.celery.visibility_timeout_seconds
    if timeout <= worst:
        raise ConfigError(
            "celery.visibility_timeout_seconds",
            f"{timeout:g}s is not longer than a chunk's worst case ({worst:g}s): the broker "
            "would deliver a chunk again while it still runs; raise it or lower "
            "celery.chunk_size",
        )


def register(app: Celery, settings: Settings) -> None:
    """Give a worker's app the chunk task, bound to this worker's settings."""
    from balmon.scaleout.task import verify_chunk

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def verify(run_id: int, seq: int, business_date: str, owner: list[Any]) -> str:
        return verify_chunk(settings, run_id, seq, business_date, (str(owner[0]), int(owner[1])))
