"""Data quality over a whole business date: when a date's run completes, its figures are
kept and judged against the dates before it (`balmon.rules.day`), and each rule that finds
something raises one alarm for the date."""

from __future__ import annotations

import logging
import os
import socket
from datetime import date

from sqlalchemy import Engine

from balmon.clock import Clock
from balmon.config import Settings
from balmon.errors.taxonomy import DATE_ALARMS
from balmon.quality import alarms, figures
from balmon.rules import Finding, check_day

log = logging.getLogger("balmon.quality")

__all__ = ["DayChecks", "alarms", "figures"]


class DayChecks:
    """What a run does once its date is completed (`engine.run.DayHook`)."""

    def __init__(self, *, engine: Engine, settings: Settings, clock: Clock) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def check(self, business_date: date, run_id: int) -> list[Finding]:
        """Keep the date's figures, judge them and raise what is new; returns the findings."""
        if not any(self._settings.quality.on(code) for code in DATE_ALARMS):
            return []
        now = self._clock.now()
        with self._engine.begin() as connection:
            today = figures.count(connection, business_date)
            figures.keep(connection, today, now)
            before = figures.earlier(connection, business_date, now)
        found = check_day(today, before, self._settings.quality)
        for finding in found:
            with self._engine.begin() as connection:
                raised = alarms.raise_alarm(
                    connection,
                    finding,
                    business_date=business_date,
                    run_id=run_id,
                    settings=self._settings.alerts,
                    raised_by=f"{socket.gethostname()}:{os.getpid()}",
                    now=now,
                )
            if raised:
                log.warning(
                    "data-quality alarm",
                    extra={"error_code": finding.code.value, "reason": finding.detail},
                )
        return found
