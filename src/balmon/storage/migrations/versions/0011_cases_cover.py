"""A covering index on cases for the work queue and top customers over a date range.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = [
    "business_date",
    "customer_id",
    "final_code",
    "last_code",
    "outcome",
    "open_attempts",
    "attempts",
    "first_seen",
    "last_seen",
]


def upgrade() -> None:
    op.create_index("ix_cases_day_cover", "cases", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_cases_day_cover", table_name="cases")
