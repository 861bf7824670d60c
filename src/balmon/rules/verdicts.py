"""What a verification rule says about one customer's balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from balmon.errors import ErrorCode
from balmon.source.base import Reading
from balmon.storage.states import Status


@dataclass(frozen=True, slots=True)
class Reject:
    """The balance cannot be judged: the attempt fails with `code` (the retry policy decides
    whether to ask again), and the customer ends UNAVAILABLE, never PASS or FAIL."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Flag:
    """The outcome stands, and a person should look: a case opens with `code`."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """PASS or FAIL, with whatever the flagging rules raised."""

    status: Status
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a per-customer rule may look at: the answer, the customer's minimum and
    expected currency, and its balance of the previous business date (None: none known)."""

    reading: Reading
    balance: Decimal  # the reading's balance, known not to be None past the null rule
    min_balance: Decimal
    currency: str | None
    previous: Decimal | None
    stale_before: datetime | None  # an `as_of` earlier than this is stale
