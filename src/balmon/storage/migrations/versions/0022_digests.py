"""digests: the once-a-day claim of the morning digest of open cases (issue 24).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sent_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["alert_messages.id"], name=op.f("fk_digests_message_id_alert_messages")
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_digests")),
    )


def downgrade() -> None:
    op.drop_table("digests")
