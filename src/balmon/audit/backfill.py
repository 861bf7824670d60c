"""Hash and seal rows that have no chain yet: those written before the chains existed.

Streams the rows (a batch at a time, never a whole table in memory) and writes each batch's
hashes with one executemany, one segment per run and business date for attempts and
results, one per business date for the resolution history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, select

from balmon.audit.chain import HASHED, Chain, Segment, new_segment, write_hashes
from balmon.audit.seals import seal
from balmon.storage.schema import error_log_resolutions, error_logs, verification_results

BATCH = 5_000


def _equal(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _stream(
    connection: Connection, table: Table, chain: Chain, after: Callable[[int], Select[Any]]
) -> None:
    """Stamp the rows `after(last id)` selects, a batch at a time, in id order."""
    last_id = 0
    while batch := [
        dict(r._mapping)
        for r in connection.execute(after(last_id).order_by(table.c.id).limit(BATCH))
    ]:
        chain.advance(chain.stamp(batch))
        write_hashes(connection, table, batch)
        last_id = batch[-1]["id"]


def _seal(
    connection: Connection,
    chain: Chain,
    run_id: int | None,
    day: date | None,
    *,
    by: str,
    now: datetime,
) -> int:
    if chain.seq:
        segment = Segment(chain.table, chain.segment, run_id, day, chain.seq, chain.head)
        seal(connection, segment, by=by, now=now)
    return chain.seq


def _hashed(table: Table) -> list[Any]:
    """The id and the columns the hash covers, and no others: this runs inside migration
    0012, before later migrations add columns the model already has."""
    return [table.c.id, *(table.c[n] for n in HASHED[table.name] if n in table.c)]


def _run_rows(connection: Connection, table: Table, *, by: str, now: datetime) -> int:
    t = table.c
    groups = connection.execute(
        select(t.run_id, t.business_date).where(t.chain_hash.is_(None)).distinct()
    ).all()
    done = 0
    for run_id, day in groups:
        chain = Chain(table.name, new_segment(f"r{run_id}"))
        of_run = [t.chain_hash.is_(None), _equal(t.run_id, run_id), _equal(t.business_date, day)]

        def pending(after: int, of_run: list[Any] = of_run) -> Select[Any]:
            return select(*_hashed(table)).where(*of_run, t.id > after)

        _stream(connection, table, chain, pending)
        done += _seal(connection, chain, run_id, day, by=by, now=now)
    return done


def _history_rows(connection: Connection, *, by: str, now: datetime) -> int:
    h, e = error_log_resolutions.c, error_logs.c
    days: list[date | None] = list(
        connection.scalars(
            select(e.business_date)
            .join(error_log_resolutions, h.error_log_id == e.id)
            .where(h.chain_hash.is_(None))
            .distinct()
        )
    )
    done = 0
    for day in days:
        chain = Chain(error_log_resolutions.name, new_segment(f"h{day:%Y%m%d}" if day else "h"))
        of_day = [h.chain_hash.is_(None), _equal(e.business_date, day)]

        def pending(after: int, of_day: list[Any] = of_day) -> Select[Any]:
            return (
                select(*_hashed(error_log_resolutions), e.chain_hash.label("attempt_hash"))
                .join(error_logs, e.id == h.error_log_id)
                .where(*of_day, h.id > after)
            )

        _stream(connection, error_log_resolutions, chain, pending)
        done += _seal(connection, chain, None, day, by=by, now=now)
    return done


def hash_unchained(connection: Connection, *, now: datetime, by: str) -> int:
    """Give every unhashed attempt, result and resolution a chain and seal it; returns how
    many rows. Attempts first: a resolution's hash covers its attempt's."""
    done = _run_rows(connection, error_logs, by=by, now=now)
    done += _run_rows(connection, verification_results, by=by, now=now)
    return done + _history_rows(connection, by=by, now=now)
