"""alert_deliveries.claimed_until and claimed_by: a delivery being sent is leased to the flusher
sending it.

Two processes that flush the outbox together (`serve` and `scheduler`, several `balmon alerts
flush`) each read the pending deliveries; without a lease both could send one. The claim sets
`claimed_until`, a flusher skips a delivery claimed until later than now, and the outcome
clears it. A flusher that dies mid-send is passed over at once by a flusher on its host
(`claimed_by` names its host and pid, and the pid is gone); elsewhere its lease runs out, and
the delivery is sent again then: at least once, never twice while its flusher lives.

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
        batch.add_column(sa.Column("claimed_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("claimed_until")
