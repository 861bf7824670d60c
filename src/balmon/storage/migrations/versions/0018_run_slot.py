"""run_slot: one row every claim of a date's lease writes first, so one date runs at a time.

Two instances catching up (`serve` and `scheduler`, or two `serve`s) each took a different
date and ran them together, so the bank saw twice `engine.concurrency`, which is documented
as the limit "in all, over every process". A claim now writes this row before it reads the
leases (a write lock on every database, SQLite's included) and is refused while another date's
lease has a live owner.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    slot = op.create_table(
        "run_slot",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("claimed_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_slot")),
    )
    op.bulk_insert(slot, [{"id": 1, "claimed_at": None}])


def downgrade() -> None:
    op.drop_table("run_slot")
