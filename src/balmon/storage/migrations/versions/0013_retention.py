"""Retention's one deletion path, and legal holds (`balmon.retention`).

Audit rows (attempts, their history, results) and the records that point at them (runs,
alerts, alert messages and deliveries, run alarms) may be deleted only while a row exists in
`retention_gate`: retention opens it, deletes what it archived, records what it did in
`audit_events`, and closes it, all in one transaction, so no other session ever sees it
open. Any other DELETE is refused by the database. Legal holds are never deleted; a hold's
fields never change, except that it can be released once.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NO_DELETE = "audit records cannot be deleted outside the retention procedure"
HOLD_FROZEN = "a legal hold cannot be changed or deleted, only released once"
# The tables whose DELETE triggers already exist (migrations 0002 and 0012) ...
GUARDED_BEFORE = ("error_logs", "error_log_resolutions", "verification_results")
# ... and the ones that get one now.
GUARDED_NOW = (
    "verification_runs", "alerts", "alert_messages", "alert_deliveries", "run_alarms",
)  # fmt: skip
HOLD_FIELDS = ("id", "customer_id", "business_date", "reason", "created_by", "created_at")
GATE_OPEN = "EXISTS (SELECT 1 FROM retention_gate)"


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def _sqlite() -> list[str]:
    statements = [f"DROP TRIGGER {table}_no_delete" for table in GUARDED_BEFORE]
    for table in GUARDED_BEFORE + GUARDED_NOW:
        statements.append(
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            WHEN NOT {GATE_OPEN} BEGIN SELECT RAISE(ABORT, '{NO_DELETE}'); END"""
        )
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in HOLD_FIELDS)
    statements += [
        f"""CREATE TRIGGER legal_holds_frozen BEFORE UPDATE ON legal_holds
        WHEN OLD.released_at IS NOT NULL OR {changed}
        BEGIN SELECT RAISE(ABORT, '{HOLD_FROZEN}'); END""",
        f"""CREATE TRIGGER legal_holds_no_delete BEFORE DELETE ON legal_holds
        BEGIN SELECT RAISE(ABORT, '{HOLD_FROZEN}'); END""",
    ]
    return statements


def _postgresql() -> list[str]:
    new = ", ".join(f"NEW.{c}" for c in HOLD_FIELDS)
    old = ", ".join(f"OLD.{c}" for c in HOLD_FIELDS)
    statements = [
        f"""CREATE FUNCTION balmon_retention_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF {GATE_OPEN} THEN RETURN OLD; END IF;
          RAISE EXCEPTION '{NO_DELETE} (%)', TG_TABLE_NAME;
        END $$""",
        f"""CREATE FUNCTION balmon_hold_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' OR OLD.released_at IS NOT NULL
             OR ROW({new}) IS DISTINCT FROM ROW({old}) THEN
            RAISE EXCEPTION '{HOLD_FROZEN}';
          END IF;
          RETURN NEW;
        END $$""",
        # Their guards stop refusing DELETE themselves: the retention-aware trigger does.
        "DROP TRIGGER error_logs_guard ON error_logs",
        """CREATE TRIGGER error_logs_guard BEFORE UPDATE ON error_logs
        FOR EACH ROW EXECUTE FUNCTION balmon_error_logs_guard()""",
        "DROP TRIGGER error_log_resolutions_guard ON error_log_resolutions",
        """CREATE TRIGGER error_log_resolutions_guard BEFORE UPDATE ON error_log_resolutions
        FOR EACH ROW EXECUTE FUNCTION balmon_history_guard()""",
        "DROP TRIGGER verification_results_guard ON verification_results",
        """CREATE TRIGGER verification_results_guard BEFORE UPDATE ON verification_results
        FOR EACH ROW EXECUTE FUNCTION balmon_results_guard()""",
        """CREATE TRIGGER legal_holds_guard BEFORE UPDATE OR DELETE ON legal_holds
        FOR EACH ROW EXECUTE FUNCTION balmon_hold_guard()""",
        """CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON legal_holds
        FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
    ]
    for table in GUARDED_BEFORE + GUARDED_NOW:
        statements.append(
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION balmon_retention_only()"""
        )
    for table in GUARDED_NOW:
        statements.append(
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()"""
        )
    return statements


def _mysql() -> list[str]:
    def signal(message: str) -> str:
        return f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'"

    statements = [f"DROP TRIGGER {table}_no_delete" for table in GUARDED_BEFORE]
    for table in GUARDED_BEFORE + GUARDED_NOW:
        statements.append(
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} FOR EACH ROW
            BEGIN IF NOT {GATE_OPEN} THEN {signal(NO_DELETE)}; END IF; END"""
        )
    same = " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in HOLD_FIELDS)
    statements += [
        f"""CREATE TRIGGER legal_holds_frozen BEFORE UPDATE ON legal_holds FOR EACH ROW
        BEGIN
          IF OLD.released_at IS NOT NULL OR NOT ({same}) THEN {signal(HOLD_FROZEN)}; END IF;
        END""",
        f"""CREATE TRIGGER legal_holds_no_delete BEFORE DELETE ON legal_holds
        FOR EACH ROW {signal(HOLD_FROZEN)}""",
    ]
    return statements


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(length=50)),
        sa.Column("business_date", sa.Date()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("released_by", sa.String(length=100)),
        sa.Column("released_at", balmon.storage.types.UTCDateTime()),
        sa.Column("release_reason", sa.Text()),
        sa.CheckConstraint(
            "customer_id IS NOT NULL OR business_date IS NOT NULL",
            name=op.f("ck_legal_holds_target"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_table(
        "retention_gate",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("opened_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_retention_gate")),
    )
    statements = {"sqlite": _sqlite, "postgresql": _postgresql, "mysql": _mysql}[_dialect()]()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("0013 adds retention's deletion path; going back would lose holds")
