"""A covering index for the dashboard's top-customers and hourly trends on large error logs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_error_logs_day_customer",
        "error_logs",
        ["business_date", "customer_id", "logged_at", "error_code"],
    )


def downgrade() -> None:
    op.drop_index("ix_error_logs_day_customer", table_name="error_logs")
