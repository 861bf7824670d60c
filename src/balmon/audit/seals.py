"""Seals: a finished segment's row count and final hash, themselves chained in one list.

Each `chain_seals` row records one segment's table, size and final hash, and links to the
seal before it: `seal_hash = link(previous seal_hash, fields)`. The newest seal's hash (kept
in `chain_head` too) therefore covers every seal, and through them every sealed row: that is
the anchor digest an auditor keeps outside the database (`balmon audit anchor`).

Seals are rare (one per table per writer session, one per resolving transaction), so the
one list is no bottleneck; `chain_head`'s single row serialises the writers of seals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, update

from balmon.audit.canonical import link
from balmon.audit.chain import Segment, stamp_resolutions, stamp_rows
from balmon.storage.schema import (
    chain_head,
    chain_seals,
    error_logs,
    verification_results,
    verification_runs,
)

SEAL_GENESIS = "0" * 64
SEALED_FIELDS = (
    "table_name", "segment", "run_id", "business_date", "rows", "last_hash", "sealed_at",
    "sealed_by",
)  # fmt: skip


def seal_hash(previous: str, seal: Any) -> str:
    """The hash a seal must carry, given the previous seal's."""
    get = seal.get if isinstance(seal, dict) else seal._mapping.get
    return link(previous, [get(name) for name in SEALED_FIELDS])


def seal(connection: Connection, segment: Segment, *, by: str, now: datetime) -> str:
    """Append the segment's seal to the list; returns its hash. Call it in the transaction
    that wrote (or finished) the segment."""
    # The update takes the head's row lock (the write lock on SQLite) before it is read, so
    # two sealing transactions queue instead of both linking to the same previous seal.
    one = chain_head.c.id == 1
    connection.execute(update(chain_head).where(one).values(seals=chain_head.c.seals + 1))
    previous = connection.execute(select(chain_head.c.head).where(one)).scalar_one()
    values: dict[str, Any] = {
        "table_name": segment.table_name,
        "segment": segment.segment,
        "run_id": segment.run_id,
        "business_date": segment.business_date,
        "rows": segment.rows,
        "last_hash": segment.last_hash,
        "sealed_at": now,
        "sealed_by": by,
    }
    values["prev_hash"] = previous
    values["seal_hash"] = seal_hash(previous, values)
    connection.execute(chain_seals.insert().values(values))
    connection.execute(update(chain_head).where(one).values(head=values["seal_hash"]))
    return str(values["seal_hash"])


def unsealed_segments_of_run(connection: Connection, run_id: int) -> list[Segment]:
    """The run's segments of attempts and results that have no seal yet (its writer sessions
    that ended, or died), with their size and final hash."""
    day = connection.scalar(
        select(verification_runs.c.business_date).where(verification_runs.c.id == run_id)
    )
    sealed = {
        (name, segment)
        for name, segment in connection.execute(
            select(chain_seals.c.table_name, chain_seals.c.segment).where(
                chain_seals.c.run_id == run_id
            )
        )
    }
    found = []
    for table in (error_logs, verification_results):
        t = table.c
        sizes = connection.execute(
            select(t.chain_segment, func.count(), func.max(t.chain_seq))
            .where(t.run_id == run_id, t.chain_segment.is_not(None))
            .group_by(t.chain_segment)
        ).all()
        for name, rows, last in sizes:
            if (table.name, name) in sealed:
                continue
            last_hash = connection.scalar(
                select(t.chain_hash).where(
                    t.run_id == run_id, t.chain_segment == name, t.chain_seq == last
                )
            )
            found.append(Segment(table.name, name, run_id, day, int(rows), str(last_hash)))
    return found


def seal_run(connection: Connection, run_id: int, *, by: str, now: datetime) -> int:
    """Seal every unsealed segment of the run; returns how many."""
    segments = unsealed_segments_of_run(connection, run_id)
    for segment in segments:
        seal(connection, segment, by=by, now=now)
    return len(segments)


def head(connection: Connection) -> tuple[int, str]:
    """How many seals there are, and the newest one's hash (the anchor digest)."""
    row = connection.execute(select(chain_head.c.seals, chain_head.c.head)).one()
    return int(row.seals), str(row.head)


def seal_resolutions(connection: Connection, *, actor: str, now: datetime) -> int:
    """Hash and seal the resolution history this transaction appended (call it after the
    resolving UPDATE, in the same transaction); returns how many history rows."""
    segments = stamp_resolutions(connection, actor=actor, now=now)
    for segment in segments:
        seal(connection, segment, by=actor, now=now)
    return sum(s.rows for s in segments)


def seal_rows(
    connection: Connection, table: Table, ids: list[int], *, by: str, now: datetime
) -> int:
    """Hash and seal rows this transaction appended to a dated history (`case_events`), in
    the same transaction; returns how many."""
    segments = stamp_rows(connection, table, ids)
    for segment in segments:
        seal(connection, segment, by=by, now=now)
    return sum(s.rows for s in segments)
