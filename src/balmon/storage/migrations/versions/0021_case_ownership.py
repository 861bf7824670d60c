"""Case ownership: acknowledged, assigned, escalated, and the case's own history.

`cases` gains its owner, who acknowledged it and when, and how many escalation messages named
it (issue 24). `case_events` records each acknowledgement, assignment and comment (a note on a
resolved case is a comment, never a second resolution: issue 22): append-only, hash-chained
and sealed like the resolution history, deleted only by retention.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

APPEND_ONLY = "case_events is append-only"
NO_DELETE = "audit records cannot be deleted outside the retention procedure"
GATE_OPEN = "EXISTS (SELECT 1 FROM retention_gate)"
FROZEN = ("case_id", "business_date", "customer_id", "action", "owner", "notes", "actor", "at")


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def _triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        return [
            f"""CREATE TRIGGER case_events_frozen BEFORE UPDATE ON case_events
            WHEN OLD.chain_hash IS NOT NULL OR {changed}
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
            f"""CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
            WHEN NOT {GATE_OPEN} BEGIN SELECT RAISE(ABORT, '{NO_DELETE}'); END""",
        ]
    if dialect == "postgresql":
        new = ", ".join(f"NEW.{c}" for c in FROZEN)
        old = ", ".join(f"OLD.{c}" for c in FROZEN)
        return [
            f"""CREATE FUNCTION balmon_case_events_guard() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                IF NOT {GATE_OPEN} THEN RAISE EXCEPTION '{NO_DELETE}'; END IF;
                RETURN OLD;
              END IF;
              IF OLD.chain_hash IS NOT NULL OR ROW({new}) IS DISTINCT FROM ROW({old}) THEN
                RAISE EXCEPTION '{APPEND_ONLY}';
              END IF;
              RETURN NEW;
            END $$""",
            """CREATE TRIGGER case_events_guard BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION balmon_case_events_guard()""",
            """CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION balmon_append_only()""",
        ]
    same = " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in FROZEN)
    signal = "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{}'"
    return [
        f"""CREATE TRIGGER case_events_frozen BEFORE UPDATE ON case_events FOR EACH ROW
        BEGIN
          IF OLD.chain_hash IS NOT NULL OR NOT ({same}) THEN {signal.format(APPEND_ONLY)}; END IF;
        END""",
        f"""CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events FOR EACH ROW
        BEGIN IF NOT {GATE_OPEN} THEN {signal.format(NO_DELETE)}; END IF; END""",
    ]


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=100)))
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=100)))
        batch.add_column(sa.Column("acknowledged_at", balmon.storage.types.UTCDateTime()))
        batch.add_column(sa.Column("escalations", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("escalated_at", balmon.storage.types.UTCDateTime()))
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("chain_segment", sa.String(length=40), nullable=True),
        sa.Column("chain_seq", sa.Integer(), nullable=True),
        sa.Column("chain_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "action IN ('acknowledged', 'assigned', 'unassigned', 'comment')",
            name=op.f("ck_case_events_action"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])
    op.create_index(op.f("ix_case_events_business_date"), "case_events", ["business_date"])
    op.create_index(
        "uq_case_events_chain", "case_events", ["chain_segment", "chain_seq"], unique=True
    )
    for statement in _triggers(_dialect()):
        op.execute(statement)


def downgrade() -> None:
    if _dialect() == "postgresql":
        op.execute("DROP FUNCTION balmon_case_events_guard() CASCADE")
    op.drop_table("case_events")
    with op.batch_alter_table("cases") as batch:
        for column in (
            "escalated_at",
            "escalations",
            "acknowledged_at",
            "acknowledged_by",
            "owner",
        ):
            batch.drop_column(column)
