"""docs/configuration.md, generated from the settings model (`make docs`; a test checks drift).

Types and defaults come from the model; the meaning of each key is written here, and a key
without one fails the drift test.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from balmon.config.settings import Settings

MEANINGS: dict[str, str] = {
    "database.url": "Where results and the error log live: `sqlite:///FILE`, "
    "`postgresql://user@host/db` or `mysql://user@host/db` (MariaDB).",
    "database.connect_timeout_seconds": "Longest wait for a connection to the database server.",
    "database.statement_timeout_seconds": (
        "Longest a statement may run before the server ends it (0: no limit; `db upgrade` has "
        "none). A run whose database stops answering altogether exits 1, with one line, once a "
        "call has waited this long and a minute more."
    ),
    "database.lock_timeout_seconds": (
        "Longest a statement waits for another session's lock (SQLite: for its write lock)."
    ),
    "source.url": "Base URL of the core-banking Balance API. Required by `run` and the scheduler.",
    "source.client": "HTTP client of the Balance API: `reqwest` (Rust, the faster), `aiohttp`, "
    "or `auto`: reqwest, but aiohttp when `ca_file` is set, because only aiohttp can trust a "
    "private CA alone (reqwest adds it to the system's authorities).",
    "engine.executor": "`local` runs on this machine; `celery` sends the customers in chunks "
    "to `balmon worker` processes (PostgreSQL or MariaDB only; see docs/scale-out.md).",
    "celery.broker_url": "Redis (`redis://`) or RabbitMQ (`amqp://`) broker of the distributed "
    "run (default `redis://127.0.0.1:6379/0`); never logged.",
    "celery.queue": "Queue name: several deployments may share one broker.",
    "celery.chunk_size": "Customers per task.",
    "celery.max_deliveries": "A chunk delivered this many times without finishing (it kills its "
    "worker) ends as INTERNAL_ERROR for its unfinished customers.",
    "celery.visibility_timeout_seconds": "The broker redelivers an unacknowledged task after "
    "this long; must exceed a chunk's worst case (checked at start).",
    "celery.parallel_chunks": "Chunks running at once over all workers; the bank's rate limit is "
    "divided by it.",
    "celery.resend_after_seconds": "A chunk no worker claimed for this long is sent again (a "
    "broker restarted without it).",
    "source.token": "Sent as `Authorization: Bearer`; never logged.",
    "source.timeout_seconds": "One deadline per attempt for connect, headers and body "
    "(the story's 30 s).",
    "source.max_requests_per_second": "Cap on requests to the bank, shared by all workers; "
    "unset means no cap.",
    "source.circuit_breaker": "Pause the batch when most recent attempts fail (an outage) "
    "instead of spending every customer's retries.",
    "source.breaker_window": "How many recent attempts the breaker judges.",
    "source.outage_timeout_seconds": "How long an open breaker waits before the rest of the "
    "batch is marked UNAVAILABLE with SOURCE_UNAVAILABLE.",
    "source.balance_path": "Path of one customer's balance, with `{customer_id}`.",
    "source.balance_field": "JSON field holding the balance.",
    "source.customer_id_field": (
        "JSON field that must echo the customer id: missing, null or another id is "
        "INVALID_RESPONSE. Empty: not checked."
    ),
    "source.currency_field": "JSON field holding the balance's currency (read by the "
    "CURRENCY_MISMATCH rule); a value that is not text is INVALID_RESPONSE. Empty: not read.",
    "source.as_of_field": "JSON field holding when the balance was taken, an ISO 8601 "
    "timestamp with its UTC offset (read by STALE_BALANCE); anything else is "
    "INVALID_RESPONSE. Empty: not read.",
    "source.max_body_bytes": "Largest response body accepted (INVALID_RESPONSE above it).",
    "source.ca_file": "PEM file of the authorities that sign the bank's certificate, trusted "
    "instead of the system's (a private CA). Verification cannot be turned off.",
    "source.client_cert_file": "PEM client certificate for mutual TLS (its key too, or "
    "`client_key_file`).",
    "source.client_key_file": "PEM private key of `client_cert_file`, unencrypted.",
    "retry.max_retries": "Retries after the first attempt (the story's 3).",
    "retry.delays_seconds": "Wait before each retry (the story's 5, 10, 20 s); one per retry.",
    "retry.jitter": "`none` waits exactly; `full` waits a random time up to the delay.",
    "engine.concurrency": "Customers fetched at once (in all, over every process).",
    "engine.processes": (
        "Processes that fetch, each with its own event loop and connections (default: one"
        " per core; 1 keeps the run in one process). The run's own process writes every row."
    ),
    "engine.stale_after_seconds": "A run whose owner has not renewed its lease for this long "
    "is taken over by the next `run` or scheduler firing.",
    "engine.heartbeat_seconds": "How often a run renews its lease and a scheduler its "
    "heartbeat (and the scheduler's longest sleep).",
    "engine.commit_interval_seconds": "Results are committed at least this often.",
    "engine.write_batch_size": "Rows per commit at most.",
    "engine.shutdown_grace_seconds": "After SIGTERM or SIGINT the process exits within this "
    "time (143 or 130), whatever it is waiting on.",
    "verification.customers_file": "CSV `customer_id,min_balance[,currency]` read by each run.",
    "verification.currency": "Three-letter currency every balance must be in "
    "(CURRENCY_MISMATCH), unless the file's `currency` column names another for a customer. "
    "Unset: only the column's currencies are checked.",
    "quality.disabled": "Data-quality rules turned off, by code (`STALE_BALANCE`, "
    "`CURRENCY_MISMATCH`, `BALANCE_JUMP`, `STALE_FEED`, `FAIL_SPIKE`, `UNAVAILABLE_SPIKE`).",
    "quality.stale_after_hours": "A balance whose `as_of` is earlier than the end of the "
    "business date minus this many hours is STALE_BALANCE.",
    "quality.require_as_of": "A response without `as_of` is INVALID_RESPONSE (off: not "
    "checked for staleness).",
    "quality.jump_factor": "BALANCE_JUMP when the balance is at least this many times the "
    "previous business date's, or at most its this-many-th (above 1).",
    "quality.jump_min_change": "...and moved by at least this amount (a decimal string), so "
    "small accounts' moves are not flagged.",
    "quality.stale_feed_ratio": "STALE_FEED when at least this share of the date's fetched "
    "balances are STALE_BALANCE.",
    "quality.fail_spike_factor": "FAIL_SPIKE (UNAVAILABLE_SPIKE) when the date's FAIL "
    "(UNAVAILABLE) count is at least this many times the median of the last 20 completed "
    "dates...",
    "quality.fail_spike_min": "...and at least this many above it. Needs 5 earlier dates.",
    "verification.default_min_balance": "Minimum for rows whose `min_balance` is empty.",
    "verification.allow_empty": (
        "Accept a customer file with no customer after its header (a completed run of none). "
        "Off: such a file is refused, exit 2, as an export that came out empty."
    ),
    "escalation.urls": "Apprise URLs of the escalation channel (secrets, never logged). "
    "Empty: no escalation.",
    "escalation.min_severity": "Cases at least this severe escalate (`LOW`, `MEDIUM`, `HIGH`, "
    "`CRITICAL`).",
    "escalation.after_seconds": "An open, unacknowledged case escalates once its first failed "
    "attempt is this old.",
    "escalation.repeat_seconds": "...and again every this long while still open and "
    "unacknowledged.",
    "escalation.routes": "`[[escalation.routes]]` with `code`, `severity` and `urls`: the first "
    "route matching a case receives its escalation instead of `urls`.",
    "digest.at": "`HH:MM` in the schedule's time zone: once a day from then, a digest of the "
    "open cases by severity and owner, the oldest first. Unset: no digest.",
    "digest.urls": "Apprise URLs the digest goes to (secrets, never logged).",
    "alerts.urls": "Apprise URLs (mailto://, slack://, twilio://, json://...); secrets, "
    "never logged.",
    "alerts.group_wait_seconds": "Alerts of one code are grouped into one message for this "
    "long (no alert storms).",
    "alerts.flush_interval_seconds": "How often the scheduler retries pending deliveries.",
    "alerts.max_customers_per_message": "Customers listed in one message; the rest are counted.",
    "alerts.delivery_attempts": "Tries per delivery before it waits for the next flush.",
    "alerts.delivery_backoff_seconds": "First wait between delivery tries (doubles each time).",
    "alerts.dashboard_url": "Dashboard address put in messages as a link.",
    "alerts.summary": "Also send an end-of-run summary message.",
    "alerts.routes": "Severity (or `SUMMARY`) to channel tags, e.g. "
    '`{ CRITICAL = ["sms", "email"] }`; unrouted severities go to every channel.',
    "dashboard.host": "Address `serve` listens on (put a TLS reverse proxy in front).",
    "dashboard.port": "Port `serve` listens on.",
    "dashboard.secret_key": "Deprecated and ignored (sessions live in the database); a "
    "configuration that still sets it loads with a warning.",
    "dashboard.session_idle_minutes": "Idle sessions end after this long.",
    "dashboard.metrics_public": "Serve /metrics without a token (only behind a trusted network).",
    "triage.regression_days": "A case is a regression when the same customer had a resolved "
    "case with the same final code within this many days before.",
    "retention.keep_days": "Days every audit table keeps its rows, by the business date of "
    "their run (7 years by default); at least 90. Older rows are archived, then deleted, by "
    "`balmon retention apply`.",
    "retention.keep_days_by_table": "Per-table limits overriding `keep_days` (at least 90), "
    "for `error_logs`, `verification_results`, `error_log_resolutions`, `alerts` (with their "
    "messages, deliveries and run alarms) and `verification_runs`, e.g. `{ error_logs = 3650 }`."
    " A run stays while anything of it does; an attempt and its resolution history together.",
    "retention.archive_dir": "Where `balmon retention apply` writes its archives (one "
    "directory per application, with its manifest).",
    "retention.auto": "Let the scheduler apply retention once a week.",
    "dashboard.trusted_proxies": "Addresses of the reverse proxies whose X-Forwarded-For and "
    "X-Forwarded-Proto are believed (none by default: the client address is the peer's).",
    "schedule.cron": "When the scheduler fires: 5 fields, or 6 with seconds last.",
    "schedule.timezone": "Time zone of `cron`, `deadline` and business dates (IANA name).",
    "schedule.date_lag_days": "A firing on day D verifies business date D minus this.",
    "schedule.business_days_only": "When true, Saturdays, Sundays and `holidays` are not "
    "business dates and are never run by the scheduler.",
    "schedule.holidays": 'Dates that are not business dates: `["2026-12-25", ...]`.',
    "schedule.catch_up_days": "On start and at each firing, missing dates this many days back "
    "from the newest due one are run, oldest first.",
    "schedule.deadline": '"HH:MM" on the day a date is due by which its run must have '
    "completed; later, a CRITICAL alarm. Unset: no missed-run alarm.",
    "schedule.enabled": "False turns the scheduler off (`serve` is then dashboard-only).",
    "logging.level": "Level of balmon's own lines (DEBUG, INFO, WARNING, ERROR).",
    "logging.file": "Also write JSON lines to this file instead of stderr; reopened when "
    "logrotate moves it.",
}


_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Decimal: "decimal",
    Path: "path",
    SecretStr: "secret string",
    date: "date (YYYY-MM-DD)",
    time: '"HH:MM"',
}


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin in (Union, UnionType):
        named = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (", optional" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if origin is Literal:
        return " or ".join(f'"{a}"' for a in args)
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _type(field: FieldInfo) -> str:
    return _type_name(field.annotation)


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{value}`"


def keys() -> list[tuple[str, FieldInfo]]:
    """Every `section.key` of the settings, in model order."""
    found = []
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        found += [(f"{section}.{key}", field) for key, field in model.model_fields.items()]
    return found


def render_markdown() -> str:
    """The configuration reference as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from balmon's settings model by `make docs`; do not edit by hand.",
        "",
        "One TOML file: `--config FILE`, else `$BALMON_CONFIG`, else `./balmon.toml`, else the",
        "defaults. Any key can be overridden by the environment variable shown (lists and",
        "tables as JSON). Durations are seconds. A bad value or an unknown key prints one line",
        "naming it and exits with code 2.",
    ]
    section = ""
    for name, field in keys():
        head = name.split(".")[0]
        if head != section:
            section = head
            lines += ["", f"## [{section}]", "", "| key | type | default | environment | meaning |"]
            lines.append("|---|---|---|---|---|")
        env = "BALMON_" + name.upper().replace(".", "__")
        meaning = MEANINGS.get(name, "").replace("|", "\\|")
        key = name.split(".")[1]
        lines.append(f"| `{key}` | {_type(field)} | {_default(field)} | `{env}` | {meaning} |")
    return "\n".join(lines) + "\n"
