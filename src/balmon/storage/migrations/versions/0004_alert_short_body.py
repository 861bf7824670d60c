"""alert_messages.short_body: the compact text sent to SMS channels.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_messages") as batch:
        batch.add_column(sa.Column("short_body", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_messages") as batch:
        batch.drop_column("short_body")
