"""run_alarms (missed and failed business dates, raised once) and scheduler_instances.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_alarms",
        sa.Column("business_date", sa.Date(), primary_key=True),
        sa.Column("reason", sa.String(20), primary_key=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("message_id", balmon.storage.types.BigId, sa.ForeignKey("alert_messages.id")),
        sa.Column("raised_by", sa.String(255), nullable=False),
        sa.Column("raised_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("reason IN ('missed', 'failed')", name=op.f("ck_run_alarms_reason")),
    )
    op.create_table(
        "scheduler_instances",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("started_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_fired_at", balmon.storage.types.UTCDateTime()),
        sa.Column("next_firing_at", balmon.storage.types.UTCDateTime()),
        sa.Column("next_business_date", sa.Date()),
        sa.Column("stopped_at", balmon.storage.types.UTCDateTime()),
    )


def downgrade() -> None:
    op.drop_table("scheduler_instances")
    op.drop_table("run_alarms")
