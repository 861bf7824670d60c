"""balmon's one exception hierarchy.

    BalmonError
    ├── ConfigError                 bad configuration: one line naming the key, exit 2
    │   └── CustomerFileError       the customer file as a whole is unusable
    ├── StorageError                the database is unreachable or refused a write
    │   └── LeaseLost               another process took this run over: it moved, not failed
    ├── RunRefused                  another live process owns this date's run, or another date's
    │   └── RunStuck                a session on the database server holds the claim's locks
    ├── FetcherLost                 a fetcher process of a run died; the run stops (resumable)
    ├── RetentionError              retention refused, or found its archive wrong: nothing deleted
    ├── GroupTaken                  another process grouped these alerts first (rolls back)
    ├── DeliveryError               one alert message could not reach one channel
    ├── UserError                   a user or token request that cannot be done
    ├── LoginRequired               a dashboard page needs a login (redirects to /login)
    └── BalanceError                one attempt to get one customer's balance failed
        ├── TimeoutFailure          TIMEOUT
        ├── NetworkFailure          NETWORK_ERROR
        ├── ApiFailure              API_ERROR (carries status and Retry-After)
        ├── MissingData             MISSING_DATA
        ├── InvalidResponse         INVALID_RESPONSE
        ├── Rejected                a verification rule's code (NULL_BALANCE, STALE_BALANCE, ...)
        ├── SourceUnavailable       SOURCE_UNAVAILABLE
        └── InternalFailure         INTERNAL_ERROR (a bug met while handling one customer)

Every `BalanceError` carries its `ErrorCode`. Lower-level exceptions (aiohttp, the JSON
parser, the DB driver) are translated at one boundary with `raise ... from exc`, so the
original stays on `__cause__` for the stack trace written to the error log.
Messages are short and never contain balances, response bodies or secrets; a longer one is
cut to `limits.MESSAGE` with a visible "...".
"""

from __future__ import annotations

from balmon import limits
from balmon.errors.taxonomy import ErrorCode


class BalmonError(Exception):
    """Base of every error balmon raises on purpose."""


class ConfigError(BalmonError):
    """A configuration value is missing or invalid; `key` names it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class CustomerFileError(ConfigError):
    """The customer file is missing, unreadable or has no customer_id column."""

    def __init__(self, problem: str) -> None:
        super().__init__("verification.customers_file", problem)


class StorageError(BalmonError):
    """The database could not be reached or refused an operation."""


class LeaseLost(StorageError):
    """Another process took over the lease of the run this process was running: the run goes
    on there, so this process stops without calling it failed."""


class RunRefused(BalmonError):
    """Another live process holds the lease on this business date's run, or runs another date
    (one date at a time per deployment)."""


class RunStuck(RunRefused):
    """The claim waited its limit for locks a session on the database server holds (a dead
    owner's transaction left open): refused, and worth a warning, since only a person ends it."""


class FetcherLost(BalmonError):
    """A fetcher process of a run on several cores died; the run stops (its next start
    resumes it)."""


class RetentionError(BalmonError):
    """Retention refused to run, or found its own archive wrong: nothing was deleted."""


class GroupTaken(BalmonError):
    """Another process grouped some of these alerts first; this transaction rolls back."""


class DeliveryError(BalmonError):
    """A channel did not accept a message; the text is redacted, so safe to store."""


class UserError(BalmonError):
    """A user-management request that cannot be done (shown to the admin as is)."""


class LoginRequired(BalmonError):
    """A dashboard page needs a login: its handler redirects to /login."""


class BalanceError(BalmonError):
    """One attempt at one customer's balance failed with `code`."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        message = limits.clip(message, limits.MESSAGE)
        super().__init__(message)
        self.message = message


class TimeoutFailure(BalanceError):
    code = ErrorCode.TIMEOUT


class NetworkFailure(BalanceError):
    code = ErrorCode.NETWORK_ERROR


class ApiFailure(BalanceError):
    code = ErrorCode.API_ERROR

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class MissingData(BalanceError):
    code = ErrorCode.MISSING_DATA


class InvalidResponse(BalanceError):
    code = ErrorCode.INVALID_RESPONSE


class Rejected(BalanceError):
    """A balance arrived and a verification rule refused it (`balmon.rules`): the attempt
    failed with the rule's code, and the retry policy decides as for any other code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class SourceUnavailable(BalanceError):
    code = ErrorCode.SOURCE_UNAVAILABLE


class InternalFailure(BalanceError):
    code = ErrorCode.INTERNAL_ERROR
