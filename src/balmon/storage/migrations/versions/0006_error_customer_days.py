"""error_customer_days: errors per business date and customer, kept by an insert trigger.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COUNT = "INSERT INTO error_customer_days (business_date, customer_id, errors, last_error_at) "
_WHEN = "NEW.customer_id IS NOT NULL AND NEW.business_date IS NOT NULL"
_VALUES = "VALUES (NEW.business_date, NEW.customer_id, 1, NEW.logged_at)"

TRIGGERS = {
    "sqlite": [
        f"""CREATE TRIGGER error_logs_rollup AFTER INSERT ON error_logs WHEN {_WHEN}
        BEGIN {_COUNT} {_VALUES} ON CONFLICT (business_date, customer_id) DO UPDATE SET
          errors = errors + 1, last_error_at = max(last_error_at, excluded.last_error_at); END""",
    ],
    "postgresql": [
        f"""CREATE FUNCTION balmon_error_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF {_WHEN} THEN
            {_COUNT} {_VALUES} ON CONFLICT (business_date, customer_id) DO UPDATE SET
              errors = error_customer_days.errors + 1,
              last_error_at = GREATEST(error_customer_days.last_error_at, EXCLUDED.last_error_at);
          END IF;
          RETURN NULL;
        END $$""",
        """CREATE TRIGGER error_logs_rollup AFTER INSERT ON error_logs
        FOR EACH ROW EXECUTE FUNCTION balmon_error_rollup()""",
    ],
    "mysql": [
        f"""CREATE TRIGGER error_logs_rollup AFTER INSERT ON error_logs FOR EACH ROW
        BEGIN
          IF {_WHEN} THEN
            {_COUNT} {_VALUES} ON DUPLICATE KEY UPDATE
              errors = errors + 1, last_error_at = GREATEST(last_error_at, VALUES(last_error_at));
          END IF;
        END""",
    ],
}
# Constant SQL with no input in it.
_AGGREGATE = (
    "SELECT business_date, customer_id, COUNT(*), MAX(logged_at) FROM error_logs "
    "WHERE customer_id IS NOT NULL AND business_date IS NOT NULL "
    "GROUP BY business_date, customer_id"
)
BACKFILL = _COUNT + _AGGREGATE


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    op.create_table(
        "error_customer_days",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("last_error_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "business_date", "customer_id", name=op.f("pk_error_customer_days")
        ),
        sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)
    for statement in TRIGGERS[_dialect()]:
        op.execute(statement)


def downgrade() -> None:
    drops = {
        "sqlite": ["DROP TRIGGER error_logs_rollup"],
        "postgresql": [
            "DROP TRIGGER error_logs_rollup ON error_logs",
            "DROP FUNCTION balmon_error_rollup()",
        ],
        "mysql": ["DROP TRIGGER error_logs_rollup"],
    }
    for statement in drops[_dialect()]:
        op.execute(statement)
    op.drop_table("error_customer_days")
