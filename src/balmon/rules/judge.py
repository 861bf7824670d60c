"""The per-customer rules in the order they judge, and the one call the engine makes.

Rejecting rules go first (the first reject wins: the customer has one code), then the
customer's minimum decides PASS or FAIL, then every flagging rule adds its flag. Adding a
rule is one module here, its code in `errors.taxonomy`, its keys in `[quality]` and a
section of docs/data-quality.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from balmon.config import Settings
from balmon.rules import (
    balance_jump,
    currency_mismatch,
    negative_balance,
    null_balance,
    stale_balance,
)
from balmon.rules.verdicts import Facts, Flag, Outcome, Reject
from balmon.source.base import Reading
from balmon.storage.states import Status


def stale_before(settings: Settings, business_date: date) -> datetime:
    """The earliest `as_of` a balance of `business_date` may have."""
    zone = ZoneInfo(settings.schedule.timezone)
    end = datetime.combine(business_date + timedelta(days=1), time(0), zone)
    # In UTC: comparing with a fixed offset is cheaper than asking a zone for its offset.
    return (end - timedelta(hours=settings.quality.stale_after_hours)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Judge:
    """The rules in force for one business date, as `[quality]` configures them."""

    rejecting: tuple[Callable[[Facts], Reject | None], ...]
    flagging: tuple[Callable[[Facts], Flag | None], ...]
    currency: str | None
    stale_before: datetime | None

    @classmethod
    def for_date(cls, settings: Settings, business_date: date) -> Judge:
        quality = settings.quality
        rejecting: list[Callable[[Facts], Reject | None]] = [negative_balance.check]
        if quality.on(currency_mismatch.CODE):
            rejecting.append(currency_mismatch.check)
        stale = quality.on(stale_balance.CODE)
        if stale or quality.require_as_of:
            rejecting.append(partial(stale_balance.check, require_as_of=quality.require_as_of))
        flagging: list[Callable[[Facts], Flag | None]] = []
        if quality.on(balance_jump.CODE):
            factor = Decimal(str(quality.jump_factor))
            jump = partial(balance_jump.check, factor=factor, min_change=quality.jump_min_change)
            flagging.append(jump)
        return cls(
            rejecting=tuple(rejecting),
            flagging=tuple(flagging),
            currency=settings.verification.currency,
            stale_before=stale_before(settings, business_date) if stale else None,
        )

    def __call__(
        self,
        reading: Reading,
        *,
        min_balance: Decimal,
        currency: str | None = None,
        previous: Decimal | None = None,
    ) -> Reject | Outcome:
        """Judge one answer: `currency` is the customer's own (None: the configured one)."""
        balance = reading.balance
        if balance is None:
            rejected = null_balance.check(reading)
            assert rejected is not None
            return rejected
        facts = Facts(
            reading=reading,
            balance=balance,
            min_balance=min_balance,
            currency=currency or self.currency,
            previous=previous,
            stale_before=self.stale_before,
        )
        for rule in self.rejecting:
            if (verdict := rule(facts)) is not None:
                return verdict
        status = Status.PASS if balance >= min_balance else Status.FAIL
        if not self.flagging:
            return Outcome(status)
        flags = [flag for rule in self.flagging if (flag := rule(facts)) is not None]
        return Outcome(status, tuple(flags))
