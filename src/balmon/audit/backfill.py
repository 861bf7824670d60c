"""Hash and seal rows that have no chain yet: those written before the chains existed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Table, select, update

from balmon.audit.chain import Chain, Segment, new_segment
from balmon.audit.seals import seal
from balmon.storage.schema import error_log_resolutions, error_logs, verification_results


def _stamp(
    connection: Connection,
    table: Table,
    groups: Iterable[tuple[tuple[int | None, date | None], list[dict[str, Any]]]],
    prefix: str,
    *,
    by: str,
    now: datetime,
) -> int:
    done = 0
    for (run_id, day), rows in groups:
        name = f"{prefix}{run_id}" if prefix == "r" else f"{prefix}{day:%Y%m%d}" if day else prefix
        chain = Chain(table.name, new_segment(name))
        seq, last = chain.stamp(rows)
        for row in rows:
            connection.execute(
                update(table)
                .where(table.c.id == row["id"])
                .values({k: row[k] for k in ("chain_segment", "chain_seq", "chain_hash")})
            )
        segment = Segment(table.name, chain.segment, run_id, day, seq, last)
        seal(connection, segment, by=by, now=now)
        done += seq
    return done


def hash_unchained(connection: Connection, *, now: datetime, by: str) -> int:
    """Give every unhashed attempt, result and resolution a chain (one segment per run and
    table, or per business date for resolutions) and seal it; returns how many rows."""
    done = 0
    for table in (error_logs, verification_results):
        t = table.c
        rows = [
            dict(r._mapping)
            for r in connection.execute(
                select(table).where(t.chain_hash.is_(None)).order_by(t.run_id, t.id)
            )
        ]
        groups = [
            (key, list(members))
            for key, members in groupby(rows, key=lambda r: (r["run_id"], r["business_date"]))
        ]
        done += _stamp(connection, table, groups, "r", by=by, now=now)
    h, e = error_log_resolutions.c, error_logs.c
    history = [
        dict(r._mapping)
        for r in connection.execute(
            select(error_log_resolutions, e.chain_hash.label("attempt_hash"), e.business_date)
            .join(error_logs, e.id == h.error_log_id)
            .where(h.chain_hash.is_(None))
            .order_by(e.business_date, h.id)
        )
    ]
    by_day = [
        ((None, day), list(members))
        for day, members in groupby(history, key=lambda r: r["business_date"])
    ]
    done += _stamp(connection, error_log_resolutions, by_day, "h", by=by, now=now)
    return done
