"""initial schema

Revision ID: 0001
Revises: none
Create Date: 2026-11-28 16:14:08.536982
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "error_codes",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("suggested_action", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            balmon.storage.types.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')",
            name=op.f("ck_error_codes_severity"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_error_codes")),
    )
    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_login_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "verification_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), server_default="full", nullable=False),
        sa.Column(
            "parent_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.Column("customers_file", sa.Text(), nullable=True),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pass_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fail_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unavailable_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("invalid_input_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_host", sa.String(length=255), nullable=True),
        sa.Column("lease_pid", sa.Integer(), nullable=True),
        sa.Column("heartbeat_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('full', 'rerun', 'retry_unavailable')", name=op.f("ck_verification_runs_kind")
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'interrupted')",
            name=op.f("ck_verification_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["verification_runs.id"],
            name=op.f("fk_verification_runs_parent_run_id_verification_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_runs")),
    )
    with op.batch_alter_table("verification_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_runs_business_date_status"),
            ["business_date", "status"],
            unique=False,
        )

    op.create_table(
        "alert_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("customers_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["error_code"],
            ["error_codes.code"],
            name=op.f("fk_alert_messages_error_code_error_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["verification_runs.id"],
            name=op.f("fk_alert_messages_run_id_verification_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_messages")),
    )
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "error_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("customer_id", sa.String(length=50), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column(
            "logged_at",
            balmon.storage.types.UTCDateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("resolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["error_code"], ["error_codes.code"], name=op.f("fk_error_logs_error_code_error_codes")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["verification_runs.id"],
            name=op.f("fk_error_logs_run_id_verification_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_logs")),
    )
    with op.batch_alter_table("error_logs", schema=None) as batch_op:
        batch_op.create_index("idx_customer_id", ["customer_id"], unique=False)
        batch_op.create_index("idx_error_code", ["error_code"], unique=False)
        batch_op.create_index("idx_logged_at", ["logged_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_error_logs_business_date_error_code"),
            ["business_date", "error_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_error_logs_run_id_customer_id"), ["run_id", "customer_id"], unique=False
        )

    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )
    op.create_table(
        "verification_results",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("balance", balmon.storage.types.Money(), nullable=True),
        sa.Column("min_balance", balmon.storage.types.Money(), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("checked_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(status = 'UNAVAILABLE') = (error_code IS NOT NULL)",
            name=op.f("ck_verification_results_code_iff_unavailable"),
        ),
        sa.CheckConstraint(
            "status IN ('PASS', 'FAIL', 'UNAVAILABLE')", name=op.f("ck_verification_results_status")
        ),
        sa.ForeignKeyConstraint(
            ["error_code"],
            ["error_codes.code"],
            name=op.f("fk_verification_results_error_code_error_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["verification_runs.id"],
            name=op.f("fk_verification_results_run_id_verification_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_results")),
        sa.UniqueConstraint(
            "run_id", "customer_id", name=op.f("uq_verification_results_run_id_customer_id")
        ),
    )
    with op.batch_alter_table("verification_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_results_business_date_customer_id"),
            ["business_date", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_verification_results_business_date_status"),
            ["business_date", "status"],
            unique=False,
        )

    op.create_table(
        "alert_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", balmon.storage.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_alert_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["alert_messages.id"],
            name=op.f("fk_alert_deliveries_message_id_alert_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "message_id", "channel", name=op.f("uq_alert_deliveries_message_id_channel")
        ),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_deliveries_status"), ["status"], unique=False)

    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("error_code", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["error_code"], ["error_codes.code"], name=op.f("fk_alerts_error_code_error_codes")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["alert_messages.id"], name=op.f("fk_alerts_message_id_alert_messages")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["verification_runs.id"], name=op.f("fk_alerts_run_id_verification_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "business_date",
            "customer_id",
            "error_code",
            name=op.f("uq_alerts_business_date_customer_id_error_code"),
        ),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_message_id"), ["message_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alerts_run_id_error_code"), ["run_id", "error_code"], unique=False
        )

    op.create_table(
        "error_log_resolutions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "error_log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("changed_at", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["error_log_id"],
            ["error_logs.id"],
            name=op.f("fk_error_log_resolutions_error_log_id_error_logs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_log_resolutions")),
    )
    with op.batch_alter_table("error_log_resolutions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_error_log_resolutions_error_log_id"), ["error_log_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("error_log_resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_error_log_resolutions_error_log_id"))

    op.drop_table("error_log_resolutions")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_run_id_error_code"))
        batch_op.drop_index(batch_op.f("ix_alerts_message_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_status"))

    op.drop_table("alert_deliveries")
    with op.batch_alter_table("verification_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_results_business_date_status"))
        batch_op.drop_index(batch_op.f("ix_verification_results_business_date_customer_id"))

    op.drop_table("verification_results")
    op.drop_table("sessions")
    with op.batch_alter_table("error_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_error_logs_run_id_customer_id"))
        batch_op.drop_index(batch_op.f("ix_error_logs_business_date_error_code"))
        batch_op.drop_index("idx_logged_at")
        batch_op.drop_index("idx_error_code")
        batch_op.drop_index("idx_customer_id")

    op.drop_table("error_logs")
    op.drop_table("api_tokens")
    op.drop_table("alert_messages")
    with op.batch_alter_table("verification_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_runs_business_date_status"))

    op.drop_table("verification_runs")
    op.drop_table("users")
    op.drop_table("error_codes")
