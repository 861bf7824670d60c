"""A distributed run's chunks (`balmon run --executor celery`): which customers each Celery
task verifies, its status, and how many times the broker delivered it.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STATUSES = "status IN ('pending', 'running', 'done', 'poisoned')"


def upgrade() -> None:
    op.create_table(
        "run_chunks",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", balmon.storage.types.BigId, sa.ForeignKey("verification_runs.id"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False, server_default="pending"),
        sa.Column("deliveries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("worker", sa.String(length=255)),
        sa.Column("sent_at", balmon.storage.types.UTCDateTime()),
        sa.Column("claimed_at", balmon.storage.types.UTCDateTime()),
        sa.Column("finished_at", balmon.storage.types.UTCDateTime()),
        sa.UniqueConstraint("run_id", "seq", name="uq_run_chunks_run_id_seq"),
        sa.CheckConstraint(STATUSES, name="ck_run_chunks_status"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("run_chunks")
