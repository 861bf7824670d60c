"""One failed attempt is logged once: error_logs.attempt, unique per run and customer.

`attempt` is the attempt's number (its retry_count) on a failed-attempt row, and NULL on a
row that is not an attempt (INVALID_INPUT at a line of the file, a row logged outside any
run). The unique key (run_id, customer_id, attempt) makes the database refuse a second row
for one attempt, whatever wrote it (NULLs never collide, on all three databases: which is
also why rows written before this migration keep NULL, duplicates and all: they cannot be
changed, and they were logged). The key replaces the (run_id, customer_id) index it starts
with. Like every original field, `attempt` never changes after insert.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FROZEN = "error_logs is an immutable audit record: only its resolution may change"
SIGNAL = f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{FROZEN}'"


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def _freeze() -> list[str]:
    dialect = _dialect()
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER error_logs_attempt_frozen BEFORE UPDATE ON error_logs
            WHEN NEW.attempt IS NOT OLD.attempt BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"""
        ]
    if dialect == "postgresql":
        return [
            f"""CREATE FUNCTION balmon_attempt_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.attempt IS DISTINCT FROM OLD.attempt THEN RAISE EXCEPTION '{FROZEN}'; END IF;
              RETURN NEW;
            END $$""",
            """CREATE TRIGGER error_logs_attempt_frozen BEFORE UPDATE ON error_logs
            FOR EACH ROW EXECUTE FUNCTION balmon_attempt_frozen()""",
        ]
    return [
        f"""CREATE TRIGGER error_logs_attempt_frozen BEFORE UPDATE ON error_logs FOR EACH ROW
        BEGIN
          IF NOT (NEW.attempt <=> OLD.attempt) THEN {SIGNAL}; END IF;
        END"""
    ]


def upgrade() -> None:
    # A plain ADD COLUMN on every database (SQLite's batch mode would rebuild the table and
    # lose its triggers).
    op.add_column("error_logs", sa.Column("attempt", sa.Integer()))
    op.create_index(
        "uq_error_logs_attempt", "error_logs", ["run_id", "customer_id", "attempt"], unique=True
    )
    op.drop_index("ix_error_logs_run_id_customer_id", table_name="error_logs")
    for statement in _freeze():
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("0014 follows 0013, which cannot be undone")
