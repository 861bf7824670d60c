"""The database schema. Table and column names are part of balmon's contract.

Migrations in `storage/migrations/versions/` create exactly this (a test compares them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from balmon import limits
from balmon.storage.states import (
    AlarmReason,
    CaseAction,
    ChunkStatus,
    DeliveryStatus,
    RunKind,
    RunStatus,
    Status,
)
from balmon.storage.types import BigId, Money, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
NOW = text("CURRENT_TIMESTAMP")


def _chained(table: str | None = None) -> list[Any]:
    """The hash-chain columns of an audit table (`balmon.audit`): its segment, its position
    in it and its hash; written once, after which the database refuses to change them.

    Attempts and results need no index of their own for them (verify reads a segment through
    its run), which keeps the engine's inserts as cheap as they were; the resolution history,
    whose segments belong to no run, gets one (`table`)."""
    columns: list[Any] = [
        Column("chain_segment", String(40)),
        Column("chain_seq", Integer),
        Column("chain_hash", String(64)),
    ]
    if table is not None:
        columns.append(Index(f"uq_{table}_chain", "chain_segment", "chain_seq", unique=True))
    return columns


def _one_of(column: str, values: type[StrEnum]) -> str:
    """A CHECK listing an enum's values, so the column and the enum cannot drift apart."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


error_codes = Table(
    "error_codes",
    metadata,
    Column("code", String(50), primary_key=True),
    Column("description", String(255), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("suggested_action", Text, nullable=False),
    Column("root_cause", Text, nullable=False),
    Column("retryable", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, server_default=NOW),
    CheckConstraint("severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')", name="severity"),
)

verification_runs = Table(
    "verification_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False),
    Column("kind", String(20), nullable=False, server_default=RunKind.FULL.value),
    Column("parent_run_id", BigId, ForeignKey("verification_runs.id")),
    Column("status", String(12), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("customers_file", Text),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("pass_count", Integer, nullable=False, server_default="0"),
    Column("fail_count", Integer, nullable=False, server_default="0"),
    Column("unavailable_count", Integer, nullable=False, server_default="0"),
    Column("invalid_input_count", Integer, nullable=False, server_default="0"),
    Column("error_count", Integer, nullable=False, server_default="0"),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("lease_host", String(255)),
    Column("lease_pid", Integer),
    Column("heartbeat_at", UTCDateTime),
    Column("reason", Text),
    CheckConstraint(_one_of("status", RunStatus), name="status"),
    CheckConstraint(_one_of("kind", RunKind), name="kind"),
    Index(None, "business_date", "status"),
)

# One row per business date: whoever holds it (host, pid, fresh heartbeat) owns that date's run.
# One row, written by every claim of a date's lease before it looks at the leases: claims are
# made one at a time across the deployment, so no two processes start two dates at once
# (migration 0018).
run_slot = Table(
    "run_slot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("claimed_at", UTCDateTime),
)

run_leases = Table(
    "run_leases",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("run_id", BigId, ForeignKey("verification_runs.id")),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("heartbeat_at", UTCDateTime),
)

# A distributed run's customers, in the chunks its coordinator sent to the Celery workers
# (docs/scale-out.md). The database, not the broker, knows what is done and how often a chunk
# was delivered.
run_chunks = Table(
    "run_chunks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigId, ForeignKey("verification_runs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    # JSON: [[customer_id, min_balance, line], ...], as read and checked by the coordinator.
    Column("customers", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("status", String(12), nullable=False, server_default=ChunkStatus.PENDING.value),
    Column("deliveries", Integer, nullable=False, server_default="0"),
    Column("worker", String(255)),
    Column("sent_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    UniqueConstraint("run_id", "seq"),
    CheckConstraint(_one_of("status", ChunkStatus), name="status"),
)

verification_results = Table(
    "verification_results",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigId, ForeignKey("verification_runs.id"), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("customer_id", String(limits.CUSTOMER_ID), nullable=False),
    Column("status", String(12), nullable=False),
    Column("balance", Money),
    Column("min_balance", Money),
    Column("error_code", String(50), ForeignKey("error_codes.code")),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("checked_at", UTCDateTime, nullable=False),
    # The balance's currency: the bank's answer's, else the customer's expected one; NULL
    # when neither says (and on every row before migration 0020).
    Column("currency", String(3)),
    UniqueConstraint("run_id", "customer_id"),
    CheckConstraint(_one_of("status", Status), name="status"),
    CheckConstraint(
        "(status = 'UNAVAILABLE') = (error_code IS NOT NULL)", name="code_iff_unavailable"
    ),
    *_chained(),
    Index(None, "business_date", "customer_id"),
    Index(None, "business_date", "status"),
    # A customer's history across dates (the case page's 30-date strip).
    Index(None, "customer_id", "business_date"),
)

error_logs = Table(
    "error_logs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigId, ForeignKey("verification_runs.id")),
    Column("business_date", Date),
    Column("customer_id", String(limits.CUSTOMER_ID)),
    Column("error_code", String(50), ForeignKey("error_codes.code"), nullable=False),
    Column("error_message", Text),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("stack_trace", Text),
    Column("source_line", Integer),
    # The attempt's number (its retry_count) on a failed-attempt row; NULL on a row that is
    # not an attempt (INVALID_INPUT at a line of the file). Unique per run and customer, so
    # the database itself refuses to log one attempt twice (migration 0014).
    Column("attempt", Integer),
    Column("logged_at", UTCDateTime, nullable=False, server_default=NOW),
    # The resolution fields: the only ones the database lets change after insert.
    Column("resolved", Boolean, nullable=False, server_default=false()),
    Column("resolution_notes", Text),
    Column("resolved_by", String(100)),
    Column("resolved_at", UTCDateTime),
    Index("idx_error_code", "error_code"),
    Index("idx_logged_at", "logged_at"),
    Index("idx_customer_id", "customer_id"),
    Index(None, "business_date", "error_code"),
    Index("uq_error_logs_attempt", "run_id", "customer_id", "attempt", unique=True),
    # Covers the dashboard's top-customers and hourly-trend queries (no table lookups).
    Index("ix_error_logs_day_customer", "business_date", "customer_id", "logged_at", "error_code"),
    *_chained(),
)

# One customer's problem of one business date: its failed attempts and its bad lines of the
# customer file (INVALID_INPUT; a line without a readable id is its own case, "(line N)"),
# and the customer's latest result of that date. Kept by database triggers on
# error_logs and verification_results, so every writer keeps it, in the same transaction.
cases = Table(
    "cases",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False),
    Column("customer_id", String(limits.CUSTOMER_ID), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("last_code", String(50), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("open_attempts", Integer, nullable=False),
    Column("outcome", String(12)),  # None until the customer's result is written
    Column("final_code", String(50)),  # the UNAVAILABLE result's code; None when recovered
    Column("resolved_by", String(100)),
    Column("resolved_at", UTCDateTime),
    Column("resolution_notes", Text),
    # Ownership (migration 0021): who has it, who said "I'm on it" and when, and how many
    # escalation messages named it and when the last did. Each change is a `case_events` row.
    Column("owner", String(100)),
    Column("acknowledged_by", String(100)),
    Column("acknowledged_at", UTCDateTime),
    Column("escalations", Integer, nullable=False, server_default="0"),
    Column("escalated_at", UTCDateTime),
    UniqueConstraint("business_date", "customer_id"),
    Index(None, "customer_id", "business_date"),
    # Covers the work queue's filters, order and count, and top customers, for a date range
    # without a table lookup per case (a week of 1M attempts: 275 -> 30 ms on SQLite).
    Index(
        "ix_cases_day_cover",
        "business_date",
        "customer_id",
        "final_code",
        "last_code",
        "outcome",
        "open_attempts",
        "attempts",
        "first_seen",
        "last_seen",
    ),
)

# A known issue operators chose not to be alerted about: a customer, a code, or both.
# Never deleted: expiring one records who and when.
silences = Table(
    "silences",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(limits.CUSTOMER_ID)),
    Column("error_code", String(50), ForeignKey("error_codes.code")),
    Column("reason", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("expired_by", String(100)),
    Column("expired_at", UTCDateTime),
    CheckConstraint("customer_id IS NOT NULL OR error_code IS NOT NULL", name="target"),
)

error_log_resolutions = Table(
    "error_log_resolutions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("error_log_id", BigId, ForeignKey("error_logs.id"), nullable=False),
    Column("resolved", Boolean, nullable=False),
    Column("notes", Text),
    Column("actor", String(100)),
    Column("changed_at", UTCDateTime, nullable=False),
    Index(None, "error_log_id"),
    *_chained("error_log_resolutions"),
)

# What people did to a case besides resolving it (acknowledged, assigned, a comment): append-only
# and hash-chained like the resolution history, one segment per transaction (migration 0021).
# No foreign key to `cases`: the history is the audit record, kept as long as the attempts.
case_events = Table(
    "case_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigId, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("customer_id", String(limits.CUSTOMER_ID), nullable=False),
    Column("action", String(20), nullable=False),
    Column("owner", String(100)),
    Column("notes", Text),
    Column("actor", String(100), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("action", CaseAction), name="action"),
    Index(None, "case_id"),
    Index(None, "business_date"),
    *_chained("case_events"),
)

# One seal per finished chain segment, each linked to the one before (`balmon.audit.seals`).
chain_seals = Table(
    "chain_seals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("table_name", String(40), nullable=False),
    Column("segment", String(40), nullable=False),
    Column("run_id", BigId),  # no foreign key: the seal outlives the run's archived rows
    Column("business_date", Date),
    Column("rows", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("sealed_at", UTCDateTime, nullable=False),
    Column("sealed_by", String(100), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("seal_hash", String(64), nullable=False, unique=True),
    UniqueConstraint("table_name", "segment"),
    Index(None, "business_date"),
    Index(None, "run_id"),
)

# The newest seal's hash, in one row whose lock serialises the writers of seals.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seals", Integer, nullable=False),
    Column("head", String(64), nullable=False),
)

# What was done to the audit trail itself: anchors, retention runs, holds. Append-only.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("digest", String(64)),
    Index(None, "action", "at"),
)

# A legal hold: the rows of a customer, of a business date, or of a customer on a date, that
# retention must keep whatever their age. Never deleted; released once, by whom and why.
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(limits.CUSTOMER_ID)),
    Column("business_date", Date),
    Column("reason", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("released_by", String(100)),
    Column("released_at", UTCDateTime),
    Column("release_reason", Text),
    CheckConstraint("customer_id IS NOT NULL OR business_date IS NOT NULL", name="target"),
)

# Open (one row) only inside retention's deleting transaction, which also records what it
# deleted in audit_events: the database's DELETE guards let a row go only while it is open.
retention_gate = Table(
    "retention_gate",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("opened_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("business_date", Date, nullable=False),
    Column("customer_id", String(limits.CUSTOMER_ID), nullable=False),
    Column("error_code", String(50), ForeignKey("error_codes.code"), nullable=False),
    Column("run_id", BigId, ForeignKey("verification_runs.id"), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Column("message_id", BigId, ForeignKey("alert_messages.id")),
    Column("created_at", UTCDateTime, nullable=False),
    # Set instead of message_id when a silence held the alert back: recorded, never sent.
    Column("silence_id", BigId),
    UniqueConstraint("business_date", "customer_id", "error_code"),
    Index(None, "message_id"),
    Index(None, "run_id", "error_code"),
)

alert_messages = Table(
    "alert_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("business_date", Date),
    Column("run_id", BigId, ForeignKey("verification_runs.id")),
    Column("error_code", String(50), ForeignKey("error_codes.code")),
    Column("severity", String(8)),
    Column("customers_count", Integer, nullable=False, server_default="0"),
    Column("title", String(limits.TITLE), nullable=False),
    Column("body", Text, nullable=False),
    Column("short_body", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigId, ForeignKey("alert_messages.id"), nullable=False),
    Column("channel", String(255), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # Leased to the flusher sending it ("host:pid") until then (migration 0017).
    Column("claimed_until", UTCDateTime),
    Column("claimed_by", String(255)),
    CheckConstraint(_one_of("status", DeliveryStatus), name="status"),
    UniqueConstraint("message_id", "channel"),
    Index(None, "status"),
)

run_alarms = Table(
    "run_alarms",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("reason", String(20), primary_key=True),
    Column("detail", Text, nullable=False),
    Column("message_id", BigId, ForeignKey("alert_messages.id")),
    Column("raised_by", String(255), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("reason", AlarmReason), name="reason"),
)

# One morning digest per calendar day (in the schedule's zone): the primary key is the claim,
# so any number of instances send it once (migration 0022).
digests = Table(
    "digests",
    metadata,
    Column("day", Date, primary_key=True),
    Column("message_id", BigId, ForeignKey("alert_messages.id")),
    Column("sent_by", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# A business date's outcomes as its last completed run left them, so the day rules compare a
# date with the twenty before it without counting twenty dates' results (migration 0019).
day_figures = Table(
    "day_figures",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("unavailable", Integer, nullable=False),
    # Balances that arrived (PASS, FAIL, or refused by a rule), and those refused as stale.
    Column("answered", Integer, nullable=False),
    Column("stale", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)

# A date whose data looks wrong as a whole (`balmon.rules.day`): one row, and one message,
# per (date, rule), whichever process completes the date and however often (migration 0019).
quality_alarms = Table(
    "quality_alarms",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("code", String(50), ForeignKey("error_codes.code"), primary_key=True),
    Column("detail", Text, nullable=False),
    Column("run_id", BigId),
    Column("message_id", BigId, ForeignKey("alert_messages.id")),
    # STALE_BALANCE alerts of the date sent in this alarm's message instead of their own.
    Column("folded", Integer, nullable=False, server_default="0"),
    Column("raised_by", String(255), nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
)

scheduler_instances = Table(
    "scheduler_instances",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("last_fired_at", UTCDateTime),
    Column("next_firing_at", UTCDateTime),
    Column("next_business_date", Date),
    Column("stopped_at", UTCDateTime),
)

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(10), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", BigId, ForeignKey("users.id")),
    Column("role", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)
