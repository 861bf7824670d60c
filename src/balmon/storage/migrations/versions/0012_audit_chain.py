"""Hash chains on the audit tables, chain_seals, chain_head and audit_events (`balmon.audit`).

error_logs, verification_results and error_log_resolutions get chain_segment, chain_seq and
chain_hash, written once: the triggers refuse any later change of them. verification_results
becomes immutable like error_logs; chain_seals and audit_events are append-only. The
resolution history is appended only when a resolution field really changes (stamping an
attempt's hash is not a resolution). Rows written before this migration are hashed here, one
segment per run, table and business date, and sealed by "migration 0012".

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CHAIN = ("chain_segment", "chain_seq", "chain_hash")
ERROR_FROZEN = (
    "id", "run_id", "business_date", "customer_id", "error_code", "error_message",
    "retry_count", "stack_trace", "source_line", "logged_at",
)  # fmt: skip
RESOLUTION = ("resolved", "resolution_notes", "resolved_by", "resolved_at")
HISTORY_FROZEN = ("id", "error_log_id", "resolved", "notes", "actor", "changed_at")
RESULT_FROZEN = (
    "id", "run_id", "business_date", "customer_id", "status", "balance", "min_balance",
    "error_code", "attempts", "checked_at",
)  # fmt: skip
IMMUTABLE = "error_logs is an immutable audit record: only its resolution may change"
RESULT_IMMUTABLE = "verification_results is an immutable audit record"
NO_DELETE = "audit records cannot be deleted outside the retention procedure"
HISTORY_ONLY_APPENDS = "error_log_resolutions is append-only"
APPEND_ONLY = "this audit table is append-only"
HISTORY_INSERT = (
    "INSERT INTO error_log_resolutions (error_log_id, resolved, notes, actor, changed_at) "
    "VALUES (NEW.id, NEW.resolved, NEW.resolution_notes, NEW.resolved_by, "
    "COALESCE(NEW.resolved_at, CURRENT_TIMESTAMP))"
)


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def _sqlite_changed(columns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns) + ")"


def _pg_changed(columns: tuple[str, ...]) -> str:
    new = ", ".join(f"NEW.{c}" for c in columns)
    old = ", ".join(f"OLD.{c}" for c in columns)
    return f"ROW({new}) IS DISTINCT FROM ROW({old})"


def _my_changed(columns: tuple[str, ...]) -> str:
    return "NOT (" + " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in columns) + ")"


def _sqlite() -> list[str]:
    def abort(message: str) -> str:
        return f"SELECT RAISE(ABORT, '{message}')"

    chain_rewritten = f"OLD.chain_hash IS NOT NULL AND {_sqlite_changed(CHAIN)}"
    statements = [
        "DROP TRIGGER error_logs_history",
        f"""CREATE TRIGGER error_logs_history AFTER UPDATE ON error_logs
        WHEN {_sqlite_changed(RESOLUTION)} BEGIN {HISTORY_INSERT}; END""",
        f"""CREATE TRIGGER error_logs_chain_once BEFORE UPDATE ON error_logs
        WHEN {chain_rewritten} BEGIN {abort(IMMUTABLE)}; END""",
        "DROP TRIGGER error_log_resolutions_no_update",
        f"""CREATE TRIGGER error_log_resolutions_no_update BEFORE UPDATE ON error_log_resolutions
        WHEN OLD.chain_hash IS NOT NULL OR {_sqlite_changed(HISTORY_FROZEN)}
        BEGIN {abort(HISTORY_ONLY_APPENDS)}; END""",
        f"""CREATE TRIGGER verification_results_frozen BEFORE UPDATE ON verification_results
        WHEN OLD.chain_hash IS NOT NULL OR {_sqlite_changed(RESULT_FROZEN)}
        BEGIN {abort(RESULT_IMMUTABLE)}; END""",
        f"""CREATE TRIGGER verification_results_no_delete BEFORE DELETE ON verification_results
        BEGIN {abort(NO_DELETE)}; END""",
    ]
    for table in ("chain_seals", "audit_events"):
        for event in ("UPDATE", "DELETE"):
            statements.append(
                f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN {abort(APPEND_ONLY)}; END"""
            )
    return statements


def _postgresql() -> list[str]:
    chain_rewritten = f"OLD.chain_hash IS NOT NULL AND {_pg_changed(CHAIN)}"
    statements = [
        f"""CREATE OR REPLACE FUNCTION balmon_error_logs_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{NO_DELETE}'; END IF;
          IF {_pg_changed(ERROR_FROZEN)} OR {chain_rewritten} THEN
            RAISE EXCEPTION '{IMMUTABLE}';
          END IF;
          IF {_pg_changed(RESOLUTION)} THEN {HISTORY_INSERT}; END IF;
          RETURN NEW;
        END $$""",
        f"""CREATE FUNCTION balmon_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' OR OLD.chain_hash IS NOT NULL OR {_pg_changed(HISTORY_FROZEN)} THEN
            RAISE EXCEPTION '{HISTORY_ONLY_APPENDS}';
          END IF;
          RETURN NEW;
        END $$""",
        f"""CREATE FUNCTION balmon_results_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{NO_DELETE}'; END IF;
          IF OLD.chain_hash IS NOT NULL OR {_pg_changed(RESULT_FROZEN)} THEN
            RAISE EXCEPTION '{RESULT_IMMUTABLE}';
          END IF;
          RETURN NEW;
        END $$""",
        "DROP TRIGGER error_log_resolutions_guard ON error_log_resolutions",
        """CREATE TRIGGER error_log_resolutions_guard
        BEFORE UPDATE OR DELETE ON error_log_resolutions
        FOR EACH ROW EXECUTE FUNCTION balmon_history_guard()""",
        """CREATE TRIGGER verification_results_guard
        BEFORE UPDATE OR DELETE ON verification_results
        FOR EACH ROW EXECUTE FUNCTION balmon_results_guard()""",
        """CREATE TRIGGER verification_results_no_truncate BEFORE TRUNCATE ON verification_results
        FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
    ]
    for table in ("chain_seals", "audit_events"):
        statements += [
            f"""CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION balmon_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
        ]
    return statements


def _mysql() -> list[str]:
    def signal(message: str) -> str:
        return f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'"

    chain_rewritten = f"OLD.chain_hash IS NOT NULL AND {_my_changed(CHAIN)}"
    statements = [
        "DROP TRIGGER error_logs_guard",
        f"""CREATE TRIGGER error_logs_guard BEFORE UPDATE ON error_logs FOR EACH ROW
        BEGIN
          IF {_my_changed(ERROR_FROZEN)} OR ({chain_rewritten}) THEN {signal(IMMUTABLE)}; END IF;
          IF {_my_changed(RESOLUTION)} THEN {HISTORY_INSERT}; END IF;
        END""",
        "DROP TRIGGER error_log_resolutions_no_update",
        f"""CREATE TRIGGER error_log_resolutions_no_update BEFORE UPDATE ON error_log_resolutions
        FOR EACH ROW BEGIN
          IF OLD.chain_hash IS NOT NULL OR {_my_changed(HISTORY_FROZEN)} THEN
            {signal(HISTORY_ONLY_APPENDS)};
          END IF;
        END""",
        f"""CREATE TRIGGER verification_results_frozen BEFORE UPDATE ON verification_results
        FOR EACH ROW BEGIN
          IF OLD.chain_hash IS NOT NULL OR {_my_changed(RESULT_FROZEN)} THEN
            {signal(RESULT_IMMUTABLE)};
          END IF;
        END""",
        f"""CREATE TRIGGER verification_results_no_delete BEFORE DELETE ON verification_results
        FOR EACH ROW {signal(NO_DELETE)}""",
    ]
    for table in ("chain_seals", "audit_events"):
        for event in ("UPDATE", "DELETE"):
            statements.append(
                f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                FOR EACH ROW {signal(APPEND_ONLY)}"""
            )
    return statements


def _chain_columns(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("chain_segment", sa.String(length=40)))
        batch.add_column(sa.Column("chain_seq", sa.Integer()))
        batch.add_column(sa.Column("chain_hash", sa.String(length=64)))
    if table == "error_log_resolutions":  # attempts and results are read through their run
        op.create_index(f"uq_{table}_chain", table, ["chain_segment", "chain_seq"], unique=True)


def upgrade() -> None:
    for table in ("error_logs", "verification_results", "error_log_resolutions"):
        _chain_columns(table)
    op.create_table(
        "chain_seals",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("segment", sa.String(length=40), nullable=False),
        sa.Column("run_id", balmon.storage.types.BigId),
        sa.Column("business_date", sa.Date()),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("sealed_by", sa.String(length=100), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("seal_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_seals")),
        sa.UniqueConstraint("seal_hash", name=op.f("uq_chain_seals_seal_hash")),
        sa.UniqueConstraint(
            "table_name", "segment", name=op.f("uq_chain_seals_table_name_segment")
        ),
    )
    op.create_index("ix_chain_seals_business_date", "chain_seals", ["business_date"])
    op.create_index("ix_chain_seals_run_id", "chain_seals", ["run_id"])
    head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seals", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seals": 0, "head": "0" * 64}])
    op.create_table(
        "audit_events",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column("at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])
    statements = {"sqlite": _sqlite, "postgresql": _postgresql, "mysql": _mysql}[_dialect()]()
    for statement in statements:
        op.execute(statement)
    if not op.get_context().as_sql:  # printed SQL (`db upgrade --sql`) is for empty databases
        _hash_existing_rows(op.get_bind())


def _hash_existing_rows(connection: Any) -> None:
    """Hash and seal the rows written before the chains existed."""
    from balmon.audit.backfill import hash_unchained

    hash_unchained(connection, now=datetime.now(UTC), by="migration 0012")


def downgrade() -> None:
    raise NotImplementedError("0012 adds the audit hash chains; going back would drop them")
