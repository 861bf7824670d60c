"""alert_deliveries.claimed_until: a delivery being sent is leased to the flusher sending it.

Two processes that flush the outbox together (`serve` and `scheduler`, several `balmon alerts
flush`) each read the pending deliveries; without a lease both could send one. The claim sets
`claimed_until`, a flusher skips a delivery claimed until later than now, and the outcome
clears it. A flusher that dies mid-send leaves a lease that runs out, and the delivery is sent
again then: at least once, never twice within a lease.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(
            sa.Column("claimed_until", balmon.storage.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("claimed_until")
