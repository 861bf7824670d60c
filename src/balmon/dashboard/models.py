"""What the JSON API answers, route by route: the OpenAPI document's response schemas.

Every route declares one of these as its `response_model`, so a response that drifts from
its documented shape is a server error in the tests rather than a surprise for a client
(`extra="forbid"`), and schemathesis checks each answer against the document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from balmon.errors import ErrorCode, Severity
from balmon.scheduling.launcher import LaunchState
from balmon.storage.states import CaseAction, DeliveryStatus, RunKind, RunStatus

Outcome = Literal["PASS", "FAIL", "UNAVAILABLE"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Problem(Model):
    """Any 4xx: a sentence, or (422 on parameters) one entry per value that did not parse."""

    detail: str | list[dict[str, Any]]


_PROBLEMS = {
    401: "Not logged in (no session, token expired or unknown)",
    403: "Logged in without the role this route needs, or a form without its CSRF token",
    404: "No such record",
    409: "The record is not in a state that allows this",
    422: "A parameter or body value that cannot be used",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for these error statuses (all answer a `Problem`)."""
    return {s: {"model": Problem, "description": _PROBLEMS[s]} for s in statuses}


def csv_file(description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry of a CSV download."""
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": description}
    }


# Every API route needs a login and a role, and may refuse a value it cannot use.
EVERY_ROUTE = problems(401, 403, 422)


# --- attempts (error_logs) ---------------------------------------------------------------


class Attempt(Model):
    id: int
    run_id: int | None
    business_date: date | None
    customer_id: str | None
    error_code: ErrorCode
    severity: Severity
    error_message: str | None
    retry_count: int
    logged_at: AwareDatetime
    resolved: bool
    resolution_notes: str | None
    resolved_by: str | None
    resolved_at: AwareDatetime | None
    stack_trace: str | None = Field(None, description="Administrators only")


class AttemptPage(Model):
    items: list[Attempt]
    total: int
    page: int
    page_size: int


class ResolutionEntry(Model):
    resolved: bool
    notes: str | None
    actor: str | None
    at: AwareDatetime


class CaseResolutionEntry(ResolutionEntry):
    attempts: int = Field(description="How many of the case's attempts this change covered")


class CodeInfo(Model):
    description: str
    suggested_action: str
    root_cause: str


class CodeInfoWithRetry(CodeInfo):
    retryable: bool


class AttemptDetail(Attempt):
    attempts: list[Attempt] = Field(description="The customer's other attempts in the run")
    history: list[ResolutionEntry]
    code: CodeInfoWithRetry


class AttemptResolved(Model):
    id: int
    resolved: Literal[True]


class ResolvedCount(Model):
    resolved: int = Field(description="How many records this request resolved")


# --- cases -------------------------------------------------------------------------------


class CaseBase(Model):
    id: int
    business_date: date
    customer_id: str
    outcome: Outcome | None = Field(
        description="The customer's latest result of the date; null while its run has not "
        "decided yet (attempts logged, no result: running, or interrupted before resuming)"
    )
    recovered: bool = Field(description="A retry recovered: the outcome is PASS or FAIL")
    flagged: bool = Field(
        description="The balance arrived and a rule flagged it (BALANCE_JUMP): the PASS or "
        "FAIL stands, and a person should confirm it"
    )
    final_code: ErrorCode | None = Field(description="The UNAVAILABLE outcome's code")
    last_code: ErrorCode = Field(description="The code of the latest failed attempt")
    code: ErrorCode = Field(description="final_code, or last_code when recovered")
    severity: Severity
    attempts: int
    open_attempts: int
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    resolved: bool
    resolved_by: str | None
    resolved_at: AwareDatetime | None
    resolution_notes: str | None
    regression: bool
    silenced: bool
    silenced_by: int | None = Field(description="The silence holding its alerts back")
    owner: str | None = Field(description="The dashboard user it is assigned to")
    acknowledged: bool = Field(description='Someone said "I\'m on it": escalation stops')
    acknowledged_at: AwareDatetime | None
    acknowledged_by: str | None
    escalations: int = Field(description="Escalation messages that named it")


class Case(CaseBase):
    regression_of: int | None = Field(description="The earlier resolved case it repeats")


class CasePage(Model):
    items: list[Case]
    total: int
    page: int
    page_size: int


class PriorCase(Model):
    id: int
    business_date: date
    resolved_by: str | None
    resolved_at: AwareDatetime | None
    resolution_notes: str | None


class CaseAttempt(Model):
    id: int
    run_id: int | None
    logged_at: AwareDatetime
    error_code: ErrorCode
    error_message: str | None
    retry_count: int
    resolved: bool


class CaseDelivery(Model):
    channel: str
    status: DeliveryStatus
    attempts: int


class CaseAlert(Model):
    error_code: ErrorCode
    created_at: AwareDatetime
    message_id: int | None = Field(description="The message that carried it, once grouped")
    silence_id: int | None = Field(description="The silence that held it back")
    deliveries: list[CaseDelivery]


class DateOutcome(Model):
    business_date: date
    outcome: Outcome


class CaseEvent(Model):
    """An acknowledgement, an assignment or a comment: the case's own history."""

    action: CaseAction
    owner: str | None
    notes: str | None
    actor: str
    at: AwareDatetime


class CaseDetail(CaseBase):
    regression_of: PriorCase | None
    attempts_list: list[CaseAttempt]
    history: list[CaseResolutionEntry]
    events: list[CaseEvent]
    code_info: CodeInfo
    alerts: list[CaseAlert]
    dates: list[DateOutcome] = Field(description="The customer's last 30 business dates")


class CaseChanged(Model):
    id: int
    changed: bool = Field(description="False when the case already was so (no new event)")


class ChangedCount(Model):
    changed: int


class CaseResolved(Model):
    id: int
    resolved: Literal[True]
    attempts_resolved: int


# --- the day, trends, customers, runs ----------------------------------------------------


class RunInfo(Model):
    id: int
    kind: RunKind
    status: RunStatus
    reason: str | None
    started: AwareDatetime
    finished: AwareDatetime | None
    duration: float | None = Field(description="Seconds, once finished")
    total: int
    passed: int = Field(alias="pass")
    fail: int
    unavailable: int
    errors: int = Field(description="Failed attempts (fetches that failed)")
    invalid_input: int = Field(description="Lines of the customer file the run could not use")


class Summary(Model):
    date: date
    passed: int = Field(alias="pass")
    fail: int
    unavailable: int
    errors_by_code: dict[str, int]
    unavailable_by_code: dict[str, int]
    run: RunInfo | None = Field(description="The date's latest run")
    runs: int
    alerts_pending: int


class TrendPoint(Model):
    period: str = Field(description="A business date, or a UTC hour as 'YYYY-MM-DD HH:00'")
    code: ErrorCode
    count: int


class Trends(Model):
    granularity: Literal["hour", "day"]
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    periods: list[str]
    colours: dict[str, str]
    items: list[TrendPoint]


class TopCustomer(Model):
    customer_id: str
    days: int
    errors: int
    last_error_at: AwareDatetime
    codes: list[ErrorCode]


class TopCustomers(Model):
    items: list[TopCustomer]


class QualityAlarm(Model):
    """A business date whose data looked wrong as a whole (docs/data-quality.md)."""

    business_date: date
    code: ErrorCode = Field(description="STALE_FEED, FAIL_SPIKE or UNAVAILABLE_SPIKE")
    severity: Severity
    detail: str = Field(description="What the rule found")
    folded: int = Field(description="STALE_BALANCE alerts sent in the alarm's one message")
    raised_at: AwareDatetime
    message_id: int | None = Field(description="The alarm's message (Alerts page)")


class QualityAlarms(Model):
    items: list[QualityAlarm]


class RunChunks(Model):
    """A distributed run's chunks (`engine.executor = "celery"`)."""

    chunks: int
    by_status: dict[str, int]
    customers: int
    customers_done: int
    by_worker: dict[str, int]


class Run(RunInfo):
    business_date: date
    parent_run_id: int | None
    chunks: RunChunks | None = None


class Runs(Model):
    items: list[Run]
    total: int
    page: int
    page_size: int


class Launched(Model):
    date: date
    state: LaunchState
    run_id: int | None
    reason: str | None
    message: str


# --- FAIL list, silences, alerts ---------------------------------------------------------


class Fail(Model):
    customer_id: str
    balance: Decimal
    min_balance: Decimal
    shortfall: Decimal
    currency: str | None = Field(description="The amounts' currency; null when nothing said it")
    checked_at: AwareDatetime
    run_id: int


class Fails(Model):
    date: date
    items: list[Fail]
    total: int


class Silence(Model):
    id: int
    customer_id: str | None
    error_code: ErrorCode | None
    reason: str
    created_by: str
    created_at: AwareDatetime
    expires_at: AwareDatetime | None
    expired_by: str | None
    expired_at: AwareDatetime | None
    active: bool


class Silences(Model):
    items: list[Silence]


class Created(Model):
    id: int


class Expired(Model):
    id: int
    expired: Literal[True]


class Delivery(Model):
    channel: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: AwareDatetime | None
    updated_at: AwareDatetime


class AlertAbout(Model):
    customer_id: str
    business_date: date


class Message(Model):
    id: int
    kind: Literal["group", "summary", "alarm", "test", "escalation", "digest"]
    created_at: AwareDatetime
    business_date: date | None
    run_id: int | None
    error_code: ErrorCode | None
    severity: Severity | None
    customers: int
    title: str
    body: str
    about: list[AlertAbout]
    deliveries: list[Delivery]


class Messages(Model):
    items: list[Message]
    total: int
    page: int
    page_size: int
