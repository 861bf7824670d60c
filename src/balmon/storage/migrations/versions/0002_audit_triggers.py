"""Make error_logs and its resolution history append-only, enforced by the database.

Only the resolution fields (resolved, resolution_notes, resolved_by, resolved_at) of an
error_logs row may change; every such change appends a row to error_log_resolutions.
Rows of either table cannot be deleted (nor, on PostgreSQL, truncated).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FROZEN = (
    "id",
    "run_id",
    "business_date",
    "customer_id",
    "error_code",
    "error_message",
    "retry_count",
    "stack_trace",
    "source_line",
    "logged_at",
)
IMMUTABLE = "error_logs is an immutable audit record: only its resolution may change"
NO_DELETE = "audit records cannot be deleted outside the retention procedure"
HISTORY_ONLY_APPENDS = "error_log_resolutions is append-only"
HISTORY_INSERT = (
    "INSERT INTO error_log_resolutions (error_log_id, resolved, notes, actor, changed_at) "
    "VALUES (NEW.id, NEW.resolved, NEW.resolution_notes, NEW.resolved_by, "
    "COALESCE(NEW.resolved_at, CURRENT_TIMESTAMP))"
)


def _sqlite() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    return [
        f"""CREATE TRIGGER error_logs_frozen BEFORE UPDATE ON error_logs
        WHEN {changed} BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""",
        f"""CREATE TRIGGER error_logs_history AFTER UPDATE ON error_logs
        BEGIN {HISTORY_INSERT}; END""",
        f"""CREATE TRIGGER error_logs_no_delete BEFORE DELETE ON error_logs
        BEGIN SELECT RAISE(ABORT, '{NO_DELETE}'); END""",
        f"""CREATE TRIGGER error_log_resolutions_no_update BEFORE UPDATE ON error_log_resolutions
        BEGIN SELECT RAISE(ABORT, '{HISTORY_ONLY_APPENDS}'); END""",
        f"""CREATE TRIGGER error_log_resolutions_no_delete BEFORE DELETE ON error_log_resolutions
        BEGIN SELECT RAISE(ABORT, '{HISTORY_ONLY_APPENDS}'); END""",
    ]


def _postgresql() -> list[str]:
    new = ", ".join(f"NEW.{c}" for c in FROZEN)
    old = ", ".join(f"OLD.{c}" for c in FROZEN)
    return [
        f"""CREATE FUNCTION balmon_error_logs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{NO_DELETE}'; END IF;
          IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN RAISE EXCEPTION '{IMMUTABLE}'; END IF;
          {HISTORY_INSERT};
          RETURN NEW;
        END $$""",
        f"""CREATE FUNCTION balmon_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{HISTORY_ONLY_APPENDS} (%)', TG_TABLE_NAME; END $$""",
        """CREATE TRIGGER error_logs_guard BEFORE UPDATE OR DELETE ON error_logs
        FOR EACH ROW EXECUTE FUNCTION balmon_error_logs_guard()""",
        """CREATE TRIGGER error_logs_no_truncate BEFORE TRUNCATE ON error_logs
        FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
        """CREATE TRIGGER error_log_resolutions_guard
        BEFORE UPDATE OR DELETE ON error_log_resolutions
        FOR EACH ROW EXECUTE FUNCTION balmon_append_only()""",
        """CREATE TRIGGER error_log_resolutions_no_truncate BEFORE TRUNCATE ON error_log_resolutions
        FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
    ]


def _mysql() -> list[str]:
    same = " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in FROZEN)
    signal = "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{}'"
    return [
        f"""CREATE TRIGGER error_logs_guard BEFORE UPDATE ON error_logs FOR EACH ROW
        BEGIN
          IF NOT ({same}) THEN {signal.format(IMMUTABLE)}; END IF;
          {HISTORY_INSERT};
        END""",
        f"""CREATE TRIGGER error_logs_no_delete BEFORE DELETE ON error_logs FOR EACH ROW
        {signal.format(NO_DELETE)}""",
        f"""CREATE TRIGGER error_log_resolutions_no_update BEFORE UPDATE ON error_log_resolutions
        FOR EACH ROW {signal.format(HISTORY_ONLY_APPENDS)}""",
        f"""CREATE TRIGGER error_log_resolutions_no_delete BEFORE DELETE ON error_log_resolutions
        FOR EACH ROW {signal.format(HISTORY_ONLY_APPENDS)}""",
    ]


_DROP = {
    "sqlite": [
        "DROP TRIGGER error_logs_frozen",
        "DROP TRIGGER error_logs_history",
        "DROP TRIGGER error_logs_no_delete",
        "DROP TRIGGER error_log_resolutions_no_update",
        "DROP TRIGGER error_log_resolutions_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER error_logs_guard ON error_logs",
        "DROP TRIGGER error_logs_no_truncate ON error_logs",
        "DROP TRIGGER error_log_resolutions_guard ON error_log_resolutions",
        "DROP TRIGGER error_log_resolutions_no_truncate ON error_log_resolutions",
        "DROP FUNCTION balmon_error_logs_guard()",
        "DROP FUNCTION balmon_append_only()",
    ],
    "mysql": [
        "DROP TRIGGER error_logs_guard",
        "DROP TRIGGER error_logs_no_delete",
        "DROP TRIGGER error_log_resolutions_no_update",
        "DROP TRIGGER error_log_resolutions_no_delete",
    ],
}


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    statements = {"sqlite": _sqlite, "postgresql": _postgresql, "mysql": _mysql}[_dialect()]()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP[_dialect()]:
        op.execute(statement)
