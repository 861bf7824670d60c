"""verification_results.currency: the balance's currency, shown beside every amount.

The bank's answer names it (`source.currency_field`), else the customer's expected currency
does (the customer file's column, `verification.currency`). Rows written before have none.
The audit chain hashes it as a trailing field present only when set (`audit.chain.OPTIONAL`),
so every hash written before stays valid.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("verification_results", sa.Column("currency", sa.String(length=3)))


def downgrade() -> None:
    with op.batch_alter_table("verification_results") as batch:
        batch.drop_column("currency")
