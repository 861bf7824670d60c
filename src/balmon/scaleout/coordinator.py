"""The coordinator of a distributed run: it chunks the checked customers into the database,
sends one Celery task per chunk, and watches the database until every chunk has ended.

It takes the place of the local fetchers in `VerificationRun` (same `run` signature), so the
lease, the file's INVALID_INPUT rows, the heartbeat, the progress display, the alerts and
the run's completion are the local run's own. The broker is a delivery mechanism only: a chunk
it lost (a restart without persistence) is sent again once nobody has heard of it for
`celery.resend_after_seconds`; a second delivery of a chunk in progress waits for it
(`chunks.claim`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy import Engine

from balmon import audit
from balmon.audit.seals import unsealed_segments_of_run
from balmon.clock import Clock, SystemClock
from balmon.config import Settings
from balmon.engine.customers import Customer
from balmon.engine.lease import Owner
from balmon.engine.records import RecordSink
from balmon.engine.worker import Tally
from balmon.engine.writer import BatchWriter
from balmon.scaleout import chunks
from balmon.scaleout.app import TASK, check, make_app

log = logging.getLogger("balmon.scaleout")


class CeleryExecutor:
    """Runs a business date's customers on `balmon worker` processes through Celery."""

    # The coordinator chunks every accepted customer of the file, done or not, so a resumed
    # coordinator numbers the chunks as the first one did; workers skip what is done.
    skips_done = False

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        owner: Owner | None = None,
        app: Celery | None = None,
        clock: Clock | None = None,
    ) -> None:
        check(settings)
        self._settings = settings
        self._engine = engine
        self._owner = owner or Owner.me()
        self._app = app or make_app(settings)
        self._clock = clock or SystemClock()

    async def run(
        self,
        *,
        run_id: int,
        business_date: str,
        customers: Iterator[Customer],
        sink: RecordSink,
        tally: Tally,
    ) -> None:
        """Until every chunk of the run is done (or poisoned)."""
        await asyncio.to_thread(self._record_and_send, run_id, business_date, customers)
        while True:
            progress = await asyncio.to_thread(chunks.progress, self._engine, run_id)
            # Counted by finished chunks: a count of the results would scan a growing index
            # every second.
            tally.done = progress.customers_done
            tally.detail = (
                f"chunks {progress.finished:,}/{progress.chunks:,}"
                f"  workers {len(progress.by_worker)}"
            )
            if progress.complete:
                break
            await asyncio.to_thread(self._send_quiet, run_id, business_date)
            # Watched every second (one small query): the run ends soon after its last chunk.
            await asyncio.sleep(min(1.0, self._settings.engine.heartbeat_seconds))
        if progress.poisoned:
            log.error("chunks poisoned", extra={"run_id": run_id, "chunks": progress.poisoned})
        await asyncio.to_thread(self._seal_dead_workers, run_id, sink)
        log.info(
            "distributed run finished",
            extra={"run_id": run_id, "chunks": progress.chunks, "by_worker": progress.by_worker},
        )

    def _record_and_send(self, run_id: int, day: str, customers: Iterator[Customer]) -> None:
        size = self._settings.celery.chunk_size
        count = chunks.record(self._engine, run_id, customers, size)
        log.info("chunks recorded", extra={"run_id": run_id, "chunks": count})
        self._send_quiet(run_id, day, announce=False)

    def _send_quiet(self, run_id: int, day: str, *, announce: bool = True) -> None:
        """Send the chunks never sent, and those nobody has heard of for a while."""
        quiet = chunks.to_send(
            self._engine,
            run_id,
            now=self._clock.now(),
            quiet_for=self._settings.celery.resend_after_seconds,
            queue_empty=self._queue_empty(),
        )
        if quiet and announce:
            log.warning("chunks sent again", extra={"run_id": run_id, "chunks": len(quiet)})
        try:
            self._send(run_id, day, quiet)
        except (KombuError, OSError) as exc:
            # The broker is down (a restart): the run waits for it, and sends these again
            # on a later watch (a chunk sent twice is done once).
            log.warning("broker unreachable: %s", type(exc).__name__, extra={"run_id": run_id})

    def _queue_empty(self) -> bool:
        """Whether the broker's queue holds no task (a queue it does not know is empty)."""
        try:
            with self._app.connection_for_write() as connection:
                declared = connection.default_channel.queue_declare(
                    queue=self._settings.celery.queue, passive=True
                )
                return int(declared.message_count) == 0
        except Exception:  # an unknown queue, a broker down: nothing to count
            return True

    def _send(self, run_id: int, day: str, seqs: list[int]) -> None:
        if not seqs:
            return
        owner = [self._owner.host, self._owner.pid]
        queue = self._settings.celery.queue
        with self._app.producer_or_acquire() as producer:
            for seq in seqs:
                self._app.send_task(
                    TASK, args=[run_id, seq, day, owner], queue=queue, producer=producer
                )
        chunks.mark_sent(self._engine, run_id, seqs, self._clock.now())

    def _seal_dead_workers(self, run_id: int, sink: RecordSink) -> None:
        """Seal the chain segments of worker sessions that died mid-chunk (their rows are
        kept; the chunk's next delivery wrote the rest), leaving the coordinator's own
        segments to the run's close."""
        own = set(sink.segment_names()) if isinstance(sink, BatchWriter) else set()
        with self._engine.begin() as connection:
            for segment in unsealed_segments_of_run(connection, run_id):
                if segment.segment not in own:
                    audit.seal(connection, segment, by="coordinator", now=self._clock.now())
