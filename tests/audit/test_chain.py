"""Hash chains from real runs and resolutions on every backend, and the tampering drill."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, text, update

from balmon.audit import seals
from balmon.audit.canonical import encode, genesis, link
from balmon.audit.events import take_anchor
from balmon.audit.verify import Report, verify
from balmon.dashboard.resolution import resolve
from balmon.engine import RunRequest, VerificationRun
from balmon.errors import TimeoutFailure
from balmon.source import Reading
from balmon.storage.schema import (
    cases,
    chain_seals,
    error_log_resolutions,
    error_logs,
    verification_results,
)
from balmon.triage import resolve_case
from tests.conftest import on_backends
from tests.engine.fakes import NULL, ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

FIRST = date(2026, 11, 2)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_the_canonical_encoding_is_the_documented_one() -> None:
    fields = [
        "r7.a1b2c3d4e5f6",
        3,
        7,
        date(2026, 11, 27),
        "Ç-01",
        None,
        Decimal("12.5"),
        Decimal("-0.0000005"),
        True,
        datetime(2026, 11, 27, 6, 0, 1, 5, tzinfo=UTC),
    ]
    line = (
        '["r7.a1b2c3d4e5f6",3,7,"2026-11-27","Ç-01",null,"12.500000","-0.000001",true,'
        '"2026-11-27T06:00:01.000005Z"]'
    )
    assert encode(fields) == line.encode()
    previous = genesis("r7.a1b2c3d4e5f6")
    assert previous == hashlib.sha256(b"balmon chain\nr7.a1b2c3d4e5f6").hexdigest()
    assert (
        link(previous, fields)
        == hashlib.sha256(previous.encode() + b"\n" + line.encode()).hexdigest()
    )
    with pytest.raises(ValueError, match="naive"):
        encode([datetime(2026, 11, 27)])


def _run(engine: Engine, tmp_path: Path, day: date, n: int = 6) -> None:
    """A real run: customers passing, one recovering on a retry, one unavailable, one with a
    null balance, and a bad line."""
    rows = [(f"P{i}", "1") for i in range(n)] + [("R1", "1"), ("T1", "1"), ("N1", "1")]
    path = write_customers(tmp_path / f"{day}.csv", [*rows, ("BAD", "x")])
    source = ScriptedSource(
        {
            "R1": [TimeoutFailure("slow"), Decimal(5)],
            "T1": [TimeoutFailure("slow")],
            "N1": [NULL],
        },
        default=Decimal("5.123456789"),
    )
    settings = fast_settings(engine.url.render_as_string(hide_password=False))
    run = VerificationRun(settings=settings, engine=engine, source=source)
    asyncio.run(run.execute(RunRequest(day, "normal", path)))


def _resolve_some(engine: Engine, day: date) -> None:
    with engine.connect() as c:
        case_id = c.scalar(
            select(cases.c.id).where(cases.c.business_date == day, cases.c.customer_id == "T1")
        )
        attempt = c.scalar(
            select(func.min(error_logs.c.id)).where(
                error_logs.c.business_date == day, error_logs.c.customer_id == "N1"
            )
        )
    assert case_id is not None and attempt is not None
    assert resolve_case(engine, case_id, notes="bank restarted", actor="ops", now=NOW)
    assert resolve(engine, attempt, notes="data fixed upstream", actor="ops2", now=NOW)


def _check(engine: Engine, **kwargs: Any) -> Report:
    with engine.connect() as c:
        return verify(c, **kwargs)


@on_backends()
def test_runs_and_resolutions_are_chained_sealed_and_verify_intact(
    engine: Engine, tmp_path: Path
) -> None:
    _run(engine, tmp_path, FIRST)
    _resolve_some(engine, FIRST)
    with engine.connect() as c:
        unhashed = [
            c.scalar(select(func.count()).select_from(t).where(t.c.chain_hash.is_(None)))
            for t in (error_logs, verification_results, error_log_resolutions)
        ]
        counts = [
            c.scalar(select(func.count()).select_from(t))
            for t in (error_logs, verification_results, error_log_resolutions)
        ]
        by_table = select(chain_seals.c.table_name, func.sum(chain_seals.c.rows))
        sealed = {k: v for k, v in c.execute(by_table.group_by(chain_seals.c.table_name))}
    assert unhashed == [0, 0, 0]
    # 9 results; attempts: R1 1, T1 4, N1 1, BAD 1; history: T1's 4 and N1's 1.
    assert counts == [7, 9, 5]
    assert {k: int(v) for k, v in sealed.items()} == {
        "error_logs": 7,
        "verification_results": 9,
        "error_log_resolutions": 5,
    }
    report = _check(engine)
    assert report.findings == [] and report.intact
    assert (report.rows, report.open_segments) == (21, [])
    assert _check(engine, start=FIRST, end=FIRST).rows == 21
    assert _check(engine, start=FIRST + timedelta(days=1)).rows == 0


def _drop_triggers(engine: Engine) -> None:
    """What an owner (or a DBA, or a restore from a doctored backup) can do."""
    with engine.begin() as c:
        name = c.dialect.name
        if name == "sqlite":
            found = c.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            for trigger in list(found):
                c.execute(text(f"DROP TRIGGER {trigger}"))
        elif name == "postgresql":
            for table in ("error_logs", "verification_results", "error_log_resolutions",
                          "chain_seals"):  # fmt: skip
                c.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            found = c.scalars(
                text(
                    "SELECT trigger_name FROM information_schema.triggers "
                    "WHERE trigger_schema = DATABASE()"
                )
            )
            for trigger in list(found):
                c.execute(text(f"DROP TRIGGER {trigger}"))


def _ids(engine: Engine, table: Any, day: date, customer: str | None = None) -> list[int]:
    t = table.c
    where = [t.business_date == day] + ([t.customer_id == customer] if customer else [])
    with engine.connect() as c:
        return list(c.scalars(select(t.id).where(*where).order_by(t.chain_seq)))


@on_backends()
def test_the_drill_every_kind_of_tampering_is_found(engine: Engine, tmp_path: Path) -> None:
    days = [FIRST + timedelta(days=n) for n in range(9)]
    for day in days:
        _run(engine, tmp_path, day)
    _resolve_some(engine, days[0])
    anchor = take_anchor(engine, actor="auditor", now=NOW)[1]
    assert _check(engine, anchor=anchor).intact
    _drop_triggers(engine)
    r, e, h = verification_results.c, error_logs.c, error_log_resolutions.c
    changed, deleted, inserted, reordered, redated, cut, rewritten, unsealed, control = days
    with engine.begin() as c:
        # changed: a FAIL made a PASS by raising the balance
        c.execute(
            update(verification_results)
            .where(r.id == _ids(engine, verification_results, changed, "P1")[0])
            .values(balance=Decimal("1000000"))
        )
        # deleted: an attempt in the middle of its segment
        c.execute(delete(error_logs).where(e.id == _ids(engine, error_logs, deleted, "T1")[1]))
        # inserted: a result nobody verified
        c.execute(
            insert(verification_results).values(
                run_id=c.scalar(select(r.run_id).where(r.business_date == inserted).limit(1)),
                business_date=inserted,
                customer_id="GHOST",
                status="PASS",
                attempts=1,
                balance=Decimal(9),
                min_balance=Decimal(1),
                checked_at=NOW,
            )
        )
        # reordered: two attempts swap places
        a, b = _ids(engine, error_logs, reordered, "T1")[:2]
        seq_a, seq_b = (c.scalar(select(e.chain_seq).where(e.id == n)) for n in (a, b))
        c.execute(update(error_logs).where(e.id == a).values(chain_seq=-1))
        c.execute(update(error_logs).where(e.id == b).values(chain_seq=seq_a))
        c.execute(update(error_logs).where(e.id == a).values(chain_seq=seq_b))
        # re-dated: an attempt moved to another business date
        c.execute(
            update(error_logs)
            .where(e.id == _ids(engine, error_logs, redated, "N1")[0])
            .values(business_date=redated - timedelta(days=30))
        )
        # cut: the last result of a segment removed
        c.execute(
            delete(verification_results).where(r.id == _ids(engine, verification_results, cut)[-1])
        )
        # rewritten: a result changed and every hash after it recomputed, as an attacker who
        # knows the algorithm would; only the seal can tell
        _rewrite(c, rewritten)
        # a seal removed: the segment loses its seal
        c.execute(
            delete(chain_seals).where(
                chain_seals.c.business_date == unsealed, chain_seals.c.table_name == "error_logs"
            )
        )
        # the resolution history: a note changed
        c.execute(update(error_log_resolutions).where(h.actor == "ops2").values(notes="nothing"))
    report = _check(engine, anchor=anchor)
    found = {(f.problem, f.table, f.business_date) for f in report.findings}
    assert ("changed", "verification_results", changed) in found
    assert ("deleted", "error_logs", deleted) in found
    assert ("inserted", "verification_results", inserted) in found
    assert ("reordered", "error_logs", reordered) in found
    assert ("re-dated", "error_logs", redated) in found
    assert ("seal mismatch", "verification_results", cut) in found
    assert ("seal mismatch", "verification_results", rewritten) in found
    assert ("changed", "error_log_resolutions", changed) in found  # the history of day 0
    assert any(f.problem == "seal chain" for f in report.findings)  # the removed seal
    assert not any(day == control for _, _, day in found)
    assert not report.intact
    with engine.connect() as c:  # a clean date stays clean; the seal chain is always checked
        alone = verify(c, start=control, end=control)
    assert alone.rows > 0 and {f.problem for f in alone.findings} == {"seal chain"}


def _rewrite(connection: Any, day: date) -> None:
    from balmon.audit.chain import row_hash

    r = verification_results.c
    rows = connection.execute(
        select(verification_results).where(r.business_date == day).order_by(r.chain_seq)
    ).all()
    previous = genesis(rows[0].chain_segment)
    target = next(row.id for row in rows if row.status == "PASS")
    for row in rows:
        values = dict(row._mapping)
        if row.id == target:
            values["balance"] = Decimal(100)
        new = row_hash("verification_results", previous, row.chain_segment, row.chain_seq, values)
        connection.execute(
            update(verification_results)
            .where(r.id == row.id)
            .values(balance=values["balance"], chain_hash=new)
        )
        previous = new


@on_backends()
def test_an_anchor_proves_nothing_before_it_changed(engine: Engine, tmp_path: Path) -> None:
    _run(engine, tmp_path, FIRST)
    count, anchor = take_anchor(engine, actor="auditor", now=NOW)
    _run(engine, tmp_path, FIRST + timedelta(days=1))
    report = _check(engine, anchor=anchor)
    assert count == 2 and report.intact and report.anchor_found
    with engine.connect() as c:
        events = c.execute(text("SELECT action, digest FROM audit_events")).all()
    assert [tuple(x) for x in events] == [("anchor", anchor)]
    # An attacker rewrites the first run's results and every seal after them: the seal chain
    # is consistent again, but no longer contains the digest the auditor kept.
    _drop_triggers(engine)
    with engine.begin() as c:
        _rewrite(c, FIRST)
        _reseal_everything(c)
    rewritten = _check(engine, anchor=anchor)
    assert rewritten.anchor_found is False and not rewritten.intact
    assert [f.problem for f in rewritten.findings] == ["anchor"]


def _reseal_everything(connection: Any) -> None:
    """Recompute every seal from the rows as they are now, as a thorough attacker would."""
    previous = seals.SEAL_GENESIS
    s = chain_seals.c
    for seal in connection.execute(select(chain_seals).order_by(s.id)).all():
        table = {
            "error_logs": error_logs,
            "verification_results": verification_results,
            "error_log_resolutions": error_log_resolutions,
        }[seal.table_name]
        last = connection.scalar(
            select(table.c.chain_hash)
            .where(table.c.chain_segment == seal.segment)
            .order_by(table.c.chain_seq.desc())
            .limit(1)
        )
        values = dict(seal._mapping) | {"last_hash": last}
        new = seals.seal_hash(previous, values)
        connection.execute(
            update(chain_seals)
            .where(s.id == seal.id)
            .values(last_hash=last, prev_hash=previous, seal_hash=new)
        )
        previous = new
    connection.execute(text("UPDATE chain_head SET head = :h"), {"h": previous})


def test_verify_reports_as_json_with_the_findings(engine: Engine, tmp_path: Path) -> None:
    _run(engine, tmp_path, FIRST)
    data = _check(engine).as_dict()
    assert json.loads(json.dumps(data))["intact"] is True
    assert data["rows"] == 16 and data["findings"] == []
    _drop_triggers(engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM verification_results WHERE customer_id = 'P2'"))
    broken = json.loads(json.dumps(_check(engine).as_dict()))
    assert [(f["problem"], f["business_date"]) for f in broken["findings"]] == [
        ("deleted", FIRST.isoformat())
    ]


@on_backends()
def test_verify_reads_one_state_while_an_operator_resolves(engine: Engine, tmp_path: Path) -> None:
    """A resolution committed mid-verify (its rows and its seal) is either wholly seen or
    wholly unseen: no false "seal missing" or "newest seals removed"."""
    from sqlalchemy import event

    from balmon.audit.verify import snapshot

    _run(engine, tmp_path, FIRST)
    with engine.connect() as c:
        attempt = c.scalar(select(func.min(error_logs.c.id)))
    assert attempt is not None
    fired: list[bool] = []

    def resolve_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "verification_runs" in statement and not fired:
            fired.append(True)  # after verify read the seals and the chain head
            assert resolve(engine, attempt, notes="meanwhile", actor="ops", now=NOW)

    event.listen(engine, "before_cursor_execute", resolve_meanwhile)
    try:
        with snapshot(engine) as c:
            report = verify(c)
    finally:
        event.remove(engine, "before_cursor_execute", resolve_meanwhile)
    assert fired and report.findings == []
    assert _check(engine).findings == []  # and the resolution itself is chained and sealed


@on_backends()
def test_a_resolution_changed_behind_the_history_is_found(engine: Engine, tmp_path: Path) -> None:
    _run(engine, tmp_path, FIRST)
    _resolve_some(engine, FIRST)
    _drop_triggers(engine)
    e = error_logs.c
    with engine.begin() as c:  # closed without a history row, and a note rewritten
        unresolved = c.scalar(select(e.id).where(e.resolved.is_(False)).limit(1))
        c.execute(update(error_logs).where(e.id == unresolved)
                  .values(resolved=True, resolution_notes="fine", resolved_by="x"))  # fmt: skip
        c.execute(update(error_logs).where(e.resolved_by == "ops2").values(resolution_notes="-"))
    report = _check(engine)
    assert sorted(f.row_id for f in report.findings if f.problem == "changed") == sorted(
        [unresolved, _ids(engine, error_logs, FIRST, "N1")[0]]
    )


def test_a_row_slipped_into_a_running_session_is_left_outside_its_seal(
    engine: Engine, tmp_path: Path
) -> None:
    """Anyone allowed to INSERT could append a correctly hashed row to a session's segment
    while it runs; the seal records the writer's own tail, so verify shows the extra row."""
    from balmon.audit.chain import Chain
    from balmon.clock import SystemClock
    from balmon.engine.lease import Owner, close_run, open_run
    from balmon.engine.records import ResultRecord
    from balmon.engine.writer import BatchWriter
    from balmon.storage.states import RunStatus, Status

    me = Owner.me()
    opened = open_run(engine, business_date=FIRST, mode="normal", customers_file=None, me=me,
                      clock=lambda: NOW, stale_after=60)  # fmt: skip
    assert opened.run_id and not getattr(opened, "resumed", True)
    writer = BatchWriter(engine=engine, run_id=opened.run_id, business_date=FIRST,
                         clock=SystemClock(), interval=1, max_batch=10, resumed=False)  # fmt: skip
    writer.add_result(ResultRecord("A", Status.PASS, Decimal(5), Decimal(1), None, 1, NOW))
    asyncio.run(writer.flush())
    (segment,) = writer.segments()
    forged = {"run_id": opened.run_id, "business_date": FIRST, "customer_id": "FORGED",
              "status": "PASS", "balance": Decimal(9), "min_balance": Decimal(1),
              "error_code": None, "attempts": 1, "checked_at": NOW}  # fmt: skip
    Chain("verification_results", segment.segment, segment.rows, segment.last_hash).stamp([forged])
    with engine.begin() as c:
        c.execute(insert(verification_results).values(forged))
    close_run(
        engine,
        business_date=FIRST,
        run_id=opened.run_id,
        me=me,
        status=RunStatus.COMPLETED,
        now=NOW,
        counts={},
        segments=writer.segments(),
    )
    (finding,) = _check(engine).findings
    assert (finding.problem, finding.detail) == (
        "seal mismatch",
        "the seal says 1 rows; 1 rows were added after it was sealed",
    )


@on_backends()
def test_upgrading_hashes_and_seals_the_rows_written_before(fresh_url: str) -> None:
    """Migration 0012 on a database with history: every attempt, result and resolution is
    hashed and sealed by the migration, and verifies intact; a later resolution chains on."""
    from alembic import command

    from balmon.storage import make_engine
    from balmon.storage.migrate import alembic_config, seed_error_codes, upgrade
    from balmon.storage.schema import verification_runs

    db = make_engine(fresh_url)
    with db.begin() as c:
        command.upgrade(alembic_config(c), "0011")
        seed_error_codes(c)
    with db.begin() as c:
        run_id = c.execute(insert(verification_runs).values(
            business_date=FIRST, status="completed", started_at=NOW, finished_at=NOW)
        ).inserted_primary_key[0]  # fmt: skip
        c.execute(
            insert(error_logs),
            [
                {
                    "run_id": run_id,
                    "business_date": FIRST,
                    "customer_id": f"C{n}",
                    "error_code": "TIMEOUT",
                    "retry_count": 0,
                    "logged_at": NOW,
                }
                for n in range(7)
            ],
        )
        c.execute(insert(error_logs).values(error_code="INTERNAL_ERROR", logged_at=NOW))
        c.execute(insert(verification_results), [
            {"run_id": run_id, "business_date": FIRST, "customer_id": f"C{n}",
             "status": "UNAVAILABLE", "error_code": "TIMEOUT", "attempts": 1, "checked_at": NOW,
             "min_balance": Decimal("-0.00")} for n in range(7)
        ])  # fmt: skip
        c.execute(update(error_logs).where(error_logs.c.customer_id == "C1")
                  .values(resolved=True, resolution_notes="old", resolved_by="ops",
                          resolved_at=NOW))  # fmt: skip
    upgrade(db)
    with db.connect() as c:
        s = chain_seals.c
        sealed = c.execute(select(s.table_name, s.rows, s.sealed_by)).all()
    assert sorted(tuple(s) for s in sealed) == [
        ("error_log_resolutions", 1, "migration 0012"),
        ("error_logs", 1, "migration 0012"),  # the row logged outside any run
        ("error_logs", 7, "migration 0012"),
        ("verification_results", 7, "migration 0012"),
    ]
    assert _check(db).findings == [] and _check(db).rows == 16
    assert resolve(db, 1, notes="again", actor="ops", now=NOW + timedelta(hours=1))
    assert _check(db).findings == []
    db.dispose()


@on_backends()
def test_a_results_currency_is_hashed_when_set_and_any_change_to_it_is_found(
    engine: Engine, tmp_path: Path
) -> None:
    """Issue 22: the balance's currency is kept beside it (the bank's, else the customer's).
    Hashed only when set, so rows written before it existed keep their hashes; setting,
    changing or clearing it behind balmon's back is found like any other change."""
    path = write_customers(tmp_path / "c.csv", [("U1", "1"), ("E1", "1"), ("N1", "1")])
    source = ScriptedSource(
        {"U1": [Reading(Decimal(5), currency="USD")], "N1": [Decimal(5)]}, default=Decimal(5)
    )
    settings = fast_settings(engine.url.render_as_string(hide_password=False))
    asyncio.run(
        VerificationRun(settings=settings, engine=engine, source=source).execute(
            RunRequest(FIRST, "normal", path)
        )
    )
    r = verification_results.c
    with engine.connect() as c:
        stored = dict(c.execute(select(r.customer_id, r.currency)).all())
    assert stored == {"U1": "USD", "E1": None, "N1": None}
    assert _check(engine).intact
    _drop_triggers(engine)
    for customer, tampered, kept in (("U1", "EUR", "USD"), ("N1", "USD", None)):
        where = r.customer_id == customer
        with engine.begin() as c:
            c.execute(update(verification_results).where(where).values(currency=tampered))
            row_id = c.scalar(select(r.id).where(where))
        report = _check(engine)
        assert not report.intact, customer
        assert [(f.problem, f.row_id) for f in report.findings][:1] == [("changed", row_id)]
        with engine.begin() as c:  # back as it was: intact again
            c.execute(update(verification_results).where(where).values(currency=kept))
    assert _check(engine).intact
