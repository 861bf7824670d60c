"""What a worker does with one job: one attempt, then a result, a retry, or UNAVAILABLE."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from decimal import Decimal

from balmon import crashpoints
from balmon.clock import Clock
from balmon.crashpoints import Point
from balmon.engine.breaker import CircuitBreaker
from balmon.engine.queue import Job, WorkQueue
from balmon.engine.ratelimit import RateLimiter
from balmon.engine.records import (
    AlertRecord,
    ErrorRecord,
    RecordSink,
    ResultRecord,
    trace_of,
)
from balmon.errors import (
    ApiFailure,
    BalanceError,
    ErrorCode,
    InternalFailure,
    Rejected,
    SourceUnavailable,
)
from balmon.money import OutOfRange, storable
from balmon.retry import RetryPolicy
from balmon.rules import Flag, Judge, Reject
from balmon.source import BalanceSource
from balmon.source.base import Reading
from balmon.storage.states import Status

log = logging.getLogger("balmon.engine")

# Codes whose failure has an exception worth keeping for debugging, even without a cause.
_TRACED = frozenset({ErrorCode.INVALID_RESPONSE, ErrorCode.INTERNAL_ERROR})


@dataclass
class Tally:
    """Live counters for the progress display (the database holds the real summary)."""

    done: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    failed_attempts: int = 0
    retries: int = 0
    # What else the progress line says: a distributed run's chunks and workers.
    detail: str = ""

    def finish(self, status: Status) -> None:
        self.done += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


@dataclass
class Worker:
    run_id: int
    source: BalanceSource
    policy: RetryPolicy
    judge: Judge
    breaker: CircuitBreaker
    limiter: RateLimiter
    queue: WorkQueue
    writer: RecordSink
    clock: Clock
    rng: random.Random
    tally: Tally
    outage_seconds: float

    async def run(self) -> None:
        """Take jobs until the queue is finished."""
        while (job := await self.queue.take()) is not None:
            try:
                await self._handle(job)
            except Exception as exc:  # the batch must go on whatever one customer does
                self._give_up(job, InternalFailure(f"unexpected {type(exc).__name__}"), exc)
            finally:
                self.queue.done()

    async def _handle(self, job: Job) -> None:
        if job.abandoned:
            message = f"not attempted: balance API down for {self.outage_seconds:g}s"
            self._give_up(job, SourceUnavailable(message), None, code=ErrorCode.SOURCE_UNAVAILABLE)
            return
        if job.customer.attempts_made and self._already_exhausted(job):
            return
        await self.limiter.acquire()
        crashpoints.reach(Point.BEFORE_REQUEST)
        try:
            reading = await self.source.fetch(job.customer.customer_id)
        except BalanceError as failure:
            self._failed(job, failure)
            crashpoints.reach(Point.AFTER_RESPONSE)
            return
        was_open = self.breaker.is_open
        # The bank answered: whatever the rules make of the answer, it is not an outage.
        self.breaker.record(code=None, now=self.clock.monotonic(), probe=job.probe)
        if was_open and not self.breaker.is_open:
            log.warning("circuit breaker closed", extra={"run_id": self.run_id})
        self._judged(job, reading)
        crashpoints.reach(Point.AFTER_RESPONSE)

    def _judged(self, job: Job, reading: Reading) -> None:
        if reading.balance is not None:
            try:
                reading = replace(reading, balance=storable(reading.balance))  # as stored
            except OutOfRange as exc:
                message = f"balance out of range: {exc}"
                self._failed(job, Rejected(ErrorCode.INVALID_RESPONSE, message))
                return
        customer = job.customer
        verdict = self.judge(
            reading,
            min_balance=customer.min_balance,
            currency=customer.currency,
            previous=customer.previous,
        )
        if isinstance(verdict, Reject):
            self._failed(job, Rejected(verdict.code, verdict.message))
            return
        for flag in verdict.flags:
            self._flagged(job, flag)
        currency = reading.currency or customer.currency or self.judge.currency
        self._result(
            job, verdict.status, reading.balance, None, job.retries_done + 1, currency=currency
        )

    def _flagged(self, job: Job, flag: Flag) -> None:
        """Logged as the attempt's record and alerted; the outcome stands."""
        self.writer.add_error(
            ErrorRecord(
                customer_id=job.customer.customer_id,
                code=flag.code,
                message=flag.message,
                retry_count=job.retries_done,
                logged_at=self.clock.now(),
            )
        )
        self.writer.add_alert(
            AlertRecord(job.customer.customer_id, flag.code, job.retries_done + 1, self.clock.now())
        )
        log.info(
            "balance flagged",
            extra={
                "run_id": self.run_id,
                "customer_id": job.customer.customer_id,
                "error_code": flag.code.value,
            },
        )

    def _already_exhausted(self, job: Job) -> bool:
        """A resumed customer whose logged attempts already used every retry the policy
        allows ends with its last code, without asking the bank again."""
        code = ErrorCode(job.customer.last_code or ErrorCode.INTERNAL_ERROR)
        retries_before = job.retries_done - 1
        more = self.policy.next_delay(
            code=code, retries_done=retries_before, waited=0.0, retry_after=None, rng=self.rng
        )
        if more is not None:
            return False
        self._unavailable(job, code, job.retries_done)
        return True

    def _failed(self, job: Job, failure: BalanceError) -> None:
        if not isinstance(failure, Rejected):  # a rejected answer was recorded as answered
            self._record_failure(job, failure)
        self._log_attempt(job, failure, failure.__cause__ or failure, failure.code)
        retry_after = failure.retry_after if isinstance(failure, ApiFailure) else None
        delay = self.policy.next_delay(
            code=failure.code,
            retries_done=job.retries_done,
            waited=job.waited,
            retry_after=retry_after,
            rng=self.rng,
        )
        if delay is None:
            self._unavailable(job, failure.code, job.retries_done + 1)
            return
        job.retries_done += 1
        job.waited += delay
        job.probe = False
        self.tally.retries += 1
        self.queue.park(job, delay)

    def _record_failure(self, job: Job, failure: BalanceError) -> None:
        was_open = self.breaker.is_open
        self.breaker.record(code=failure.code, now=self.clock.monotonic(), probe=job.probe)
        if self.breaker.is_open and not was_open:
            log.warning(
                "circuit breaker opened",
                extra={"run_id": self.run_id, "error_code": failure.code.value},
            )

    def _give_up(
        self,
        job: Job,
        failure: BalanceError,
        cause: BaseException | None,
        code: ErrorCode = ErrorCode.INTERNAL_ERROR,
    ) -> None:
        self._log_attempt(job, failure, cause, code)
        self._unavailable(job, code, 0 if job.abandoned else job.retries_done + 1)

    def _log_attempt(
        self, job: Job, failure: BalanceError, cause: BaseException | None, code: ErrorCode
    ) -> None:
        trace = None
        if cause is not None and (cause is not failure or code in _TRACED):
            trace = trace_of(cause)
        self.tally.failed_attempts += 1
        record = ErrorRecord(
            customer_id=job.customer.customer_id,
            code=code,
            message=failure.message,
            retry_count=job.retries_done,
            logged_at=self.clock.now(),
            stack_trace=trace,
        )
        self.writer.add_error(record)
        log.info(
            "attempt failed",
            extra={
                "run_id": self.run_id,
                "customer_id": job.customer.customer_id,
                "error_code": code.value,
                "attempt": job.retries_done + 1,
            },
        )

    def _unavailable(self, job: Job, code: ErrorCode, attempts: int) -> None:
        self._result(job, Status.UNAVAILABLE, None, code, attempts)
        self.writer.add_alert(
            AlertRecord(job.customer.customer_id, code, attempts, failed_at=self.clock.now())
        )

    def _result(
        self,
        job: Job,
        status: Status,
        balance: Decimal | None,
        code: ErrorCode | None,
        attempts: int,
        *,
        currency: str | None = None,
    ) -> None:
        self.writer.add_result(
            ResultRecord(
                customer_id=job.customer.customer_id,
                status=status,
                balance=balance,
                min_balance=job.customer.min_balance,
                code=code,
                attempts=attempts,
                checked_at=self.clock.now(),
                currency=currency,
            )
        )
        self.tally.finish(status)
