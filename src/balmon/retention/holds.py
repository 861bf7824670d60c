"""Legal holds: rows retention must keep whatever their age, until released (`legal_holds`).

A hold names a customer (every date), a business date (every customer), or both (that
customer on that date). Adding and releasing one are recorded in `audit_events`; the
database refuses to delete a hold or to change it other than releasing it once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from balmon.audit.events import record
from balmon.errors import RetentionError
from balmon.storage.schema import legal_holds


def add(
    engine: Engine,
    *,
    customer: str | None,
    day: date | None,
    reason: str,
    actor: str,
    now: datetime,
) -> int:
    if customer is None and day is None:
        raise RetentionError("a hold needs --customer, --date or both")
    if not reason.strip():
        raise RetentionError("a hold needs a --reason")
    values = {
        "customer_id": customer,
        "business_date": day,
        "reason": reason,
        "created_by": actor,
        "created_at": now,
    }
    with engine.begin() as connection:
        key = connection.execute(insert(legal_holds).values(values)).inserted_primary_key
        assert key is not None
        hold_id = int(key[0])
        details = {"hold": hold_id, "customer_id": customer, "business_date": day, "reason": reason}
        record(connection, "hold add", actor=actor, now=now, details=details)
    return hold_id


def release(engine: Engine, hold_id: int, *, reason: str, actor: str, now: datetime) -> None:
    if not reason.strip():
        raise RetentionError("releasing a hold needs a --reason")
    h = legal_holds.c
    with engine.begin() as connection:
        done = connection.execute(
            update(legal_holds)
            .where(h.id == hold_id, h.released_at.is_(None))
            .values(released_by=actor, released_at=now, release_reason=reason)
        ).rowcount
        if done != 1:
            exists = connection.scalar(select(h.id).where(h.id == hold_id))
            raise RetentionError(
                f"hold {hold_id} " + ("was already released" if exists else "does not exist")
            )
        record(
            connection,
            "hold release",
            actor=actor,
            now=now,
            details={"hold": hold_id, "reason": reason},
        )


def listed(engine: Engine, *, released: bool = False) -> list[Any]:
    """The holds in force, oldest first (with `released`, every hold ever)."""
    query = select(legal_holds).order_by(legal_holds.c.id)
    if not released:
        query = query.where(legal_holds.c.released_at.is_(None))
    with engine.connect() as connection:
        return list(connection.execute(query))
