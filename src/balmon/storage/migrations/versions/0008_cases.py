"""cases: one customer's problem of one business date, kept by triggers with the rows.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import balmon.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ATTEMPT = (
    "NEW.customer_id IS NOT NULL AND NEW.business_date IS NOT NULL "
    "AND NEW.error_code <> 'INVALID_INPUT'"
)
# Constant SQL with no input in it (trigger bodies).
_INSERT = (
    "INSERT INTO cases (business_date, customer_id, first_seen, last_seen, last_code, "
    "attempts, open_attempts) VALUES (NEW.business_date, NEW.customer_id, NEW.logged_at, "
    "NEW.logged_at, NEW.error_code, 1, CASE WHEN NEW.resolved THEN 0 ELSE 1 END)"
)
# The case keeps the latest resolution of any of its attempts (who, when, notes).
_RESOLVED = (
    "UPDATE cases SET open_attempts = open_attempts + "
    "(CASE WHEN NEW.resolved THEN -1 ELSE 1 END), "
    "resolved_by = CASE WHEN NEW.resolved THEN NEW.resolved_by ELSE resolved_by END, "
    "resolved_at = CASE WHEN NEW.resolved THEN NEW.resolved_at ELSE resolved_at END, "
    "resolution_notes = CASE WHEN NEW.resolved THEN NEW.resolution_notes "
    "ELSE resolution_notes END "
    "WHERE business_date = NEW.business_date AND customer_id = NEW.customer_id"
)
_OUTCOME = (
    "UPDATE cases SET outcome = NEW.status, final_code = NEW.error_code "
    "WHERE business_date = NEW.business_date AND customer_id = NEW.customer_id"
)

TRIGGERS = {
    "sqlite": [
        f"""CREATE TRIGGER error_logs_case AFTER INSERT ON error_logs WHEN {_ATTEMPT}
        BEGIN {_INSERT} ON CONFLICT (business_date, customer_id) DO UPDATE SET
          attempts = attempts + 1, open_attempts = open_attempts + excluded.open_attempts,
          first_seen = min(first_seen, excluded.first_seen),
          last_code = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_code
                      ELSE last_code END,
          last_seen = max(last_seen, excluded.last_seen); END""",
        f"""CREATE TRIGGER error_logs_case_resolution AFTER UPDATE OF resolved ON error_logs
        WHEN NEW.resolved <> OLD.resolved AND {_ATTEMPT} BEGIN {_RESOLVED}; END""",
        f"""CREATE TRIGGER verification_results_case AFTER INSERT ON verification_results
        BEGIN {_OUTCOME}; END""",
    ],
    "postgresql": [
        f"""CREATE FUNCTION balmon_case_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF {_ATTEMPT} THEN
            {_INSERT} ON CONFLICT (business_date, customer_id) DO UPDATE SET
              attempts = cases.attempts + 1,
              open_attempts = cases.open_attempts + EXCLUDED.open_attempts,
              first_seen = LEAST(cases.first_seen, EXCLUDED.first_seen),
              last_code = CASE WHEN EXCLUDED.last_seen >= cases.last_seen
                          THEN EXCLUDED.last_code ELSE cases.last_code END,
              last_seen = GREATEST(cases.last_seen, EXCLUDED.last_seen);
          END IF;
          RETURN NULL;
        END $$""",
        """CREATE TRIGGER error_logs_case AFTER INSERT ON error_logs
        FOR EACH ROW EXECUTE FUNCTION balmon_case_attempt()""",
        f"""CREATE FUNCTION balmon_case_resolution() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.resolved <> OLD.resolved AND {_ATTEMPT} THEN {_RESOLVED}; END IF;
          RETURN NULL;
        END $$""",
        """CREATE TRIGGER error_logs_case_resolution AFTER UPDATE OF resolved ON error_logs
        FOR EACH ROW EXECUTE FUNCTION balmon_case_resolution()""",
        f"""CREATE FUNCTION balmon_case_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {_OUTCOME}; RETURN NULL; END $$""",
        """CREATE TRIGGER verification_results_case AFTER INSERT ON verification_results
        FOR EACH ROW EXECUTE FUNCTION balmon_case_outcome()""",
    ],
    "mysql": [
        f"""CREATE TRIGGER error_logs_case AFTER INSERT ON error_logs FOR EACH ROW
        BEGIN
          IF {_ATTEMPT} THEN
            {_INSERT} ON DUPLICATE KEY UPDATE
              attempts = attempts + 1,
              open_attempts = open_attempts + VALUES(open_attempts),
              first_seen = LEAST(first_seen, VALUES(first_seen)),
              last_code = IF(VALUES(last_seen) >= last_seen, VALUES(last_code), last_code),
              last_seen = GREATEST(last_seen, VALUES(last_seen));
          END IF;
        END""",
        f"""CREATE TRIGGER error_logs_case_resolution AFTER UPDATE ON error_logs FOR EACH ROW
        BEGIN
          IF NEW.resolved <> OLD.resolved AND {_ATTEMPT} THEN {_RESOLVED}; END IF;
        END""",
        f"""CREATE TRIGGER verification_results_case AFTER INSERT ON verification_results
        FOR EACH ROW BEGIN {_OUTCOME}; END""",
    ],
}
# Constant SQL with no input in it: the cases of the rows already there.
_BACKFILL = [
    "INSERT INTO cases (business_date, customer_id, first_seen, last_seen, last_code, attempts, "
    "open_attempts) SELECT business_date, customer_id, MIN(logged_at), MAX(logged_at), "
    "MAX(error_code), COUNT(*), SUM(CASE WHEN resolved THEN 0 ELSE 1 END) FROM error_logs "
    "WHERE customer_id IS NOT NULL AND business_date IS NOT NULL "
    "AND error_code <> 'INVALID_INPUT' GROUP BY business_date, customer_id",
    "UPDATE cases SET last_code = (SELECT e.error_code FROM error_logs e "
    "WHERE e.business_date = cases.business_date AND e.customer_id = cases.customer_id "
    "AND e.error_code <> 'INVALID_INPUT' ORDER BY e.logged_at DESC, e.id DESC LIMIT 1)",
    "UPDATE cases SET outcome = (SELECT r.status FROM verification_results r "
    "WHERE r.business_date = cases.business_date AND r.customer_id = cases.customer_id "
    "ORDER BY r.run_id DESC LIMIT 1), final_code = (SELECT r.error_code "
    "FROM verification_results r WHERE r.business_date = cases.business_date "
    "AND r.customer_id = cases.customer_id ORDER BY r.run_id DESC LIMIT 1)",
]


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", balmon.storage.types.BigId, primary_key=True, autoincrement=True),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=50), nullable=False),
        sa.Column("first_seen", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen", balmon.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_code", sa.String(length=50), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("open_attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=12)),
        sa.Column("final_code", sa.String(length=50)),
        sa.Column("resolved_by", sa.String(length=100)),
        sa.Column("resolved_at", balmon.storage.types.UTCDateTime()),
        sa.Column("resolution_notes", sa.Text()),
        sa.UniqueConstraint(
            "business_date", "customer_id", name=op.f("uq_cases_business_date_customer_id")
        ),
    )
    op.create_index(
        op.f("ix_cases_customer_id_business_date"), "cases", ["customer_id", "business_date"]
    )
    op.create_index(
        op.f("ix_verification_results_customer_id_business_date"),
        "verification_results",
        ["customer_id", "business_date"],
    )
    for statement in _BACKFILL:
        op.execute(statement)
    for statement in TRIGGERS[_dialect()]:
        op.execute(statement)


def downgrade() -> None:
    drops = {
        "sqlite": [
            "DROP TRIGGER error_logs_case",
            "DROP TRIGGER error_logs_case_resolution",
            "DROP TRIGGER verification_results_case",
        ],
        "postgresql": [
            "DROP TRIGGER error_logs_case ON error_logs",
            "DROP TRIGGER error_logs_case_resolution ON error_logs",
            "DROP TRIGGER verification_results_case ON verification_results",
            "DROP FUNCTION balmon_case_attempt()",
            "DROP FUNCTION balmon_case_resolution()",
            "DROP FUNCTION balmon_case_outcome()",
        ],
        "mysql": [
            "DROP TRIGGER error_logs_case",
            "DROP TRIGGER error_logs_case_resolution",
            "DROP TRIGGER verification_results_case",
        ],
    }
    for statement in drops[_dialect()]:
        op.execute(statement)
    op.drop_index(op.f("ix_cases_customer_id_business_date"), table_name="cases")
    op.drop_index(
        op.f("ix_verification_results_customer_id_business_date"),
        table_name="verification_results",
    )
    op.drop_table("cases")
