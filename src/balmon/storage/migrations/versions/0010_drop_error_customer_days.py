"""Drop error_customer_days and its trigger: `cases` (0008) replaced it as the dashboard's
per-customer-day read model, and nothing reads the rollup any more, while its trigger still
cost every failed-attempt insert a second write.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DROPS = {
    "sqlite": ["DROP TRIGGER IF EXISTS error_logs_rollup"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS error_logs_rollup ON error_logs",
        "DROP FUNCTION IF EXISTS balmon_error_rollup()",
    ],
    "mysql": ["DROP TRIGGER IF EXISTS error_logs_rollup"],
}


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    for statement in DROPS[_dialect()]:
        op.execute(statement)
    op.drop_table("error_customer_days")


def downgrade() -> None:
    # The rollup as 0006 made it, backfilled from the attempts logged since.
    importlib.import_module("balmon.storage.migrations.versions.0006_error_customer_days").upgrade()
