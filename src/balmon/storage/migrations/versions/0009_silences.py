"""silences (known issues not to alert about) and alerts.silence_id.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(length=50)),
        sa.Column(
            "error_code",
            sa.String(length=50),
            sa.ForeignKey("error_codes.code", name=op.f("fk_silences_error_code_error_codes")),
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", balmon.storage.types.UTCDateTime()),
        sa.Column("expired_by", sa.String(length=100)),
        sa.Column("expired_at", balmon.storage.types.UTCDateTime()),
        sa.CheckConstraint(
            "customer_id IS NOT NULL OR error_code IS NOT NULL", name=op.f("ck_silences_target")
        ),
    )
    op.add_column("alerts", sa.Column("silence_id", balmon.storage.types.BigId))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("silence_id")
    op.drop_table("silences")
