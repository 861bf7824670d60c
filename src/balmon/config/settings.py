"""The one settings object: every section of balmon's configuration, validated once.

Values come from (highest priority first): environment variables `BALMON_<SECTION>__<KEY>`,
the TOML file, then these defaults. Durations are float seconds; money is `Decimal`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FilePath,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from balmon.errors.taxonomy import ErrorCode
from balmon.money import OutOfRange, storable

# Durations are finite and at most a day: `inf` (which TOML and pydantic accept as a float)
# would let a run wait forever.
DAY_SECONDS = 86_400.0
Seconds = Annotated[float, Field(gt=0, le=DAY_SECONDS, allow_inf_nan=False)]
Wait = Annotated[float, Field(ge=0, le=DAY_SECONDS, allow_inf_nan=False)]
Rate = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _clock_time(value: object) -> object:
    """`HH:MM` as people write it in a TOML file or an environment variable."""
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%H:%M").time()
        except ValueError:
            raise ValueError(f"expected HH:MM, got {value!r}") from None
    return value


def _amount(value: Decimal) -> Decimal:
    """An amount as balmon stores it, never negative (no balance is)."""
    try:
        value = storable(value)
    except OutOfRange as exc:
        raise ValueError(f"must be an amount balmon can store: {exc}") from None
    if value < 0:
        raise ValueError("must not be negative (no balance is)")
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Amount = Annotated[Decimal, AfterValidator(_amount)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///balmon.db"
    connect_timeout_seconds: Seconds = 10.0
    # 0: no limit. The server ends a statement past it; a run whose database stops answering
    # altogether (a frozen server ends nothing) exits 1 once a call has waited this long plus
    # a minute (`storage.watch`).
    statement_timeout_seconds: Wait = 300.0
    lock_timeout_seconds: Seconds = 10.0


class SourceSettings(Section):
    url: str | None = None
    # Which HTTP client makes the requests; both keep the same contract (tests/source runs
    # every test against each) and docs/benchmarks.md measures them side by side. "auto" is
    # reqwest, the faster, unless ca_file is set: reqwest adds a private CA to the system's
    # authorities, aiohttp trusts that CA alone.
    client: Literal["auto", "reqwest", "aiohttp"] = "auto"
    token: SecretStr | None = None
    timeout_seconds: Seconds = 30.0
    max_requests_per_second: Rate | None = None
    circuit_breaker: bool = True
    breaker_window: PositiveInt = 100
    outage_timeout_seconds: Seconds = 300.0
    # Other banks name things differently; the defaults are the documented Balance API.
    balance_path: str = "/customers/{customer_id}/balance"
    balance_field: str = "balance"
    customer_id_field: str = "customer_id"
    # What the data-quality rules read (`balmon.rules`); an empty name: not read.
    currency_field: str = "currency"
    as_of_field: str = "as_of"
    max_body_bytes: PositiveInt = 1024 * 1024
    # TLS: a bank's private certificate authority, and a client certificate for mutual TLS.
    # There is deliberately no way to turn verification off.
    ca_file: FilePath | None = None
    client_cert_file: FilePath | None = None
    client_key_file: FilePath | None = None

    @model_validator(mode="after")
    def _client_cert_with_its_key(self) -> SourceSettings:
        if self.client_key_file is not None and self.client_cert_file is None:
            raise ValueError("client_key_file is set without client_cert_file")
        return self

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("balance_path")
    @classmethod
    def _has_placeholder(cls, value: str) -> str:
        if "{customer_id}" not in value:
            raise ValueError("must contain {customer_id}")
        return value


class RetrySettings(Section):
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    delays_seconds: list[Wait] = Field(default_factory=lambda: [5.0, 10.0, 20.0])
    jitter: Literal["none", "full"] = "none"

    @model_validator(mode="after")
    def _enough_delays(self) -> RetrySettings:
        if len(self.delays_seconds) < self.max_retries:
            raise ValueError(
                f"delays_seconds needs one delay per retry ({self.max_retries}), "
                f"got {len(self.delays_seconds)}"
            )
        return self


class EngineSettings(Section):
    concurrency: Annotated[int, Field(ge=1, le=10_000)] = 100
    # None: one per core this process may use (1 on a single core).
    processes: Annotated[int, Field(ge=1, le=64)] | None = None
    stale_after_seconds: Seconds = 60.0
    heartbeat_seconds: Seconds = 5.0
    commit_interval_seconds: Seconds = 1.0
    write_batch_size: PositiveInt = 2000
    shutdown_grace_seconds: Seconds = 20.0
    # "celery": the run's customers go to `balmon worker` processes on other machines in
    # chunks ([celery]); "local": this machine's processes (`processes`).
    executor: Literal["local", "celery"] = "local"


class CelerySettings(Section):
    broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Several deployments may share one broker, each on its own queue.
    queue: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")] = (
        "balmon"
    )
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    max_deliveries: Annotated[int, Field(ge=1, le=20)] = 3
    # How long the broker waits for a task's acknowledgement before it delivers the task
    # again (Redis's visibility timeout); checked against a chunk's worst case at start.
    visibility_timeout_seconds: Seconds = 3600.0
    # How many chunks run at once over all workers: the bank's rate limit is divided by it.
    parallel_chunks: Annotated[int, Field(ge=1, le=10_000)] = 2
    # A chunk whose worker has been silent this long is sent again (the broker would hold it
    # until its visibility timeout), and so is one no worker claimed this long once the
    # queue is empty (a broker that restarted without it).
    resend_after_seconds: Seconds = 60.0


# An ISO 4217 code as banks write it: three letters ("usd" is read as "USD").
CURRENCY = re.compile(r"[A-Za-z]{3}")


def currency_code(value: str) -> str:
    """`value` as an upper-case three-letter currency code; ValueError when it is not one."""
    text = value.strip()
    if not CURRENCY.fullmatch(text):
        raise ValueError(f"a currency is three letters (ISO 4217, e.g. USD), got {value!r}")
    return text.upper()


class VerificationSettings(Section):
    customers_file: Path | None = None
    default_min_balance: Amount = Decimal("0")
    allow_empty: bool = False
    # The currency every balance must be in, unless the customer file's currency column says
    # otherwise for a customer. None: no currency check but the file's.
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return None if value is None else currency_code(value)


# The rules `quality.disabled` may turn off: the story's own codes (NULL_BALANCE,
# NEGATIVE_BALANCE) always apply.
QualityRule = Literal[
    "STALE_BALANCE",
    "CURRENCY_MISMATCH",
    "BALANCE_JUMP",
    "STALE_FEED",
    "FAIL_SPIKE",
    "UNAVAILABLE_SPIKE",
]


class QualitySettings(Section):
    """The data-quality rules (`balmon.rules`, docs/data-quality.md)."""

    disabled: list[QualityRule] = Field(default_factory=list)
    stale_after_hours: Annotated[float, Field(gt=0, le=24 * 366, allow_inf_nan=False)] = 36.0
    require_as_of: bool = False
    jump_factor: Annotated[float, Field(gt=1, le=1e9, allow_inf_nan=False)] = 10.0
    jump_min_change: Amount = Decimal("10000")
    stale_feed_ratio: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.5
    fail_spike_factor: Annotated[float, Field(gt=1, le=1e6, allow_inf_nan=False)] = 3.0
    fail_spike_min: Annotated[int, Field(ge=0, le=1_000_000_000)] = 20

    @field_validator("jump_min_change", mode="before")
    @classmethod
    def _decimal_text(cls, value: object) -> object:
        # A float (10000.1) would carry binary noise into a money comparison.
        if isinstance(value, float):
            raise ValueError('write it as a decimal string, e.g. "10000"')
        return value

    def on(self, rule: str) -> bool:
        """Whether `rule` (its code) is checked."""
        return rule not in self.disabled


class AlertSettings(Section):
    urls: list[SecretStr] = Field(default_factory=list)
    group_wait_seconds: Wait = 30.0
    flush_interval_seconds: Seconds = 60.0
    max_customers_per_message: PositiveInt = 50
    delivery_attempts: PositiveInt = 3
    delivery_backoff_seconds: Wait = 1.0
    dashboard_url: str | None = None
    summary: bool = False
    routes: dict[str, list[str]] = Field(default_factory=dict)


SeverityName = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]


class EscalationRoute(Section):
    """Where the escalation of matching cases goes instead of `escalation.urls`."""

    code: str | None = None
    severity: SeverityName | None = None
    urls: list[SecretStr] = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str | None) -> str | None:
        if value is not None and value not in ErrorCode.__members__:
            raise ValueError(f"no such error code: {value!r} (see `balmon codes`)")
        return value


class EscalationSettings(Section):
    """Open cases nobody acknowledged, sent again and again until someone does (issue 24)."""

    urls: list[SecretStr] = Field(default_factory=list)
    min_severity: SeverityName = "HIGH"
    after_seconds: Wait = 7200.0
    repeat_seconds: Seconds = 14400.0
    routes: list[EscalationRoute] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.urls or self.routes)


class DigestSettings(Section):
    """A morning digest of the open cases, once a day (issue 24)."""

    at: ClockTime | None = None  # in the schedule's time zone; None: no digest
    urls: list[SecretStr] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.at is not None and bool(self.urls)


class DashboardSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    # Deprecated: sessions live in the database; kept so old configuration files still load.
    secret_key: SecretStr | None = None
    session_idle_minutes: PositiveInt = 30
    metrics_public: bool = False
    trusted_proxies: list[str] = Field(default_factory=list)


class ScheduleSettings(Section):
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    date_lag_days: Annotated[int, Field(ge=0, le=31)] = 1
    business_days_only: bool = False
    holidays: list[date] = Field(default_factory=list)
    catch_up_days: Annotated[int, Field(ge=0, le=31)] = 3
    deadline: ClockTime | None = None
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) not in (5, 6) or not croniter.is_valid(value):
            raise ValueError(
                f"not a valid cron expression (5 fields, or 6 with seconds last): {value!r}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r}") from None
        return value

    def today(self, now: datetime) -> date:
        """The calendar date `now` falls on in the schedule's time zone."""
        return now.astimezone(ZoneInfo(self.timezone)).date()


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class TriageSettings(Section):
    regression_days: Annotated[int, Field(ge=1, le=366)] = 30


# PCI DSS 10.5.1 keeps audit logs at least a year, three months at hand; below 90 days a
# typo (keep_days = 7) would archive and delete almost everything on the next run.
MIN_KEEP_DAYS = 90
KeepDays = Annotated[int, Field(ge=MIN_KEEP_DAYS, le=36_600)]


class RetentionSettings(Section):
    keep_days: KeepDays = 2557
    keep_days_by_table: dict[
        Literal[
            "error_logs",
            "verification_results",
            "error_log_resolutions",
            "alerts",
            "verification_runs",
        ],
        KeepDays,
    ] = Field(default_factory=dict)
    archive_dir: Path = Path("archive")
    auto: bool = False

    def keep(self, table: str) -> int:
        """Days `table`'s rows are kept, as configured."""
        for name, days in self.keep_days_by_table.items():
            if name == table:
                return days
        return self.keep_days


class Settings(BaseSettings):
    """All of balmon's configuration. Build it with `balmon.config.load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="BALMON_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    source: SourceSettings = SourceSettings()
    retry: RetrySettings = RetrySettings()
    engine: EngineSettings = EngineSettings()
    celery: CelerySettings = CelerySettings()
    verification: VerificationSettings = VerificationSettings()
    quality: QualitySettings = QualitySettings()
    alerts: AlertSettings = AlertSettings()
    escalation: EscalationSettings = EscalationSettings()
    digest: DigestSettings = DigestSettings()
    dashboard: DashboardSettings = DashboardSettings()
    triage: TriageSettings = TriageSettings()
    retention: RetentionSettings = RetentionSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    logging: LoggingSettings = LoggingSettings()
