"""day_figures and quality_alarms: the data-quality rules over a whole business date.

`day_figures` keeps each completed date's outcomes, so FAIL_SPIKE and UNAVAILABLE_SPIKE compare
a date with the median of the twenty before it without counting their results again;
`quality_alarms` is the once-per-(date, rule) claim of STALE_FEED, FAIL_SPIKE and
UNAVAILABLE_SPIKE, as `run_alarms` is for a missed date. The new error codes are seeded by
`db upgrade` from the taxonomy, as every code is.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_figures",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("unavailable", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Integer(), nullable=False),
        sa.Column("computed_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_day_figures")),
    )
    op.create_table(
        "quality_alarms",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("folded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("raised_by", sa.String(length=255), nullable=False),
        sa.Column("raised_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["code"], ["error_codes.code"], name=op.f("fk_quality_alarms_code_error_codes")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["alert_messages.id"],
            name=op.f("fk_quality_alarms_message_id_alert_messages"),
        ),
        sa.PrimaryKeyConstraint("business_date", "code", name=op.f("pk_quality_alarms")),
    )


def downgrade() -> None:
    op.drop_table("quality_alarms")
    op.drop_table("day_figures")
