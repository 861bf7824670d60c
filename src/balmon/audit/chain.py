"""Hash chains over the audit tables: which fields each row's hash covers, and stamping rows.

Every row of `error_logs`, `verification_results` and `error_log_resolutions` carries
`chain_segment`, `chain_seq` (1, 2, ... within the segment) and `chain_hash`. A segment is
one writer's rows of one table: a run's writer session for attempts and results (so workers
never contend on one tail), one resolving transaction and business date for the history.
A finished segment is sealed in `chain_seals` (`audit.seals`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update

from balmon.audit import canonical
from balmon.audit.canonical import genesis, link
from balmon.storage.schema import error_log_resolutions, error_logs

# The immutable fields each table's hash covers, in their canonical order (after the
# segment and position). A resolution also covers the hash of the attempt it resolves.
HASHED: dict[str, tuple[str, ...]] = {
    "error_logs": (
        "run_id", "business_date", "customer_id", "error_code", "error_message",
        "retry_count", "stack_trace", "source_line", "logged_at",
    ),
    "verification_results": (
        "run_id", "business_date", "customer_id", "status", "balance", "min_balance",
        "error_code", "attempts", "checked_at",
    ),
    "error_log_resolutions": (
        "error_log_id", "attempt_hash", "resolved", "notes", "actor", "changed_at",
    ),
    "case_events": (
        "case_id", "business_date", "customer_id", "action", "owner", "notes", "actor", "at",
    ),
}  # fmt: skip
# Fields added after a table's rows were first hashed: each is hashed after the others, and
# only when set, so every hash written before it existed stays what it was, and a value set
# (or removed) behind balmon's back still changes the row's hash.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "error_logs": (),
    "verification_results": ("currency",),
    "error_log_resolutions": (),
    "case_events": (),
}
CHAIN_COLUMNS = ("chain_segment", "chain_seq", "chain_hash")


def hashed_values(table: str, row: Mapping[str, Any]) -> list[Any]:
    """The values a row's hash covers, in order."""
    values = [row[name] for name in HASHED[table]]
    values += [row[name] for name in OPTIONAL[table] if row.get(name) is not None]
    return values


def row_hash(table: str, previous: str, segment: str, seq: int, row: Mapping[str, Any]) -> str:
    """The hash a row of `table` at position `seq` of `segment` must carry."""
    return link(previous, [segment, seq, *hashed_values(table, row)])


def new_segment(prefix: str) -> str:
    """A segment name no other writer will choose: `prefix` and a random tag."""
    return f"{prefix}.{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class Segment:
    """A finished run of one table's chain: what its seal records."""

    table_name: str
    segment: str
    run_id: int | None
    business_date: date | None
    rows: int
    last_hash: str


@dataclass
class Chain:
    """The tail of one segment, as its single writer advances it."""

    table: str
    segment: str
    seq: int = 0
    head: str = ""

    def __post_init__(self) -> None:
        self.head = self.head or genesis(self.segment)

    def stamp(self, rows: Sequence[dict[str, Any]]) -> tuple[int, str]:
        """Give each row its position and hash (in order), and return the tail they lead to;
        `advance` to it once the rows are committed."""
        # `row_hash` written out for speed (the writer stamps every row of a run): the same
        # canonical line, with the segment encoded once and repeated amounts and dates
        # (a run's date, the usual minimum balances) encoded once per batch.
        fields = HASHED[self.table]
        optional = OPTIONAL[self.table]
        prefix = "[" + canonical.json_text(self.segment)
        memo: dict[tuple[type, Any], str] = {}
        seq, head = self.seq, self.head
        for row in rows:
            seq += 1
            parts = [prefix, str(seq)]
            for name in fields:
                item = row[name]
                kind = type(item)
                if kind is Decimal or kind is date:
                    key = (kind, item)
                    text = memo.get(key)
                    if text is None:
                        text = memo[key] = canonical.json_text(item)
                else:
                    text = canonical.json_text(item)
                parts.append(text)
            parts += [canonical.json_text(row[n]) for n in optional if row.get(n) is not None]
            line = ",".join(parts) + "]"
            head = sha256((head + "\n" + line).encode()).hexdigest()
            row["chain_segment"], row["chain_seq"], row["chain_hash"] = self.segment, seq, head
        return seq, head

    def advance(self, tail: tuple[int, str]) -> None:
        self.seq, self.head = tail


def run_segment(run_id: int) -> str:
    """A new writer session's segment for a run's attempts and results."""
    return new_segment(f"r{run_id}")


def stamp_resolutions(connection: Connection, *, actor: str, now: datetime) -> list[Segment]:
    """Hash the history rows this transaction's resolutions appended (the database wrote
    them, by trigger, with this actor and time), one new segment per business date; returns
    the segments for sealing in the same transaction."""
    h, e = error_log_resolutions.c, error_logs.c
    rows = connection.execute(
        select(
            h.id,
            h.error_log_id,
            h.resolved,
            h.notes,
            h.actor,
            h.changed_at,
            e.chain_hash.label("attempt_hash"),
            e.business_date,
        )
        .join(error_logs, e.id == h.error_log_id)
        # Unstamped rows sit under NULL in the chain index; of those, this transaction's.
        .where(h.chain_segment.is_(None), h.actor == actor, h.changed_at == now)
        .order_by(e.business_date, h.id)
    ).all()
    by_day: dict[date | None, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row.business_date, []).append(dict(row._mapping))
    segments = []
    for day, members in by_day.items():
        chain = Chain(error_log_resolutions.name, new_segment(f"h{day:%Y%m%d}" if day else "h"))
        count, last = chain.stamp(members)
        write_hashes(connection, error_log_resolutions, members)
        segments.append(Segment(chain.table, chain.segment, None, day, count, last))
    return segments


def stamp_rows(connection: Connection, table: Table, ids: list[int]) -> list[Segment]:
    """Hash rows this transaction appended to `table` (a history with a business date, such
    as `case_events`), one new segment per business date; returns the segments for sealing
    in the same transaction."""
    if not ids:
        return []
    rows = connection.execute(
        select(table).where(table.c.id.in_(ids)).order_by(table.c.business_date, table.c.id)
    ).all()
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row.business_date, []).append(dict(row._mapping))
    segments = []
    for day, members in by_day.items():
        chain = Chain(table.name, new_segment(f"c{day:%Y%m%d}"))
        count, last = chain.stamp(members)
        write_hashes(connection, table, members)
        segments.append(Segment(chain.table, chain.segment, None, day, count, last))
    return segments


def write_hashes(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Store the chain columns `Chain.stamp` gave rows already in `table` (one executemany);
    the triggers let them be written once, from empty."""
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.chain_hash.is_(None))
        .values({name: bindparam(f"new_{name}") for name in CHAIN_COLUMNS})
    )
    connection.execute(
        statement,
        [{"row_id": r["id"]} | {f"new_{n}": r[n] for n in CHAIN_COLUMNS} for r in rows],
    )
