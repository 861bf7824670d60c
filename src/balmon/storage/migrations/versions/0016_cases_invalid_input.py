"""cases for the customer file's bad lines: a customer never checked is work too.

Until now INVALID_INPUT rows (a line of the customer file balmon could not use) made no case,
so they never reached the work queue. Now they do. A line with a readable customer id joins
that customer's case of the date (a duplicate line, a bad minimum); a line without one gets a
case of its own under the label "(line N)".

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The case's customer: the row's id, or "(line N)" for a line whose id could not be read.
_KEY = {
    "sqlite": "COALESCE({r}.customer_id, '(line ' || {r}.source_line || ')')",
    "postgresql": "COALESCE({r}.customer_id, '(line ' || {r}.source_line || ')')",
    "mysql": "COALESCE({r}.customer_id, CONCAT('(line ', {r}.source_line, ')'))",
}
_ROW = (
    "NEW.business_date IS NOT NULL AND (NEW.customer_id IS NOT NULL OR NEW.source_line IS NOT NULL)"
)


def _insert(key: str) -> str:
    return (
        "INSERT INTO cases (business_date, customer_id, first_seen, last_seen, last_code, "  # noqa: S608 (constant SQL, no input)
        f"attempts, open_attempts) VALUES (NEW.business_date, {key}, NEW.logged_at, "
        "NEW.logged_at, NEW.error_code, 1, CASE WHEN NEW.resolved THEN 0 ELSE 1 END)"
    )


def _resolved(key: str) -> str:
    return (
        "UPDATE cases SET open_attempts = open_attempts + "  # noqa: S608 (constant SQL, no input)
        "(CASE WHEN NEW.resolved THEN -1 ELSE 1 END), "
        "resolved_by = CASE WHEN NEW.resolved THEN NEW.resolved_by ELSE resolved_by END, "
        "resolved_at = CASE WHEN NEW.resolved THEN NEW.resolved_at ELSE resolved_at END, "
        "resolution_notes = CASE WHEN NEW.resolved THEN NEW.resolution_notes "
        "ELSE resolution_notes END "
        f"WHERE business_date = NEW.business_date AND customer_id = {key}"
    )


def _triggers(dialect: str) -> list[str]:
    key = _KEY[dialect].format(r="NEW")
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER error_logs_case AFTER INSERT ON error_logs WHEN {_ROW}
            BEGIN {_insert(key)} ON CONFLICT (business_date, customer_id) DO UPDATE SET
              attempts = attempts + 1, open_attempts = open_attempts + excluded.open_attempts,
              first_seen = min(first_seen, excluded.first_seen),
              last_code = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_code
                          ELSE last_code END,
              last_seen = max(last_seen, excluded.last_seen); END""",
            f"""CREATE TRIGGER error_logs_case_resolution AFTER UPDATE OF resolved ON error_logs
            WHEN NEW.resolved <> OLD.resolved AND {_ROW} BEGIN {_resolved(key)}; END""",
        ]
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION balmon_case_attempt() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF {_ROW} THEN
                {_insert(key)} ON CONFLICT (business_date, customer_id) DO UPDATE SET
                  attempts = cases.attempts + 1,
                  open_attempts = cases.open_attempts + EXCLUDED.open_attempts,
                  first_seen = LEAST(cases.first_seen, EXCLUDED.first_seen),
                  last_code = CASE WHEN EXCLUDED.last_seen >= cases.last_seen
                              THEN EXCLUDED.last_code ELSE cases.last_code END,
                  last_seen = GREATEST(cases.last_seen, EXCLUDED.last_seen);
              END IF;
              RETURN NULL;
            END $$""",
            f"""CREATE OR REPLACE FUNCTION balmon_case_resolution() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.resolved <> OLD.resolved AND {_ROW} THEN {_resolved(key)}; END IF;
              RETURN NULL;
            END $$""",
        ]
    return [
        f"""CREATE TRIGGER error_logs_case AFTER INSERT ON error_logs FOR EACH ROW
        BEGIN
          IF {_ROW} THEN
            {_insert(key)} ON DUPLICATE KEY UPDATE
              attempts = attempts + 1,
              open_attempts = open_attempts + VALUES(open_attempts),
              first_seen = LEAST(first_seen, VALUES(first_seen)),
              last_code = IF(VALUES(last_seen) >= last_seen, VALUES(last_code), last_code),
              last_seen = GREATEST(last_seen, VALUES(last_seen));
          END IF;
        END""",
        f"""CREATE TRIGGER error_logs_case_resolution AFTER UPDATE ON error_logs FOR EACH ROW
        BEGIN
          IF NEW.resolved <> OLD.resolved AND {_ROW} THEN {_resolved(key)}; END IF;
        END""",
    ]


_BAD = "e.error_code = 'INVALID_INPUT' AND e.business_date IS NOT NULL"


def _count_into_cases(dialect: str, sign: str) -> str:
    """Add (`sign` "+") or take away ("-") the INVALID_INPUT rows already counted in an
    existing case of the same customer and date."""
    key = _KEY[dialect].format(r="e")
    same = f"e.business_date = cases.business_date AND {key} = cases.customer_id"
    return (
        f"UPDATE cases SET attempts = attempts {sign} (SELECT COUNT(*) FROM error_logs e "  # noqa: S608 (constant SQL, no input)
        f"WHERE {_BAD} AND {same}), open_attempts = open_attempts {sign} (SELECT "
        f"COALESCE(SUM(CASE WHEN e.resolved THEN 0 ELSE 1 END), 0) FROM error_logs e "
        f"WHERE {_BAD} AND {same}) WHERE EXISTS (SELECT 1 FROM error_logs e WHERE {_BAD} "
        f"AND {same})"
    )


def _backfill(dialect: str) -> list[str]:
    """The cases of the INVALID_INPUT rows already there: counted into an existing case of
    the same customer and date, or made."""
    key = _KEY[dialect].format(r="e")
    return [
        _count_into_cases(dialect, "+"),
        "INSERT INTO cases (business_date, customer_id, first_seen, last_seen, last_code, "  # noqa: S608 (constant SQL, no input)
        f"attempts, open_attempts) SELECT e.business_date, {key}, MIN(e.logged_at), "
        "MAX(e.logged_at), 'INVALID_INPUT', COUNT(*), "
        f"SUM(CASE WHEN e.resolved THEN 0 ELSE 1 END) FROM error_logs e WHERE {_BAD} "
        f"AND (e.customer_id IS NOT NULL OR e.source_line IS NOT NULL) "
        f"AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.business_date = e.business_date "
        f"AND k.customer_id = {key}) GROUP BY e.business_date, {key}",
    ]


def _unfill(dialect: str) -> list[str]:
    """Take the INVALID_INPUT rows out of the cases again (for a downgrade)."""
    return [_count_into_cases(dialect, "-"), "DELETE FROM cases WHERE attempts = 0"]


def _dialect() -> str:
    name = op.get_context().dialect.name
    return "mysql" if name == "mariadb" else name


def _drop_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        return  # CREATE OR REPLACE FUNCTION: the triggers stay, their functions change
    op.execute("DROP TRIGGER error_logs_case")
    op.execute("DROP TRIGGER error_logs_case_resolution")


def upgrade() -> None:
    dialect = _dialect()
    _drop_triggers(dialect)
    for statement in _backfill(dialect) + _triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    dialect = _dialect()
    before = importlib.import_module("balmon.storage.migrations.versions.0008_cases")
    old = [s for s in before.TRIGGERS[dialect] if "case_outcome" not in s]
    old = [s for s in old if "verification_results_case" not in s]
    if dialect == "postgresql":
        old = [
            s.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
            for s in old
            if "CREATE FUNCTION" in s
        ]
    _drop_triggers(dialect)
    for statement in _unfill(dialect) + old:
        op.execute(statement)
