"""Retention on every backend: archive, read back, delete; holds kept; the manifest verified."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DatabaseError

from balmon.audit.verify import verify
from balmon.config.settings import RetentionSettings
from balmon.errors import RetentionError
from balmon.retention import apply
from balmon.retention import holds as legal
from balmon.retention.archive import MANIFEST, check_file, decode_row, read_rows
from balmon.retention.policy import BY_NAME
from balmon.storage.schema import (
    alert_deliveries,
    alert_messages,
    alerts,
    audit_events,
    cases,
    chain_seals,
    digests,
    error_log_resolutions,
    error_logs,
    legal_holds,
    metadata,
    quality_alarms,
    run_alarms,
    verification_results,
    verification_runs,
)
from tests.audit.test_chain import _resolve_some, _run
from tests.conftest import on_backends

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
OLD = [NOW.date() - timedelta(days=200 + n) for n in range(2)]
RECENT = NOW.date() - timedelta(days=10)
AUDITED = (error_logs, verification_results, verification_runs, cases, alerts)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t.name: int(c.scalar(select(func.count()).select_from(t)) or 0)
            for t in metadata.sorted_tables
        }


def _of_day(engine: Engine, table: Any, day: date, customer: str | None = None) -> int:
    where = [table.c.business_date == day]
    if customer is not None:
        where.append(table.c.customer_id == customer)
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _intact(engine: Engine) -> Any:
    with engine.connect() as c:
        report = verify(c)
    assert report.findings == []
    return report


def _history(engine: Engine, day: date) -> int:
    j = error_log_resolutions.join(
        error_logs, error_logs.c.id == error_log_resolutions.c.error_log_id
    )
    with engine.connect() as c:
        return int(
            c.scalar(select(func.count()).select_from(j).where(error_logs.c.business_date == day))
            or 0
        )


@pytest.fixture
def history(engine: Engine, tmp_path: Path) -> Engine:
    """Two business dates past a 90-day limit (one resolved), and a recent one."""
    for day in [*OLD, RECENT]:
        _run(engine, tmp_path, day)
    _resolve_some(engine, OLD[0])
    _alerted_and_rerun(engine)
    return engine


def _alerted_and_rerun(engine: Engine) -> None:
    """What a production date also has: its alerts sent in a message, a delivery, a missed-run
    alarm, and a rerun pointing at the original run."""
    at = NOW - timedelta(days=199)
    with engine.begin() as c:
        run = c.scalar(
            select(verification_runs.c.id).where(verification_runs.c.business_date == OLD[0])
        )
        message = {"title": "t", "body": "b", "created_at": at}
        sent = c.execute(
            insert(alert_messages).values(
                kind="customer", business_date=OLD[0], run_id=run, **message
            )
        ).inserted_primary_key[0]
        c.execute(
            insert(alert_deliveries).values(
                message_id=sent, channel="mailto:ops", status="sent", created_at=at, updated_at=at
            )
        )
        c.execute(update(alerts).where(alerts.c.business_date == OLD[0]).values(message_id=sent))
        alarm = c.execute(
            insert(alert_messages).values(kind="alarm", business_date=OLD[1], **message)
        ).inserted_primary_key[0]
        c.execute(
            insert(run_alarms).values(
                business_date=OLD[1],
                reason="missed",
                detail="late",
                message_id=alarm,
                raised_by="scheduler",
                raised_at=at,
            )
        )
        # The day rules' alarm and the morning digest of that date point at a message too.
        c.execute(
            insert(quality_alarms).values(
                business_date=OLD[1], code="FAIL_SPIKE", detail="spike", message_id=alarm,
                raised_by="scheduler", raised_at=at,
            )
        )  # fmt: skip
        c.execute(insert(digests).values(day=OLD[1], message_id=alarm, sent_by="s", created_at=at))
        c.execute(
            insert(verification_runs).values(
                business_date=OLD[0],
                kind="rerun",
                parent_run_id=run,
                status="completed",
                started_at=at,
                finished_at=at,
            )
        )


def _settings(tmp_path: Path, **values: Any) -> RetentionSettings:
    return RetentionSettings(keep_days=90, archive_dir=tmp_path / "archive", **values)


@on_backends()
def test_old_rows_leave_through_the_archive_and_held_ones_stay(
    history: Engine, tmp_path: Path
) -> None:
    engine = history
    hold = legal.add(
        engine, customer="T1", day=None, reason="litigation 42", actor="legal", now=NOW
    )
    before = _counts(engine)
    assert _history(engine, OLD[0]) == 5 and _of_day(engine, error_logs, OLD[0], "T1") == 4

    dry = apply(engine, _settings(tmp_path), now=NOW, actor="ops", dry_run=True)
    assert _counts(engine) == before  # nothing changed ...
    assert not (tmp_path / "archive").exists()  # ... and nothing written
    planned = dry.rows()
    # Per old date: 8 of 9 results and 3 of 7 attempts go (T1 is held); history: N1's one.
    assert planned["verification_results"] == 16 and planned["error_logs"] == 6
    assert planned["error_log_resolutions"] == 1
    # The runs, and the message that alerted about T1 (with its delivery), stay with T1's
    # rows; the other date's alarm and its message go, and so does the rerun, pointing at
    # a run that stays.
    assert (planned["alerts"], planned["alert_messages"], planned["alert_deliveries"]) == (2, 1, 0)
    assert (planned["run_alarms"], planned["verification_runs"]) == (1, 1)
    assert (planned["quality_alarms"], planned["digests"]) == (1, 1)

    done = apply(engine, _settings(tmp_path), now=NOW, actor="ops")
    assert done.rows() == planned
    after = _counts(engine)
    for table, gone in planned.items():
        assert before[table] - after[table] == gone, table
    for day in OLD:  # only the held customer's rows are left of the old dates
        assert (
            _of_day(engine, verification_results, day)
            == _of_day(engine, verification_results, day, "T1")
            == 1
        )
        assert _of_day(engine, error_logs, day) == _of_day(engine, error_logs, day, "T1") == 4
    assert _history(engine, OLD[0]) == 4  # T1's four resolutions
    assert _of_day(engine, verification_results, RECENT) == 9  # recent: untouched
    assert _of_day(engine, error_logs, RECENT) == 7

    root = done.directory
    assert root is not None and (root / MANIFEST).is_file()
    manifest = json.loads((root / MANIFEST).read_text())
    for entry in manifest["files"]:
        assert check_file(root, entry, BY_NAME[entry["table"]].table) == []
        assert (root / entry["path"]).name == f"{entry['month']}.jsonl.gz"
    with engine.connect() as c:
        event = c.execute(select(audit_events).where(audit_events.c.action == "retention")).one()
        sealed = c.scalar(
            select(chain_seals.c.last_hash).where(chain_seals.c.table_name == "retention")
        )
    assert event.digest == done.digest == sealed and event.actor == "ops"
    assert json.loads(event.details)["holds"][0]["id"] == hold
    report = _intact(engine)
    assert report.manifests == 1 and report.archived_rows == sum(planned.values())

    # Released, the held customer's rows go too: mid-segment positions, checked again.
    legal.release(engine, hold, reason="case closed", actor="legal", now=NOW)
    later = apply(engine, _settings(tmp_path), now=NOW + timedelta(seconds=1), actor="ops")
    assert later.rows()["verification_runs"] == 2 and later.rows()["error_log_resolutions"] == 4
    assert (later.rows()["alert_messages"], later.rows()["alert_deliveries"]) == (1, 1)
    for day in OLD:
        assert _history(engine, day) == 0
        for table in AUDITED:
            assert _of_day(engine, table, day) == 0, table.name
    assert _intact(engine).manifests == 2


@on_backends()
def test_a_row_put_back_after_retention_is_found(history: Engine, tmp_path: Path) -> None:
    engine = history
    done = apply(engine, _settings(tmp_path), now=NOW, actor="ops")
    assert done.directory is not None
    entry = next(e for e in done.files if e["table"] == "error_logs")
    row = next(read_rows(done.directory / entry["path"]))
    archived = {c.name: row[c.name] for c in error_logs.columns} | {"run_id": None}
    with engine.begin() as c:
        c.execute(insert(error_logs).values(decode_row(error_logs, archived)))
    with engine.connect() as c:
        report = verify(c)
    assert any(
        f.problem == "archive" and "still in error_logs" in f.detail for f in report.findings
    )


@on_backends()
def test_nothing_leaves_outside_retention(history: Engine) -> None:
    engine = history
    for table in (verification_runs, alerts, alert_messages, error_logs, verification_results):
        with engine.connect() as c:
            if not c.scalar(select(func.count()).select_from(table)):
                continue
        with pytest.raises(DatabaseError, match="retention procedure"), engine.begin() as c:
            c.execute(text(f"DELETE FROM {table.name}"))
    hold = legal.add(engine, customer=None, day=OLD[0], reason="audit", actor="a", now=NOW)
    for statement in (
        f"DELETE FROM legal_holds WHERE id = {hold}",
        f"UPDATE legal_holds SET reason = 'x' WHERE id = {hold}",
    ):
        with pytest.raises(DatabaseError, match="legal hold"), engine.begin() as c:
            c.execute(text(statement))
    legal.release(engine, hold, reason="done", actor="a", now=NOW)
    with pytest.raises(DatabaseError, match="legal hold"), engine.begin() as c:
        c.execute(text(f"UPDATE legal_holds SET released_by = 'b' WHERE id = {hold}"))
    with engine.connect() as c:
        actions = list(c.scalars(select(audit_events.c.action).order_by(audit_events.c.id)))
        assert c.scalar(select(legal_holds.c.released_by)) == "a"
    assert actions == ["hold add", "hold release"]


def test_a_date_hold_keeps_the_whole_date(history: Engine, tmp_path: Path) -> None:
    engine = history
    legal.add(engine, customer=None, day=OLD[1], reason="regulator", actor="legal", now=NOW)
    apply(engine, _settings(tmp_path), now=NOW, actor="ops")
    assert _of_day(engine, verification_results, OLD[1]) == 9
    assert _of_day(engine, verification_results, OLD[0]) == 0
    with engine.connect() as c:
        runs = set(c.scalars(select(verification_runs.c.business_date)))
        alarms = c.scalar(select(func.count()).select_from(run_alarms))
    assert runs == {OLD[1], RECENT} and alarms == 1
    _intact(engine)


def test_per_table_limits_keep_attempts_longer(history: Engine, tmp_path: Path) -> None:
    engine = history
    settings = _settings(tmp_path, keep_days_by_table={"error_logs": 3650})
    done = apply(engine, settings, now=NOW, actor="ops")
    assert done.rows()["error_logs"] == 0 and done.rows()["verification_results"] == 18
    # The runs stay as long as their attempts do.
    assert done.rows()["verification_runs"] == 0
    assert _of_day(engine, error_logs, OLD[0]) == 7
    _intact(engine)


def test_a_broken_trail_is_not_archived_away(history: Engine, tmp_path: Path) -> None:
    engine = history
    with engine.begin() as c:
        c.execute(text("DROP TRIGGER verification_results_frozen"))
        c.execute(
            text(
                "UPDATE verification_results SET attempts = 9 "
                f"WHERE business_date = '{OLD[0]}' AND customer_id = 'P1'"
            )
        )
    before = _counts(engine)
    with pytest.raises(RetentionError, match="finds 1 problems"):
        apply(engine, _settings(tmp_path), now=NOW, actor="ops")
    assert _counts(engine) == before
    assert not (tmp_path / "archive").exists()
